"""A page that does not lie flat: where its printed boxes are, beyond what the frame says.

The frame (``registration``) is a homography through the four corner
squares: exact for a flat sheet. A phone photo of a sheet that bows, or
whose edge lifts off the desk (a sheet that was folded, held in the hand,
pressed against a book), moves the middle of the page by a millimetre or
two against that frame: about half the gap between two boxes. The
alignment check then refuses the page (``frame-misaligned``), or, for a
lighter bow, boxes are read half a millimetre off and their edges pass for
pencil.

The page itself says where its boxes are: every box is printed as a thin
grey bracket "[ A ]" whose two strokes and four short ticks have a known
shape. ``alignment.box_offsets`` measures, for each box, the shift (within
``REACH_MM``) that puts that shape on the darkest print; ``fit_bend``
smooths those shifts into a displacement field (``Bend``) on a coarse grid
over the frame — a robust local median, pinned to zero at the corner
squares, which the frame passes through exactly — so that a filled box, a
smudge or a cut-off bracket, each measured wrong, is outvoted by its
neighbours. ``bent_alignment`` samples the page again through the frame
plus that field and checks the printed boxes and numbers once more.

Measuring is separate from deciding: ``box_offsets`` and ``fit_bend`` are
pure functions on arrays; the reader decides (``reader.read_registered``)
and records the field with the frame, so review crops and annotated sheets
(``views``) put their outlines where the boxes were read.

The field can move nothing by more than ``REACH_MM``, under half the
distance between two rows of boxes (4.7 mm) or two options (6.9 mm): a
frame that is a row, a box or a block off — a wrong frame — stays off,
and its numbers still do not show where predicted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from papergen.grade.alignment import (
    STRONG_AT,
    Alignment,
    box_offsets,
    frame_alignment,
    is_aligned,
    rects_to_px,
)
from papergen.grade.windows import CanonicalSample
from papergen.sheet.layout import Rect, SheetGeometry

#: How far (mm, either way) a box is looked for around where the frame puts it.
REACH_MM = 2.0
#: The smoothing: each grid node takes the weighted median of the boxes' shifts, Gaussian weights of this reach (mm).
#: Within it lie some fifteen boxes (five rows of three to five options): enough votes to outvote the filled box of
#: each row and a smudge or two; a curl bends the page over several centimetres.
SMOOTH_MM = 12.0
#: Grid spacing of the field (mm): a bend varies over centimetres (bilinear between nodes 15 mm apart misses a
#: lifted edge's quadratic rise by about 0.01 mm).
STEP_MM = 15.0
#: Each corner square is worth this many boxes' votes for "no shift here" (the frame passes through them).
ANCHOR_VOTES = 6.0
#: At least this share of the measured boxes must show their brackets clearly for a field to be fitted at all.
MEASURED_AT_LEAST = 0.5
#: A field that moves no box by this much (mm) changes nothing worth reading again.
WORTH_MM = 0.25
#: A grey page is fitted a bend when its box outlines show on fewer than ``FLAT_OUTLINED`` of its boxes (its fit
#: across) or their ticks on fewer than ``FLAT_TICKED`` (its fit down the page, ``alignment.tick_contrast``).
FLAT_OUTLINED = 0.9
FLAT_TICKED = 0.95
#: A bent frame must show the ticks on this share of boxes too (as ``BENT_OUTLINED_AT_LEAST`` the outlines).
BENT_TICKED_AT_LEAST = 0.85
#: A page read through a fitted field must show its box outlines on this share of boxes (a flat page's right
#: frame: 0.91 at the least; ``alignment.OUTLINED_AT_LEAST`` 0.6 is the bar for frames nobody fitted to the outlines).
BENT_OUTLINED_AT_LEAST = 0.85
#: …and every question number where it puts it, and every block's clean zones clean (``alignment.number_zones``). A
#: field is local, and so is a wrong one: where the frame as found was off by more than the reach short of a row, the
#: field snaps a block onto the next row's brackets — outlines and ticks all show, and its numbers land on their
#: neighbours', but the block's first or last zone does not (a curled 100-question sheet, whose frame was completed
#: from three squares and the QR code's corners, read questions 97–100 a row up with numbers at 0.947 of them; 259
#: right frames read through a bend on simulated curled, tilted and phone pages all show every one).
BENT_NUMBERED_AT_LEAST = 1.0


@dataclass(frozen=True)
class Bend:
    """A smooth displacement of the printed page against its frame, on a grid over the frame.

    origin : (x, y)
        Frame millimetres of grid node (0, 0).
    step : float
        Grid spacing, mm.
    shift : (R, C, 2) float64
        ``dx, dy`` (mm) at each node: the print at frame point ``p`` lies at ``p + shift``.
    """

    origin: tuple[float, float]
    step: float
    shift: np.ndarray

    def at(self, points_mm: np.ndarray) -> np.ndarray:
        """The displacement (mm) at frame points ``points_mm`` ((N, 2) ``x, y``): bilinear, held at the grid's edge.

        Returns (N, 2) float64.
        """
        points = np.asarray(points_mm, dtype=float).reshape(-1, 2)
        rows, cols = self.shift.shape[:2]
        u = np.clip((points[:, 0] - self.origin[0]) / self.step, 0, cols - 1)
        v = np.clip((points[:, 1] - self.origin[1]) / self.step, 0, rows - 1)
        c0 = np.minimum(np.floor(u).astype(int), max(cols - 2, 0))
        r0 = np.minimum(np.floor(v).astype(int), max(rows - 2, 0))
        c1, r1 = np.minimum(c0 + 1, cols - 1), np.minimum(r0 + 1, rows - 1)
        fu, fv = (u - c0)[:, None], (v - r0)[:, None]
        g = self.shift
        return ((1 - fv) * ((1 - fu) * g[r0, c0] + fu * g[r0, c1]) + fv * ((1 - fu) * g[r1, c0] + fu * g[r1, c1]))

    def to_json(self) -> dict:
        """The field as plain numbers (hundredths of a millimetre), as the store records it with the frame."""
        return {"origin": [round(v, 3) for v in self.origin], "step": self.step,
                "dx": np.round(self.shift[..., 0], 2).tolist(), "dy": np.round(self.shift[..., 1], 2).tolist()}

    @classmethod
    def from_json(cls, data: dict) -> Bend:
        shift = np.stack([np.asarray(data["dx"], dtype=float), np.asarray(data["dy"], dtype=float)], axis=-1)
        return cls((float(data["origin"][0]), float(data["origin"][1])), float(data["step"]), shift)


def fit_bend(
    centres_mm: np.ndarray, shifts_mm: np.ndarray, anchors_mm: np.ndarray, extent: Rect,
    step: float = STEP_MM, smooth: float = SMOOTH_MM,
) -> Bend:
    """Smooth measured shifts into a displacement field over ``extent``.

    Parameters
    ----------
    centres_mm : (N, 2) float
        Where each measurement was taken (frame mm).
    shifts_mm : (N, 2) float
        What was measured there (mm).
    anchors_mm : (K, 2) float
        Points where the displacement is zero (the corner squares' centres).
    extent
        ``x, y, w, h`` frame mm the grid covers.

    Returns
    -------
    Bend
        At each node, each axis's weighted median of the measurements and the
        anchors' zeros (``ANCHOR_VOTES`` each), Gaussian weights of reach
        ``smooth`` beyond the nearest of them: a few wrong measurements among
        their neighbours move it not at all.
    """
    x, y, w, h = extent
    cols, rows = int(np.ceil(w / step)) + 1, int(np.ceil(h / step)) + 1
    gx, gy = np.meshgrid(x + step * np.arange(cols), y + step * np.arange(rows))
    nodes = np.stack([gx.ravel(), gy.ravel()], axis=1)
    anchors = np.asarray(anchors_mm, dtype=float).reshape(-1, 2)
    where = np.concatenate([np.asarray(centres_mm, dtype=float).reshape(-1, 2), anchors])
    values = np.concatenate([np.asarray(shifts_mm, dtype=float).reshape(-1, 2), np.zeros_like(anchors)])
    votes = np.concatenate([np.ones(len(where) - len(anchors)), np.full(len(anchors), ANCHOR_VOTES)])
    # float32: a hundredth of a millimetre is far below what is measured, and the (nodes, points) arrays halve
    offset = (nodes[:, None, :] - where[None, :, :]).astype(np.float32)
    distance = np.sqrt(np.einsum("npk,npk->np", offset, offset))
    # measured from the nearest point: a node far from every box (a margin) takes the median of a shell of its
    # nearest boxes, as many votes as a node among them, not the one nearest box nor 0/0
    beyond = distance - distance.min(axis=1, keepdims=True)
    weight = np.exp(beyond * beyond * np.float32(-0.5 / smooth**2)) * votes.astype(np.float32)
    shift = np.stack([_weighted_median(values[:, axis], weight) for axis in (0, 1)], axis=1)
    return Bend((float(x), float(y)), float(step), shift.reshape(rows, cols, 2))


def _weighted_median(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """For each row of ``weight`` ((Q, N)), the weighted median of ``values`` ((N,))."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weight[:, order], axis=1)
    half = cumulative[:, -1:] / 2
    return values[order][np.argmax(cumulative >= half, axis=1)]


@dataclass(frozen=True)
class BentReading:
    """The page read again through its frame plus a fitted ``Bend``."""

    bend: Bend
    sample: CanonicalSample
    alignment: Alignment
    measured: float  # share of the boxes whose bracket showed clearly (``STRONG_AT``)
    largest: float  # the most the field moves a box (mm)


def bent_alignment(
    sample: CanonicalSample, rects: tuple[Rect, ...], geometry: SheetGeometry, ppm: float, page_number: int,
    black: float | None = None,
) -> BentReading | None:
    """Fit a ``Bend`` to a page's printed boxes and check the frame bent by it; None when no field can be fitted.

    The boxes measured are those of the page's most common printed size (the
    answer, 准考证号 and 试卷类型 boxes). The caller decides from the result
    (``is_bent_aligned``).
    """
    mm = np.asarray(rects, dtype=float).reshape(-1, 4)
    if not len(mm):
        return None
    sizes = np.round(mm[:, 2:] * ppm)
    common = np.all(np.abs(sizes - np.median(sizes, axis=0)) <= 1, axis=1)
    boxes = mm[common]
    origin = np.asarray(geometry.origin, dtype=float)
    px = rects_to_px(boxes, geometry, ppm)
    found = box_offsets(sample.whole(), px, int(round(REACH_MM * ppm)))
    usable = (found.strength >= STRONG_AT) & ~found.edge
    measured = float(np.mean(usable))
    if measured < MEASURED_AT_LEAST:
        return None
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    (pw, ph) = geometry.page_size
    bend = fit_bend(centres[usable], found.shift[usable] / ppm, np.asarray(geometry.fiducial_centers(), dtype=float),
                    (-origin[0], -origin[1], pw, ph))
    largest = float(np.hypot(*bend.at(centres).T).max())
    if largest < WORTH_MM:
        return None
    bent = sample.displaced(lambda points_px: bend.at(points_px / ppm - origin) * ppm)
    return BentReading(bend, bent, frame_alignment(bent, rects, geometry, ppm, page_number, black=black), measured, largest)


def is_bent_aligned(reading: BentReading, *, binary: bool) -> bool:
    """Whether a page may be read through its fitted field: every number shows, and the box outlines and ticks nearly all."""
    shown = reading.alignment
    return (is_aligned(shown, binary=binary) and shown.outlined >= BENT_OUTLINED_AT_LEAST
            and shown.ticked >= BENT_TICKED_AT_LEAST and (not shown.numbers or shown.numbered >= BENT_NUMBERED_AT_LEAST))


@dataclass(frozen=True)
class CheckedFrame:
    """Whether a page may be read through its frame, and through which: ``checked_frame``'s verdict."""

    alignment: Alignment  # the frame as registration found it
    bent: BentReading | None  # the field the page is to be read through; None: the frame as found
    accepted: bool

    @property
    def sample(self) -> CanonicalSample | None:
        """The page to read: bent by the field when there is one; None for the frame as found."""
        return self.bent.sample if self.bent is not None else None


def checked_frame(
    sample: CanonicalSample, rects: tuple[Rect, ...], geometry: SheetGeometry, ppm: float, page_number: int, *,
    black: float | None, binary: bool,
) -> CheckedFrame:
    """Check a frame against the page's printed boxes and numbers, fitting a bend where the outlines do not all show.

    A grey page whose outlines or ticks do not all show (``FLAT_OUTLINED``,
    ``FLAT_TICKED``) is fitted a ``Bend``; it is read through it when the
    bent frame passes ``is_bent_aligned`` and shows more outlines and ticks
    together than the frame as found. A black-and-white page has lost its grey outlines: there the
    numbers decide alone (``alignment.is_aligned``) and nothing is fitted.
    """
    alignment = frame_alignment(sample, rects, geometry, ppm, page_number, black=black)
    aligned = is_aligned(alignment, binary=binary)
    if binary or (alignment.outlined >= FLAT_OUTLINED and alignment.ticked >= FLAT_TICKED):
        return CheckedFrame(alignment, None, aligned)
    bent = bent_alignment(sample, rects, geometry, ppm, page_number, black=black)
    if (bent is not None and is_bent_aligned(bent, binary=binary)
            and bent.alignment.outlined + bent.alignment.ticked > alignment.outlined + alignment.ticked):
        return CheckedFrame(alignment, bent, True)
    return CheckedFrame(alignment, None, aligned)
