"""A phone photo taken at an angle is read exactly or refused (``registration._tilted_frame``, ``simulate --degrade tilted``).

Tilting the page away from the camera narrows its far edge and foreshortens
the far corner squares: past ``registration.MAX_ELONGATION`` they no longer
look printed, and three squares completed as if the page were flat put the
fourth corner millimetres off. Such photos were refused (or, with three
squares, read through a frame the alignment check refused). A homography
through four squares is exact for a flat page seen from any angle: the four
squares are taken when the QR code reads where they put it.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from papergen.grade import registration
from papergen.grade.reader import read_sheets
from papergen.sim import journeys
from tests.sheetfill import key_answers
from tests.simulated import graded_simulation
from tests.test_frame_alignment import EXAM
from tests.test_frame_alignment import manifest as manifest  # noqa: F401 (a fixture)
from tests.test_frame_alignment import sheet as sheet  # noqa: F401 (a fixture)


def photographed(image: np.ndarray, degrees: float, far: int = 0) -> np.ndarray:
    """``image`` on a grey desk, seen with the page tilted ``degrees`` away on side ``far`` (``journeys._tilted``)."""
    h, w = image.shape
    frame = (int(w * 1.3), int(h * 1.3))
    quad = np.float32([[0, 0], [w, 0], [w, h], [0, h]]) + np.float32([0.15 * w, 0.15 * h])
    seen = journeys._tilted(quad, degrees, far, frame)
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), seen)
    return cv2.warpPerspective(image, matrix, frame, flags=cv2.INTER_AREA, borderValue=110)


def answers(reading) -> dict[int, str]:
    return {q.number: q.letters for q in reading.questions if q.outcome == "answer"}


@pytest.mark.parametrize(("degrees", "far"), [(15, 0), (25, 1), (30, 0), (30, 3)])
def test_a_sheet_photographed_at_an_angle_is_read_through_its_four_squares(manifest, sheet, degrees, far):
    (reading,) = read_sheets(photographed(sheet, degrees, far), manifest)
    assert (reading.status, reading.fiducials) == ("read", 4), reading.message
    assert reading.student_id == "2026030017" and reading.variant == "A"
    assert answers(reading) == key_answers(manifest, "A")


def test_each_way_to_a_tilted_frame_reads_the_page_and_without_them_it_is_refused(manifest, sheet, monkeypatch):
    """A 30° photo's far squares are foreshortened past ``MAX_ELONGATION``: taken as they are
    (``TILTED_ELONGATION``), or, without that, found from the QR code's corners (``recovery.qr_anchored``);
    without either the page is refused — never read through a wrong frame."""
    from papergen.grade import reader

    photo = photographed(sheet, 30)
    blobs, scale = registration.find_square_blobs(photo)
    looks = [registration.fiducial_look(photo, blob, scale) for blob in blobs]
    assert any(registration.MAX_ELONGATION < look.elongation <= registration.TILTED_ELONGATION for look in looks)
    (tilted,) = read_sheets(photo, manifest)
    assert tilted.status == "read" and "二维码的四角" not in tilted.message
    monkeypatch.setattr(registration, "TILTED_ELONGATION", registration.MAX_ELONGATION)
    (anchored,) = read_sheets(photo, manifest)
    assert anchored.status == "read" and "定位块由二维码的四角找到" in anchored.message, anchored.message
    assert answers(anchored) == key_answers(manifest, "A")
    monkeypatch.setattr(reader, "qr_anchored", lambda *args, **kwargs: None)
    (refused,) = read_sheets(photo, manifest)
    assert refused.status != "read" and refused.questions == []


def test_local_scale_is_the_homographys_magnification_of_lengths_where_it_is_measured():
    assert np.allclose(registration.local_scale(np.diag([3.0, 3.0, 1.0]), np.array([[0, 0], [50, 80]])), 3.0)
    # a perspective map: the area a tiny square around each point maps to, against the square's own
    homography = cv2.getPerspectiveTransform(np.float32([[0, 0], [180, 0], [180, 260], [0, 260]]),
                                             np.float32([[400, 300], [1500, 320], [1700, 2900], [150, 2800]])).astype(float)
    points = np.array([[10.0, 10.0], [170.0, 20.0], [90.0, 130.0], [20.0, 250.0]])
    d = 0.01
    for point, scale in zip(points, registration.local_scale(homography, points)):
        square = np.array([point, point + [d, 0], point + [d, d], point + [0, d]]).reshape(1, 4, 2)
        seen = cv2.perspectiveTransform(square, homography)[0]
        area = 0.5 * abs(np.dot(seen[:, 0], np.roll(seen[:, 1], -1)) - np.dot(seen[:, 1], np.roll(seen[:, 0], -1)))
        assert scale == pytest.approx(np.sqrt(area) / d, rel=1e-3)


def test_a_steeper_photo_whose_near_squares_outgrow_the_far_ones_is_read_through_its_four_squares(manifest, sheet, monkeypatch):
    """Nearer the page, at 30°, the near squares measure 1.7 times the far ones' side, past the flat frame's
    ``SIZE_SPREAD``: measured against the size perspective gives each corner, they agree, and the page reads
    exactly; without that it is refused (never read through another frame)."""
    monkeypatch.setattr(journeys, "TILT_DISTANCE", 1.0)
    photo = photographed(sheet, 30)
    blobs, _ = registration.find_square_blobs(photo)
    sides = sorted(b.side for b in blobs[:4])
    assert sides[-1] > registration.SIZE_SPREAD * sides[0]
    (reading,) = read_sheets(photo, manifest)
    assert (reading.status, reading.fiducials) == ("read", 4), reading.message
    assert reading.student_id == "2026030017" and answers(reading) == key_answers(manifest, "A")
    monkeypatch.setattr(registration, "PERSPECTIVE_SIZE_SPREAD", registration.SIZE_SPREAD)
    (refused,) = read_sheets(photo, manifest)
    assert refused.status != "read" and refused.questions == []


def test_far_squares_foreshortened_thinner_than_squares_are_looked_for_are_looked_for_again(manifest, sheet, monkeypatch):
    """At 35° from 1.0 page height the far squares are squeezed under ``MIN_SQUARE_SIDE`` across: where no frame was
    found they are looked for again down to ``FORESHORTENED_SIDE`` of it, and the page reads exactly through its four
    squares; without that it is refused (the two near squares and the code do not place the far side well enough)."""
    monkeypatch.setattr(journeys, "TILT_DISTANCE", 1.0)
    photo = photographed(sheet, 35)
    (reading,) = read_sheets(photo, manifest)
    assert (reading.status, reading.fiducials) == ("read", 4), reading.message
    assert reading.student_id == "2026030017" and answers(reading) == key_answers(manifest, "A")
    monkeypatch.setattr(registration, "FORESHORTENED_SIDE", 1.0)
    (refused,) = read_sheets(photo, manifest)
    assert refused.status != "read" and refused.questions == []


def test_a_filled_box_that_would_square_up_a_tilted_frame_is_not_taken_for_its_corner(manifest, sheet, monkeypatch):
    """A dark 40 × 30 px blob (a filled answer box's size there) inside the near bottom-left corner makes, with the other
    three squares, a frame that fits a flat page better than the true one and reads the QR code (the code is at the
    top): its size is not the size that frame gives a corner square there, so the true frame is taken and the page
    reads exactly. Without the size check the blob's frame is taken — and refused by the alignment check."""
    photo = photographed(sheet, 30)
    cv2.rectangle(photo, (230, 1885), (270, 1915), 0, -1)
    (reading,) = read_sheets(photo, manifest)
    assert (reading.status, reading.fiducials) == ("read", 4), reading.message
    assert answers(reading) == key_answers(manifest, "A")
    monkeypatch.setattr(registration, "TRUE_SIZE_TOLERANCE", 10.0)
    (refused,) = read_sheets(photo, manifest)
    assert refused.status == "rejected" and refused.questions == []


def test_squares_are_true_to_the_size_a_frame_taken_at_an_angle_gives_them(manifest):
    geometry = manifest.sheet
    fw, fh = geometry.frame_size
    corners = np.float32([[0, 0], [fw, 0], [fw, fh], [0, fh]])
    homography = cv2.getPerspectiveTransform(corners, np.float32([[600, 500], [2000, 520], [2500, 3300], [150, 3250]]))
    expected = geometry.fiducial_size * registration.local_scale(homography, corners)
    assert expected.max() > registration.SIZE_SPREAD * expected.min()  # a steep view: near squares far larger
    assert registration._true_to_size(homography, expected * [1.05, 0.95, 1.0, 1.02], geometry)
    # a filled box or the 准考证号 grid in a corner's place is the wrong size for where it lies
    assert not registration._true_to_size(homography, expected * [1.0, 1.0, 1.0, 0.8], geometry)
    # the same four sizes at the other corners: the far squares large, the near ones small
    assert not registration._true_to_size(homography, expected[[2, 3, 0, 1]], geometry)


def test_tilted_photos_are_read_or_refused_with_no_silent_error(tmp_path, sample_exam_json):
    report = graded_simulation(sample_exam_json, tmp_path, 8, seed=6, degrade="tilted", doubtful_rate=0.1)
    assert report.silent_errors == 0, report.details
    assert report.deliberate_flagged == report.deliberate
    assert sum(page.outcome == "exact" for page in report.pages) >= 5, report.details
    # every one is an answer sheet: a page refused is refused as one (its QR code found, foreshortened as it is),
    # never called "not a sheet", which an operator may skip
    assert not [d for d in report.details if "not-a-sheet" in d], report.details


def test_the_committed_exam_is_the_alignment_tests(manifest):  # the fixtures come from there: one exam, one sheet
    assert manifest.exam == "2026-mock-03" and (EXAM / "sheet.pdf").exists()


def test_three_squares_and_the_qr_codes_corners_frame_a_photo_taken_at_an_angle(manifest, sheet):
    """One far corner square covered: three squares complete the fourth as if the page were flat, which a 25°
    photo puts millimetres off; the QR code's own corners fix the perspective (``recovery.qr_cornered``)."""
    from papergen.grade import recovery
    from papergen.sim.marks import rect_to_px

    covered = sheet.copy()
    s = manifest.sheet.fiducial_size
    x, y, w, h = (int(round(v)) for v in rect_to_px((-s / 2 - 1, -s / 2 - 1, s + 2, s + 2), manifest.sheet, 150))
    covered[y:y + h, x:x + w] = 255  # the top-left square (a sticker over it)
    photo = photographed(covered, 25)
    found = registration.register(photo, manifest.sheet)
    assert found.fiducials == 3 and found.qr_text is not None
    assert recovery.qr_cornered(photo, found, manifest.sheet) is not None
    (reading,) = read_sheets(photo, manifest)
    assert (reading.status, reading.fiducials) == ("read", 3), reading.message
    assert "二维码的四角" in reading.message
    assert answers(reading) == key_answers(manifest, "A")


# -- two sheets on one page, one of them with its squares lost --------------------------------


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two pages on a grey desk side by side (a photo of two sheets, a 2-up copy), 40 px apart."""
    h = max(left.shape[0], right.shape[0]) + 80
    canvas = np.full((h, left.shape[1] + right.shape[1] + 120), 110, np.uint8)
    canvas[40:40 + left.shape[0], 40:40 + left.shape[1]] = left
    canvas[40:40 + right.shape[0], 80 + left.shape[1]:80 + left.shape[1] + right.shape[1]] = right
    return canvas


def test_a_second_sheet_whose_squares_are_lost_is_refused_not_left_out(manifest, sheet):
    """Beside a sheet that reads, another whose bottom squares are cut off: registration frames the first only.
    The rest of the page holds this exam's QR code, so the second is a sheet refused for a person, never dropped
    with nothing said (the page once gave one reading)."""
    cut = sheet[: int(sheet.shape[0] * 0.88)]  # the second sheet's bottom edge, and its two squares, cut away
    readings = read_sheets(side_by_side(sheet, cut), manifest)
    assert [r.status for r in readings] == ["read", "rejected"], [(r.status, r.message) for r in readings]
    assert readings[1].reason == "unregistered-sheet" and readings[1].questions == []
    assert answers(readings[0]) == key_answers(manifest, "A")


def test_two_sheets_that_read_are_both_read_and_one_sheet_alone_gains_no_second(manifest, sheet):
    readings = read_sheets(side_by_side(sheet, sheet), manifest)
    assert [r.status for r in readings] == ["read", "read"]
    assert all(answers(r) == key_answers(manifest, "A") for r in readings)
    (alone,) = read_sheets(sheet, manifest)
    assert alone.status == "read"


def test_a_photo_whose_two_working_sizes_each_miss_another_corner_square_is_read_through_all_four(manifest, sheet, monkeypatch):
    """A steep photo blurs its far squares and magnifies its near ones: at the coarse working size a far square may
    be too thin to count, at the fine size crowded out of the largest blobs kept (simulated tilted photo, seed 41,
    sheet-0048: each size found three corners, and the page was refused). The squares of both sizes together make the
    frame, true to size in perspective, and the page reads exactly through all four."""
    photo = photographed(sheet, 30)
    photo = cv2.resize(photo, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)  # as large as a 300 dpi photo read at half size
    pyramid = registration._Pyramid(photo)
    coarse = pyramid.shrunk(registration.DETECT_WIDTH)[1]
    assert coarse != pyramid.shrunk(registration.DETECT_WIDTH_FINE)[1]
    found = registration._square_blobs

    def one_corner_missed(gray, small, factor, *args, **kwargs):
        blobs, scale = found(gray, small, factor, *args, **kwargs)
        # the coarse size misses the bottom-right square, the fine size the top-right one
        reach = (lambda b: b.x + b.y) if factor == coarse else (lambda b: b.x - b.y)
        missed = max(blobs, key=reach)
        return [b for b in blobs if b is not missed], scale

    monkeypatch.setattr(registration, "_square_blobs", one_corner_missed)
    (reading,) = read_sheets(photo, manifest)
    assert (reading.status, reading.fiducials) == ("read", 4), reading.message
    assert reading.student_id == "2026030017" and answers(reading) == key_answers(manifest, "A")
    from papergen.grade import reader

    # without it, and without the squares found from the QR code's corners (which did not find sheet-0048's), refused
    monkeypatch.setattr(registration, "_both_sizes_frame", lambda *args: None)
    monkeypatch.setattr(reader, "qr_anchored", lambda *args, **kwargs: None)
    (refused,) = read_sheets(photo, manifest)
    assert refused.status != "read" and refused.questions == []
