"""The harder simulator levels (a messy hand; copier, fold, fax, phone, shadow) and what the grader makes of them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from papergen.exam.manifest import read_manifest
from papergen.grade import bubbles, reader
from papergen.grade.registration import PX_PER_MM, register
from papergen.sim import journeys, marks
from papergen.sim import run as sim
from tests.simulated import graded_simulation


@pytest.fixture(scope="module")
def exam(sample_exam_json):
    return sample_exam_json


def test_hard_levels_are_levels_of_their_own(exam, tmp_path):
    assert set(sim.HARD_LEVELS) <= set(sim.DEGRADE_LEVELS)
    assert sim.DEGRADE_LEVELS[:5] == ("none", "scan", "photo", "harsh", "cut")  # the pinned levels stay first
    for level in ("fax", "copier", "fold"):
        result = sim.simulate(exam, 1, tmp_path / level, seed=4, degrade=level, fmt="png", dpi=100)
        image = cv2.imread(str(result.files[0]), cv2.IMREAD_UNCHANGED)
        assert image.ndim == 2
        if level == "fax":
            assert set(np.unique(image)) <= {0, 255}  # 1-bit


def test_a_shadow_band_darkens_a_stripe_of_the_photo():
    rng = np.random.default_rng(3)
    flat = np.full((400, 300, 3), 200, np.uint8)
    shaded = journeys.shadow_band(flat, rng)
    levels = shaded[..., 0].astype(float)
    assert levels.max() >= 199 and levels.min() <= 200 * (1 - journeys.SHADOW_DEPTH[0]) + 2


def test_a_crease_is_a_thin_dark_line_with_shading():
    page = np.full((300, 200), 250, np.uint8)
    creased = journeys.crease(page, np.random.default_rng(1), px_per_mm=4.0, horizontal=True, at=0.5)
    column = creased[:, 100].astype(float)
    darkest = int(np.argmin(column))
    assert 140 <= darkest <= 160 and column[darkest] <= 250 * (1 - journeys.CREASE_LINE[0]) + 2
    assert column[:60].min() >= 245 and column[240:].min() >= 245  # far from the fold the paper is (nearly) untouched


def _ticked_page(exam, hand: str, seed: int, tone: float = 0.85):
    """One box in each of the first 20 questions ticked (labels in turn, so each label's empty boxes stay
    the many), on a clean raster at 300 dpi; measured."""
    manifest = read_manifest(exam)
    geometry = manifest.sheet
    page = sim.rasterize_sheet(exam.parent / sim.SHEET_PDF, 300)[0]
    rng = np.random.default_rng(seed)
    boxes = [q.boxes[n % 4] for n, q in enumerate(geometry.questions_on(1)[:20])]
    for rect in boxes:
        marks.draw_mark(page, marks.rect_to_px(rect, geometry, 300), "tick", rng, px_per_mm=300 / 25.4, tone=tone, hand=hand)
    registration = register(page, geometry)
    canonical = reader.canonical_page(page, registration, geometry, PX_PER_MM)
    table = geometry.box_table(1)
    measured = reader.measure(canonical, table, geometry, PX_PER_MM)
    ticked = [i for i, rect in enumerate(table.rects) if rect in boxes]
    return measured, ticked


def test_thin_ticks_fall_under_the_old_limits_and_are_flagged_now(exam):
    """Issue 12 §2: a fine, light tick averages to almost nothing, yet a person sees it."""
    measured, ticked = _ticked_page(exam, "messy", seed=5, tone=0.66)  # the lightest hand in the cohort
    under = [i for i in ticked if measured.darkness[i] <= bubbles.EMPTY and measured.coverage[i] <= bubbles.COVERED]
    assert len(under) >= 3, "the messy hand draws ticks just under the empty-box limits"
    for i in ticked:
        alone = [measured.darkness[i], 0.0, 0.0, 0.0]
        cover = [measured.coverage[i], 0.0, 0.0, 0.0]
        if i in under:  # the old decision, without the stroke, read these as blank
            assert bubbles.decide(alone, single=True, coverage=cover).outcome == "blank"
        stroke = [measured.stroke[i], 0.0, 0.0, 0.0]
        assert bubbles.decide(alone, single=True, coverage=cover, stroke=stroke).outcome == "flagged", i
    others = np.setdiff1d(np.arange(len(measured.stroke)), ticked)
    assert measured.stroke[others].max() < bubbles.STROKE_SPAN  # no stroke where nothing was drawn


def test_neat_ticks_are_still_flagged_by_their_darkness(exam):
    measured, ticked = _ticked_page(exam, "neat", seed=6)
    assert all(measured.darkness[i] > bubbles.EMPTY or measured.coverage[i] > bubbles.COVERED for i in ticked)


def test_messy_scans_have_no_silent_errors_and_every_tick_flagged(exam, tmp_path):
    report = graded_simulation(exam, tmp_path, 6, seed=12, degrade="scan-messy", dpi=200, doubtful_rate=0.15)
    assert report.deliberate >= 15
    assert report.silent_errors == 0, report.details
    assert report.deliberate_flagged == report.deliberate


# -- marks a black-and-white device erased ---------------------------------------------


class _ThresholdDevice(sim._Run):
    """A 1-bit device with no randomness: every pixel darker than mid-grey turns black."""

    def __init__(self) -> None:  # only what erased_by_device uses
        self.seed = 0

    def deliver(self, image, rng):
        return journeys.Delivered(np.where(image < 128, 0, 255).astype(np.uint8), 25.4 * 6, binary=True)


def test_a_mark_the_device_left_no_trace_of_is_recorded_as_erased():
    blank = np.full((60, 120), 250, np.uint8)
    marked = blank.copy()
    traces = []
    for number, tone, x0 in ((3, 0.3, 10), (4, 0.9, 60)):  # a light tick and a dark one
        alpha = np.zeros((20, 30), np.float32)
        cv2.line(alpha, (3, 10), (10, 17), tone, 1)
        cv2.line(alpha, (10, 17), (27, 2), tone, 1)
        marks.apply_graphite(marked, alpha, x0, 20)
        traces.append(marks.DoubtfulTrace(number, alpha, x0, 20))
    device = _ThresholdDevice()
    page = device.deliver(marked, None)
    assert not (page.image[:, :50] == 0).any() and (page.image[:, 50:] == 0).sum() > 20
    assert device.erased_by_device(blank, marked, page, traces, sheet=1, number=1) == (3,)
    # a tick whose fragments survive only in part is still there for a person to see
    faint = [marks.DoubtfulTrace(4, traces[1].alpha * (np.arange(30) % 2 == 0), 60, 20)]
    marked_faint = blank.copy()
    marks.apply_graphite(marked_faint, faint[0].alpha, 60, 20)
    assert device.erased_by_device(blank, marked_faint, device.deliver(marked_faint, None), faint, 1, 1) == ()


def test_fax_truth_names_erased_doubtful_marks(exam, tmp_path):
    # every question doubtful, so some fine ticks meet the fax's threshold
    result = sim.simulate(exam, 4, tmp_path / "fax", seed=11, degrade="fax", doubtful_rate=1.0)
    erased = [row.erased for row in result.rows]
    ticks = {row.file: {int(p.split(":")[0]) for p in row.ambiguous.split(";") if p.endswith(":tick")} for row in result.rows}
    for row in result.rows:  # only doubtful ticks or faint marks are ever erased
        named = {int(n) for n in filter(None, row.erased.split(";"))}
        doubtful = {int(p.split(":")[0]) for p in row.ambiguous.split(";") if p.split(":")[1] in ("tick", "faint")}
        assert named <= doubtful
    assert any(erased) and not all(erased)  # at seed 11 two of the four pages lost some of their ticks
    assert any(ticks.values())


def _banded_page(exam, absent_mark: bool):
    """The clean sheet at 300 dpi with a sharp-edged shadow band (60 % light) over the 缺考 box and the
    first rows of questions, the 缺考 box pencilled or not; measured. Returns the measurements, table and
    the boxes under the band."""
    manifest = read_manifest(exam)
    geometry = manifest.sheet
    page = sim.rasterize_sheet(exam.parent / sim.SHEET_PDF, 300)[0]
    table = geometry.box_table(1)
    x, y, w, h = marks.rect_to_px(table.rects[table.absent][0], geometry, 300)
    if absent_mark:
        marks.draw_mark(page, (x, y, w, h), "fill", np.random.default_rng(2), px_per_mm=300 / 25.4)
    top, bottom = int(y - 60), int(y + 700)
    page[top:bottom] = (page[top:bottom] * 0.6).astype(np.uint8)
    registration = register(page, geometry)
    measured = reader.measure(reader.canonical_page(page, registration, geometry, PX_PER_MM), table, geometry, PX_PER_MM)
    under = [i for i, rect in enumerate(table.rects) if top < marks.rect_to_px(rect, geometry, 300)[1] < bottom - 40]
    return measured, table, under


def test_boxes_in_a_shadow_band_are_measured_against_the_paper_around_them(exam):
    measured, table, under = _banded_page(exam, absent_mark=False)
    assert len(under) >= 50
    # the band darkens the boxes and their surroundings alike: the page's paper says "unclear", the ring says empty
    assert measured.darkness[table.absent][0] > bubbles.EMPTY
    assert bubbles.decide_absent(float(measured.darkness[table.absent][0]), 0.0) == "unclear"
    assert measured.decide_lone(table.absent) == "empty"
    assert (measured.darkness - measured.shaded)[under].max() <= bubbles.EMPTY
    assert measured.coverage[under].max() <= bubbles.COVERED
    marked, table, _ = _banded_page(exam, absent_mark=True)
    assert marked.decide_lone(table.absent) == "marked"  # a real mark in the band is still read


def _folded_rows(exam, numbers: tuple[int, ...], fills: dict[int, str], crease: int = 0, ticks: dict[int, str] | None = None):
    """The clean sheet at 300 dpi with each question of ``numbers`` in a band of fold shading exactly its
    boxes' height, right across the page (the paper above and below the row is untouched, so the ring
    round each box, read at a bright percentile, does not see it) — or, with ``crease`` (a seed), the
    simulator's fold through the row instead (``journeys.crease``: its line and its shading) — ``fills`` pencilled (question → letters) and fine ``ticks`` drawn (question → letter); read.
    Returns the page's reading and its question readings by number."""
    manifest = read_manifest(exam)
    geometry = manifest.sheet
    page = sim.rasterize_sheet(exam.parent / sim.SHEET_PDF, 300)[0]
    table = geometry.box_table(1)
    rng = np.random.default_rng(5)
    for number, letters in fills.items():
        part = table.questions[table.numbers.index(number)]
        for letter in letters:
            rect = table.rects[part][ord(letter) - ord("A")]
            marks.draw_mark(page, marks.rect_to_px(rect, geometry, 300), "fill", rng, px_per_mm=300 / 25.4)
    for number in numbers:
        x, y, w, h = marks.rect_to_px(table.rects[table.questions[table.numbers.index(number)]][0], geometry, 300)
        if crease:  # the simulator's fold: its line a little below the middle of the row, its shading to one side
            page = journeys.crease(page, np.random.default_rng(crease), px_per_mm=300 / 25.4, horizontal=True,
                                   at=(y + 0.6 * h) / page.shape[0])
        else:
            page[int(y):int(y + h)] = (page[int(y):int(y + h)] * 0.87).astype(np.uint8)
    for number, letter in (ticks or {}).items():
        bx, by, bw, bh = marks.rect_to_px(table.rects[table.questions[table.numbers.index(number)]][ord(letter) - ord("A")], geometry, 300)
        points = np.array([(bx + 0.2 * bw, by + 0.5 * bh), (bx + 0.45 * bw, by + 0.9 * bh), (bx + 0.95 * bw, by + 0.05 * bh)])
        cv2.polylines(page, [np.round(points).astype(np.int32)], False, 150, 3, cv2.LINE_AA)
    [reading] = reader.read_sheets(page, manifest)
    return reading, {q.number: q for q in reading.questions}


def test_a_fold_band_across_a_row_of_empty_boxes_is_paper_not_pencil(exam):
    table = read_manifest(exam).sheet.box_table(1)
    first = table.numbers[0]
    reading, questions = _folded_rows(exam, (first,), {})
    assert reading.status == "read"
    # without the paper beside each box the band reads as a light mark in every box of the row (0.13 dark)
    lifted = np.asarray(questions[first].darkness)
    assert lifted.min() > bubbles.EMPTY
    assert (questions[first].outcome, questions[first].letters) == ("blank", "")


def test_a_crease_through_a_fold_band_is_not_a_stroke_but_a_tick_beside_it_is(exam):
    table = read_manifest(exam).sheet.box_table(1)
    first, second = table.numbers[0], table.numbers[1]
    reading, questions = _folded_rows(exam, (first, second), {}, crease=2, ticks={second: "C"})
    assert reading.status == "read" and not reading.binary  # a grey page: its shading is there to see
    assert (questions[first].outcome, questions[first].letters) == ("blank", "")
    assert questions[second].outcome == "flagged" and "C" in questions[second].note


def test_a_mark_in_a_fold_band_is_still_read(exam):
    table = read_manifest(exam).sheet.box_table(1)
    first = table.numbers[0]
    reading, questions = _folded_rows(exam, (first,), {first: "B"})
    assert (questions[first].outcome, questions[first].letters) == ("answer", "B")


def test_a_neighbours_spill_beside_a_light_mark_is_not_a_band_across_the_page(exam):
    """Pencil spilt from the fills on both sides of a light half-fill darkens the paper beside it as a
    band would; the half-fill is still flagged for a person (its other boxes have clean paper beside
    them, so nothing is taken from its darkness, and its pencil-dark coverage is its own)."""
    manifest = read_manifest(exam)
    geometry = manifest.sheet
    table = geometry.box_table(1)
    page = sim.rasterize_sheet(exam.parent / sim.SHEET_PDF, 300)[0]
    k = next(k for k, section in enumerate(table.sections) if manifest.sections[section].type == "multiple")
    number = table.numbers[k]
    rects = [marks.rect_to_px(rect, geometry, 300) for rect in table.rects[table.questions[k]]]
    rng = np.random.default_rng(8)
    for k in (0, 2):
        marks.draw_mark(page, rects[k], "fill", rng, px_per_mm=300 / 25.4)
    (ax, ay, aw, ah), (bx, by, bw, bh), (cx, _, _, _) = rects[:3]
    # the spill: graphite over the paper between A and B and between B and C, the height of the boxes
    for x0, x1 in ((ax + aw, bx), (bx + bw, cx)):
        page[int(by):int(by + bh), int(x0):int(x1) + 1] = (page[int(by):int(by + bh), int(x0):int(x1) + 1] * 0.82).astype(np.uint8)
    alpha = np.zeros((int(bh), int(bw)), np.float32)
    alpha[: int(bh * 0.6), : int(bw * 0.6)] = 0.33  # a light half-fill: the kind a person must look at
    marks.apply_graphite(page, alpha, int(bx), int(by))
    [reading] = reader.read_sheets(page, manifest)
    question = {q.number: q for q in reading.questions}[number]
    assert question.outcome == "flagged" and "B" in question.note
