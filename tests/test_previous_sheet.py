"""An exam.json written before the 违纪 box and section labels still loads, prints and grades as before."""

from __future__ import annotations

import json
from pathlib import Path

from papergen.exam.manifest import read_manifest
from papergen.grade.pipeline import grade
from papergen.render.sheet import Personal, render_sheets
from papergen.sheet.layout import SheetGeometry
from papergen.sim.evaluation import evaluate
from tests.conftest import ROOT
from tests.test_sheet_page import page_text

PREVIOUS = ROOT / "tests" / "fixtures" / "scans" / "previous-sheet"


def test_it_loads_without_the_new_fields_and_writes_back_what_it_read() -> None:
    data = json.loads((PREVIOUS / "exam.json").read_text(encoding="utf-8"))
    assert "violation" not in data["sheet"]["header"]
    geometry = read_manifest(PREVIOUS / "exam.json").sheet
    header = geometry.header
    assert header.violation is header.room_box is header.seat_box is header.barcode is header.invigilator is None
    assert not [label for label in geometry.labels if label["kind"] == "section"]
    # the grader reads the same rectangles as then: written back, the geometry is the file's
    assert SheetGeometry.from_json(data["sheet"]).to_json() == geometry.to_json()
    assert geometry.to_json()["header"] == data["sheet"]["header"]


def test_its_scans_grade_exactly_as_their_truth_says(tmp_path: Path) -> None:
    grade(PREVIOUS / "exam.json", [PREVIOUS / "harsh"], tmp_path / "results", workers=1)
    report = evaluate(tmp_path / "results", PREVIOUS / "harsh" / "truth.csv")  # a truth.csv without a 违纪 column
    assert report.sheets == 2 and report.missing_pages == 0
    assert report.silent_errors == 0 and report.exact == report.sheets, report.details


def test_its_sheets_print_as_they_did(tmp_path: Path) -> None:
    manifest = read_manifest(PREVIOUS / "exam.json")
    render_sheets(manifest.sheet, tmp_path / "s.pdf", exam_id=manifest.exam, build=manifest.build, title=manifest.title,
                  people=[Personal("2026030001", "张三", "三班", "A", room="07", seat="3")])
    (text,) = page_text(tmp_path / "s.pdf")
    assert "缺考标记（考生禁填）" in text and "张三" in text
    assert "违纪" not in text and "条形码粘贴区" not in text and "07" not in text  # no box to print them in
