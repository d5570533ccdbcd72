"""Recovery: a frame for a page that lost corner squares, from the two left and the QR code.

Registration needs three of the four corner squares. A sheet fed crooked or
shifted on a scanner, or copied with a clipped margin, can keep only two;
a sticker or a thumb may hide a third. A flatbed scan or a copy does not
bend the page, so two squares still fix the frame as a similarity (scale,
turn, shift): every pair of square blobs is tried as every pair of corners
whose distance and square size it fits, and the hypothesis is kept only
when the QR code reads where that frame puts it (which also says which way
up the page is, and that the sheet is this exam's). The reader then checks
the frame against the page's own printed question numbers and box outlines
(``alignment.is_aligned``, unchanged) before any box is read: a frame built
from other dark squares is refused there.

Only pages that registration could not read come here; the normal path
pays nothing. Pure functions: arrays in, small dataclasses out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from papergen.grade.alignment import STRONG_AT, box_offsets, rects_to_px
from papergen.grade.registration import (
    DETECT_WIDTH,
    DETECT_WIDTH_FINE,
    MIN_PAGE_SIDE,
    PX_PER_MM,
    Registration,
    _decode_at,
    _grown,
    _rotation,
    blob_centres,
    find_square_blobs,
    flat_field,
    looks_like_fiducial,
    qr_corners,
    warp_to_page,
)
from papergen.sheet.layout import SheetGeometry

#: Two blobs are taken for a pair of corner squares only if each is this close (log of the
#: ratio) to the fiducial's size at the scale their distance implies, and to each other.
SIZE_TOLERANCE = 0.3
PAIR_SIZE_TOLERANCE = 0.3
#: A third blob this close (fiducial sides) to where a hypothesis puts a corner counts as that corner.
THIRD_CORNER_WITHIN = 0.35
#: How many hypotheses, best-fitting first, are checked against the QR code at each working size.
MAX_HYPOTHESES = 24
#: The corner pairs (frame order 0 TL, 1 TR, 2 BL, 3 BR) two surviving squares can be.
CORNER_PAIRS = tuple(itertools.combinations(range(4), 2))


@dataclass(frozen=True)
class Hypothesis:
    """Two blobs taken for two corner squares: the similarity they imply and how well they fit."""

    homography: np.ndarray  # (3, 3): frame mm → full-resolution image pixels
    corners: tuple[int, ...]  # the frame corners seen as squares (frame order)
    badness: float


def _similarity(frame_a: complex, frame_b: complex, image_a: complex, image_b: complex) -> np.ndarray:
    """The (3, 3) similarity taking frame points ``a``, ``b`` (mm, as complex x + iy) to the image points."""
    alpha = (image_b - image_a) / (frame_b - frame_a)
    beta = image_a - alpha * frame_a
    return np.array([[alpha.real, -alpha.imag, beta.real], [alpha.imag, alpha.real, beta.imag], [0.0, 0.0, 1.0]])


def hypotheses(gray: np.ndarray, geometry: SheetGeometry, width: int) -> list[Hypothesis]:
    """Every pair of square blobs taken as every pair of corners it fits, best-fitting first.

    A pair fits corners ``a``, ``b`` when both blobs are the fiducial's size at
    the scale their distance implies (``SIZE_TOLERANCE``). A third blob where
    the similarity puts another corner joins it (and the fit then uses all
    three); the similarity of a pair is otherwise kept as it is — a scan or a
    copy does not bend the page.
    """
    if min(gray.shape) < MIN_PAGE_SIDE:
        return []  # too small to hold a sheet (registration said so already)
    blobs, scale = find_square_blobs(gray, width)
    blobs = [b for b in blobs if looks_like_fiducial(gray, b, scale)]
    centres = [complex(b.x, b.y) for b in blobs]
    frame = [complex(x, y) for x, y in geometry.fiducial_centers()]
    side_mm = geometry.fiducial_size
    # detection pixels → full-resolution pixels (pixel centres)
    to_full = np.array([[1 / scale, 0.0, 0.5 / scale - 0.5], [0.0, 1 / scale, 0.5 / scale - 0.5], [0.0, 0.0, 1.0]])
    found: list[Hypothesis] = []
    for i, j in itertools.permutations(range(len(blobs)), 2):
        if abs(np.log(blobs[i].side / blobs[j].side)) > PAIR_SIZE_TOLERANCE:
            continue
        distance = abs(centres[j] - centres[i])
        for a, b in CORNER_PAIRS:
            px_per_mm = distance / abs(frame[b] - frame[a])
            size_error = max(abs(np.log(blobs[k].side / (side_mm * px_per_mm))) for k in (i, j))
            if size_error > SIZE_TOLERANCE:
                continue
            similarity = _similarity(frame[a], frame[b], centres[i], centres[j])
            corners = [a, b]
            points = [centres[i], centres[j]]
            for c in set(range(4)) - {a, b}:
                where = similarity @ np.array([frame[c].real, frame[c].imag, 1.0])
                near = [k for k, z in enumerate(centres)
                        if k not in (i, j) and abs(z - complex(where[0], where[1])) < THIRD_CORNER_WITHIN * side_mm * px_per_mm]
                if near:
                    corners.append(c)
                    points.append(centres[near[0]])
            homography = _fit(similarity, [frame[c] for c in corners], points)
            found.append(Hypothesis(to_full @ homography, tuple(sorted(corners)), size_error - 0.2 * (len(corners) - 2)))
    found.sort(key=lambda h: h.badness)
    return found


def _fit(similarity: np.ndarray, frame_points: list[complex], image_points: list[complex]) -> np.ndarray:
    """An affine fit through three or more corners; the pair's similarity when only two."""
    if len(frame_points) < 3:
        return similarity
    src = np.array([[z.real, z.imag, 1.0] for z in frame_points])
    dst = np.array([[z.real, z.imag] for z in image_points])
    affine, *_ = np.linalg.lstsq(src, dst, rcond=None)
    return np.vstack([affine.T, [0.0, 0.0, 1.0]])


def recover(gray: np.ndarray, geometry: SheetGeometry) -> Iterator[Registration]:
    """Frames confirmed by the QR code, built from the squares a damaged page kept; best-fitting first.

    Each yielded ``Registration`` read the QR code where its frame puts it;
    its ``fiducials`` counts the squares it was built from. Whether the frame
    is right is the reader's alignment check to decide.
    """
    seen: list[np.ndarray] = []
    for width in (DETECT_WIDTH, DETECT_WIDTH_FINE):
        for hypothesis in hypotheses(gray, geometry, width)[:MAX_HYPOTHESES]:
            if any(_same_frame(hypothesis.homography, other, geometry) for other in seen):
                continue
            text = _decode_at(gray, hypothesis.homography, geometry)
            if text is None:
                continue
            seen.append(hypothesis.homography)
            yield Registration(hypothesis.homography, len(hypothesis.corners), _rotation(hypothesis.homography), text,
                               corners=hypothesis.corners)


def _same_frame(h1: np.ndarray, h2: np.ndarray, geometry: SheetGeometry) -> bool:
    """Whether two frames put every corner within a millimetre's worth of pixels of each other."""
    corners = np.array([[x, y, 1.0] for x, y in geometry.fiducial_centers()]).T
    p1, p2 = h1 @ corners, h2 @ corners
    p1, p2 = p1[:2] / p1[2], p2[:2] / p2[2]
    px_per_mm = np.linalg.norm(p1[:, 1] - p1[:, 0]) / geometry.frame_size[0]
    return bool(np.all(np.linalg.norm(p1 - p2, axis=0) < px_per_mm))


#: The QR code's corners are found on a crop of it warped upright through the frame at this resolution (pixels per mm).
QR_CORNERS_PPM = 8.0
#: A square the frame was built from lies within this share of its side of the corner the frame puts there.
SQUARE_AT = 0.3


def qr_cornered(gray: np.ndarray, registration: Registration, geometry: SheetGeometry) -> Registration | None:
    """A three-square frame corrected with the QR code's own four corners; None when it cannot be.

    Three squares fix an affine frame: the fourth corner is completed as if
    the page were flat and square to the camera. A photo taken at an angle
    (the page tilted away from the phone) is a projective view, and that
    completion puts the far side of the sheet millimetres off. The QR code
    printed in the header is four more points whose places on the sheet are
    known: found in a crop warped upright through the frame
    (``cv2.QRCodeDetector.detect``, its corners in the code's own order, top
    left first), they and the three squares fix a homography by least
    squares. The result must read the same code where it puts it; whether it
    is right is still the reader's alignment check's to decide.
    """
    if registration.fiducials != 3 or registration.qr_text is None:
        return None
    x, y, w, h = _grown(geometry.header.qr, 4.0)
    ppm = QR_CORNERS_PPM
    crop_to_image = registration.homography @ np.array([[1 / ppm, 0, x], [0, 1 / ppm, y], [0, 0, 1]])
    crop = cv2.warpPerspective(gray, crop_to_image, (int(w * ppm), int(h * ppm)),
                               flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    try:
        found, points = cv2.QRCodeDetector().detect(crop)
    except cv2.error:  # the detector asserts on some degenerate crops: no code found
        found = False
    if not found or points is None:
        return None
    code_image = cv2.perspectiveTransform(points.reshape(1, 4, 2).astype(np.float64), crop_to_image)[0]
    code_frame = qr_corners(geometry)
    # the squares the frame was built from: those found where it puts a corner (the completed one has none)
    corners_frame = np.asarray(geometry.fiducial_centers(), dtype=float)
    corners_image = cv2.perspectiveTransform(corners_frame.reshape(1, 4, 2), registration.homography)[0]
    blobs, scale = find_square_blobs(gray, DETECT_WIDTH_FINE)
    centres, sides = blob_centres(blobs, scale), np.array([b.side / scale for b in blobs])
    squares = [k for k, corner in enumerate(corners_image)
               if np.any(np.linalg.norm(centres - corner, axis=1) <= SQUARE_AT * sides)]
    if len(squares) != 3:
        return None
    homography, _ = cv2.findHomography(np.concatenate([corners_frame[squares], code_frame]),
                                       np.concatenate([corners_image[squares], code_image]), 0)
    if homography is None or _decode_at(gray, homography, geometry) != registration.qr_text:
        return None
    return Registration(homography, 3, _rotation(homography), registration.qr_text)


#: ``qr_anchored``: where the QR code's corners put each corner square, a square is looked for within these radii
#: (mm of the sheet), one pass each, the frame fitted again after each: extrapolating from a 20 mm code to a page
#: 274 mm tall puts the far corners a centimetre or more off at first, within a millimetre after two passes.
ANCHOR_RADII_MM = (40.0, 15.0, 6.0)
#: A square found there must be the size of a corner square there (its side over the fiducial's, in the frame's scale).
ANCHOR_SIZE = (0.5, 1.6)


def qr_anchored(gray: np.ndarray, geometry: SheetGeometry, text: str, code_corners: np.ndarray) -> Registration | None:
    """A frame built from the QR code's four corners and the corner squares they point to; None when fewer than two.

    For a page no frame of squares was found on whose code reads anywhere
    (``code_corners``: (4, 2) image pixels in the code's own order, top left
    first — the code is printed upright in the header). The code's corners fix
    a homography of its own small square; extrapolated, it says roughly where
    each corner square is, and a square blob of a corner square's size found
    there (within ``ANCHOR_RADII_MM``) joins the fit, which narrows the next
    look. A photo taken at an angle loses squares to foreshortening and
    registration's flat-page tests; the code and two squares still fix a
    projective frame. The frame must read the code where it puts it; the
    reader checks the printed boxes and numbers before any is read.
    """
    code_frame = qr_corners(geometry)
    code_image = np.asarray(code_corners, dtype=np.float64).reshape(4, 2)
    homography = cv2.getPerspectiveTransform(code_frame.astype(np.float32), code_image.astype(np.float32)).astype(np.float64)
    corners_frame = np.asarray(geometry.fiducial_centers(), dtype=float)
    blobs, scale = find_square_blobs(gray, DETECT_WIDTH_FINE)
    if len(blobs) < 2:
        return None
    centres, sides = blob_centres(blobs, scale), np.array([b.side / scale for b in blobs])
    matched: dict[int, int] = {}
    for radius in ANCHOR_RADII_MM:
        predicted = cv2.perspectiveTransform(corners_frame.reshape(1, 4, 2), homography)[0]
        px_per_mm = np.linalg.norm(predicted[1] - predicted[0]) / abs(corners_frame[1, 0] - corners_frame[0, 0])
        distance = np.linalg.norm(centres[None, :, :] - predicted[:, None, :], axis=2)
        size = sides / (geometry.fiducial_size * px_per_mm)
        matched = {}
        for corner in range(4):
            near = np.where((distance[corner] <= radius * px_per_mm) & (size >= ANCHOR_SIZE[0]) & (size <= ANCHOR_SIZE[1]))[0]
            if len(near):
                matched[corner] = int(near[np.argmin(distance[corner, near])])
        if len(matched) < 2 or len(set(matched.values())) < len(matched):
            return None
        used = sorted(matched)
        homography, _ = cv2.findHomography(np.concatenate([corners_frame[used], code_frame]),
                                           np.concatenate([centres[[matched[k] for k in used]], code_image]), 0)
        if homography is None:
            return None
    if _decode_at(gray, homography, geometry) != text:
        return None
    return Registration(homography, len(matched), _rotation(homography), text, corners=tuple(sorted(matched)))


#: Refinement: how far (mm, either way) a printed box is looked for around where the frame
#: puts it (under half the 2.55 mm gap between two boxes) …
REFINE_REACH_MM = 1.2
#: … how many boxes must show their brackets (``alignment.STRONG_AT``), and how far (mm) a
#: box may lie from the fitted correction and still vote.
REFINE_MIN_BOXES = 12
REFINE_OUTLIER_MM = 0.25


def refine(gray: np.ndarray, registration: Registration, geometry: SheetGeometry, page_number: int,
           ppm: float = PX_PER_MM) -> Registration:
    """The frame corrected against the page's own printed box outlines (an affine correction in frame mm).

    Two squares fix a similarity; a scanner that stretches one axis a
    little, or a page not quite flat, leaves the far side of the sheet a
    fraction of a millimetre off. Each box's printed bracket, found within
    ``REFINE_REACH_MM`` of where the frame puts it (``alignment.box_offsets``:
    its strokes across, its ticks down), gives an offset; a least-squares
    affine fit of the offsets over the page (one pass dropping boxes off by
    ``REFINE_OUTLIER_MM``) corrects the frame. Pages whose grey outlines a
    black-and-white copy wiped out give too few boxes: the frame is returned
    unchanged. Whether the result is right is still ``alignment.is_aligned``'s
    to decide.
    """
    page = flat_field(warp_to_page(gray, registration, geometry, ppm), kernel=int(12 * ppm))
    rects = np.asarray(geometry.box_table(page_number).rects, dtype=float).reshape(-1, 4)
    found = box_offsets(page, rects_to_px(rects, geometry, ppm), int(round(REFINE_REACH_MM * ppm)))
    shown = (found.strength >= STRONG_AT) & ~found.edge
    centres = rects[shown, :2] + rects[shown, 2:] / 2
    offsets = found.shift[shown] / ppm
    fit_x = _affine_fit(np.column_stack([centres, offsets[:, 0]]))
    fit_y = _affine_fit(np.column_stack([centres, offsets[:, 1]]))
    if fit_x is None or fit_y is None:
        return registration
    correction = np.array([[1 + fit_x[1], fit_x[2], fit_x[0]], [fit_y[1], 1 + fit_y[2], fit_y[0]], [0.0, 0.0, 1.0]])
    homography = registration.homography @ correction
    return Registration(homography, registration.fiducials, _rotation(homography), registration.qr_text,
                        corners=registration.corners)


def _affine_fit(votes: np.ndarray) -> np.ndarray | None:
    """``(c, a_x, a_y)`` of offset ≈ c + a_x·x + a_y·y over the votes ((N, 3): x, y, offset, mm), refitted without
    outliers; None if too few."""
    if len(votes) < REFINE_MIN_BOXES:
        return None
    data = np.asarray(votes)
    design = np.column_stack([np.ones(len(data)), data[:, 0], data[:, 1]])
    keep = np.ones(len(data), bool)
    for _ in range(2):
        coefficients, *_ = np.linalg.lstsq(design[keep], data[keep, 2], rcond=None)
        keep = np.abs(design @ coefficients - data[:, 2]) <= REFINE_OUTLIER_MM
        if keep.sum() < REFINE_MIN_BOXES:
            return None
    return coefficients
