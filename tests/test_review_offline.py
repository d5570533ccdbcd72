"""``papergen review --export/--apply``: the offline review workbook, filled with openpyxl and applied back."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from papergen.cli import cli
from papergen.core.errors import ExitCode
from papergen.exam.manifest import Manifest
from papergen.grade import settle, store
from papergen.grade.pipeline import grade
from papergen.grade.results import results_text
from papergen.review import offline
from papergen.sim.run import simulate
from tests.conftest import ROOT

EXAM = ROOT / "scans" / "2026-mock-03" / "exam.json"


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """Six simulated sheets (doubtful marks, one absent, one 准考证号 on two sheets) graded: about ten open items."""
    base = tmp_path_factory.mktemp("offline")
    simulate(EXAM, 6, base / "scans", seed=3, dpi=150, doubtful_rate=0.05, absent=1, duplicate_ids=1)
    grade(EXAM, [base / "scans"], base / "results", workers=1)
    return base


@pytest.fixture
def results(graded: Path, tmp_path: Path) -> Path:
    """A private copy of the graded results (apply writes to it)."""
    shutil.copytree(graded / "results", tmp_path / "results")
    return tmp_path / "results"


def _queue(results: Path) -> tuple[Manifest, list[settle.ReviewItem]]:
    with store.reading_store(results) as db:
        manifest = Manifest.from_json(json.loads(store.manifest_from_store(db)))
        return manifest, settle.review_queue(db, manifest)


def _columns(sheet) -> dict[str, int]:
    return {cell.value: cell.column for cell in sheet[1]}


def _fill(path: Path, decisions: dict[str, str], grader: str | None = "王老师", ids: dict[int, str] | None = None) -> None:
    """Write ``decisions`` (item id → 判定) into the exported workbook, as a grader would."""
    workbook = openpyxl.load_workbook(path)
    sheet = workbook[offline.REVIEW_SHEET]
    col = _columns(sheet)
    for row in range(2, sheet.max_row + 1):
        item_id = sheet.cell(row, col["编号"]).value
        if item_id in decisions:
            sheet.cell(row, col["判定"]).value = decisions[item_id]
            if grader:
                sheet.cell(row, col["阅卷人"]).value = grader
    for row, text in (ids or {}).items():
        sheet.cell(row, col["编号"]).value = text
    workbook.save(path)


def _row_of(path: Path, item_id: str) -> int:
    sheet = openpyxl.load_workbook(path)[offline.REVIEW_SHEET]
    col = _columns(sheet)
    return next(row for row in range(2, sheet.max_row + 1) if sheet.cell(row, col["编号"]).value == item_id)


def test_export_one_row_per_open_item_with_crop_and_drop_down(results: Path, tmp_path: Path) -> None:
    manifest, queue = _queue(results)
    marks = [item for item in queue if item.kind == "mark"]
    assert len(queue) >= 8 and len(marks) >= 6
    summary = offline.export_review(results, tmp_path / "review.xlsx")
    assert summary.items == len(queue) and summary.without_image == []
    workbook = openpyxl.load_workbook(tmp_path / "review.xlsx")
    assert workbook.sheetnames == ["复核", "说明"]
    sheet = workbook["复核"]
    col = _columns(sheet)
    assert [h for h, _ in sorted(col.items(), key=lambda kv: kv[1])] == [header for _, header, _ in offline.COLUMNS]
    assert [sheet.cell(row, col["编号"]).value for row in range(2, sheet.max_row + 1)] == [item.id for item in queue]
    assert sheet.column_dimensions[openpyxl.utils.get_column_letter(col["编号"])].hidden
    # a crop anchored in each mark row's 扫描图像 cell, the row tall enough for it
    anchored = {image.anchor._from.row + 1: image for image in sheet._images}
    for row, item in enumerate(queue, start=2):
        if item.kind != "mark":
            continue
        image = anchored[row]
        assert image.anchor._from.col + 1 == col["扫描图像"]
        assert sheet.row_dimensions[row].height >= image.height * 0.75
        assert sheet.cell(row, col["题号"]).value == str(item.number)
        assert sheet.cell(row, col["答案"]).value == item.key_letters
        # the drop-down of this row: that question's letters and 空白
        (validation,) = [v for v in sheet.data_validations.dataValidation if f"{openpyxl.utils.get_column_letter(col['判定'])}{row}" in v.sqref]
        assert validation.type == "list"
        assert validation.formula1 == '"' + ",".join([*"ABCDE"[: item.options], "空白"]) + '"'
    assert sheet.page_setup.orientation == "landscape" and sheet.print_title_rows == "$1:$1"
    guide = workbook["说明"]
    assert any(row[1] == manifest.exam for row in guide.iter_rows(values_only=True))


def test_apply_settles_the_marks_and_results_lose_the_star(results: Path, tmp_path: Path) -> None:
    manifest, queue = _queue(results)
    marks = [item for item in queue if item.kind == "mark"]
    path = tmp_path / "review.xlsx"
    offline.export_review(results, path)
    decisions = {item.id: (item.key_letters if i % 2 else "空白") for i, item in enumerate(marks)}
    _fill(path, decisions)
    summary = offline.apply_review(results, path)
    assert summary.problems == [] and len(summary.applied) == len(marks)
    _, after = _queue(results)
    assert [item.id for item in after] == [item.id for item in queue if item.kind != "mark"]
    with store.reading_store(results) as db:
        recorded = store.overrides(db)
        text = results_text(db, manifest, "table")
    assert {o.grader for o in recorded} == {"王老师"} and len(recorded) == len(marks)
    duplicated = {item.student_id for item in queue if item.kind != "mark"}
    for line in text.splitlines()[1:-1]:
        if line.split()[0] not in duplicated and "缺考" not in line:
            assert "*" not in line, line  # every open item of this sheet settled: the total is final


def test_apply_twice_adds_nothing(results: Path, tmp_path: Path) -> None:
    _, queue = _queue(results)
    path = tmp_path / "review.xlsx"
    offline.export_review(results, path)
    _fill(path, {item.id: item.key_letters or "空白" for item in queue if item.kind == "mark"})
    first = offline.apply_review(results, path)
    second = offline.apply_review(results, path)
    assert second.applied == [] and second.problems == [] and second.already == len(first.applied)
    run = CliRunner().invoke(cli, ["review", str(results), "--apply", str(path)])
    assert run.exit_code == 0, run.output
    with store.reading_store(results) as db:
        assert len(store.overrides(db)) == len(first.applied)


def test_bad_cells_are_named_by_sheet_and_row_and_the_rest_applied(results: Path, tmp_path: Path) -> None:
    manifest, queue = _queue(results)
    marks = [item for item in queue if item.kind == "mark"]
    identity = next(item for item in queue if "student_id" in item.fields)
    path = tmp_path / "review.xlsx"
    offline.export_review(results, path)
    wrong_letter = marks[0]
    good = marks[1]
    unknown = marks[2]
    _fill(path, {wrong_letter.id: "F", good.id: good.key_letters, identity.id: "12345", unknown.id: "A"},
          ids={_row_of(path, unknown.id): "mark:0000:1:1:3"})
    run = CliRunner().invoke(cli, ["review", str(results), "--apply", str(path)])
    assert run.exit_code == ExitCode.decision_invalid, run.output
    for item, words in ((wrong_letter, "不是第"), (identity, "位数字的准考证号"), (unknown, "不是这个结果文件夹的待复核项")):
        row = _row_of(path, item.id) if item is not unknown else None
        expected = f"review.xlsx 复核 第 {row} 行：" if row else "review.xlsx 复核 第 "
        assert any(line.strip().startswith(expected) and words in line for line in run.output.splitlines() if "复核 第" in line), run.output
    assert "已记录 1 条判定" in run.output
    _, after = _queue(results)
    assert good.id not in {item.id for item in after} and wrong_letter.id in {item.id for item in after}


def test_no_grader_anywhere_is_a_bad_row(results: Path, tmp_path: Path) -> None:
    _, queue = _queue(results)
    item = next(item for item in queue if item.kind == "mark")
    path = tmp_path / "review.xlsx"
    offline.export_review(results, path)
    _fill(path, {item.id: "A"}, grader=None)
    summary = offline.apply_review(results, path)
    assert len(summary.problems) == 1 and "阅卷人" in summary.problems[0]
    assert offline.apply_review(results, path, grader="李老师").applied


def test_an_item_settled_by_someone_else_since_the_export(results: Path, tmp_path: Path) -> None:
    manifest, queue = _queue(results)
    item = next(item for item in queue if item.kind == "mark")
    path = tmp_path / "review.xlsx"
    offline.export_review(results, path)
    with store.deciding_store(results) as db:
        settle.decide(db, manifest, item, grader="赵老师", field="answer", new="")
    _fill(path, {item.id: "A"})
    summary = offline.apply_review(results, path)
    assert len(summary.problems) == 1
    assert f"第 {_row_of(path, item.id)} 行" in summary.problems[0] and "赵老师" in summary.problems[0]


def test_a_workbook_of_another_kind_is_refused(results: Path, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = "成绩"
    workbook.save(tmp_path / "other.xlsx")
    run = CliRunner().invoke(cli, ["review", str(results), "--apply", str(tmp_path / "other.xlsx")])
    assert run.exit_code == ExitCode.input_file and "复核" in run.output
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really")
    run = CliRunner().invoke(cli, ["review", str(results), "--apply", str(tmp_path / "broken.xlsx")])
    assert run.exit_code in (ExitCode.input_file, ExitCode.input_rejected), run.output


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_prints_the_review_sheet(results: Path, tmp_path: Path) -> None:
    offline.export_review(results, tmp_path / "review.xlsx")
    subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(tmp_path / "review.xlsx")],
        check=True, capture_output=True, timeout=180,
    )
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(tmp_path / "review.pdf"))
    text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    assert "判定" in text and "扫描图像" in text and "如何填写这份复核表" in text
    assert len(document) <= 3  # one page wide: the review sheet does not flow over several pages across


def test_a_duplicate_sheet_set_aside_closes_both_and_a_second_void_is_named(results: Path, tmp_path: Path) -> None:
    _, queue = _queue(results)
    first, second = [item for item in queue if item.reason == "duplicate-id"]
    path = tmp_path / "review.xlsx"
    offline.export_review(results, path)
    book = openpyxl.load_workbook(path)
    sheet = book["复核"]
    (validation,) = [v for v in sheet.data_validations.dataValidation
                     if f"{openpyxl.utils.get_column_letter(_columns(sheet)['判定'])}{_row_of(path, first.id)}" in v.sqref]
    assert validation.formula1 == '"作废"' and "准考证号" in validation.prompt  # pick 作废 or type a 准考证号
    _fill(path, {first.id: "作废", second.id: "作废"})
    summary = offline.apply_review(results, path)
    assert len(summary.applied) == 1
    (problem,) = summary.problems
    assert problem.startswith(f"review.xlsx 复核 第 {_row_of(path, second.id)} 行：") and "已不在待复核清单中" in problem
    _, after = _queue(results)
    assert not any(item.reason == "duplicate-id" for item in after)
    again = offline.apply_review(results, path)
    assert again.applied == [] and again.already == 1


def test_a_page_not_read_is_confirmed_as_handled_not_as_scored(results: Path) -> None:
    manifest, _ = _queue(results)
    page = settle.ReviewItem(id="page:x:1:1:bw-darkened", kind="page", reason="bw-darkened", message="", where="")
    sheet = settle.ReviewItem(id="sheet:x:1:1:blank-sheet", kind="sheet", reason="blank-sheet", message="", where="")
    assert "没有评分" in offline.prompt(page, manifest) and "按机读结果计" not in offline.prompt(page, manifest)
    assert "按机读结果计" in offline.prompt(sheet, manifest)
    script = (Path(offline.__file__).parent / "static" / "review.js").read_text(encoding="utf-8")
    assert "已处理（已重扫或人工评阅）" in script  # the review page's button for such a page says the same
