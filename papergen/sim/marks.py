"""Pencil on paper: one mark of each kind, and a student's marks on a sheet page.

Three kinds of ink go on a sheet and must stay apart so that truth is
decidable: a real mark (core darkness about 0.5–0.9 of solid black), erasure
residue (about 0.05–0.12) and stray dots (never inside a box's core). The
doubtful kinds — ``faint``, ``tick`` — sit in between on purpose.

Two hands: ``neat`` (the levels none, scan, photo, harsh, cut) and
``messy`` (the newer levels, as hard as held-out sheets graders meet):
lighter and partial fills pressed unevenly (one side of the mark lighter
than the other), pencil spilling further over the box edge more often,
strong erasure residue, and ticks drawn with a fine, light stroke — just
under the darkness and coverage a box is called empty at, yet plainly a
stroke to a person (they stay deliberately doubtful: they must be flagged).

Image steps are functions on numpy arrays: pages are ``(H, W)`` uint8,
marks are darkness patches ``(h, w)`` float32 in [0, 1] multiplied into the
page (``apply_graphite``), rectangles in pixels ``(x, y, w, h)`` with
``(0, 0)`` the top-left corner of the top-left pixel; ``rect_to_px`` turns
the sheet layout's millimetres into them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from papergen.sheet.layout import Rect, SheetGeometry
from papergen.sim.cohort import LIGHT_TONE, Response, Student

MM_PER_INCH = 25.4
MARK_KINDS = ("fill", "light", "residue", "faint", "tick", "dot")
#: Stray dots per page (Poisson mean).
STRAY_DOTS_PER_PAGE = 0.4

# -- darkness (0 paper … 1 solid black); a real mark's is the student's tone (cohort) --
RESIDUE_TONE = (0.05, 0.11)
FAINT_TONE = (0.36, 0.48)
#: Each side of a fill covers this share of the box, so 0.6–1.0 of its area.
FILL_SIDE = (0.78, 1.0)
#: A faint half-fill covers this share of the box area.
FAINT_AREA = (0.25, 0.40)
SPILL_RATE = 0.25
SPILL_MM = (0.2, 0.6)  # beyond the box edge; the neighbour's core starts ≥ 1.7 mm away
TICK_WIDTH_MM = (0.35, 0.55)
DOT_RADIUS_MM = (0.2, 0.4)

# -- the messy hand (``hand="messy"``) ---------------------------------------------
HANDS = ("neat", "messy")
#: A messy fill's strength is the student's tone times this…
MESSY_PRESSURE = (0.8, 1.0)
#: …and falls to this share of it across the mark (uneven pressure, one side lighter).
MESSY_FADE = (0.55, 0.9)
#: Each side of a messy fill covers this share of the box: at least half of its area,
#: well above a faint half-fill's 0.25–0.40.
MESSY_FILL_SIDE = (0.72, 1.0)
MESSY_SPILL_RATE = 0.5
MESSY_SPILL_MM = (0.3, 0.9)  # the neighbour's core still starts ≥ 1.7 mm from the box edge
#: Strong erasure residue: a rubbed fill still this dark (a neat hand's is 0.05–0.11).
MESSY_RESIDUE_TONE = (0.09, 0.2)
#: A fine, light tick: a stroke this wide and this share of the student's tone, so that the box's
#: mean darkness and pencil coverage fall just under the levels an empty box is read at.
THIN_TICK_WIDTH_MM = (0.13, 0.22)
THIN_TICK_PRESSURE = (0.55, 0.85)


def rect_to_px(rect: Rect, geometry: SheetGeometry, dpi: float) -> tuple[float, float, float, float]:
    """A frame rectangle (mm) as page pixels ``(x, y, w, h)`` at ``dpi``."""
    ox, oy = geometry.origin
    k = dpi / MM_PER_INCH
    x, y, w, h = rect
    return ((ox + x) * k, (oy + y) * k, w * k, h * k)


def fiducial_corners_px(geometry: SheetGeometry, dpi: float) -> np.ndarray:
    """Corners of the four fiducial squares, ``(16, 2)`` float page pixels."""
    s = geometry.fiducial_size
    points = []
    for cx, cy in geometry.fiducial_centers():
        x, y, w, h = rect_to_px((cx - s / 2, cy - s / 2, s, s), geometry, dpi)
        points += [(x, y), (x + w, y), (x, y + h), (x + w, y + h)]
    return np.array(points, dtype=np.float64)


#: The mark kinds a deliberately doubtful question is doubtful for: light enough that a device may erase them.
DOUBTFUL_KINDS = ("tick", "faint")


@dataclass(frozen=True)
class DoubtfulTrace:
    """The graphite of one deliberately doubtful mark: its question, darkness patch and top-left page pixel."""

    number: int
    alpha: np.ndarray  # (h, w) float32 in [0, 1] (``mark_alpha``)
    x0: int
    y0: int


def fill_page(
    blank: np.ndarray,
    geometry: SheetGeometry,
    page: int,
    student: Student,
    responses: Sequence[Response],
    rng: np.random.Generator,
    dpi: float,
    hand: str = "neat",
    doubtful: list[DoubtfulTrace] | None = None,
) -> np.ndarray:
    """A copy of ``blank`` (H, W) uint8 with this student's pencil on sheet page ``page``.

    Every page carries the header, so the 准考证号, 试卷类型 (and the
    invigilator's 缺考 or 违纪 mark) go on each page. ``hand`` is ``neat``
    or ``messy`` (see the module docstring); the invigilator's marks are neat.
    ``doubtful``, when given, collects the graphite of every deliberately
    doubtful tick or faint mark (``DOUBTFUL_KINDS``), so the simulator can
    tell whether the device left any trace of it; the drawing is the same.
    """
    image = blank.copy()
    ppm = dpi / MM_PER_INCH
    header = geometry.header

    def mark(rect: Rect, kind: str, style: str = hand, number: int = 0, doubt: str = "") -> None:
        alpha, x0, y0 = mark_alpha(rect_to_px(rect, geometry, dpi), kind, rng, px_per_mm=ppm, tone=student.tone,
                                   hand=style)
        apply_graphite(image, alpha, x0, y0)
        if doubtful is not None and doubt and kind in DOUBTFUL_KINDS:
            doubtful.append(DoubtfulTrace(number, alpha, x0, y0))

    for column, digit in zip(header.id_grid, student.student_id):
        mark(column[int(digit)], "fill")
    if student.absent:
        mark(header.absent, "fill", "neat")
        return image
    mark(header.variant_row[geometry.variants.index(student.variant)], "fill")
    if student.violation and header.violation is not None:
        mark(header.violation, "fill", "neat")
    boxes = {q.number: q.boxes for q in geometry.questions_on(page)}
    for response in responses:
        for box, kind in response.marks:
            if response.number in boxes:
                mark(boxes[response.number][box], kind, number=response.number, doubt=response.doubt)
    for _ in range(int(rng.poisson(STRAY_DOTS_PER_PAGE))):
        if boxes:
            row = boxes[int(rng.choice(list(boxes)))]
            mark(row[int(rng.integers(len(row)))], "dot")
    return image


def draw_mark(
    image: np.ndarray,
    rect_px: Sequence[float],
    kind: str,
    rng: np.random.Generator,
    *,
    px_per_mm: float,
    tone: float = 0.85,
    hand: str = "neat",
) -> np.ndarray:
    """Pencil one mark of ``kind`` into ``image`` at the box ``rect_px`` (in place).

    Parameters
    ----------
    image : (H, W) uint8
        The page; graphite darkens it multiplicatively, so print stays visible under it.
    rect_px : (x, y, w, h)
        The box in page pixels.
    kind
        ``fill`` / ``light`` (a real mark), ``residue`` (an erased mark),
        ``faint`` (a light half-fill, doubtful), ``tick`` (a check stroke,
        doubtful), ``dot`` (a stray dot on the box edge or just outside it).
    px_per_mm
        Page resolution, so strokes and spills have physical sizes.
    tone
        The writer's pencil darkness for real marks (0 … 1).
    hand
        ``neat`` or ``messy`` (see the module docstring).

    Returns
    -------
    The same ``image``.
    """
    alpha, x0, y0 = mark_alpha(rect_px, kind, rng, px_per_mm=px_per_mm, tone=tone, hand=hand)
    return apply_graphite(image, alpha, x0, y0)


def mark_alpha(
    rect_px: Sequence[float], kind: str, rng: np.random.Generator, *, px_per_mm: float, tone: float = 0.85,
    hand: str = "neat",
) -> tuple[np.ndarray, int, int]:
    """The darkness patch of one mark: ``(h, w)`` float32 in [0, 1] and its top-left pixel."""
    if kind not in MARK_KINDS:
        raise ValueError(f"unknown mark kind {kind!r}")
    if hand not in HANDS:
        raise ValueError(f"unknown hand {hand!r}")
    if hand == "messy":
        return _messy_alpha(rect_px, kind, rng, px_per_mm=px_per_mm, tone=tone)
    x, y, w, h = rect_px
    pad = 1.2 * px_per_mm + 2
    x0, y0 = int(math.floor(x - pad)), int(math.floor(y - pad))
    shape = (int(math.ceil(y + h + pad)) - y0, int(math.ceil(x + w + pad)) - x0)
    box = (x - x0, y - y0, w, h)  # the box in patch coordinates
    if kind in ("fill", "light"):
        strength = tone * rng.uniform(0.93, 1.03)
        if kind == "light":
            strength = min(strength, rng.uniform(*LIGHT_TONE))
        cover = _fill_mask(shape, box, rng, px_per_mm, rng.uniform(*FILL_SIDE), rng.uniform(*FILL_SIDE),
                           spill=rng.random() < SPILL_RATE)
        alpha = cover * _graphite(shape, rng, px_per_mm) * min(strength, 0.97)
    elif kind == "residue":  # the shape of the erased fill, rubbed to a blotchy grey
        cover = _fill_mask(shape, box, rng, px_per_mm, rng.uniform(*FILL_SIDE), rng.uniform(*FILL_SIDE), spill=False)
        alpha = cover * _smudge(shape, rng, px_per_mm) * rng.uniform(*RESIDUE_TONE)
    elif kind == "faint":  # started filling, stopped: part of the box, light grey
        width_share = rng.uniform(0.45, 0.65)
        height_share = min(rng.uniform(*FAINT_AREA) / width_share, 0.9)
        cover = _fill_mask(shape, box, rng, px_per_mm, width_share, height_share, spill=False, slack=0.4)
        alpha = cover * _graphite(shape, rng, px_per_mm) * rng.uniform(*FAINT_TONE)
    elif kind == "tick":
        alpha = _tick(shape, box, rng, px_per_mm) * min(tone * rng.uniform(0.9, 1.05), 0.95)
    else:
        alpha = _dot(shape, box, rng, px_per_mm) * rng.uniform(0.5, 0.9)
    return alpha.astype(np.float32), x0, y0


def _messy_alpha(
    rect_px: Sequence[float], kind: str, rng: np.random.Generator, *, px_per_mm: float, tone: float
) -> tuple[np.ndarray, int, int]:
    """``mark_alpha`` for the messy hand: partial, unevenly pressed fills, wide spill, strong residue, thin ticks."""
    x, y, w, h = rect_px
    pad = 1.2 * px_per_mm + 2
    x0, y0 = int(math.floor(x - pad)), int(math.floor(y - pad))
    shape = (int(math.ceil(y + h + pad)) - y0, int(math.ceil(x + w + pad)) - x0)
    box = (x - x0, y - y0, w, h)
    if kind in ("fill", "light"):
        strength = tone * rng.uniform(*MESSY_PRESSURE)
        if kind == "light":
            strength = min(strength, rng.uniform(*LIGHT_TONE))
        cover = _fill_mask(shape, box, rng, px_per_mm, rng.uniform(*MESSY_FILL_SIDE), rng.uniform(*MESSY_FILL_SIDE),
                           spill=rng.random() < MESSY_SPILL_RATE, spill_mm=MESSY_SPILL_MM)
        alpha = cover * _graphite(shape, rng, px_per_mm) * _pressure(shape, rng) * min(strength, 0.97)
    elif kind == "residue":
        cover = _fill_mask(shape, box, rng, px_per_mm, rng.uniform(*MESSY_FILL_SIDE), rng.uniform(*MESSY_FILL_SIDE),
                           spill=False)
        alpha = cover * _smudge(shape, rng, px_per_mm) * rng.uniform(*MESSY_RESIDUE_TONE)
    elif kind == "tick":
        alpha = _tick(shape, box, rng, px_per_mm, width_mm=THIN_TICK_WIDTH_MM, fine=True) * tone * rng.uniform(*THIN_TICK_PRESSURE)
    else:
        return mark_alpha(rect_px, kind, rng, px_per_mm=px_per_mm, tone=tone)
    return alpha.astype(np.float32), x0, y0


def _pressure(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Uneven pencil pressure over a mark: a ramp from a lighter side (``MESSY_FADE``) to full strength."""
    rows, cols = shape
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    along = (xx - cols / 2) * math.cos(angle) + (yy - rows / 2) * math.sin(angle)
    along = (along - along.min()) / max(float(np.ptp(along)), 1.0)
    low = rng.uniform(*MESSY_FADE)
    return (low + (1.0 - low) * along).astype(np.float32)


def apply_graphite(image: np.ndarray, alpha: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """Darken ``image`` (H, W) uint8 by ``alpha`` (h, w) placed at ``(x0, y0)``, in place."""
    H, W = image.shape[:2]
    h, w = alpha.shape
    ax0, ay0 = max(0, -x0), max(0, -y0)
    ix0, iy0 = max(0, x0), max(0, y0)
    ix1, iy1 = min(W, x0 + w), min(H, y0 + h)
    if ix1 <= ix0 or iy1 <= iy0:
        return image
    region = image[iy0:iy1, ix0:ix1]
    part = alpha[ay0:ay0 + (iy1 - iy0), ax0:ax0 + (ix1 - ix0)]
    region[...] = np.clip(region * (1.0 - part) + 0.5, 0, 255).astype(np.uint8)
    return image


def _smooth_jitter(count: int, length: int, rng: np.random.Generator, scale: float, width: float) -> np.ndarray:
    """``(count, length)`` smooth random jitter: standard deviation ``scale``,
    correlated over about ``width`` samples (a moving sum of normals)."""
    k = max(1, int(round(width)))
    sums = np.cumsum(rng.normal(0.0, 1.0, (count, length + k)), axis=1)
    return (sums[:, k:] - sums[:, :-k]) * (scale / math.sqrt(k))


def _fill_mask(
    shape: tuple[int, int],
    box: tuple[float, float, float, float],
    rng: np.random.Generator,
    ppm: float,
    fw: float,
    fh: float,
    *,
    spill: bool,
    slack: float = 1.0,
    spill_mm: tuple[float, float] = SPILL_MM,
) -> np.ndarray:
    """Coverage (0 … 1) of a scribbled fill: a ragged rectangle spanning shares
    ``fw`` × ``fh`` of the box, placed at random inside it (``slack`` < 1 keeps
    it nearer the centre), or spilling over one edge."""
    bx, by, bw, bh = box
    left = bx + (0.5 + slack * rng.uniform(-0.5, 0.5)) * (1 - fw) * bw
    top = by + (0.5 + slack * rng.uniform(-0.5, 0.5)) * (1 - fh) * bh
    right, bottom = left + fw * bw, top + fh * bh
    if spill:  # the pencil ran over one edge of the box
        amount = rng.uniform(*spill_mm) * ppm
        edge = int(rng.integers(4))
        if edge == 0:
            left = bx - amount
        elif edge == 1:
            right = bx + bw + amount
        elif edge == 2:
            top = by - amount
        else:
            bottom = by + bh + amount
    rows, cols = shape
    jitter = 0.12 * ppm  # stroke ends are never straight
    L, R = np.array([[left], [right]]) + _smooth_jitter(2, rows, rng, jitter, 0.3 * ppm)
    T, B = np.array([[top], [bottom]]) + _smooth_jitter(2, cols, rng, jitter, 0.3 * ppm)
    xs = np.arange(cols, dtype=np.float32) + 0.5
    ys = np.arange(rows, dtype=np.float32) + 0.5
    across = np.clip(xs[None, :] - L[:, None] + 0.5, 0, 1) * np.clip(R[:, None] - xs[None, :] + 0.5, 0, 1)
    down = np.clip(ys[:, None] - T[None, :] + 0.5, 0, 1) * np.clip(B[None, :] - ys[:, None] + 0.5, 0, 1)
    return (across * down).astype(np.float32)


def _graphite(shape: tuple[int, int], rng: np.random.Generator, ppm: float) -> np.ndarray:
    """Graphite texture for one mark, ``shape`` float32, mean ≈ 0.9: a random
    window of one of the pencil's texture tiles, possibly mirrored."""
    tiles = _graphite_tiles(round(ppm, 2))
    tile = tiles[int(rng.integers(len(tiles)))]
    rows, cols = shape
    y = int(rng.integers(tile.shape[0] - rows + 1))
    x = int(rng.integers(tile.shape[1] - cols + 1))
    window = tile[y:y + rows, x:x + cols]
    return window[:, ::-1] if rng.random() < 0.5 else window


@functools.lru_cache(maxsize=4)
def _graphite_tiles(ppm: float) -> tuple[np.ndarray, ...]:
    """Pencil texture tiles at ``ppm`` pixels/mm: parallel strokes (flat or
    diagonal hatching, two stroke pitches) over blurred paper grain.

    Made once per resolution from a fixed seed — the texture is a property of
    the pencil, not of the run — so marking a sheet only cuts windows out of
    them (computing texture per mark was half the time of a whole scan).
    """
    rng = np.random.default_rng(20260306)
    side = int(ppm * 12) + 16  # wider than any mark's patch (box + 1.2 mm padding each side)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    tiles = []
    for angle in (0.0, 0.55, 0.85):
        for pitch_mm in (0.32, 0.42):
            period = max(pitch_mm * ppm, 1.5)
            strokes = 0.5 + 0.5 * np.sin((xx * math.sin(angle) + yy * math.cos(angle)) * (2 * math.pi / period))
            grain = cv2.GaussianBlur(rng.random((side, side), dtype=np.float32), (0, 0), max(0.5, 0.06 * ppm))
            grain = (grain - grain.mean()) / (grain.std() + 1e-6)
            tiles.append(np.clip(1.0 - 0.16 * (1.0 - strokes) - 0.10 * grain, 0.4, 1.0).astype(np.float32))
    return tuple(tiles)


def _smudge(shape: tuple[int, int], rng: np.random.Generator, ppm: float) -> np.ndarray:
    """Eraser residue: blotchy, low-frequency, mean ≈ 1."""
    blotches = cv2.GaussianBlur(rng.random(shape, dtype=np.float32), (0, 0), max(1.0, 0.4 * ppm))
    blotches = (blotches - blotches.mean()) / (blotches.std() + 1e-6)
    return np.clip(1.0 + 0.35 * blotches, 0.2, 1.8)


def _tick(
    shape: tuple[int, int], box: tuple[float, float, float, float], rng: np.random.Generator, ppm: float,
    width_mm: tuple[float, float] = TICK_WIDTH_MM,
    fine: bool = False,
) -> np.ndarray:
    """A check stroke ✓ across the box: short leg down, long leg up to the top right, ``width_mm`` wide
    (``fine``: a stroke narrower than a pixel darkens the pixels it crosses by its share of them)."""
    bx, by, bw, bh = box
    points = np.array([
        (bx + rng.uniform(0.12, 0.3) * bw, by + rng.uniform(0.4, 0.6) * bh),
        (bx + rng.uniform(0.38, 0.5) * bw, by + rng.uniform(0.8, 0.95) * bh),
        (bx + rng.uniform(0.85, 1.05) * bw, by + rng.uniform(-0.1, 0.12) * bh),
    ])
    canvas = np.zeros(shape, dtype=np.uint8)
    width = rng.uniform(*width_mm) * ppm
    thickness = max(1, int(round(width)))
    cv2.polylines(canvas, [np.round(points * 16).astype(np.int32)], False, 255, thickness, cv2.LINE_AA, shift=4)
    stroke = canvas.astype(np.float32) / 255.0
    return stroke * min(1.0, width) if fine else stroke


def _dot(shape: tuple[int, int], box: tuple[float, float, float, float], rng: np.random.Generator, ppm: float) -> np.ndarray:
    """A small stray dot centred on an edge of the box or just outside it, never in its core."""
    bx, by, bw, bh = box
    r = rng.uniform(*DOT_RADIUS_MM) * ppm
    out = rng.uniform(0.0, 0.5) * ppm  # 0: on the edge; else beyond it
    edge = int(rng.integers(4))
    if edge == 0:
        cx, cy = bx + rng.uniform(0.1, 0.9) * bw, by - out
    elif edge == 1:
        cx, cy = bx + rng.uniform(0.1, 0.9) * bw, by + bh + out
    elif edge == 2:
        cx, cy = bx - out, by + rng.uniform(0.1, 0.9) * bh
    else:
        cx, cy = bx + bw + out, by + rng.uniform(0.1, 0.9) * bh
    canvas = np.zeros(shape, dtype=np.uint8)
    cv2.circle(canvas, (int(round(cx * 16)), int(round(cy * 16))), max(16, int(round(r * 16))), 255, -1, cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0


# -- a pen over the answer area ------------------------------------------------
#: Share of pages a pen goes over (a teacher marking answers wrong before the sheets are
#: graded, a student striking out a row), and how many rows it crosses there.
PEN_PAGE_RATE = 0.6
PEN_ROWS = (1, 5)
#: Pen ink in a grey scan: red (about 70–90), blue (40–60) and black ballpoint, pressed unevenly.
PEN_GREY = (40, 150)
PEN_WIDTH_MM = (0.3, 0.8)
#: A teacher's X runs from before the first box to past the last, corner to corner of the row
#: and beyond; a struck-out row is one line through the boxes' middles.
PEN_CROSS_SHARE = 0.7
PEN_START_MM = (1.0, 7.0)
PEN_END_MM = (0.0, 3.0)
PEN_OVERSHOOT_MM = (0.0, 1.5)
PEN_STRIKE_TILT_MM = 0.8


@dataclass(frozen=True)
class PenLine:
    """One pen stroke on a page: its question and its end points (page pixels)."""

    number: int
    start: tuple[float, float]
    end: tuple[float, float]


def pen_over_rows(
    image: np.ndarray, geometry: SheetGeometry, page: int, rng: np.random.Generator, dpi: float,
) -> tuple[np.ndarray, tuple[PenLine, ...]]:
    """A copy of the pencilled page (H, W) uint8 with a pen's lines drawn across some question rows.

    On ``PEN_PAGE_RATE`` of pages, ``PEN_ROWS`` rows get either a big X from before
    their first box to past their last (``PEN_CROSS_SHARE``) or one line struck through
    their boxes. The student's answers stay what they were: the truth is unchanged, and
    the grader must read such a row exactly or flag it. Ink is darker than pencil
    (``PEN_GREY``): where strokes cross a box it reads as a light fill if nothing tells.
    """
    image = image.copy()
    rows = geometry.questions_on(page)
    if not rows or rng.random() >= PEN_PAGE_RATE:
        return image, ()
    ppm = dpi / MM_PER_INCH
    count = min(len(rows), int(rng.integers(PEN_ROWS[0], PEN_ROWS[1] + 1)))
    lines = []
    for k in rng.choice(len(rows), count, replace=False):
        row = rows[int(k)]
        first, last = row.boxes[0], row.boxes[-1]
        top, bottom = first[1], first[1] + first[3]
        left = first[0] - rng.uniform(*PEN_START_MM)
        right = last[0] + last[2] + rng.uniform(*PEN_END_MM)
        if rng.random() < PEN_CROSS_SHARE:
            up, down = top - rng.uniform(*PEN_OVERSHOOT_MM), bottom + rng.uniform(*PEN_OVERSHOOT_MM)
            ends = [((left, up), (right, down)), ((left, down), (right, up))]
        else:
            middle = (top + bottom) / 2
            ends = [((left, middle + rng.uniform(-1, 1) * PEN_STRIKE_TILT_MM),
                     (right, middle + rng.uniform(-1, 1) * PEN_STRIKE_TILT_MM))]
        grey = int(rng.integers(PEN_GREY[0], PEN_GREY[1] + 1))
        width = max(1, int(round(rng.uniform(*PEN_WIDTH_MM) * ppm)))
        ink = np.full_like(image, 255)  # one row's strokes, one pen: drawn apart, then laid over the page
        for a, b in ends:
            start, end = (rect_to_px((*a, 0, 0), geometry, dpi)[:2], rect_to_px((*b, 0, 0), geometry, dpi)[:2])
            cv2.line(ink, tuple(int(round(v * 16)) for v in start), tuple(int(round(v * 16)) for v in end), grey,
                     width, cv2.LINE_AA, shift=4)
            lines.append(PenLine(row.number, start, end))
        np.minimum(image, ink, out=image)  # ink over paper and pencil: whichever is darker shows
    return image, tuple(lines)


# -- a sheet printed light -----------------------------------------------------
#: How dark a light print is, as a share of the ink a good printer lays down: toner saving, a worn
#: cartridge, a duplicator's grey. At 0.6 the black squares read grey 100–120 on a scan.
LIGHT_PRINT_SHARE = (0.45, 0.75)


def printed_light(blank: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The blank sheet page (H, W) uint8 as a printer low on toner prints it: every printed element
    ``LIGHT_PRINT_SHARE`` as dark, the paper as white. Pencil goes on afterwards, as dark as ever."""
    return faded(blank, rng.uniform(*LIGHT_PRINT_SHARE))


# -- coloured paper ---------------------------------------------------------------
#: How much light coloured paper sends back, as a share of white paper's: pale tints (cream, pale
#: yellow, pink) about 0.9, blue, green or grey paper 0.7–0.8. Print and pencil on it are darkened alike.
TINT_SHARE = (0.7, 0.9)


def on_tinted_paper(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The printed page (H, W) uint8 on coloured paper as a grey sensor sees it: every grey times one
    ``TINT_SHARE``. Pencil goes on afterwards; it takes a share of the light (``apply_graphite``), so it
    is darkened alike."""
    share = rng.uniform(*TINT_SHARE)
    return (page.astype(np.float32) * share).round().astype(np.uint8)


# -- a faded page -------------------------------------------------------------------
#: How much of its contrast a faded page keeps: a copy of a copy, a thermal fax gone pale, a scan
#: whose brightness was turned up. Print and pencil alike move toward the paper's white.
FADE_SHARE = (0.5, 0.8)


def faded(page: np.ndarray, share: float) -> np.ndarray:
    """The page (H, W) uint8 with every grey moved toward white, keeping ``share`` of its darkness
    (a whole faded page here; ``printed_light`` applies it to the print alone)."""
    return (255.0 - (255.0 - page.astype(np.float32)) * share).round().astype(np.uint8)

