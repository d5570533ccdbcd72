"""Bubble reading: measuring how filled each box is, then deciding.

Measuring and deciding are separate. ``box_means_from`` and ``darkness``
turn the canonical page and a list of boxes into numbers: the mean darkness of each box's
interior, normalised by this sheet's own paper white and ink black (so a
pale scan and a dark copy read alike), minus the darkness of the printed
empty box. ``decide`` turns one question's numbers into an outcome, by
comparing the boxes with each other as well as with fixed levels: a mark is
clearly dark, an empty box clearly light, and anything between — or two
marks where one is allowed — is flagged for a person with its reason.
``decide_absent`` decides the invigilator's lone boxes (缺考, and 违纪 the
same way) by the fixed levels alone.

Beyond the fixed levels, ``decide`` weighs the page's own evidence: a thin
stroke in a box against its label's empty box (``trace_strokes``: a fine
tick is a mark a person sees, never blank), the paper just around each box
(``local_paper``, ``shade``: a shadow band darkens a box and its ring alike),
the student's own clear marks (``own_darkness``: a lighter or partial fill
that covers its box well is that student's mark), and whether the page was
thresholded to black and white (a scrap beside a mark is then what is left
of a light mark, not erasure residue).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from papergen.bank.model import LETTERS
from papergen.grade.components import foreground_components
from papergen.grade.windows import Windows

#: Darkness (0 = paper, 1 = ink) at or above which a box is marked.
MARKED = 0.38
#: Darkness at or below which a box is empty.
EMPTY = 0.06
#: A lighter box next to a clear mark counts as erased when it is at most
#: this share of the mark's darkness (and below ``MARKED``). A light-handed
#: student's fill beside strong residue brings them close: residue that every
#: other test takes for residue reaches 0.54 of the question's lightest mark on
#: simulated grey pages (0.45 at the 99th percentile), while the one washed-out
#: second fill that passes those tests is 0.64 of its neighbour.
RESIDUE_SHARE = 0.55
#: …and at most this dark in absolute terms: eraser residue is a grey film,
#: while a half-fill or a tick left beside another mark is darker and flagged.
RESIDUE_MAX = 0.14
#: …and an eraser's film leaves little pencil-dark coverage, of the interior
#: or of the whole box (a half-fill leaves a patch of it).
RESIDUE_COVER = 0.21
RESIDUE_WHOLE = 0.11
#: Excess coverage (share of the box with pencil-dark pixels) above which a
#: box with little mean darkness is still not empty: a faint or partial mark.
COVERED = 0.08
#: A pixel is "pencil" when darker than this share of the paper–ink range.
PENCIL = 0.3
#: Fraction of the box (each side) left out so printed brackets don't count.
INSET = 0.18
#: Inset for measuring how much of the *whole* box is covered (just inside the
#: printed brackets).
WHOLE_INSET = 0.06
#: A mark must cover at least this share of the whole box (above the printed
#: box's own coverage). A proper fill covers most of it; a dark scrap in the
#: middle — a half-fill that a black-and-white scan turned black — does not.
#: On simulated sheets real marks cover 0.60 or more (light marks in phone
#: photos are the lowest), half-fills up to 0.54 after a fax's threshold.
SOLID = 0.58

#: Boxes printed with the same label (every "C", every "7") share an empty
#: baseline when there are at least this many of them on the page…
MIN_GROUP = 8
#: …taken at this quantile, low enough to be an empty box's value even when
#: most boxes of the label are marked (a popular option in multiple choice).
GROUP_QUANTILE = 0.3
#: A printed label adds at most this much above the page-wide empty box, so
#: a group whose boxes are nearly all marked (a student ID of many zeros)
#: cannot raise its own baseline to the level of a mark.
LABEL_INK_MAX = 0.15
#: A group whose quantile lies above that is mostly marked; its baseline is then
#: taken from its boxes below that level, when there are this many of them.
MIN_EMPTIES = 3

Rect = tuple[float, float, float, float]


@dataclass(frozen=True)
class Levels:
    """A sheet's own paper and ink levels, and the printed empty box's darkness."""

    white: float
    black: float
    empty_box: float


def _interior_bounds(shape: tuple[int, int], rects_px: np.ndarray, inset: float) -> tuple[np.ndarray, ...]:
    if rects_px.ndim != 2 or rects_px.shape[1] != 4:
        raise ValueError("rects_px must have shape (N, 4)")
    x, y, w, h = rects_px.T
    c0 = np.clip(np.round(x + w * inset), 0, shape[1] - 1).astype(int)
    c1 = np.maximum(np.clip(np.round(x + w * (1 - inset)), 1, shape[1]).astype(int), c0 + 1)
    r0 = np.clip(np.round(y + h * inset), 0, shape[0] - 1).astype(int)
    r1 = np.maximum(np.clip(np.round(y + h * (1 - inset)), 1, shape[0]).astype(int), r0 + 1)
    return r0, r1, c0, c1


def summed_area(image: np.ndarray) -> np.ndarray:
    """The summed-area table of ``image`` (H, W) uint8: shape (H + 1, W + 1).

    One table answers the mean over any number of boxes in constant time
    each; the reader builds one per page (and one for its pencil mask).
    The table is int32 whenever the page total cannot overflow it (every
    canonical page): a quarter of the float64 table's memory traffic, and
    that traffic, not the additions, is what an integral image costs.
    """
    if image.dtype != np.uint8:
        raise ValueError("image must be uint8")
    depth = cv2.CV_32S if image.size * 255 < 2**31 else cv2.CV_64F
    return cv2.integral(image, sdepth=depth)


def box_means_from(table: np.ndarray, rects_px: np.ndarray, inset: float = INSET, windows: Windows | None = None) -> np.ndarray:
    """Mean of the image behind ``table`` over each box, ``inset`` left out on each side.

    Parameters
    ----------
    table : (H + 1, W + 1) int32 or float64
        ``summed_area`` of the image: of the canonical page, or of
        ``windows.pixels`` (then box ``k`` lies in window ``k``).
    rects_px : (N, 4) float
        Boxes as ``x, y, w, h`` in (canonical) page pixels.
    inset : float
        Share of each side left out (``INSET`` for the interior, ``WHOLE_INSET``
        for the whole box).
    windows : optional
        The windows ``table`` sums (``CanonicalSample.windows(rects_px)``).
    """
    if windows is None:
        r0, r1, c0, c1 = _interior_bounds((table.shape[0] - 1, table.shape[1] - 1), rects_px, inset)
        area = (r1 - r0) * (c1 - c0)
    else:  # the same pixels, where their windows hold them: worked out once per layout
        r0, r1, c0, c1, area = windows.indices(("box_means", inset, array_key(rects_px)),
                                               lambda: _bounds_in_windows(windows, rects_px, inset))
    total = table[r1, c1].astype(np.int64) - table[r0, c1] - table[r1, c0] + table[r0, c0]
    return total / area


def array_key(values: np.ndarray) -> tuple:
    """An array as a dictionary key: its dtype, shape and bytes."""
    values = np.ascontiguousarray(values)
    return values.dtype.str, values.shape, values.tobytes()


def _bounds_in_windows(windows: Windows, rects_px: np.ndarray, inset: float) -> tuple[np.ndarray, ...]:
    """``box_means_from``'s interior bounds as rows and columns of ``windows.pixels``, and each interior's area."""
    r0, r1, c0, c1 = _interior_bounds(windows.page_shape, rects_px, inset)
    rows, cols = windows.locate(np.stack([r0, r1], axis=1), np.stack([c0, c1], axis=1))
    (r0, r1), (c0, c1) = rows.T, cols.T
    return _frozen(r0, r1, c0, c1, (r1 - r0) * (c1 - c0))


def _frozen(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The arrays, read-only: kept for every later page of the layout (``Windows.indices``)."""
    for array in arrays:
        array.flags.writeable = False
    return arrays


def box_means(page: np.ndarray, rects_px: np.ndarray) -> np.ndarray:
    """Mean grey level of each box interior.

    Parameters
    ----------
    page : (H, W) uint8
        The canonical page.
    rects_px : (N, 4) float
        Boxes as ``x, y, w, h`` in page pixels.

    Returns
    -------
    (N,) float64 mean grey levels (0 black … 255 white).
    """
    return box_means_from(summed_area(page), rects_px)


def box_coverage(page: np.ndarray, rects_px: np.ndarray, level: float, inset: float = INSET) -> np.ndarray:
    """Share of each box interior darker than grey ``level``.

    Parameters
    ----------
    page : (H, W) uint8
    rects_px : (N, 4) float
    level : float
        Grey level (0–255) below which a pixel counts as pencil.
    inset : float
        Share of the box left out on each side (``WHOLE_INSET`` for the whole box).

    Returns
    -------
    (N,) float64 in [0, 1].
    """
    return box_means_from(summed_area((page < level).astype(np.uint8)), rects_px, inset)


def paper_white(grid: np.ndarray) -> float:
    """The page's paper white: the 92nd percentile of ``grid`` (uint8, every fourth pixel of the page each way).

    Read from the grey-level histogram: the same number ``np.percentile``
    interpolates, without sorting a hundred thousand pixels.
    """
    counts = np.cumsum(cv2.calcHist([np.ascontiguousarray(grid)], [0], None, [256], [0, 256]).ravel().astype(np.int64))
    position = 0.92 * (counts[-1] - 1)
    low = int(position)
    below, above = np.searchsorted(counts, [low, low + 1], side="right")  # the low-th and next smallest values
    return float(below + (position - low) * (above - below))


#: On the flat-fielded canonical page an unaltered print's corner squares read 0–36 (every simulated level and
#: the committed scans). Greyer squares are a light print (toner saving, a worn cartridge, a duplicator's grey),
#: and the pencil on it is as dark as on any page: measured against the squares' grey, a faint half-fill read
#: 1.7 times as dark at a 60 % print and passed for a fill. Darkness is then measured against ``PRINTED_BLACK``,
#: what an unaltered scan's squares read.
LIGHT_PRINT_BLACK = 40.0
PRINTED_BLACK = 20.0


def printed_black(fiducial_means: np.ndarray) -> float:
    """The grey of the sheet's printed black: the mean of its darkest corner-square interiors (one may be covered:
    the lightest is dropped)."""
    fiducials = np.sort(np.asarray(fiducial_means, dtype=float))
    return float(np.mean(fiducials[: max(1, len(fiducials) - 1)]))


def is_light_print(black: float) -> bool:
    """Whether a page whose ``printed_black`` reads ``black`` was printed light (``LIGHT_PRINT_BLACK``)."""
    return black > LIGHT_PRINT_BLACK


def estimate_levels(
    page: np.ndarray | None, fiducial_means: np.ndarray, all_box_means: np.ndarray, white: float | None = None,
    light_print: bool = False,
) -> Levels:
    """This sheet's paper white, ink black and empty-box darkness.

    White is a high percentile of the page (``paper_white`` of every fourth
    pixel; or ``white`` when already known, ``page`` then unused); black the
    ``printed_black`` of the fiducial interiors, or ``PRINTED_BLACK`` on a
    ``light_print`` (``reader.light_print_black``); the empty box is the median
    box (on any sheet most boxes are empty), expressed as darkness.
    """
    white = paper_white(page[::4, ::4]) if white is None else float(white)
    black = PRINTED_BLACK if light_print else printed_black(fiducial_means)
    if white - black < 40:
        black = white - 40  # an almost flat page: keep the scale sane; reading will flag
    empty_box = float(np.clip((white - _median(np.asarray(all_box_means))) / (white - black), 0.0, 0.3))
    return Levels(white, black, empty_box)


def darkness(means: np.ndarray, levels: Levels, groups: np.ndarray | None = None) -> np.ndarray:
    """Box darkness above the printed empty box, 0 (empty) … 1 (solid ink).

    Parameters
    ----------
    means : (N,) float
        Mean grey of each box interior (``box_means_from``).
    levels
        The sheet's white, black and (global) empty-box darkness.
    groups : (N,) int, optional
        The printed label of each box (see ``empty_baseline``); without it
        every box is measured against ``levels.empty_box``.
    """
    raw = (levels.white - np.asarray(means, dtype=float)) / (levels.white - levels.black)
    base = np.full_like(raw, levels.empty_box) if groups is None else empty_baseline(raw, groups, levels.empty_box)
    return np.clip((raw - base) / (1 - base), 0.0, 1.0)


def empty_baseline(values: np.ndarray, groups: np.ndarray, fallback: float) -> np.ndarray:
    """Each box's empty value: a low quantile of the boxes printed with the same label.

    The letter or digit printed inside a box adds its own ink, and not the
    same for every label: a "D" holds more than an "I", and a black-and-white
    scan keeps some letters whole while it wipes others. Measured against
    boxes with the same label, a surviving letter reads as empty while a
    scrap of pencil beside it still shows.

    Parameters
    ----------
    values : (N,) float
        A per-box measure (raw darkness or pencil coverage).
    groups : (N,) int
        Label group of each box; ``-1`` for a box measured against ``fallback``.
    fallback : float
        Used for boxes in groups of fewer than ``MIN_GROUP`` boxes.

    Returns
    -------
    (N,) float64
    """
    values = np.asarray(values, dtype=float)
    groups = np.asarray(groups)
    if values.shape != groups.shape:
        raise ValueError("values and groups must have the same shape")
    base = np.full_like(values, fallback)
    # One sort by (label, value) serves every group: each group's quantile is
    # read (linearly interpolated, as np.quantile does) from its sorted run.
    order = np.lexsort((values, groups))
    ranked = values[order]
    labels, starts, counts = np.unique(groups[order], return_index=True, return_counts=True)
    for label, start, count in zip(labels, starts, counts):
        if label < 0 or count < MIN_GROUP:
            continue
        run = ranked[start : start + count]
        quantile = _quantile_sorted(run, GROUP_QUANTILE)
        if quantile > fallback + LABEL_INK_MAX:
            # most boxes of this label are marked (a 准考证号 of many zeros): the quantile is a mark's
            # value. The label's empty boxes say what its printed letter adds; too few of them, the page's.
            empties = run[run <= fallback + LABEL_INK_MAX]
            quantile = _quantile_sorted(empties, GROUP_QUANTILE) if len(empties) >= MIN_EMPTIES else fallback
        base[order[start : start + count]] = min(float(quantile), fallback + LABEL_INK_MAX)
    return base


def _quantile_sorted(ranked: np.ndarray, q: float) -> float:
    """The ``q`` quantile of sorted values, linearly interpolated as ``np.quantile`` does."""
    position = q * (len(ranked) - 1)
    low = int(position)
    high = min(low + 1, len(ranked) - 1)
    return float(ranked[low] + (position - low) * (ranked[high] - ranked[low]))


def pencil_level(levels: Levels) -> float:
    """Grey level below which a pixel is pencil rather than paper or printed box."""
    return levels.white - PENCIL * (levels.white - levels.black)


def pencil_levels(paper: np.ndarray, levels: Levels) -> np.ndarray:
    """``pencil_level`` of each box against the paper around it (``local_paper``).

    A box in a shadow band is darker all over; counted against the page's
    paper, its printed letter and the shadow itself would pass for pencil.
    Where the paper around a box is darker than the page's usual, the level
    falls with it (the same gain ``lit_evenly`` undoes); boxes in full light
    keep the page's level.

    Parameters
    ----------
    paper : (N,) float
        ``local_paper`` of every box on the page.

    Returns
    -------
    (N,) float64
    """
    paper = np.maximum(np.asarray(paper, dtype=float), 1.0)
    usual = float(_median(paper)) if len(paper) else 1.0
    return pencil_level(levels) * np.minimum(paper / usual, 1.0)


def excess_coverage(coverage: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Coverage above the printed empty box's (per label group when ``groups`` is given)."""
    coverage = np.asarray(coverage, dtype=float)
    overall = float(_median(coverage))
    base = overall if groups is None else empty_baseline(coverage, groups, overall)
    return np.clip(coverage - base, 0.0, 1.0)


#: A pixel is part of a pencil stroke when it is darker than its label's empty
#: box (``box_patches``'s template) by this share of the paper–ink range.
STROKE_LEVEL = 0.12
#: …and a run is traced down to this much darker, so a light stroke whose
#: darkness dips along its length is followed as one line.
STROKE_TRACE = 0.07
#: Share of each side of the box left out of the stroke search (the printed brackets).
STROKE_INSET = (0.1, 0.12)
#: A stroke is thin: at most this many pixels thick on average (area over its
#: width plus height, about its path length), so a broad film of erasure residue
#: or a fill is not taken for one. A fine tick is 2–3 pixels wide at 6 px/mm.
STROKE_THICK = 3.5
#: A stroke spans at least this share of the window's width and of its height:
#: a tick's legs do; a fold's crease, broken into runs by the letter and noise, is flat.
STROKE_EXTENT = 0.4
#: A dash across the box is a stroke too, though flat: pixels above ``STROKE_LEVEL`` spanning at least
#: ``DASH_SPAN`` of the window's width in a band flatter than ``STROKE_EXTENT`` of its height, thin, one of them
#: reaching ``DASH_PEAK``, not from edge to edge, and not where a band crosses the page beside the box
#: (``band_shade`` at least ``CREASE_BAND``): a fold's crease runs on past the box, its shading beside it.
DASH_SPAN = 0.6
DASH_PEAK = 0.18
#: A fold's crease is traced, merged with a piece of the printed letter, as a run rising
#: barely ``STROKE_EXTENT`` of the window's height (0.40–0.47 on simulated folded pages); a
#: tick's legs rise at least 0.73 of it on grey pages (0.6 on black-and-white ones), even one
#: that starts at the window's left edge and leaves it on the right. A run under this share
#: may be a crease: it crosses the box when it runs from edge to edge (``trace_strokes``), and
#: a short one in a question a fold's band crosses is the crease (``CREASE_BAND``, ``decide``).
CREASE_RISE = 0.6
#: A box holding a stroke at least this long (share of the window's diagonal)
#: is not empty. Empty boxes on simulated pages of every level stay under
#: 0.3; a fine tick across a box spans 0.6 or more.
STROKE_SPAN = 0.5
#: On a grey page a shorter run is a stroke too when it rises ``TICK_RISE`` of the window's height: a tick's long leg
#: alone. A phone's blur thins a light tick where its legs meet, the tracer keeps one leg, and the tick read as a
#: blank with no flag (stress set, seed 47, phone-messy: 0.485 of the diagonal, rising 0.67 of the height). No empty
#: box on 288,000 simulated grey-page boxes had such a run outside a pen's line; residue that does lies on a film
#: (``STROKE_ON_FILM``, ``STROKE_ON_FLOOR``) and stays residue.
TICK_SPAN = 0.45
TICK_RISE = 0.6
#: On a grey page, pencil darker than its label's empty box over this share of the window in one connected run
#: that reaches ``STROKE_LEVEL`` (``trace_strokes``'s ``smudge``: any shape, not only a thin stroke) is a mark a
#: person sees, even where the box's mean darkness and pencil-dark coverage stay under ``EMPTY`` and ``COVERED``: a
#: light smudge over a box's letter, 0.049 dark and 0.079 covered, read as nothing beside two fills (stress seed
#: 71, copier). Of 441,534 boxes that measure empty so on the grey pages of seeds 0, 61 and 71, 99.99 % hold no run
#: over 0.1 and one over 0.18 (0.28, by a fold's crease); erasure residue there reaches 0.13, faint marks 0.28–0.37.
SMUDGE_AREA = 0.25
#: On a black-and-white page erasure specks can line up into runs up to about
#: 0.56; a tick that survives the threshold spans 0.8 or more.
BINARY_STROKE_SPAN = 0.7


def gather_patches(
    page: np.ndarray, x0: np.ndarray, y0: np.ndarray, size: tuple[int, int], windows: Windows | None = None
) -> np.ndarray:
    """Same-sized patches of the canonical page, one per box, stacked.

    Parameters
    ----------
    page : (H, W) uint8
        The canonical page, or ``windows.pixels`` (then patch ``k`` lies in window ``k``).
    x0, y0 : (N,) int
        Each patch's top-left canonical-page pixel.
    size : (h, w)
        The patches' size in pixels.
    windows : optional
        The windows ``page`` holds (``CanonicalSample.windows``).

    Returns
    -------
    (N, h, w), ``page``'s dtype
    """
    h, w = size
    y0, x0 = np.asarray(y0), np.asarray(x0)
    if windows is None:
        # each patch is one element of the page's view as every (h, w) window: one copy, no per-pixel indices
        return sliding_window_view(page, (h, w))[y0, x0]
    # the same pixels, where their windows hold them: window k's pixels are page[:, k·tw:(k+1)·tw]
    n, tw = len(windows.origins), windows.width
    th = page.shape[0]
    rows, cols, offsets, fits = windows.indices(
        ("patches", array_key(x0), array_key(y0), size, page.shape), lambda: _patch_places(windows, x0, y0, size, th)
    )
    if fits:
        stacked = page.reshape(th, n, tw)  # a view: (row, window, column)
        return sliding_window_view(stacked, (h, w), axis=(0, 2))[rows, np.arange(n), offsets]
    # a patch reaching beyond its own window (not one the reader asks for): pixel by pixel
    rows, cols = rows[:, None] + np.arange(h), cols[:, None] + np.arange(w)
    return page[rows[:, :, None], cols[:, None, :]]


def _patch_places(windows: Windows, x0: np.ndarray, y0: np.ndarray, size: tuple[int, int], th: int) -> tuple:
    """``gather_patches``'s top-left pixels in the strip, as rows, columns and columns within each window, and
    whether every patch lies within its own window."""
    h, w = size
    rows, cols = windows.locate(y0, x0)
    n, tw = len(windows.origins), windows.width
    offsets = cols - np.arange(n) * tw
    fits = n == len(y0) and bool(np.all((rows >= 0) & (rows <= th - h) & (offsets >= 0) & (offsets <= tw - w)))
    return (*_frozen(rows, cols, offsets), fits)


def box_patches(
    page: np.ndarray, rects_px: np.ndarray, inset: tuple[float, float] = STROKE_INSET, windows: Windows | None = None
) -> np.ndarray:
    """The same-sized window inside every box, for comparing boxes pixel by pixel.

    Parameters
    ----------
    page : (H, W) uint8
        The canonical page, or ``windows.pixels`` of windows around ``rects_px``.
    rects_px : (N, 4) float
        Boxes ``x, y, w, h``; the window is the median box size less ``inset``
        (x share, y share) on each side, placed by each box's own position.
    windows : optional
        ``CanonicalSample.windows(rects_px)``, when ``page`` is its pixels.

    Returns
    -------
    (N, h, w) uint8
    """
    rects_px = np.asarray(rects_px, dtype=float)
    if windows is None:
        x0, y0, size = _patch_corners(rects_px, inset, page.shape)
    else:  # the boxes' places on the page: worked out once per layout
        x0, y0, size = windows.indices(("box_patches", inset, array_key(rects_px)),
                                       lambda: _patch_corners(rects_px, inset, windows.page_shape))
    return gather_patches(page, x0, y0, size, windows)


def _patch_corners(rects_px: np.ndarray, inset: tuple[float, float], page_shape: tuple[int, int]) -> tuple:
    """``box_patches``'s top-left pixels (x0, y0) on the page and the patches' (h, w)."""
    height, width = page_shape
    size_w, size_h = _median(rects_px[:, 2]), _median(rects_px[:, 3])
    w = max(2, int(round(size_w * (1 - 2 * inset[0]))))
    h = max(2, int(round(size_h * (1 - 2 * inset[1]))))
    x0 = np.clip(np.round(rects_px[:, 0] + (rects_px[:, 2] - w) / 2), 0, width - w).astype(int)
    y0 = np.clip(np.round(rects_px[:, 1] + (rects_px[:, 3] - h) / 2), 0, height - h).astype(int)
    return (*_frozen(x0, y0), (h, w))


#: Where the printed letter sits in its box, as shares of the box's width and
#: height: on a black-and-white page the letter survives the threshold on some
#: boxes and not others (so no page-wide template can cancel it), but always
#: inside this middle part. On simulated 1-bit pages (fax, fold, copier) the
#: black pixels of empty boxes and of eraser residue outside it are specks.
LETTER_PLACE = ((0.36, 0.68), (0.12, 0.88))
#: Share of each side of the box left out of that count (the printed brackets).
LETTER_PLACE_INSET = 0.08
#: A box on a black-and-white page with at least this much black away from its
#: printed letter (mm²; 3 pixels at 6 px/mm, each with a black neighbour: lone
#: pixels are line noise) holds what is left of a stroke a person sees — a fine
#: tick the threshold broke into fragments. On simulated fax pages empty boxes
#: and erased ones beside a mark leave at most 3 black pixels there, mostly lone;
#: ticks that survive leave 4–48.
OFF_LETTER_MARK = 0.08
#: Two weaker signs together are a tick's remains too: a run of ``STROKE_SPAN`` (not
#: ``BINARY_STROKE_SPAN``) and at least this much black off the letter. Erasure residue on
#: simulated 1-bit pages showed both once in 584 boxes; ticks, 54 times in 77.
OFF_LETTER_TRACE = 0.04
#: On a clean black-and-white page even one black pixel with a black neighbour away from the
#: letter (mm²: 1/36 at 6 px/mm) is pencil. Erasure residue is lighter than the threshold on
#: plain paper and turns black only over the printed letter, which it darkens; so on simulated
#: 1-bit pages 1 residue box in 469 beside a mark and 18 empty boxes in 61,342 left black there, while a third
#: of the light ticks read without a flag left exactly one or two such pixels (the rest of
#: their black lies where the letter is printed). Used only on a page with few such specks
#: (``speck_threshold``): where the device speckles the paper, one pixel is no evidence; and only
#: in a box darker than ``SPECK_DARK``.
OFF_LETTER_SPECK = 0.02
#: …for a tick's remains also blacken part of the letter's place, so its box is darker than an empty
#: one (≤ 0.014 for 99 % of empty boxes on simulated 1-bit pages; the light ticks with a speck off the
#: letter: 0.017–0.092). A speck in a box no darker than that is the device's or a stray dot: on
#: the kept simulated sets, 24 of 31 such boxes beside a mark were, and they stay unflagged.
SPECK_DARK = 0.015
#: A page where more than this share of boxes hold a speck off their letter (some black, less
#: than ``OFF_LETTER_MARK``) is speckled by its device. Simulated 1-bit pages: at most 3.1 %
#: with ordinary marks and 3.3 % with a doubtful mark — mostly a tick — on every question.
SPECKLED_PAGE = 0.05
#: On a black-and-white page an empty box is black only where its printed letter survives
#: (darkness ≤ 0.014 for 99 % of empty boxes on simulated 1-bit pages, specks up to 0.03): a box
#: darker than this holds more than the device's specks — what is left of a light mark.
BINARY_EMPTY = 0.03


def off_letter_ink(patches: np.ndarray, levels: Levels, px_per_mm: float) -> np.ndarray:
    """How much black each box holds away from its printed letter, in mm².

    Meant for black-and-white pages, where a light tick that the threshold
    broke into fragments keeps neither its darkness nor a stroke long enough
    to follow (``trace_strokes``), and eraser residue leaves a few specks:
    the fragments lie along the tick's legs, across the box, while the
    printed letter — which survives on some boxes of a page and not on
    others — stays in the middle of its box (``LETTER_PLACE``).

    Parameters
    ----------
    patches : (N, h, w) uint8 or float
        ``box_patches`` with ``LETTER_PLACE_INSET`` on both sides (the raw
        page, not smoothed: on a 1-bit page a fragment is a pixel or two),
        ``lit_evenly`` where a shadow darkens the paper.
    levels
        The sheet's paper white and ink black; black is darker than their middle.
    px_per_mm
        The canonical page's resolution.

    Returns
    -------
    (N,) float64
    """
    patches = np.asarray(patches)
    n, h, w = patches.shape
    letter = _letter_place(h, w)
    black = patches < (levels.white + levels.black) / 2.0
    # a lone black pixel is the device's line noise; a fragment of a stroke has a black neighbour
    # (one 3×3 sum over the patches stacked with a blank row and column between them: none sees its neighbour's pixels)
    padded = np.pad(black.astype(np.uint8), ((0, 0), (1, 1), (1, 1))).reshape(n * (h + 2), w + 2)
    around = cv2.boxFilter(padded, cv2.CV_16U, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    neighbours = around.reshape(n, h + 2, w + 2)[:, 1:h + 1, 1:w + 1] > black
    return (black & neighbours & ~letter).sum(axis=(1, 2)) / float(px_per_mm * px_per_mm)


def _letter_place(h: int, w: int) -> np.ndarray:
    """(h, w) bool: the pixels of a ``LETTER_PLACE_INSET`` box patch where its printed letter sits (``LETTER_PLACE``)."""
    inner = 1.0 - 2.0 * LETTER_PLACE_INSET
    across = LETTER_PLACE_INSET + (np.arange(w) + 0.5) / w * inner
    down = LETTER_PLACE_INSET + (np.arange(h) + 0.5) / h * inner
    (left, right), (top, bottom) = LETTER_PLACE
    return ((down >= top) & (down <= bottom))[:, None] & ((across >= left) & (across <= right))[None, :]


def letter_black(patches: np.ndarray, levels: Levels) -> np.ndarray:
    """The share of each box's letter place (``LETTER_PLACE``) that is black: on a black-and-white page,
    how much of the printed letter the device's threshold kept.

    Parameters
    ----------
    patches : (N, h, w) uint8 or float
        As ``off_letter_ink``.
    levels
        The sheet's paper white and ink black; black is darker than their middle.

    Returns
    -------
    (N,) float64, 0 … 1.
    """
    patches = np.asarray(patches)
    n, h, w = patches.shape
    if n == 0:
        return np.zeros(0)
    black = patches[:, _letter_place(h, w)] < (levels.white + levels.black) / 2.0
    return black.mean(axis=1, dtype=np.float64)


#: The printed letters are grey (``render.sheet.LETTER_GREY`` 0.62: darkness 0.38, about the darkest
#: erasure residue measured on simulated grey pages, 0.36). A black-and-white page whose threshold keeps
#: them black in its empty boxes has kept pencil as light as residue black too, and there an erased
#: option is as black as a fill: nothing in the page tells them apart. This is the median share of the
#: letter place left black in a page's empty boxes (``kept_letters``) from which a page is not read.
#: Simulated 1-bit pages of white paper (fax, fold, scanner, harsh, cut; 880 pages): median 0, 99 % under
#: 0.06, the most 0.107 (7 pages at 0.06 or more); pages of coloured paper (whiteness 0.7–0.9) where an
#: erased option was read as a mark: 0.079–0.54 (45 pages); OpenCV's adaptive threshold over 61 and 101
#: pixels: 0.3 and more.
LETTERS_KEPT = 0.06
#: …measured over at least this many empty boxes (a page with fewer is not judged by it).
MIN_KEPT_BOXES = 20


def kept_letters(letters: np.ndarray, darkness: np.ndarray) -> float | None:
    """How much of its printed letters a black-and-white page kept black: the median ``letter_black``
    of the boxes no darker than an empty one (``BINARY_EMPTY``); None with fewer than ``MIN_KEPT_BOXES``.

    Parameters
    ----------
    letters : (N,) float
        ``letter_black`` of every box of the page.
    darkness : (N,) float
        ``darkness`` of the same boxes.
    """
    letters, darkness = np.asarray(letters, dtype=float), np.asarray(darkness, dtype=float)
    empty = letters[darkness <= BINARY_EMPTY]
    return float(np.median(empty)) if empty.size >= MIN_KEPT_BOXES else None


def speck_threshold(off_letter: np.ndarray) -> float:
    """The least black off a box's printed letter (mm²) that is what is left of a stroke, on one
    black-and-white page: ``OFF_LETTER_SPECK`` where specks are rare on the page, ``OFF_LETTER_MARK``
    where its device speckles the paper (more than ``SPECKLED_PAGE`` of its boxes hold some).

    Parameters
    ----------
    off_letter : (N,) float
        ``off_letter_ink`` of every box of the page.

    Returns
    -------
    float
    """
    off = np.asarray(off_letter, dtype=float)
    if off.size == 0:
        return OFF_LETTER_MARK
    specks = float(np.mean((off > 0.0) & (off < OFF_LETTER_MARK)))
    return OFF_LETTER_SPECK if specks <= SPECKLED_PAGE else OFF_LETTER_MARK


def lit_evenly(patches: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """Box windows brought to the page's usual paper brightness, so boxes in a shadow band
    and in full light compare pixel by pixel.

    Parameters
    ----------
    patches : (N, h, w) uint8
        ``box_patches``.
    paper : (N,) float
        ``local_paper`` of each box.

    Returns
    -------
    (N, h, w) float32
    """
    return np.asarray(patches, dtype=np.float32) * even_gain(paper)[:, None, None]


def even_gain(paper: np.ndarray) -> np.ndarray:
    """``lit_evenly``'s factor for each box: the page's median paper over the box's own, (N,) float32."""
    paper = np.maximum(np.asarray(paper, dtype=np.float32), 1.0)
    return np.float32(_median(paper)) / paper


#: A label's empty box (``label_templates``) is the median of the brightest one in ``TEMPLATE_ONE_IN`` of its boxes
#: (rounded up to an odd number), and of at least ``MIN_TEMPLATE_BOXES``.
TEMPLATE_ONE_IN = 3
MIN_TEMPLATE_BOXES = 3


def label_templates(patches: np.ndarray, groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each label's empty box: the median window of the brightest third (``TEMPLATE_ONE_IN``, an odd number) of the
    boxes printed with that label, of at least ``MIN_TEMPLATE_BOXES``.

    A popular letter may be marked in most rows of a short exam, so the
    template is taken from its brightest boxes only. The brighter half was
    not enough: a 30-question sheet prints "E" in 9 boxes, and a student who
    filled five, left a light half-fill in one and a tick in another had only
    two empty "E" boxes. The median of the brighter half (two empty, the tick,
    the half-fill, a fill) then held the half-fill's grey where the tick ran,
    the tick traced as nothing, and the question read as its fill alone
    (simulated stress set, seed 61: the same sheet read so on five kinds of
    photo). Among the brightest three, two empty boxes outvote the tick.

    Parameters
    ----------
    patches : (N, h, w) uint8 or float
        ``box_patches`` of the canonical page (``lit_evenly`` when the light is uneven).
    groups : (N,) int
        Label group of each box; groups of ``-1`` or under ``MIN_GROUP`` boxes get none.

    Returns
    -------
    list of (members, template): the group's box indices (int64) and its (h, w) float32 empty box.
    """
    patches = np.asarray(patches)
    groups = np.asarray(groups)
    n = patches.shape[0]
    # One sort by label serves every group (as in ``empty_baseline``).
    order = np.argsort(groups, kind="stable")
    labels, starts, counts = np.unique(groups[order], return_index=True, return_counts=True)
    every_brightness = patches.reshape(n, -1).mean(axis=1)
    templates = []
    for label, start, size in zip(labels, starts, counts):
        if label < 0 or size < MIN_GROUP:
            continue
        members = order[start : start + size]
        # the brightest first (a stable sort keeps equally bright boxes in page order), an odd number of them: the
        # median is then one box's pixel, never the mean of an empty box's and a fill's (a 准考证号 of many zeros)
        brightest = np.argsort(-every_brightness[members], kind="stable")[: max(MIN_TEMPLATE_BOXES, -(-size // TEMPLATE_ONE_IN)) | 1]
        empty = members[np.sort(brightest)]
        templates.append((members, _median_first_axis(patches[empty]).astype(np.float32)))
    return templates


#: Where a label's empty box (``label_templates``) holds print: pixels at least this dark
#: (share of the paper–ink range). The letters are printed in light grey: at 6 px/mm their
#: strokes read 0.2–0.5 dark on most grey pages, 0.1–0.16 where a scan's contrast washed them out.
PRINT_INK = 0.06
#: A box has lost the print at a pixel when it keeps less than this share of the template's darkness there.
PRINT_KEPT = 0.4
#: Fewer print pixels than this in a label's empty box (a copy that washed the letters out): nothing to compare.
MIN_PRINT_PIXELS = 8
#: A label printed on fewer boxes than this is not compared: half of them may be marked (the "E" of a 30-question
#: exam's nine multiple-choice questions), and the rest are too few to say what its letter looks like. (Each digit
#: of the 准考证号 grid is printed on ten.)
MIN_PRINT_GROUP = 10


def missing_print(patches: np.ndarray, templates: list[tuple[np.ndarray, np.ndarray]], levels: Levels) -> np.ndarray:
    """How much of its printed letter each box has lost against its label's empty box.

    A sticker, a scrap of paper, correction tape or fluid over a box hides
    the pencil under it and the printed letter alike: the box reads as clean
    paper, an empty box. Pencil, a shadow or a fold's crease only add
    darkness, so the letter stays. A box whose letter is gone is covered.
    Where a note hides more of a label's boxes than a quarter, the brighter
    half's median is clean paper; the median of the next quarter by
    brightness (the empty boxes) is taken instead.

    Parameters
    ----------
    patches : (N, h, w) uint8 or float
        The patches ``templates`` were taken from.
    templates
        ``label_templates`` of them.
    levels
        The sheet's paper white and ink black.

    Returns
    -------
    (N,) float64: the share (0 … 1) of the template's print pixels (``PRINT_INK``) at which
    the box keeps less than ``PRINT_KEPT`` of the template's darkness; 0 for a box without a
    template or printed on fewer than ``MIN_PRINT_GROUP`` boxes, whose template holds fewer than
    ``MIN_PRINT_PIXELS`` print pixels (letters washed out), or is darker on average than a printed
    label (``LABEL_INK_MAX``: a label mostly marked).
    """
    patches = np.asarray(patches)
    lost = np.zeros(patches.shape[0])
    span = levels.white - levels.black
    every_brightness = None
    for members, template in templates:
        if len(members) < MIN_PRINT_GROUP:
            continue
        ink = (levels.white - template) / span
        printed = ink >= PRINT_INK
        if np.count_nonzero(printed) < MIN_PRINT_PIXELS:
            # No letter in the brightest third: washed out — or covered, when a note hides more of the label's
            # boxes than its empty ones: then the next quarter by brightness, the empty ones, holds it.
            if every_brightness is None:
                every_brightness = patches.reshape(patches.shape[0], -1).mean(axis=1)
            ranked = members[np.argsort(-every_brightness[members], kind="stable")]
            ink = (levels.white - _median_first_axis(patches[ranked[len(ranked) // 4:len(ranked) // 2]])) / span
            printed = ink >= PRINT_INK
        # a template darker than a printed label is a mark's (a 准考证号 of many zeros: most "0" boxes marked)
        if np.count_nonzero(printed) < MIN_PRINT_PIXELS or float(ink.mean()) > LABEL_INK_MAX:
            continue
        kept = (levels.white - patches[members][:, printed]) / span  # (members, print pixels)
        lost[members] = (kept < PRINT_KEPT * ink[printed]).mean(axis=1)
    return lost


#: How dark a page's printed letters read at their darkest (``print_peak``) when nobody pushed its contrast:
#: 0.14–0.22 on 805 simulated grey pages (none, scan, photo, cut, scan-messy, fold, phone-messy, harsh-shadow),
#: 0.07–0.19 on 420 copier pages, whose curve washes them out. A scanner app's raised black point darkens them
#: with the pencil: 0.18–0.36 on 300 simulated ``app`` pages (above 0.22 on four in five; the rest had their
#: black point raised little).
PRINT_PEAK_MAX = 0.22
#: A template pixel's darkness at this percentile is the letter's darkest (its strokes are a few pixels of the window).
PRINT_PEAK_PERCENTILE = 97


def print_peak(templates: list[tuple[np.ndarray, np.ndarray]], levels: Levels) -> float | None:
    """How dark the page's printed letters read at their darkest, as a share of the paper–ink range.

    The letters are printed in one grey on every sheet, so a page on which
    they read darker than on any unaltered scan had its contrast pushed
    after the light fell on it (a scanner app's "enhance", a copy made dark),
    and every pencil mark on it was darkened alike.

    Parameters
    ----------
    templates
        ``label_templates`` of the page's boxes.
    levels
        The sheet's paper white and ink black.

    Returns
    -------
    The median over labels printed on at least ``MIN_PRINT_GROUP`` boxes of
    their template's ``PRINT_PEAK_PERCENTILE`` darkness; None without such a label.
    """
    compared = [template.ravel() for members, template in templates if len(members) >= MIN_PRINT_GROUP]
    if not compared:
        return None
    # every template is one window's size: one percentile call over the stack (a page has a dozen labels or more)
    lightest = np.percentile(np.stack(compared), 100 - PRINT_PEAK_PERCENTILE, axis=1)
    return float(np.median((levels.white - lightest) / (levels.white - levels.black)))


def contrast_gain(peak: float | None) -> float:
    """How much darker than an unaltered scan the page's marks read: ``print_peak`` over ``PRINT_PEAK_MAX``, at least 1.

    Measured against the darkest letters an unaltered page shows, not the
    typical ones, the gain errs low: a page eased by it still reads its marks
    at least as dark as they were drawn, never lighter (a fill eased too far
    would pass for erasure residue).
    """
    return 1.0 if peak is None else max(1.0, peak / PRINT_PEAK_MAX)


def ease_contrast(pixels: np.ndarray, white: float, gain: float) -> np.ndarray:
    """Undo a pushed contrast: every pixel's darkness below paper ``white`` divided by ``gain``; (…) uint8 → same shape.

    A raised black point multiplies darkness (``white - v``) by one factor
    up to where ink clips at black; dividing it back leaves paper white and
    brings erasure residue, light fills and the letters back to their
    drawn proportion to each other.
    """
    ramp = np.arange(256, dtype=np.float32)
    eased = np.where(ramp < white, white - (white - ramp) / np.float32(gain), ramp)
    return cv2.LUT(pixels, np.clip(eased + 0.5, 0, 255).astype(np.uint8))


def trace_strokes(
    patches: np.ndarray, groups: np.ndarray, levels: Levels, templates: list[tuple[np.ndarray, np.ndarray]] | None = None,
    band: np.ndarray | None = None, smudge: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """How long a thin pencil stroke each box holds, as a share of the window's diagonal.

    A tick drawn with a fine, light pencil moves a box's mean darkness and its
    pencil coverage hardly at all, yet a person sees the line. Each box is
    compared pixel by pixel with its label's empty box — the median window
    of the brightest third of the boxes printed with the same label on this
    page (``label_templates``: a popular letter may be marked in most rows), so the printed letter
    cancels out — and the pixels darker than that by
    ``STROKE_TRACE`` of the paper–ink range more than the box's own paper
    (its median pixel: a film of erasure residue lifts it) are joined into
    connected runs; a run must reach ``STROKE_LEVEL`` somewhere.
    A run counts as a stroke when it is thin (``STROKE_THICK``), spreads
    across and down the window (``STROKE_EXTENT``) and does not cross the
    window as a straight line would (a fold's crease does: left to
    right, or top to bottom and narrow; a tick spans the box's height but
    not its width). Specks and JPEG ringing
    are short.

    Parameters
    ----------
    patches : (N, h, w) uint8 or float
        ``box_patches`` of the canonical page (``lit_evenly`` when the light is uneven).
    groups : (N,) int
        Label group of each box (``-1``: too few to compare; its value is 0).
    levels
        The sheet's paper white and ink black.
    templates
        ``label_templates(patches, groups)``, when already made.
    band : (N,) float, optional
        ``band_shade`` of each box, to tell dashes (``DASH_SPAN``) on a grey page: none where a band
        crosses the page beside the box. None on a black-and-white page, whose threshold keeps some
        printed strokes and wipes others: no dash is told there.
    smudge : (N,) float64, optional
        Filled in place, when given: the largest run of each box that reaches ``STROKE_LEVEL`` and does
        not cross the window, thin or not, as a share of the window (0 where there is none) — pencil a
        person sees whatever its shape (``SMUDGE_AREA``).

    Returns
    -------
    length : (N,) float64
        The longest stroke's bounding-box diagonal over the window's diagonal,
        0 when there is none.
    crossed : (N,) bool
        A line runs across the whole window (a fold's crease, a printed rule):
        whatever pencil-dark pixels the box holds may be that line's. Told
        only in boxes the tracer looks at (a pixel reaching ``STROKE_LEVEL``);
        a fainter crease leaves the box False.
    rise : (N,) float64
        How much of the window's height the longest stroke spans (0 when there is
        none): a tick's legs span most of it, a crease's run merged with a piece of
        the printed letter barely ``STROKE_EXTENT`` (``CREASE_RISE``).
    crease : (N,) float64
        In a box where the crossing line is the only run reaching ``STROKE_LEVEL``:
        how much darkness it adds to the box interior (``INSET``) above the box's
        own paper, in darkness units; 0 elsewhere. A mark beside the crease is a run
        of its own (and one across it merges with it: the box is not crossed).
    """
    patches = np.asarray(patches)
    groups = np.asarray(groups)
    n, h, w = patches.shape
    result = np.zeros(n)
    crossed = np.zeros(n, dtype=bool)
    rise = np.zeros(n)
    excess = np.zeros((n, h, w), dtype=np.float32)
    for members, template in label_templates(patches, groups) if templates is None else templates:
        excess[members] = (template - patches[members]) / (levels.white - levels.black)
    # against the box's own paper: a film of erasure residue raises the whole window, a stroke stands above it
    paper = np.maximum(_median_rows(excess.reshape(n, -1)), 0.0)
    above = excess - paper[:, None, None]
    # Only a box with a pixel reaching ``STROKE_LEVEL`` can hold a stroke: the others keep 0 and are not traced.
    reaching = np.flatnonzero(above.reshape(n, -1).max(axis=1, initial=0.0) > STROKE_LEVEL)
    if smudge is not None:
        smudge[:] = 0.0
    if not len(reaching):
        return result, crossed, rise, np.zeros(n)
    # one labelling pass for every such box: the windows side by side, one blank pixel apart. Runs are traced
    # at ``STROKE_TRACE`` (a light stroke's darkness dips along it) and kept where they reach ``STROKE_LEVEL``.
    canvas = np.zeros((len(reaching), h + 1, w + 1), dtype=np.float32)
    canvas[:, :h, :w] = above[reaching]
    canvas = canvas.reshape(len(reaching) * (h + 1), w + 1)
    labels, stats, _ = foreground_components((canvas > STROKE_TRACE).view(np.uint8))
    count = len(stats) + 1
    # the runs holding a pixel above ``STROKE_LEVEL`` (background pixels never exceed ``STROKE_TRACE``)
    peaked = np.zeros(count, dtype=bool)
    peaked[labels[canvas > STROKE_LEVEL]] = True
    left, top, width, height, area = stats.T
    box = reaching[top // (h + 1)]
    top = top % (h + 1)
    length = np.hypot(width, height)
    # a line across the whole window (a crease, a printed rule), not a tick that runs top to bottom
    crossing = ((left == 0) & (width >= w) & (height < CREASE_RISE * h)) | ((top == 0) & (height >= h) & (width < w / 3))
    # a tick spreads both ways; a crease's broken run is flat (or, down the page, narrow)
    spread = (width >= STROKE_EXTENT * w) & (height >= STROKE_EXTENT * h)
    # thickness as area over the run's width plus height: about its path length for a tick's two legs
    stroke = (area <= STROKE_THICK * (width + height)) & ~crossing & spread & peaked[1:count]
    np.maximum.at(result, box[stroke], length[stroke] / float(np.hypot(w, h)))
    crossed[box[crossing]] = True
    if smudge is not None:
        kept = ~crossing & peaked[1:count]
        np.maximum.at(smudge, box[kept], area[kept] / float(h * w))
    # each box's longest stroke's height (of equally long ones, the tallest): the first of its runs by length, descending
    runs = np.flatnonzero(stroke)[np.lexsort((-height[stroke], -length[stroke]))]
    boxes, first = np.unique(box[runs], return_index=True)
    rise[boxes] = height[runs[first]] / float(h)
    if band is not None:  # on clean paper only: within a fill or a film, a darker streak is the fill's own
        window = (levels.white - patches[reaching].reshape(len(reaching), -1).mean(axis=1)) / (levels.white - levels.black)
        _add_dashes(above[reaching], reaching, result, rise,
                    (np.asarray(band)[reaching] >= CREASE_BAND) | (paper[reaching] >= STROKE_TRACE) | (window > LABEL_INK_MAX))
    crease = _crease_darkness(canvas, labels, crossing, peaked[1:count], box, reaching, (n, h, w))
    return result, crossed, rise, crease


def _add_dashes(above: np.ndarray, boxes: np.ndarray, length: np.ndarray, rise: np.ndarray, passed_over: np.ndarray) -> None:
    """Count a dash across a box as its stroke where it is longer than the box's traced one (``trace_strokes``).

    The printed letter breaks a line across the box into runs (the letter's own grey is in the template it
    is compared with), so a dash is told from where its pixels above ``STROKE_LEVEL`` lie, not from one run
    (``DASH_SPAN``, ``DASH_PEAK``).

    Parameters
    ----------
    above : (R, h, w) float32
        Traced boxes' darkness above their own paper.
    boxes : (R,) int
        Their indices into ``length`` and ``rise`` (both (N,) float64, updated in place).
    passed_over : (R,) bool
        Boxes to pass over: a band crosses the page beside them (a fold's crease and its shading), or
        they are not clean paper (a fill, a film of residue: a darker streak in it is its own).
    """
    _, h, w = above.shape
    dark = above > STROKE_LEVEL
    columns, rows = dark.any(axis=1), dark.any(axis=2)
    present = columns.any(axis=1)
    left, right = np.argmax(columns, axis=1), w - 1 - np.argmax(columns[:, ::-1], axis=1)
    wide = np.where(present, right - left + 1, 0)
    tall = np.where(present, h - np.argmax(rows[:, ::-1], axis=1) - np.argmax(rows, axis=1), 0)
    dash = (present & ~passed_over & (wide >= DASH_SPAN * w) & ((left > 0) | (right < w - 1)) & (tall < STROKE_EXTENT * h)
            & (dark.sum(axis=(1, 2)) <= STROKE_THICK * (wide + tall)) & (above.max(axis=(1, 2)) >= DASH_PEAK))
    span = np.hypot(wide, tall) / float(np.hypot(w, h))
    longer = dash & (span > length[boxes])
    length[boxes[longer]] = span[longer]
    rise[boxes[longer]] = tall[longer] / float(h)


def _crease_darkness(
    canvas: np.ndarray, labels: np.ndarray, crossing: np.ndarray, peaked: np.ndarray, box: np.ndarray,
    reaching: np.ndarray, shape: tuple[int, int, int],
) -> np.ndarray:
    """``trace_strokes``' ``crease``: the darkness a crossing line alone adds to each box's interior, (N,) float64.

    ``canvas`` holds the traced boxes' darkness above their own paper side by side
    (``reaching``'s windows, one blank row apart), ``labels`` its runs; ``crossing``
    and ``peaked`` say which runs cross their window and which reach ``STROKE_LEVEL``,
    ``box`` each run's box; ``shape`` is (N, h, w). The interior is the window less
    what ``INSET`` leaves out beyond ``STROKE_INSET``: where ``darkness`` measures.
    """
    n, h, w = shape
    crease = np.zeros(n)
    others = np.zeros(n, dtype=bool)
    others[box[peaked & ~crossing]] = True
    alone = np.unique(box[crossing])
    alone = alone[~others[alone]]
    if not len(alone):  # the usual page: no crease, or none alone in its box
        return crease
    rows = int(round((INSET - STROKE_INSET[1]) / (1 - 2 * STROKE_INSET[1]) * h))
    cols = int(round((INSET - STROKE_INSET[0]) / (1 - 2 * STROKE_INSET[0]) * w))
    line_labels = np.flatnonzero(crossing) + 1
    slot = {int(b): k for k, b in enumerate(reaching)}
    for b in alone:
        top = slot[int(b)] * (h + 1)
        window = (slice(top + rows, top + h - rows), slice(cols, w - cols))
        on_line = np.isin(labels[window], line_labels)
        crease[b] = float(canvas[window][on_line].sum()) / on_line.size
    return crease


def stroke_lengths(patches: np.ndarray, groups: np.ndarray, levels: Levels) -> np.ndarray:
    """The ``length`` of ``trace_strokes``: (N,) float64."""
    return trace_strokes(patches, groups, levels)[0]


def shared_darkness(
    patches: np.ndarray, groups: np.ndarray, levels: Levels, shares: Sequence[float], gain: np.ndarray | None = None,
) -> np.ndarray:
    """How dark each box is at the pixel that a given share of its window is at least as dark as.

    At ``0.5`` this is the median pixel (``film_darkness``); at ``FLOOR_SHARE``
    it is the box's floor, the darkness nearly the whole window shares.
    Erasure residue is a film rubbed over the box, so most of its pixels carry
    it; a faint half-fill, a tick or the printed letter leaves much of the
    window paper. Compared with a box's mean darkness, this tells an even film
    from pencil gathered in one part.

    Parameters
    ----------
    patches : (N, h, w) uint8 or float
        ``box_patches`` of the canonical page (``lit_evenly`` when the light is uneven).
    groups : (N,) int
        Label group of each box, for the empty box's own value (``empty_baseline``).
    levels
        The sheet's paper white and ink black.
    shares : (S,) float
        Shares (0 … 1) of the window's pixels.
    gain : (N,) float32, optional
        ``even_gain``: the uint8 ``patches`` are read as ``lit_evenly(patches, paper)``. A positive
        factor keeps each window's order, so its ranks are the 8-bit ones times the gain — the same
        numbers, from a sort of 8-bit rows (OpenCV's, several times cheaper than partitioning floats).

    Returns
    -------
    (S, N) float64: that pixel's darkness above the label's empty box, 0 … 1.
    """
    patches = np.asarray(patches)
    n = patches.shape[0]
    if n == 0:
        return np.zeros((len(shares), 0))
    flat = patches.reshape(n, -1)
    # the pixel at rank k (brightness ascending: darkest first) has k + 1 pixels at least as dark
    ranks = [min(int(share * flat.shape[1]), flat.shape[1] - 1) for share in shares]
    if flat.dtype == np.uint8:
        ranked = cv2.sort(np.ascontiguousarray(flat), cv2.SORT_EVERY_ROW | cv2.SORT_ASCENDING)
    else:
        ranked = np.partition(flat, sorted(set(ranks)), axis=1)
    result = np.empty((len(shares), n))
    for row, rank in enumerate(ranks):
        values = ranked[:, rank] if gain is None else ranked[:, rank].astype(np.float32) * gain
        raw = (levels.white - values.astype(float)) / (levels.white - levels.black)
        base = empty_baseline(raw, groups, float(_median(raw)))
        result[row] = np.clip(raw - base, 0.0, 1.0)
    return result


#: The floor of a box: the darkness this share of its window's pixels reach.
#: A film of erasure residue keeps most of its darkness there (on simulated grey
#: pages at least 0.4 of the box's mean darkness in 19 boxes of 20); a faint
#: half-fill keeps at most about a third of it, a tick a fifth: the paper
#: beside them is what the floor reads.
FLOOR_SHARE = 0.8


def film_darkness(patches: np.ndarray, groups: np.ndarray, levels: Levels) -> np.ndarray:
    """How dark each box is at its middle pixel: the darkness half its window shares (``shared_darkness``).

    Returns
    -------
    (N,) float64, 0 … 1.
    """
    return shared_darkness(patches, groups, levels, (0.5,))[0]


def _median(values: np.ndarray) -> float:
    """``np.median`` of a short array, by sorting: the same number (and dtype) without its per-call overhead."""
    ranked = np.sort(values, axis=None)
    if not len(ranked) or np.isnan(ranked[-1]):  # nothing, or a NaN (sorted last): numpy's own answer
        return np.median(values)
    middle = len(ranked) // 2
    return ranked[middle] if len(ranked) % 2 else (ranked[middle - 1] + ranked[middle]) / 2.0


def _median_first_axis(stack: np.ndarray) -> np.ndarray:
    """``np.median(stack, axis=0)`` for a few dozen images: sorted along the stack, its middle (same numbers and dtype)."""
    ranked = np.sort(stack, axis=0)
    if not np.issubdtype(ranked.dtype, np.floating):
        # as np.median does: integers (8-bit windows) in float64, so two middle values are never summed past 255
        ranked = ranked.astype(np.float64)
    middle = len(ranked) // 2
    if len(ranked) % 2:
        return ranked[middle]
    return (ranked[middle - 1] + ranked[middle]) / ranked.dtype.type(2)


def _median_rows(values: np.ndarray) -> np.ndarray:
    """``np.median(values, axis=1)`` with one partition: the upper middle, and the largest value below it.

    The same numbers and dtype (an even row's two middle values averaged in
    the array's own precision, as ``np.median`` does) for a third of its cost.
    """
    count = values.shape[1]
    middle = count // 2
    ranked = np.partition(values, middle, axis=1)
    upper = ranked[:, middle]
    if count % 2:
        return upper
    return (ranked[:, :middle].max(axis=1) + upper) / values.dtype.type(2)


#: The paper around a box: a ring this wide (mm) just outside it, read at this
#: percentile (the printed brackets, a neighbour's spill or the box's own take
#: less than a quarter of it).
RING_MM = 0.8
RING_PERCENTILE = 75


def local_paper(page: np.ndarray, rects_px: np.ndarray, ppm: float, windows: Windows | None = None) -> np.ndarray:
    """How bright the paper right around each box is (grey 0–255).

    A shadow band across a phone photo or a fold's shading darkens the paper
    and every box in it alike, with edges sharper than the flat-field step
    divides out: a box is then darker than the page's paper without any
    pencil in it. The ring of paper just outside the box shows it.

    Parameters
    ----------
    page : (H, W) uint8
        The canonical page, or ``windows.pixels``.
    rects_px : (N, 4) float
        Boxes ``x, y, w, h`` in page pixels (all about the same size).
    ppm : float
        Page pixels per mm.
    windows : optional
        Windows around ``rects_px`` that hold the ring (``windows.ROW_MARGIN``), when ``page`` is their pixels.

    Returns
    -------
    (N,) float64: the ``RING_PERCENTILE`` grey of each box's ring (``RING_MM`` wide).
    """
    return ring_paper(ring_patches(page, rects_px, ppm, windows), ring_margin(ppm))


def ring_patches(page: np.ndarray, rects_px: np.ndarray, ppm: float, windows: Windows | None = None) -> np.ndarray:
    """Each box with ``RING_MM`` of paper all round it: (N, h + 2m, w + 2m), ``page``'s dtype, m = ``RING_MM`` in pixels.

    Parameters as ``local_paper``; ``ring_paper`` and ``side_paper`` read the ring from these.
    """
    rects_px = np.asarray(rects_px, dtype=float)
    if windows is None:
        x0, y0, size = _ring_places(rects_px, ppm, page.shape)
    else:  # the rings' places on the page: worked out once per layout
        x0, y0, size = windows.indices(("rings", ppm, array_key(rects_px)), lambda: _ring_places(rects_px, ppm, windows.page_shape))
    return gather_patches(page, x0, y0, size, windows)


def ring_margin(ppm: float) -> int:
    """How many pixels of paper ``ring_patches`` keeps on each side of a box: ``RING_MM`` at ``ppm``."""
    return max(1, int(round(RING_MM * ppm)))


def ring_paper(rings: np.ndarray, margin: int) -> np.ndarray:
    """``local_paper`` from ``ring_patches``: the ``RING_PERCENTILE`` grey of each ring, (N,) float64."""
    n, h, w = rings.shape
    ring = np.ones((h, w), dtype=bool)
    ring[margin:h - margin, margin:w - margin] = False
    return _percentile_rows(rings[:, ring], RING_PERCENTILE)


def side_paper(rings: np.ndarray, margin: int) -> np.ndarray:
    """How bright the paper beside each box is, row by row of the box, on its left and on its right.

    A fold's shading or crease runs across the page in a band a few
    millimetres wide; where it crosses a row of boxes it darkens the rows of
    each box it covers *and* the paper to their left and right at the same
    height, while pencil stays in its box (or spills to one side). The ring
    ``local_paper`` reads at a bright percentile misses a band that covers
    only part of it; its two side strips read row by row do not.

    Parameters
    ----------
    rings : (N, h + 2m, w + 2m) uint8 or float
        ``ring_patches`` of every box.
    margin
        ``ring_margin``: m.

    Returns
    -------
    (N, 2, h), ``rings``' dtype: for each box, its left and its right strip (``RING_MM`` wide),
    the second-brightest pixel of each of the box's h rows — a bracket's edge or a stroke
    crossing the strip darkens a pixel or two of a row, a band every one of them. (At 6 px/mm
    the strip is 5 pixels wide, and that is ``RING_PERCENTILE`` of them.)
    """
    n, h, w = rings.shape
    strips = (rings[:, margin:h - margin, :margin], rings[:, margin:h - margin, w - margin:])
    # the two brightest pixels of each row, column by column: a partition per 5-pixel row costs 50 times more
    columns = [np.stack([strip[:, :, k] for strip in strips], axis=1) for k in range(margin)]
    brightest, second = columns[0], None
    for column in columns[1:]:
        passed = np.minimum(brightest, column)
        second = passed if second is None else np.maximum(second, passed)
        brightest = np.maximum(brightest, column)
    return brightest if second is None else second  # a one-pixel strip: its pixel


#: A fold's shading takes at most this much darkness from the boxes it crosses (its
#: darkest simulated shading loses 0.12 of the paper's white; a crease line, a thin
#: 0.3): subtracting more could take a real mark's own darkness away.
BAND_SHADE_MAX = 0.15


def band_shade(side: np.ndarray, levels: Levels) -> np.ndarray:
    """How much darker than the page's usual paper a band across the page makes each box, in darkness units.

    Parameters
    ----------
    side : (N, 2, h) float
        ``side_paper`` of every box on the page.
    levels
        The sheet's paper white and ink black.

    Returns
    -------
    (N,) float64: the mean over the box's rows of how much darker the paper on *both*
    sides of the row is than the page's median side paper, from 0 to ``BAND_SHADE_MAX``.
    """
    side = np.asarray(side, dtype=float)
    usual = float(np.median(side))
    # both sides of a row: a neighbour's pencil spills onto one side, a band across the page darkens both
    lift = np.clip((usual - side.max(axis=1)) / (levels.white - levels.black), 0.0, None).mean(axis=1)
    return np.minimum(lift, BAND_SHADE_MAX)


#: A line through a box (a teacher's pen X across a row, a ruler's stroke, a row struck out) darkens the
#: paper on both sides of the box at least this much, in darkness units below each strip's own paper.
#: Sides of boxes nobody drew across on simulated pages reach at most 0.12 (phone photos, shadow edges), a
#: fold's crease on both sides up to 0.31; a pen line of grey 150 on white 0.35–0.4, of grey 120 0.4–0.55.
#: A pen darker than about grey 130 read, without this, as a light hand's fill where its strokes cross a box.
LINE_THROUGH = 0.35
#: Under such a line a box is a mark only when the darkness ``FLOOR_SHARE`` of its window reaches is at least this
#: share of its mean: a clear fill's floor keeps most of it, a pen X's two strokes leave paper between them. Near
#: where they cross, two thick strokes (0.8 mm) leave little: on simulated pen pages such boxes reached 0.62–0.69 of
#: their mean and were read as marks with no flag at 0.6 (three sheets of 640 on pen pages of seeds 0, 7 and 19);
#: clear fills under a line reach 0.31–1.0 of theirs, 18 % of them under 0.8 (2 % under 0.6): now flagged ``lined``,
#: mostly on questions the X already had flagged (6 more flagged questions on those 640 sheets, no more sheets).
LINED_FLOOR = 0.8


def line_through(side: np.ndarray, levels: Levels) -> np.ndarray:
    """How dark a line crossing each box is where it leaves the box on both sides, in darkness units.

    Pencil stays in its box or spills over one edge; a pen line drawn
    across a row passes through the paper on *both* sides of every box it
    crosses. Each side strip's rows (``side_paper``: a row is dark only when
    the line covers the strip's width, not a bracket's edge) are compared
    with that strip's brightest row, so a shadow over the whole strip adds
    nothing, and the weaker side decides. Between answer boxes (1.7 mm and
    more) a neighbour's spill rarely reaches a strip (once on 2,520 kept
    pages: a fax's threshold thickened a spill toward a box that spilled the
    other way itself); in the 准考证号 grid (1.2 mm) two neighbours' fills
    spilling toward a box often do, so ``reader`` weighs lines on the answer
    rows only. A pen's X can be as tall as a spill where its strokes meet:
    their shape in the strip does not tell the two apart.

    Parameters
    ----------
    side : (N, 2, h) uint8 or float
        ``side_paper`` of every box.
    levels
        The sheet's paper white and ink black.

    Returns
    -------
    (N,) float64: on each side, the darkness of the second-darkest row below that side's
    brightest (two rows: a third of a millimetre at 6 px/mm, not a speck); the lesser of the two sides.
    """
    side = np.asarray(side, dtype=np.float32)
    n, _, h = side.shape
    if n == 0 or h < 2:
        return np.zeros(n)
    below = side.max(axis=2, keepdims=True) - side
    second = np.partition(below, h - 2, axis=2)[:, :, h - 2]
    return np.clip(second.min(axis=1).astype(float) / (levels.white - levels.black), 0.0, 1.0)


def _ring_places(rects_px: np.ndarray, ppm: float, page_shape: tuple[int, int]) -> tuple:
    """``ring_patches``' top-left pixels (x0, y0) on the page and the patches' (h, w)."""
    height, width = page_shape
    margin = ring_margin(ppm)
    w = int(round(_median(rects_px[:, 2]))) + 2 * margin
    h = int(round(_median(rects_px[:, 3]))) + 2 * margin
    x0 = np.clip(np.round(rects_px[:, 0]) - margin, 0, width - w).astype(int)
    y0 = np.clip(np.round(rects_px[:, 1]) - margin, 0, height - h).astype(int)
    return (*_frozen(x0, y0), (h, w))


def _percentile_rows(values: np.ndarray, q: float) -> np.ndarray:
    """``np.percentile(values, q, axis=1)`` (linear interpolation) from the two ranks it needs: partitioned, or sorted (uint8)."""
    count = values.shape[1]
    position = q / 100 * (count - 1)
    low = int(np.floor(position))
    high = min(low + 1, count - 1)
    if values.dtype == np.uint8:
        # 8-bit grey: OpenCV sorts each row in half the time of numpy's radix sort (partitioning costs
        # from half to four times that, as the rows are mostly one grey or not); the same ranks
        ranked = cv2.sort(np.ascontiguousarray(values), cv2.SORT_EVERY_ROW | cv2.SORT_ASCENDING) if values.size else values
    else:
        ranked = np.partition(values, (low, high), axis=1)
    below, above = ranked[:, low].astype(float), ranked[:, high].astype(float)
    return below + (position - low) * (above - below)


def shade(paper: np.ndarray, levels: Levels) -> np.ndarray:
    """How much darker each box's surrounding paper is than the page's usual, in darkness units (≥ 0).

    Parameters
    ----------
    paper : (N,) float
        ``local_paper`` of every box on the page.
    """
    paper = np.asarray(paper, dtype=float)
    return np.clip((_median(paper) - paper) / (levels.white - levels.black), 0.0, 1.0)


#: A lighter or partial fill is still a mark, on a grey page, when it covers
#: this much of the box interior with pencil-dark pixels and this much of the
#: whole box (a faint half-fill — the deliberately doubtful kind — covers at
#: most about 0.70 and 0.41 on simulated pages of most levels; messy real
#: marks 0.8 and 0.63 or more in 99 cases of 100; ``HALF_FILL_WHOLE``)…
PARTIAL_COVER = 0.78
PARTIAL_WHOLE = 0.5
#: …and is at least this share of the student's own clear marks' darkness on
#: the page (``own_darkness``), and never lighter than ``PARTIAL_DARK``.
PARTIAL_SHARE = 0.6
PARTIAL_DARK = 0.25
#: ``own_darkness`` needs at least this many clear marks on the page.
MIN_OWN_MARKS = 5
#: A lighter fill is also a mark, on a grey page, when its pencil is spread over
#: the box like the student's own fills: it covers at least half of the whole box
#: (a faint half-fill covers at most 0.47 on simulated pages; ``HALF_FILL_WHOLE``), its median pixel is
#: at least ``FILL_FILM_SHARE`` of the student's clear-mark darkness (a half-fill's
#: is at most 0.54 of it: half its window is paper) and its mean ``FILL_SHARE``.
FILL_WHOLE = 0.5
FILL_FILM_SHARE = 0.55
FILL_SHARE = 0.5
#: …and never lighter than this (the spread and the median pixel, not the mean, tell it from a half-fill).
FILL_DARK = 0.2
#: Neither lighter-fill rule reads a box that covers less than this much of the whole box while its floor keeps
#: less than ``GATHERED_FLOOR_SHARE`` of its mean: pencil over about half the box, gathered in part of it, is the
#: deliberately doubtful half-fill's shape. A scanning app's sharpening spreads a half-fill to 0.86 of the interior
#: and up to 0.528 of the box (9,381 half-fills on simulated grey pages, 1,588 of them on app pages with a doubtful
#: mark on every question; their floor 0.06–0.28 of their mean): two were read as marks with no flag. A messy
#: hand's clear fills take that shape too: 9 of them on 1,739 grey sheets are flagged instead (at 0.55, with more
#: room above the half-fills, 25: four times the needless flags on phone and copier pages). On seed 0's 100-question
#: phone pages it costs more: 5, 3 and 2 more flagged sheets in 100 on phone-messy, harsh-shadow, curled and tilted.
HALF_FILL_WHOLE = 0.53
#: (A patchier fill, under ``FILL_WHOLE`` of the box pencil-dark, is not read by its median
#: pixel: a light-handed student's faint half-fill covering most of the inset window has a
#: pencil-dark median too. With a doubtful mark on every question (``bench/accuracy.py
#: --doubtful-rate 1.0``) a rule for it read 37 of the 12,000 doubtful marks on phone, harsh-photo
#: and copier pages — all half-fills — as marks, silently; without it 12 patchy fills on the
#: about 4,500 ordinary grey pages of the five kept sets are flagged instead.)
#: A lighter fill is also a mark, on a grey page, when its floor (``FLOOR_SHARE``)
#: keeps ``FLOOR_FILL_SPREAD`` of its mean darkness — pencil over nearly the whole
#: window; a faint half-fill's floor keeps at most 0.36 — and it is at least
#: ``FLOOR_FILL_SHARE`` of the student's clear marks (erasure residue: at most
#: 0.51 on simulated pages), covering ``FLOOR_FILL_COVER`` of the interior and
#: ``FLOOR_FILL_WHOLE`` of the box. A copier's contrast leaves such fills.
FLOOR_FILL_SPREAD = 0.45
FLOOR_FILL_SHARE = 0.6
FLOOR_FILL_COVER = 0.35
FLOOR_FILL_WHOLE = 0.25
#: …and never lighter than this.
FLOOR_FILL_DARK = 0.25
#: Erasure residue beside a clear mark may be darker than ``RESIDUE_MAX`` on a
#: grey page when it is an even film — its median pixel at least ``EVEN_FILM``
#: of its mean darkness (rubbed pencil is spread over the box; a light half-fill
#: or a copier's remains of one gather in part of it: at most 0.79 on simulated
#: pages) — up to ``EVEN_RESIDUE_MAX`` dark, with little pencil-dark coverage.
EVEN_FILM = 0.85
EVEN_RESIDUE_MAX = 0.22
EVEN_RESIDUE_COVER = 0.35
EVEN_RESIDUE_WHOLE = 0.25
#: A film of residue this dark (median pixel) is blotchy enough on a grey page to hold
#: runs that pass for a short stroke (up to 0.73 of the diagonal); a tick stands on
#: clean paper (median pixel at most 0.1 on simulated pages). Over such a film only
#: a stroke of ``BINARY_STROKE_SPAN`` rules residue out.
STROKE_ON_FILM = 0.13
#: A floor this dark (``FLOOR_SHARE``) is a film too, whatever the median pixel says:
#: a tick's floor is the paper beside it (at most 0.055 on simulated grey pages).
STROKE_ON_FLOOR = 0.07
#: A lighter floor is the film's too when it reaches ``STROKE_ON_FLOOR_LEAST`` and keeps
#: ``STROKE_ON_FLOOR_SHARE`` of the box's darkness: a copier's contrast turns a light
#: residue's blotches into short runs over a floor of 0.012–0.068 (median 0.04), at
#: 0.14–0.66 of the box's darkness (median 0.38). A tick traced as a run this short, with
#: less than ``OFF_LETTER_MARK`` off its letter, stands on a floor of at most 0.022 (harsh
#: photos; 0.008 on other grey levels: 65 such ticks on the grey pages of the kept and
#: stress sets). The share is ``GATHERED_FLOOR_SHARE``'s: a run changes nothing about a
#: film that would be residue without it, and a faint half-fill with a run (its floor
#: at most 0.2 of its darkness) stays gathered in part of the box, a person's call.
STROKE_ON_FLOOR_SHARE = 0.25
STROKE_ON_FLOOR_LEAST = 0.025
#: Erasure residue beside a clear mark may also be a film whose floor keeps
#: ``FLOOR_RESIDUE_SHARE`` of its mean darkness — rubbed hard enough to leave
#: pencil-dark blotches over much of the box: up to ``FLOOR_RESIDUE_MAX`` dark,
#: covering up to ``FLOOR_RESIDUE_COVER`` of the interior and ``FLOOR_RESIDUE_WHOLE``
#: of the box. A copier's contrast makes the film blotchier: its floor keeps 0.45–0.63
#: of its mean (quartiles; 0.27 at the 5th percentile), other grey levels' 0.65–0.83.
#: A faint half-fill within those limits keeps at most 0.3 (6,097 of 6,099 on the grey
#: pages of the kept and stress sets: half its window is paper; the other two, 0.42 and
#: 0.57, have no mark beside them), and a tick that keeps more is traced as a line that
#: rules residue out; a lighter fill's floor comes with more coverage or more darkness
#: than these limits.
FLOOR_RESIDUE_SHARE = 0.4
FLOOR_RESIDUE_MAX = 0.26
FLOOR_RESIDUE_COVER = 0.55
FLOOR_RESIDUE_WHOLE = 0.35
#: On a page whose contrast was pushed (a scanning app's "enhance", a dark copy: ``pushed``) residue comes out
#: darker and blotchier than ``FLOOR_RESIDUE_*`` allow even after the reader eases it back: on simulated app pages
#: a tenth of the residue beside a clear mark (24 of 241 boxes, 0.10–0.53 dark, covering up to 0.77 of the
#: interior) was flagged faint, a needless flag on a quarter of 100-question sheets. It is still an even film:
#: its floor keeps 0.43–0.87 of its mean (5th–95th percentile), while on the same pages a deliberately faint fill
#: keeps at most 0.41 and a tick 0.33 (1,609 and 1,530 of them, most with a doubtful mark on every question). There a
#: film keeping ``PUSHED_FLOOR_RESIDUE_SHARE`` is residue up to these limits; a lighter clear fill on those pages is
#: 0.44 dark at the least.
PUSHED_FLOOR_RESIDUE_SHARE = 0.45
PUSHED_FLOOR_RESIDUE_MAX = 0.36
PUSHED_FLOOR_RESIDUE_COVER = 0.8
PUSHED_FLOOR_RESIDUE_WHOLE = 0.6
#: Nothing on a grey page is taken for residue when it holds pencil-dark pixels
#: (``GATHERED_COVER`` of the interior) while its floor keeps less than
#: ``GATHERED_FLOOR_SHARE`` of its mean darkness: pencil gathered in part of the
#: box — a faint half-fill a copier washed out to residue's darkness (its floor
#: keeps at most 0.23 of it), a tick the tracer missed, a stray dot — is a person's
#: call. 99 % of residue keeps more. A crease across the window (``trace_strokes``'s
#: ``crossed``) holds such pixels too, and is not pencil.
GATHERED_COVER = 0.05
GATHERED_FLOOR_SHARE = 0.25
#: "Pencil-dark" is a fixed share of the paper–ink range, so where the student's pencil itself comes out
#: light — a faded page (a copy of a copy, a pale fax, a scan turned bright), a very light hand — a faint
#: half-fill holds no such pixel and read as erasure without a flag (22 deliberate faint marks on 40
#: simulated faded 100-question sheets with a doubtful mark on every question). Gathered pencil is then told
#: by its darkness against the student's own clear marks (the question's lightest one when the page has too
#: few): a faint fill on those pages is 0.28–0.53 of them, a shadow's edge or a speck well under a fifth.
#: Where pencil comes out as usual, residue gathered like this and at least this dark was 2 boxes in 600
#: sheets of six grey levels.
GATHERED_OWN_SHARE = 0.2
#: Pencil-dark pixels over a good part of the interior (``GATHERED_SPREAD_COVER``) with the floor under
#: ``GATHERED_SPREAD_SHARE`` of the mean are gathered pencil too, even where the rest of the box holds a film
#: that makes its median pixel look even: a faded page's faint half-fill, 0.2 dark over 0.29 of the interior with
#: its floor at 0.27 of its mean, passed for an even film of residue and its question was read without a flag
#: (seed 41). Residue holding that much pencil-dark keeps 0.33 of its mean or more (the grey pages of 32 sets
#: of seed 41 and of faded seed 7); faint half-fills that dark keep at most 0.32, 99 % of them under 0.29. Residue does
#: reach 0.25–0.3 now and then (seed 0: 10 boxes in 1,800 sheets of seven grey levels), but it is light against the
#: student's own marks: at most 0.27 of them there (one 0.4), the half-fills at least 0.34 — so this takes only gathered
#: pencil of ``GATHERED_SPREAD_OWN_SHARE`` of them (the question's lightest mark when the page has too few).
GATHERED_SPREAD_SHARE = 0.3
GATHERED_SPREAD_COVER = 0.15
GATHERED_SPREAD_OWN_SHARE = 0.3
#: Nothing this dark against the student's own clear marks is erasure residue, however even: a light-handed
#: student's second, lighter fill (0.57 of their marks, spread evenly over the box) read as residue beside the first,
#: without a flag (stress seed 73, copier). Of 3,444 residue boxes read as residue on the grey pages of seeds 0, 61,
#: 71 and 73, none reaches 0.49 of the student's marks (0.51 in earlier sets).
RESIDUE_OWN_SHARE = 0.55


def own_darkness(values: Sequence[float], whole: Sequence[float]) -> float | None:
    """How dark this student's clear marks are on this page: the median darkness of
    the boxes that are marked by the fixed levels (``MARKED`` and ``SOLID``);
    None with fewer than ``MIN_OWN_MARKS`` of them.

    Parameters
    ----------
    values, whole : (N,) float
        Darkness and excess whole-box coverage of the page's answer boxes.
    """
    v, w = np.asarray(values, dtype=float), np.asarray(whole, dtype=float)
    clear = v[(v >= MARKED) & (w >= SOLID)]
    return float(np.median(clear)) if len(clear) >= MIN_OWN_MARKS else None


#: On a black-and-white page a fill well darker than the device's cut is a solid black block: the median
#: darkness of a page's marked answer boxes (``binary_fills``) is 0.81 at the least on 839 simulated 1-bit
#: pages of white paper (fax, fold, scanner, harsh, cut; 1 % under 0.87). Where the cut sits as dark as the
#: pencil — a faded page (a copy of a copy, a fax), a scan lightened or its black-and-white cut set too
#: light — the fills break into fragments and lighter ones turn to paper, read as unanswered: on simulated
#: pages whose contrast was faded to 0.5–0.8, those with a fill read as blank had a median of 0–0.77.
#: Below this a page's fills are not trusted.
SOLID_BINARY_FILLS = 0.75


@dataclass(frozen=True)
class BinaryFills:
    """How a black-and-white page's answer boxes came through the device's threshold (``binary_fills``)."""

    marks: int  # boxes at least ``MARKED``
    solid: float | None  # their median darkness; None without any
    fragments: int  # boxes darker than an empty one's specks (``BINARY_EMPTY``) but not marked
    broken: float | None  # the marked boxes' median floor over darkness (``shared_darkness``); None without any

    @property
    def pencil_lost(self) -> bool:
        """The cut sits as dark as the pencil: the page's fills (at least ``MIN_OWN_MARKS`` of them to judge by)
        came through as fragments — their median darkness under ``SOLID_BINARY_FILLS``, broken up with paper
        between (``BROKEN_FILLS``), not evenly grey. (A page the device left next to no fill on is for
        ``reader.question_flags``: a blank sheet, or one with few answers.)"""
        return (self.marks >= MIN_OWN_MARKS and self.solid is not None and self.solid < SOLID_BINARY_FILLS
                and self.broken is not None and self.broken < BROKEN_FILLS)


#: A fill the threshold broke up keeps paper between its black dots: the darkness 80 % of its window reaches
#: (``shared_darkness``'s floor, on the lightly smoothed windows) is under its mean. The median over a page's
#: fills: at most 0.67 on the simulated faded pages (pencil grain, holes of a few pixels); 0.76–0.84 where a
#: sensor's noise dithers a grey fill pixel by pixel (the smoothing evens much of it out). An evenly grey fill keeps 0.87–0.98, median 0.96: a clean grey rendering with next to no mid-grey, taken for
#: black and white, is not a broken one.
BROKEN_FILLS = 0.9


def binary_fills(values: Sequence[float], floor: Sequence[float]) -> BinaryFills:
    """The marked boxes, their median darkness and how broken up they are, and the fragments, among a
    black-and-white page's answer boxes.

    Parameters
    ----------
    values, floor : (N,) float
        Darkness and floor (``shared_darkness`` at ``FLOOR_SHARE``) of the page's answer boxes.
    """
    v, f = np.asarray(values, dtype=float), np.asarray(floor, dtype=float)
    marked = v >= MARKED
    fragments = int(np.count_nonzero((v > BINARY_EMPTY) & ~marked))
    if not marked.any():
        return BinaryFills(0, None, fragments, None)
    return BinaryFills(int(marked.sum()), float(np.median(v[marked])), fragments, float(np.median(f[marked] / v[marked])))


@dataclass(frozen=True)
class Reading:
    """The outcome for one question (or one identity column)."""

    outcome: str  # "answer" | "blank" | "flagged"
    letters: str  # marked options, e.g. "AC" ("" when blank or flagged)
    reason: str  # "" or a flag slug: multiple-marks, faint, nonexistent-option
    confidence: float  # 0..1: distance of the decision from its nearest threshold
    note: str = ""  # e.g. "erasure" when a lighter box next to a mark was ignored


#: A box a fold's crease alone crosses (``trace_strokes``' ``crease``) holds the line's
#: pencil-dark pixels: up to 0.19 of the interior on simulated folded pages (0.14 at the
#: 99th percentile of 1,777 such empty boxes). Its darkness less the line's decides it.
CREASE_COVER = 0.25
#: A box that lost this share of its printed letter (``missing_print``) is covered. Uncovered boxes on the grey pages
#: of the kept sets lose at most 0.45 (581,127 boxes on 1,543 pages of every grey level; 0.21 at the 99.99th
#: percentile: a fold's shading, a letter a pixel off); a sticker or correction tape over a box hides all of it (1.0).
COVERED_PRINT = 0.7
#: A short run rising under ``CREASE_RISE``…
#: …shorter than ``BINARY_STROKE_SPAN``, in a question whose boxes all have paper this much
#: darker beside them on both sides (``band_shade``; 0.026–0.084 beside the simulated
#: creases' boxes, at most 0.008 on black-and-white pages, where shading is cut away) is the crease.
CREASE_BAND = 0.02


def decide(
    values: Sequence[float],
    *,
    single: bool,
    valid: int | None = None,
    labels: str = LETTERS,
    coverage: Sequence[float] | None = None,
    whole: Sequence[float] | None = None,
    stroke: Sequence[float] | None = None,
    smudge: Sequence[float] | None = None,
    binary: bool = False,
    own: float | None = None,
    shaded: Sequence[float] | None = None,
    off_letter: Sequence[float] | None = None,
    film: Sequence[float] | None = None,
    floor: Sequence[float] | None = None,
    crossed: Sequence[bool] | None = None,
    rise: Sequence[float] | None = None,
    band: float | None = None,
    speck: float | None = None,
    pushed: bool = False,
    crease: Sequence[float] | None = None,
    unprinted: Sequence[float] | None = None,
    lined: Sequence[float] | None = None,
) -> Reading:
    """Decide one question from its boxes' darkness.

    Parameters
    ----------
    values
        Darkness of each box (``darkness`` output), in box order.
    single
        Exactly one mark allowed (single choice, an ID digit column).
    valid
        How many of the boxes are real options for this question (a row may
        print more boxes than the question has); marks beyond are flagged.
    labels
        Letters naming the boxes.
    coverage
        Excess pencil coverage of each box interior (``excess_coverage``); a
        box that is light on average but partly covered is not empty.
    whole
        Excess pencil coverage of each whole box; a dark box must also cover
        ``SOLID`` of it to count as marked, else it is a partial mark.
    stroke
        The longest thin stroke in each box (``trace_strokes``): a box with
        one of at least ``STROKE_SPAN`` holds a line a person sees (a fine
        tick), so it is never empty and never erasure residue.
    smudge
        The largest run of pencil of any shape in each box, as a share of its window (``trace_strokes``):
        on a grey page a box with one of ``SMUDGE_AREA`` is never empty, however light (it may still be
        erasure residue beside a mark).
    binary
        The page is black and white. Its threshold turns erasure residue and
        a light tick or half-fill alike into a few specks on the letter, so
        nothing beside a mark is taken for residue there: whatever is darker
        than an empty box is flagged.
    own
        The student's own clear marks' darkness on this page (``own_darkness``).
        On a grey page a lighter or partial fill that covers the box well
        (``PARTIAL_*``) is a mark when it is at least ``PARTIAL_SHARE`` of it;
        without it (or on a black-and-white page) only the fixed levels decide.
    shaded
        How much darker the paper around each box is than the page's usual
        (``shade``): a box in a shadow band is that much less dark.
    off_letter
        Black away from each box's printed letter, mm² (``off_letter_ink``):
        on a black-and-white page a box with ``OFF_LETTER_MARK`` of it holds
        the fragments of a stroke, so, like a stroke, it is never empty and
        never erasure residue — it is flagged. On a grey page that much black
        is pencil pressed hard (residue stays far lighter): never residue.
    film
        Darkness of each box's median pixel (``film_darkness``). On a grey page
        it tells a lighter fill spread over its box (a mark, with ``own``:
        ``FILL_*``) from a half-fill, and an even film of erasure residue beside
        a mark (``EVEN_*``) from pencil gathered in part of the box.
    floor
        Darkness that ``FLOOR_SHARE`` of each box's window reaches (``shared_darkness``),
        weighed on grey pages: a film of residue lifts it, a half-fill or a tick
        leaves it paper (``FLOOR_RESIDUE_*``, ``STROKE_ON_FLOOR``, ``GATHERED_*``).
    crossed
        A line crosses each box's whole window (``trace_strokes``): its pencil-dark
        pixels may be a fold's crease, so they do not count as pencil gathered in
        part of the box (``GATHERED_*``).
    rise
        How much of its window's height each box's longest stroke spans (``trace_strokes``).
    band
        How much darker a band across the page makes the paper beside every box of
        the question (``band_shade``, the least of the boxes'; already in ``shaded``).
        On a grey page a short run that rises less than ``CREASE_RISE`` in a question
        such a band crosses (``CREASE_BAND``) is the fold's crease, not a stroke.
    speck
        On a black-and-white page, the least ``off_letter`` black that is a stroke's remains
        (``speck_threshold`` of the page's boxes; ``OFF_LETTER_MARK`` when not given).
    pushed
        The page's contrast was pushed (``contrast_gain`` above 1): its clear marks clipped at
        black, so no lighter fill is read against them — only ``MARKED`` over ``SOLID`` is a mark.
    crease
        Darkness a fold's crease alone adds to each box (``trace_strokes``). On a grey page
        a box no darker than an empty one without it, and whose pencil-dark coverage a
        crease's line could make (``CREASE_COVER``), is empty: the line is not pencil.
    unprinted
        How much of its printed letter each box has lost (``missing_print``). On a grey page a
        box that lost ``COVERED_PRINT`` of it is covered — a sticker, correction tape or fluid
        hides whatever pencil is under it — and the question is flagged ``covered``: read as
        clean paper, it would be a blank nobody was warned about.
    lined
        How dark a line crossing each box is on both its sides (``line_through``). A box with one
        of ``LINE_THROUGH`` holds that line's ink: it is a mark only when a fill covers it evenly
        under the line (``LINED_FLOOR``), never erasure residue, and otherwise the question is
        flagged ``lined`` — where a pen's two strokes cross a box they read as a light hand's fill.
    """
    # Plain floats: a question has a handful of boxes, and a page calls this a hundred times or more.
    v = _floats(values)
    n = len(v)
    if shaded is not None:  # measured against the paper around the box rather than the page's
        v = [min(max(d - s, 0.0), 1.0) for d, s in zip(v, _floats(shaded))]
    c = [0.0] * n if coverage is None else _floats(coverage)
    # Without whole-box coverage, neither test can use it: no mark is called
    # partial and no residue is ruled out for it.
    full = [1.0] * n if whole is None else _floats(whole)
    residue_whole = [0.0] * n if whole is None else full
    line = [0.0] * n if stroke is None else _floats(stroke)
    off = None if off_letter is None else _floats(off_letter)
    if crease is not None and not binary:
        lines = _floats(crease)
        creased = [i for i, k in enumerate(lines) if k > 0 and v[i] - k <= EMPTY and c[i] <= CREASE_COVER]
        if creased:
            v, c = list(v), list(c)  # the caller's lists are shared by every question of the page
            for i in creased:
                v[i], c[i] = max(v[i] - lines[i], 0.0), 0.0
    # A lighter fill is read against this student's own clear marks; on a page whose contrast was pushed those
    # clipped at black, and a faint half-fill beside them reads as dark as a light hand's fill: a person must look.
    lighter = own is not None and whole is not None and not pushed
    partial = max(PARTIAL_DARK, PARTIAL_SHARE * own) if lighter and not binary else float("inf")
    # the median pixel is weighed on grey pages only: a black-and-white page has no film, only black and white
    median = None if film is None or binary else _floats(film)
    lowest = None if floor is None or binary else _floats(floor)
    fill_dark = max(FILL_DARK, FILL_SHARE * own) if lighter and median is not None else float("inf")
    floor_fill_dark = max(FLOOR_FILL_DARK, FLOOR_FILL_SHARE * own) if lighter and lowest is not None else float("inf")

    def spread_fill(i: int) -> bool:
        # lighter than MARKED, spread over the box like this student's own fills
        by_median = v[i] >= fill_dark and full[i] >= FILL_WHOLE and median[i] >= FILL_FILM_SHARE * own
        by_floor = (v[i] >= floor_fill_dark and lowest[i] >= FLOOR_FILL_SPREAD * v[i]
                    and c[i] >= FLOOR_FILL_COVER and full[i] >= FLOOR_FILL_WHOLE)
        return by_median or by_floor

    def half_fill(i: int) -> bool:
        return full[i] < HALF_FILL_WHOLE and lowest is not None and lowest[i] < GATHERED_FLOOR_SHARE * v[i]

    marked = [
        i for i, d in enumerate(v)
        if (d >= MARKED and full[i] >= SOLID)
        or (not half_fill(i) and ((d >= partial and c[i] >= PARTIAL_COVER and full[i] >= PARTIAL_WHOLE) or spread_fill(i)))
    ]
    through = set() if lined is None else {i for i, k in enumerate(_floats(lined)) if k >= LINE_THROUGH}
    if through:
        # a pen line's ink is not the student's: under it, only a fill as even as a clear mark's counts (on a
        # black-and-white page too: there the floor is whether nearly all of the box is black)
        under = None if floor is None else _floats(floor)
        marked = [i for i in marked if i not in through or (
            v[i] >= MARKED and full[i] >= SOLID and (under is None or under[i] >= LINED_FLOOR * v[i]))]
    span = BINARY_STROKE_SPAN if binary else STROKE_SPAN
    stroked = {i for i in range(n) if line[i] >= span}
    rises = None if binary or rise is None else _floats(rise)
    if rises is not None:
        # one leg of a tick, the tracer having lost the other where they meet
        stroked |= {i for i in range(n) if line[i] >= TICK_SPAN and rises[i] >= TICK_RISE}
    if rises is not None and band is not None and band >= CREASE_BAND:
        # a fold's crease through a row of boxes: the shading beside every box says so, and its run lies flat
        stroked -= {i for i in stroked if line[i] < BINARY_STROKE_SPAN and rises[i] < CREASE_RISE}
    # a short run over a dark film is the film's blotches; it still keeps the box from reading empty
    on_film = {
        i for i in stroked if line[i] < BINARY_STROKE_SPAN
        and ((median is not None and median[i] >= STROKE_ON_FILM) or (lowest is not None and (
            lowest[i] >= STROKE_ON_FLOOR or (lowest[i] >= STROKE_ON_FLOOR_LEAST and lowest[i] >= STROKE_ON_FLOOR_SHARE * v[i]))))
    }
    if binary and off is not None:
        least = OFF_LETTER_MARK if speck is None else min(speck, OFF_LETTER_MARK)
        stroked |= {i for i, area in enumerate(off) if area >= OFF_LETTER_MARK or (area >= least and v[i] >= SPECK_DARK)}
        stroked |= {i for i, area in enumerate(off) if area >= OFF_LETTER_TRACE and line[i] >= STROKE_SPAN}
    # On a grey page erasure residue never reaches mid-grey (darkness ≤ 0.36 on simulated pages): black away from
    # the letter is pencil pressed, a tick's line, even where the stroke tracer lost it in a blurred photo.
    pressed = set() if binary or off is None else {i for i, area in enumerate(off) if area >= OFF_LETTER_MARK}
    empty = BINARY_EMPTY if binary else EMPTY
    smudged = set() if binary or smudge is None else {i for i, a in enumerate(_floats(smudge)) if a >= SMUDGE_AREA}
    middling = [i for i, d in enumerate(v) if i not in marked and (d > empty or c[i] > COVERED or i in stroked or i in smudged)]
    if marked:
        strongest = min(v[i] for i in marked)
        gathered_dark = GATHERED_OWN_SHARE * (strongest if own is None else own)
        spread_dark = GATHERED_SPREAD_OWN_SHARE * (strongest if own is None else own)
        def even(i: int) -> bool:
            # an even film of rubbed pencil, darker than RESIDUE_MAX allows: its median pixel or its floor says so
            if whole is None:
                return False
            by_median = (median is not None and v[i] <= EVEN_RESIDUE_MAX and median[i] >= EVEN_FILM * v[i]
                         and c[i] <= EVEN_RESIDUE_COVER and full[i] <= EVEN_RESIDUE_WHOLE)
            by_floor = (lowest is not None and v[i] <= FLOOR_RESIDUE_MAX and lowest[i] >= FLOOR_RESIDUE_SHARE * v[i]
                        and c[i] <= FLOOR_RESIDUE_COVER and full[i] <= FLOOR_RESIDUE_WHOLE)
            by_pushed_floor = (pushed and lowest is not None and v[i] <= PUSHED_FLOOR_RESIDUE_MAX
                               and lowest[i] >= PUSHED_FLOOR_RESIDUE_SHARE * v[i]
                               and c[i] <= PUSHED_FLOOR_RESIDUE_COVER and full[i] <= PUSHED_FLOOR_RESIDUE_WHOLE)
            return by_median or by_floor or by_pushed_floor

        # Not on a black-and-white page: what its threshold leaves of residue and of a light tick or half-fill is
        # the same few specks on the letter (simulated 1-bit pages: residue 0.02–0.095 dark, 0–0.14 covered; the
        # light marks a person can still see there 0.03–0.09 and 0.01–0.12, strokes traced alike), and taking the
        # specks for residue read 94 of 2,810 such marks beside a fill as not there, without a flag.
        residue = [] if binary else [
            i for i in middling
            if v[i] <= RESIDUE_SHARE * strongest and (i not in stroked or i in on_film) and i not in pressed
            and i not in through and (own is None or v[i] < RESIDUE_OWN_SHARE * own)
            and not (lowest is not None and not (crossed is not None and crossed[i]) and (
                (lowest[i] < GATHERED_FLOOR_SHARE * v[i] and (c[i] >= GATHERED_COVER or v[i] >= gathered_dark))
                or (lowest[i] < GATHERED_SPREAD_SHARE * v[i] and c[i] >= GATHERED_SPREAD_COVER and v[i] >= spread_dark)))
            and ((v[i] <= RESIDUE_MAX and c[i] <= RESIDUE_COVER and residue_whole[i] <= RESIDUE_WHOLE) or even(i))
        ]
        unclear = [i for i in middling if i not in residue]
    else:
        residue, unclear = [], middling
    gap_low = min((abs(d - EMPTY) for d in v), default=1.0)
    gap_high = min((abs(d - MARKED) for d in v), default=1.0)
    confidence = min(max(min(gap_low, gap_high) / (MARKED - EMPTY) * 2, 0.0), 1.0)
    # a black-and-white page's threshold keeps some printed letters and wipes others: only a grey page tells
    covered = [] if unprinted is None or binary else [i for i, share in enumerate(_floats(unprinted)) if share >= COVERED_PRINT]
    if covered:
        return Reading("flagged", "", "covered", confidence, note="covered:" + "".join(labels[i] for i in covered))
    if unclear:
        which = "".join(labels[i] for i in unclear)
        if through.intersection(unclear):
            return Reading("flagged", "", "lined", confidence, note=f"lined:{which}")
        return Reading("flagged", "", "faint", confidence, note=f"uncertain:{which}")
    if valid is not None and any(i >= valid for i in marked):
        return Reading("flagged", "", "nonexistent-option", confidence)
    if single and len(marked) > 1:
        return Reading("flagged", "", "multiple-marks", confidence, note="".join(labels[i] for i in marked))
    if not marked:
        return Reading("blank", "", "", confidence)
    return Reading("answer", "".join(labels[i] for i in marked), "", confidence, note="erasure" if residue else "")


def _floats(values: Sequence[float] | np.ndarray) -> list[float]:
    """Python floats of a question's few measurements (``tolist`` for an array)."""
    if isinstance(values, list):  # already plain (``reader.Measurements.decide``); never changed here
        return values
    return values.astype(float).tolist() if isinstance(values, np.ndarray) else [float(x) for x in values]


def decide_absent(value: float, whole: float) -> str:
    """Decide the 缺考 box (or the 违纪 box) from its darkness and whole-box coverage: ``marked``, ``unclear`` or ``empty``.

    The invigilator's mark is one box with nothing to compare it with, so
    only the fixed levels decide: it is marked when dark and covering
    ``SOLID`` of the box (a dark scrap that does not is at most unclear),
    empty at or below ``EMPTY``, and unclear in between — the reader flags
    that rather than guess whether a candidate sat the exam.

    Parameters
    ----------
    value
        The box's darkness (``darkness`` output).
    whole
        Excess pencil coverage of the whole box (``excess_coverage``).
    """
    if whole < SOLID:
        value = min(value, MARKED - 0.01)  # a partial mark can be unclear, never marked
    if value >= MARKED:
        return "marked"
    if value > EMPTY:
        return "unclear"
    return "empty"
