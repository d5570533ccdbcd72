"""Lines a device draws through a whole black-and-white scan (a dirty scan head, a fax's lost row): found, and read past."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from papergen.exam.manifest import read_manifest
from papergen.grade import reader, scanlines
from papergen.render.build import build_exam
from papergen.sim import journeys
from tests.conftest import ROOT
from tests.sheetfill import filled_sheet, key_answers

BLUEPRINT = ROOT / "blueprints" / "2026-mock-03.yaml"


def _page(height: int = 2970, width: int = 2100) -> np.ndarray:
    """A white A4 page at 10 px/mm with some print and pencil: squares, text-like rows, a column of fills."""
    page = np.full((height, width), 255, np.uint8)
    page[100:170, 100:170] = 0  # a corner square
    for row in range(400, 2800, 80):
        page[row:row + 50, 600:656] = 0  # a column of fills, 50 px of every 80
        page[row + 20:row + 26, 800:1500] = 30  # a line of text
    return page


def test_a_dust_line_and_a_lost_row_are_found_and_nothing_else():
    page = _page()
    page[:, 1000:1003] = 0  # dust on the scan head: three columns, top to bottom
    page[2000:2002, :] = 10  # a row lost in transmission
    lines = scanlines.find_lines(*scanlines.dark_shares(page))
    assert lines.columns == ((1000, 1003),) and lines.rows == ((2000, 2002),) and len(lines) == 2
    # the column of fills (dark in 5/8 of the rows) and the text rows are no lines
    columns, rows = scanlines.dark_shares(page)
    assert 0.5 < columns[620] < scanlines.LINE_SHARE and rows[420] < scanlines.LINE_SHARE


def test_a_bar_wider_than_a_line_stays():
    page = _page()
    page[:, 1000:1020] = 0  # 2 mm: a bar or a black border, not a speck's line
    assert not scanlines.find_lines(*scanlines.dark_shares(page))


def test_without_lines_paints_each_line_and_its_halo_white_and_nothing_else():
    page = _page()
    page[:, 1000:1003] = 0
    page[:, 999] = page[:, 1003] = 160  # JPEG ringing beside it
    lines = scanlines.find_lines(*scanlines.dark_shares(page))
    clean = scanlines.without_lines(page, lines)
    assert (clean[:, 999:1004] == 255).all()
    untouched = np.ones(page.shape[1], bool)
    untouched[999:1004] = False
    assert np.array_equal(clean[:, untouched], page[:, untouched])
    assert page[0, 1000] == 0  # the scan itself is not changed


def test_the_fax_journey_draws_lines_the_grader_finds(monkeypatch):
    monkeypatch.setattr(journeys, "DUST_LINE_SHARE", 1.0)
    monkeypatch.setattr(journeys, "LOST_LINE_SHARE", 1.0)
    page = _page(1485, 1050)
    journeys.device_lines(page, np.random.default_rng(5))
    full_columns = np.flatnonzero((page == 0).all(axis=0))
    full_rows = np.flatnonzero((page == 0).all(axis=1))
    assert len(full_columns) and len(full_rows)
    lines = scanlines.find_lines(*scanlines.dark_shares(page))
    assert {c for a, b in lines.columns for c in range(a, b)} == set(full_columns.tolist())
    assert {r for a, b in lines.rows for r in range(a, b)} == set(full_rows.tolist())


# -- a whole sheet -------------------------------------------------------------


@pytest.fixture(scope="module")
def exam(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lines") / "exam"
    build_exam(BLUEPRINT, out)
    return out


DPI = 150


def _one_bit(image: np.ndarray) -> np.ndarray:
    """A fax of ``image``: grey paper and ink, a hard threshold, a low-quality JPEG."""
    grey = np.clip(image.astype(float) * (220 / 255) + 20, 0, 255).astype(np.uint8)
    _, one_bit = cv2.threshold(grey, 130, 255, cv2.THRESH_BINARY)
    return one_bit


def _jpeg(image: np.ndarray, quality: int = 60) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)


def _column_of(manifest, number: int, option: int) -> int:
    """The image column through the middle of a question's box."""
    x, _, w, _ = manifest.sheet.questions_on(1)[number - 1].boxes[option]
    return int(round((manifest.sheet.origin[0] + x + w / 2) * DPI / 25.4))


def test_a_dust_line_through_empty_boxes_of_a_fax_flags_nothing(exam):
    manifest = read_manifest(exam / "exam.json")
    answers = key_answers(manifest, "A")
    sheet = _one_bit(filled_sheet(exam, manifest, student_id="2026030009", variant="A", answers=answers, dpi=DPI))
    # through the boxes of one option of the first block, top to bottom: most of them empty
    at = _column_of(manifest, 1, 1)
    sheet[:, at:at + 2] = 0
    lined = _jpeg(sheet)
    reading = reader.read_sheets(lined, manifest)[0]
    assert reading.status == "read" and reading.binary
    assert [f.message for f in reading.flags] == []
    assert {q.number: q.letters for q in reading.questions} == answers
    assert "1 条贯穿整页的直线" in reading.message


def test_a_tick_the_dust_line_crosses_is_still_flagged(exam):
    manifest = read_manifest(exam / "exam.json")
    answers = key_answers(manifest, "A")
    sheet = _one_bit(filled_sheet(exam, manifest, student_id="2026030009", variant="A", answers=answers, dpi=DPI))
    # question 5: its key filled, and a tick in another box, which the line runs through
    geometry = manifest.sheet
    option = next(k for k in range(4) if "ABCD"[k] not in answers[5])
    x, y, w, h = geometry.questions_on(1)[4].boxes[option]
    k = DPI / 25.4
    ox, oy = geometry.origin
    points = [((ox + x + fx * w) * k, (oy + y + fy * h) * k) for fx, fy in ((0.2, 0.5), (0.4, 0.85), (0.85, 0.1))]
    points = np.round(points).astype(np.int32)
    cv2.polylines(sheet, [points], False, 0, 2)
    at = _column_of(manifest, 5, option)
    sheet[:, at:at + 2] = 0
    reading = reader.read_sheets(_jpeg(sheet), manifest)[0]
    fifth = next(q for q in reading.questions if q.number == 5)
    assert fifth.outcome == "flagged", fifth
    assert [q.number for q in reading.questions if q.outcome == "flagged"] == [5]
