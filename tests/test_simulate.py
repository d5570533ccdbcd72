"""`papergen simulate`: filled, degraded answer sheets and their truth.csv."""

from __future__ import annotations

import csv
import dataclasses
import shutil
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner

from papergen.bank.model import LETTERS
from papergen.cli import cli
from papergen.core.errors import ExitCode
from papergen.exam.manifest import read_manifest, write_manifest
from papergen.render.sheet import render_sheets
from papergen.sheet.code import SheetCode
from papergen.sim import cohort, journeys, marks, output
from papergen.sim import run as sim

FIXED_COLUMNS = ["file", "page", "sheet_page", "student_id", "variant", "absent", "violation", "rotation", "ambiguous"]


@pytest.fixture(scope="module")
def exam(sample_exam_json) -> Path:
    return sample_exam_json


@pytest.fixture(scope="module")
def manifest(exam):
    return read_manifest(exam)


@pytest.fixture(scope="module")
def clean_run(exam, tmp_path_factory):
    """Five clean sheets at 150 dpi with one absence, one duplicated id and many doubtful marks."""
    out = tmp_path_factory.mktemp("clean")
    result = sim.simulate(exam, 5, out, seed=7, degrade="none", dpi=150, absent=1, duplicate_ids=1, doubtful_rate=0.08)
    return result, read_truth(result.truth)


def read_truth(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "truth.csv must start with a UTF-8 BOM (Excel)"
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def interior_darkness(image: np.ndarray, rect_px, inset: float = 0.25) -> float:
    """Mean darkness (0 paper … 1 black) of the middle of a box."""
    x, y, w, h = rect_px
    r0, r1 = int(round(y + h * inset)), int(round(y + h * (1 - inset)))
    c0, c1 = int(round(x + w * inset)), int(round(x + w * (1 - inset)))
    return 1.0 - float(image[r0:r1, c0:c1].mean()) / 255.0


# -- the run as a whole ------------------------------------------------------------


def test_files_and_truth_rows(clean_run, manifest):
    result, rows = clean_run
    assert [p.name for p in result.files] == [f"sheet-{i:04d}.jpg" for i in range(1, 6)]
    assert all(p.is_file() for p in result.files)
    assert len(rows) == 5 == result.pages
    numbers = [str(q.number) for q in manifest.sheet.questions]
    assert list(rows[0]) == FIXED_COLUMNS + numbers + ["journey", "erased"]  # new columns last: positions stay
    assert {r["journey"] for r in rows} == {""}  # a clean raster loses no corner square
    assert {r["erased"] for r in rows} == {""}  # only a black-and-white device erases a mark
    assert [r["file"] for r in rows] == [p.name for p in result.files]
    assert {r["page"] for r in rows} == {"1"} and {r["sheet_page"] for r in rows} == {"1"}


def test_student_ids_absent_and_duplicates_in_truth(clean_run, manifest):
    _, rows = clean_run
    digits = manifest.sheet.id_digits
    assert all(len(r["student_id"]) == digits and r["student_id"].isdigit() for r in rows)
    assert all(r["student_id"].startswith("202603") for r in rows)  # from the exam id 2026-mock-03
    absent = [r for r in rows if r["absent"] == "1"]
    assert len(absent) == 1
    assert absent[0]["variant"] == "" and all(absent[0][str(q.number)] == "" for q in manifest.sheet.questions)
    ids = [r["student_id"] for r in rows]
    assert len(set(ids)) == len(ids) - 1  # exactly one sheet reuses another's 准考证号
    present = [r for r in rows if r["absent"] == "0"]
    assert {r["variant"] for r in present} <= {v.name for v in manifest.variants}
    assert all(r["rotation"] == "0" for r in rows)


def test_ambiguous_cells_name_question_and_reason(clean_run, manifest):
    _, rows = clean_run
    seen = []
    for row in rows:
        for entry in filter(None, row["ambiguous"].split(";")):
            number, reason = entry.split(":")
            assert reason in ("two-marks", "faint", "tick")
            assert row[number] != ""  # what was drawn is recorded
            if reason == "two-marks":
                assert len(row[number]) == 2
            seen.append(reason)
    assert seen, "a doubtful rate of 8 % on 4 × 45 questions must produce doubtful cases"


def test_marked_boxes_are_much_darker_than_the_rest(clean_run, manifest):
    """Measured at the geometry's own rectangles: checks the mm → pixel mapping too."""
    result, rows = clean_run
    g = manifest.sheet
    marked, unmarked, id_marked, id_unmarked = [], [], [], []
    for row, path in zip(rows, result.files):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        dark = lambda rect: interior_darkness(image, marks.rect_to_px(rect, g, 150))  # noqa: E731
        for column, digit in zip(g.header.id_grid, row["student_id"]):
            for d, rect in enumerate(column):
                (id_marked if d == int(digit) else id_unmarked).append(dark(rect))
        assert (dark(g.header.absent) > 0.45) == (row["absent"] == "1")
        if row["variant"]:
            for name, rect in zip(g.variants, g.header.variant_row):
                (id_marked if name == row["variant"] else id_unmarked).append(dark(rect))
        doubtful = {entry.split(":")[0] for entry in row["ambiguous"].split(";") if entry}
        for q in g.questions:
            if str(q.number) in doubtful:
                continue
            for letter, rect in zip(LETTERS, q.boxes):
                (marked if letter in row[str(q.number)] else unmarked).append(dark(rect))
    assert len(marked) > 100 and len(id_marked) == 5 * g.id_digits + 4
    assert min(marked) > 0.45, "every real mark is clearly dark"
    assert max(unmarked) < 0.25, "empty boxes, erasure residue and stray dots stay light"
    assert np.mean(marked) - np.mean(unmarked) > 0.5
    assert min(id_marked) > 0.45 and max(id_unmarked) < 0.25


def test_qr_code_still_decodes_on_a_clean_sheet(clean_run, manifest):
    result, _ = clean_run
    image = cv2.imread(str(result.files[0]), cv2.IMREAD_GRAYSCALE)
    x, y, w, h = marks.rect_to_px(manifest.sheet.header.qr, manifest.sheet, 150)
    margin = 20
    crop = image[int(y) - margin:int(y + h) + margin, int(x) - margin:int(x + w) + margin]
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))
    code = SheetCode.decode(text)
    assert code.exam == manifest.exam and code.page == 1


def test_same_seed_gives_identical_truth_and_pages(exam, tmp_path):
    first = sim.simulate(exam, 3, tmp_path / "a", seed=11, degrade="scan", dpi=72, doubtful_rate=0.05)
    second = sim.simulate(exam, 3, tmp_path / "b", seed=11, degrade="scan", dpi=72, doubtful_rate=0.05)
    other = sim.simulate(exam, 3, tmp_path / "c", seed=12, degrade="scan", dpi=72, doubtful_rate=0.05)
    assert first.truth.read_bytes() == second.truth.read_bytes()
    assert [p.read_bytes() for p in first.files] == [p.read_bytes() for p in second.files]
    assert first.truth.read_bytes() != other.truth.read_bytes()


def test_answers_do_not_depend_on_the_device(exam, tmp_path):
    clean = read_truth(sim.simulate(exam, 3, tmp_path / "a", seed=4, degrade="none", dpi=72).truth)
    harsh = read_truth(sim.simulate(exam, 3, tmp_path / "b", seed=4, degrade="harsh", dpi=72).truth)
    drop = ("rotation", "journey")
    assert [{k: v for k, v in r.items() if k not in drop} for r in clean] == [
        {k: v for k, v in r.items() if k not in drop} for r in harsh
    ]


# -- devices -------------------------------------------------------------------------


def test_harsh_pages_are_turned_as_truth_says(exam, manifest, tmp_path):
    result = sim.simulate(exam, 8, tmp_path, seed=3, degrade="harsh", dpi=100)
    rows = read_truth(result.truth)
    rotations = {int(r["rotation"]) for r in rows}
    assert rotations <= {0, 90, 180, 270}
    assert rotations & {90, 270} and 180 in rotations
    g = manifest.sheet
    for row, path in zip(rows, result.files):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        middling = np.mean((image > 60) & (image < 195))
        assert middling < 0.05  # black and white, give or take JPEG ringing at the edges
        h, w = image.shape
        assert (w > h) == (int(row["rotation"]) in (90, 270))
        upright = journeys.rotate_clockwise(image, (360 - int(row["rotation"])) % 360)
        # the QR code is top right on an upright page; the opposite corner is blank paper
        x, y, qw, qh = marks.rect_to_px(g.header.qr, g, 100)
        H, W = upright.shape
        qr_ink = 1 - upright[int(y):int(y + qh), int(x):int(x + qw)].mean() / 255
        mirror_ink = 1 - upright[H - int(y + qh):H - int(y), W - int(x + qw):W - int(x)].mean() / 255
        assert qr_ink > mirror_ink + 0.15, row["file"]


def test_scan_pages_are_skewed_grey_or_black_and_white(exam, tmp_path):
    result = sim.simulate(exam, 6, tmp_path, seed=2, degrade="scan")
    for path in result.files:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert image.ndim == 2
        # 150–300 dpi of an A4 page plus the scanner bed's margin
        assert 1240 - 10 < image.shape[1] < 2480 + 120
    sizes = {cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).shape for p in result.files}
    assert len(sizes) > 1, "each sheet is scanned at its own resolution"


def test_photo_is_a_colour_camera_frame(exam, tmp_path):
    result = sim.simulate(exam, 1, tmp_path, seed=1, degrade="photo", dpi=100)
    image = cv2.imread(str(result.files[0]), cv2.IMREAD_UNCHANGED)
    h, w = image.shape[:2]
    assert image.ndim == 3 and 8e6 <= h * w <= 12.5e6 and h > w
    b, g, r = (image[..., c].astype(float).mean() for c in range(3))
    assert max(b, g, r) - min(b, g, r) > 3  # not grey: lighting and desk have colour


def test_pdf_format_is_one_multi_page_scan(exam, tmp_path):
    result = sim.simulate(exam, 3, tmp_path, seed=5, degrade="scan", fmt="pdf", dpi=100)
    assert [p.name for p in result.files] == ["scans.pdf"]
    document = pdfium.PdfDocument(str(result.files[0]))
    try:
        assert len(document) == 3
        width, height = document[0].get_size()
        assert 200 < width / 72 * 25.4 < 230 and 290 < height / 72 * 25.4 < 320  # A4 on the scanner bed
        assert document[0].render(scale=0.5, grayscale=True).to_numpy().mean() > 150
    finally:
        document.close()
    rows = read_truth(result.truth)
    assert [(r["file"], r["page"]) for r in rows] == [("scans.pdf", "1"), ("scans.pdf", "2"), ("scans.pdf", "3")]


def test_png_and_a_smaller_rerun_leave_no_stale_sheets(exam, tmp_path):
    sim.simulate(exam, 3, tmp_path, degrade="none", fmt="png", dpi=60)
    assert sorted(p.name for p in tmp_path.glob("sheet-*")) == [f"sheet-000{i}.png" for i in (1, 2, 3)]
    sim.simulate(exam, 2, tmp_path, degrade="none", fmt="pdf", dpi=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scans.pdf", "truth.csv"]


def test_multi_page_sheets_give_one_image_per_page(manifest, exam, tmp_path):
    g = manifest.sheet
    questions = tuple(dataclasses.replace(q, page=2) if q.number > 30 else q for q in g.questions)
    two_pages = dataclasses.replace(manifest, sheet=dataclasses.replace(g, pages=2, questions=questions)).with_fingerprint()
    folder = tmp_path / "exam"
    folder.mkdir()
    write_manifest(two_pages, folder / "exam.json")
    render_sheets(two_pages.sheet, folder / "sheet.pdf", exam_id=manifest.exam, build=two_pages.build, title=manifest.title)
    result = sim.simulate(folder / "exam.json", 2, tmp_path / "out", degrade="none", dpi=60)
    assert [p.name for p in result.files] == ["sheet-0001-1.jpg", "sheet-0001-2.jpg", "sheet-0002-1.jpg", "sheet-0002-2.jpg"]
    rows = read_truth(result.truth)
    assert [r["sheet_page"] for r in rows] == ["1", "2", "1", "2"]
    assert rows[0]["student_id"] == rows[1]["student_id"]
    assert all(r["31"] == "" for r in rows if r["sheet_page"] == "1")
    assert all(r["1"] == "" for r in rows if r["sheet_page"] == "2")
    assert any(r["31"] for r in rows if r["sheet_page"] == "2")


# -- the cohort ----------------------------------------------------------------------


def test_student_ids_have_exactly_the_sheets_digits():
    ids = cohort.student_ids(12000, "2026-mock-03", 10)
    assert ids[0] == "2026000001" and ids[-1] == "2026012000"
    assert all(len(i) == 10 for i in ids) and len(set(ids)) == len(ids)
    assert cohort.student_ids(3, "mock", 6) == ["900001", "900002", "900003"]
    with pytest.raises(cohort.SimulateOptionError):
        cohort.student_ids(100, "x", 2)


def test_cohort_answers_have_a_topic_and_difficulty_pattern(manifest):
    students = cohort.make_cohort(manifest, 400, seed=9)
    by_topic: dict[str, list[bool]] = {}
    by_difficulty: dict[int, list[bool]] = {}
    blanks = total = 0
    for student in students:
        variant = manifest.variant(student.variant)
        for response, item in zip(cohort.answer_sheet(manifest, student, 9, 0.0), variant.items):
            q = manifest.questions[item.id]
            right = response.letters == item.key
            by_topic.setdefault(cohort.top_topic(q.topic), []).append(right)
            by_difficulty.setdefault(q.difficulty, []).append(right)
            blanks += response.letters == ""
            total += 1
    rates = {t: np.mean(v) for t, v in by_topic.items() if len(v) > 800}
    assert max(rates.values()) - min(rates.values()) > 0.1, rates
    easy, hard = min(by_difficulty), max(by_difficulty)
    assert np.mean(by_difficulty[easy]) > np.mean(by_difficulty[hard]) + 0.1
    assert 0.01 < blanks / total < 0.04
    assert {s.variant for s in students} == {v.name for v in manifest.variants}


# -- marks ---------------------------------------------------------------------------


@pytest.mark.parametrize("dpi", [100, 200, 300])
def test_mark_kinds_are_told_apart_by_darkness(dpi):
    ppm = dpi / 25.4
    box = (40.0, 40.0, 5.2 * ppm, 3.2 * ppm)  # a sheet box
    rng = np.random.default_rng(dpi)
    measured: dict[str, list[float]] = {}
    for kind in marks.MARK_KINDS:
        for _ in range(60):
            page = np.full((int(80 + 10 * ppm), int(80 + 10 * ppm)), 255, np.uint8)
            marks.draw_mark(page, box, kind, rng, px_per_mm=ppm, tone=0.66)  # the lightest hand
            measured.setdefault(kind, []).append(interior_darkness(page, box, inset=0.18))
    lo, hi = min, max
    assert lo(measured["fill"]) > 0.45 and lo(measured["light"]) > 0.45
    assert hi(measured["residue"]) < 0.15
    assert hi(measured["dot"]) < 0.02  # never inside the box's core
    assert 0.12 < lo(measured["faint"]) and hi(measured["faint"]) < 0.4
    assert hi(measured["tick"]) < 0.45


def test_draw_mark_clips_at_the_page_edge():
    page = np.full((20, 20), 255, np.uint8)
    marks.draw_mark(page, (-5.0, -5.0, 20.0, 12.0), "fill", np.random.default_rng(0), px_per_mm=4.0)
    assert page[:3, :10].mean() < 128 and page.shape == (20, 20)


def test_jfif_header_carries_the_resolution():
    page = journeys.Delivered(np.full((10, 10), 200, np.uint8), 237, quality=80)
    data = output.encode_image(page, "jpg")
    assert data[13] == 1 and int.from_bytes(data[14:16], "big") == 237 == int.from_bytes(data[16:18], "big")


# -- the command ---------------------------------------------------------------------


def test_cli_simulate(exam, tmp_path):
    out = tmp_path / "scans"
    result = CliRunner().invoke(
        cli, ["simulate", str(exam), "-n", "2", "-o", str(out), "--degrade", "none", "--dpi", "60", "--absent", "1"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "2 张答题卡" in result.output and "缺考 1" in result.output
    assert (out / "sheet-0002.jpg").is_file() and (out / "truth.csv").is_file()


def test_cli_refuses_impossible_counts_and_missing_sheet(exam, tmp_path):
    result = CliRunner().invoke(cli, ["simulate", str(exam), "-n", "2", "-o", str(tmp_path), "--absent", "1",
                                      "--duplicate-ids", "1"])
    assert result.exit_code == ExitCode.usage and "重复准考证号" in result.output
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    shutil.copy(exam, lonely / "exam.json")
    result = CliRunner().invoke(cli, ["simulate", str(lonely / "exam.json"), "-n", "1", "-o", str(tmp_path / "o")])
    assert result.exit_code == ExitCode.input_file and "sheet.pdf" in result.output


def test_cli_choices_are_the_library_choices():
    command = cli.commands["simulate"]
    choices = {p.name: tuple(p.type.choices) for p in command.params if hasattr(p.type, "choices")}
    assert choices == {"degrade": sim.DEGRADE_LEVELS, "fmt": sim.FORMATS}
