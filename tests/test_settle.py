"""People's decisions and key corrections: readings + overrides + key changes → every output.

Most tests write readings straight into a store (no images) against the committed sample exam, so each
case is exact: which reading a decision was taken on, what a rescan read, which key is in force.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from papergen.bank.model import LETTERS
from papergen.core.errors import ExitCode
from papergen.exam.manifest import read_manifest
from papergen.grade import settle
from papergen.grade.results import STATUS_GRADED, STATUS_REVIEW, student_results
from papergen.grade.store import (
    PageRecord,
    claim_item,
    claimed_items,
    deciding_store,
    key_changes,
    open_store,
    overrides,
    reading_store,
    undo_override,
)

ROOT = Path(__file__).resolve().parents[1]
EXAM = ROOT / "scans" / "2026-mock-03" / "exam.json"
MANIFEST = read_manifest(EXAM)
VARIANT = MANIFEST.variant("A")
SID, OTHER = "2026030001", "2026030002"


def key_letters(number: int) -> str:
    """Question ``number``'s key in variant A's printed letters."""
    return VARIANT.items[number - 1].key


def wrong_letter(number: int) -> str:
    return next(letter for letter in "ABCD" if letter not in key_letters(number))


def marks_row(number: int, outcome: str, letters: str, reason: str = "") -> tuple:
    """A ``marks`` row as the pipeline writes it (scored against the printed key)."""
    item = VARIANT.items[number - 1]
    options = MANIFEST.questions[item.id].options
    darkness = [0.9 if LETTERS[i] in letters else 0.0 for i in range(options)]
    if outcome == "flagged":
        darkness[0] = 0.2
        return (number, item.id, item.section, outcome, "", None, reason, "uncertain:A", 0.35, json.dumps(darkness), None)
    marked = frozenset(item.permutation[LETTERS.index(c)] for c in letters)
    score = settle.score_marked(MANIFEST, item.id, marked, None)
    bank = "".join(LETTERS[i] for i in sorted(marked))
    return (number, item.id, item.section, outcome, letters, bank, "", "", 1.0, json.dumps(darkness), score)


def sheet_record(file_hash: str, path: str, *, student_id: str | None = SID, q1: tuple | None = None,
                 sheet_flags: tuple = ()) -> PageRecord:
    """A whole sheet of variant A: every answer right, question 1 as given (default: flagged faint)."""
    rows = [q1 or marks_row(1, "flagged", "", "faint")]
    rows += [marks_row(n, "answer", key_letters(n)) for n in range(2, len(VARIANT.items) + 1)]
    flags = [(n, reason, f"第 {n} 题填涂过浅或不完整，无法判断") for n, _, _, outcome, _, _, reason, *_ in rows if outcome == "flagged"]
    flags += [(None, reason, message) for reason, message in sheet_flags]
    values = {"sheet_page": 1, "student_id": student_id, "variant": "A", "absent": 0}
    return PageRecord(file_hash, 1, path, "read", "", values, rows, flags)


def write(folder: Path, *records: PageRecord) -> None:
    """Grade ``records`` into the store as ``grade`` would (a record's file replaces an earlier one of that name)."""
    with open_store(folder, (EXAM).read_text(encoding="utf-8"), MANIFEST.exam) as db:
        db.record_ingest([(r.path, r.file_hash, "jpeg", 1) for r in records], [], [r.path for r in records])
        for record in records:
            if not db.db.execute("SELECT 1 FROM pages WHERE file_hash = ?", (record.file_hash,)).fetchone():
                db.write_page([record])


def results_of(folder: Path):
    with reading_store(folder) as db:
        return {r.student_id: r for r in student_results(db, MANIFEST)}


def queue(folder: Path) -> list[settle.ReviewItem]:
    with reading_store(folder) as db:
        return settle.review_queue(db, MANIFEST)


FULL = MANIFEST.total_points


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    results = tmp_path / "results"
    write(results, sheet_record("a" * 64, str(tmp_path / "sheet-1.jpg")))
    return results


def test_a_decision_settles_the_mark_and_the_total_becomes_final(folder: Path) -> None:
    [item] = queue(folder)
    assert (item.kind, item.reason, item.number, item.fields) == ("mark", "faint", 1, ("answer",))
    assert item.key_letters == key_letters(1) and item.options == 4
    before = results_of(folder)[SID]
    assert (before.status, before.total, before.unscored) == (STATUS_REVIEW, FULL - MANIFEST.questions[item.question_id].points, 1)
    with deciding_store(folder) as db:
        settle.decide(db, MANIFEST, item, grader="张老师", field="answer", new=key_letters(1).lower(), reason="浅但清楚")
    after = results_of(folder)[SID]
    assert (after.status, after.total, after.unscored, after.by_hand, after.flags) == (STATUS_GRADED, FULL, 0, 1, [])
    assert queue(folder) == []
    with reading_store(folder) as db:
        [decision] = overrides(db)
    assert (decision.grader, decision.field, decision.old, decision.new, decision.reading, decision.reason) == (
        "张老师", "answer", None, key_letters(1), "flagged:", "浅但清楚",
    )


def test_undo_reopens_the_item_and_keeps_the_record(folder: Path) -> None:
    [item] = queue(folder)
    with deciding_store(folder) as db:
        decision = settle.decide(db, MANIFEST, item, grader="张老师", field="answer", new="")
        assert results_of(folder)[SID].status == STATUS_GRADED  # settled as blank: 0 points, final
        assert undo_override(db, decision, "张老师") and not undo_override(db, decision, "张老师")
    assert [i.id for i in queue(folder)] == [item.id]
    with reading_store(folder) as db:
        assert [(o.state, o.reason) for o in overrides(db, active_only=False)] == [("undone", "（张老师 撤销）")]


def test_grading_again_and_a_rescan_reading_the_same_keep_the_decision(folder: Path, tmp_path: Path) -> None:
    [item] = queue(folder)
    with deciding_store(folder) as db:
        settle.decide(db, MANIFEST, item, grader="张老师", field="answer", new=wrong_letter(1))
    write(folder, sheet_record("a" * 64, str(tmp_path / "sheet-1.jpg")))  # the same scan again: nothing re-read
    # a rescan saved under the same name that reads question 1 the same way (flagged, nothing marked)
    write(folder, sheet_record("b" * 64, str(tmp_path / "sheet-1.jpg")))
    result = results_of(folder)[SID]
    assert (result.status, result.by_hand, result.total) == (STATUS_GRADED, 1, FULL - MANIFEST.questions[item.question_id].points)
    assert queue(folder) == []


def test_a_rescan_that_reads_differently_reopens_the_item_with_the_earlier_decision(folder: Path, tmp_path: Path) -> None:
    [item] = queue(folder)
    with deciding_store(folder) as db:
        settle.decide(db, MANIFEST, item, grader="张老师", field="answer", new=key_letters(1))
    # rescanned: question 1 now reads clearly as another option
    write(folder, sheet_record("c" * 64, str(tmp_path / "sheet-1.jpg"), q1=marks_row(1, "answer", wrong_letter(1))))
    [reopened] = queue(folder)
    assert (reopened.reason, reopened.number, reopened.previous.new, reopened.previous.grader) == ("reopened", 1, key_letters(1), "张老师")
    assert "原人工判定为" in reopened.message
    result = results_of(folder)[SID]
    # the new reading counts (not the stale decision) and the total waits for a person
    assert result.status == STATUS_REVIEW and result.by_hand == 0
    assert result.total == FULL - MANIFEST.questions[item.question_id].points


def test_identity_decisions_and_a_duplicate_set_aside(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    write(
        folder,
        sheet_record("a" * 64, str(tmp_path / "s1.jpg"), q1=marks_row(1, "answer", key_letters(1))),
        sheet_record("b" * 64, str(tmp_path / "s2.jpg"), q1=marks_row(1, "answer", key_letters(1))),  # the same sheet twice
        sheet_record("d" * 64, str(tmp_path / "s3.jpg"), student_id=None, q1=marks_row(1, "answer", key_letters(1)),
                     sheet_flags=(("id-unreadable", "准考证号无法识别"),)),
    )
    items = queue(folder)
    assert [(i.kind, i.reason) for i in items] == [("identity", "duplicate-id")] * 2 + [("identity", "id-unreadable")]
    assert set(items[0].pages) == {items[0].id, items[1].id} and items[0].fields == ("student_id", "void")
    with reading_store(folder) as db:  # one item looked up alone is the queue's item
        assert [settle.queue_item(db, MANIFEST, i.id).message for i in items] == [i.message for i in items]
        assert settle.queue_item(db, MANIFEST, "mark:" + "a" * 64 + ":1:1:1") is None  # question 1 read clearly: no item
    with reading_store(folder) as db:
        rows = student_results(db, MANIFEST)
    assert [r.status for r in rows] == [STATUS_REVIEW] * 3 and sum(r.duplicate for r in rows) == 2
    with deciding_store(folder) as db:
        settle.decide(db, MANIFEST, items[1].id, grader="李老师", field="void", new="是", reason="同一张扫了两次")
        settle.decide(db, MANIFEST, items[2], grader="李老师", field="student_id", new=OTHER)
        with pytest.raises(settle.InvalidDecision, match="10 位数字") as bad:
            settle.decide(db, MANIFEST, items[2], grader="李老师", field="student_id", new="12345")
    assert bad.value.exit_code == ExitCode.decision_invalid == 13
    assert queue(folder) == []
    rows = results_of(folder)
    assert sorted(rows) == [SID, OTHER] and all(r.status == STATUS_GRADED and r.total == FULL for r in rows.values())
    assert rows[OTHER].by_hand == 1


def test_a_letter_the_question_does_not_have_is_refused(folder: Path) -> None:
    [item] = queue(folder)
    with deciding_store(folder) as db:
        with pytest.raises(settle.InvalidDecision, match="A–D"):
            settle.decide(db, MANIFEST, item, grader="张老师", field="answer", new="E")
        with pytest.raises(settle.InvalidDecision, match="阅卷人"):
            settle.decide(db, MANIFEST, item, grader=" ", field="answer", new="A")
    assert overrides_count(folder) == 0


def overrides_count(folder: Path) -> int:
    with reading_store(folder) as db:
        return len(overrides(db, active_only=False))


def test_key_corrections_rescore_every_sheet_from_the_stored_readings(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    q2 = VARIANT.items[1]
    points = MANIFEST.questions[q2.id].points
    other = wrong_letter(2)
    write(
        folder,
        sheet_record("a" * 64, str(tmp_path / "s1.jpg"), q1=marks_row(1, "answer", key_letters(1))),
        PageRecord("b" * 64, 1, str(tmp_path / "s2.jpg"), "read", "",
                   {"sheet_page": 1, "student_id": OTHER, "variant": "A", "absent": 0},
                   [marks_row(1, "answer", key_letters(1)), marks_row(2, "answer", other)]
                   + [marks_row(n, "answer", key_letters(n)) for n in range(3, len(VARIANT.items) + 1)], []),
    )

    def totals() -> tuple[float, float]:
        rows = results_of(folder)
        return rows[SID].total, rows[OTHER].total

    assert totals() == (FULL, FULL - points)
    other_bank = LETTERS[q2.permutation[LETTERS.index(other)]]
    with deciding_store(folder) as db:
        settle.rekey(db, MANIFEST, q2.id, action="key", answers=[other_bank], grader="教务")
        assert totals() == (FULL - points, FULL)
        settle.rekey(db, MANIFEST, q2.id, action="accept", answers=[other_bank, MANIFEST.questions[q2.id].answer], grader="教务")
        assert totals() == (FULL, FULL)
        settle.rekey(db, MANIFEST, q2.id, action="void-drop", grader="教务")
        assert totals() == (FULL - points, FULL - points)
        rows = results_of(folder)
        assert rows[SID].status == STATUS_GRADED and q2.id not in rows[SID].scores
        settle.rekey(db, MANIFEST, q2.id, action="void-full", grader="教务")
        assert totals() == (FULL, FULL)
        settle.rekey(db, MANIFEST, q2.id, action="restore", grader="教务")
        assert totals() == (FULL, FULL - points)
        with pytest.raises(settle.InvalidDecision, match="单选题"):
            settle.rekey(db, MANIFEST, q2.id, action="key", answers=["AB"], grader="教务")
        changes = key_changes(db, active_only=False)
    assert [c.action for c in changes] == ["key", "accept", "void-drop", "void-full", "restore"]
    assert changes[1].old == other_bank and changes[-1].old == "作废（全体得分）"


def test_a_voided_question_settles_its_flagged_marks(folder: Path) -> None:
    [item] = queue(folder)
    with deciding_store(folder) as db:
        settle.rekey(db, MANIFEST, item.question_id, action="void-full", grader="教务")
    assert queue(folder) == []
    assert results_of(folder)[SID].total == FULL


def test_two_graders_never_hold_one_item(folder: Path) -> None:
    [item] = queue(folder)
    with deciding_store(folder) as one, deciding_store(folder) as two:
        assert claim_item(one, item.id, "张老师", "tab-1")
        assert not claim_item(two, item.id, "李老师", "tab-2")
        assert claimed_items(two, "tab-2") == {item.id: "张老师"} and claimed_items(one, "tab-1") == {}
        assert claim_item(one, item.id, "张老师", "tab-1")  # renewing one's own claim
        assert claim_item(two, item.id, "李老师", "tab-2", seconds=60) is False
        claim_item(one, item.id, "张老师", "tab-1", seconds=-1)  # expired
        assert claim_item(two, item.id, "李老师", "tab-2")


def test_a_version_2_store_reads_without_decisions_and_is_upgraded_for_deciding(folder: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    db = sqlite3.connect(old / "results.sqlite")
    with db:
        db.executescript("DROP TABLE overrides; DROP TABLE key_changes; DROP TABLE claims;")
        db.execute("ALTER TABLE pages DROP COLUMN frame")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.close()
    assert [i.reason for i in queue(old)] == ["faint"]
    with deciding_store(old) as db:
        settle.decide(db, MANIFEST, queue(old)[0], grader="张老师", field="answer", new="A")
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("3",)
    assert queue(old) == []


def test_a_real_scan_settled_in_the_store_and_the_crop_shows_its_row(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    from papergen.grade import views
    from papergen.grade.pipeline import grade
    from papergen.grade.store import page_frame

    summary = grade(EXAM, [ROOT / "scans" / "2026-mock-03" / "photo"], tmp_path / "r", workers=1)
    assert summary.read == 2 and len(summary.review) == 1
    [item] = queue(tmp_path / "r")
    with reading_store(tmp_path / "r") as db:
        frame = page_frame(db, (item.file_hash, item.page, item.part))
    assert frame is not None and len(frame["homography"]) == 9
    view = views.sheet_view(item.path, item.page, item.part, item.file_hash, MANIFEST, frame)
    boxes = next(q.boxes for q in MANIFEST.sheet.questions if q.number == item.number)
    crop = views.render_region(view, views.question_region(MANIFEST.sheet, item.number), 8.0, [(b, views.RED, 1) for b in boxes])
    assert crop.shape[2] == 3 and crop.shape[1] > 4 * crop.shape[0]
    red = (crop[:, :, 2] > 180) & (crop[:, :, 1] < 90)
    assert red.sum() > 100  # the outlines are drawn
    # the same view without the stored frame (a sheet graded before frames were kept) finds the same place
    again = views.sheet_view(item.path, item.page, item.part, item.file_hash, MANIFEST, None)
    assert np.abs(again.homography / again.homography[2, 2] - view.homography / view.homography[2, 2]).max() < 2.0
    with pytest.raises(views.ViewUnavailable, match="更换"):
        views.sheet_view(item.path, item.page, item.part, "0" * 64, MANIFEST, frame)
    cv2.imwrite(str(tmp_path / "crop.png"), crop)


def test_the_store_state_token_changes_with_every_decision_but_not_with_claims(folder: Path, tmp_path: Path) -> None:
    """The review page keeps its queue while this token stands: every change the queue depends on must move it."""
    from papergen.grade.store import state_token

    [item] = queue(folder)
    with deciding_store(folder) as db:
        tokens = [state_token(db)]
        claim_item(db, item.id, "张老师", "tab-1")
        assert state_token(db) == tokens[-1]
        decision = settle.decide(db, MANIFEST, item, grader="张老师", field="answer", new="A")
        tokens.append(state_token(db))
        undo_override(db, decision, "张老师")
        tokens.append(state_token(db))
        settle.rekey(db, MANIFEST, item.question_id, action="void-full", grader="教务")
        tokens.append(state_token(db))
    write(folder, sheet_record("e" * 64, str(tmp_path / "sheet-1.jpg")))  # a rescan replaces the reading
    with reading_store(folder) as db:
        tokens.append(state_token(db))
    assert len(set(tokens)) == len(tokens)


def test_sheets_are_settled_one_at_a_time_with_the_marks_of_each(tmp_path: Path) -> None:
    """``marks_by_sheet`` meets every sheet's marks together (a table scan), exactly as ``page_marks`` reads them."""
    from papergen.grade.store import all_pages, marks_by_sheet, page_marks

    folder = tmp_path / "results"
    write(folder, *(sheet_record(c * 64, str(tmp_path / f"s{c}.jpg"), student_id=f"20260300{n:02d}")
                    for n, c in enumerate("abcdef", start=1)))
    write(folder, sheet_record("9" * 64, str(tmp_path / "sb.jpg"), student_id="2026030002"))  # a rescan under b's name
    with reading_store(folder) as db:
        grouped = dict(marks_by_sheet(db))
        pages = all_pages(db)
        assert set(grouped) == {p.key for p in pages} and len(pages) == 6
        assert all(grouped[p.key] == page_marks(db, p.key) for p in pages)
        sheets = settle.settled_sheets(db, MANIFEST)
    assert sorted(s.page.key for s in sheets) == sorted(p.key for p in pages)
    assert all(len(s.marks) == len(VARIANT.items) for s in sheets)


def test_duplicates_found_through_the_spill_match_every_sheet_and_decision(tmp_path: Path) -> None:
    """A 准考证号 on many sheets, one set aside, one moved onto another number: items, shared message, order.

    ``iter_settled_sheets`` finds duplicates from a temporary file, not from every sheet held at once: the
    groups must still list their sheets in the store's order, share one message, and pages with no marks
    (not read, or read empty) still come last.
    """
    folder = tmp_path / "results"
    copies = [sheet_record(f"{n:x}" * 64, str(tmp_path / f"copy-{n}.jpg"), q1=marks_row(1, "answer", key_letters(1)))
              for n in range(1, 9)]  # eight sheets of SID: more than DUPLICATES_LISTED
    other = sheet_record("a" * 64, str(tmp_path / "other.jpg"), student_id=OTHER, q1=marks_row(1, "answer", key_letters(1)))
    moved = sheet_record("b" * 64, str(tmp_path / "moved.jpg"), student_id="2026030003", q1=marks_row(1, "answer", key_letters(1)))
    refused = PageRecord("c" * 64, 1, str(tmp_path / "refused.jpg"), "not-a-sheet", "不是答题卡", {}, [],
                         [(None, "not-a-sheet", "这一页不是本次考试的答题卡")])
    empty = PageRecord("d" * 64, 1, str(tmp_path / "empty.jpg"), "read", "",
                       {"sheet_page": 1, "student_id": "2026030004", "variant": "A", "absent": 0}, [], [])
    write(folder, *copies, other, moved, refused, empty)
    with deciding_store(folder) as db:
        settle.decide(db, MANIFEST, "sheet:" + "2" * 64 + ":1:1", grader="李老师", field="void", new="是")
        settle.decide(db, MANIFEST, "sheet:" + "b" * 64 + ":1:1", grader="李老师", field="student_id", new=OTHER)
    with reading_store(folder) as db:
        sheets = list(settle.iter_settled_sheets(db, MANIFEST))
    # Sheets with marks in store order, then the pages with no marks (refused, read empty) in the order written.
    assert "".join(s.page.file_hash[0] for s in sheets) == "12345678abcd"
    by_hash = {s.page.file_hash[0]: s for s in sheets}
    group = [by_hash[c] for c in "1345678"]
    items = [s.open_items[0] for s in group]
    assert all(i.reason == "duplicate-id" and i.student_id == SID for i in items)
    assert all(i.message is items[0].message and i.pages is items[0].pages for i in items)  # one message, one list
    assert items[0].pages == [i.id for i in items] and "出现在 7 张答题卡上" in items[0].message and "等 7 张" in items[0].message
    assert "copy-1.jpg" in items[0].message and "copy-7.jpg" in items[0].message and "copy-8.jpg" not in items[0].message
    assert all(s.duplicate_message == items[0].message for s in group)
    assert by_hash["2"].void and not any(i.reason == "duplicate-id" for i in by_hash["2"].open_items)
    pair = [by_hash["a"].open_items[0], by_hash["b"].open_items[0]]
    assert [i.reason for i in pair] == ["duplicate-id"] * 2 and "出现在 2 张答题卡上" in pair[0].message
    assert by_hash["b"].student_id == OTHER and by_hash["b"].duplicate_message == pair[0].message
    assert by_hash["d"].read and by_hash["d"].marks == [] and not by_hash["d"].open_items
    assert [i.reason for i in by_hash["c"].open_items] == ["not-a-sheet"]


def test_marks_of_one_sheet_written_apart_are_refused(tmp_path: Path) -> None:
    """``marks_by_sheet`` reads by table scan; a sheet whose marks are not together is an error, not two sheets."""
    from papergen.core.errors import StoreMismatch
    from papergen.grade.store import marks_by_sheet

    folder = tmp_path / "results"
    write(folder, sheet_record("a" * 64, str(tmp_path / "a.jpg")), sheet_record("b" * 64, str(tmp_path / "b.jpg"), student_id=OTHER))
    db = sqlite3.connect(folder / "results.sqlite")
    with db:  # move a's question 1 after b's marks
        db.execute("CREATE TEMP TABLE moved AS SELECT * FROM marks WHERE file_hash = ? AND number = 1", ("a" * 64,))
        db.execute("DELETE FROM marks WHERE file_hash = ? AND number = 1", ("a" * 64,))
        db.execute("INSERT INTO marks SELECT * FROM moved")
    db.close()
    with reading_store(folder) as db, pytest.raises(StoreMismatch, match="不连续"):
        list(marks_by_sheet(db))
