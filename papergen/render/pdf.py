"""PDF output: the printed paper (试卷) and its answer key (答案) for one variant.

Both are laid out with reportlab's platypus on A4, in Noto Sans SC only (see
``fonts.py``), embedded as subsets so the files print the same everywhere.
Every page carries a header (exam title, 试卷类型) and a footer
"第 X 页 / 共 Y 页" (``PageCountingCanvas``, ``draw_page_number``; the
feedback PDFs number their pages with them too). The paper ends with
"—— 试卷结束 ——"; the key opens with 答案速查, every answer in a compact
table, before the table with the explanations. All text is set with
``cjk.CJKParagraph`` (Chinese line breaking), and ``markup`` keeps runs of
ideographic spaces, so the answer blanks "（　　　　）" keep their width.
Builds are deterministic (``invariant=1``): the same
``Paper`` gives the same bytes, so rebuilding an exam does not churn files.

Usage from a script::

    from papergen.render.pdf import render_key_pdf, render_paper_pdf

    pages = render_paper_pdf(paper, "out/试卷-A.pdf")  # returns the page count
    render_key_pdf(paper, "out/答案-A.pdf")

Files are written through ``atomic.atomic_path``: a failure part-way leaves
no file (and an older file under the same name untouched).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    KeepTogether,
    PageTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable

from papergen.bank.model import LETTERS
from papergen.core import atomic
from papergen.render import fonts
from papergen.render.cjk import CJKParagraph
from papergen.render.paper import (
    END_OF_PAPER,
    QUICK_KEY_TITLE,
    Paper,
    PaperQuestion,
    PaperSection,
    format_points,
    key_title,
    quick_key_per_row,
    quick_key_rows,
    section_heading,
)

# --- page geometry -----------------------------------------------------------
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_LEFT = MARGIN_RIGHT = 20 * mm
MARGIN_TOP = 24 * mm  # the running header lives in the upper 12 mm of this
MARGIN_BOTTOM = 20 * mm  # the footer lives in the lower 10 mm of this
TEXT_WIDTH = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
HEADER_BASELINE = PAGE_HEIGHT - 14 * mm
HEADER_RULE_Y = HEADER_BASELINE - 2.5 * mm
FOOTER_BASELINE = 10 * mm
FURNITURE_SIZE = 9  # header and footer text, pt

# --- text sizes --------------------------------------------------------------
BODY_SIZE = 10.5  # 五号, what Chinese exam papers use for questions
BODY_LEADING = 17
#: Separator after question numbers and option letters: "1．", "A．" (full-width
#: full stop, as printed Chinese papers use).
NUMBER_SEP = "．"
#: Space kept free on the right of each option cell, so neighbouring columns
#: never touch. ``option_columns`` counts it as part of an option's width.
OPTION_GUTTER = 8.0

#: Name of the form XObject that prints "共 Y 页"; see ``PageCountingCanvas``.
PAGE_TOTAL_FORM = "papergenPageTotal"


# --- markup ------------------------------------------------------------------
_IDEOGRAPHIC_SPACES = re.compile("\u3000+")


def _kept_spaces(match: re.Match[str]) -> str:
    """A run of ideographic spaces as no-break spaces of (nearly) the same width.

    Paragraph collapses every run of spaces, ideographic ones too, into one
    narrow space, which would shut the answer blanks "（　　　　）".
    """
    font = styles().body_font
    per_em = stringWidth("\u3000", font, 10) / stringWidth("\u00a0", font, 10)
    return "&nbsp;" * round(len(match.group()) * per_em)


def markup(text: str) -> str:
    """Plain text → reportlab Paragraph markup: escaped, line breaks and ideographic spaces kept.

    Paragraph parses its text as XML-ish markup, so a stem like "a<b & c"
    must be escaped or it would be dropped or raise.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br/>".join(_IDEOGRAPHIC_SPACES.sub(_kept_spaces, escape(line)) for line in lines)


# --- styles ------------------------------------------------------------------
@dataclass(frozen=True)
class Styles:
    """The paragraph styles of both documents, built once per process."""

    body_font: str
    bold_font: str
    title: ParagraphStyle
    variant: ParagraphStyle
    meta: ParagraphStyle
    heading: ParagraphStyle
    note: ParagraphStyle
    body: ParagraphStyle
    option: ParagraphStyle
    cell: ParagraphStyle
    cell_head: ParagraphStyle
    small: ParagraphStyle
    quick_number: ParagraphStyle
    quick_answer: ParagraphStyle
    end: ParagraphStyle


@lru_cache(maxsize=1)
def styles() -> Styles:
    """Register the fonts (once) and build the paragraph styles (once)."""
    body_font, bold_font = fonts.register_pdf_fonts()

    def style(name: str, font: str, size: float, leading: float, **extra) -> ParagraphStyle:
        # wordWrap="CJK": Chinese has no spaces, so lines may break between any
        # two characters; the default wrapping would overflow the frame.
        return ParagraphStyle(name, fontName=font, fontSize=size, leading=leading, wordWrap="CJK", **extra)

    return Styles(
        body_font=body_font,
        bold_font=bold_font,
        title=style("title", bold_font, 18, 26, alignment=TA_CENTER, spaceAfter=6),
        variant=style("variant", bold_font, 14, 18, alignment=TA_CENTER),
        meta=style("meta", body_font, BODY_SIZE, BODY_LEADING, alignment=TA_CENTER),
        heading=style("heading", bold_font, 12, 18, spaceBefore=10, spaceAfter=2),
        note=style("note", body_font, 9.5, 15, spaceAfter=2),
        body=style("body", body_font, BODY_SIZE, BODY_LEADING, spaceBefore=5),
        option=style("option", body_font, BODY_SIZE, BODY_LEADING),
        cell=style("cell", body_font, 9.5, 14),
        cell_head=style("cell_head", bold_font, 9.5, 14),
        small=style("small", body_font, 7.5, 10),
        quick_number=style("quick_number", body_font, 9, 12, alignment=TA_CENTER),
        quick_answer=style("quick_answer", bold_font, 10.5, 13, alignment=TA_CENTER),
        end=style("end", body_font, BODY_SIZE, BODY_LEADING, alignment=TA_CENTER, spaceBefore=14),
    )


# --- option layout -----------------------------------------------------------
def option_label(index: int) -> str:
    return f"{LETTERS[index]}{NUMBER_SEP}"


def option_columns(options: Sequence[str], text_width_pt: float, font_name: str, font_size: float) -> int:
    """How many columns (4, 2 or 1) the options of one question are set in.

    4 if every labelled option ("A．…") plus ``OPTION_GUTTER`` fits on one
    line of a quarter of ``text_width_pt``; else 2 if it fits in half; else 1.
    An option with a line break of its own always gets a full line.
    The font must be registered with reportlab.
    """
    if not options or any("\n" in text or "\r" in text for text in options):
        return 1
    label = max(stringWidth(option_label(i), font_name, font_size) for i in range(len(options)))
    widest = max(stringWidth(text, font_name, font_size) for text in options)
    needed = label + widest + OPTION_GUTTER
    for columns in (4, 2):
        if needed <= text_width_pt / columns:
            return columns
    return 1


@lru_cache(maxsize=64)
def _hanging(parent: ParagraphStyle, indent: float) -> ParagraphStyle:
    """``parent`` with a hanging indent: wrapped lines continue under the
    text, not under the "1．" / "A．" in front of it."""
    name = f"{parent.name}-hanging-{indent:.2f}"
    return ParagraphStyle(name, parent=parent, leftIndent=indent, firstLineIndent=-indent)


def _table(rows: list[list], col_widths: list[float], commands: list[tuple], **options) -> Table:
    """A Table whose plain-string cells (the blanks) are in our font too.

    Table's default cell font is Helvetica, and even an empty string cell
    sets it, which would put a non-embedded font into the file.
    """
    table = Table(rows, colWidths=col_widths, **options)
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), styles().body_font), *commands]))
    return table


def _options_table(question: PaperQuestion, width: float, st: Styles) -> Table:
    columns = option_columns(question.options, width, st.body_font, BODY_SIZE)
    label_width = max(stringWidth(option_label(i), st.body_font, BODY_SIZE) for i in range(len(question.options)))
    style = _hanging(st.option, label_width)
    cells = [CJKParagraph(escape(option_label(i)) + markup(text), style) for i, text in enumerate(question.options)]
    rows = [cells[start : start + columns] for start in range(0, len(cells), columns)]
    rows[-1] += [""] * (columns - len(rows[-1]))
    # Right-aligned at the full frame width minus the stem's hanging indent:
    # the options start under the stem text, not under its number.
    return _table(
        rows,
        [width / columns] * columns,
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), OPTION_GUTTER),
            ("TOPPADDING", (0, 0), (-1, -1), 0.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
        ],
        hAlign="RIGHT",
    )


# --- page furniture ----------------------------------------------------------
class PageCountingCanvas(Canvas):
    """A canvas whose pages can show the total page count in one pass.

    Papers, keys and the feedback PDFs are built with it (``canvasmaker=``)
    and number their pages with ``draw_page_number``.
    A page's footer draws "第 X 页 /" itself and places the form XObject
    ``PAGE_TOTAL_FORM`` for "共 Y 页" (PDF lets a page use a form defined
    later). ``save`` writes that form once every page is finished and Y is
    known. Unlike re-drawing every page at the end, no page state is held
    back or copied, and unlike a two-pass build nothing is laid out twice.
    """

    def __init__(self, *args, **kwargs) -> None:
        self.pages_finished = 0
        super().__init__(*args, **kwargs)

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self.pages_finished += 1
        super().showPage()

    def save(self) -> None:
        # The form's box clips: leave room below the baseline for descenders.
        self.beginForm(
            PAGE_TOTAL_FORM, lowerx=0, lowery=-FURNITURE_SIZE, upperx=20 * FURNITURE_SIZE, uppery=2 * FURNITURE_SIZE
        )
        self.setFont(styles().body_font, FURNITURE_SIZE)
        self.drawString(0, 0, f"共 {self.pages_finished} 页")
        self.endForm()
        super().save()


def _draw_header(canvas: Canvas, left: str, right: str) -> None:
    left = " ".join(left.split())  # one line, whatever the title holds
    font = styles().body_font
    right_x = PAGE_WIDTH - MARGIN_RIGHT
    canvas.setFont(styles().bold_font, FURNITURE_SIZE)
    canvas.drawRightString(right_x, HEADER_BASELINE, right)
    room = TEXT_WIDTH - stringWidth(right, styles().bold_font, FURNITURE_SIZE) - 4 * FURNITURE_SIZE
    size = FURNITURE_SIZE
    # A long exam title shrinks rather than running into the variant.
    while size > 6 and stringWidth(left, font, size) > room:
        size -= 0.5
    canvas.setFont(font, size)
    canvas.drawString(MARGIN_LEFT, HEADER_BASELINE, left)
    canvas.setLineWidth(0.5)
    canvas.line(MARGIN_LEFT, HEADER_RULE_Y, right_x, HEADER_RULE_Y)


def draw_page_number(canvas: PageCountingCanvas, page_number: int, baseline: float) -> None:
    """"第 X 页 / 共 Y 页" centred on the page at ``baseline`` (Y is filled in when the canvas is saved)."""
    # Centred on the gap between "/" and "共": the total's width is not known
    # while the page is drawn.
    centre = PAGE_WIDTH / 2
    half_gap = FURNITURE_SIZE * 0.3
    canvas.saveState()
    canvas.setFont(styles().body_font, FURNITURE_SIZE)
    canvas.drawRightString(centre - half_gap, baseline, f"第 {page_number} 页 /")
    canvas.translate(centre + half_gap, baseline)
    canvas.doForm(PAGE_TOTAL_FORM)
    canvas.restoreState()


def _draw_footer(canvas: Canvas, page_number: int) -> None:
    draw_page_number(canvas, page_number, FOOTER_BASELINE)


def _draw_page_furniture(canvas: Canvas, doc: BaseDocTemplate, *, header_left: str, header_right: str) -> None:
    canvas.saveState()
    _draw_header(canvas, header_left, header_right)
    _draw_footer(canvas, canvas.getPageNumber())
    canvas.restoreState()


def single_frame_document(
    target: Any, *, side: float, top: float, bottom: float, frame_width: float, title: str, subject: str,
    font: str, size: float, on_page: Callable[[Canvas, BaseDocTemplate], None],
) -> BaseDocTemplate:
    """An A4 document with one unpadded full-width frame and ``on_page`` drawing each page's header and footer.

    Papers, keys and the feedback PDFs are laid out in it. Its metadata is
    invariant (fixed dates and document id), so the same story gives the same
    bytes; it starts every page in ``font``, because reportlab would start in
    Helvetica and so put a non-embedded font into the file.
    """
    doc = BaseDocTemplate(
        target,
        pagesize=A4,
        leftMargin=side,
        rightMargin=side,
        topMargin=top,
        bottomMargin=bottom,
        title=title,
        subject=subject,
        author="papergen",
        creator="papergen",
        lang="zh-CN",
        invariant=1,
        initialFontName=font,
        initialFontSize=size,
    )
    # No frame padding: option columns and tables are measured against the frame's width.
    frame = Frame(side, bottom, frame_width, doc.height, leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=on_page)])
    return doc


def _build(
    path: str | Path, story: list[Flowable], *, title: str, subject: str, header_left: str, header_right: str
) -> int:
    """Lay out ``story`` into ``path`` (atomically); returns the page count."""
    st = styles()
    with atomic.atomic_path(path) as tmp:
        doc = single_frame_document(
            str(tmp), side=MARGIN_LEFT, top=MARGIN_TOP, bottom=MARGIN_BOTTOM, frame_width=TEXT_WIDTH,
            title=title, subject=subject, font=st.body_font, size=BODY_SIZE,
            on_page=partial(_draw_page_furniture, header_left=header_left, header_right=header_right),
        )
        doc.build(story, canvasmaker=PageCountingCanvas)
        return doc.canv.pages_finished


def _variant_label(paper: Paper) -> str:
    return f"试卷类型 {paper.variant}"


# --- the paper ---------------------------------------------------------------


def _title_block(paper: Paper, st: Styles) -> list[Flowable]:
    variant = _table(
        [[CJKParagraph(escape(f"试卷类型：{paper.variant}"), st.variant)]],
        [40 * mm],
        [
            ("BOX", (0, 0), (-1, -1), 1, colors.black),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
        ],
    )
    meta = [f"满分：{format_points(paper.total_points)} 分"]
    if paper.minutes:
        meta.insert(0, f"考试时间：{paper.minutes} 分钟")
    # Blank cells ruled underneath: the lines candidates write on.
    candidate = _table(
        [[CJKParagraph("姓名：", st.meta), "", CJKParagraph("准考证号：", st.meta), ""]],
        [14 * mm, 40 * mm, 22 * mm, 60 * mm],
        [
            ("LINEBELOW", (1, 0), (1, 0), 0.6, colors.black),
            ("LINEBELOW", (3, 0), (3, 0), 0.6, colors.black),
            ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ],
    )
    block: list[Flowable] = [
        CJKParagraph(markup(paper.title), st.title),
        variant,
        Spacer(0, 4),
        # Paragraph collapses runs of spaces, even ideographic ones.
        CJKParagraph(("&nbsp;" * 6).join(escape(part) for part in meta), st.meta),
        Spacer(0, 6),
        candidate,
        Spacer(0, 8),
    ]
    if paper.instructions.strip():
        block += [CJKParagraph("注意事项", st.heading), CJKParagraph(markup(paper.instructions.strip()), st.note)]
    return block


def _question_block(question: PaperQuestion, number_width: float, st: Styles) -> list[Flowable]:
    stem = CJKParagraph(f"{question.number}{NUMBER_SEP}{markup(question.stem)}", _hanging(st.body, number_width))
    if not question.options:
        return [stem]
    return [stem, _options_table(question, TEXT_WIDTH - number_width, st)]


def paper_story(paper: Paper) -> list[Flowable]:
    """The flowables of the candidate's paper, in order."""
    st = styles()
    story = _title_block(paper, st)
    numbers = [question.number for question in paper.questions] or [1]
    # One hanging indent for the whole paper, wide enough for its longest
    # number, so all options line up.
    number_width = max(stringWidth(f"{n}{NUMBER_SEP}", st.body_font, BODY_SIZE) for n in numbers)
    blocks: list[list[Flowable]] = []
    for section in paper.sections:
        if not section.questions:
            continue
        lead = [CJKParagraph(escape(section_heading(section)), st.heading)]
        if section.rule_note.strip():
            lead.append(CJKParagraph(markup(section.rule_note.strip()), st.note))
        for index, question in enumerate(section.questions):
            block = _question_block(question, number_width, st)
            # A heading never ends a page: it travels with its first question.
            blocks.append(lead + block if index == 0 else block)
    # The end mark travels with the last question: never alone on a page.
    end = [CJKParagraph(escape(END_OF_PAPER), st.end)]
    if blocks:
        blocks[-1] = blocks[-1] + end
    else:
        blocks.append(end)
    return story + [KeepTogether(block) for block in blocks]


def render_paper_pdf(paper: Paper, path: str | Path) -> int:
    """Write the candidate's paper for ``paper``'s variant; returns the page count."""
    return _build(
        path,
        paper_story(paper),
        title=paper.title,
        subject=f"试卷类型 {paper.variant}",
        header_left=paper.title,
        header_right=_variant_label(paper),
    )


# --- the answer key ----------------------------------------------------------
#: Answer-key table columns: (heading, width). 知识点 takes what is left.
KEY_COLUMNS = (("题号", 12 * mm), ("答案", 18 * mm), ("分值", 13 * mm), ("知识点", None), ("题目编号", 38 * mm))
#: Room a key section needs below its heading (heading, note, table head and
#: a question or two) before it is worth starting on the current page.
KEY_SECTION_MIN_ROOM = 45 * mm




#: Width of the 答案速查 table's label column ("题号" / "答案").
QUICK_KEY_LABEL_WIDTH = 14 * mm


#: A key corrected after printing (``papergen rekey``) prints its answer in this colour.
CORRECTION_COLOR = "#C00000"


def _key_markup(question: PaperQuestion) -> str:
    """The answer cell of a key: the letters, or the corrected key in red, its note on a line of its own."""
    if question.correction is None:
        return escape(question.key)
    text = f"{escape(question.correction.shown)}<br/>（{escape(question.correction.note)}）"
    return f'<font color="{CORRECTION_COLOR}">{text}</font>'


def _quick_key_table(paper: Paper, st: Styles) -> Table:
    """答案速查: every answer of the paper, 题号 over 答案 (``quick_key_per_row`` a row), under each section's title."""
    per_row = quick_key_per_row(paper)
    rows: list[list] = []
    commands: list[tuple] = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("ALIGN", (0, 0), (-1, -1), "CENTER"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
    ]
    for section in paper.sections:
        if not section.questions:
            continue
        rows.append([CJKParagraph(escape(section.title), st.cell_head)] + [""] * per_row)
        commands += [("SPAN", (0, len(rows) - 1), (-1, len(rows) - 1)), ("ALIGN", (0, len(rows) - 1), (-1, len(rows) - 1), "LEFT")]
        for chunk in quick_key_rows(section, per_row):
            blanks = [""] * (per_row - len(chunk))
            numbers = [CJKParagraph(str(q.number), st.quick_number) for q in chunk]
            answers = [CJKParagraph(_key_markup(q), st.quick_answer) for q in chunk]
            rows.append([CJKParagraph("题号", st.quick_number), *numbers, *blanks])
            commands.append(("BACKGROUND", (0, len(rows) - 1), (-1, len(rows) - 1), colors.HexColor("#EEEEEE")))
            rows.append([CJKParagraph("答案", st.quick_number), *answers, *blanks])
            commands.append(("NOSPLIT", (0, len(rows) - 2), (-1, len(rows) - 1)))  # 题号 never without its 答案
    answer_width = (TEXT_WIDTH - QUICK_KEY_LABEL_WIDTH) / per_row
    return _table(rows, [QUICK_KEY_LABEL_WIDTH] + [answer_width] * per_row, commands, hAlign="LEFT")


def _key_table(section: PaperSection, st: Styles) -> Table:
    fixed = sum(width for _, width in KEY_COLUMNS if width is not None)
    widths = [width if width is not None else TEXT_WIDTH - fixed for _, width in KEY_COLUMNS]
    rows: list[list] = [[CJKParagraph(heading, st.cell_head) for heading, _ in KEY_COLUMNS]]
    commands = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    for question in section.questions:
        row = len(rows)
        rows.append(
            [
                CJKParagraph(str(question.number), st.cell),
                CJKParagraph(_key_markup(question), st.cell_head),
                CJKParagraph(escape(format_points(question.points)), st.cell),
                CJKParagraph(markup(question.topic), st.cell),
                CJKParagraph(markup(question.id), st.small),
            ]
        )
        explanation = markup(question.explanation.strip()) if question.explanation.strip() else "（暂无解析）"
        rows.append([CJKParagraph(f"解析：{explanation}", st.cell), "", "", "", ""])
        commands += [
            ("SPAN", (0, row + 1), (-1, row + 1)),
            # A question's answer row and its explanation stay on one page.
            ("NOSPLIT", (0, row), (-1, row + 1)),
        ]
    return _table(rows, widths, commands, repeatRows=1, hAlign="LEFT")


def key_story(paper: Paper) -> list[Flowable]:
    """The flowables of the answer key, in order."""
    st = styles()
    title = markup(key_title(paper))
    if stringWidth(key_title(paper), st.bold_font, st.title.fontSize) > TEXT_WIDTH:
        # Break after the exam title rather than wherever the line runs out.
        title = f"{markup(paper.title)}<br/>{escape(key_title(paper)[len(paper.title):])}"
    story: list[Flowable] = [CJKParagraph(title, st.title), Spacer(0, 4)]
    if paper.notice:
        story.append(CJKParagraph(f'<font color="{CORRECTION_COLOR}">{escape(paper.notice)}</font>', st.note))
    if paper.questions:
        story += [CJKParagraph(escape(QUICK_KEY_TITLE), st.heading), _quick_key_table(paper, st), Spacer(0, 6)]
    for section in paper.sections:
        if not section.questions:
            continue
        # The table is longer than a page, so KeepTogether cannot hold the
        # heading to it; instead, start a page if the heading and the first
        # rows would not fit under it.
        story.append(CondPageBreak(KEY_SECTION_MIN_ROOM))
        story.append(CJKParagraph(escape(section_heading(section)), st.heading))
        if section.rule_note.strip():
            story.append(CJKParagraph(markup(section.rule_note.strip()), st.note))
        story.append(_key_table(section, st))
    return story


def render_key_pdf(paper: Paper, path: str | Path) -> int:
    """Write the answer key (with explanations) for ``paper``'s variant; returns the page count."""
    return _build(
        path,
        key_story(paper),
        title=key_title(paper),
        subject=f"参考答案 试卷类型 {paper.variant}",
        header_left=f"{paper.title}　参考答案及解析",
        header_right=_variant_label(paper),
    )


__all__ = [
    "PageCountingCanvas",
    "draw_page_number",
    "markup",
    "option_columns",
    "paper_story",
    "key_story",
    "render_key_pdf",
    "render_paper_pdf",
    "section_heading",
]
