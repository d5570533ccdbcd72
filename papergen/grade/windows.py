"""The canonical page, only where it is measured: windows sampled straight from the scan.

The reader measures a few hundred small boxes, the fiducials' interiors and
the printed question numbers — under a fifth of the canonical page (the
sheet warped upright to ``ppm`` pixels per millimetre, lighting divided out;
``reader.canonical_page``). Warping, flat-fielding and summing the whole page
cost several times the decode of the scan; ``CanonicalSample.of_scan``
instead maps each window's pixels through the homography and samples the
scan there (``cv2.remap``, bilinear, as ``warpPerspective`` does), divides
out the lighting with a background computed on a quarter-size canonical
page, and keeps the pixels it was asked for. The numbers measured on those
windows are the ones measured on the whole canonical page, up to a grey level
of interpolation rounding and the background's quarter-size estimate.

``CanonicalSample.of_page`` takes the windows from a canonical page that has
already been made (review crops, benches, tests), so both paths share every
measuring step after it.

All windows of one request have one size: they lie side by side in one
``(th, n·tw)`` image, and one summed-area table serves every box in it. Where
each window pixel falls on the canonical page depends on the sheet's
geometry only, so it is computed once per box table, not per page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

#: Rows and columns kept around each rectangle: room for a 5×5 blur's taps
#: (2 pixels), for the ring of paper read around each box (``bubbles.local_paper``:
#: 0.8 mm, 5 pixels at 6 px/mm — one window request serves boxes and rings, which
#: costs less than sampling the rings apart) and, left and right, for the
#: alignment check's look beside each box edge (``alignment.EDGE_SLACK_PX`` + gap
#: + width = 7 pixels).
ROW_MARGIN = 5
COL_MARGIN = 7
#: The canonical page's lighting is estimated at a quarter of its size (as ``registration.flat_field`` does).
BACKGROUND_STEP = 4


@dataclass(frozen=True)
class Windows:
    """Same-sized windows of the canonical page, side by side.

    pixels : (th, n·tw) uint8
        Window ``k`` is columns ``k·tw … (k+1)·tw``: canonical-page pixels from
        ``origins[k]`` on (flat-fielded, 255 = paper). Side by side, not
        stacked: OpenCV's filters work row by row, and long rows are cheap.
    origins : (n, 2) int64
        Each window's top-left pixel (row, column) on the canonical page.
    width : int
        ``tw``, the columns of one window.
    page_shape : (H, W)
        The canonical page's size.
    derived : dict
        What was worked out from the windows' places alone (``indices``):
        shared by every page's windows of one layout.
    """

    pixels: np.ndarray
    origins: np.ndarray
    width: int
    page_shape: tuple[int, int]
    derived: dict = field(default_factory=dict, compare=False, repr=False)

    def indices(self, key: tuple, make: Callable[[], Any]) -> Any:
        """``make()``, worked out once per layout: indices that depend on where the windows lie, never on their pixels.

        ``key`` names what ``make`` computes and everything it reads besides
        the windows' places (the rectangles, an inset…). Where each box's
        pixels lie in the strip is the same on every page of a sheet: the
        reader works it out on the first page and looks it up after.
        """
        key = (self.page_shape, *key)
        found = self.derived.get(key)
        if found is None:
            found = self.derived[key] = make()
        return found

    def locate(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Canonical-page rows and columns (axis 0 = window) as rows and columns of ``pixels``.

        Also valid for indices into a summed-area table of ``pixels`` (row
        ``r`` of the table = the sum of the rows above ``r``), as long as
        they stay within their own window.
        """
        n = len(self.origins)
        col0 = (self.origins[:, 1] - np.arange(n) * self.width).reshape((n,) + (1,) * (np.ndim(cols) - 1))
        return rows - self.origins[:, 0].reshape((n,) + (1,) * (np.ndim(rows) - 1)), cols - col0

    def with_pixels(self, pixels: np.ndarray) -> Windows:
        """The same windows holding other pixels (``pixels`` of ``self.pixels``' shape): the layout's indices are shared."""
        return Windows(pixels, self.origins, self.width, self.page_shape, self.derived)

    def summed(self) -> np.ndarray:
        """The summed-area table of ``pixels`` (int32), made once: the alignment check and ``measure`` both sum the box windows."""
        if "_summed" not in self.__dict__:
            table = cv2.integral(self.pixels, sdepth=cv2.CV_32S)
            table.flags.writeable = False
            object.__setattr__(self, "_summed", table)
        return self.__dict__["_summed"]


def window_layout(rects_px: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Where the windows covering ``rects_px`` (``x, y, w, h`` page pixels) start, and their common size.

    Returns the (n, 2) top-left pixels (row, column) and ``(th, tw)``: each
    window holds its rectangle's pixels (rounded either way) with
    ``ROW_MARGIN`` rows and ``COL_MARGIN`` columns around them.
    """
    rects_px = np.asarray(rects_px, dtype=float).reshape(-1, 4)
    x, y, w, h = rects_px.T
    rows = np.floor(y).astype(np.int64) - ROW_MARGIN
    cols = np.floor(x).astype(np.int64) - COL_MARGIN
    # round(y + h) ≤ floor(y) + ceil(h) + 1: one more row than the rectangle spans, then the margin.
    th = int(np.ceil(h.max(initial=1.0))) + 2 * ROW_MARGIN + 2
    tw = int(np.ceil(w.max(initial=1.0))) + 2 * COL_MARGIN + 2
    return np.stack([rows, cols], axis=1), (th, tw)


@functools.lru_cache(maxsize=16)
def _window_points(rects_key: bytes) -> tuple[np.ndarray, np.ndarray, int, dict]:
    """The windows' origins, width, every window pixel's canonical (column, row) as a (th, n·tw, 2) float32 image,
    and the layout's ``Windows.derived`` (empty at first).

    Depends on the sheet's geometry only: computed once per box table, not per page.
    """
    origins, (th, tw) = window_layout(np.frombuffer(rects_key, dtype=float).reshape(-1, 4))
    points = np.empty((th, len(origins) * tw, 2), np.float32)
    points[..., 0] = (origins[:, 1, None] + np.arange(tw)[None, :]).reshape(1, -1)
    points[..., 1] = origins[:, 0].repeat(tw)[None, :] + np.arange(th)[:, None]
    points.flags.writeable = False
    return origins, points, tw, {}


@functools.lru_cache(maxsize=16)
def _lighting_map(points_key: tuple, shape: tuple[int, int], background_shape: tuple[int, int], grid: bool) -> np.ndarray:
    """Where canonical pixels fall on the quarter-size background, as ``cv2.resize`` (linear) scales it up.

    ``points_key``: the rectangles' bytes (window pixels, ``_window_points``),
    or ``grid`` for every fourth pixel of the page. Geometry only: cached.
    """
    height, width = shape
    if grid:
        rows = np.arange(0, height, BACKGROUND_STEP, dtype=np.float32)[:, None]
        cols = np.arange(0, width, BACKGROUND_STEP, dtype=np.float32)[None, :]
        rows, cols = np.broadcast_arrays(rows, cols)
    else:
        points = _window_points(points_key[0])[1]
        cols, rows = points[..., 0], points[..., 1]
    lighting = _on_background(cols, rows, shape, background_shape)
    lighting.flags.writeable = False
    return lighting


def _on_background(cols: np.ndarray, rows: np.ndarray, shape: tuple[int, int], background_shape: tuple[int, int]) -> np.ndarray:
    """Canonical pixels ``cols``, ``rows`` (float32, one shape) as (…, 2) float32 points of the quarter-size background."""
    height, width = shape
    bh, bw = background_shape
    lighting = np.empty(rows.shape + (2,), np.float32)
    lighting[..., 0] = (cols + np.float32(0.5)) * np.float32(bw / width) - np.float32(0.5)
    lighting[..., 1] = (rows + np.float32(0.5)) * np.float32(bh / height) - np.float32(0.5)
    return lighting


#: ``cv2.remap`` refuses maps of 32,767 columns or more (its coordinates are
#: shorts): a sheet of many boxes, or windows grown for the paper around each
#: box, is sampled in slices of whole windows under that width.
REMAP_MAX_COLUMNS = 32_000


def _remap_wide(image: np.ndarray, points: np.ndarray, border: int, window_width: int) -> np.ndarray:
    """``cv2.remap(image, points)`` (bilinear) for a map of any width, in slices of whole windows.

    Parameters
    ----------
    image : (H, W) uint8
    points : (th, n·tw, 2) float32
        Where each output pixel samples ``image`` (column, row).
    border
        ``cv2.BORDER_CONSTANT`` (white beyond the image) or ``cv2.BORDER_REPLICATE``.
    window_width
        ``tw``: slices end on window boundaries, so no window is split.
    """
    step = max(1, REMAP_MAX_COLUMNS // window_width) * window_width
    slices = [
        cv2.remap(image, points[:, start:start + step], None, cv2.INTER_LINEAR, borderMode=border, borderValue=255)
        for start in range(0, points.shape[1], step)
    ]
    return slices[0] if len(slices) == 1 else np.hstack(slices)


@dataclass
class CanonicalSample:
    """The canonical page, sampled where it is measured.

    shape : (H, W)
        The canonical page's size in pixels.
    grid : (ceil(H/4), ceil(W/4)) uint8
        Every fourth pixel of the page each way (``page[::4, ::4]``): what
        the paper white is taken from.
    """

    shape: tuple[int, int]
    grid: np.ndarray
    _page: np.ndarray | None = None
    _scan: np.ndarray | None = None
    _to_scan: np.ndarray | None = None  # (3, 3) canonical page pixel → scan pixel
    _background: np.ndarray | None = None  # quarter-size lighting of the canonical page
    #: canonical pixels (N, 2) ``x, y`` → how far (pixels) the print there lies from them (``bend.Bend``); None: flat
    _displacement: Callable[[np.ndarray], np.ndarray] | None = None
    _cache: dict = field(default_factory=dict)

    @classmethod
    def of_page(cls, page: np.ndarray) -> CanonicalSample:
        """Windows cut from a canonical page already made (``reader.canonical_page``)."""
        return cls(page.shape, page[::BACKGROUND_STEP, ::BACKGROUND_STEP], _page=page)

    @classmethod
    def of_scan(
        cls, gray: np.ndarray, to_scan: np.ndarray, shape: tuple[int, int], kernel: int, quarter: np.ndarray | None = None,
    ) -> CanonicalSample:
        """Windows sampled from the scan ``gray`` through ``to_scan`` (canonical page pixel → scan pixel).

        ``shape`` is the canonical page's (H, W); ``kernel`` the lighting
        filter's size in canonical pixels (``registration.flat_field``'s);
        ``quarter`` the scan halved twice by ``cv2.pyrDown`` when it is at
        hand (``Registration.quarter``), made here otherwise.
        """
        height, width = shape
        step = BACKGROUND_STEP
        # The quarter-size canonical page, warped from the quarter-size scan: the
        # same Gaussian pyramid average ``flat_field`` takes of the warped page.
        small_scan = cv2.pyrDown(cv2.pyrDown(gray)) if quarter is None else quarter
        scale = np.diag([step, step, 1.0])
        small_shape = (-(-height // step), -(-width // step))  # two pyrDowns: ceil(ceil(n / 2) / 2)
        small_page = cv2.warpPerspective(
            small_scan, np.linalg.inv(scale) @ to_scan @ scale, (small_shape[1], small_shape[0]),
            flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255,
        )
        k = max(3, kernel // 4 | 1)
        background = cv2.dilate(small_page, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
        background = np.maximum(cv2.blur(background, (k, k)), 24)
        # every fourth pixel: point samples of the scan over the lighting there
        raw = cv2.warpPerspective(
            gray, to_scan @ scale, (small_shape[1], small_shape[0]),
            flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255,
        )
        lighting = cv2.remap(background, _lighting_map((), shape, background.shape, True), None, cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
        grid = cv2.divide(raw, lighting, scale=255)
        return cls(shape, grid, _scan=gray, _to_scan=to_scan, _background=background)

    def displaced(self, displacement: Callable[[np.ndarray], np.ndarray]) -> CanonicalSample:
        """The same page with its print moved: every window sampled ``displacement(centre)`` pixels from where it lies.

        ``displacement`` maps canonical pixels ((N, 2) ``x, y``) to where the
        print there lies, relative to them ((N, 2) pixels): a page that does not
        lie flat (``bend``). Each window moves as a whole, by the displacement
        at its centre: the field varies over centimetres, a window spans a few
        millimetres. The paper-white grid is not moved.
        """
        return CanonicalSample(self.shape, self.grid, _page=self._page, _scan=self._scan, _to_scan=self._to_scan,
                               _background=self._background, _displacement=displacement)

    def windows(self, rects_px: np.ndarray) -> Windows:
        """Windows covering each of ``rects_px`` (``x, y, w, h`` canonical-page pixels), in their order."""
        key = np.ascontiguousarray(rects_px, dtype=float).reshape(-1, 4).tobytes()
        if key not in self._cache:
            origins, points, tw, derived = _window_points(key)
            if self._displacement is not None:
                th = points.shape[0]
                centres = origins[:, ::-1] + np.array([tw / 2, th / 2])
                moved = np.repeat(np.asarray(self._displacement(centres), dtype=np.float32), tw, axis=0)
                points = points + moved[None, :, :]
            if self._page is not None:
                height, width = self.shape
                cols, rows = np.rint(points[..., 0]).astype(np.int64), np.rint(points[..., 1]).astype(np.int64)
                inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
                pixels = np.where(inside, self._page[np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)], 255).astype(np.uint8)
            else:
                raw = _remap_wide(self._scan, cv2.perspectiveTransform(points, self._to_scan), cv2.BORDER_CONSTANT, tw)
                on_background = (
                    _lighting_map((key,), self.shape, self._background.shape, False) if self._displacement is None
                    else _on_background(points[..., 0], points[..., 1], self.shape, self._background.shape)
                )
                lighting = _remap_wide(self._background, on_background, cv2.BORDER_REPLICATE, tw)
                pixels = cv2.divide(raw, lighting, scale=255)
            self._cache[key] = Windows(pixels, origins, tw, self.shape, derived)
        return self._cache[key]

    def whole(self) -> np.ndarray:
        """The whole canonical page, (H, W) uint8, flat-fielded: warped once (``warpPerspective`` walks the page far
        faster than sampling windows point by point) for a step that looks far around every box (``bend``).

        Not moved by a displacement: it is the page as the frame puts it.
        """
        if self._page is not None:
            return self._page
        if "whole" not in self._cache:
            height, width = self.shape
            warped = cv2.warpPerspective(
                self._scan, self._to_scan, (width, height), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT, borderValue=255,
            )
            lighting = cv2.resize(self._background, (width, height), interpolation=cv2.INTER_LINEAR)
            self._cache["whole"] = cv2.divide(warped, lighting, scale=255)
        return self._cache["whole"]

    def region(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Rows ``r0:r1``, columns ``c0:c1`` of the canonical page (cut at its edges), as one (rows, cols) uint8 image."""
        r1, c1 = min(r1, self.shape[0]), min(c1, self.shape[1])
        if self._page is not None:
            return self._page[r0:r1, c0:c1]
        if r1 <= r0 or c1 <= c0:
            return np.empty((0, 0), np.uint8)
        # one window exactly the region's size
        windows = self.windows(np.array([[c0 + COL_MARGIN, r0 + ROW_MARGIN, c1 - c0 - 2 * COL_MARGIN - 2, r1 - r0 - 2 * ROW_MARGIN - 2]], float))
        return windows.pixels
