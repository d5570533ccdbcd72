"""Measuring straight through the homography (issue 12, section 4): the windows the reader samples
from the scan hold the canonical page's own pixels, and every number measured on them is the one
measured on the whole canonical page."""

from __future__ import annotations

import dataclasses
import io
import warnings

import cv2
import numpy as np
import pytest
from PIL import Image

from papergen.exam.manifest import read_manifest
from papergen.grade import alignment, bubbles, reader
from papergen.grade import registration as registration_module
from papergen.grade import windows as windows_module
from papergen.grade.alignment import frame_alignment
from papergen.grade.components import foreground_components
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


# -- the second speed round: each fast path gives the very numbers of the plain one -------------------


def test_component_statistics_from_the_foreground_are_opencvs() -> None:
    """Labels, boxes, areas and centroids gathered from the foreground pixels only: OpenCV's own, to the bit."""
    rng = np.random.default_rng(12)
    images = [np.zeros((40, 30), np.uint8), np.ones((17, 23), np.uint8), (rng.random((300, 200)) < 0.03).astype(np.uint8)]
    blobs = np.zeros((439, 311), np.uint8)
    for _ in range(60):  # squares, bars and specks, some touching
        x, y, w, h = rng.integers(0, 300), rng.integers(0, 430), rng.integers(1, 40), rng.integers(1, 25)
        blobs[y : y + h, x : x + w] = 1
    images += [blobs, (rng.random((50, 60)) < 0.6).astype(np.uint8)]
    for image in images:
        count, labels, stats, centroids = cv2.connectedComponentsWithStats(image, connectivity=8)
        ours, own_stats, own_centroids = foreground_components(image)
        assert np.array_equal(ours, labels) and own_stats.dtype == stats.dtype
        assert np.array_equal(own_stats, stats[1:]) and np.array_equal(own_centroids, centroids[1:])


def test_pencil_mask_compared_as_integers_is_the_float_comparison() -> None:
    rng = np.random.default_rng(13)
    image = rng.integers(0, 256, (9, 40)).astype(np.uint8)
    levels = np.concatenate([rng.uniform(-20, 280, 30), [0.0, 1.0, 37.0, 254.5, 255.0, 256.0, np.nan, np.inf, -np.inf, 255.0000001]])
    assert np.array_equal(reader.below(image, levels), image < levels[None, :])


@pytest.mark.parametrize("count", [0, 1, 2, 7, 301])
def test_medians_by_sorting_are_numpys(count) -> None:
    rng = np.random.default_rng(count)
    for dtype in (np.float32, np.float64):
        values = (rng.random(count) * 255).astype(dtype)
        for sample in (values, np.where(np.arange(count) == count // 2, np.nan, values).astype(dtype)):
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # numpy's own warning for an empty array
                expected, ours = np.median(sample), bubbles._median(sample)
            assert np.array_equal(ours, expected, equal_nan=True) and np.asarray(ours).dtype == np.asarray(expected).dtype


def _edge_contrast_per_edge(windows, rects_px, slack=alignment.EDGE_SLACK_PX):
    """``alignment.edge_contrast`` as first written: one edge after the other."""
    table = cv2.integral(windows.pixels, sdepth=cv2.CV_32S)
    x, y, w, h = (rects_px[:, k] for k in range(4))
    r0 = np.round(y + 0.25 * h).astype(int)
    r1 = np.maximum(np.round(y + 0.75 * h).astype(int), r0 + 1)
    window = np.arange(-slack, slack + 1)
    outside = np.arange(slack + alignment.OUTSIDE_GAP_PX, slack + alignment.OUTSIDE_GAP_PX + alignment.OUTSIDE_WIDTH_PX)
    contrasts = []
    for edge, outward in ((x, -1), (x + w, 1)):
        cols = np.round(edge).astype(int)[:, None] + outward * np.concatenate([window, outside])[None, :]
        top, left = windows.locate(r0[:, None], cols)
        bottom, _ = windows.locate(r1[:, None], cols)
        sums = table[bottom, left + 1].astype(np.int64) - table[top, left + 1] - table[bottom, left] + table[top, left]
        means = sums / (r1 - r0)[:, None]
        contrasts.append(means[:, window.size :].mean(axis=1) - means[:, : window.size].min(axis=1))
    return np.stack(contrasts, axis=1)


def test_both_edges_in_one_pass_and_the_number_zones_in_one_request(manifest, scanned) -> None:
    gray, registration = scanned
    geometry = manifest.sheet
    rects_px = reader.rects_to_px(geometry.box_table(1).rects, geometry, reader.PX_PER_MM)
    sample = reader.sample_page(gray, registration, geometry, reader.PX_PER_MM)
    windows = sample.windows(rects_px)
    assert np.array_equal(alignment.edge_contrast(windows, rects_px), _edge_contrast_per_edge(windows, rects_px))
    # the summed-area table is made once and is the windows' own
    assert windows.summed() is windows.summed()
    assert np.array_equal(windows.summed(), cv2.integral(windows.pixels, sdepth=cv2.CV_32S))
    # the clean zones sampled with the digit zones: each zone's share as when sampled alone
    digits, clean = (reader.rects_to_px(zones, geometry, reader.PX_PER_MM) for zones in alignment.number_zones(geometry, 1))
    alone = [alignment.ink_shares(reader.sample_page(gray, registration, geometry, reader.PX_PER_MM), zones) for zones in (digits, clean)]
    together = alignment.ink_shares(sample, np.concatenate([digits, clean]))
    assert np.array_equal(together, np.concatenate(alone))


def _refined_every_pass(gray, cx, cy, side):
    """``registration._refined_centre`` as first written: every pass made, even over the same window."""
    half = side / 2 + 3
    for _ in range(registration_module.REFINE_PASSES):
        x0, y0 = max(0, int(round(cx - half))), max(0, int(round(cy - half)))
        x1, y1 = min(gray.shape[1], int(round(cx + half)) + 1), min(gray.shape[0], int(round(cy + half)) + 1)
        window = gray[y0:y1, x0:x1]
        if window.size == 0:
            break
        lo, hi = float(window.min()), float(window.max())
        if hi - lo < 16:
            break
        weights = np.clip((lo + 0.75 * (hi - lo) - window.astype(np.float32)) / np.float32((hi - lo) / 2), 0, 1)
        moments = cv2.moments(weights)
        if moments["m00"] <= 0:
            break
        cx, cy = x0 + moments["m10"] / moments["m00"], y0 + moments["m01"] / moments["m00"]
    return cx, cy


def test_a_fiducials_centre_skips_only_a_pass_over_the_same_window(scanned) -> None:
    gray, _ = scanned
    blobs, scale = find_square_blobs(gray)
    for blob in blobs:
        cx, cy, side = (blob.x + 0.5) / scale - 0.5, (blob.y + 0.5) / scale - 0.5, blob.side / scale
        for dx, dy in ((0, 0), (0.4, -0.3), (1.7, 2.2), (-2.5, 0.6)):  # rough centres as the quarter-size search leaves them
            assert registration_module._refined_centre(gray, cx + dx, cy + dy, side) == _refined_every_pass(gray, cx + dx, cy + dy, side)


def test_the_lighting_estimate_starts_from_the_fiducial_searchs_own_halvings(manifest, scanned) -> None:
    """A scan registered at an eighth of its size (or by the finer look, at a half) still hands the reader its
    quarter-size level: the very image ``of_scan`` would make with two more halvings of the page."""
    gray, _ = scanned
    big = cv2.resize(gray, None, fx=2.3, fy=2.3, interpolation=cv2.INTER_LINEAR)  # an eighth-size search
    for image in (gray, big):
        registration = register(image, manifest.sheet)
        assert np.array_equal(registration.quarter, cv2.pyrDown(cv2.pyrDown(image)))
    pyramid = registration_module._Pyramid(big)
    small, factor = pyramid.shrunk(registration_module.DETECT_WIDTH)
    assert factor == 8 and np.array_equal(small, cv2.pyrDown(cv2.pyrDown(cv2.pyrDown(big))))
    fine, fine_factor = pyramid.shrunk(registration_module.DETECT_WIDTH_FINE)  # the finer look: no halving made twice
    assert fine is pyramid.levels[fine_factor.bit_length() - 1] and len(pyramid.levels) == 4


def test_indices_worked_out_once_per_layout_serve_every_page(manifest, scanned) -> None:
    """Where each box's pixels lie in the window strip is the same on every page of a sheet: worked out on the
    first page, looked up after — and a page measured after another gives the numbers it gives alone."""
    gray, registration = scanned
    geometry = manifest.sheet
    table = geometry.box_table(1)
    rects_px = reader.rects_to_px(table.rects, geometry, reader.PX_PER_MM)
    other = np.ascontiguousarray(gray[:, ::-1])  # another page (its frame found mirrored): other pixels, one layout
    windows_module._window_points.cache_clear()
    alone = reader.measure(reader.sample_page(gray, registration, geometry, reader.PX_PER_MM), table, geometry)
    later = reader.sample_page(other, register(other, geometry), geometry, reader.PX_PER_MM)
    reader.measure(later, table, geometry)
    again = reader.sample_page(gray, registration, geometry, reader.PX_PER_MM)
    assert again.windows(rects_px).derived is later.windows(rects_px).derived and again.windows(rects_px).derived
    measured = reader.measure(again, table, geometry)
    for name in ("darkness", "coverage", "whole", "stroke", "paper", "off_letter", "film"):
        assert np.array_equal(getattr(measured, name), getattr(alone, name)), name
    assert alignment.edge_contrast(again.windows(rects_px), rects_px).tolist() == _edge_contrast_per_edge(again.windows(rects_px), rects_px).tolist()
