"""``papergen annotate``: the committed sample scans graded, drawn back with their marks outlined, read with pdfium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner

from papergen.cli import cli
from papergen.core.errors import ExitCode
from papergen.exam.manifest import Manifest
from papergen.grade import settle, views
from papergen.grade.pipeline import grade
from papergen.grade.results import student_results
from papergen.grade.store import manifest_from_store, reading_store
from papergen.report import annotate
from tests.conftest import ROOT

SCANS = ROOT / "scans" / "2026-mock-03"
ROSTER = "准考证号,姓名,班级\n2026030001,张 三/../,高三（1）班\n2026030002,李四,\n"
RENDER_SCALE = 4.0  # pdfium: pixels per point


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """The two sample sheets (scan/) graded: sheet 1 has an open question (26), both some wrong answers."""
    base = tmp_path_factory.mktemp("annotate")
    shutil.copytree(SCANS / "scan", base / "scans")
    grade(SCANS / "exam.json", [base / "scans"], base / "results", workers=1)
    (base / "名单.csv").write_text(ROSTER, encoding="utf-8")
    return base


def _store(results: Path):
    with reading_store(results) as db:
        manifest = Manifest.from_json(json.loads(manifest_from_store(db)))
        return manifest, settle.settled_sheets(db, manifest), student_results(db, manifest)


def _page_text(path: Path) -> list[str]:
    document = pdfium.PdfDocument(str(path))
    return [document[i].get_textpage().get_text_range() for i in range(len(document))]


def test_one_pdf_per_student_with_id_name_and_score(graded: Path, tmp_path: Path) -> None:
    result = annotate.write_annotated(graded / "results", tmp_path / "out", roster=graded / "名单.csv", workers=1)
    assert [p.name for p in result.files] == ["2026030001-张 三.pdf", "2026030002-李四.pdf"]
    assert result.unavailable == [] and result.pages == 2
    _, _, results = _store(graded / "results")
    for path, student in zip(result.files, results):
        (text,) = _page_text(path)  # one page: the sheet has one page
        assert student.student_id in text
        assert f"{student.total:g} / 60 分" in text
        assert ("暂定" in text) == (student.status == "待复核")
        assert "涂对" in text and "涂错" in text and "正确答案" in text  # the legend
    assert "张 三/../" in _page_text(result.files[0])[0] and "高三（1）班" in _page_text(result.files[0])[0]


def test_by_class_one_pdf_per_class_and_unclassed(graded: Path, tmp_path: Path) -> None:
    result = annotate.write_annotated(graded / "results", tmp_path / "out", roster=graded / "名单.csv", by_class=True, workers=1)
    assert sorted(p.name for p in result.files) == ["未分班.pdf", "高三(1)班.pdf"]  # NFKC: full-width brackets become ASCII
    for path in result.files:
        assert len(pdfium.PdfDocument(str(path))) == 1
    assert "2026030002" in _page_text(tmp_path / "out" / "未分班.pdf")[0]


def test_same_bytes_every_run_and_in_worker_processes(graded: Path, tmp_path: Path, monkeypatch) -> None:
    first = annotate.write_annotated(graded / "results", tmp_path / "a", workers=1)
    monkeypatch.setattr(annotate, "PARALLEL_FROM", 1)  # two students: drawn in two worker processes
    second = annotate.write_annotated(graded / "results", tmp_path / "b", workers=2)
    assert [p.read_bytes() for p in first.files] == [p.read_bytes() for p in second.files]


def _pixels_around(image: np.ndarray, point: tuple[float, float], radius: int = 6) -> np.ndarray:
    x, y = int(round(point[0])), int(round(point[1]))
    return image[y - radius:y + radius + 1, x - radius:x + radius + 1].reshape(-1, 3).astype(int)


def _outline_colour(image: np.ndarray, where: annotate.Placement, rect, height_px: int) -> np.ndarray:
    """The most saturated pixel near the middle of the top edge of a box's outline (RGB)."""
    x, y, w, _ = rect
    px, py = where.frame_to_pdf(x + w / 2, y - annotate.BOX_GROW_MM)
    pixels = _pixels_around(image, (px * RENDER_SCALE, height_px - py * RENDER_SCALE))
    saturation = pixels.max(axis=1) - pixels.min(axis=1)
    return pixels[int(np.argmax(saturation))]


def test_wrong_answer_red_and_missed_key_blue_at_their_boxes(graded: Path, tmp_path: Path) -> None:
    result = annotate.write_annotated(graded / "results", tmp_path / "out", workers=1)
    manifest, sheets, _ = _store(graded / "results")
    sheet = next(s for s in sheets if s.student_id == "2026030001")
    wrong = next(m for m in sheet.marks if m.score == 0 and m.letters and m.section == 0)  # a single choice, wrong
    key = manifest.variant(sheet.variant).items[wrong.number - 1].key
    assert key not in wrong.letters
    boxes = next(q for q in manifest.sheet.questions if q.number == wrong.number).boxes
    from papergen.bank.model import LETTERS

    page = pdfium.PdfDocument(str(result.files[0]))[0]
    image = page.render(scale=RENDER_SCALE, rev_byteorder=True).to_numpy()[:, :, :3]  # RGB
    height_px = image.shape[0]
    margin = annotate.MARGIN
    where = annotate.placement(manifest.sheet, margin, margin, annotate.PAGE_WIDTH - 2 * margin,
                               annotate.PAGE_HEIGHT - 2 * margin)
    r, g, b = _outline_colour(image, where, boxes[LETTERS.index(wrong.letters)], height_px)
    assert r > 150 and r - max(g, b) > 80, (r, g, b)  # red: the wrong mark
    r, g, b = _outline_colour(image, where, boxes[LETTERS.index(key)], height_px)
    assert b > 120 and b - max(r, g) > 60, (r, g, b)  # blue: the key, not marked
    right = next(m for m in sheet.marks if m.score and m.section == 0)
    r, g, b = _outline_colour(image, where, boxes_of(manifest, right.number)[LETTERS.index(right.letters)], height_px)
    assert g > 100 and g - max(r, b) > 50, (r, g, b)  # green: right


def boxes_of(manifest: Manifest, number: int):
    return next(q for q in manifest.sheet.questions if q.number == number).boxes


def test_a_scan_gone_is_named_and_exits_3(graded: Path, tmp_path: Path) -> None:
    base = tmp_path / "moved"
    shutil.copytree(graded / "scans", base / "scans")
    grade(SCANS / "exam.json", [base / "scans"], base / "results", workers=1)
    (base / "scans" / "sheet-0002.jpg").unlink()
    run = CliRunner().invoke(cli, ["annotate", str(base / "results"), "-o", str(base / "out")])
    assert run.exit_code == ExitCode.input_file, run.output
    assert "sheet-0002.jpg" in run.output and "无法显示" in run.output
    assert [p.name for p in (base / "out").iterdir()] == ["2026030001.pdf"]  # the other one is written


def test_feedback_with_sheet_adds_the_annotated_sheet_as_last_page(graded: Path, tmp_path: Path) -> None:
    base = ["feedback", str(graded / "results"), "--roster", str(graded / "名单.csv")]
    plain = CliRunner().invoke(cli, [*base, "-o", str(tmp_path / "plain")])
    with_sheet = CliRunner().invoke(cli, [*base, "-o", str(tmp_path / "sheet"), "--with-sheet"])
    assert plain.exit_code == 0 and with_sheet.exit_code == 0, with_sheet.output
    for name in ("2026030001-张 三.pdf", "2026030002-李四.pdf"):
        before = _page_text(tmp_path / "plain" / name)
        after = _page_text(tmp_path / "sheet" / name)
        assert len(after) == len(before) + 1
        assert "答题卡批阅" in after[-1] and name[:10] in after[-1] and "涂错" in after[-1]
        assert f"共 {len(after)} 页" in after[-1]  # numbered with the rest


def test_feedback_with_sheet_names_a_scan_gone_and_exits_3(graded: Path, tmp_path: Path) -> None:
    base = tmp_path / "moved"
    shutil.copytree(graded / "scans", base / "scans")
    grade(SCANS / "exam.json", [base / "scans"], base / "results", workers=1)
    (base / "scans" / "sheet-0001.jpg").unlink()
    run = CliRunner().invoke(cli, ["feedback", str(base / "results"), "-o", str(base / "out"), "--with-sheet"])
    assert run.exit_code == ExitCode.input_file, run.output
    assert "sheet-0001.jpg" in run.output
    assert sorted(p.name for p in (base / "out").iterdir()) == ["2026030001.pdf", "2026030002.pdf"]


def test_absent_sheets_get_none_and_a_settled_mark_is_orange(tmp_path: Path) -> None:
    from papergen.grade import store
    from papergen.sim.run import simulate

    simulate(SCANS / "exam.json", 4, tmp_path / "scans", seed=5, dpi=150, doubtful_rate=0.05, absent=1)
    grade(SCANS / "exam.json", [tmp_path / "scans"], tmp_path / "results", workers=1)
    manifest, sheets, results = _store(tmp_path / "results")
    absent = [s.student_id for s in sheets if s.absent]
    assert len(absent) == 1
    with reading_store(tmp_path / "results") as db:
        item = next(i for i in settle.review_queue(db, manifest) if i.kind == "mark")
    with store.deciding_store(tmp_path / "results") as db:
        settle.decide(db, manifest, item, grader="王老师", field="answer", new=item.key_letters)
    result = annotate.write_annotated(tmp_path / "results", tmp_path / "out", workers=1)
    assert len(result.files) == 3 and not any(p.name.startswith(absent[0]) for p in result.files)
    assert any(absent[0] in line and "缺考" in line for line in result.skipped)
    path = next(p for p in result.files if p.name.startswith(item.student_id))
    image = pdfium.PdfDocument(str(path))[0].render(scale=RENDER_SCALE, rev_byteorder=True).to_numpy()[:, :, :3]
    where = annotate.placement(manifest.sheet, annotate.MARGIN, annotate.MARGIN, annotate.PAGE_WIDTH - 2 * annotate.MARGIN,
                               annotate.PAGE_HEIGHT - 2 * annotate.MARGIN)
    x, y, w, _ = views.question_region(manifest.sheet, item.number, annotate.ROW_MARGIN_MM)
    px, py = where.frame_to_pdf(x + w / 2, y)
    pixels = _pixels_around(image, (px * RENDER_SCALE, image.shape[0] - py * RENDER_SCALE))
    r, g, b = pixels[int(np.argmax(pixels[:, 0] - pixels[:, 2]))]
    assert r > 200 and 80 < g < 200 and b < 90, (r, g, b)  # orange: settled by a person
