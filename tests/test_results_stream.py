"""``results --format csv`` streams: ``iter_student_results`` gives ``student_results``' rows, in its order.

The streamed results are merged from each sheet's part after an on-disk
sort; these sheets interleave the pages of a two-page sheet with other
students', carry one 准考证号 on two sheets, leave one unread, and set one
aside, so every rule of how pages make a result is crossed.
"""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

import pytest

from papergen.grade.results import (
    ResultOutOfRange,
    format_results,
    iter_student_results,
    student_results,
    write_results_csv,
)
from papergen.grade.settle import ReviewItem

MANIFEST = SimpleNamespace(
    sections=[SimpleNamespace(title=title, scoring=SimpleNamespace(name="all-or-nothing", params={}))
              for title in ("一、单项选择题", "二、多项选择题")],
    questions={
        f"q{k}": SimpleNamespace(section=0 if k < 3 else 1, points=1 if k < 3 else 2) for k in range(5)
    },
)


def mark(k: int, score: float | None, outcome: str = "answer", letters: str = "A") -> SimpleNamespace:
    return SimpleNamespace(question_id=f"q{k}", bank_letters=letters, outcome=outcome, score=score,
                           dropped=False, section=0 if k < 3 else 1)


def sheet(where: str, sid: str | None, marks, *, duplicate: str | None = None, items=(), variant="A",
          absent=False, violation=False, by_hand=0, read=True, void=False, black_and_white=False) -> SimpleNamespace:
    return SimpleNamespace(
        read=read, void=void, page=SimpleNamespace(where=where, black_and_white=black_and_white), student_id=sid, duplicate_message=duplicate,
        open_items=list(items), variant=variant, absent=absent, violation=violation, by_hand=by_hand, marks=marks,
    )


def item(number: int, message: str) -> ReviewItem:
    return ReviewItem(id=f"x{number}", kind="answer", reason="multiple-marks", message=message, where="w", number=number)


SHEETS = [
    sheet("b.jpg#1", "2026000002", [mark(0, 1.0), mark(1, 0.0, letters="B"), mark(2, 1.0)]),
    # a two-page sheet: its pages far apart in store order, the second page with its own items
    sheet("z.jpg#1", "2026000001", [mark(0, 1.0), mark(1, 1.0), mark(2, 1 / 3)], variant=None),
    sheet("c.jpg#1", None, [mark(0, 1.0)]),  # 准考证号 not read: a row of its own
    sheet("d.jpg#1", "2026000003", [mark(3, 2.0)], duplicate="准考证号 2026000003 出现在 2 张答题卡上"),
    sheet("a.jpg#1", "2026000003", [mark(3, 0.0)], duplicate="准考证号 2026000003 出现在 2 张答题卡上"),
    sheet("e.jpg#1", "2026000004", [mark(0, None, "flagged")], items=[item(1, "涂了两个选项")]),
    sheet("v.jpg#1", "2026000005", [mark(0, 1.0)], void=True),  # set aside: not a result
    sheet("y.jpg#2", "2026000001", [mark(3, 2.0), mark(4, 1.0)], by_hand=2, violation=True,
          items=[item(5, "第 5 题：改涂不清")], black_and_white=True),
    sheet("f.jpg#1", "2026000006", [], absent=True),
]


def test_streamed_results_are_student_results_in_the_same_order() -> None:
    expected = student_results(None, MANIFEST, SHEETS, detail=False)
    streamed = list(iter_student_results(None, MANIFEST, SHEETS))
    assert [r.student_id for r in streamed] == [r.student_id for r in expected]
    assert [vars(r) for r in streamed] == [vars(r) for r in expected]
    # the rules are really crossed: one result from two pages, two from one duplicated number, one unread
    two_pages = next(r for r in streamed if r.student_id == "2026000001")
    assert two_pages.pages == ["z.jpg#1", "y.jpg#2"] and two_pages.variant == "A" and two_pages.violation
    assert two_pages.by_hand == 2 and two_pages.sections == [pytest.approx(7 / 3), 3.0]
    assert two_pages.black_and_white == ["y.jpg#2"]  # one of its pages was a black-and-white scan
    assert all(not r.black_and_white for r in streamed if r.student_id != "2026000001")
    assert [r.pages for r in streamed if r.student_id == "2026000003"] == [["a.jpg#1"], ["d.jpg#1"]]
    assert any(r.student_id == "?c.jpg#1" for r in streamed)
    assert all(r.student_id != "2026000005" for r in streamed)


def test_streamed_csv_is_the_csv_of_student_results(tmp_path) -> None:
    expected = format_results(student_results(None, MANIFEST, SHEETS, detail=False), MANIFEST, "csv")
    with open(tmp_path / "out.csv", "w+", encoding="utf-8", newline="") as out:
        write_results_csv(iter_student_results(None, MANIFEST, SHEETS), MANIFEST, out)
        out.seek(0)
        assert out.read() == expected
    shown = json.loads(format_results(list(iter_student_results(None, MANIFEST, SHEETS)), MANIFEST, "json"))
    assert [r["black_and_white"] for r in shown if r["student_id"] == "2026000001"] == [["y.jpg#2"]]


def test_a_result_read_from_a_black_and_white_scan_says_so_in_the_table_and_csv() -> None:
    results = student_results(None, MANIFEST, SHEETS, detail=False)
    rows = list(csv.reader(io.StringIO(format_results(results, MANIFEST, "csv"))))
    column = rows[0].index("黑白扫描")
    assert {row[0]: row[column] for row in rows[1:]}["2026000001"] == "是"
    assert [row[0] for row in rows[1:] if row[column]] == ["2026000001"]
    table = format_results(results, MANIFEST, "table")
    assert "1 份的“黑白扫描”为“是”" in table and "灰度模式重扫" in table
    clean = [s for s in SHEETS if not s.page.black_and_white]
    assert "黑白扫描”为“是”" not in format_results(student_results(None, MANIFEST, clean, detail=False), MANIFEST, "table")


def test_a_total_out_of_range_stops_the_stream() -> None:
    broken = SHEETS + [sheet("g.jpg#1", "2026000007", [mark(0, 50.0)])]  # 50 points: over the paper's full marks
    with pytest.raises(ResultOutOfRange):
        list(iter_student_results(None, MANIFEST, broken))
