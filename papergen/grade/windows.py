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

All windows of one request have one size: they are stacked as one
``(n·th, tw)`` image, and one summed-area table serves every box in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

#: Rows and columns kept around each rectangle: room for a 5×5 blur's taps
#: (2 pixels) and, left and right, for the alignment check's look beside each
#: box edge (``alignment.EDGE_SLACK_PX`` + gap + width = 7 pixels).
ROW_MARGIN = 2
COL_MARGIN = 7
#: The canonical page's lighting is estimated at a quarter of its size (as ``registration.flat_field`` does).
BACKGROUND_STEP = 4


@dataclass(frozen=True)
class Windows:
    """Same-sized windows of the canonical page, stacked.

    pixels : (n·th, tw) uint8
        Window ``k`` is rows ``k·th … (k+1)·th``: canonical-page pixels from
        ``origins[k]`` on (flat-fielded, 255 = paper).
    origins : (n, 2) int64
        Each window's top-left pixel (row, column) on the canonical page.
    height : int
        ``th``, the rows of one window.
    """

    pixels: np.ndarray
    origins: np.ndarray
    height: int
    page_shape: tuple[int, int]  # the canonical page's (H, W)

    def locate(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Canonical-page rows and columns (axis 0 = window) as rows and columns of ``pixels``.

        Also valid for indices into a summed-area table of ``pixels`` (row
        ``r`` of the table = the sum of the rows above ``r``), as long as
        they stay within their own window.
        """
        n = len(self.origins)
        shape = (n,) + (1,) * (np.ndim(rows) - 1)
        row0 = (self.origins[:, 0] - np.arange(n) * self.height).reshape(shape)
        return rows - row0, cols - self.origins[:, 1].reshape((n,) + (1,) * (np.ndim(cols) - 1))

    def summed(self) -> np.ndarray:
        """The summed-area table of ``pixels`` (int32)."""
        return cv2.integral(self.pixels, sdepth=cv2.CV_32S)


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
    _cache: dict = field(default_factory=dict)

    @classmethod
    def of_page(cls, page: np.ndarray) -> CanonicalSample:
        """Windows cut from a canonical page already made (``reader.canonical_page``)."""
        return cls(page.shape, page[::BACKGROUND_STEP, ::BACKGROUND_STEP], _page=page)

    @classmethod
    def of_scan(cls, gray: np.ndarray, to_scan: np.ndarray, shape: tuple[int, int], kernel: int) -> CanonicalSample:
        """Windows sampled from the scan ``gray`` through ``to_scan`` (canonical page pixel → scan pixel).

        ``shape`` is the canonical page's (H, W); ``kernel`` the lighting
        filter's size in canonical pixels (``registration.flat_field``'s).
        """
        height, width = shape
        step = BACKGROUND_STEP
        # The quarter-size canonical page, warped from the quarter-size scan: the
        # same Gaussian pyramid average ``flat_field`` takes of the warped page.
        small_scan = cv2.pyrDown(cv2.pyrDown(gray))
        scale = np.diag([step, step, 1.0])
        small_shape = (-(-height // step), -(-width // step))  # two pyrDowns: ceil(ceil(n / 2) / 2)
        small_page = cv2.warpPerspective(
            small_scan, np.linalg.inv(scale) @ to_scan @ scale, (small_shape[1], small_shape[0]),
            flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255,
        )
        k = max(3, kernel // 4 | 1)
        background = cv2.dilate(small_page, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
        background = np.maximum(cv2.blur(background, (k, k)), 24)
        sample = cls(shape, np.empty(0, np.uint8), _scan=gray, _to_scan=to_scan, _background=background)
        # every fourth pixel: point samples of the scan over the lighting there
        raw = cv2.warpPerspective(
            gray, to_scan @ scale, (small_shape[1], small_shape[0]),
            flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255,
        )
        rows = np.arange(small_shape[0], dtype=np.float32) * step
        cols = np.arange(small_shape[1], dtype=np.float32) * step
        sample.grid = cv2.divide(raw, sample._lighting(rows[:, None], cols[None, :]), scale=255)
        return sample

    def _lighting(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The background at canonical pixels (broadcast ``rows``, ``cols``), as ``flat_field`` resizes it up."""
        height, width = self.shape
        bh, bw = self._background.shape
        map_y = (rows + np.float32(0.5)) * np.float32(bh / height) - np.float32(0.5)
        map_x = (cols + np.float32(0.5)) * np.float32(bw / width) - np.float32(0.5)
        map_x, map_y = np.broadcast_arrays(map_x, map_y)
        shape = map_x.shape
        return cv2.remap(
            self._background, np.ascontiguousarray(map_x, np.float32).reshape(-1, shape[-1]),
            np.ascontiguousarray(map_y, np.float32).reshape(-1, shape[-1]),
            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
        ).reshape(shape)

    def windows(self, rects_px: np.ndarray) -> Windows:
        """Windows covering each of ``rects_px`` (``x, y, w, h`` canonical-page pixels), in their order."""
        rects_px = np.asarray(rects_px, dtype=float).reshape(-1, 4)
        key = rects_px.tobytes()
        if key not in self._cache:
            origins, (th, tw) = window_layout(rects_px)
            rows = origins[:, 0, None, None] + np.arange(th)[None, :, None]
            cols = origins[:, 1, None, None] + np.arange(tw)[None, None, :]
            if self._page is not None:
                height, width = self.shape
                inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
                pixels = np.where(inside, self._page[np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)], 255).astype(np.uint8)
            else:
                pixels = self._sampled(rows.astype(np.float32), cols.astype(np.float32))
            self._cache[key] = Windows(pixels.reshape(-1, tw), origins, th, self.shape)
        return self._cache[key]

    def region(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Rows ``r0:r1``, columns ``c0:c1`` of the canonical page (cut at its edges), as one (rows, cols) uint8 image."""
        r1, c1 = min(r1, self.shape[0]), min(c1, self.shape[1])
        if self._page is not None:
            return self._page[r0:r1, c0:c1]
        if r1 <= r0 or c1 <= c0:
            return np.empty((0, 0), np.uint8)
        rows = np.arange(r0, r1, dtype=np.float32)[None, :, None]
        cols = np.arange(c0, c1, dtype=np.float32)[None, None, :]
        return self._sampled(rows, cols)[0]

    def _sampled(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Flat-fielded canonical pixels at broadcast ``rows`` (n, th, 1) and ``cols`` (n, 1, tw)."""
        m = self._to_scan.astype(np.float32)
        # The homography per pixel, from per-window and per-offset parts: one full-size operation each.
        den = (m[2, 0] * cols + m[2, 1] * rows) + m[2, 2]
        map_x = ((m[0, 0] * cols + m[0, 1] * rows) + m[0, 2]) / den
        map_y = ((m[1, 0] * cols + m[1, 1] * rows) + m[1, 2]) / den
        n, th, tw = map_x.shape
        raw = cv2.remap(
            self._scan, map_x.reshape(n * th, tw), map_y.reshape(n * th, tw), cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT, borderValue=255,
        )
        lighting = self._lighting(rows, cols).reshape(n * th, tw)
        return cv2.divide(raw, lighting, scale=255).reshape(n, th, tw)
