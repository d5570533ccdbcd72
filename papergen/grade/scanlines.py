"""Straight lines a device draws through a whole black-and-white scan, and the page without them.

A speck of dust or toner on the sensor of a sheet-fed scanner, a copier or a
fax blackens the same one or few columns of pixels from the top of the page
to the bottom; a fax line lost in transmission blackens a row from edge to
edge. On a grey page such a line is lighter than pencil and crosses each
box's whole window, which ``bubbles.trace_strokes`` tells (a fold's crease
is taken out the same way). A black-and-white page's threshold leaves it as
black as pencil: in every empty box it runs through, it is a box darker than
an empty one with black away from the letter — a stroke's remains — and each
of them was flagged, up to ten questions on a page for one speck of dust.

No pencil mark, printed square or QR code runs through every row of the
image. So on a black-and-white page the reader looks at the whole scan first:
a run of at most ``LINE_MAX_MM`` of adjacent columns (rows) that are dark in
``LINE_SHARE`` of the image's rows (columns) is such a line, and the boxes
are read from the page with it painted paper white (``without_lines``). A
mark the line crosses loses that much of itself, less than a millimetre:
a fill stays a fill, and a tick's two sides stay black off the letter.

Measuring (``dark_shares``) is apart from deciding (``find_lines``); both
are pure functions of arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: A pixel is dark below this grey: a thin black line in a low-quality JPEG
#: of a 1-bit page comes out at 0–120, its ringing at 120–200.
DARK_BELOW = 128
#: A column (row) is on a line when this share of the image's rows (columns) is dark there.
#: On 455 simulated 1-bit pages (fax, fold, scan) every other column is dark in at most 0.31 of
#: its rows and every other row in at most 0.49 of its columns (through fiducials and a row of fills).
LINE_SHARE = 0.85
#: The widest line taken out (mm at the sheet's scale): dust lines are 0.1–0.5 mm.
LINE_MAX_MM = 1.0
#: Pixels painted beside a line's dark ones on either side: the JPEG's ringing around it.
HALO_PX = 1
#: The sheet's short side in millimetres: the image's scale is taken from its short side (A4).
SHEET_SHORT_MM = 210.0


@dataclass(frozen=True)
class ScanLines:
    """Lines through the whole scan, as half-open pixel spans.

    columns : tuple of (start, stop)
        Vertical lines: image columns ``start … stop - 1``.
    rows : tuple of (start, stop)
        Horizontal lines: image rows ``start … stop - 1``.
    """

    columns: tuple[tuple[int, int], ...] = ()
    rows: tuple[tuple[int, int], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.columns or self.rows)

    def __len__(self) -> int:
        return len(self.columns) + len(self.rows)


def dark_shares(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How much of each column and of each row of the image is dark.

    Parameters
    ----------
    gray : (H, W) uint8

    Returns
    -------
    columns : (W,) float64
        Share of the H rows darker than ``DARK_BELOW`` in each column.
    rows : (H,) float64
        Share of the W columns darker than ``DARK_BELOW`` in each row.
    """
    dark = (gray < DARK_BELOW).view(np.uint8)
    columns = cv2.reduce(dark, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() / gray.shape[0]
    rows = cv2.reduce(dark, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() / gray.shape[1]
    return columns, rows


def find_lines(columns: np.ndarray, rows: np.ndarray) -> ScanLines:
    """The lines in an image from its ``dark_shares``: runs of ``LINE_SHARE`` dark columns (rows), ``LINE_MAX_MM`` wide at most.

    The image's scale is its short side over ``SHEET_SHORT_MM``; a wider run
    (a black border along the image's edge, a bar) is not a line and stays.
    """
    most = max(1, int(round(min(len(columns), len(rows)) / SHEET_SHORT_MM * LINE_MAX_MM)))
    return ScanLines(columns=_runs(columns >= LINE_SHARE, most), rows=_runs(rows >= LINE_SHARE, most))


def _runs(on: np.ndarray, most: int) -> tuple[tuple[int, int], ...]:
    """The runs of True in ``on`` at most ``most`` long, as (start, stop)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.view(np.int8), [0]])))
    return tuple((int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a <= most)


def without_lines(gray: np.ndarray, lines: ScanLines) -> np.ndarray:
    """A copy of ``gray`` with each line (and ``HALO_PX`` beside it) painted paper white, (H, W) uint8."""
    clean = gray.copy()
    for start, stop in lines.columns:
        clean[:, max(0, start - HALO_PX):stop + HALO_PX] = 255
    for start, stop in lines.rows:
        clean[max(0, start - HALO_PX):stop + HALO_PX, :] = 255
    return clean
