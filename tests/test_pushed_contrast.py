"""A page whose contrast was pushed after the light fell on it (a scanner app's "enhance", a dark copy).

Raising the black point multiplies every darkness on the page: erasure
residue darkens into a light fill's grey and past ``MARKED``. The printed
letters darken with it, and they are printed in one grey on every sheet, so
the page says by how much.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from papergen.exam.manifest import read_manifest
from papergen.grade import bubbles, reader
from papergen.grade.bubbles import Levels
from papergen.sim import run as sim
from tests.sheetfill import filled_sheet, key_answers, paint
from tests.simulated import graded_simulation

LEVELS = Levels(240.0, 20.0, 0.0)


def _boxes(count: int, letter_grey: int) -> np.ndarray:
    """``count`` empty boxes' windows (15×25): paper 240, a printed letter (a ring) of ``letter_grey``."""
    patches = np.full((count, 15, 25), 240, np.uint8)
    for patch in patches:
        cv2.rectangle(patch, (9, 4), (15, 10), letter_grey, 1)
    return patches


def test_print_peak_is_how_dark_the_letters_read_and_only_darker_than_usual_is_a_gain():
    groups = np.repeat([0, 1], 12)
    usual = _boxes(24, 200)  # (240 - 200) / 220: 0.18 dark, as the letters read on unaltered scans
    peak = bubbles.print_peak(bubbles.label_templates(usual, groups), LEVELS)
    assert peak == pytest.approx(40 / 220)
    assert bubbles.contrast_gain(peak) == 1.0
    pushed = _boxes(24, 152)  # 0.4 dark: a raised black point darkened them
    peak = bubbles.print_peak(bubbles.label_templates(pushed, groups), LEVELS)
    assert peak == pytest.approx(88 / 220)
    assert bubbles.contrast_gain(peak) == pytest.approx(peak / bubbles.PRINT_PEAK_MAX)
    # labels on too few boxes to know their letter say nothing
    assert bubbles.print_peak(bubbles.label_templates(pushed[:8], np.zeros(8, int)), LEVELS) is None
    assert bubbles.contrast_gain(None) == 1.0


def test_easing_divides_darkness_below_the_paper_and_keeps_the_paper():
    pixels = np.array([[255, 250, 240, 140, 40, 0]], np.uint8)
    eased = bubbles.ease_contrast(pixels, 240.0, 2.0)
    assert eased.tolist() == [[255, 250, 240, 190, 140, 120]]


def test_on_a_pushed_page_no_lighter_fill_is_read_against_the_students_clipped_marks():
    # a faint fill over a little more than half the box beside two fills that clipped at black, eased back: as dark
    # and as spread as a light hand's fill
    values, whole = [0.75, 0.0, 0.43, 0.74, 0.0], [1.0, 0.0, 0.56, 0.85, 0.0]
    options = dict(single=False, whole=whole, coverage=[1.0, 0.0, 0.76, 1.0, 0.0], film=[0.76, 0.0, 0.42, 0.74, 0.0],
                   floor=[0.76, 0.0, 0.03, 0.57, 0.0], own=0.72)
    assert bubbles.decide(values, **options).letters == "ACD"  # a light hand's fill, on an unaltered page
    pushed = bubbles.decide(values, pushed=True, **options)
    assert (pushed.outcome, pushed.note) == ("flagged", "uncertain:C")


# -- a whole sheet -------------------------------------------------------------

DPI = 150


@pytest.fixture(scope="module")
def exam(sample_exam_json) -> Path:
    return sample_exam_json.parent


def _scan(image: np.ndarray, black_point: float = 0.0) -> np.ndarray:
    """A grey scan (paper 240, ink 20, a little blur and noise), its black point raised to ``black_point`` of white."""
    rng = np.random.default_rng(4)
    grey = cv2.GaussianBlur(image.astype(float) * (220 / 255) + 20, (0, 0), 0.7)
    grey = np.clip(grey + rng.normal(0, 2, grey.shape), 0, 255)
    grey = (grey - black_point * 240) / (1 - black_point)  # the app: paper stays 240, every darkness grows
    return cv2.imdecode(cv2.imencode(".jpg", np.clip(grey, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85])[1],
                        cv2.IMREAD_GRAYSCALE)


def _sheet_with_residue(exam: Path):
    """The key's answers filled, and beside question 3's fill a film of erasure residue over another box."""
    manifest = read_manifest(exam / "exam.json")
    answers = key_answers(manifest, "A")
    sheet = filled_sheet(exam, manifest, student_id="2026030009", variant="A", answers=answers, dpi=DPI)
    question = manifest.sheet.questions_on(1)[2]
    other = next(i for i, letter in enumerate("ABCD") if letter not in answers[3])
    paint(sheet, manifest, question.boxes[other], DPI, value=212)  # 0.17 dark: an eraser's film, rubbed hard
    return manifest, answers, sheet


def test_an_unaltered_scan_is_read_as_it_is(exam):
    manifest, answers, sheet = _sheet_with_residue(exam)
    reading = reader.read_sheets(_scan(sheet), manifest)[0]
    assert reading.status == "read" and reading.message == ""
    assert {q.number: q.letters for q in reading.questions} == answers


def test_a_page_whose_contrast_was_pushed_is_eased_back_and_says_so(exam, monkeypatch):
    manifest, answers, sheet = _sheet_with_residue(exam)
    page = _scan(sheet, black_point=0.45)  # the residue darkens past every residue rule's limit
    reading = reader.read_sheets(page, manifest)[0]
    assert reading.status == "read" and not reading.binary
    assert reading.message.startswith("页面的对比度被加深过")
    assert not reading.flags
    assert {q.number: q.letters for q in reading.questions} == answers
    # saved mirrored too (a phone's front camera): the page says both
    mirrored = reader.read_sheets(np.ascontiguousarray(page[:, ::-1]), manifest)[0]
    assert mirrored.message.startswith("页面的对比度被加深过")
    assert mirrored.message.endswith("；图像是镜像（左右翻转）的，已翻转后评阅")
    assert {q.number: q.letters for q in mirrored.questions} == answers
    # a half-fill on such a page is flagged, and its message says what the page went through
    half = sheet.copy()
    paint(half, manifest, manifest.sheet.questions_on(1)[9].boxes[3 if "D" not in answers[10] else 0], DPI, value=150, cover=0.5)
    flagged = reader.read_sheets(_scan(half, black_point=0.45), manifest)[0]
    assert [(f.number, f.reason) for f in flagged.flags] == [(10, "faint")]
    assert flagged.flags[0].message.endswith(reader.PUSHED_FAINT_HINT)
    # read as it came, the residue is a mark a person must look at
    monkeypatch.setattr(bubbles, "contrast_gain", lambda peak: 1.0)
    unaided = reader.read_sheets(page, manifest)[0]
    assert unaided.message == ""
    assert [(f.number, f.reason) for f in unaided.flags] == [(3, "faint")]


def test_the_app_journey_hands_over_a_whitened_grey_page(tmp_path, sample_exam_json):
    result = sim.simulate(sample_exam_json, 1, tmp_path / "app", seed=3, degrade="app")
    image = cv2.imread(str(result.files[0]), cv2.IMREAD_UNCHANGED)
    assert image.ndim == 2 and 1600 <= image.shape[1] <= 2600
    assert np.percentile(image, 60) >= 245  # the app divided the room's light out: the paper is white


def test_app_pages_are_read_with_no_silent_error_and_every_doubtful_mark_flagged(tmp_path, sample_exam_json):
    report = graded_simulation(sample_exam_json, tmp_path, 6, seed=12, degrade="app", doubtful_rate=0.15)
    assert report.deliberate >= 15
    assert report.silent_errors == 0, report.details
    assert report.deliberate_flagged == report.deliberate


def test_grade_names_the_pages_read_eased_in_its_summary(exam, tmp_path):
    from click.testing import CliRunner

    from papergen.cli import cli

    manifest, _, sheet = _sheet_with_residue(exam)
    pile = tmp_path / "pile"
    pile.mkdir()
    cv2.imwrite(str(pile / "plain.png"), _scan(sheet))
    cv2.imwrite(str(pile / "app.png"), _scan(sheet, black_point=0.45))
    result = CliRunner().invoke(cli, ["grade", str(exam / "exam.json"), str(pile), "-o", str(tmp_path / "res")])
    assert "读出 2 页" in result.output
    lines = result.output.splitlines()
    at = lines.index("页面说明（1 页）：")
    assert lines[at + 1].startswith(f"  {pile / 'app.png'} 第 1 页：页面的对比度被加深过")
    assert sum("页面的对比度被加深过" in line for line in lines) == 1  # the plain scan was read as it came


def test_a_scanner_apps_black_and_white_mode_is_refused_with_what_to_do(exam):
    # a local threshold over a neighbourhood smaller than a corner square leaves it (and each fill) a hollow outline
    manifest = read_manifest(exam / "exam.json")
    sheet = filled_sheet(exam, manifest, student_id="2026030009", variant="A", answers=key_answers(manifest, "A"), dpi=DPI)
    hollowed = cv2.adaptiveThreshold(_scan(sheet), 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 15, 10)
    reading = reader.read_sheets(hollowed, manifest)[0]
    assert reading.status in ("rejected", "not-a-sheet")  # its QR code hollowed too, the page is not known for a sheet
    assert reading.message.endswith(reader.HOLLOWED_HINT)
    # a grey page that is no sheet is not told about black-and-white modes
    blank = np.full_like(hollowed, 235)
    refused = reader.read_sheets(blank, manifest)[0]
    assert refused.status in ("not-a-sheet", "blank-page") and reader.HOLLOWED_HINT not in refused.message


def test_on_a_pushed_page_an_even_film_darker_than_usual_residue_is_erasure_and_a_gathered_one_is_not():
    """Measured on a simulated scanning-app page (seed 19, 100 questions, sheet-0017, question 13): eraser residue in B
    beside the student's D, pushed to 0.25 dark and half the interior pencil-dark — past ``FLOOR_RESIDUE_*`` — but
    still an even film: the darkness 80 % of it reaches is 0.76 of its mean. A faint half-fill there keeps under 0.41."""
    values = [0.0, 0.253, 0.0, 0.837]
    options = dict(
        single=True, valid=4, own=0.841, coverage=[0.0, 0.508, 0.0, 1.0], whole=[0.0, 0.372, 0.0, 0.992],
        film=[0.0, 0.259, 0.0, 0.811], floor=[0.0, 0.192, 0.0, 0.772], off_letter=[0.0, 0.0, 0.0, 7.028],
        stroke=[0.0] * 4, shaded=[0.0, 0.0, 0.0, 0.004],
    )
    pushed = bubbles.decide(values, pushed=True, **options)
    assert (pushed.outcome, pushed.letters, pushed.note) == ("answer", "D", "erasure")
    # the same film on a page nobody pushed is darker than residue comes out there: a person looks
    assert bubbles.decide(values, **options).outcome == "flagged"
    # pencil gathered in part of the box (a half-fill: its floor is the paper beside it) is never residue
    gathered = bubbles.decide(values, pushed=True, **dict(options, floor=[0.0, 0.05, 0.0, 0.772]))
    assert (gathered.outcome, gathered.note) == ("flagged", "uncertain:B")
    # nor is a film darker than PUSHED_FLOOR_RESIDUE_MAX
    dark = bubbles.decide([0.0, 0.4, 0.0, 0.837], pushed=True, **dict(options, floor=[0.0, 0.3, 0.0, 0.772]))
    assert dark.outcome == "flagged"
