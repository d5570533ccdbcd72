"""The committed sample scans (scans/) grade exactly as their truth says."""

from __future__ import annotations

from pathlib import Path

import pytest

from papergen.grade.pipeline import grade
from papergen.sim.evaluation import evaluate
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


@pytest.mark.parametrize("level", ["scan", "photo"])
def test_a_mirror_image_scan_is_read_exactly_not_misread(level: str, tmp_path: Path) -> None:
    """A scan saved flipped (a phone's front camera) once read every answer against the wrong box."""
    import shutil

    import cv2

    folder = tmp_path / "mirrored"
    folder.mkdir()
    for path in sorted((EXAM / level).glob("*.jpg")):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(folder / path.name), image[:, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    shutil.copy(EXAM / level / "truth.csv", folder / "truth.csv")
    grade(EXAM / "exam.json", [folder], tmp_path / "results", workers=1)
    report = evaluate(tmp_path / "results", folder / "truth.csv")
    assert report.sheets == 2 and report.missing_pages == 0
    assert report.silent_errors == 0, report.details
    assert report.exact == report.sheets, report.details
