"""A page turned in the picture is read through its four squares (``registration.turned_squares``, ``simulate --degrade turned``).

Registration looked for corner squares that fill most of their upright
bounding box: a square turned 8° fills 0.78 of it, one turned 45° half. A
phone photo of a sheet lying crooked on a desk, or taken with the phone held
askew, was refused (or called "not a sheet"). A solid square's second moments
turn with it, so where no frame of upright squares reads, squares standing at
any angle are looked for too; the frame they make must still be true to size
and read the QR code where it puts it, and the reader checks the printed boxes
and numbers, as for every frame.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from papergen.grade import pipeline, reader, registration, views
from papergen.grade.components import foreground_components
from papergen.grade.ingest import collect_pages, load_page
from papergen.grade.reader import read_sheets
from tests.sheetfill import key_answers
from tests.simulated import graded_simulation
from tests.test_frame_alignment import manifest as manifest  # noqa: F401 (a fixture)
from tests.test_frame_alignment import sheet as sheet  # noqa: F401 (a fixture)
from tests.test_tilted_photos import answers


def _shape(points: np.ndarray, size: int = 80) -> np.ndarray:
    """A (size, size) binary image holding one filled polygon."""
    image = np.zeros((size, size), np.uint8)
    cv2.fillPoly(image, [np.round(points).astype(np.int32)], 1)
    return image


def _turned(width: float, height: float, degrees: float, shear: float = 0.0) -> np.ndarray:
    """A ``width`` × ``height`` rectangle, sheared by ``shear`` (x += shear·y) and turned ``degrees``, centred at (40, 40)."""
    corners = np.array([[-width, -height], [width, -height], [width, height], [-width, height]], float) / 2
    corners[:, 0] += shear * corners[:, 1]
    turn = np.radians(degrees)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    return corners @ rotation.T + 40


def _judged(image: np.ndarray) -> bool:
    labels, stats, _ = foreground_components(image)
    assert len(stats) == 1
    return bool(registration.turned_squares(labels, stats, np.ones(1, bool))[0])


@pytest.mark.parametrize("degrees", [0, 12, 30, 45, 70])
def test_a_solid_square_is_a_square_at_any_angle_and_under_a_photo_s_shear(degrees):
    assert _judged(_shape(_turned(30, 30, degrees)))
    assert _judged(_shape(_turned(30, 30, degrees, shear=0.35)))  # a steep photo's far square: a parallelogram


@pytest.mark.parametrize("degrees", [0, 30, 45])
def test_what_is_no_solid_square_is_not_one_at_any_angle(degrees):
    long_box = _shape(_turned(36, 18, degrees))  # two filled answer boxes run together: twice as long as high
    assert not _judged(long_box)
    hollow = _shape(_turned(34, 34, degrees)) - _shape(_turned(20, 20, degrees))  # a QR finder pattern's ring
    assert not _judged(hollow)
    corner = _shape(_turned(30, 30, degrees)) & ~_shape(_turned(30, 30, degrees) + 9).astype(bool)  # an L
    assert not _judged(corner.astype(np.uint8))


def turned(image: np.ndarray, degrees: float) -> np.ndarray:
    """``image`` turned ``degrees`` (counter-clockwise) on a grey desk large enough to hold it whole."""
    h, w = image.shape
    side = int(np.hypot(h, w)) + 40
    desk = np.full((side, side), 120, np.uint8)
    desk[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = image
    matrix = cv2.getRotationMatrix2D((side / 2, side / 2), degrees, 1.0)
    return cv2.warpAffine(desk, matrix, (side, side), flags=cv2.INTER_AREA, borderValue=120)


@pytest.mark.parametrize("degrees", [-33, 12, 20, 45, 160])
def test_a_sheet_turned_in_the_picture_is_read_through_its_four_squares(manifest, sheet, degrees):
    (reading,) = read_sheets(turned(sheet, degrees), manifest)
    assert (reading.status, reading.fiducials) == ("read", 4), reading.message
    assert reading.student_id == "2026030017" and reading.variant == "A"
    assert answers(reading) == key_answers(manifest, "A")
    assert not reading.flags


def test_turned_photos_are_read_with_no_silent_error(tmp_path, sample_exam_json):
    report = graded_simulation(sample_exam_json, tmp_path, 6, seed=11, degrade="turned", doubtful_rate=0.1)
    assert report.silent_errors == 0, report.details
    assert report.deliberate_flagged == report.deliberate
    # turned 10–40° every one: none refused
    assert not [d for d in report.details if "页面状态" in d], report.details


def _small_in_picture(sheet: np.ndarray, folder) -> tuple:
    """A 12 MP photo (3000 × 4000, JPEG) of ``sheet`` turned 30° and filling a little over half its height: the
    half-size decode a picture this large gets shows the sheet at about 3 px/mm."""
    photo = np.full((4000, 3000), 120, np.uint8)
    h, w = sheet.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 30, 1.0)
    matrix[:, 2] += (1500 - w / 2, 2000 - h / 2)
    cv2.warpAffine(sheet, matrix, (3000, 4000), dst=photo, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_TRANSPARENT)
    photo = cv2.GaussianBlur(photo, (0, 0), 1.3)  # a phone's soft focus and sensor noise
    photo = np.clip(photo + np.random.default_rng(3).normal(0, 4, photo.shape), 0, 255).astype(np.uint8)
    path = folder / "photo.jpg"
    cv2.imwrite(str(path), photo, [cv2.IMWRITE_JPEG_QUALITY, 92])
    (job,), problems = collect_pages([path])
    assert not problems
    return job, path


def test_a_sheet_small_in_a_large_photo_is_read_from_the_full_size_picture(manifest, sheet, tmp_path, monkeypatch):
    """A JPEG this large is decoded at half its size (``ingest.READ_SHORT_SIDE``: a page filling it is then about
    6 px/mm). A sheet turned in the picture fills less of it: at 3 px/mm the reader refused it (simulated turned
    photos: 1 of 100 at seed 0). It is read again from the full-size decode (``reader.too_coarse``)."""
    job, path = _small_in_picture(sheet, tmp_path)
    assert load_page(job).shape == (2000, 1500)  # decoded at half size, as every picture this large
    (record,) = pipeline.process_page(job, manifest)
    assert record.status == "read" and not record.flags, record.flags
    frame = json.loads(record.values["frame"])
    assert frame["size"] == [3000, 4000]  # read from the full-size decode
    marked = {mark[0]: mark[4] for mark in record.marks}
    assert {n: marked[n] for n in key_answers(manifest, "A")} == key_answers(manifest, "A")
    # the review desk's crops come from the picture the sheet was read in
    view = views.sheet_view(str(path), 1, 1, job.file_hash, manifest, frame)
    assert view.gray.shape == (4000, 3000)
    # read from the half-size decode alone, the sheet at 3 px/mm blurs its box outlines away: refused
    monkeypatch.setattr(reader, "COARSEST_PX_PER_MM", 0.0)
    (coarse,) = pipeline.process_page(job, manifest)
    assert (coarse.status, coarse.flags[-1][1]) == ("rejected", "frame-misaligned")


def test_a_page_decoded_whole_is_not_decoded_again(manifest, sheet, tmp_path, monkeypatch):
    """A PNG (as a TIFF, a PDF page…) is always decoded at its full size: a sheet small in it has nothing finer."""
    photo = cv2.resize(turned(sheet, 20), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)  # about 3 px/mm
    path = tmp_path / "small.png"
    cv2.imwrite(str(path), photo)
    (job,), _ = collect_pages([path])
    decodes = []
    monkeypatch.setattr(pipeline, "load_page", lambda job, finest=False: decodes.append(finest) or load_page(job, finest))
    pipeline.process_page(job, manifest)
    assert decodes == [False]
