"""A sheet printed light (toner saving, a worn cartridge, a duplicator's grey): its numbers are as grey as its squares.

The alignment check looks for each question's printed number where the frame
puts it. It looked for ink darker than a fixed grey; a light print's thin
digits fell short of it and right frames were refused as misaligned. The ink
level now follows the page's own printed black, its fiducial squares.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from papergen.exam.manifest import read_manifest
from papergen.grade import alignment, bubbles, reader
from tests.sheetfill import blank_sheet, filled_sheet, key_answers, paint
from tests.simulated import graded_simulation

DPI = 150
FAINT = (190, 0.5)  # a light half-fill: grey, share of the box width


def test_the_ink_level_follows_a_grey_printed_black_and_stays_put_on_a_black_one():
    assert alignment.ink_level(None) == alignment.INK_BELOW
    for black in (0.0, 20.0, 36.0):  # unaltered pages' fiducials on the flat-fielded page
        assert alignment.ink_level(black) == alignment.INK_BELOW
    assert alignment.ink_level(110.0) == pytest.approx(110 + 0.4 * 145)
    assert alignment.edge_level(20.0) == alignment.EDGE_SHOWS_AT
    assert alignment.edge_level(110.0) == pytest.approx(alignment.EDGE_SHOWS_AT * 145 / 215)


def test_a_light_prints_grey_squares_are_not_the_black_its_pencil_is_measured_against():
    means = np.full(50, 230.0)
    assert bubbles.estimate_levels(None, [30, 28, 33, 200], means, white=250).black == pytest.approx(30.333, abs=0.01)
    assert bubbles.is_light_print(bubbles.printed_black([112, 110, 115, 200]))
    light = bubbles.estimate_levels(None, [112, 110, 115, 200], means, white=250, light_print=True)
    assert light.black == bubbles.PRINTED_BLACK


def _light_scan(exam: Path, manifest, answers: dict[int, str], print_share: float, faint=None) -> np.ndarray:
    """The key's answers in pencil on a sheet whose print is ``print_share`` as dark, then scanned softly;
    ``faint``: a frame-mm box given a light half-fill besides."""
    blank = blank_sheet(exam, DPI)
    filled = filled_sheet(exam, manifest, student_id="2026030009", variant="A", answers=answers, dpi=DPI)
    if faint is not None:
        paint(filled, manifest, faint, DPI, value=FAINT[0], cover=FAINT[1])
    page = (255 - (255 - blank.astype(np.float32)) * print_share).round().astype(np.uint8)
    pencil = filled < blank
    page[pencil] = np.minimum(page[pencil], 70)  # the pencil is as dark as ever
    rng = np.random.default_rng(7)
    grey = cv2.GaussianBlur(page.astype(float) * (220 / 255) + 25, (0, 0), 0.9)
    grey = np.clip(grey + rng.normal(0, 2.5, grey.shape), 0, 255).astype(np.uint8)
    return cv2.imdecode(cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 75])[1], cv2.IMREAD_GRAYSCALE)


def test_a_light_print_is_read_through_its_right_frame(sample_exam_json, monkeypatch):
    exam = sample_exam_json.parent
    manifest = read_manifest(sample_exam_json)
    answers = key_answers(manifest, "A")
    page = _light_scan(exam, manifest, answers, 0.55)
    reading = reader.read_sheets(page, manifest)[0]
    assert reading.status == "read", reading.message
    assert reading.student_id == "2026030009" and reading.variant == "A"
    read = {q.number: q.letters for q in reading.questions if q.outcome != "flagged"}
    assert read and all(read[n] == answers[n] for n in read)
    assert reading.message.startswith("答题卡印得偏浅")
    # an ordinary print of the same sheet says nothing of the kind
    assert reader.read_sheets(_light_scan(exam, manifest, answers, 1.0), manifest)[0].message == ""
    # a light half-fill beside a multiple choice's marks is flagged, as on any page
    number = next(i.number for i in manifest.variant("A").items if manifest.questions[i.id].type == "multiple")
    question = next(q for q in manifest.sheet.questions_on(1) if q.number == number)
    other = next(i for i, letter in enumerate("ABCDE") if letter not in answers[number])
    half = _light_scan(exam, manifest, answers, 0.55, faint=question.boxes[other])
    faint = reader.read_sheets(half, manifest)[0]
    assert [(f.number, f.reason) for f in faint.flags] == [(number, "faint")]
    # measured against the grey squares, it read as one more answer, with no flag
    with monkeypatch.context() as patched:
        measured_as_before = bubbles.estimate_levels
        patched.setattr(bubbles, "estimate_levels", lambda *a, light_print=False, **k: measured_as_before(*a, **k))
        inflated = reader.read_sheets(half, manifest)[0]
    wrong = next(q for q in inflated.questions if q.number == number)
    assert (wrong.outcome, len(wrong.letters)) == ("answer", len(answers[number]) + 1)
    # at the fixed ink and edge levels the same page's right frame was refused
    monkeypatch.setattr(alignment, "ink_level", lambda black: float(alignment.INK_BELOW))
    monkeypatch.setattr(alignment, "edge_level", lambda black: float(alignment.EDGE_SHOWS_AT))
    refused = reader.read_sheets(page, manifest)[0]
    assert (refused.status, refused.reason) == ("rejected", "frame-misaligned")


def test_light_print_pages_are_read_with_no_silent_error(tmp_path, sample_exam_json):
    report = graded_simulation(sample_exam_json, tmp_path, 8, seed=31, degrade="light-print", doubtful_rate=0.1)
    assert report.silent_errors == 0, report.details
    assert report.deliberate_flagged == report.deliberate
    assert report.exact >= 4  # the light print itself is no reason to refuse or flag a page


def test_a_print_too_light_to_find_its_squares_is_refused_saying_so(sample_exam_json):
    exam = sample_exam_json.parent
    manifest = read_manifest(sample_exam_json)
    answers = key_answers(manifest, "A")
    faded = reader.read_sheets(_light_scan(exam, manifest, answers, 0.45), manifest)[0]
    assert (faded.status, faded.reason) == ("rejected", "unregistered-sheet")
    assert faded.message.endswith(reader.FADED_HINT)
    # a well-printed page that lost three of its squares is refused without that hint
    page = _light_scan(exam, manifest, answers, 1.0)
    s = manifest.sheet.fiducial_size
    k = DPI / 25.4
    ox, oy = manifest.sheet.origin
    for cx, cy in manifest.sheet.fiducial_centers()[:3]:
        x0, y0 = int((ox + cx - 0.6 * s) * k), int((oy + cy - 0.6 * s) * k)
        page[max(y0, 0):y0 + int(1.2 * s * k), max(x0, 0):x0 + int(1.2 * s * k)] = 245
    cut = reader.read_sheets(page, manifest)[0]
    assert (cut.status, cut.reason) == ("rejected", "unregistered-sheet"), cut.message
    assert not cut.message.endswith(reader.FADED_HINT)


@pytest.mark.parametrize("kind", ["row down", "pitch right", "half a block", "turned 180°"])
def test_a_wrong_frame_on_a_light_print_is_refused_all_the_same(sample_exam_json, kind):
    from papergen.grade.registration import register
    from tests.test_frame_alignment import wrong_frames

    exam = sample_exam_json.parent
    manifest = read_manifest(sample_exam_json)
    page = _light_scan(exam, manifest, key_answers(manifest, "A"), 0.6)
    right = register(page, manifest.sheet)
    assert reader.light_print_black(reader.sample_page(page, right, manifest.sheet, reader.PX_PER_MM), manifest.sheet, reader.PX_PER_MM) is not None
    wrong = wrong_frames(right, manifest.sheet)[kind]
    # moved, the frame's "squares" land off the printed ones: nothing there says the print is light (turned, they
    # land on the other corners' squares, and the eased levels still find no number where the frame puts one)
    light = reader.light_print_black(reader.sample_page(page, wrong, manifest.sheet, reader.PX_PER_MM), manifest.sheet, reader.PX_PER_MM)
    assert (light is None) == (kind != "turned 180°")
    reading = reader.read_registered(page, wrong, manifest)
    assert (reading.status, reading.reason) == ("rejected", "frame-misaligned")


def _without(page: np.ndarray, manifest, rects) -> np.ndarray:
    """``page`` with frame-mm rectangles (and 2 mm round them) painted paper."""
    page = page.copy()
    k = DPI / 25.4
    ox, oy = manifest.sheet.origin
    for x, y, w, h in rects:
        page[max(0, int((oy + y - 2) * k)):int((oy + y + h + 2) * k), max(0, int((ox + x - 2) * k)):int((ox + x + w + 2) * k)] = 245
    return page


def test_a_print_too_light_for_its_squares_and_code_is_not_called_just_no_sheet(sample_exam_json):
    from papergen.grade.registration import faint_squares

    exam = sample_exam_json.parent
    manifest = read_manifest(sample_exam_json)
    answers = key_answers(manifest, "A")
    qr = [manifest.sheet.header.qr]
    faded = _without(_light_scan(exam, manifest, answers, 0.4), manifest, qr)  # and its QR code unread
    reading = reader.read_sheets(faded, manifest)[0]
    assert reading.status == "not-a-sheet" and reading.message.endswith(reader.FADED_SQUARES_HINT)
    assert faint_squares(faded) >= 3
    # a well-printed page that lost its squares and code holds no grey squares: no such hint
    s = manifest.sheet.fiducial_size
    squares = [(cx - s / 2, cy - s / 2, s, s) for cx, cy in manifest.sheet.fiducial_centers()]
    bare = _without(_light_scan(exam, manifest, answers, 1.0), manifest, qr + squares)
    assert faint_squares(bare) == 0
    assert not reader.read_sheets(bare, manifest)[0].message.endswith(reader.FADED_SQUARES_HINT)
