"""The store's read side: typed rows from a small hand-written store (no images, no reader)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from papergen.core.errors import InputFileError
from papergen.grade.store import (
    FlagRow,
    PageRecord,
    SheetFlag,
    all_pages,
    open_store,
    page_flags,
    page_marks,
    read_pages,
    reading_store,
    sheet_flags,
    store_counts,
)

SID = "2026000001"


def mark(number: int, outcome: str, letters: str, darkness: list[float], score: float | None) -> tuple:
    """A ``marks`` row as the parent writes it (PageRecord.marks)."""
    return (number, f"q-{number}", 0, outcome, letters, letters, "", "", 1.0, json.dumps(darkness), score)


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """Three pages and a file that could not be read.

    a.jpg: 准考证号 SID, black-and-white, question 2 too faint (flagged), a sheet flag.
    b.jpg: the same 准考证号 and sheet page again (a duplicate).
    c.jpg: a page that failed.
    d.jpg: a file that could not be opened.
    """
    folder = tmp_path / "results"
    paths = {name: str(tmp_path / name) for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg")}
    with open_store(folder, "{}", "store-test") as db:
        db.record_ingest(
            [(paths["a.jpg"], "ha", "jpeg", 1), (paths["b.jpg"], "hb", "jpeg", 1), (paths["c.jpg"], "hc", "jpeg", 1)],
            [(paths["d.jpg"], None, "unreadable", "文件已损坏")],
            list(paths.values()),
        )
        sheet = {"sheet_page": 1, "student_id": SID, "variant": "A", "absent": 0}
        db.write_page([PageRecord(
            "ha", 1, paths["a.jpg"], "read", "", {**sheet, "binary": 1},
            [mark(1, "answer", "B", [0.02, 0.9, 0.01, 0.0], 2.0), mark(2, "flagged", "", [0.03, 0.2, 0.05, 0.0], None)],
            [(2, "faint", "第 2 题填涂过浅"), (None, "id-incomplete", "准考证号不完整")],
        )])
        db.write_page([PageRecord("hb", 1, paths["b.jpg"], "read", "", sheet, [mark(1, "answer", "C", [0, 0, 0.8, 0], 0.0)], [])])
        db.write_page([PageRecord("hc", 1, paths["c.jpg"], "error", "读不出", {"qr": None}, [], [(None, "reader-error", "读不出")])])
        assert db.refresh_sheet_flags() == [SheetFlag(SID, "duplicate-id", sheet_flags(db.db)[0].message)]
    return folder


def test_pages_marks_and_flags_are_typed_rows(results: Path) -> None:
    with reading_store(results) as db:
        pages = read_pages(db)
        assert [(p.path.rsplit("/", 1)[-1], p.student_id, p.black_and_white) for p in pages] == [
            ("a.jpg", SID, True), ("b.jpg", SID, False),
        ]
        assert {p.status for p in all_pages(db)} == {"read", "error"} and len(all_pages(db)) == 3
        first = pages[0]
        marks = page_marks(db, first.key)
        assert [(m.number, m.outcome, m.letters, m.score) for m in marks] == [(1, "answer", "B", 2.0), (2, "flagged", "", None)]
        assert marks[1].darkness == [0.03, 0.2, 0.05, 0.0]
        # box C of question 2 read as empty; box B had a trace
        assert marks[1].left_no_trace([2, 3]) and not marks[1].left_no_trace([1])
        assert page_flags(db, first.key) == [
            FlagRow(0, "id-incomplete", "准考证号不完整", False), FlagRow(2, "faint", "第 2 题填涂过浅", False),
        ]
        flags = sheet_flags(db)
        assert [(f.student_id, f.reason) for f in flags] == [(SID, "duplicate-id")]
        assert "a.jpg#1" in flags[0].message and "b.jpg#1" in flags[0].message


def test_the_counts(results: Path) -> None:
    with reading_store(results) as db:
        counts = store_counts(db)
    assert (counts.read, counts.rejected, counts.errors, counts.black_and_white, counts.replaced) == (2, 0, 2, 1, 0)


def test_a_missing_or_damaged_store_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="没有成绩库"):
        with reading_store(tmp_path):
            pass
    (tmp_path / "results.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(InputFileError, match="成绩库无法读取"):
        with reading_store(tmp_path) as db:
            read_pages(db)
