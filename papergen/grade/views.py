"""Pictures of a graded sheet for people: review crops, page thumbnails, annotated sheets.

A person settling a flag must see the very boxes the reader measured, so a
view starts from the same decoded page image and the frame the reader found
(``pages.frame``, recorded at grading), bent as the reader bent it when the
sheet did not lie flat (``bend.Bend``, recorded with the frame). A sheet graded before frames were
recorded is registered again. A scan file that changed since it was graded
is refused: a crop of another scan would show another student's marks.

``render_region`` is the one drawing step: a rectangle of the sheet (frame
millimetres) warped upright at a chosen resolution, with rectangles
outlined. Row crops, thumbnails and annotated pages are all calls to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from papergen.exam.manifest import Manifest
from papergen.grade.bend import Bend
from papergen.grade.ingest import PageLoadError, collect_pages, load_page
from papergen.grade.registration import RegistrationError, register_all
from papergen.sheet.layout import Rect, SheetGeometry

#: BGR colours of the outlines people see (OpenCV order).
GREEN, RED, BLUE, ORANGE, GREY = (40, 160, 40), (40, 40, 220), (200, 90, 20), (0, 140, 255), (150, 150, 150)


class ViewUnavailable(Exception):
    """The scan behind a reading cannot be shown (moved, changed, unreadable); the message says which, in Chinese."""


@dataclass(frozen=True)
class SheetView:
    """A decoded page image and where the sheet lies in it.

    ``gray`` is ``(H, W)`` uint8 (already mirrored back when the scan was a
    mirror image); ``homography`` is ``(3, 3)``, frame mm → pixels of ``gray``;
    ``bend`` where the print lies beyond it (a sheet that did not lie flat), None for a flat one.
    """

    gray: np.ndarray
    homography: np.ndarray
    geometry: SheetGeometry
    sheet_page: int
    bend: Bend | None = None


def sheet_view(
    path: str, page: int, part: int, file_hash: str, manifest: Manifest, frame: dict | None, sheet_page: int = 1
) -> SheetView:
    """The view of sheet ``part`` on ``page`` of the scan ``path``, as it was graded.

    Raises
    ------
    ViewUnavailable
        The file is gone or unreadable, its content is not the graded one
        (``file_hash``), or no frame can be found on it any more.
    """
    jobs, problems = collect_pages([path])
    if problems:
        raise ViewUnavailable(f"{path}：{problems[0].message}")
    job = next((j for j in jobs if j.page == page), None)
    if job is None:
        raise ViewUnavailable(f"{path}：找不到扫描文件或它的第 {page} 页")
    if job.file_hash != file_hash:
        raise ViewUnavailable(f"{path}：扫描文件在评阅后被更换了，显示它会是另一张答题卡；请重新运行 papergen grade")
    try:
        gray = load_page(job)
        if frame is not None and tuple(frame["size"]) != (gray.shape[1], gray.shape[0]):
            # a sheet too small in a reduced decode was read from the full-size one (``reader.too_coarse``)
            finer = load_page(job, finest=True)
            gray = finer if tuple(frame["size"]) == (finer.shape[1], finer.shape[0]) else gray
    except PageLoadError as exc:
        raise ViewUnavailable(f"{Path(path).name} 第 {page} 页：{exc}") from None
    if frame is not None and tuple(frame["size"]) == (gray.shape[1], gray.shape[0]):
        if frame.get("mirrored"):
            gray = np.ascontiguousarray(gray[:, ::-1])
        homography = np.array(frame["homography"], dtype=np.float64).reshape(3, 3)
        bend = Bend.from_json(frame["bend"]) if frame.get("bend") else None
        return SheetView(gray, homography, manifest.sheet, sheet_page, bend)
    try:  # graded before frames were recorded: find it again
        registrations = register_all(gray, manifest.sheet)
    except RegistrationError as exc:
        raise ViewUnavailable(f"{Path(path).name} 第 {page} 页：{exc}") from None
    if part > len(registrations):
        raise ViewUnavailable(f"{Path(path).name} 第 {page} 页：找不到第 {part} 张答题卡")
    return SheetView(gray, registrations[part - 1].homography, manifest.sheet, sheet_page)


def whole_page(geometry: SheetGeometry) -> Rect:
    """The whole printed page, in frame mm."""
    (pw, ph), (ox, oy) = geometry.page_size, geometry.origin
    return (-ox, -oy, pw, ph)


def question_region(geometry: SheetGeometry, number: int, margin_mm: float = 2.0) -> Rect:
    """The row of question ``number``: its printed number (to the left of the boxes) and its boxes."""
    question = next((q for q in geometry.questions if q.number == number), None)
    if question is None:
        raise KeyError(number)
    left = min(x for x, _, _, _ in question.boxes)
    top = min(y for _, y, _, _ in question.boxes)
    right = max(x + w for x, _, w, _ in question.boxes)
    bottom = max(y + h for _, y, _, h in question.boxes)
    # The number is printed in the block's number column left of box A, which
    # the layout makes about one option pitch wide (it grows with the gaps).
    boxes = question.boxes
    pitch = boxes[1][0] - boxes[0][0] if len(boxes) > 1 else 2 * geometry.bubble_size[0]
    left -= 1.3 * pitch
    return (left - margin_mm, top - margin_mm, right - left + 2 * margin_mm, bottom - top + 2 * margin_mm)


def bounds(rects: Sequence[Rect], margin_mm: float = 2.0) -> Rect:
    """The smallest rectangle holding ``rects``, grown by ``margin_mm``."""
    left = min(x for x, _, _, _ in rects)
    top = min(y for _, y, _, _ in rects)
    right = max(x + w for x, _, w, _ in rects)
    bottom = max(y + h for _, y, _, h in rects)
    return (left - margin_mm, top - margin_mm, right - left + 2 * margin_mm, bottom - top + 2 * margin_mm)


def render_region(
    view: SheetView,
    region_mm: Rect | None,
    px_per_mm: float,
    outlines: Sequence[tuple[Rect, tuple[int, int, int], int]] = (),
) -> np.ndarray:
    """A rectangle of the sheet, upright, with rectangles outlined.

    Parameters
    ----------
    view
        The page and its frame.
    region_mm
        ``(x, y, width, height)`` in frame mm; ``None``: the whole page.
    px_per_mm
        Resolution of the picture.
    outlines
        ``(rect in frame mm, BGR colour, thickness in px)`` drawn in order.

    Returns
    -------
    (round(height·ppm), round(width·ppm), 3) uint8, BGR.
    """
    x, y, w, h = region_mm if region_mm is not None else whole_page(view.geometry)
    size = (max(1, int(round(w * px_per_mm))), max(1, int(round(h * px_per_mm))))
    to_frame = np.array([[1 / px_per_mm, 0, x], [0, 1 / px_per_mm, y], [0, 0, 1]])
    if view.bend is None:
        gray = cv2.warpPerspective(
            view.gray, view.homography @ to_frame, size, flags=cv2.WARP_INVERSE_MAP | cv2.INTER_AREA,
            borderMode=cv2.BORDER_CONSTANT, borderValue=255,
        )
    else:  # each picture pixel's frame point, moved to where the print there lies, through the frame
        cols, rows = np.meshgrid(np.arange(size[0]), np.arange(size[1]))
        frame_mm = np.stack([x + cols.ravel() / px_per_mm, y + rows.ravel() / px_per_mm], axis=1)
        frame_mm = frame_mm + view.bend.at(frame_mm)
        points = cv2.perspectiveTransform(frame_mm.reshape(size[1], size[0], 2).astype(np.float32), view.homography)
        gray = cv2.remap(view.gray, points, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    image = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    for (rx, ry, rw, rh), colour, thickness in outlines:
        top_left = (int(round((rx - x) * px_per_mm)), int(round((ry - y) * px_per_mm)))
        bottom_right = (int(round((rx + rw - x) * px_per_mm)), int(round((ry + rh - y) * px_per_mm)))
        cv2.rectangle(image, top_left, bottom_right, colour, thickness, lineType=cv2.LINE_AA)
    return image


def png_bytes(image: np.ndarray) -> bytes:
    """``image`` (BGR or gray) as PNG."""
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("PNG encoding failed")
    return data.tobytes()


def jpeg_bytes(image: np.ndarray, quality: int = 85) -> bytes:
    """``image`` (BGR or gray) as JPEG."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()
