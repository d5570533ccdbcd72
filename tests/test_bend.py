"""A sheet that does not lie flat is read through a bend its printed boxes show, or refused (``grade/bend.py``).

A phone photo of a bowed sheet, or one whose edge lifts, moves the middle of
the page by a millimetre or two against a frame through its corner squares:
the page was refused as misaligned, or read with boxes half a millimetre off
and their edges taken for pencil. These tests measure box shifts on hand-made
pages with known answers, bend a hand-filled sheet by a known field and read
it, and check that a wrong frame stays refused however it is bent.
"""

from __future__ import annotations

import cv2
import numpy as np

from papergen.grade import alignment, bend, reader, views
from papergen.grade.alignment import box_offsets
from papergen.grade.bend import Bend, fit_bend
from papergen.grade.registration import register
from papergen.grade.windows import CanonicalSample
from tests import test_frame_alignment as frame_tests
from tests.conftest import ROOT
from tests.sheetfill import key_answers
from tests.simulated import graded_simulation

EXAM = ROOT / "scans" / "2026-mock-03"
DPI = 150
PPM = 6.0  # canonical page pixels per mm


def _bracket_page(rects_px: np.ndarray, shifts: np.ndarray, shape=(200, 400)) -> np.ndarray:
    """A flat-fielded page (paper 255) with a grey bracket "[ ]" for each box, drawn ``shifts`` pixels off."""
    page = np.full(shape, 255, np.uint8)
    for (x, y, w, h), (dx, dy) in zip(rects_px.astype(int), shifts.astype(int), strict=True):
        x, y = x + dx, y + dy
        tick = int(round(w * alignment.TICK_SHARE))
        for x0, y0, x1, y1 in ((x, y, x, y + h), (x, y, x + tick, y), (x, y + h, x + tick, y + h),
                               (x + w, y, x + w, y + h), (x + w, y, x + w - tick, y), (x + w, y + h, x + w - tick, y + h)):
            cv2.line(page, (x0, y0), (x1, y1), 120, 1)
    return page


def test_box_offsets_finds_each_bracket_where_it_was_printed():
    rects = np.array([[40 + 60 * k, 60, 31, 19] for k in range(6)], float)
    shifts = np.array([[0, 0], [5, 0], [0, -7], [-9, 4], [11, 11], [-3, -12]])
    found = box_offsets(_bracket_page(rects, shifts), rects, reach=12)
    assert found.shift.tolist() == shifts.tolist()
    assert (found.strength > alignment.STRONG_AT).all()
    assert found.edge.tolist() == [False, False, False, False, False, True]  # −12: at the reach, maybe further


def test_box_offsets_finds_a_filled_box_and_calls_a_blank_spot_weak():
    rects = np.array([[40, 60, 31, 19], [120, 60, 31, 19]], float)
    page = _bracket_page(rects, np.array([[4, -3], [0, 0]]))
    page[57 + 2:57 + 19 - 1, 44 + 2:44 + 31 - 1] = 60  # box 1 pencilled inside its bracket
    page[:, 100:] = 255  # box 2's print gone (a covered box): nothing to find
    found = box_offsets(page, rects, reach=12)
    assert np.abs(found.shift[0] - [4, -3]).max() <= 1
    assert found.strength[1] < alignment.STRONG_AT


def test_fit_bend_outvotes_wrong_measurements_and_holds_zero_at_the_corner_squares():
    rng = np.random.default_rng(3)
    centres = rng.uniform([20, 20], [180, 250], (400, 2))
    shifts = np.tile([1.2, -0.8], (400, 1))
    wrong = rng.random(400) < 0.25  # a quarter measured wrong: filled boxes, smudges
    shifts[wrong] = rng.uniform(-2, 2, (int(wrong.sum()), 2))
    corners = np.array([[0, 0], [187, 0], [0, 274], [187, 274]], float)
    field = fit_bend(centres, shifts, corners, (-11.5, -11.5, 210, 297))
    inside = np.all((centres > [40, 40]) & (centres < [160, 230]), axis=1)
    assert np.abs(field.at(centres[inside]) - [1.2, -0.8]).max() < 0.25
    assert np.abs(field.at(corners)).max() < 0.6  # pulled toward zero where the frame is pinned


def test_a_bend_is_bilinear_between_its_nodes_and_survives_the_store():
    shift = np.zeros((3, 4, 2))
    shift[..., 0] = np.arange(4)[None, :] * 0.5  # dx grows 0.5 mm per node to the right
    shift[..., 1] = np.arange(3)[:, None] * -0.25
    field = Bend((10.0, 20.0), 6.0, shift)
    assert field.at(np.array([[13.0, 23.0]])).tolist() == [[0.25, -0.125]]
    assert field.at(np.array([[-100.0, 500.0]])).tolist() == [[0.0, -0.5]]  # held at the grid's edge
    again = Bend.from_json(field.to_json())
    assert again.origin == field.origin and again.step == field.step and np.array_equal(again.shift, field.shift)


def test_a_displaced_sample_reads_each_window_where_the_print_moved():
    page = np.random.default_rng(0).integers(0, 256, (120, 160), dtype=np.uint8)
    rects = np.array([[30, 30, 20, 12], [100, 70, 20, 12]], float)
    flat = CanonicalSample.of_page(page)
    moved = flat.displaced(lambda centres: np.tile([3.0, -2.0], (len(centres), 1)))
    a, b = flat.windows(rects), moved.windows(rects)
    assert np.array_equal(a.origins, b.origins)
    # the print lies 3 columns right and 2 rows up: the moved window's pixel (r, c) is the flat one's (r − 2, c + 3)
    th, tw = a.pixels.shape[0], a.width
    flat_windows, moved_windows = a.pixels.reshape(th, 2, tw), b.pixels.reshape(th, 2, tw)
    assert np.array_equal(moved_windows[2:, :, :-3], flat_windows[:-2, :, 3:])
    assert not np.array_equal(moved_windows, flat_windows)


# -- a hand-filled sheet, bent -------------------------------------------------------

# the committed exam and its sheet hand-filled with variant A's key (fixtures shared with the alignment tests)
manifest, sheet = frame_tests.manifest, frame_tests.sheet


def bowed(image: np.ndarray, amplitude_mm: float) -> np.ndarray:
    """``image`` with its middle moved ``amplitude_mm`` down and to the right, its corners where they were:
    the print at (x, y) is drawn at (x, y) + amplitude · sin(πu) sin(πv) · (0.6, 1)."""
    h, w = image.shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    bump = np.sin(np.pi * cols / w) * np.sin(np.pi * rows / h) * np.float32(amplitude_mm * DPI / 25.4)
    return cv2.remap(image, cols - 0.6 * bump, rows - bump, cv2.INTER_LINEAR, borderValue=255)


def test_a_bowed_sheet_is_read_exactly_through_its_bend(manifest, sheet, monkeypatch):
    page = bowed(sheet, 1.6)
    (reading,) = reader.read_sheets(page, manifest)
    assert reading.status == "read" and reading.student_id == "2026030017" and reading.variant == "A"
    assert {q.number: q.letters for q in reading.questions if q.outcome == "answer"} == key_answers(manifest, "A")
    assert not [f for f in reading.flags if f.number is not None]
    assert "没有压平" in reading.message
    field = Bend.from_json(reading.frame["bend"])
    # the page's middle (frame mm): the print was moved about 1.6 mm down, 1 mm right
    ox, oy = manifest.sheet.origin
    centre = np.array([[105 - ox, 148 - oy]])
    assert np.abs(field.at(centre)[0] - [0.96, 1.6]).max() < 0.35
    # without the bend the frame through its corners misses the boxes: a frame recovered from the squares and the
    # QR code reads the page, with questions a person must look at
    monkeypatch.setattr(bend, "bent_alignment", lambda *args, **kwargs: None)
    (flat,) = reader.read_sheets(page, manifest)
    assert flat.status != "read" or len([f for f in flat.flags if f.number is not None]) >= 3


def test_a_sheet_bowed_too_far_is_refused_with_the_reason(manifest, sheet, monkeypatch):
    monkeypatch.setattr(bend, "bent_alignment", lambda *args, **kwargs: None)  # no bend fitted (as beyond the reach)
    (reading,) = reader.read_sheets(bowed(sheet, 2.2), manifest)
    assert (reading.status, reading.reason) == ("rejected", "frame-misaligned")
    assert "没有压平" in reading.message and "没有评分" in reading.message


def test_a_flat_sheet_is_not_bent(manifest, sheet):
    (reading,) = reader.read_sheets(sheet, manifest)
    assert reading.status == "read" and "bend" not in reading.frame
    assert "没有压平" not in reading.message


def test_a_wrong_frame_on_a_bowed_sheet_stays_refused(manifest, sheet):
    """A row, a box pitch or half a block off, or turned: no bend within ``REACH_MM`` makes it fit."""
    page = bowed(sheet, 1.6)
    right = register(page, manifest.sheet)
    half_pitch = frame_tests.moved(right, np.array([[1.0, 0, 3.45], [0, 1, 2.35], [0, 0, 1]]))  # half an option and half a row
    for kind, wrong in {**frame_tests.wrong_frames(right, manifest.sheet), "half a pitch": half_pitch}.items():
        reading = reader.read_registered(page, wrong, manifest)
        assert (reading.status, reading.reason) == ("rejected", "frame-misaligned"), kind


def test_a_bent_frame_must_show_every_question_number_where_it_puts_it():
    """A field is local, and so is a wrong one: a block snapped onto the next row's brackets shows all its outlines
    and ticks, its numbers on their neighbours' places, and only its first or last zone missing — 0.947 of the zones
    on the curled 100-question sheet that read questions 97–100 a row up. A bent frame needs every one."""
    def reading(numbered: float) -> bend.BentReading:
        shown = alignment.Alignment(boxes=500, outlined=0.99, contrast=np.zeros(500), numbers=100, numbered=numbered,
                                    ticked=0.98)
        return bend.BentReading(Bend((0.0, 0.0), 15.0, np.zeros((3, 3, 2))), None, shown, 0.95, 1.2)

    assert bend.is_bent_aligned(reading(1.0), binary=False)
    assert not bend.is_bent_aligned(reading(0.947), binary=False)
    # a frame as found (no field) keeps the page-wide bar: a number lost to a scribble does not refuse it
    assert alignment.is_aligned(reading(0.947).alignment, binary=False)


def test_review_crops_of_a_bent_sheet_put_the_outlines_on_its_boxes(manifest, sheet):
    page = bowed(sheet, 1.6)
    (reading,) = reader.read_sheets(page, manifest)
    registration = register(page, manifest.sheet)
    box = manifest.sheet.questions[20].boxes[0]  # near the page's middle, where it moved most
    ppm = 10.0

    def edge_darkness(view) -> float:
        """Mean grey under the box's left edge in the crop (darker: the printed bracket is where it is drawn)."""
        crop = views.render_region(view, box, ppm)
        return float(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)[:, :2].mean())

    flat = views.SheetView(page, registration.homography, manifest.sheet, 1)
    bent = views.SheetView(page, registration.homography, manifest.sheet, 1, Bend.from_json(reading.frame["bend"]))
    assert edge_darkness(bent) < edge_darkness(flat) - 15


def test_curled_photos_are_read_or_refused_with_no_silent_error(tmp_path, sample_exam_json):
    report = graded_simulation(sample_exam_json, tmp_path, 6, seed=4, degrade="curled", doubtful_rate=0.1)
    assert report.silent_errors == 0, report.details
    assert report.deliberate_flagged == report.deliberate
    assert sum(page.outcome == "exact" for page in report.pages) >= 4, report.details
