"""The invigilator's 违纪 box: read like 缺考, always reviewed, out of the statistics, total kept."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from papergen.exam.manifest import read_manifest
from papergen.grade.pipeline import grade
from papergen.grade.reader import violation_flags
from papergen.grade.results import STATUS_VIOLATION, results_text, student_results
from papergen.grade.store import page_flags, read_pages, reading_store
from papergen.report.data import load_exam_results
from papergen.report.feedback import skip_reason
from tests.conftest import ROOT
from tests.sheetfill import filled_sheet, key_answers

EXAM = ROOT / "scans" / "2026-mock-03"  # the sample exam as the current papergen builds it
MARKED, CLEAN, FAINT, BOTH = "2026030031", "2026030032", "2026030033", "2026030034"


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    manifest = read_manifest(EXAM / "exam.json")
    scans = tmp_path_factory.mktemp("violation-scans")
    answers = key_answers(manifest, "A")
    for student_id, violation, absent in ((MARKED, 45, False), (CLEAN, None, False), (FAINT, 215, False), (BOTH, 45, True)):
        image = filled_sheet(EXAM, manifest, student_id=student_id, variant="A", answers={} if absent else answers,
                             violation=violation, absent=absent)
        cv2.imwrite(str(scans / f"{student_id}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    results = tmp_path_factory.mktemp("violation-results") / "results"
    grade(EXAM / "exam.json", [scans], results, workers=1)
    return results


def _by_id(results_dir: Path):
    manifest = read_manifest(EXAM / "exam.json")
    with reading_store(results_dir) as db:
        return {r.student_id: r for r in student_results(db, manifest)}


def _sheet_reasons(results_dir: Path) -> dict[str, set[str]]:
    with reading_store(results_dir) as db:
        return {page.student_id: {f.reason for f in page_flags(db, page.key)} for page in read_pages(db)}


def test_a_marked_violation_box_makes_the_status_violation_keeps_the_total_and_leaves_the_statistics(graded) -> None:
    results = _by_id(graded)
    marked = results[MARKED]
    full = sum(q.points for q in read_manifest(EXAM / "exam.json").questions.values())
    assert marked.violation and marked.status == STATUS_VIOLATION == "违纪"
    assert marked.total == full and marked.shown_total == full  # scored as usual, shown
    assert not marked.in_stats
    assert any("违纪" in flag for flag in marked.flags)  # always on the review list
    assert _sheet_reasons(graded)[MARKED] == {"violation-marked"}


def test_a_blank_violation_box_changes_nothing(graded) -> None:
    clean = _by_id(graded)[CLEAN]
    assert not clean.violation and clean.status == "已评" and clean.in_stats and not clean.flags
    assert _sheet_reasons(graded)[CLEAN] == set()


def test_a_faint_violation_mark_is_flagged_not_decided(graded) -> None:
    faint = _by_id(graded)[FAINT]
    assert not faint.violation and faint.status == "待复核"
    assert _sheet_reasons(graded)[FAINT] == {"violation-unclear"}


def test_absent_and_violation_together_stay_absent_and_are_reviewed(graded) -> None:
    both = _by_id(graded)[BOTH]
    assert both.absent and both.shown_total is None and not both.in_stats
    assert "violation-marked" in _sheet_reasons(graded)[BOTH] and both.status == "待复核"


def test_reports_and_feedback_leave_the_violation_out(graded) -> None:
    data = load_exam_results(graded)
    rows = {s.student_id: i for i, s in enumerate(data.students)}
    assert not data.stats_rows[rows[MARKED]] and data.stats_rows[rows[CLEAN]]
    assert data.students[rows[MARKED]].status == "违纪"
    assert "违纪" in skip_reason(data, rows[MARKED])
    assert skip_reason(data, rows[CLEAN]) is None


def test_papergen_results_shows_the_status(graded) -> None:
    manifest = read_manifest(EXAM / "exam.json")
    with reading_store(graded) as db:
        table = results_text(db, manifest, "table")
        rows = json.loads(results_text(db, manifest, "json"))
    full = f"{sum(q.points for q in manifest.questions.values()):g}"
    line = next(line for line in table.splitlines() if line.startswith(MARKED))
    assert line.split()[2:4] == ["违纪", full]  # the status, and the total kept (not provisional: no "*")
    assert next(r for r in rows if r["student_id"] == MARKED)["violation"] is True


def test_violation_flags_name_what_a_person_checks() -> None:
    assert [f.reason for f in violation_flags("marked")] == ["violation-marked"]
    assert [f.reason for f in violation_flags("unclear")] == ["violation-unclear"]
    assert violation_flags("empty") == []
    assert "请核对" in violation_flags("marked")[0].message


def test_the_simulator_marks_violation_when_asked_and_the_reader_finds_it(tmp_path: Path) -> None:
    from papergen.sim.evaluation import evaluate
    from papergen.sim.run import simulate

    result = simulate(EXAM / "exam.json", 4, tmp_path / "scans", seed=9, degrade="scan", dpi=150, violations=1)
    marked = [row.student_id for row in result.rows if row.violation]
    assert len(marked) == 1 and result.violations == 1
    grade(EXAM / "exam.json", [tmp_path / "scans"], tmp_path / "results", workers=1)
    report = evaluate(tmp_path / "results", tmp_path / "scans" / "truth.csv")
    assert report.silent_errors == 0 and report.exact == report.sheets == 4, report.details
    statuses = {sid: r.status for sid, r in _by_id(tmp_path / "results").items()}
    assert statuses[marked[0]] == "违纪"
    assert list(statuses.values()).count("违纪") == 1


def test_the_simulator_refuses_violations_on_a_sheet_without_the_box(tmp_path: Path) -> None:
    import shutil

    from papergen.sim.cohort import SimulateOptionError
    from papergen.sim.run import simulate

    old = ROOT / "tests" / "fixtures" / "scans" / "previous-sheet"
    shutil.copy(old / "exam.json", tmp_path / "exam.json")
    shutil.copy(EXAM / "sheet.pdf", tmp_path / "sheet.pdf")  # any sheet.pdf: the option is refused first
    with pytest.raises(SimulateOptionError, match="违纪"):
        simulate(tmp_path / "exam.json", 2, tmp_path / "scans", violations=1)


def test_violation_is_the_status_only_of_a_sheet_known_to_be_this_students() -> None:
    from papergen.grade.results import StudentResult

    def result(**kwargs) -> StudentResult:
        base = dict(student_id="2026030001", identified=True, variant="A", absent=False, total=10.0, sections=[10.0],
                    answered=10, unscored=0, violation=True, flags=["监考员标记了违纪；请核对"])
        return StudentResult(**{**base, **kwargs})

    assert result().status == "违纪" and not result().in_stats
    assert result(duplicate=True).status == "待复核"  # which student it was is open: reviewed as such
    assert result(identified=False, student_id="?x").status == "待复核"
    assert result(violation=False, flags=[]).status == "已评" and result(violation=False, flags=[]).in_stats
