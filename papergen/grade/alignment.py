"""Alignment: whether the printed box outlines lie where a frame puts them.

Registration finds a frame from dark squares; nothing in those squares says
they are the printed fiducials and not, say, four filled answer boxes. The
page itself can say: every box of the sheet is printed as a light grey
bracket "[ A ]", so under the right frame a thin vertical stroke lies at
each box's left and right edge, darker than the paper just outside it.
Under a wrong frame most predicted edges fall on paper, letters or pencil.

``frame_alignment`` measures that on the canonical page, or on the windows
of it the reader samples (a pure function: arrays in, a small dataclass out); ``is_aligned`` decides from those numbers
alone, and the reader refuses a page whose frame is not.

A filled box is dark on its edges too, so marks do not lower the score;
spill over an edge, a smudge or a covered box does, for that box only — the
score is the share of boxes whose edges show, robust to a few of them.
A black-and-white copy loses the light grey outlines altogether (its
threshold falls between the outline's grey and the paper), so the question
numbers, printed black, are checked too: each where the frame puts it, and
clean paper one row beyond each block of questions, where a frame moved by
a row would find a number.

The strokes say whether a frame fits across the page; the brackets' short
top and bottom ticks say whether it fits down the page (``tick_contrast``,
``Alignment.ticked``: not part of ``is_aligned``, a sign that the page may
not lie flat). ``box_offsets`` measures how far off each box's bracket is
printed, for ``bend`` (a page that does not lie flat) and
``recovery.refine`` (a frame from two corner squares).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from papergen.grade.bubbles import LIGHT_PRINT_BLACK, array_key, gather_patches
from papergen.grade.windows import CanonicalSample, Windows
from papergen.sheet.layout import Rect, SheetGeometry

#: How far (pixels, either way) a printed edge may lie from where the frame
#: puts it and still count as there: registration and paper curl leave a
#: right frame within about 0.3 mm; a wrong one is off by millimetres.
EDGE_SLACK_PX = 2
#: Where "just outside" the edge is measured: this many pixels beyond the
#: slack window, this many wide.
OUTSIDE_GAP_PX = 2
OUTSIDE_WIDTH_PX = 3
#: An edge shows when it is this many grey levels (of the flat-fielded page,
#: paper = 255) darker than the paper just outside it. The printed outline is
#: grey 0.45 drawn 0.18 mm wide: on a 6 px/mm page it reads 60–140 levels
#: below the paper; noise and JPEG ringing stay within about 10.
EDGE_SHOWS_AT = 24
#: Question numbers: ink is darker than half the paper (the numbers are
#: black, so they survive any copy); a number's last digit (about 1.4 mm
#: wide) holds at least ``DIGIT_INK`` of ink (right frames: 0.23 at the least,
#: 0.31 at the 1st percentile; a box's bracket stroke that a frame one box
#: pitch off puts there: 0.14 at the 95th), a clean zone at most ``CLEAN_INK``.
INK_BELOW = 128
#: A page printed light (toner saving, a worn cartridge, a duplicator's grey; ``bubbles.is_light_print``) prints
#: its numbers grey, like its fiducials: there ink is darker than this share of the way from the page's printed
#: black to its paper (``ink_level``). A 60 % print's squares read 100–120 on the flat-fielded page, and its thinned
#: digits fell under ``DIGIT_INK`` at ``INK_BELOW`` (19 of 30 such pages refused). Its grey box outlines are lighter
#: too: ``EDGE_SHOWS_AT`` shrinks with the print's range (``edge_level``).
PRINT_INK_SHARE = 0.4
DIGIT_MM = 1.4
DIGIT_HEIGHT_MM = 1.85
#: How far above its baseline a printed text line reaches (13 pt title and all smaller).
TEXT_HEIGHT_MM = 5.0
DIGIT_INK = 0.18
CLEAN_INK = 0.04


@dataclass(frozen=True)
class Alignment:
    """How well a frame's predicted box edges match the printed ones.

    boxes : int
        Boxes measured.
    outlined : float
        Share of them (0 … 1) whose left and right edges both show where
        predicted: about 1 under the right frame.
    contrast : (N,) float64
        Each box's weaker edge contrast (grey levels, paper minus edge).
    numbers : int
        Questions on the page (whose printed numbers are looked for).
    numbered : float
        Share (0 … 1) of the number zones holding ink and of the clean zones
        one row beyond each block holding none (``number_zones``): about 1
        under the right frame on any page — the numbers are black and survive
        a black-and-white copy that drops the grey outlines.
    ticked : float
        Share (0 … 1) of boxes whose top and bottom ticks both show where
        predicted (``tick_contrast``): the frame's fit down the page, which
        ``outlined`` does not see. Not part of ``is_aligned``: it says when a
        page may not lie flat (``bend.checked_frame``).
    """

    boxes: int
    outlined: float
    contrast: np.ndarray
    numbers: int
    numbered: float
    ticked: float = 0.0


def edge_contrast(windows: Windows, rects_px: np.ndarray, slack: int = EDGE_SLACK_PX) -> np.ndarray:
    """How much darker each box's left and right edges are than the paper just outside them.

    Parameters
    ----------
    windows
        The canonical page around each box (``CanonicalSample.windows(rects_px)``).
    rects_px : (N, 4) float
        Boxes as ``x, y, w, h`` in page pixels.

    Returns
    -------
    (N, 2) float64: grey levels, left edge then right edge. Each edge is the
    darkest one-pixel column within ``slack`` of where it is predicted,
    averaged over the middle half of the box's height (the brackets' short
    horizontal ticks and the letter stay out of it).
    """
    table = windows.summed()
    top, bottom, left, rows, inner = windows.indices(("edges", slack, array_key(rects_px)),
                                                     lambda: _edge_columns(windows, rects_px, slack))
    # column means over rows r0:r1 straight from the summed-area table: (N, 2, K)
    sums = (table[bottom, left + 1].astype(np.int64) - table[top, left + 1]
            - table[bottom, left] + table[top, left])
    means = sums / rows
    stroke = means[:, :, :inner].min(axis=2)
    paper = means[:, :, inner:].mean(axis=2)
    return paper - stroke


def _edge_columns(windows: Windows, rects_px: np.ndarray, slack: int) -> tuple:
    """Where ``edge_contrast`` reads, worked out once per layout: the rows above and below the middle half of each
    box and the columns at and beside both its edges, in ``windows.pixels`` ((N, 2, K) columns, left edge looking
    left, right edge looking right); each column's row count; how many of the K columns are the slack window."""
    x, y, w, h = (rects_px[:, k] for k in range(4))
    r0 = np.round(y + 0.25 * h).astype(int)
    r1 = np.maximum(np.round(y + 0.75 * h).astype(int), r0 + 1)
    # Column offsets from each edge, outward positive: the slack window, then the outside band.
    window = np.arange(-slack, slack + 1)
    outside = np.arange(slack + OUTSIDE_GAP_PX, slack + OUTSIDE_GAP_PX + OUTSIDE_WIDTH_PX)
    offsets = np.concatenate([window, outside])
    centres = np.round(np.stack([x, x + w], axis=1)).astype(int)[:, :, None]
    cols = centres + np.array([-1, 1])[None, :, None] * offsets[None, None, :]
    top, left = windows.locate(r0[:, None, None], cols)
    bottom, _ = windows.locate(r1[:, None, None], cols)
    rows = (r1 - r0)[:, None, None]
    for array in (top, bottom, left, rows):
        array.flags.writeable = False
    return top, bottom, left, rows, window.size


def tick_contrast(windows: Windows, rects_px: np.ndarray, slack: int = EDGE_SLACK_PX) -> np.ndarray:
    """How much darker each box's top and bottom ticks are than the paper just beyond them.

    The across twin of ``edge_contrast``: a frame that puts a box a
    millimetre too high or too low still finds its two strokes (they are
    averaged over the middle half of the box), not its ticks.

    Parameters
    ----------
    windows
        The canonical page around each box (``CanonicalSample.windows(rects_px)``).
    rects_px : (N, 4) float
        Boxes as ``x, y, w, h`` in page pixels.

    Returns
    -------
    (N, 2) float64: grey levels, top then bottom. Each is the darkest one-pixel
    row within ``slack`` of where it is predicted, averaged over the bracket's
    two short ticks, against the ``TICK_BEYOND_PX`` rows just beyond them.
    """
    table = windows.summed()
    rows, left, right, width, inner = windows.indices(("ticks", slack, array_key(rects_px)),
                                                      lambda: _tick_rows(windows, rects_px, slack))
    # row sums over both ticks' columns straight from the summed-area table: (N, 2, K)
    sums = sum(table[rows + 1, c1].astype(np.int64) - table[rows, c1] - table[rows + 1, c0] + table[rows, c0]
               for c0, c1 in (left, right))
    means = sums / width
    tick = means[:, :, :inner].min(axis=2)
    paper = means[:, :, inner:].mean(axis=2)
    return paper - tick


#: Paper beyond a tick: the rows this far past its slack window (the sampled windows keep 5 rows around each box).
TICK_BEYOND_PX = 2


def _tick_rows(windows: Windows, rects_px: np.ndarray, slack: int) -> tuple:
    """Where ``tick_contrast`` reads, worked out once per layout: the rows at and beyond the top and bottom of each
    box ((N, 2, K), top looking up, bottom looking down) and both ticks' column ranges in ``windows.pixels``."""
    x, y, w, h = (rects_px[:, k] for k in range(4))
    tick = np.maximum(2, np.round(w * TICK_SHARE).astype(int))
    window = np.arange(-slack, slack + 1)
    beyond = np.arange(slack + 1, slack + 1 + TICK_BEYOND_PX)
    offsets = np.concatenate([window, beyond])
    edges = np.round(np.stack([y, y + h], axis=1)).astype(int)[:, :, None]
    canonical_rows = edges + np.array([-1, 1])[None, :, None] * offsets[None, None, :]
    left_start = np.round(x).astype(int) + 1
    right_end = np.round(x + w).astype(int)
    rows, c0 = windows.locate(canonical_rows, np.broadcast_to(left_start[:, None, None], canonical_rows.shape))
    _, c1 = windows.locate(canonical_rows, np.broadcast_to((left_start + tick - 1)[:, None, None], canonical_rows.shape))
    _, r0 = windows.locate(canonical_rows, np.broadcast_to((right_end - tick + 1)[:, None, None], canonical_rows.shape))
    _, r1 = windows.locate(canonical_rows, np.broadcast_to(right_end[:, None, None], canonical_rows.shape))
    width = (2 * (tick - 1))[:, None, None]
    made = (rows, (c0, c1), (r0, r1), width, window.size)
    for array in (rows, c0, c1, r0, r1, width):
        array.flags.writeable = False
    return made


def rects_to_px(rects, geometry: SheetGeometry, ppm: float) -> np.ndarray:
    """Frame rectangles (mm, (N, 4) or a sequence of ``Rect``) as canonical-page pixels: (N, 4) float64 ``x, y, w, h``."""
    mm = np.asarray(rects, dtype=float).reshape(-1, 4)
    px = np.empty_like(mm)
    px[:, :2] = (mm[:, :2] + np.asarray(geometry.origin, dtype=float)) * ppm
    px[:, 2:] = mm[:, 2:] * ppm
    return px


def ink_level(black: float | None) -> float:
    """The grey below which a pixel is printed ink, on a page whose printed black reads ``black``.

    ``black``: the fiducial squares' grey on the flat-fielded page (paper 255); None: not known,
    ``INK_BELOW``. A light print's black is grey, and so are its numbers (``PRINT_INK_SHARE``).
    """
    if black is None:
        return float(INK_BELOW)
    return max(float(INK_BELOW), black + PRINT_INK_SHARE * (255.0 - black))


def edge_level(black: float | None) -> float:
    """How many grey levels darker than the paper beside it a printed box edge must be, on a page whose printed
    black reads ``black`` (None: not known): ``EDGE_SHOWS_AT``, in proportion on a light print."""
    if black is None or black <= LIGHT_PRINT_BLACK:
        return float(EDGE_SHOWS_AT)
    return EDGE_SHOWS_AT * max(0.0, 255.0 - black) / (255.0 - LIGHT_PRINT_BLACK)


def ink_shares(sample: CanonicalSample, zones_px: np.ndarray, ink_below: float = INK_BELOW) -> np.ndarray:
    """Share of ink (pixels darker than ``ink_below``, ``ink_level``) in each of a few equal-sized zones.

    Parameters
    ----------
    sample
        The canonical page (``CanonicalSample``).
    zones_px : (Z, 4) float
        ``x, y, w, h`` in page pixels; every zone is taken at the first one's size.

    Returns
    -------
    (Z,) float64
    """
    if not len(zones_px):
        return np.empty(0)
    windows = sample.windows(zones_px)
    w, h = max(1, int(round(zones_px[0, 2]))), max(1, int(round(zones_px[0, 3])))
    zones = gather_patches(windows.pixels, np.round(zones_px[:, 0]).astype(int), np.round(zones_px[:, 1]).astype(int), (h, w), windows)
    return (zones < ink_below).mean(axis=(1, 2))


@functools.lru_cache(maxsize=16)
def number_zones(geometry: SheetGeometry, page_number: int) -> tuple[np.ndarray, np.ndarray]:
    """Where question numbers are printed on a page, and where, one row away, none is.

    Returns two (·, 4) float64 arrays of frame rectangles (mm) ``x, y, w,
    h``: each question's last digit (right-aligned 1.2 mm left of box A, its
    baseline at 85 % of the box height, digits about 1.85 mm tall), and the
    same zone one row above the first and below the last question of each
    block, where the paper stays clean. The clean zones catch a frame moved
    by a whole row, which puts most numbers on their neighbours' places.
    The geometry alone decides them: computed once per sheet page (the
    arrays returned are read-only).
    """
    firsts = np.array([q.boxes[0] for q in geometry.questions_on(page_number)], dtype=float).reshape(-1, 4)
    x, y, h = firsts[:, 0], firsts[:, 1], firsts[:, 3]
    top = y + 0.85 * h - DIGIT_HEIGHT_MM
    digits = np.stack([x - 1.2 - DIGIT_MM, top, np.full_like(x, DIGIT_MM), np.full_like(x, DIGIT_HEIGHT_MM)], axis=1)
    same_column = np.abs(x[:, None] - x[None, :]) < 0.5
    gaps = np.abs(top[:, None] - top[None, :])[same_column]
    if not np.any(gaps > 0.5):
        digits.flags.writeable = False
        return digits, np.empty((0, 4))
    row = float(np.min(gaps[gaps > 0.5]))
    moved = np.concatenate([digits + [0, -row, 0, 0], digits + [0, row, 0, 0]])
    # a moved zone is clean where no question of the same column sits within half a row of it
    near = (np.abs(moved[:, None, 0] - digits[None, :, 0]) < 0.5) & (np.abs(moved[:, None, 1] - digits[None, :, 1]) < row / 2)
    # …and no printed text line (a section heading above a block) runs through it
    lines = np.array([(label["x"], label["y"]) for label in geometry.labels_on(page_number) if "y" in label and "x" in label]).reshape(-1, 2)
    texted = ((lines[None, :, 0] <= moved[:, None, 0] + moved[:, None, 2])
              & (lines[None, :, 1] - TEXT_HEIGHT_MM <= moved[:, None, 1] + moved[:, None, 3])
              & (moved[:, None, 1] <= lines[None, :, 1] + 1.0))
    clean = moved[~near.any(axis=1) & ~texted.any(axis=1)]
    digits.flags.writeable = clean.flags.writeable = False
    return digits, clean


def frame_alignment(
    page: np.ndarray | CanonicalSample, rects: tuple[Rect, ...], geometry: SheetGeometry, ppm: float, page_number: int = 1,
    black: float | None = None,
) -> Alignment:
    """Measure whether the printed boxes and question numbers lie where the geometry predicts.

    Parameters
    ----------
    page : (H, W) uint8 or CanonicalSample
        The canonical page (``reader.canonical_page``): flat-fielded, frame
        origin at ``geometry.origin`` mm, ``ppm`` pixels per mm; or the
        reader's sample of it (``CanonicalSample.of_scan``), which holds
        only the pixels measured.
    rects
        The boxes to check (frame mm): a ``BoxTable``'s ``rects``.
    page_number
        Which page of the sheet ``page`` is (1-based): whose questions' numbers to look for.
    black
        A light print's black, the grey its evenly grey squares read under this frame
        (``reader.light_print_black``): what ink the numbers are looked for at (``ink_level``)
        and how dark an edge must show (``edge_level``); None: ``INK_BELOW`` and ``EDGE_SHOWS_AT``.

    Returns
    -------
    Alignment
    """
    sample = page if isinstance(page, CanonicalSample) else CanonicalSample.of_page(page)

    mm = np.asarray(rects, dtype=float).reshape(-1, 4)
    if len(mm):
        boxes = rects_to_px(mm, geometry, ppm)
        windows = sample.windows(boxes)
        contrast = edge_contrast(windows, boxes).min(axis=1)
        ticks = tick_contrast(windows, boxes).min(axis=1)
    else:
        contrast = ticks = np.empty(0)
    digits, clean = number_zones(geometry, page_number)
    # the clean zones are the digit zones moved by a row, of the very same size: one window request serves both
    shares = ink_shares(sample, rects_to_px(np.concatenate([digits, clean]), geometry, ppm), ink_level(black)) if len(digits) else np.empty(0)
    shown = np.concatenate([shares[: len(digits)] >= DIGIT_INK, shares[len(digits) :] <= CLEAN_INK])
    return Alignment(
        boxes=len(mm),
        outlined=float(np.mean(contrast >= edge_level(black))) if len(mm) else 0.0,
        contrast=contrast,
        numbers=len(digits),
        numbered=float(shown.mean()) if shown.size else 0.0,
        ticked=float(np.mean(ticks >= edge_level(black))) if len(mm) else 0.0,
    )


# -- where each box's bracket is printed (``bend``, ``recovery.refine``) --------------------------

#: A box's bracket tick, as a share of its width (``render.sheet``'s drawing).
TICK_SHARE = 0.22
#: How far beside a stroke the paper it is compared with lies (pixels).
BESIDE_PX = 3
#: A box's best shift counts when its strokes and ticks are this many grey levels darker than the paper beside them
#: (flat-fielded page, paper 255; the printed grey outline reads 60–140 below the paper, noise within about 10).
STRONG_AT = 20.0


@dataclass(frozen=True)
class BoxOffsets:
    """Where each box's printed bracket shows best, against where the frame puts it.

    shift : (N, 2) float64
        ``dx, dy`` in page pixels (the printed box lies this far right and down).
    strength : (N,) float64
        How much darker (grey levels) the bracket is than the paper beside it at that shift.
    edge : (N,) bool
        The best shift lies at the end of the reach: the box may lie further off.
    """

    shift: np.ndarray
    strength: np.ndarray
    edge: np.ndarray


def box_offsets(page: np.ndarray, rects_px: np.ndarray, reach: int) -> BoxOffsets:
    """Measure, for each box, the shift within ``reach`` pixels that puts its printed bracket on the print.

    Parameters
    ----------
    page : (H, W) uint8
        The canonical page, flat-fielded (paper 255; ``CanonicalSample.whole``).
    rects_px : (N, 4) float
        Boxes as ``x, y, w, h`` page pixels, all of one printed size (within a pixel).
    reach
        Pixels looked either way, along both axes.

    Returns
    -------
    BoxOffsets

    Notes
    -----
    Across first, then down (two searches of ``2·reach + 1`` places, not one
    of their square). Across: the bracket's two strokes, each a column
    darker than the paper ``BESIDE_PX`` outside it, averaged over the box's
    height and ``reach`` rows beyond either end, so that the strokes are in
    it however far the box moved down (a neighbour above or below has its
    strokes in the same columns); the score is the weaker stroke's
    contrast. Down, at that shift across: the four short ticks at the top
    and bottom, each a row darker than the paper ``BESIDE_PX`` beyond it.
    A filled box is dark inside its strokes, not outside: its score still
    peaks at its print, less sharply. ``strength`` is the two scores' sum.
    """
    rects_px = np.asarray(rects_px, dtype=float).reshape(-1, 4)
    n = len(rects_px)
    if not n:
        return BoxOffsets(np.empty((0, 2)), np.empty(0), np.empty(0, bool))
    w = int(round(float(np.median(rects_px[:, 2]))))
    h = int(round(float(np.median(rects_px[:, 3]))))
    tick = max(2, int(round(w * TICK_SHARE)))
    pad = reach + BESIDE_PX + 1
    # each box's patch, the page around it paper white beyond its edges
    x0 = np.round(rects_px[:, 0]).astype(int)
    y0 = np.round(rects_px[:, 1]).astype(int)
    size = (h + 2 * pad + 1, w + 2 * pad + 1)
    bordered = cv2.copyMakeBorder(page, pad, pad + size[0], pad, pad + size[1], cv2.BORDER_CONSTANT, value=255)
    x0 = np.clip(x0, 0, page.shape[1])
    y0 = np.clip(y0, 0, page.shape[0])
    ink = 255.0 - gather_patches(bordered, x0, y0, size).astype(np.float32)  # (N, ph, pw)
    offsets = np.arange(-reach, reach + 1)
    rows = np.arange(n)[:, None]
    # across: column means over the box's rows and the reach beyond them
    columns = ink[:, pad - reach:pad + h + reach + 1, :].mean(axis=1)  # (N, pw)
    left = pad + offsets[None, :]
    across = np.minimum(columns[rows, left] - columns[rows, left - BESIDE_PX],
                        columns[rows, left + w] - columns[rows, left + w + BESIDE_PX])  # (N, S)
    best_x = across.argmax(axis=1)
    dx = offsets[best_x]
    # down: row means over the ticks' columns at that shift (the left tick from its stroke on, the right one up to its)
    index = np.arange(n)
    tick_columns = np.concatenate([pad + dx[:, None] + 1 + np.arange(tick - 1), pad + dx[:, None] + w - np.arange(tick - 1)], axis=1)
    ticks = ink[index[:, None, None], np.arange(size[0])[None, :, None], tick_columns[:, None, :]].mean(axis=2)  # (N, ph)
    top = pad + offsets[None, :]
    down = (ticks[rows, top] - ticks[rows, top - BESIDE_PX] + ticks[rows, top + h] - ticks[rows, top + h + BESIDE_PX]) / 2
    best_y = down.argmax(axis=1)
    dy = offsets[best_y]
    shift = np.stack([dx, dy], axis=1).astype(float)
    strength = across[index, best_x] + down[index, best_y]
    return BoxOffsets(shift, strength.astype(float), (np.abs(dx) >= reach) | (np.abs(dy) >= reach))


#: Deciding. Calibrated with ``bench/frame_alignment.py`` (168 right frames: simulated
#: sheets at every degrade level and the committed scans; 1347 wrong ones: each right
#: frame moved by a row, a box pitch, half a block, turned 180°, and the frames
#: registration builds from other dark squares when two corner squares are cropped off):
#: ``numbered`` is 1.00 on every right frame and at most 0.77 on a wrong one (a frame
#: one row off; 0.39 for everything else). ``outlined`` is at least 0.91 on right frames
#: of grey pages (0.09–0.99 on black-and-white ones, whose outlines may be gone) and at
#: most 0.53 a box pitch off, 0.06 for a cropped page's frame, but up to 0.86 a row off
#: (boxes land on boxes): it is the second vote, the numbers the first.
NUMBERED_AT_LEAST = 0.9
OUTLINED_AT_LEAST = 0.6


def is_aligned(alignment: Alignment, *, binary: bool) -> bool:
    """Whether a frame may be read: its numbers show where predicted, and its box outlines too.

    ``binary``: the page is a black-and-white copy, whose grey outlines are
    lost whatever the frame — there the numbers alone decide. A page with
    no question numbers (none printed on it) is decided by its outlines.
    """
    if alignment.numbers and alignment.numbered < NUMBERED_AT_LEAST:
        return False
    if binary and alignment.numbers:
        return True
    return alignment.outlined >= OUTLINED_AT_LEAST
