"""Answer-sheet geometry: every box on the sheet, computed once.

``compute_geometry`` turns a layout (a bundled ``papergen/data/layouts/*.yaml``
by name, or any layout file by path) and the exam's shape
(questions per section, options per question, 准考证号 digits, variants)
into a ``SheetGeometry``: rectangles in millimetres in the *frame*, whose
origin is the centre of the top-left fiducial, x to the right, y downward.
The renderer draws exactly these rectangles; ``to_json`` writes them into
exam.json, and the grader reads them from there (``from_json``) — nobody
re-derives a position. ``box_table(page)`` lists every box the grader
measures on a page in one order, each part (准考证号 columns, 试卷类型,
缺考, each question) named by a slice.

Each page carries the full header (fiducials, QR code, 准考证号 grid,
试卷类型 row, 缺考 box), so every page of a multi-page sheet can be read and
attributed on its own, whatever order the scanner delivered the pages in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papergen.core import inputs, located_yaml
from papergen.core.errors import BlueprintError
from papergen.data import bundled_layout, layout_folder

DEFAULT_LAYOUT = "a4-standard"
VARIANT_LABELS = "ABCD"

Rect = tuple[float, float, float, float]  # x, y, width, height (mm, frame coordinates)


@dataclass(frozen=True)
class Layout:
    name: str
    page_width: float
    page_height: float
    fiducial_size: float
    fiducial_margin: float
    qr_size: float
    bubble_width: float
    bubble_height: float
    bubble_gap: float
    row_height: float
    block_questions: int
    block_gap: float
    number_width: float
    block_column_gap: float
    max_block_columns: int
    digit_pitch: float
    digit_row_pitch: float
    questions_top: float

    @property
    def origin(self) -> tuple[float, float]:
        """Page position (mm from the top-left paper corner) of the frame origin."""
        c = self.fiducial_margin + self.fiducial_size / 2
        return (c, c)

    @property
    def frame_size(self) -> tuple[float, float]:
        c = self.fiducial_margin + self.fiducial_size / 2
        return (self.page_width - 2 * c, self.page_height - 2 * c)


def load_layout(name_or_path: str) -> Layout:
    """A bundled layout by name (``a4-standard``) or a layout file by path (it has a suffix)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = bundled_layout(name_or_path)
    if not path.is_file():
        raise BlueprintError(f"找不到答题卡版式 {name_or_path}", path=path, hint=f"可用版式在 {layout_folder()}")
    doc = located_yaml.parse(inputs.decode_text(inputs.read_bytes(path), path), path)
    try:
        return Layout(
            name=str(doc["name"]),
            page_width=float(doc["page"]["width"]),
            page_height=float(doc["page"]["height"]),
            fiducial_size=float(doc["fiducial"]["size"]),
            fiducial_margin=float(doc["fiducial"]["margin"]),
            qr_size=float(doc["qr"]["size"]),
            bubble_width=float(doc["bubble"]["width"]),
            bubble_height=float(doc["bubble"]["height"]),
            bubble_gap=float(doc["bubble"]["gap"]),
            row_height=float(doc["row_height"]),
            block_questions=int(doc["block"]["questions"]),
            block_gap=float(doc["block"]["gap"]),
            number_width=float(doc["number_width"]),
            block_column_gap=float(doc["block_gap"]),
            max_block_columns=int(doc["max_block_columns"]),
            digit_pitch=float(doc["id_grid"]["digit_pitch"]),
            digit_row_pitch=float(doc["id_grid"]["row_pitch"]),
            questions_top=float(doc["questions_top"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BlueprintError(f"答题卡版式文件缺少或写错了字段：{exc}", path=path) from None


@dataclass(frozen=True)
class QuestionBoxes:
    number: int
    page: int  # 1-based
    section: int
    boxes: tuple[Rect, ...]  # one per option, A, B, …


@dataclass(frozen=True)
class PageHeader:
    """What every page carries besides its questions."""

    qr: Rect
    id_grid: tuple[tuple[Rect, ...], ...]  # [digit column][digit 0..9]
    id_write_in: tuple[Rect, ...]  # the boxes above each column where the digit is written
    variant_row: tuple[Rect, ...]  # 试卷类型 A..D (only as many as the exam has variants)
    absent: Rect  # 缺考 box for the invigilator
    name_box: Rect
    class_box: Rect


@dataclass(frozen=True)
class BoxTable:
    """Every box the reader measures on one page, in one fixed order, each part named by a slice.

    The order is the 准考证号 grid column by column (digits 0–9 in each
    column), the 试卷类型 row, the 缺考 box, then each question's boxes
    (A, B, …) in question order — but only this class knows it: whoever
    measures ``rects`` into an array of N numbers finds every part of it
    through the slices, never by counting.
    """

    rects: tuple[Rect, ...]  # N boxes, mm in frame coordinates
    id_columns: tuple[slice, ...]  # one per 准考证号 column: its boxes for digits 0–9
    variant: slice  # the 试卷类型 row, one box per variant (A, B, …)
    absent: slice  # the 缺考 box (one box)
    questions: tuple[slice, ...]  # one per question on the page: its boxes A, B, …
    numbers: tuple[int, ...]  # the question number of each of ``questions``
    sections: tuple[int, ...]  # …and its section (index into the exam's sections)

    def __len__(self) -> int:
        return len(self.rects)


@dataclass(frozen=True)
class SheetGeometry:
    layout: str
    page_size: tuple[float, float]
    origin: tuple[float, float]  # page mm of the frame origin (top-left fiducial centre)
    frame_size: tuple[float, float]
    fiducial_size: float
    bubble_size: tuple[float, float]
    pages: int
    header: PageHeader
    questions: tuple[QuestionBoxes, ...]
    variants: tuple[str, ...]
    id_digits: int
    #: Printed texts (title, 姓名, 准考证号, examples, notes…) and where they go: in the manifest too,
    #: so a sheet printed later from exam.json (``papergen sheets``) carries every label the blank one does.
    labels: tuple[dict[str, Any], ...] = field(default=(), compare=False)

    def fiducial_centers(self) -> tuple[tuple[float, float], ...]:
        w, h = self.frame_size
        return ((0.0, 0.0), (w, 0.0), (0.0, h), (w, h))

    def questions_on(self, page: int) -> list[QuestionBoxes]:
        return [q for q in self.questions if q.page == page]

    def box_table(self, page: int) -> BoxTable:
        """Every box the reader measures on ``page`` (1-based): the header's and that page's questions'."""
        rects: list[Rect] = []

        def take(boxes: tuple[Rect, ...]) -> slice:
            start = len(rects)
            rects.extend(boxes)
            return slice(start, len(rects))

        id_columns = tuple(take(column) for column in self.header.id_grid)
        variant = take(self.header.variant_row)
        absent = take((self.header.absent,))
        questions = self.questions_on(page)
        question_slices = tuple(take(q.boxes) for q in questions)
        return BoxTable(
            rects=tuple(rects), id_columns=id_columns, variant=variant, absent=absent,
            questions=question_slices, numbers=tuple(q.number for q in questions),
            sections=tuple(q.section for q in questions),
        )

    # -- manifest form -----------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        r = _round_rect
        return {
            "layout": self.layout,
            "units": "mm",
            "page_size": list(self.page_size),
            "frame": {
                "origin_on_page": list(self.origin),
                "size": list(self.frame_size),
                "note": "rectangles are [x, y, width, height] from the top-left fiducial centre, y downward",
            },
            "fiducials": {"size": self.fiducial_size, "centers": [list(c) for c in self.fiducial_centers()]},
            "bubble_size": list(self.bubble_size),
            "pages": self.pages,
            "header": {
                "qr": r(self.header.qr),
                "id_digits": self.id_digits,
                "id_grid": [[r(b) for b in column] for column in self.header.id_grid],
                "id_write_in": [r(b) for b in self.header.id_write_in],
                "variants": list(self.variants),
                "variant_row": [r(b) for b in self.header.variant_row],
                "absent": r(self.header.absent),
                "name_box": r(self.header.name_box),
                "class_box": r(self.header.class_box),
            },
            "questions": [
                {"number": q.number, "page": q.page, "section": q.section, "boxes": [r(b) for b in q.boxes]}
                for q in self.questions
            ],
            "labels": [dict(label) for label in self.labels],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SheetGeometry":
        h = data["header"]

        def t(rect: list[float]) -> Rect:
            return tuple(float(v) for v in rect)  # type: ignore[return-value]

        return cls(
            layout=data["layout"],
            page_size=tuple(data["page_size"]),
            origin=tuple(data["frame"]["origin_on_page"]),
            frame_size=tuple(data["frame"]["size"]),
            fiducial_size=float(data["fiducials"]["size"]),
            bubble_size=tuple(data["bubble_size"]),
            pages=int(data["pages"]),
            header=PageHeader(
                qr=t(h["qr"]),
                id_grid=tuple(tuple(t(b) for b in column) for column in h["id_grid"]),
                id_write_in=tuple(t(b) for b in h["id_write_in"]),
                variant_row=tuple(t(b) for b in h["variant_row"]),
                absent=t(h["absent"]),
                name_box=t(h["name_box"]),
                class_box=t(h["class_box"]),
            ),
            questions=tuple(
                QuestionBoxes(q["number"], q["page"], q["section"], tuple(t(b) for b in q["boxes"]))
                for q in data["questions"]
            ),
            variants=tuple(h["variants"]),
            id_digits=int(h["id_digits"]),
            labels=tuple(dict(label) for label in data["labels"]),
        )


def _round_rect(rect: Rect) -> list[float]:
    return [round(v, 3) for v in rect]


def compute_geometry(
    layout: Layout,
    section_option_counts: list[tuple[int, int]],
    *,
    id_digits: int = 10,
    variants: int = 4,
) -> SheetGeometry:
    """Place every box.

    Parameters
    ----------
    layout
        The sheet layout.
    section_option_counts
        Per section, ``(questions, options)``: how many questions and how many
        boxes each of its rows needs (the most options any of its questions has).
    id_digits
        Columns of the 准考证号 grid.
    variants
        How many 试卷类型 boxes (A..) the sheet offers.
    """
    if not 1 <= variants <= len(VARIANT_LABELS):
        raise ValueError(f"variants must be 1..{len(VARIANT_LABELS)}, got {variants}")
    fw, fh = layout.frame_size
    labels: list[dict[str, Any]] = []
    header = _header(layout, id_digits, variants, labels)

    # Question blocks: row-major, a section starts a new block.
    left, right = 4.0, fw - 4.0
    area_height = fh - layout.questions_top - 4.0
    block_height = layout.block_questions * layout.row_height
    block_rows = int((area_height + layout.block_gap) // (block_height + layout.block_gap))
    questions: list[QuestionBoxes] = []
    page, row, col = 1, 0, 0  # next free block position
    number = 0
    for section, (count, options) in enumerate(section_option_counts):
        block_width = layout.number_width + options * (layout.bubble_width + layout.bubble_gap)
        fit = int((right - left + layout.block_column_gap) // (block_width + layout.block_column_gap))
        columns = max(1, min(layout.max_block_columns, fit))
        pitch_x = (right - left + layout.block_column_gap) / columns
        if col:  # a section starts on a fresh block row
            row, col = row + 1, 0
        last_number = number + count
        while number < last_number:
            if row >= block_rows:
                page, row, col = page + 1, 0, 0
            x0 = left + col * pitch_x
            y0 = layout.questions_top + row * (block_height + layout.block_gap)
            for r in range(min(layout.block_questions, last_number - number)):
                number += 1
                y = y0 + r * layout.row_height + (layout.row_height - layout.bubble_height) / 2
                boxes = tuple(
                    (x0 + layout.number_width + k * (layout.bubble_width + layout.bubble_gap), y,
                     layout.bubble_width, layout.bubble_height)
                    for k in range(options)
                )
                questions.append(QuestionBoxes(number, page, section, boxes))
            col += 1
            if col == columns:
                row, col = row + 1, 0
    return SheetGeometry(
        layout=layout.name,
        page_size=(layout.page_width, layout.page_height),
        origin=layout.origin,
        frame_size=layout.frame_size,
        fiducial_size=layout.fiducial_size,
        bubble_size=(layout.bubble_width, layout.bubble_height),
        pages=page,
        header=header,
        questions=tuple(questions),
        variants=tuple(VARIANT_LABELS[:variants]),
        id_digits=id_digits,
        labels=tuple(labels),
    )


def _header(layout: Layout, id_digits: int, variants: int, labels: list[dict[str, Any]]) -> PageHeader:
    fw, _ = layout.frame_size
    q = layout.qr_size
    qr = (fw - 6.0 - q, 5.0, q, q)
    name_box = (22.0, 13.0, 55.0, 7.0)
    class_box = (22.0, 22.5, 55.0, 7.0)
    labels += [
        {"kind": "title", "x": 4.0, "y": 2.5},
        {"kind": "text", "text": "姓名", "x": 4.0, "y": name_box[1] + 5.0},
        {"kind": "text", "text": "班级", "x": 4.0, "y": class_box[1] + 5.0},
    ]
    # 准考证号: a write-in box per digit, then ten rows of bubbles 0..9.
    grid_left, grid_top = 4.0, 40.0
    bw, bh = layout.bubble_width, layout.bubble_height
    write_in = tuple((grid_left + c * layout.digit_pitch, grid_top, layout.digit_pitch - 0.8, 5.0) for c in range(id_digits))
    columns = tuple(
        tuple(
            (grid_left + c * layout.digit_pitch + (layout.digit_pitch - 0.8 - bw) / 2,
             grid_top + 6.5 + d * layout.digit_row_pitch, bw, bh)
            for d in range(10)
        )
        for c in range(id_digits)
    )
    labels.append({"kind": "text", "text": "准考证号", "x": grid_left, "y": grid_top - 2.0, "bold": True})
    right_x = grid_left + id_digits * layout.digit_pitch + 8.0
    variant_row = tuple((right_x + 14.0 + k * (bw + 3.0), 45.0, bw, bh) for k in range(variants))
    labels.append({"kind": "text", "text": "试卷类型", "x": right_x, "y": 47.6, "bold": True})
    absent = (right_x + 40.0, 53.0, bw, bh)
    labels.append({"kind": "text", "text": "缺考标记（考生禁填）", "x": right_x, "y": 55.6, "bold": True})
    labels.append({"kind": "examples", "x": right_x, "y": 63.0})
    labels.append({"kind": "notes", "x": right_x, "y": 76.0})
    return PageHeader(
        qr=qr, id_grid=columns, id_write_in=write_in, variant_row=variant_row, absent=absent,
        name_box=name_box, class_box=class_box,
    )
