"""Registration: where the answer sheet's frame lies in a scanned page.

The four black corner fiducials are found as large, solid, square connected
components of the flat-fielded page; any three of them fix the frame (the
fourth corner of the rectangle is completed). The rectangle alone cannot
tell 0° from 180° (or 90° from 270°), so both readings are tried and the one
whose QR-code corner looks like a QR code wins; the QR text is then decoded
from that corner. The result is a homography from frame millimetres to image
pixels, and ``warp_to_page`` produces the canonical page image the bubble
reader measures.

All functions are pure: arrays in, arrays or small dataclasses out.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from papergen.grade.components import foreground_components
from papergen.sheet.layout import SheetGeometry

#: Largest working size for finding fiducials (pixels; the page is halved
#: until it fits): on a 150–300 dpi scan 7 mm squares stay 10+ pixels wide,
#: and their centroids (what the frame is fitted to) are sub-pixel exact.
DETECT_WIDTH = 700
#: A second, finer look when the first finds fewer than four fiducials or no
#: readable QR code: in a phone photo the page may fill only part of the
#: picture, and a far corner's square shrinks to a few pixels.
DETECT_WIDTH_FINE = 1000
#: Canonical page resolution (pixels per millimetre) for bubble reading.
PX_PER_MM = 6.0
#: A page image whose short side is below this (pixels; an A4 page at 15 dpi)
#: cannot hold a readable sheet.
MIN_PAGE_SIDE = 120
#: How many of the best-fitting fiducial frames are checked against the QR code.
MAX_FRAME_CANDIDATES = 6


class RegistrationError(Exception):
    """The page could not be registered; ``reason`` is a slug for the store."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Registration:
    homography: np.ndarray  # (3, 3): frame mm → image pixels
    fiducials: int  # how many were found (3 or 4)
    rotation: int  # approximate page rotation in the image: 0, 90, 180, 270
    qr_text: str | None = None  # the QR code's text, when it could be read
    #: The corners (frame order 0 TL, 1 TR, 2 BL, 3 BR) whose squares built the frame, when a
    #: damaged page's frame was recovered from fewer than three (``recovery``); None: not known.
    corners: tuple[int, ...] | None = None
    #: The very image registered, halved twice by the Gaussian pyramid (``cv2.pyrDown``), from the
    #: fiducial search's own halvings: the reader's lighting estimate starts from the same image.
    #: None when the frame was found on another image (a copy with a sheet painted out, a recovery).
    quarter: np.ndarray | None = field(default=None, repr=False, compare=False)


def flat_field(gray: np.ndarray, kernel: int) -> np.ndarray:
    """Divide out uneven lighting: each pixel over the local paper brightness.

    Parameters
    ----------
    gray : (H, W) uint8
    kernel : int
        Size (pixels) of the max filter; larger than any dark feature to keep.

    Returns
    -------
    (H, W) uint8: 255 is the local paper white, 0 black (``gray`` scaled by
    255 over the background, saturating).
    """
    # Two pyramid steps: a quarter-size weighted average, at half the cost of INTER_AREA.
    small = cv2.pyrDown(cv2.pyrDown(gray))
    k = max(3, kernel // 4 | 1)
    background = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    # A box blur smooths the dilation's plateaus as well as a Gaussian here,
    # at a fixed cost whatever the kernel; the floor (which keeps a black
    # page black) is applied on the small image, where it is cheap.
    background = np.maximum(cv2.blur(background, (k, k)), 24)
    background = cv2.resize(background, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    # cv2.divide works in saturating uint8 (SIMD): several times faster than
    # a float division of a whole page.
    return cv2.divide(gray, background, scale=255)


@dataclass(frozen=True)
class _Blob:
    x: float  # centroid, detection-scale pixels
    y: float
    side: float  # sqrt(area)


def find_square_blobs(gray: np.ndarray, width: int = DETECT_WIDTH) -> tuple[list[_Blob], float]:
    """Solid dark squares in a page, largest first, at detection scale.

    Returns the blobs and the scale factor (detection px per image px). The
    page is halved (Gaussian pyramid) while its long side exceeds ``width``;
    blob centres are given in ``cv2.resize``'s convention — image pixel
    ``(x + 0.5) / scale - 0.5`` — whatever the shrinking.
    """
    # Pyramid halvings: a tenth of the cost of an INTER_AREA shrink by a whole
    # factor, and each output pixel a Gaussian average centred on input
    # pixel 2·i, so the squares' centroids stay sub-pixel exact.
    small, factor = _shrunk(gray, width)
    return _square_blobs(gray, small, factor)


def _shrunk(gray: np.ndarray, width: int) -> tuple[np.ndarray, int]:
    """``gray`` halved (``cv2.pyrDown``) while its long side exceeds ``width``, and how many times smaller it is."""
    return _Pyramid(gray).shrunk(width)


class _Pyramid:
    """A page and its Gaussian-pyramid halvings (``cv2.pyrDown``), each made once, when first asked for.

    ``register`` looks at two working sizes when the first look is not
    confirmed, and the reader's lighting estimate starts from the quarter-size
    level: all from the same halvings, never made twice.
    """

    def __init__(self, gray: np.ndarray) -> None:
        self.levels = [gray]

    def level(self, k: int) -> np.ndarray:
        """The page halved ``k`` times."""
        while len(self.levels) <= k:
            self.levels.append(cv2.pyrDown(self.levels[-1]))
        return self.levels[k]

    def shrunk(self, width: int) -> tuple[np.ndarray, int]:
        """``_shrunk``: the first level whose long side is at most ``width``, and its factor."""
        k = 0
        while max(self.level(k).shape) > width:
            k += 1
        return self.level(k), 2**k


#: Registration's ink: darker than 55 % of the local paper (``_square_blobs``).
SQUARE_INK = 140
#: …and a light print's grey squares, looked for only to say why a page found none (``faint_squares``).
FAINT_SQUARE_INK = 205
#: A corner square's side over the page's long side: 7 mm on 297 mm is 0.024, a scan's margins and scale move it by a fifth
#: (a filled answer box with its brackets, 0.016, stays out).
FIDUCIAL_SIDE_SHARE = (0.019, 0.032)


def faint_squares(gray: np.ndarray, width: int = DETECT_WIDTH) -> int:
    """How many squares the size of a corner square ``gray`` holds at a light print's grey (``FAINT_SQUARE_INK``).

    Asked only of a page registration found no frame in: three or more there are corner squares printed too
    light to be taken for ink (toner saving, a worn cartridge), not a page that is no answer sheet.
    """
    small, factor = _shrunk(gray, width)
    low, high = (share * max(small.shape) for share in FIDUCIAL_SIDE_SHARE)

    def sized(ink_below: int) -> int:
        return sum(low <= blob.side <= high for blob in _square_blobs(gray, small, factor, ink_below=ink_below)[0])

    # grey squares: found at a light print's grey, not at registration's ink (a black square on a page that is
    # no answer sheet is found at both)
    return max(0, sized(FAINT_SQUARE_INK) - sized(SQUARE_INK))


#: The least side (both ways) of a square looked for, over the page's long side: a 7 mm square on a 297 mm page is
#: ~0.024; a filled 5.2 × 3.2 mm answer box is 0.011 high and stays out.
MIN_SQUARE_SIDE = 0.012
#: A photo taken at an angle foreshortens the far squares below that one way (to about 0.6 of their other side at
#: 35°): where no frame was found, squares are looked for again with this share of it across their shorter side
#: (``_tilted_frame``: such a frame must still read the QR code and be true to size).
FORESHORTENED_SIDE = 0.6


def _square_blobs(
    gray: np.ndarray, small: np.ndarray, factor: int, ink_below: int = SQUARE_INK, shorter: float = 1.0,
    turned: bool = False,
) -> tuple[list[_Blob], float]:
    """``find_square_blobs`` on ``small``, ``gray`` shrunk ``factor`` times (``_shrunk``), ink darker than ``ink_below``;
    ``shorter``: the share of ``MIN_SQUARE_SIDE`` enough across a square's shorter side (``FORESHORTENED_SIDE``);
    ``turned``: squares standing at any angle count too (``turned_squares``), not only those upright in the image."""
    scale = 1.0 / factor
    flat = flat_field(small, kernel=max(31, int(max(small.shape) * 0.06)))
    dark = (flat < ink_below).astype(np.uint8)
    labels, stats, centroids = foreground_components(dark)
    min_side = max(small.shape) * MIN_SQUARE_SIDE
    w, h, area = (stats[:, k].astype(float) for k in (cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT, cv2.CC_STAT_AREA))
    # Every component at once (a page has hundreds: letters, boxes, the QR code's modules).
    with np.errstate(divide="ignore", invalid="ignore"):
        aspect, fill = w / h, area / (w * h)
    sized = (np.maximum(w, h) >= min_side) & (np.minimum(w, h) >= shorter * min_side)
    upright = sized & (aspect > 0.65) & (aspect < 1.55) & (fill > 0.78)
    if turned:
        upright |= turned_squares(labels, stats, sized & ~upright & (fill > TURNED_BOX_FILL))
    keep = np.flatnonzero(upright)
    sides = np.sqrt(area[keep])
    order = keep[np.argsort(-sides, kind="stable")][:10]
    blobs = []
    for (cx, cy), i in zip(centroids[order], order):
        side = float(np.sqrt(area[i]))
        # small pixel i is image pixel factor·i: found there, centred at full resolution
        x, y = _refined_centre(gray, cx * factor, cy * factor, side * factor) if factor > 1 else (cx, cy)
        blobs.append(_Blob((x + 0.5) * scale - 0.5, (y + 0.5) * scale - 0.5, side))
    return blobs, scale


def principal_moments(moments: dict) -> tuple[float, float]:
    """A shape's central second moments along its own axes, the larger first (``cv2.moments``' ``mu20``, ``mu11``,
    ``mu02`` turned to their principal axes): how far it spreads along its length and across it, whatever its turn."""
    a, b, c = moments["mu20"], moments["mu11"], moments["mu02"]
    spread = math.sqrt(((a - c) / 2) ** 2 + b**2)  # plain floats: the square root is correctly rounded either way
    return (a + c) / 2 + spread, (a + c) / 2 - spread


#: A square turned in the image (a page photographed or fed at an angle: a square turned 8° fills only 0.78 of its
#: upright bounding box, one turned 45° half of it; a photo's perspective shears it as well) is told by its second
#: moments, which turn with it: a solid parallelogram of any angle and shear fills exactly the rectangle of the same
#: moments (``turned_squares``). Components filling at least ``TURNED_BOX_FILL`` of their bounding box (a 45° square:
#: 0.5) are weighed so; each must fill ``TURNED_FILL`` of its moments' rectangle (thresholded corner squares: 0.93 or
#: more, turned or not; letters, brackets and hollow finder patterns far less) and be at most ``TURNED_ELONGATION`` as
#: long as wide, the upright test's bound.
TURNED_BOX_FILL = 0.45
TURNED_FILL = 0.88
TURNED_ELONGATION = 1.55


def turned_squares(labels: np.ndarray, stats: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Which components are solid squares at any angle: a boolean mask over ``stats``' rows, set only where ``candidates``.

    Parameters
    ----------
    labels : (H, W) int32
        ``foreground_components``' labels (row ``k`` of ``stats`` is label ``k + 1``).
    stats : (n, 5) int32
        Their boxes and areas.
    candidates : (n,) bool
        The components to weigh (each is measured in its own box: a few on a page).

    Returns
    -------
    (n,) bool
    """
    found = np.zeros(len(stats), bool)
    for k in np.flatnonzero(candidates):
        x, y, w, h, area = (int(v) for v in stats[k])
        major, minor = principal_moments(cv2.moments((labels[y:y + h, x:x + w] == k + 1).astype(np.uint8), binaryImage=True))
        # a solid run of n pixels has variance (n² − 1) / 12: the rectangle of these moments, in pixels
        long_side = math.sqrt(12 * major / area + 1)
        short_side = math.sqrt(max(12 * minor / area + 1, 1.0))
        found[k] = area >= TURNED_FILL * long_side * short_side and long_side <= TURNED_ELONGATION * short_side
    return found


#: How many passes ``_refined_centre`` makes (each recentres its window on the last centroid).
REFINE_PASSES = 2


def _refined_centre(gray: np.ndarray, cx: float, cy: float, side: float) -> tuple[float, float]:
    """A dark square's centroid in the full-resolution ``gray``, from a rough centre and side (image pixels).

    At a quarter of the size, where the square is found, thresholding moves
    its outline by up to half a (quarter-size) pixel on each side; at full
    resolution, with the edge pixels weighted by how dark they are, the
    centroid is exact to a small fraction of a pixel. The window is just
    larger than the square, so the printing beside a fiducial stays out.
    """
    half = side / 2 + 3
    bounds = None
    for _ in range(REFINE_PASSES):
        x0, y0 = max(0, int(round(cx - half))), max(0, int(round(cy - half)))
        x1, y1 = min(gray.shape[1], int(round(cx + half)) + 1), min(gray.shape[0], int(round(cy + half)) + 1)
        if (x0, y0, x1, y1) == bounds:
            break  # the same window as the last pass: it would give the same centroid again
        bounds = (x0, y0, x1, y1)
        window = gray[y0:y1, x0:x1]
        if window.size == 0:
            break
        lo, hi, _, _ = cv2.minMaxLoc(window)
        if hi - lo < 16:
            break
        # ink below a quarter of the range counts fully, paper above three quarters not at all, edges in between
        # (float32 throughout, in place: (lo + ¾·range − pixel) / (range / 2), clipped to 0 … 1)
        weights = window.astype(np.float32)
        np.subtract(np.float32(lo + 0.75 * (hi - lo)), weights, out=weights)
        np.divide(weights, np.float32((hi - lo) / 2), out=weights)
        np.minimum(np.maximum(weights, 0, out=weights), 1, out=weights)
        moments = cv2.moments(weights)
        if moments["m00"] <= 0:
            break
        cx, cy = x0 + moments["m10"] / moments["m00"], y0 + moments["m01"] / moments["m00"]
    return cx, cy


#: The quiet zone: a printed fiducial stands alone on clean paper. The nearest other print
#: (the title beside the top-left square) begins 0.86 square sides from a square's centre; the
#: square's own corners reach 0.71. Samples on circles of these radii (in square sides) …
QUIET_RADII = (0.78, 0.82)
QUIET_SAMPLES = 48
#: … count as ink below this share of the local paper (the paper: a high percentile of the
#: samples), and at most this share of them may: printed fiducials show at most 0.01 (424 of
#: them on simulated scans, photos, harsh photos and the committed scans), other square blobs
#: up to 0.6 (a staple's wire crossing the ring may put a square out: three are enough).
QUIET_INK_BELOW = 0.6
QUIET_MAX_INK = 0.06
#: Squareness: the ink within the quiet zone's inner circle, as long as it is wide (the square
#: root of its second moments' ratio, whatever the turn): printed squares measure 1.00–1.17
#: (perspective in photos), a filled 5.2 × 3.2 mm answer box mostly 1.3–1.8. With the quiet
#: zone, 26 of 322 other square blobs on those pages pass both, against all before; none of
#: the 432 fiducials fails.
MAX_ELONGATION = 1.25


@dataclass(frozen=True)
class FiducialLook:
    """How much a square blob looks like a printed fiducial (``fiducial_look``)."""

    ring_ink: float  # share of the quiet-zone ring that is ink
    elongation: float  # ink within the ring: long axis over short axis, 1 for a square

    @property
    def fiducial(self) -> bool:
        return self.ring_ink <= QUIET_MAX_INK and self.elongation <= MAX_ELONGATION


def fiducial_look(gray: np.ndarray, blob: _Blob, scale: float) -> FiducialLook:
    """Measure a square blob's quiet zone and squareness on the full-resolution page.

    A filled answer box, two filled boxes run together or a filled 准考证号
    digit can pass the blob finder's coarse tests, but a box is wider than
    tall, and boxes sit among printed brackets, digits and their neighbours.
    ``QUIET_SAMPLES`` points on each circle of ``QUIET_RADII``; points beyond
    the image (a cut page's edge) are left out. The ink inside the inner
    circle gives the elongation. Tens of microseconds a blob.
    """
    cx, cy = (blob.x + 0.5) / scale - 0.5, (blob.y + 0.5) / scale - 0.5
    side = blob.side / scale
    xs = np.round(cx + side * _RING[0]).astype(int)
    ys = np.round(cy + side * _RING[1]).astype(int)
    inside = (xs >= 0) & (ys >= 0) & (xs < gray.shape[1]) & (ys < gray.shape[0])
    if inside.sum() < QUIET_SAMPLES // 2:
        return FiducialLook(0.0, 1.0)  # mostly off the image: nothing to judge by
    ring = gray[ys[inside], xs[inside]]
    rank = int(0.9 * (ring.size - 1))
    ink = QUIET_INK_BELOW * float(np.partition(ring, rank)[rank])  # below this share of the paper
    ring_ink = np.count_nonzero(ring < ink) / ring.size
    # the ink inside the ring, sampled about 20 pixels to a side whatever the resolution
    step = max(1, int(side) // 20)
    reach = int(np.ceil(QUIET_RADII[0] * side))
    x0, y0 = max(0, int(round(cx)) - reach), max(0, int(round(cy)) - reach)
    patch = gray[y0:int(round(cy)) + reach + 1:step, x0:int(round(cx)) + reach + 1:step]
    # within the inner circle only: the patch's corners reach past it, to the title beside the top-left square
    rows = (y0 + step * np.arange(patch.shape[0]) - cy)[:, None]
    cols = (x0 + step * np.arange(patch.shape[1]) - cx)[None, :]
    moments = cv2.moments(((patch < ink) & (rows**2 + cols**2 <= reach**2)).astype(np.uint8), binaryImage=True)
    major, minor = principal_moments(moments)
    elongation = math.sqrt(major / minor) if minor > 0 else np.inf
    return FiducialLook(ring_ink, elongation)


#: The quiet-zone sample points around a unit square's centre: (2, len(QUIET_RADII) · QUIET_SAMPLES).
_ANGLES = np.linspace(0.0, 2 * np.pi, QUIET_SAMPLES, endpoint=False)
_RING = np.stack([(np.asarray(QUIET_RADII)[:, None] * np.cos(_ANGLES)).ravel(),
                  (np.asarray(QUIET_RADII)[:, None] * np.sin(_ANGLES)).ravel()])


def looks_like_fiducial(gray: np.ndarray, blob: _Blob, scale: float) -> bool:
    """Whether a square blob is square and stands in a clean quiet zone, as a printed fiducial does."""
    return fiducial_look(gray, blob, scale).fiducial


def _quad_order_index(points: np.ndarray) -> np.ndarray:
    """The order that puts 4 points clockwise (in image coordinates, y down), starting anywhere."""
    center = points.mean(axis=0)
    angles = np.arctan2(points[:, 1] - center[1], points[:, 0] - center[0])
    return np.argsort(angles)


def _complete_rectangle(points: np.ndarray) -> np.ndarray | None:
    """Given 3 corners of a rectangle, return all 4 (the missing one completed)."""
    best = None
    # each side's length once: a side is as long seen from either end (its vector only changes sign)
    lengths = [np.linalg.norm(points[(k + 1) % 3] - points[k]) for k in range(3)]  # sides 0–1, 1–2, 2–0
    for k in range(3):
        corner = points[k]
        a, b = points[(k + 1) % 3], points[(k + 2) % 3]
        u, v = a - corner, b - corner
        cos = abs(np.dot(u, v)) / (lengths[k] * lengths[(k + 2) % 3] + 1e-9)
        if best is None or cos < best[0]:
            best = (cos, corner, a, b)
    cos, corner, a, b = best
    if cos > 0.12:  # not a right angle: not three corners of our frame
        return None
    return np.array([corner, a, a + b - corner, b])


#: How far (log of the ratio) the squares of a candidate frame may be from the fiducial's size
#: relative to that frame: printed fiducials measure 0.91–1.13 of it (simulated scans, photos,
#: harsh photos, black-and-white copies; committed scans), a filled answer box 0.55–0.65 (it
#: passed the old 0.6 and built wrong frames from filled boxes).
FIDUCIAL_SIZE_TOLERANCE = 0.3


#: Each corner's successor round a quad (``np.roll(quad, -1, axis=0)``'s rows).
_NEXT_CORNER = [1, 2, 3, 0]


#: The corner squares of a frame are the same size within this ratio (largest over smallest side) …
SIZE_SPREAD = 1.6
#: … once each is measured against the size perspective gives a square where it lies (``_candidate_quads``'s
#: ``perspective``): a photo taken at an angle shows the near squares up to about 1.7 times the far ones' side.
#: Only combinations within this raw ratio are weighed that way.
PERSPECTIVE_SIZE_SPREAD = 2.5


def local_scale(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    """How much ``homography`` magnifies lengths at each point: the square root of its Jacobian's determinant.

    Parameters
    ----------
    homography : (3, 3) float
        Maps the points' plane (frame mm, say) to image pixels.
    points : (N, 2) float
        Where to measure, in the homography's source plane.

    Returns
    -------
    (N,) float
        Image pixels per source unit at each point (the geometric mean of the two directions' scales): under
        perspective a nearer part of the page is magnified more.
    """
    h = np.asarray(homography, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    w = pts @ h[2, :2] + h[2, 2]
    return np.sqrt(np.abs(np.linalg.det(h) / w**3))


_UNIT_SQUARE = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float32)


def _perspective_sides(quad: np.ndarray, sides: np.ndarray) -> np.ndarray:
    """The squares' sides at a quad's corners (in its order) over the magnification perspective gives each corner.

    The relative magnification at the corners depends on the quad alone: any rectangle mapped onto it gives the same
    ratios (an affine change of the source plane scales every corner's alike), so the unit square stands in for the frame.
    """
    homography = cv2.getPerspectiveTransform(_UNIT_SQUARE, quad.astype(np.float32))
    scale = local_scale(homography, _UNIT_SQUARE)
    return sides / (scale / scale.mean())


def _candidate_quads(blobs: list[_Blob], frame_aspect: float, fiducial_ratio: float, perspective: bool = False):
    """Yield (quad points ordered clockwise, fiducials used, badness, the blobs' indices).

    ``perspective``: four-square frames only, their squares' sizes compared after perspective's magnification at
    each corner is taken out (up to ``PERSPECTIVE_SIZE_SPREAD`` apart as measured; a photo taken at an angle).
    """
    pts = np.array([[b.x, b.y] for b in blobs], dtype=np.float64)
    sides = np.array([b.side for b in blobs])
    spread = PERSPECTIVE_SIZE_SPREAD if perspective else SIZE_SPREAD
    for size in (4,) if perspective else (4, 3):
        for combo in itertools.combinations(range(len(blobs)), size):
            # most combinations mix sizes (a fiducial and filled boxes): refused on plain floats, before any array
            chosen_sides = [blobs[i].side for i in combo]
            if max(chosen_sides) > spread * min(chosen_sides):
                continue
            chosen = pts[list(combo)]
            used_sides = sides[list(combo)]
            quad = chosen if size == 4 else _complete_rectangle(chosen)
            if quad is None:
                continue
            order = _quad_order_index(quad)
            quad = quad[order]
            if perspective:
                seen = _perspective_sides(quad, used_sides[order])
                if seen.max() > SIZE_SPREAD * seen.min():
                    continue
                combo = tuple(combo[k] for k in order)  # the squares in the quad's order, for ``_true_to_size``
            edges = np.linalg.norm(quad - quad[_NEXT_CORNER], axis=1)
            if edges.min() <= 0:
                continue
            short, long_ = sorted((edges[0] + edges[2], edges[1] + edges[3]))
            aspect = short / long_
            aspect_error = abs(np.log(aspect / frame_aspect))
            # fiducial side relative to the frame's short edge
            ratio = used_sides.mean() / (short / 2)
            size_error = abs(np.log(ratio / fiducial_ratio))
            opposite = abs(np.log(edges[0] / edges[2])) + abs(np.log(edges[1] / edges[3]))
            if aspect_error > 0.25 or size_error > FIDUCIAL_SIZE_TOLERANCE or opposite > 0.5:
                continue
            badness = aspect_error + 0.3 * size_error + 0.5 * opposite + (0.15 if size == 3 else 0.0)
            yield quad, size, badness, combo


def register(gray: np.ndarray, geometry: SheetGeometry) -> Registration:
    """Find the frame of ``geometry`` in ``gray``.

    Parameters
    ----------
    gray : (H, W) uint8
        The scanned page.
    geometry
        The sheet geometry from the exam manifest.

    Raises
    ------
    RegistrationError
        ``blank-page`` (nothing printed), ``not-a-sheet`` (no fiducial frame).
    """
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError("gray must be a (H, W) uint8 array")
    if min(gray.shape) < MIN_PAGE_SIDE:
        raise RegistrationError(
            "not-a-sheet", f"图像只有 {gray.shape[1]}×{gray.shape[0]} 像素，太小，不可能是一张扫描的答题卡"
        )
    if float(gray[::8, ::8].std()) < 4.0:
        raise RegistrationError("blank-page", "空白页：页面上没有任何内容")
    pyramid = _Pyramid(gray)
    try:
        coarse = _register_at(gray, geometry, DETECT_WIDTH, pyramid)
    except RegistrationError:
        coarse = None
    if coarse is not None and coarse.fiducials == 4 and coarse.qr_text is not None:
        return coarse
    # Three corners (one covered, or too small to see at the coarse scale) or
    # no QR code confirming the frame: look again at the finer scale, and
    # keep whichever reading is better confirmed.
    refused = None
    try:
        fine = _register_at(gray, geometry, DETECT_WIDTH_FINE, pyramid)
    except RegistrationError as error:
        fine, refused = None, error
    found = [r for r in (fine, coarse) if r is not None]
    if not any(r.fiducials == 4 and r.qr_text is not None for r in found):
        # A steep photo's far squares are found at one working size and its near ones at the other: a frame of
        # the squares of both, in perspective and true to size, under which the QR code reads (``_both_sizes_frame``).
        steep = _both_sizes_frame(gray, geometry, pyramid)
        if steep is not None:
            return steep
    if not found:
        raise refused
    return max(found, key=lambda r: (r.qr_text is not None, r.fiducials))


#: The sheets found so far covering less than this share of the image: look for another one
#: (a copier's 2-up mode puts two A4 sheets side by side on one A3 page: each covers under half).
ANOTHER_SHEET_BELOW = 0.55
MAX_SHEETS_PER_PAGE = 4


def page_outline(registration: Registration, geometry: SheetGeometry, grow_mm: float = 0.0) -> np.ndarray:
    """The paper's four corners in image pixels, ``(4, 2)`` float32 (grown by ``grow_mm`` on every side)."""
    pw, ph = geometry.page_size
    ox, oy = geometry.origin
    g = grow_mm
    corners = np.array([[[-ox - g, -oy - g], [pw - ox + g, -oy - g], [pw - ox + g, ph - oy + g], [-ox - g, ph - oy + g]]], np.float32)
    return cv2.perspectiveTransform(corners, registration.homography)[0]


def register_all(gray: np.ndarray, geometry: SheetGeometry) -> list[Registration]:
    """Every answer sheet on the page: usually one, two for a 2-up copy.

    The first sheet is ``register``'s. While the sheets found cover less than
    ``ANOTHER_SHEET_BELOW`` of the image, they are painted out (paper white,
    a few millimetres beyond their edges) and the rest of the image is
    searched again, so a second sheet beside the first is read instead of
    silently dropped. Ordered top to bottom, then left to right.

    Raises
    ------
    RegistrationError
        As ``register``, when not even one sheet is found.
    """
    found = [register(gray, geometry)]
    image_area = float(gray.shape[0] * gray.shape[1])
    rest = None
    while len(found) < MAX_SHEETS_PER_PAGE:
        covered = sum(abs(cv2.contourArea(page_outline(r, geometry))) for r in found)
        if covered >= ANOTHER_SHEET_BELOW * image_area:
            break
        rest = gray.copy() if rest is None else rest
        cv2.fillPoly(rest, [np.round(page_outline(found[-1], geometry, grow_mm=3.0)).astype(np.int32)], 255)
        # A sheet beside the first is printed at the same size: looked for at the working width that shows its
        # squares as large as the first sheet's at the coarse look (two sheets photographed side by side are each
        # half the image wide, and their squares too small at the width that suits a page of one sheet).
        # (its quarter-size image is of the painted copy, not of the page: dropped)
        share = float(np.ptp(page_outline(found[0], geometry)[:, 0])) / gray.shape[1]
        widths = dict.fromkeys((DETECT_WIDTH, int(min(DETECT_WIDTH / max(share, 0.05), 2 * DETECT_WIDTH_FINE))))
        another = None
        for width in widths:
            try:
                another = replace(_register_at(rest, geometry, width), quarter=None)
                break
            except RegistrationError:
                continue
        if another is None:
            break
        found.append(another)
    centres = [page_outline(r, geometry).mean(axis=0) for r in found]
    order = sorted(range(len(found)), key=lambda i: (round(centres[i][1] / (gray.shape[0] / 4)), centres[i][0]))
    return [found[i] for i in order]


def _register_at(gray: np.ndarray, geometry: SheetGeometry, width: int, pyramid: _Pyramid | None = None) -> Registration:
    """``register`` with fiducials searched at working size ``width`` (on ``pyramid``'s levels of ``gray``, when given)."""
    pyramid = _Pyramid(gray) if pyramid is None else pyramid
    small, factor = pyramid.shrunk(width)
    blobs, scale = _square_blobs(gray, small, factor)
    fw, fh = geometry.frame_size
    frame_aspect = min(fw, fh) / max(fw, fh)
    fiducial_ratio = geometry.fiducial_size / min(fw, fh)
    candidates = sorted(_candidate_quads(blobs, frame_aspect, fiducial_ratio), key=lambda q: q[2])
    # Only squares that stand square in clean paper, as the printed ones do, may make a frame.
    # Looked at lazily, best-fitting frames first: a normal page's first frame costs four looks.
    looks: dict[int, bool] = {}

    def look(i: int) -> bool:
        if i not in looks:
            looks[i] = looks_like_fiducial(gray, blobs[i], scale)
        return looks[i]

    quads = list(itertools.islice((q for q in candidates if all(look(i) for i in q[3])), MAX_FRAME_CANDIDATES))
    if not quads:
        tilted = _tilted_frame(gray, blobs, scale, geometry, look, pyramid, width)
        if tilted is not None:
            return tilted
        raise RegistrationError(
            "not-a-sheet", f"找不到答题卡四角的定位块（发现 {len(blobs)} 个候选），这一页可能不是答题卡"
        )
    readings = _frame_readings(quads, scale, geometry)  # (used, homography) for every plausible frame and orientation
    if not readings:
        raise RegistrationError("not-a-sheet", "定位块的排列与答题卡不符，这一页可能不是答题卡")
    # a frame is found: the reader's lighting estimate starts from the quarter-size level (one level on from a
    # half-size search, a quarter of a halving's cost; on the way to an eighth-size one)
    quarter = pyramid.level(2)
    # A QR code that reads where the frame puts it confirms both the frame and
    # its orientation: try the candidates, best-fitting first.
    for used, homography in readings:
        text = _decode_at(gray, homography, geometry)
        if text is not None:
            if used == 3:
                # A phone photo's code may read only through a frame a little off (three squares, the fourth
                # completed as if the page were flat): a frame of all four squares that puts the code in the
                # same place is the page's frame, confirmed by that code.
                four = next((h for u, h in readings if u == 4 and _same_qr_place(h, homography, geometry)), None)
                if four is None:
                    # A photo taken at an angle narrows the far edge: completing a fourth corner as if the page were
                    # flat puts the code millimetres from where four squares do. Four squares whose frame reads the
                    # same code are the page's frame.
                    four = next((h for u, h in readings if u == 4 and _decode_at(gray, h, geometry) == text), None)
                if four is None:
                    # So is one whose fourth square only failed the printed look (``_one_look_failed``: ink in its
                    # quiet zone — the title beside the top-left square, a foreshortened QR code beside the top-right
                    # one) when it puts the code in the same place or reads the code itself.
                    four = next((
                        h for _, h in _frame_readings(_one_look_failed(candidates, blobs, look), scale, geometry)
                        if _same_qr_place(h, homography, geometry) or _decode_at(gray, h, geometry) is not None
                    ), None)
                if four is not None:
                    return Registration(four, 4, _rotation(four), text, quarter=quarter)
            return Registration(homography, used, _rotation(homography), text, quarter=quarter)
    # A phone photo may put the paper's edge, or the table beyond it, in a corner square's quiet zone: that
    # square does not look printed, and three squares completed as if the page were flat miss the code. A
    # frame of four squares of which only that one failed the look is the page's frame when the code reads
    # where it puts it (the reader still checks the printed boxes and numbers before reading any).
    for used, homography in _frame_readings(_one_look_failed(candidates, blobs, look), scale, geometry):
        text = _decode_at(gray, homography, geometry)
        if text is not None:
            return Registration(homography, used, _rotation(homography), text, quarter=quarter)
    tilted = _tilted_frame(gray, blobs, scale, geometry, look, pyramid, width)
    if tilted is not None:
        return tilted
    # No quick read: take the best-fitting frame, orient it by where the
    # QR-like ink is, and try harder to read the code there.
    options = readings[:2] if len(readings) > 1 and readings[1][0] == readings[0][0] else readings[:1]
    used, homography = max(options, key=lambda item: _qr_likeness(gray, item[1], geometry))
    return Registration(homography, used, _rotation(homography), _decode_at(gray, homography, geometry, thorough=True),
                        quarter=quarter)


def _frame_readings(quads: list, scale: float, geometry: SheetGeometry, with_squares: bool = False) -> list[tuple]:
    """Every orientation of every candidate frame: (squares used, homography frame mm → image pixels), and with
    ``with_squares`` the quad's squares turned with it (frame corners TL, TR, BR, BL; when it lists them in its order)."""
    fw, fh = geometry.frame_size
    corners_mm = np.array([[0, 0], [fw, 0], [fw, fh], [0, fh]], dtype=np.float32)
    readings = []
    for quad, used, _, combo in quads:
        quad = ((quad + 0.5) / scale - 0.5).astype(np.float32)  # back to full-resolution pixel centres
        edges = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
        across, along = edges[0] + edges[2], edges[1] + edges[3]
        for shift in range(4):
            # frame TL→TR is the short side: the matching image edge must be short too
            # (starting at corner ``shift`` turns the edges round: odd shifts swap the two sums)
            if (across > along) if shift % 2 == 0 else (along > across):
                continue
            turn = (np.arange(4) + shift) % 4
            homography = cv2.getPerspectiveTransform(corners_mm, quad[turn])
            readings.append((used, homography, tuple(combo[k] for k in turn)) if with_squares else (used, homography))
    return readings


#: A square that failed the printed look still completes a four-square frame when it is the other three's size
#: (log of the ratio to their mean: the three that did look printed measure within 0.15 of each other on harsh
#: photos; a filled box or a 准考证号 digit 0.2 to 0.5 smaller) and lies within this many of their sides of where
#: they put the fourth corner as if the page were flat (perspective on simulated phone photos: up to 2.7; other
#: dark squares the three make a frame with: 5 or more).
RELAXED_SIZE_TOLERANCE = 0.15
RELAXED_CORNER_WITHIN = 4.0


def _one_look_failed(quads: list, blobs: list[_Blob], look: Callable[[int], bool]) -> list:
    """The four-square frames (best-fitting first, at most ``MAX_FRAME_CANDIDATES``) of which exactly one square
    fails ``look`` (``looks_like_fiducial``, each square looked at once), that square the other three's size
    and near the corner they complete (``RELAXED_*``)."""
    chosen = []
    for quad in quads:
        if quad[1] != 4:
            continue
        failed = [i for i in quad[3] if not look(i)]
        if len(failed) != 1:
            continue
        square = blobs[failed[0]]
        others = [blobs[i] for i in quad[3] if i != failed[0]]
        side = float(np.mean([b.side for b in others]))
        corners = _complete_rectangle(np.array([[b.x, b.y] for b in others]))
        if corners is None or abs(np.log(square.side / side)) > RELAXED_SIZE_TOLERANCE:
            continue
        completed = corners[2]  # ``_complete_rectangle`` puts the missing corner third
        if np.hypot(square.x - completed[0], square.y - completed[1]) > RELAXED_CORNER_WITHIN * side:
            continue
        chosen.append(quad)
        if len(chosen) == MAX_FRAME_CANDIDATES:
            break
    return chosen


#: A photo taken at an angle foreshortens the far squares: they measure up to about 1.45 as long as wide at a 35°
#: tilt, past ``MAX_ELONGATION``. A square in a clean quiet zone up to this long still makes a four-square frame —
#: but only one whose squares are true to its size and whose QR code reads where it puts it (``_tilted_frame``); the
#: reader checks its printed boxes and numbers before any is read, as for every frame.
TILTED_ELONGATION = 1.55


def _tilted_frame(
    gray: np.ndarray, blobs: list[_Blob], scale: float, geometry: SheetGeometry, look: Callable[[int], bool],
    pyramid: _Pyramid, width: int,
) -> Registration | None:
    """The frame of four squares, some foreshortened past ``MAX_ELONGATION`` (``TILTED_ELONGATION``), under which the
    QR code reads; None when there is none. Only pages no frame of printed-looking squares was read on come here.

    The squares' sizes are compared once perspective's magnification at each corner is taken out, and each must be
    true to the size the frame gives a corner square there (``_steep_frame``): a filled answer box beside a corner
    square, foreshortened as much, would otherwise complete a frame whose code reads. Looked for among the squares
    found, and then among squares looked for again (``pyramid`` at working size ``width``) down to
    ``FORESHORTENED_SIDE`` across, where the far ones were too thin to be found."""
    found = _steep_frame(gray, geometry, blobs, scale, _tilted_squares(gray, blobs, scale, look), pyramid)
    if found is not None:
        return found
    small, factor = pyramid.shrunk(width)
    thinner, _ = _square_blobs(gray, small, factor, shorter=FORESHORTENED_SIDE)
    if [(b.x, b.y) for b in thinner] == [(b.x, b.y) for b in blobs]:
        return None  # no square was too thin: nothing new to frame
    return _steep_frame(gray, geometry, thinner, scale, _tilted_squares(gray, thinner, scale), pyramid)


def _both_sizes_frame(gray: np.ndarray, geometry: SheetGeometry, pyramid: _Pyramid) -> Registration | None:
    """``_steep_frame`` of the squares found at both working sizes together (down to ``FORESHORTENED_SIDE`` across);
    None when there is no such frame. Only pages that no frame of four squares with a readable code was found on come here.

    A photo taken steeply shows the near corner squares nearly twice the far ones' side, and blurs the far ones: at the
    coarse size a far square may be too thin to count as a square, at the fine size the near ones' neighbours (filled
    boxes, the QR code's finder patterns) crowd it out of the largest blobs kept. Each size alone then finds three of
    the four corners (simulated tilted photos: 3 of 120 pages refused so at seed 41, 1 of 200 at seed 43).
    """
    merged: list[_Blob] = []
    out_scale = None
    for width in (DETECT_WIDTH_FINE, DETECT_WIDTH):
        small, factor = pyramid.shrunk(width)
        blobs, scale = _square_blobs(gray, small, factor, shorter=FORESHORTENED_SIDE, turned=True)
        if out_scale is None:
            out_scale = scale
        for blob in blobs:
            # the fine size's convention: image pixel (x + 0.5) / scale - 0.5, re-expressed at ``out_scale``
            moved = _Blob((blob.x + 0.5) / scale * out_scale - 0.5, (blob.y + 0.5) / scale * out_scale - 0.5,
                          blob.side / scale * out_scale)
            if all(np.hypot(moved.x - b.x, moved.y - b.y) > max(moved.side, b.side) for b in merged):
                merged.append(moved)
    if len(merged) < 4:
        return None
    return _steep_frame(gray, geometry, merged, out_scale, _tilted_squares(gray, merged, out_scale), pyramid)


def _tilted_squares(
    gray: np.ndarray, blobs: list[_Blob], scale: float, look: Callable[[int], bool] | None = None,
) -> Callable[[int], bool]:
    """Whether each of ``blobs`` may be a corner square of a frame taken at an angle: in a clean quiet zone and at most
    ``TILTED_ELONGATION`` long. Each is looked at once, when first asked; ``look`` (``looks_like_fiducial`` of the same
    blobs, cached) answers first: a square that looks printed qualifies."""
    answers: dict[int, bool] = {}

    def square_enough(i: int) -> bool:
        if look is not None and look(i):
            return True
        if i not in answers:
            seen = fiducial_look(gray, blobs[i], scale)
            answers[i] = seen.ring_ink <= QUIET_MAX_INK and seen.elongation <= TILTED_ELONGATION
        return answers[i]

    return square_enough


def _steep_frame(
    gray: np.ndarray, geometry: SheetGeometry, blobs: list[_Blob], scale: float, square_enough: Callable[[int], bool],
    pyramid: _Pyramid,
) -> Registration | None:
    """The best-fitting four-square frame of ``blobs`` true to size in perspective under which the QR code reads, or None."""
    fw, fh = geometry.frame_size
    steep = sorted(_candidate_quads(blobs, min(fw, fh) / max(fw, fh), geometry.fiducial_size / min(fw, fh), perspective=True),
                   key=lambda q: q[2])
    quads = list(itertools.islice((q for q in steep if all(square_enough(i) for i in q[3])), MAX_FRAME_CANDIDATES))
    return _reading_frame(gray, geometry, quads, scale, pyramid, np.array([b.side / scale for b in blobs]))


def _reading_frame(
    gray: np.ndarray, geometry: SheetGeometry, quads: list, scale: float, pyramid: _Pyramid, sides: np.ndarray,
) -> Registration | None:
    """The first of ``quads``' frames (every orientation; their squares in the quad's order) whose squares are true to
    size (``_true_to_size``; ``sides``: every blob's side in image pixels) and under which the QR code reads, or None."""
    for used, homography, combo in _frame_readings(quads, scale, geometry, with_squares=True):
        if _true_to_size(homography, sides[list(combo)], geometry):
            text = _decode_at(gray, homography, geometry)
            if text is not None:
                return Registration(homography, used, _rotation(homography), text, quarter=pyramid.level(2))
    return None


#: A corner square's side in a frame taken at an angle (the square root of its area) is the printed side magnified as
#: the frame magnifies at its centre (``local_scale``), within this factor either way: within 1.05 on the simulated
#: tilted photos whose code then read; wrong frames that two squares and two other dark blobs make on pages cropped
#: past two corners are off by up to 2.2 (this path adds 4 of them on 800 such pages, all refused by the reader's
#: alignment check, as every frame is checked).
TRUE_SIZE_TOLERANCE = 1.12


def _true_to_size(homography: np.ndarray, sides: np.ndarray, geometry: SheetGeometry) -> bool:
    """Whether squares of these sides (image pixels, at the frame's corners TL, TR, BR, BL) are corner squares under
    ``homography`` (frame mm → image pixels)."""
    fw, fh = geometry.frame_size
    expected = geometry.fiducial_size * local_scale(homography, np.array([[0, 0], [fw, 0], [fw, fh], [0, fh]], dtype=float))
    return bool(np.all(np.abs(np.log(sides / expected)) <= np.log(TRUE_SIZE_TOLERANCE)))


#: Two frames put the QR code in the same place when its corners lie this close (mm of the sheet).
QR_AGREE_MM = 2.5


def qr_corners(geometry: SheetGeometry) -> np.ndarray:
    """The QR code's corners on the sheet (frame mm), in the code's own order — top left, top right, bottom right,
    bottom left (it is printed upright): ``(4, 2)`` float64."""
    x, y, w, h = geometry.header.qr
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=float)


def blob_centres(blobs: list[_Blob], scale: float) -> np.ndarray:
    """The square blobs' centres as pixels of the full-size page (found at ``scale`` of it): ``(N, 2)`` float64."""
    return (np.array([[b.x, b.y] for b in blobs], dtype=float).reshape(-1, 2) + 0.5) / scale - 0.5


def _same_qr_place(first: np.ndarray, second: np.ndarray, geometry: SheetGeometry) -> bool:
    """Whether two frames (homographies, frame mm → image pixels) put the QR code's corners within ``QR_AGREE_MM``."""
    w = geometry.header.qr[2]
    corners = np.hstack([qr_corners(geometry), np.ones((4, 1))])
    a, b = corners @ first.T, corners @ second.T
    a, b = a[:, :2] / a[:, 2:], b[:, :2] / b[:, 2:]
    mm = np.linalg.norm(a[1] - a[0]) / w  # image pixels per mm along the code's top edge
    return bool(np.linalg.norm(a - b, axis=1).max() <= QR_AGREE_MM * mm)


def _rotation(homography: np.ndarray) -> int:
    origin = homography @ np.array([0, 0, 1.0])
    right = homography @ np.array([10, 0, 1.0])
    dx, dy = (right[:2] / right[2]) - (origin[:2] / origin[2])
    angle = np.degrees(np.arctan2(dy, dx)) % 360
    return int(round(angle / 90) * 90) % 360


def _qr_likeness(gray: np.ndarray, homography: np.ndarray, geometry: SheetGeometry) -> float:
    """How much the QR rectangle under ``homography`` looks like a QR code.

    A QR code is about half dark; under the wrong reading (rotated 180°) the
    same rectangle falls on the diagonally opposite corner of the frame,
    which holds paper or a few sparse boxes. The patch is flat-fielded first
    so that a shadow across a photographed page does not look like ink.
    """
    patch = _warp_rect(gray, homography, _grown(geometry.header.qr, 6.0), px_per_mm=2.0)
    if patch.size == 0:
        return -1.0
    flat = flat_field(patch, kernel=max(9, min(patch.shape) // 2))
    inner = flat[12:-12, 12:-12] if min(flat.shape) > 30 else flat
    return float((inner < 153).mean())  # darker than 60 % of the local paper


def _grown(rect, margin: float):
    x, y, w, h = rect
    return (x - margin, y - margin, w + 2 * margin, h + 2 * margin)


def _warp_rect(gray: np.ndarray, homography: np.ndarray, rect, px_per_mm: float) -> np.ndarray:
    x, y, w, h = rect
    out_w, out_h = max(1, int(w * px_per_mm)), max(1, int(h * px_per_mm))
    to_frame = np.array([[1 / px_per_mm, 0, x], [0, 1 / px_per_mm, y], [0, 0, 1]])
    return cv2.warpPerspective(
        gray, homography @ to_frame, (out_w, out_h), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=255,
    )


def page_shape(geometry: SheetGeometry, px_per_mm: float = PX_PER_MM) -> tuple[int, int]:
    """The canonical page's size in pixels: ``(round(297·ppm), round(210·ppm))`` rows, columns."""
    pw, ph = geometry.page_size
    return int(round(ph * px_per_mm)), int(round(pw * px_per_mm))


def page_to_image(registration: Registration, geometry: SheetGeometry, px_per_mm: float = PX_PER_MM) -> np.ndarray:
    """(3, 3): canonical page pixel (column, row, 1) → scanned image pixel, under ``registration``'s frame."""
    ox, oy = geometry.origin
    to_frame = np.array([[1 / px_per_mm, 0, -ox], [0, 1 / px_per_mm, -oy], [0, 0, 1]])
    return registration.homography @ to_frame


def warp_to_page(gray: np.ndarray, registration: Registration, geometry: SheetGeometry, px_per_mm: float = PX_PER_MM) -> np.ndarray:
    """The page as if printed straight: ``(round(297·ppm), round(210·ppm))`` uint8.

    Pixel ``(row, col)`` is page millimetre ``(col/ppm, row/ppm)``; a frame
    rectangle ``(x, y, w, h)`` sits at ``((origin + x)·ppm, (origin + y)·ppm)``.
    """
    rows, cols = page_shape(geometry, px_per_mm)
    return cv2.warpPerspective(
        gray, page_to_image(registration, geometry, px_per_mm), (cols, rows),
        flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255,
    )


#: Resolutions and interpolations tried, in order, when the QR code does not
#: read at once: thresholded (fax-like) and low-resolution scans decode at
#: some scales and not others.
_QR_ATTEMPTS = (
    (PX_PER_MM, cv2.INTER_LINEAR), (PX_PER_MM, cv2.INTER_NEAREST), (8.0, cv2.INTER_NEAREST),
    (4.0, cv2.INTER_AREA), (10.0, cv2.INTER_NEAREST), (10.0, cv2.INTER_LINEAR),
)


def _decode_at(gray: np.ndarray, homography: np.ndarray, geometry: SheetGeometry, thorough: bool = False) -> str | None:
    """Read the QR code where ``homography`` says it is (one attempt, or all with ``thorough``).

    The first attempt hands the decoder the code's corners as the frame puts
    them, skipping its search for finder patterns (a quarter of the cost).
    Error correction makes a read of anything else come back empty, so a
    wrong frame or orientation is still refused.
    """
    margin = 4.0
    rect = _grown(geometry.header.qr, margin)
    detector = cv2.QRCodeDetector()
    detectors = (detector,) if not thorough else (detector, cv2.QRCodeDetectorAruco())
    for attempt, (ppm, interpolation) in enumerate(_QR_ATTEMPTS if thorough else _QR_ATTEMPTS[:1]):
        x, y, w, h = rect
        to_frame = np.array([[1 / ppm, 0, x], [0, 1 / ppm, y], [0, 0, 1]])
        crop = cv2.warpPerspective(
            gray, homography @ to_frame, (int(w * ppm), int(h * ppm)),
            flags=cv2.WARP_INVERSE_MAP | interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=255,
        )
        if attempt == 0:
            qw, qh = geometry.header.qr[2:]
            corners = np.array([[0, 0], [qw, 0], [qw, qh], [0, qh]], np.float32) + margin
            text = _quietly(lambda: detector.decode(crop, (corners * ppm).reshape(1, 4, 2))[0])
            if text:
                return text
        for each in detectors:
            text = _quietly(lambda: each.detectAndDecode(crop)[0])
            if text:
                return text
    return None


def _quietly(read) -> str | None:
    """Run a QR decoder call; OpenCV's detector asserts on some degenerate crops, which means "no code here"."""
    try:
        return read()
    except cv2.error:
        return None


def qr_bounds(geometry: SheetGeometry, px_per_mm: float = PX_PER_MM) -> tuple[int, int, int, int]:
    """Rows ``r0, r1`` and columns ``c0, c1`` of the canonical page that hold the QR code and a 4 mm margin."""
    x, y, w, h = geometry.header.qr
    ox, oy = geometry.origin
    margin = 4.0
    r0 = max(0, int((oy + y - margin) * px_per_mm))
    r1 = int((oy + y + h + margin) * px_per_mm)
    c0 = max(0, int((ox + x - margin) * px_per_mm))
    c1 = int((ox + x + w + margin) * px_per_mm)
    return r0, r1, c0, c1


def decode_qr(page: np.ndarray, geometry: SheetGeometry, px_per_mm: float = PX_PER_MM) -> str | None:
    """The QR text from the canonical page, or ``None`` if it cannot be read."""
    r0, r1, c0, c1 = qr_bounds(geometry, px_per_mm)
    return decode_qr_crop(page[r0:r1, c0:c1])


def decode_qr_crop(crop: np.ndarray) -> str | None:
    """The QR text from the canonical page's QR region (``qr_bounds``), or ``None``."""
    if crop.size == 0:
        return None
    for factor in (1.0, 2.0, 3.0):
        big = crop if factor == 1.0 else cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        for candidate in (big, cv2.threshold(big, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]):
            text = _quietly(lambda: cv2.QRCodeDetector().detectAndDecode(candidate)[0])
            if text:
                return text
    return None
