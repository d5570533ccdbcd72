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
缺考, 违纪, each question) named by a slice.

Each page carries the full header (fiducials, QR code, 准考证号 grid,
试卷类型 row, the invigilator's 缺考 and 违纪 boxes), so every page of a
multi-page sheet can be read and attributed on its own, whatever order the
scanner delivered the pages in. The header also has write-in boxes nobody
reads (姓名, 班级, 考场号, 座位号) and a 条形码 sticker area (the QR code, not
the sticker, identifies the sheet).

The question area uses the page: each section's blocks sit under a label
("一、单项选择题（第 1–30 题）"), and when the questions leave room the
space between boxes, rows and blocks grows (up to the layout's ``grow``,
1.5× by default; more space between marks tolerates a photo's distortion)
as far as it can without adding a page. The boxes keep the layout's size
(see ``_Scaled``). Blocks are spread evenly over a section's rows (six blocks in
two rows of three, not four and two).

An exam.json written before the 违纪 box and section labels existed has
neither key; it loads as it was written and is read exactly as before.
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
    #: Largest factor the question area's rows and gaps (not its boxes) may grow by when the page has room.
    grow: float = 1.5
    #: Height of a section's label line above its blocks.
    section_label_height: float = 6.0

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
        layout = Layout(
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
            # optional: layout files written before sheets grew into the page have neither
            grow=float(doc.get("grow", 1.5)),
            section_label_height=float(doc.get("section_label", {}).get("height", 6.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BlueprintError(f"答题卡版式文件缺少或写错了字段：{exc}", path=path) from None
    if not 1.0 <= layout.grow <= 3.0:
        raise BlueprintError(f"答题卡版式的 grow 应在 1–3 之间，现在是 {layout.grow:g}", path=path)
    return layout


@dataclass(frozen=True)
class QuestionBoxes:
    number: int
    page: int  # 1-based
    section: int
    boxes: tuple[Rect, ...]  # one per option, A, B, …


@dataclass(frozen=True)
class PageHeader:
    """What every page carries besides its questions.

    The fields after ``class_box`` are absent (None) in an exam.json written
    before they existed; such a sheet is drawn and read as it was printed.
    """

    qr: Rect
    id_grid: tuple[tuple[Rect, ...], ...]  # [digit column][digit 0..9]
    id_write_in: tuple[Rect, ...]  # the boxes above each column where the digit is written
    variant_row: tuple[Rect, ...]  # 试卷类型 A..D (only as many as the exam has variants)
    absent: Rect  # 缺考 box for the invigilator
    name_box: Rect
    class_box: Rect
    violation: Rect | None = None  # 违纪 box for the invigilator, read like 缺考
    room_box: Rect | None = None  # 考场号, written by hand (not read)
    seat_box: Rect | None = None  # 座位号, written by hand (not read)
    barcode: Rect | None = None  # 条形码粘贴区: a sticker goes here (not read; the QR code identifies)
    invigilator: Rect | None = None  # the frame around 缺考 and 违纪, "监考员填涂（考生禁填）"


@dataclass(frozen=True)
class BoxTable:
    """Every box the reader measures on one page, in one fixed order, each part named by a slice.

    The order is the 准考证号 grid column by column (digits 0–9 in each
    column), the 试卷类型 row, the 缺考 box, the 违纪 box (on sheets that
    have one), then each question's boxes (A, B, …) in question order — but
    only this class knows it: whoever measures ``rects`` into an array of N
    numbers finds every part of it through the slices, never by counting.
    """

    rects: tuple[Rect, ...]  # N boxes, mm in frame coordinates
    id_columns: tuple[slice, ...]  # one per 准考证号 column: its boxes for digits 0–9
    variant: slice  # the 试卷类型 row, one box per variant (A, B, …)
    absent: slice  # the 缺考 box (one box)
    questions: tuple[slice, ...]  # one per question on the page: its boxes A, B, …
    numbers: tuple[int, ...]  # the question number of each of ``questions``
    sections: tuple[int, ...]  # …and its section (index into the exam's sections)
    violation: slice | None = None  # the 违纪 box (one box); None on a sheet printed without one

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
        violation = take((self.header.violation,)) if self.header.violation is not None else None
        questions = self.questions_on(page)
        question_slices = tuple(take(q.boxes) for q in questions)
        return BoxTable(
            rects=tuple(rects), id_columns=id_columns, variant=variant, absent=absent,
            questions=question_slices, numbers=tuple(q.number for q in questions),
            sections=tuple(q.section for q in questions), violation=violation,
        )

    def labels_on(self, page: int) -> list[dict[str, Any]]:
        """The printed texts of ``page``: the header's (on every page) and that page's section labels."""
        return [label for label in self.labels if label.get("page", page) == page]

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
                **{
                    key: r(rect)
                    for key, rect in (
                        ("violation", self.header.violation), ("room_box", self.header.room_box),
                        ("seat_box", self.header.seat_box), ("barcode", self.header.barcode),
                        ("invigilator", self.header.invigilator),
                    )
                    if rect is not None
                },
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
                # keys a sheet printed before the 违纪 box and 考场号/座位号 existed does not have
                violation=t(h["violation"]) if "violation" in h else None,
                room_box=t(h["room_box"]) if "room_box" in h else None,
                seat_box=t(h["seat_box"]) if "seat_box" in h else None,
                barcode=t(h["barcode"]) if "barcode" in h else None,
                invigilator=t(h["invigilator"]) if "invigilator" in h else None,
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


@dataclass(frozen=True)
class _Scaled:
    """The question area's sizes at one growth factor."""

    bubble_width: float
    bubble_height: float
    bubble_gap: float
    row_height: float
    number_width: float
    block_gap: float  # vertical, between block rows
    column_gap: float  # horizontal, between block columns

    @classmethod
    def of(cls, layout: Layout, factor: float, vertical: float) -> "_Scaled":
        """Gaps and number column widened by ``factor``, row heights and the gaps between block rows by ``vertical``.

        The boxes themselves keep the layout's size: a pencilled box much
        bigger than 5.2 × 3.2 mm can pass for a 7 mm fiducial in a phone photo
        (measured: at 1.35× one did, and a whole sheet was misread), so the
        room goes into space between boxes, rows and blocks instead.
        """
        return cls(
            layout.bubble_width, layout.bubble_height, layout.bubble_gap * factor,
            layout.row_height * vertical, layout.number_width * factor, layout.block_gap * vertical,
            layout.block_column_gap * factor,
        )


@dataclass(frozen=True)
class _Placed:
    questions: tuple[QuestionBoxes, ...]
    labels: tuple[dict[str, Any], ...]
    pages: int
    empty_slots: int  # block places left empty in sections' last rows
    overflows: bool  # a block row reaches below the question area (taller than a page can hold)


#: Room kept free between the question area and the page footer (mm above the bottom fiducials' centres).
QUESTIONS_BOTTOM = 6.0
#: A sheet as full as the layout allows closes up its rows at most to this share of their height
#: to make room for its section labels (rather than need another page).
MIN_VERTICAL = 0.9
#: Growth factors tried, in steps of this size.
GROW_STEP = 0.01
#: How much growth a half-empty block row is worth giving up: 1.35× with
#: every row full beats 1.44× with a lone block on a row of its own.
EMPTY_SLOT_COST = 0.1


def section_label(title: str, first: int, last: int, continued: bool = False) -> str:
    """"一、单项选择题（第 1–30 题）"; on a later page "一、单项选择题（续，第 21–30 题）"."""
    numbers = f"第 {first} 题" if first == last else f"第 {first}–{last} 题"
    head = title.strip() or "选择题"
    return f"{head}（续，{numbers}）" if continued else f"{head}（{numbers}）"


def compute_geometry(
    layout: Layout,
    section_option_counts: list[tuple[int, int]],
    *,
    id_digits: int = 10,
    variants: int = 4,
    section_titles: list[str] | None = None,
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
    section_titles
        Per section, its title ("一、单项选择题"), printed above its blocks
        with its question numbers; without titles the label is the numbers.

    The question area grows by a factor up to ``layout.grow`` that needs no
    more pages than the layout's own sizes do: the largest, less
    ``EMPTY_SLOT_COST`` for each block place a section's last row leaves
    empty. Then the rows alone grow further, up to ``layout.grow``, while
    the pages still hold them, so the questions use the page's height.
    """
    if not 1 <= variants <= len(VARIANT_LABELS):
        raise ValueError(f"variants must be 1..{len(VARIANT_LABELS)}, got {variants}")
    titles = list(section_titles) if section_titles is not None else [""] * len(section_option_counts)
    if len(titles) != len(section_option_counts):
        raise ValueError("one title per section")
    labels: list[dict[str, Any]] = []
    header = _header(layout, id_digits, variants, labels)
    # The pages the layout's own sizes needed before sheets had section labels: never more now.
    before = _place_questions(layout, section_option_counts, titles, 1.0, 1.0, labelled=False).pages
    least = _place_questions(layout, section_option_counts, titles, 1.0, 1.0)
    squeeze = 1.0
    while (least.pages > before or least.overflows) and squeeze > MIN_VERTICAL + 1e-9:
        # a full sheet makes room for its labels by closing up its rows a little
        squeeze -= GROW_STEP
        least = _place_questions(layout, section_option_counts, titles, 1.0, squeeze)
    steps = int(round((max(layout.grow, 1.0) - 1.0) / GROW_STEP))
    factors = [1.0 + step * GROW_STEP for step in range(steps + 1)]
    best, best_score = 1.0, -1.0
    for factor in factors:
        trial = _place_questions(layout, section_option_counts, titles, factor, factor)
        score = factor - EMPTY_SLOT_COST * trial.empty_slots
        if trial.pages <= least.pages and not trial.overflows and score > best_score + 1e-9:
            best, best_score = factor, score
    placed = least
    for vertical in reversed([f for f in factors if f >= best and f > squeeze]):
        trial = _place_questions(layout, section_option_counts, titles, best, vertical)
        if trial.pages <= least.pages and not trial.overflows:
            placed = trial
            break
    return SheetGeometry(
        layout=layout.name,
        page_size=(layout.page_width, layout.page_height),
        origin=layout.origin,
        frame_size=layout.frame_size,
        fiducial_size=layout.fiducial_size,
        bubble_size=(layout.bubble_width, layout.bubble_height),
        pages=placed.pages,
        header=header,
        questions=placed.questions,
        variants=tuple(VARIANT_LABELS[:variants]),
        id_digits=id_digits,
        labels=tuple(labels) + placed.labels,
    )


def _place_questions(
    layout: Layout, shape: list[tuple[int, int]], titles: list[str], factor: float, vertical: float,
    *, labelled: bool = True,
) -> _Placed:
    """Blocks of questions grown by ``factor`` (rows by ``vertical``): row-major, each section
    under its label, a new page when one is full.

    ``labelled=False`` places them as sheets did before section labels
    (no labels, 4 mm above the footer), to count the pages they needed.
    """
    size = _Scaled.of(layout, factor, vertical)
    fw, fh = layout.frame_size
    left, right = 4.0, fw - 4.0
    top, bottom = layout.questions_top, fh - (QUESTIONS_BOTTOM if labelled else 4.0)
    label_height = layout.section_label_height if labelled else 0.0
    block_height = layout.block_questions * size.row_height
    questions: list[QuestionBoxes] = []
    labels: list[dict[str, Any]] = []
    page, y = 1, top
    number = 0
    empty_slots = 0
    overflows = False
    for section, ((count, options), title) in enumerate(zip(shape, titles)):
        if count <= 0:
            continue
        block_width = size.number_width + options * (size.bubble_width + size.bubble_gap)
        fit = int((right - left + size.column_gap) // (block_width + size.column_gap))
        columns = max(1, min(layout.max_block_columns, fit))
        blocks = -(-count // layout.block_questions)
        rows = -(-blocks // columns)
        per_row = -(-blocks // rows)  # spread evenly: six blocks in 3 + 3, not 4 + 2
        empty_slots += rows * per_row - blocks
        pitch_x = (right - left + size.column_gap) / per_row
        last_number = number + count
        label: dict[str, Any] = {}
        label_first = number + 1
        for row in range(rows):
            # a label never stands alone at the foot of a page
            needed = block_height + (label_height if row == 0 else 0.0)
            if y > top and y + needed > bottom:
                page, y = page + 1, top
            if row == 0 or y == top:  # the section starts, or goes on at the top of a new page
                label = {"kind": "section", "page": page, "x": left, "y": round(y + label_height - 1.8, 3), "section": section}
                labels.append(label)
                label_first = number + 1
                continued = row > 0
                y += label_height
            for col in range(min(per_row, blocks - row * per_row)):
                x0 = left + col * pitch_x
                for r in range(min(layout.block_questions, last_number - number)):
                    number += 1
                    box_y = y + r * size.row_height + (size.row_height - size.bubble_height) / 2
                    boxes = tuple(
                        (x0 + size.number_width + k * (size.bubble_width + size.bubble_gap), box_y,
                         size.bubble_width, size.bubble_height)
                        for k in range(options)
                    )
                    questions.append(QuestionBoxes(number, page, section, boxes))
            overflows = overflows or y + block_height > bottom + 1e-9
            y += block_height + size.block_gap
            label["text"] = section_label(title, label_first, number, continued=continued)
    return _Placed(tuple(questions), tuple(labels) if labelled else (), page, empty_slots, overflows)


def _header(layout: Layout, id_digits: int, variants: int, labels: list[dict[str, Any]]) -> PageHeader:
    fw, _ = layout.frame_size
    q = layout.qr_size
    qr = (fw - 6.0 - q, 5.0, q, q)
    name_box = (22.0, 13.0, 55.0, 7.0)
    class_box = (22.0, 22.5, 55.0, 7.0)
    # 考场号 and 座位号 beside 姓名 and 班级: written by hand (printed on personalised sheets), never read.
    room_box = (100.0, 13.0, 30.0, 7.0)
    seat_box = (100.0, 22.5, 30.0, 7.0)
    labels += [
        {"kind": "title", "x": 4.0, "y": 2.5},
        {"kind": "text", "text": "姓名", "x": 4.0, "y": name_box[1] + 5.0},
        {"kind": "text", "text": "班级", "x": 4.0, "y": class_box[1] + 5.0},
        {"kind": "text", "text": "考场号", "x": 84.0, "y": room_box[1] + 5.0},
        {"kind": "text", "text": "座位号", "x": 84.0, "y": seat_box[1] + 5.0},
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
    right_edge = fw - 6.0  # the QR code's right edge
    # The barcode sticker area and the invigilator's frame side by side, under the QR code.
    invigilator_width = 44.0
    barcode = (right_x, 36.0, right_edge - invigilator_width - 5.0 - right_x, 22.0)
    invigilator = (right_edge - invigilator_width, 36.0, invigilator_width, 22.0)
    ix, iy = invigilator[0], invigilator[1]
    labels.append({"kind": "text", "text": "监考员填涂（考生禁填）", "x": ix + 3.0, "y": iy + 6.0, "bold": True})
    absent = (ix + 12.0, iy + 11.0, bw, bh)
    violation = (ix + 34.0, iy + 11.0, bw, bh)
    labels.append({"kind": "text", "text": "缺考", "x": ix + 3.0, "y": absent[1] + bh * 0.85})
    labels.append({"kind": "text", "text": "违纪", "x": ix + 25.0, "y": violation[1] + bh * 0.85})
    labels.append({"kind": "note", "text": "由监考员用2B铅笔填涂", "x": ix + 3.0, "y": iy + 20.0})
    labels.append({"kind": "barcode", "text": "条形码粘贴区", "x": barcode[0] + barcode[2] / 2, "y": barcode[1] + barcode[3] / 2 + 1.5})
    variant_y = 63.0
    variant_row = tuple((right_x + 14.0 + k * (bw + 3.0), variant_y, bw, bh) for k in range(variants))
    labels.append({"kind": "text", "text": "试卷类型", "x": right_x, "y": variant_y + 2.6, "bold": True})
    labels.append({"kind": "examples", "x": right_x, "y": 71.0})
    labels.append({"kind": "notes", "x": right_x, "y": 80.0})
    return PageHeader(
        qr=qr, id_grid=columns, id_write_in=write_in, variant_row=variant_row, absent=absent,
        name_box=name_box, class_box=class_box, violation=violation, room_box=room_box, seat_box=seat_box,
        barcode=barcode, invigilator=invigilator,
    )
