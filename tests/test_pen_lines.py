"""A pen over the answer area: a line drawn across a row is not the student's pencil.

A teacher's X across a row (marking it wrong before the sheets are graded) or a
row struck out passes through the paper on both sides of every box it crosses;
where its strokes cross a box they read as a light hand's fill. The reader
measures the line beside each box (``bubbles.line_through``) and reads such a
box only when a fill covers it evenly under the line; otherwise it flags the
question ``lined``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from papergen.exam.manifest import read_manifest
from papergen.grade import bubbles, reader
from papergen.grade.bubbles import Levels
from papergen.sim.marks import pen_over_rows
from tests.sheetfill import filled_sheet, key_answers, paint
from tests.simulated import graded_simulation

DPI = 200
LEVELS = Levels(240.0, 20.0, 0.0)


def _sides(rows=(), grey: float = 100.0, sides=(0, 1), paper: float = 240.0, h: int = 19) -> np.ndarray:
    """One box's ``side_paper``: (1, 2, h) of ``paper``, with ``rows`` at ``grey`` on the given sides."""
    side = np.full((1, 2, h), paper)
    for s in sides:
        side[0, s, list(rows)] = grey
    return side


def test_a_line_darkens_both_sides_of_a_box_and_spill_specks_or_shadow_do_not():
    line = bubbles.line_through(_sides(rows=(8, 9, 10)), LEVELS)
    assert line[0] == pytest.approx((240 - 100) / 220)
    # pencil spills over one edge of its box: the other side is paper
    assert bubbles.line_through(_sides(rows=range(3, 16), sides=(0,)), LEVELS)[0] == 0
    # a speck one row high on each side is not a line
    assert bubbles.line_through(_sides(rows=(9,)), LEVELS)[0] == 0
    # a shadow over the whole strip on both sides: each strip is measured against its own paper
    assert bubbles.line_through(_sides(rows=range(19), grey=170), LEVELS)[0] == 0
    # a shadow's edge across the strips, then a line in the shadow: only the line counts
    shaded = _sides(rows=range(10, 19), grey=200)
    shaded[0, :, 13:15] = 90
    assert bubbles.line_through(shaded, LEVELS)[0] == pytest.approx((240 - 90) / 220)
    assert bubbles.line_through(np.zeros((0, 2, 19)), LEVELS).shape == (0,)


# Two pen strokes crossing box B (darkness 0.46, most of it covered, its floor paper between the strokes) beside
# D, a clear fill the same line crosses: measured on a scan with such an X (tests/test_pen_lines.py's sheet).
CROSSED = dict(
    coverage=[0.07, 0.86, 0.0, 1.0, 0.0], whole=[0.24, 0.66, 0.0, 0.99, 0.0],
    film=[0.06, 0.49, 0.0, 0.64, 0.0], floor=[0.0, 0.22, 0.0, 0.62, 0.0],
)
CROSSED_DARKNESS = [0.03, 0.46, 0.02, 0.65, 0.01]


def test_under_a_line_only_an_even_fill_is_a_mark_and_the_rest_is_flagged():
    plain = bubbles.decide(CROSSED_DARKNESS, single=False, own=0.63, **CROSSED)
    assert (plain.outcome, plain.letters) == ("answer", "BD")  # what the X's crossing reads as, told nothing
    lined = [0.0, 0.55, 0.55, 0.55, 0.0]
    crossed = bubbles.decide(CROSSED_DARKNESS, single=False, own=0.63, lined=lined, **CROSSED)
    assert (crossed.outcome, crossed.reason, crossed.note) == ("flagged", "lined", "lined:B")
    # a line that only grazes the other boxes' interiors: the clear fill under it is read, nothing is flagged
    clean = dict(CROSSED, coverage=[0.07, 0.05, 0.0, 1.0, 0.0], whole=[0.24, 0.1, 0.0, 0.99, 0.0],
                 floor=[0.0, 0.0, 0.0, 0.62, 0.0])
    read = bubbles.decide([0.03, 0.04, 0.02, 0.65, 0.01], single=False, own=0.63, lined=lined, **clean)
    assert (read.outcome, read.letters) == ("answer", "D")
    # a line through an empty box is ink a person must tell from pencil under it: flagged, never residue
    empty = bubbles.decide([0.03, 0.16, 0.02, 0.65, 0.01], single=False, own=0.63, lined=lined,
                           **dict(clean, coverage=[0.07, 0.3, 0.0, 1.0, 0.0]))
    assert (empty.outcome, empty.reason, empty.note) == ("flagged", "lined", "lined:B")
    # on a black-and-white page the X's strokes are black: the floor (is nearly all of the box black?) still tells
    bw = dict(coverage=[1.0, 0.91, 0.81, 1.0, 0.0], whole=[0.95, 0.75, 0.65, 1.0, 0.0], floor=[0.97, 0.37, 0.11, 0.98, 0.0])
    assert bubbles.decide([1.0, 0.81, 0.74, 1.0, 0.0], single=False, binary=True, **bw).letters == "ABCD"
    inked = bubbles.decide([1.0, 0.81, 0.74, 1.0, 0.0], single=False, binary=True, lined=[0.98, 0.99, 0.99, 0.99, 0.0], **bw)
    assert (inked.outcome, inked.reason, inked.note) == ("flagged", "lined", "lined:BC")
    # a fold's crease is lighter than a pen: under LINE_THROUGH nothing changes
    creased = bubbles.decide(CROSSED_DARKNESS, single=False, own=0.63, lined=[0.25] * 5, **CROSSED)
    assert creased == plain


def test_a_line_across_a_row_is_not_taken_for_a_band_of_shading():
    n, h = 5, 19
    side = np.full((n, 2, h), 240.0)
    side[:, :, 8:11] = 90.0  # the line crosses every box's two sides
    measured = reader.Measurements(
        darkness=np.array(CROSSED_DARKNESS), coverage=np.array(CROSSED["coverage"]), whole=np.array(CROSSED["whole"]),
        levels=LEVELS, film=np.array(CROSSED["film"]), floor=np.array(CROSSED["floor"]),
        paper=np.full(n, 240.0), side=side,
    )
    assert measured.band.min() > 0.05  # band_shade alone reads the line as shading beside every box
    decided = measured.decide(slice(0, 5), single=False, own=0.63)
    assert (decided.outcome, decided.reason) == ("flagged", "lined")


@pytest.fixture(scope="module")
def exam(sample_exam_json) -> Path:
    return sample_exam_json.parent


def _scan(image: np.ndarray) -> np.ndarray:
    """A grey scan: paper 240, ink 20, a little blur and noise, JPEG."""
    rng = np.random.default_rng(5)
    grey = cv2.GaussianBlur(image.astype(float) * (220 / 255) + 20, (0, 0), 0.7)
    grey = np.clip(grey + rng.normal(0, 2, grey.shape), 0, 255).astype(np.uint8)
    return cv2.imdecode(cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 85])[1], cv2.IMREAD_GRAYSCALE)


def _pen(image: np.ndarray, manifest, start_mm, end_mm, grey: int = 60, width_mm: float = 0.6) -> None:
    """A pen stroke between two frame-mm points, drawn over paper and pencil alike."""
    k = DPI / 25.4
    ox, oy = manifest.sheet.origin
    a = tuple(int(round((ox + x) * k)) for x in (start_mm[0],)) + (int(round((oy + start_mm[1]) * k)),)
    b = tuple(int(round((ox + x) * k)) for x in (end_mm[0],)) + (int(round((oy + end_mm[1]) * k)),)
    ink = np.full_like(image, 255)
    cv2.line(ink, a, b, grey, max(1, int(round(width_mm * k))), cv2.LINE_AA)
    np.minimum(image, ink, out=image)


def _crossed_out(manifest, image: np.ndarray, number: int) -> None:
    """A teacher's X over question ``number``'s row, from before its first box to past its last."""
    row = next(q for q in manifest.sheet.questions_on(1) if q.number == number)
    (x0, y0, _, h), (x1, _, w1, _) = row.boxes[0], row.boxes[-1]
    left, right, top, bottom = x0 - 4, x1 + w1 + 1, y0 - 0.8, y0 + h + 0.8
    _pen(image, manifest, (left, top), (right, bottom))
    _pen(image, manifest, (left, bottom), (right, top))


def test_a_teachers_x_across_a_row_is_flagged_and_the_rest_of_the_sheet_read(exam, monkeypatch):
    manifest = read_manifest(exam / "exam.json")
    answers = key_answers(manifest, "A")
    sheet = filled_sheet(exam, manifest, student_id="2026030009", variant="A", answers={}, dpi=DPI)
    boxes = {q.number: q.boxes for q in manifest.sheet.questions_on(1)}
    for number, key in answers.items():  # a pencil's grey (0.55 dark), not a marker's black
        for letter in key:
            paint(sheet, manifest, boxes[number]["ABCDE".index(letter)], DPI, value=110)
    # multiple-choice rows with an empty middle box: the X's strokes cross there, and an extra mark is no flag
    multiple = {item.number for item in manifest.variant("A").items if manifest.questions[item.id].type == "multiple"}
    rows = [n for n, key in sorted(answers.items()) if n in multiple and not set("BC") <= set(key)][:3]
    assert len(rows) == 3
    for number in rows:
        _crossed_out(manifest, sheet, number)
    page = _scan(sheet)
    reading = reader.read_sheets(page, manifest)[0]
    assert reading.status == "read"
    flagged = {f.number: f for f in reading.flags}
    assert set(flagged) <= set(rows) and flagged, reading.flags
    for number, flag in flagged.items():
        assert flag.reason == "lined"
        assert "笔画穿过" in flag.message and flag.message.startswith(f"第 {number} 题 ")
    for question in reading.questions:
        if question.number not in flagged:
            assert question.letters == answers[question.number], question
    # told nothing about the line, the crossed rows read as more answers than the student gave
    monkeypatch.setattr(bubbles, "LINE_THROUGH", float("inf"))
    unaided = reader.read_sheets(page, manifest)[0]
    wrong = [q.number for q in unaided.questions if q.outcome == "answer" and q.letters != answers[q.number]]
    assert wrong and set(wrong) <= set(rows)


def test_pen_over_rows_draws_across_the_rows_it_names(sample_exam_json):
    manifest = read_manifest(sample_exam_json)
    blank = np.full((2339, 1654), 255, np.uint8)  # an A4 page at 200 dpi
    drawn, lines = None, ()
    for seed in range(10):  # a pen goes over most pages, not all
        drawn, lines = pen_over_rows(blank, manifest.sheet, 1, np.random.default_rng(seed), 200.0)
        if lines:
            break
    assert lines and drawn is not None
    for line in lines:
        (x0, y0), (x1, y1) = line.start, line.end
        middle = drawn[int(round((y0 + y1) / 2)), int(round((x0 + x1) / 2))]
        assert middle < 200  # ink where the stroke runs
    assert (blank == 255).all()  # the page handed in is left as it was


def test_pen_pages_are_read_with_no_silent_error(tmp_path, sample_exam_json):
    report = graded_simulation(sample_exam_json, tmp_path, 8, seed=21, degrade="pen")
    with open(tmp_path / "scans" / "truth.csv", encoding="utf-8-sig") as handle:
        journeys = [row["journey"] for row in csv.DictReader(handle)]
    assert sum(j.startswith("pen:") for j in journeys) >= 3
    assert report.silent_errors == 0, report.details


def test_where_an_xs_thick_strokes_cross_a_box_it_is_flagged_not_read_as_a_fill():
    """Measured on a simulated pen page (seed 19, 30 questions, sheet-0059, question 27): a thick X (0.8 mm) whose
    strokes meet beside box B, over a student's C, D (light) and E. Box B holds only the strokes, converging: 0.56
    dark, 91 % covered, and the darkness 80 % of it reaches is 0.69 of its mean — a clear fill's is 0.85–0.95. At
    ``LINED_FLOOR`` 0.6 it read BCDE with no flag."""
    darkness = [0.108, 0.565, 0.7, 0.703, 0.567]
    measured = dict(
        coverage=[0.169, 0.908, 1.0, 1.0, 0.923], whole=[0.355, 0.832, 0.967, 0.952, 0.878],
        floor=[0.0, 0.39, 0.62, 0.605, 0.531], film=[0.12, 0.601, 0.678, 0.7, 0.609],
        shaded=[0.029, 0.0, 0.004, 0.0, 0.017], crossed=[1.0, 0.0, 0.0, 0.0, 0.0], crease=[0.089, 0.0, 0.0, 0.0, 0.0],
        stroke=[0.0] * 5, rise=[0.0] * 5, off_letter=[2.06, 4.61, 6.44, 6.22, 5.44], unprinted=[0.044, 0.0, 0.0, 0.0, 0.0],
    )
    lined = [0.68, 0.779, 0.779, 0.75, 0.754]
    assert bubbles.decide(darkness, single=False, own=0.537, **measured).letters == "BCDE"  # told nothing of the line
    decided = bubbles.decide(darkness, single=False, own=0.537, lined=lined, **measured)
    assert (decided.outcome, decided.reason, decided.note) == ("flagged", "lined", "lined:B")
    # the same boxes with B left clean: C, D and E are even enough under the line to be read, A's stroke ends ignored
    clean = {key: [0.0 if i == 1 else v for i, v in enumerate(values)] for key, values in measured.items()}
    read = bubbles.decide([0.108, 0.02, 0.7, 0.703, 0.567], single=False, own=0.537, lined=lined, **clean)
    assert (read.outcome, read.letters) == ("answer", "CDE")
