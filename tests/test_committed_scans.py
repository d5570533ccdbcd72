"""The committed sample scans (scans/) grade exactly as their truth says."""

from __future__ import annotations

from pathlib import Path

import pytest

from papergen.evaluation import evaluate
from papergen.grading import grade
from tests.conftest import ROOT

EXAM = ROOT / "scans" / "2026-mock-03"


@pytest.mark.parametrize("level", ["scan", "photo", "harsh"])
def test_committed_scans_have_no_silent_error(level: str, tmp_path: Path) -> None:
    grade(EXAM / "exam.json", [EXAM / level], tmp_path / "results", workers=1)
    report = evaluate(tmp_path / "results", EXAM / level / "truth.csv")
    assert report.sheets == 2 and report.missing_pages == 0
    assert report.silent_errors == 0, report.details
    assert report.exact == report.sheets, report.details
    assert report.deliberate_flagged == report.deliberate
