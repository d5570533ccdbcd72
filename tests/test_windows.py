"""Measuring straight through the homography (issue 12, section 4): the windows the reader samples
from the scan hold the canonical page's own pixels, and every number measured on them is the one
measured on the whole canonical page."""

from __future__ import annotations

import dataclasses
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from papergen.exam.manifest import read_manifest
from papergen.grade import bubbles, reader
from papergen.grade.alignment import frame_alignment
from papergen.grade.ingest import _jpeg_frame_size
from papergen.grade.reader import is_black_and_white
from papergen.grade.registration import find_square_blobs, register
from papergen.grade.windows import CanonicalSample, window_layout
from tests.conftest import ROOT
from tests.sheetfill import filled_sheet, key_answers

EXAM = ROOT / "scans" / "2026-mock-03"


@pytest.fixture(scope="module")
def manifest():
    return read_manifest(EXAM / "exam.json")


@pytest.fixture(scope="module")
def scanned(manifest):
    """A filled sheet, turned a little and lit unevenly as a scanner or camera leaves it, and its frame."""
    sheet = filled_sheet(EXAM, manifest, student_id="2026030017", variant="A", answers=key_answers(manifest, "A"), dpi=150)
    h, w = sheet.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), 1.5, 1.0)
    gray = cv2.warpAffine(sheet, turn, (w, h), borderValue=255)
    shade = np.linspace(1.0, 0.75, w, dtype=np.float32)[None, :]
    gray = np.clip(gray.astype(np.float32) * shade, 0, 255).astype(np.uint8)
    return gray, register(gray, manifest.sheet)


def test_windows_hold_the_canonical_pages_pixels(manifest, scanned) -> None:
    gray, registration = scanned
    geometry = manifest.sheet
    rects_px = reader.rects_to_px(geometry.box_table(1).rects, geometry, reader.PX_PER_MM)
    page = reader.canonical_page(gray, registration, geometry, reader.PX_PER_MM)
    whole = CanonicalSample.of_page(page).windows(rects_px)
    sampled = reader.sample_page(gray, registration, geometry, reader.PX_PER_MM).windows(rects_px)
    # cut from the page: exactly its pixels, each window where window_layout put it
    origins, (th, tw) = window_layout(rects_px)
    k = 17
    r, c = origins[k]
    assert np.array_equal(whole.pixels[:, k * tw : (k + 1) * tw], page[r : r + th, c : c + tw])
    # sampled from the scan: the same pixels up to interpolation rounding and the quarter-size lighting
    difference = np.abs(whole.pixels.astype(int) - sampled.pixels.astype(int))
    assert difference.mean() < 1.5 and np.percentile(difference, 99) <= 8


def test_more_windows_than_one_remap_can_hold_are_sampled_in_slices(manifest, scanned) -> None:
    """cv2.remap refuses maps 32,767 columns wide: a 100-question, 5-option sheet with the rings read around
    each box needs more. Every window must still hold what a single window request holds."""
    gray, registration = scanned
    geometry = manifest.sheet
    rects_px = reader.rects_to_px(geometry.box_table(1).rects, geometry, reader.PX_PER_MM)
    many = np.tile(rects_px, (1 + 40_000 // len(rects_px) // 20, 1))
    sample = reader.sample_page(gray, registration, geometry, reader.PX_PER_MM)
    wide = sample.windows(many)
    assert wide.pixels.shape[1] > 32_767
    alone = reader.sample_page(gray, registration, geometry, reader.PX_PER_MM).windows(rects_px)
    assert np.array_equal(wide.pixels[:, : alone.pixels.shape[1]], alone.pixels)
    assert np.array_equal(wide.pixels[:, -alone.pixels.shape[1] :], alone.pixels)


def test_measuring_the_sample_gives_the_canonical_pages_numbers(manifest, scanned) -> None:
    gray, registration = scanned
    geometry = manifest.sheet
    table = geometry.box_table(1)
    page = reader.canonical_page(gray, registration, geometry, reader.PX_PER_MM)
    sample = reader.sample_page(gray, registration, geometry, reader.PX_PER_MM)
    on_page, on_sample = reader.measure(page, table, geometry), reader.measure(sample, table, geometry)
    assert np.abs(on_page.darkness - on_sample.darkness).max() < 0.03
    assert np.abs(on_page.whole - on_sample.whole).max() < 0.06
    assert abs(on_page.levels.white - on_sample.levels.white) <= 2
    # the stroke and local-paper measurements too (their windows come from the sample's own requests)
    assert np.abs(on_page.paper - on_sample.paper).max() <= 4
    assert np.abs(on_page.stroke - on_sample.stroke).max() < 0.15
    assert np.count_nonzero(np.abs(on_page.stroke - on_sample.stroke) > 0.05) <= len(table) // 50
    whole, sampled = (frame_alignment(p, table.rects, geometry, reader.PX_PER_MM) for p in (page, sample))
    assert sampled.numbered == whole.numbered == 1.0 and abs(sampled.outlined - whole.outlined) < 0.02
    # and the QR region reads from either
    r0, r1, c0, c1 = reader.qr_bounds(geometry, reader.PX_PER_MM)
    assert sample.region(r0, r1, c0, c1).shape == page[r0:r1, c0:c1].shape


def test_paper_white_is_numpys_92nd_percentile() -> None:
    rng = np.random.default_rng(3)
    for size, top in ((1, 256), (7, 2), (1000, 256), (140_000, 256)):
        grid = rng.integers(0, top, size=(size, 1)).astype(np.uint8)
        assert bubbles.paper_white(grid) == pytest.approx(np.percentile(grid, 92), abs=1e-9)


def test_black_and_white_test_is_unchanged_by_counting_a_histogram() -> None:
    rng = np.random.default_rng(4)
    grey = rng.normal(200, 40, (400, 300)).clip(0, 255).astype(np.uint8)
    bw = np.where(rng.random((400, 300)) < 0.1, 0, 255).astype(np.uint8)
    # a Python bool: `measure` skips the black-and-white-only measure when `binary is False`
    assert is_black_and_white(grey) is False and is_black_and_white(bw) is True


def test_fiducial_centres_are_found_at_full_resolution() -> None:
    """Found on a quarter-size page, each square's centre is refined on the full one: sub-pixel exact."""
    supersample = 8
    centres = [(150.3, 120.6), (1100.7, 130.2), (150.5, 1600.45), (1100.1, 1590.9)]
    image = np.full((1754, 1241), 255, np.float32)
    side = 41.3
    yy, xx = np.mgrid[0:80 * supersample, 0:80 * supersample] / supersample
    for cx, cy in centres:
        x0, y0 = int(cx) - 40, int(cy) - 40
        # pixel (col, row) centre at (col, row): a square drawn with its edges anti-aliased
        inside = (np.abs(xx + x0 - 0.5 + 0.5 / supersample - cx) < side / 2) & (np.abs(yy + y0 - 0.5 + 0.5 / supersample - cy) < side / 2)
        cover = inside.reshape(80, supersample, 80, supersample).mean(axis=(1, 3))
        image[y0 : y0 + 80, x0 : x0 + 80] = 255 * (1 - cover)
    blobs, scale = find_square_blobs(image.round().astype(np.uint8))
    found = sorted(((b.x + 0.5) / scale - 0.5, (b.y + 0.5) / scale - 0.5) for b in blobs[:4])
    for (fx, fy), (tx, ty) in zip(found, sorted(centres)):
        assert abs(fx - tx) < 0.15 and abs(fy - ty) < 0.15


def test_jpeg_size_is_read_from_the_frame_header() -> None:
    for mode, size in (("L", (37, 53)), ("RGB", (640, 480))):
        data = io.BytesIO()
        Image.new(mode, size, 128).save(data, "JPEG", quality=80, exif=b"Exif\x00\x00" + b"\x00" * 40)
        assert _jpeg_frame_size(data.getvalue()) == size
    assert _jpeg_frame_size(b"\xff\xd8\xff\xda\x00\x08") is None
    assert _jpeg_frame_size(b"\xff\xd8not a marker") is None


def test_registrations_quarter_size_scan_gives_the_same_sample(manifest, scanned) -> None:
    """The fiducial search's two pyramid halvings of the scan serve the reader's lighting estimate:
    the very image ``of_scan`` would make itself, so every window and the grid are unchanged."""
    gray, registration = scanned
    assert registration.quarter is not None and registration.quarter.shape == ((gray.shape[0] + 3) // 4, (gray.shape[1] + 3) // 4)
    geometry = manifest.sheet
    rects_px = reader.rects_to_px(geometry.box_table(1).rects, geometry, reader.PX_PER_MM)
    shared = reader.sample_page(gray, registration, geometry, reader.PX_PER_MM)
    own = reader.sample_page(gray, dataclasses.replace(registration, quarter=None), geometry, reader.PX_PER_MM)
    assert np.array_equal(shared.grid, own.grid)
    assert np.array_equal(shared.windows(rects_px).pixels, own.windows(rects_px).pixels)
    # a quarter of another image (a copier's 2-up page painted out) is never taken for this one's
    other = dataclasses.replace(registration, quarter=registration.quarter[:-1])
    assert np.array_equal(reader.sample_page(gray, other, geometry, reader.PX_PER_MM).grid, own.grid)


def test_patches_gathered_from_windows_are_the_pages_pixels(manifest, scanned) -> None:
    """``gather_patches`` takes each patch as a view of its window (no per-pixel indices): the same pixels
    as indexing the canonical page, and as indexing the window strip pixel by pixel."""
    gray, registration = scanned
    geometry = manifest.sheet
    rects_px = reader.rects_to_px(geometry.box_table(1).rects, geometry, reader.PX_PER_MM)
    page = reader.canonical_page(gray, registration, geometry, reader.PX_PER_MM)
    windows = CanonicalSample.of_page(page).windows(rects_px)
    x0 = np.round(rects_px[:, 0]).astype(int) - 3
    y0 = np.round(rects_px[:, 1]).astype(int) - 2
    size = (int(rects_px[:, 3].min()) + 4, int(rects_px[:, 2].min()) + 6)
    expected = np.stack([page[y : y + size[0], x : x + size[1]] for x, y in zip(x0, y0)])
    assert np.array_equal(bubbles.gather_patches(windows.pixels, x0, y0, size, windows=windows), expected)
    assert np.array_equal(bubbles.gather_patches(page, x0, y0, size), expected)
    # a patch reaching past its window's edge: the pixel-by-pixel path, the same pixels as before
    rows, cols = windows.locate(y0[:, None] + np.arange(size[0]), x0[:, None] - 10 + np.arange(size[1]))
    beyond = windows.pixels[rows[:, :, None], cols[:, None, :]]
    assert np.array_equal(bubbles.gather_patches(windows.pixels, x0 - 10, y0, size, windows=windows), beyond)
