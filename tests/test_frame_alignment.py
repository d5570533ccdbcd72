"""A page read through a wrong frame is refused before any answer is scored (issue 12, section 1).

Registration builds its frame from dark squares; with two corner squares cut
off it can build one from filled boxes and read every answer against the
wrong box. ``grade.alignment`` checks the frame against the page's own
printed boxes and question numbers; these tests move a right frame the ways a
wrong one is most like it, crop corners off hand-filled sheets, and check
that every such page is either read exactly or refused, never scored wrong.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest

from papergen.exam.manifest import read_manifest
from papergen.grade import reader
from papergen.grade.alignment import (
    NUMBERED_AT_LEAST,
    OUTLINED_AT_LEAST,
    frame_alignment,
    is_aligned,
    number_zones,
)
from papergen.grade.pipeline import grade
from papergen.grade.reasons import reason_label
from papergen.grade.registration import Registration, RegistrationError, register
from papergen.sim.run import simulate
from tests.conftest import ROOT
from tests.sheetfill import filled_sheet, key_answers

EXAM = ROOT / "scans" / "2026-mock-03"
DPI = 150


@pytest.fixture(scope="module")
def manifest():
    return read_manifest(EXAM / "exam.json")


@pytest.fixture(scope="module")
def sheet(manifest) -> np.ndarray:
    """A hand-filled sheet: the key of variant A, 准考证号 2026030017, many dark boxes to mistake for squares."""
    return filled_sheet(EXAM, manifest, student_id="2026030017", variant="A", answers=key_answers(manifest, "A"), dpi=DPI)


def moved(registration: Registration, matrix: np.ndarray) -> Registration:
    """The same frame with frame millimetres first mapped by ``matrix``, the QR text kept (a code that read)."""
    return Registration(registration.homography @ matrix, registration.fiducials, registration.rotation, registration.qr_text)


def wrong_frames(registration: Registration, geometry) -> dict[str, Registration]:
    fw, fh = geometry.frame_size
    first = geometry.questions[0].boxes
    row = geometry.questions[1].boxes[0][1] - first[0][1]
    pitch = first[1][0] - first[0][0]

    def shift(dx, dy):
        return moved(registration, np.array([[1.0, 0, dx], [0, 1, dy], [0, 0, 1]]))

    return {
        "row down": shift(0, row), "row up": shift(0, -row), "pitch right": shift(pitch, 0), "pitch left": shift(-pitch, 0),
        "half a block": shift(0, 2.5 * row),
        "turned 180°": moved(registration, np.array([[-1.0, 0, fw], [0, -1, fh], [0, 0, 1]])),
    }


def test_the_right_frame_of_a_filled_sheet_is_aligned(manifest, sheet) -> None:
    geometry = manifest.sheet
    registration = register(sheet, geometry)
    page = reader.canonical_page(sheet, registration, geometry, reader.PX_PER_MM)
    alignment = frame_alignment(page, geometry.box_table(1).rects, geometry, reader.PX_PER_MM)
    assert alignment.boxes == len(geometry.box_table(1)) and alignment.numbers == 45
    # filled boxes are dark on their edges too: every box and number shows
    assert alignment.outlined >= 0.98 and alignment.numbered == 1.0
    assert is_aligned(alignment, binary=False)
    assert reader.read_registered(sheet, registration, manifest).status == "read"


@pytest.mark.parametrize("kind", ["row down", "row up", "pitch right", "pitch left", "half a block", "turned 180°"])
def test_a_wrong_frame_is_refused_before_any_answer_even_with_the_qr_code_read(manifest, sheet, kind) -> None:
    geometry = manifest.sheet
    right = register(sheet, geometry)
    assert right.qr_text  # the code read: acceptance alone would let the page through
    wrong = wrong_frames(right, geometry)[kind]
    reading = reader.read_registered(sheet, wrong, manifest)
    assert (reading.status, reading.reason) == ("rejected", "frame-misaligned")
    assert reading.questions == [] and reading.student_id is None and reading.variant is None
    assert "没有评分" in reading.message and reason_label("frame-misaligned") != "frame-misaligned"
    alignment = frame_alignment(reader.canonical_page(sheet, wrong, geometry, reader.PX_PER_MM), geometry.box_table(1).rects, geometry, reader.PX_PER_MM)
    assert alignment.numbered < NUMBERED_AT_LEAST
    # the outlines alone say so too, except for a frame a row or half a block off (boxes on
    # boxes), which the numbers catch
    if "row" not in kind and kind != "half a block":
        assert alignment.outlined < OUTLINED_AT_LEAST


def test_a_black_and_white_copy_that_lost_its_outlines_is_decided_by_the_numbers(manifest, sheet) -> None:
    geometry = manifest.sheet
    copy = np.where(sheet < 100, 0, 255).astype(np.uint8)  # the grey outlines (0.45) and letters drop out
    registration = register(copy, geometry)
    page = reader.canonical_page(copy, registration, geometry, reader.PX_PER_MM)
    alignment = frame_alignment(page, geometry.box_table(1).rects, geometry, reader.PX_PER_MM)
    assert alignment.outlined < 0.3 and alignment.numbered == 1.0
    assert is_aligned(alignment, binary=True) and not is_aligned(alignment, binary=False)
    assert reader.read_sheets(copy, manifest)[0].status == "read"
    wrong = wrong_frames(registration, geometry)["row down"]
    assert reader.read_registered(copy, wrong, manifest).reason == "frame-misaligned"


def test_clean_zones_skip_section_headings(manifest) -> None:
    digits, clean = number_zones(manifest.sheet, 1)
    assert len(digits) == 45
    # one row beyond each block of five, in three columns; none where a section heading is printed
    headings = [label["y"] for label in manifest.sheet.labels_on(1) if label["kind"] == "section"]
    assert len(clean) > 0
    for _, y, _, h in clean:
        assert all(not (heading - 5 <= y + h and y <= heading + 1) for heading in headings)


def crop_two_corners(image: np.ndarray, manifest, side: str) -> np.ndarray:
    """The page with the two corner squares of one side cut off (the cut just past their centres)."""
    ox, oy = manifest.sheet.origin
    fw, fh = manifest.sheet.frame_size
    px = DPI / 25.4
    cut = manifest.sheet.fiducial_size * 0.6
    if side == "left":
        return image[:, int((ox + cut) * px):]
    if side == "right":
        return image[:, : int((ox + fw - cut) * px)]
    if side == "top":
        return image[int((oy + cut) * px):, :]
    return image[: int((oy + fh - cut) * px), :]


@pytest.mark.parametrize("side", ["left", "right", "top", "bottom"])
def test_a_page_with_two_corners_cut_is_read_exactly_or_refused_never_scored_wrong(manifest, sheet, side) -> None:
    page = crop_two_corners(sheet, manifest, side)
    key = key_answers(manifest, "A")
    for reading in reader.read_sheets(page, manifest):
        if reading.status == "read":
            assert reading.student_id == "2026030017" and reading.variant == "A"
            assert {q.number: q.letters for q in reading.questions if q.outcome == "answer"} == key
        else:
            assert reading.status in ("rejected", "not-a-sheet")


def test_a_corner_square_with_ink_in_its_quiet_zone_on_a_photo_is_still_a_corner_when_the_qr_code_reads(
    manifest, sheet
) -> None:
    """A stroke beside the top-right square (a scribble, a staple's shadow; on harsh phone photos the QR code
    itself, foreshortened) keeps it from looking printed; three squares completed as if the page were flat miss
    the code on a photo in perspective. Registration takes the four-square frame when the code reads there."""
    from papergen.grade import registration

    px = DPI / 25.4
    cx, cy = manifest.sheet.origin[0] + manifest.sheet.frame_size[0], manifest.sheet.origin[1]
    page = sheet.copy()
    ring = registration.QUIET_RADII[0] * manifest.sheet.fiducial_size + 0.1  # mm from the square's centre
    cv2.line(page, (int((cx - 5) * px), int((cy + ring) * px)), (int((cx + 5) * px), int((cy + ring) * px)), 30, 3)
    h, w = page.shape
    perspective = cv2.getPerspectiveTransform(
        np.float32([[0, 0], [w, 0], [w, h], [0, h]]),
        np.float32([[60, 60], [60 + 0.9 * w, 60 + 0.05 * h], [70 + 0.9 * w, 60 + 0.95 * h], [60, 60 + h]]),
    )
    photo = cv2.warpPerspective(page, perspective, (w + 120, h + 120), borderValue=235, flags=cv2.INTER_AREA)
    blobs, scale = registration.find_square_blobs(photo)
    assert sorted(registration.looks_like_fiducial(photo, blob, scale) for blob in blobs) == [False, True, True, True]
    found = register(photo, manifest.sheet)
    assert found.fiducials == 4 and found.qr_text is not None
    (reading,) = reader.read_sheets(photo, manifest)
    assert reading.status == "read" and reading.student_id == "2026030017" and reading.variant == "A"
    assert {q.number: q.letters for q in reading.questions if q.outcome == "answer"} == key_answers(manifest, "A")


def test_a_cropped_page_through_the_grader_is_scored_exactly_or_not_at_all(manifest, sheet, tmp_path: Path) -> None:
    """Two corner squares cropped off: once refused (no marks); since frames are recovered from the two
    squares left and the QR code (``grade/recovery.py``), read — every answer the key's, none wrong."""
    folder = tmp_path / "scans"
    folder.mkdir()
    for side in ("left", "top"):
        cv2.imwrite(str(folder / f"cut-{side}.png"), crop_two_corners(sheet, manifest, side))
    grade(EXAM / "exam.json", [folder], tmp_path / "results", workers=1)
    db = sqlite3.connect(tmp_path / "results" / "results.sqlite")
    statuses = db.execute("SELECT status FROM pages").fetchall()
    marks = db.execute("SELECT file_hash, number, outcome, letters FROM marks").fetchall()
    db.close()
    key = key_answers(manifest, "A")
    assert statuses == [("read",), ("read",)]
    assert len(marks) == 2 * len(manifest.questions)
    assert all(outcome == "answer" and letters == key[number] for _, number, outcome, letters in marks)


def test_a_frameless_page_whose_qr_code_is_this_exams_is_rejected_not_called_not_a_sheet(manifest, sheet) -> None:
    """"这一页可能不是答题卡" for a sheet whose QR code reads would let an operator skip it."""
    page = sheet.copy()
    geometry = manifest.sheet
    px = DPI / 25.4
    ox, oy = geometry.origin
    s = geometry.fiducial_size
    for cx, cy in geometry.fiducial_centers():  # every corner square covered: no frame at all
        x0, y0 = int((ox + cx - 0.7 * s) * px), int((oy + cy - 0.7 * s) * px)  # the QR code's quiet zone stays
        page[max(0, y0): y0 + int(1.4 * s * px), max(0, x0): x0 + int(1.4 * s * px)] = 255
    with pytest.raises(RegistrationError):
        register(page, geometry)
    reading = reader.read_sheets(page, manifest)[0]
    assert (reading.status, reading.reason) == ("rejected", "unregistered-sheet")
    assert "二维码已识别" in reading.message and "不是答题卡" not in reading.message
    assert reading.questions == []


def test_a_page_that_is_not_a_sheet_stays_not_a_sheet(manifest) -> None:
    rng = np.random.default_rng(3)
    page = np.full((1754, 1240), 255, np.uint8)
    for _ in range(40):  # text-like scribbles, no squares, no QR code
        x, y = int(rng.integers(50, 1100)), int(rng.integers(50, 1650))
        cv2.putText(page, "lorem ipsum", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2)
    reading = reader.read_sheets(page, manifest)[0]
    assert reading.status == "not-a-sheet"


@pytest.mark.parametrize("level", ["none", "scan", "photo", "harsh"])
def test_right_frames_pass_at_every_degrade_level(manifest, level, tmp_path: Path) -> None:
    simulate(EXAM / "exam.json", 6, tmp_path / level, seed=77, degrade=level)
    geometry = manifest.sheet
    for path in sorted((tmp_path / level).glob("*.jpg")):
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        registration = register(gray, geometry)
        page = reader.canonical_page(gray, registration, geometry, reader.PX_PER_MM)
        alignment = frame_alignment(page, geometry.box_table(1).rects, geometry, reader.PX_PER_MM)
        assert alignment.numbered == 1.0, path.name
        assert is_aligned(alignment, binary=reader.is_black_and_white(gray)), (path.name, alignment.outlined)
        assert all(r.reason != "frame-misaligned" for r in reader.read_sheets(gray, manifest)), path.name


def test_two_frames_agree_on_the_qr_code_only_within_a_few_millimetres():
    from papergen.grade.registration import QR_AGREE_MM, _same_qr_place

    geometry = read_manifest(ROOT / "scans" / "2026-mock-03" / "exam.json").sheet
    scale = np.diag([4.7, 4.7, 1.0])  # frame mm → image pixels, a half-size decode of a 300 dpi scan

    def shifted(mm: float) -> np.ndarray:
        return np.array([[1.0, 0, mm * 4.7], [0, 1.0, 0], [0, 0, 1.0]]) @ scale

    assert _same_qr_place(scale, shifted(1.5), geometry)
    assert not _same_qr_place(scale, shifted(QR_AGREE_MM + 1.0), geometry)
    # a frame turned half a degree about the page's corner moves the code (≈ 150 mm away) by about a millimetre
    turn = np.deg2rad(0.5)
    rotated = np.array([[np.cos(turn), -np.sin(turn), 0], [np.sin(turn), np.cos(turn), 0], [0, 0, 1.0]])
    assert _same_qr_place(scale, scale @ rotated, geometry)
