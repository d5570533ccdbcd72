"""One result per student: ``papergen results`` and report.xlsx never disagree.

Both read ``grade.results.student_results``; this drives the CLI the way a
grader would, over the awkward cases where two computations used to differ
(an absent sheet that still has answers, a sheet whose 准考证号 cannot be
read, one 准考证号 on two sheets), and compares status and total for every
row.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import pytest
from openpyxl import load_workbook

from papergen.core.errors import ExitCode
from papergen.exam.manifest import read_manifest
from papergen.grade.results import STATUS_ABSENT, STATUS_REVIEW
from tests.conftest import ROOT
from tests.matrix import run_cli
from tests.sheetfill import filled_sheet, key_answers

BLUEPRINT = """\
exam: agree-01
title: 成绩一致性测试卷
banks: [{bank}]
variants: 2
seed: 4
sections:
  - title: 一、单项选择题
    type: single
    count: 8
    points: 2
    scoring: {{negative: 0.5}}
  - title: 二、多项选择题
    type: multiple
    count: 4
    points: 4
"""
DPI = 150


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """A simulated cohort with absences and duplicated ids, plus hand-filled awkward sheets, graded."""
    base = tmp_path_factory.mktemp("agree")
    blueprint = base / "agree.yaml"
    blueprint.write_text(BLUEPRINT.format(bank=ROOT / "banks" / "xinjiuye-dangjian.yaml"), encoding="utf-8")
    assert run_cli(["build", blueprint, "-o", base / "exam"]).exit_code == 0
    exam_json = base / "exam" / "exam.json"
    simulated = run_cli([
        "simulate", exam_json, "-n", "10", "-o", base / "scans", "--seed", "3", "--degrade", "none", "--dpi", DPI,
        "--absent", "2", "--duplicate-ids", "2",
    ])
    assert simulated.exit_code == 0, simulated.output
    manifest = read_manifest(exam_json)
    answers = key_answers(manifest, "A")
    some_wrong = {number: ("A" if letters != "A" else "B") for number, letters in list(answers.items())[:3]}
    extra = {
        # 缺考 marked, but the sheet has answers: no total, and someone must look
        "absent-answered.jpg": dict(student_id="2026990101", variant="A", answers=answers, absent=True),
        # no 准考证号 at all, and one too short to be read: each its own row
        "no-id.jpg": dict(student_id=None, variant="A", answers={**answers, **some_wrong}),
        "short-id.jpg": dict(student_id="20269", variant="B", answers=key_answers(manifest, "B")),
        # an ordinary sheet next to them
        "plain.jpg": dict(student_id="2026990102", variant="A", answers={**answers, **some_wrong}),
    }
    for name, fill in extra.items():
        image = filled_sheet(base / "exam", manifest, dpi=DPI, **fill)
        cv2.imwrite(str(base / "scans" / name), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    result = run_cli(["grade", exam_json, base / "scans", "-o", base / "results", "--workers", "1"])
    assert result.exit_code == ExitCode.graded_with_review, result.output
    return base


def test_results_and_report_agree_on_every_student(graded: Path) -> None:
    listed = json.loads(run_cli(["results", graded / "results", "--format", "json"]).output)
    assert run_cli(["report", graded / "results", "-o", graded / "report.xlsx"]).exit_code == 0
    sheet = load_workbook(graded / "report.xlsx")["成绩"]
    # 成绩: rank, 准考证号, 姓名, 班级, 试卷类型, 状态, 总分 (缺考 as text, never 0), 得分率, …
    in_report = Counter(
        (row[1], row[5], None if row[6] == "缺考" else float(row[6]))
        for row in sheet.iter_rows(min_row=2, values_only=True)
    )
    in_results = Counter((r["student_id"], r["status"], r["total"]) for r in listed)
    assert in_report == in_results
    # the awkward cases are really there
    by_id = Counter(r["student_id"] for r in listed)
    assert sum(1 for count in by_id.values() if count > 1) == 2  # two 准考证号 each on two sheets
    assert sum(1 for r in listed if r["student_id"].startswith("?")) == 2  # no id, too short an id
    assert sum(1 for r in listed if r["status"] == STATUS_ABSENT and r["total"] is None) == 2  # simulated absences
    answered_absent = next(r for r in listed if r["student_id"] == "2026990101")
    assert answered_absent["status"] == STATUS_REVIEW and answered_absent["total"] is None
    plain = next(r for r in listed if r["student_id"] == "2026990102")
    assert plain["status"] != STATUS_REVIEW and plain["total"] is not None
