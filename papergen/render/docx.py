"""Word (.docx) paper and answer key for one variant, in styles a teacher can edit.

The PDF is the copy to print; the DOCX is the copy a teacher adjusts before printing
(a typo, a page break, a different font). So everything uses named Word styles
defined once per document, with no per-paragraph formatting beyond what cannot live
in a style (keeping the last option with the next question, say):

- Title → built-in "Title", section headings → built-in "Heading 2" (both black
  黑体, since exam papers are not printed in the template's blue);
- question stems → "试题题干", options → "试题选项", the borderless option grid →
  table style "试题选项表"; the title block, instructions and section notes have
  their own styles too, and the key uses "Table Grid" with "答案表头"/"答案表格".

The paper ends with "—— 试卷结束 ——" (kept with the last question); the key opens
with 答案速查, every answer in a compact table, and breaks its title after the exam
title when it is too long for a line. Answer blanks "（　　　　）" are written as "（"
with character spacing and "）", because Word and LibreOffice break lines inside
runs of spaces. Normal sets ``w:kinsoku`` (East Asian line-breaking rules), which
both apply; option columns keep ``OPTION_SLACK_EM`` spare so no option wraps a
last character onto its own line.

Question and option numbers are written as text ("12．", "A．"), never Word's
automatic numbering: the printed number must equal ``PaperQuestion.number``, which
the answer sheet and grading rely on, whatever a teacher later does to the list.

Chinese text needs ``w:eastAsia`` on ``w:rFonts``: python-docx's ``font.name`` sets
only the Latin faces, and the default template resolves East Asian text through
*theme* fonts (which outrank explicit names and, with its ``ja-JP`` theme
language, come out Japanese). The theme attributes are therefore removed from the
document defaults and from every style used, and explicit faces set instead.

Builds are reproducible: fixed core-property dates and a re-packed zip with fixed
member timestamps (python-docx stamps each member with the current time), so the
same ``Paper`` always gives the same bytes.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import docx
from docx.document import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Length, Pt, RGBColor
from docx.styles.style import BaseStyle
from docx.table import Table
from docx.text.paragraph import Paragraph

from papergen.bank.model import LETTERS
from papergen.core.atomic import atomic_path
from papergen.render import fonts
from papergen.render.paper import (
    END_OF_PAPER,
    QUICK_KEY_TITLE,
    Paper,
    PaperQuestion,
    format_points,
    key_text,
    key_title,
    quick_key_per_row,
    quick_key_rows,
    section_heading,
)

PAGE_WIDTH = Cm(21.0)
PAGE_HEIGHT = Cm(29.7)
MARGIN_TOP = Cm(2.5)
MARGIN_BOTTOM = Cm(2.2)
MARGIN_SIDE = Cm(2.0)
HEADER_DISTANCE = Cm(1.2)
FOOTER_DISTANCE = Cm(1.2)
TEXT_WIDTH = Emu(PAGE_WIDTH - 2 * MARGIN_SIDE)

#: 五号 (10.5 pt), the customary size of exam text; one em of body text.
BODY_SIZE = Pt(10.5)
SMALL_SIZE = Pt(9)
TINY_SIZE = Pt(7.5)
TEXT_WIDTH_EM = TEXT_WIDTH / BODY_SIZE
#: Options start this far in from the stem; in the 2/4-column grid every cell
#: starts with the same indent, which is also what separates the columns.
OPTION_INDENT_EM = 2.0
#: Continuation lines of a long option align after "A．" (about 1.5 em).
OPTION_HANGING_EM = 1.5
#: Room an option keeps free in its column beyond ``display_em``'s estimate:
#: Word and LibreOffice add a little space between Chinese and Latin text
#: ("“1+4”方案"), and a Latin face may be wider than half an em. Without it an
#: option estimated to just fit wraps its last character onto a line of its own.
OPTION_SLACK_EM = 1.0

#: Key table columns: 题号 | 答案 | 分值 | 知识点 | 解析 (the rest of the width).
KEY_HEADINGS = ("题号", "答案", "分值", "知识点", "解析")
KEY_FIXED_WIDTHS = (Cm(1.3), Cm(1.6), Cm(1.3), Cm(3.8))
#: Width of the 答案速查 table's label column ("题号" / "答案"); the answers share the rest.
QUICK_KEY_LABEL_WIDTH = Cm(1.4)
#: Ems of small (9 pt) text a key cell holds on one line: its width less Word's default cell margins (2 × 0.19 cm).
KEY_CELL_MARGINS = Cm(0.38)

#: Nothing in the file may depend on when it was built.
FIXED_DATETIME = datetime(2000, 1, 1)
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
AUTHOR = "papergen"
LANGUAGE = "zh-CN"

BLACK = RGBColor(0, 0, 0)
GREY = RGBColor(0x59, 0x59, 0x59)
#: A key corrected after printing (``papergen rekey``) prints its answer in red, as the PDF does.
CORRECTION = RGBColor(0xC0, 0x00, 0x00)

# Characters XML 1.0 cannot hold (they would make lxml refuse the text).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_STYLES_WITH_EFFECTS = "http://schemas.microsoft.com/office/2007/relationships/stylesWithEffects"
_THEME_FONT_ATTRS = tuple(qn(a) for a in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"))


# ---------------------------------------------------------------- option layout


def display_em(text: str) -> float:
    """Estimated printed width of ``text`` in ems of body text.

    CJK and full-width characters are one em, ASCII half an em. Ambiguous-width
    characters (“”…—①) count as full width, because Chinese fonts print them so:
    overestimating only costs a column, underestimating breaks the grid.
    """
    width = 0.0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 1.0 if unicodedata.east_asian_width(ch) in "WFA" else 0.5
    return width


def option_label(index: int) -> str:
    return f"{LETTERS[index]}．"


def option_columns(options: Sequence[str], text_width_em: float) -> int:
    """How many columns a question's options take: 4, 2 or 1.

    4 if every labelled option ("A．…") plus the option indent and
    ``OPTION_SLACK_EM`` fits in a quarter of the text width, else 2 if every
    one fits in half, else 1 (one per line).
    """
    if not options:
        return 1
    widest = max(display_em(option_label(i) + text) for i, text in enumerate(options))
    for columns in (4, 2):
        if widest + OPTION_INDENT_EM + OPTION_SLACK_EM <= text_width_em / columns:
            return columns
    return 1


# ---------------------------------------------------------------- public API


def render_paper_docx(paper: Paper, path: str | Path) -> None:
    """Write the candidate's paper for ``paper``'s variant to ``path`` (atomically)."""
    _save(_paper_document(paper), path)


def render_key_docx(paper: Paper, path: str | Path) -> None:
    """Write the answer key with explanations for ``paper``'s variant to ``path``."""
    _save(_key_document(paper), path)






# ---------------------------------------------------------------- documents


def _paper_document(paper: Paper) -> Document:
    document, styles = _new_document(paper, core_title=f"{paper.title}（{paper.variant} 卷）")
    _add_paragraph(document, _clean(paper.title), styles.title)
    _add_title_block(document, styles, paper)
    for section in paper.sections:
        if not section.questions:
            continue  # nothing to answer; an empty heading would only confuse
        _add_paragraph(document, section_heading(section), styles.heading)
        if section.rule_note:
            _add_paragraph(document, _clean(section.rule_note), styles.section_note)
        for question in section.questions:
            _add_question(document, styles, question)
    _keep_last_block_with_next(document)  # the end mark is never alone on a page
    # The body ends with a paragraph, never a table (Word appends one itself and
    # then counts the file as changed).
    _add_paragraph(document, END_OF_PAPER, styles.end)
    return document


def _keep_last_block_with_next(document: Document) -> None:
    last = document.element.body[-2] if document.element.body[-1].tag == qn("w:sectPr") else document.element.body[-1]
    for p in last.iter(qn("w:p")):
        Paragraph(p, document).paragraph_format.keep_with_next = True


def _key_document(paper: Paper) -> Document:
    title = key_title(paper)
    document, styles = _new_document(paper, core_title=title)
    heading = _add_paragraph(document, "", styles.title)
    if display_em(title) * styles.title.font.size > TEXT_WIDTH:
        # Break after the exam title rather than wherever the line runs out ("解/析").
        heading.add_run(_clean(paper.title)).add_break()
        heading.add_run(_clean(title[len(paper.title):]))
    else:
        heading.add_run(_clean(title))
    if paper.notice:
        _add_paragraph(document, "", styles.section_note).add_run(_clean(paper.notice)).font.color.rgb = CORRECTION
    if paper.questions:  # an empty w:tbl makes Word offer to repair the file
        _add_paragraph(document, QUICK_KEY_TITLE, styles.heading)
        _add_quick_key_table(document, styles, paper)
    for section in paper.sections:
        if not section.questions:
            continue  # an empty w:tbl makes Word offer to repair the file
        _add_paragraph(document, section_heading(section), styles.heading)
        _add_key_table(document, styles, section.questions)
    _add_paragraph(document, "", styles.key_cell)
    return document


def _add_title_block(document: Document, styles: _Styles, paper: Paper) -> None:
    variant = _add_paragraph(document, "试卷类型：", styles.info)
    letter = variant.add_run(_clean(paper.variant))
    letter.bold = True
    letter.font.size = Pt(16)  # the variant must be impossible to miss
    facts = [f"考试时间：{paper.minutes} 分钟"] if paper.minutes else []
    facts.append(f"满分：{format_points(paper.total_points)} 分")
    _add_paragraph(document, "\u3000\u3000".join(facts), styles.info)
    _add_paragraph(document, "姓名：________________\u3000\u3000准考证号：________________________", styles.info)

    lines = [line.strip() for line in _clean(paper.instructions).splitlines() if line.strip()]
    if lines:
        if not lines[0].startswith("注意事项"):
            _add_paragraph(document, "", styles.instructions).add_run("注意事项：").bold = True
        for line in lines:
            _add_paragraph(document, line, styles.instructions)


def _add_question(document: Document, styles: _Styles, question: PaperQuestion) -> None:
    stem = _add_paragraph(document, f"{question.number}．", styles.stem)
    _add_text_with_blanks(stem, _clean(question.stem))
    options = [option_label(i) + _clean(text) for i, text in enumerate(question.options)]
    if not options:
        stem.paragraph_format.keep_with_next = False
        return
    columns = option_columns(question.options, TEXT_WIDTH_EM)
    if columns == 1:
        last = len(options) - 1
        for i, text in enumerate(options):
            paragraph = _add_paragraph(document, text, styles.option)
            if i < last:
                paragraph.paragraph_format.keep_with_next = True
        return

    rows = math.ceil(len(options) / columns)
    table = _add_table(document, [TEXT_WIDTH // columns] * columns, rows, styles.option_table)
    for r, row in enumerate(table.rows):
        _set_row_flag(row._tr, "w:cantSplit")
        for c, cell in enumerate(row.cells):
            paragraph = cell.paragraphs[0]
            _set_style(paragraph, styles.option)
            index = r * columns + c
            if index < len(options):
                paragraph.add_run(options[index])
            if r < rows - 1:
                # Word keeps table rows together through their paragraphs.
                paragraph.paragraph_format.keep_with_next = True


def _add_quick_key_table(document: Document, styles: _Styles, paper: Paper) -> None:
    """答案速查: each section's title, then 题号 over 答案, ``quick_key_per_row`` a row."""
    per_row = quick_key_per_row(paper)
    layout: list[tuple[str, object]] = []  # ("title", section) | ("numbers"/"answers", questions)
    for section in paper.sections:
        if not section.questions:
            continue
        layout.append(("title", section))
        for chunk in quick_key_rows(section, per_row):
            layout += [("numbers", chunk), ("answers", chunk)]
    answer_width = Emu((TEXT_WIDTH - QUICK_KEY_LABEL_WIDTH) // per_row)
    table = _add_table(document, [QUICK_KEY_LABEL_WIDTH] + [answer_width] * per_row, len(layout), styles.key_table)
    for row, (kind, content) in zip(table.rows, layout):
        _set_row_flag(row._tr, "w:cantSplit")
        cells = row.cells
        if kind == "title":
            merged = cells[0].merge(cells[-1])
            paragraph = merged.paragraphs[0]
            _set_style(paragraph, styles.key_head)
            paragraph.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
            paragraph.add_run(_clean(content.title))
            continue
        label, texts, style = (
            ("题号", [str(q.number) for q in content], styles.key_short) if kind == "numbers"
            else ("答案", [key_text(q) for q in content], styles.key_answer)
        )
        questions = [None, *content, *[None] * (per_row - len(texts))]
        for cell, text, question in zip(cells, [label, *texts, *[""] * (per_row - len(texts))], questions):
            paragraph = cell.paragraphs[0]
            _set_style(paragraph, styles.key_short if cell is cells[0] else style)
            if kind == "numbers":
                paragraph.paragraph_format.keep_with_next = True  # 题号 never without its 答案
            if kind == "answers" and question is not None and question.correction is not None:
                _add_correction(paragraph, question)
            elif text:
                paragraph.add_run(text)


def _add_correction(paragraph: Paragraph, question: PaperQuestion) -> None:
    """A corrected key (``papergen rekey``) in red: the answer now, and under it how it differs from the printing."""
    shown = paragraph.add_run(question.correction.shown)
    shown.font.color.rgb = CORRECTION
    shown.add_break()
    paragraph.add_run(f"（{question.correction.note}）").font.color.rgb = CORRECTION


def _topic_lines(topic: str, width: Length) -> list[str]:
    """A topic path as lines for a key cell ``width`` wide: whole, or one level a line.

    A path too long for the cell is broken after its "/", not inside a word.
    """
    room_em = (width - KEY_CELL_MARGINS) / SMALL_SIZE
    if display_em(topic) <= room_em or "/" not in topic:
        return [topic]
    levels = topic.split("/")
    return [level + "/" for level in levels[:-1]] + [levels[-1]]


def _add_key_table(document: Document, styles: _Styles, questions: Sequence[PaperQuestion]) -> None:
    rest = TEXT_WIDTH - sum(KEY_FIXED_WIDTHS)
    widths = [*KEY_FIXED_WIDTHS, Emu(rest)]
    table = _add_table(document, widths, len(questions) + 1, styles.key_table)
    rows = table.rows
    header = rows[0]
    _set_row_flag(header._tr, "w:tblHeader")  # repeated at the top of every page
    _set_row_flag(header._tr, "w:cantSplit")
    for cell, text in zip(header.cells, KEY_HEADINGS):
        paragraph = cell.paragraphs[0]
        _set_style(paragraph, styles.key_head)
        paragraph.add_run(text)

    for row, question in zip(rows[1:], questions):
        _set_row_flag(row._tr, "w:cantSplit")
        cells = row.cells
        plain = (
            (str(question.number), styles.key_short),
            (key_text(question), styles.key_short),
            (format_points(question.points), styles.key_short),
        )
        for column, (cell, (text, style)) in enumerate(zip(cells, plain)):
            paragraph = cell.paragraphs[0]
            _set_style(paragraph, style)
            if column == 1 and question.correction is not None:
                _add_correction(paragraph, question)
            else:
                paragraph.add_run(text)
        topic = cells[3].paragraphs[0]
        _set_style(topic, styles.key_cell)
        lines = _topic_lines(_clean(question.topic), KEY_FIXED_WIDTHS[3])
        for index, line in enumerate(lines):
            run = topic.add_run(line)
            if index < len(lines) - 1:
                run.add_break()
        explanation = cells[4]
        paragraph = explanation.paragraphs[0]
        _set_style(paragraph, styles.key_cell)
        if question.explanation.strip():
            paragraph.add_run(_clean(question.explanation.strip()))
            paragraph = _add_paragraph(explanation, "", styles.bank_id)
        else:
            _set_style(paragraph, styles.bank_id)
        paragraph.add_run(f"题库编号：{_clean(question.id)}")


# ---------------------------------------------------------------- document set-up


@dataclass(frozen=True)
class _Styles:
    title: BaseStyle
    heading: BaseStyle
    info: BaseStyle
    instructions: BaseStyle
    section_note: BaseStyle
    stem: BaseStyle
    option: BaseStyle
    option_table: BaseStyle
    key_head: BaseStyle
    key_cell: BaseStyle
    key_short: BaseStyle  # 题号, 答案, 分值: centred in their narrow columns
    key_answer: BaseStyle  # the answers of the 答案速查 table: bold, centred
    end: BaseStyle  # "—— 试卷结束 ——"
    bank_id: BaseStyle
    key_table: BaseStyle


def _new_document(paper: Paper, core_title: str) -> tuple[Document, _Styles]:
    document = docx.Document()
    _drop_template_extras(document)
    _set_core_properties(document, core_title)
    _set_chinese_defaults(document)
    styles = _define_styles(document)
    _set_page(document, paper)
    return document, styles


def _drop_template_extras(document: Document) -> None:
    """Remove two parts of python-docx's template that would misrepresent the file.

    The thumbnail is a picture of a blank page that file browsers would show.
    ``stylesWithEffects.xml`` is a copy of the template's *unmodified* styles that
    Word 2010 may read instead of ``styles.xml``, which would lose our styles.
    """
    package_rels = document.part.package.rels
    for rId in [rId for rId, rel in package_rels.items() if rel.reltype == RT.THUMBNAIL]:
        del package_rels[rId]
    part_rels = document.part.rels
    for rId in [rId for rId, rel in part_rels.items() if rel.reltype == _STYLES_WITH_EFFECTS]:
        del part_rels[rId]


def _set_core_properties(document: Document, title: str) -> None:
    props = document.core_properties
    props.title = title
    props.subject = ""
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.comments = ""
    props.language = LANGUAGE
    props.revision = 1
    props.created = FIXED_DATETIME
    props.modified = FIXED_DATETIME
    props.last_printed = FIXED_DATETIME


def _set_chinese_defaults(document: Document) -> None:
    """Explicit fonts and zh-CN as East Asian language for the whole document."""
    defaults = document.styles.element.find(qn("w:docDefaults"))
    rPr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rPr, fonts.DOCX_BODY_EAST_ASIA)
    lang = rPr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rPr.insert_element_before(lang, "w:eastAsianLayout", "w:specVanish", "w:oMath")
    lang.set(qn("w:eastAsia"), LANGUAGE)
    theme_lang = document.settings.element.find(qn("w:themeFontLang"))
    if theme_lang is not None:
        theme_lang.set(qn("w:eastAsia"), LANGUAGE)


def _set_fonts(rPr, east_asia: str) -> None:
    """Explicit faces on ``rPr``: theme fonts would outrank them, so drop those."""
    rFonts = rPr.get_or_add_rFonts()
    for attr in _THEME_FONT_ATTRS:
        rFonts.attrib.pop(attr, None)
    rFonts.set(qn("w:ascii"), fonts.DOCX_LATIN)
    rFonts.set(qn("w:hAnsi"), fonts.DOCX_LATIN)
    rFonts.set(qn("w:cs"), fonts.DOCX_LATIN)
    rFonts.set(qn("w:eastAsia"), east_asia)


def _restyle_text(style, east_asia: str, size: Length, bold: bool | None = None) -> None:
    """Replace a style's character formatting by faces, size, weight and black."""
    element = style.element
    if element.rPr is not None:
        element.remove(element.rPr)  # the template's theme fonts, colours, spacing
    _set_fonts(element.get_or_add_rPr(), east_asia)
    style.font.size = size
    style.font.bold = bold
    style.font.color.rgb = BLACK


def _custom_paragraph_style(document: Document, name: str, style_id: str, size: Length = BODY_SIZE):
    style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    # ASCII ids: Chinese names stay visible in Word, ids stay safe for every reader.
    style.style_id = style_id
    style.base_style = document.styles["Normal"]
    style.quick_style = True
    _restyle_text(style, fonts.DOCX_BODY_EAST_ASIA, size)
    return style


def _define_styles(document: Document) -> _Styles:
    styles = document.styles
    em = BODY_SIZE

    normal = styles["Normal"]
    _restyle_text(normal, fonts.DOCX_BODY_EAST_ASIA, BODY_SIZE)
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.line_spacing_rule = WD_LINE_SPACING.MULTIPLE
    normal.paragraph_format.line_spacing = 1.25
    normal.paragraph_format.widow_control = True
    _set_kinsoku(normal)

    title = styles["Title"]
    _restyle_text(title, fonts.DOCX_HEADING_EAST_ASIA, Pt(18), bold=True)
    _remove_child(title.element.pPr, "w:pBdr")  # the template's blue rule
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_before = Pt(0)
    title.paragraph_format.space_after = Pt(6)
    title.paragraph_format.keep_with_next = True

    heading = styles["Heading 2"]
    _restyle_text(heading, fonts.DOCX_HEADING_EAST_ASIA, Pt(12), bold=True)
    heading.paragraph_format.space_before = Pt(12)
    heading.paragraph_format.space_after = Pt(6)
    heading.paragraph_format.keep_with_next = True

    for name in ("Header", "Footer"):
        style = styles[name]
        style.font.size = SMALL_SIZE
        style.paragraph_format.tab_stops.clear_all()  # the template's are for US Letter
    # Header: title at the left, the variant against the right margin.
    styles["Header"].paragraph_format.tab_stops.add_tab_stop(TEXT_WIDTH, WD_TAB_ALIGNMENT.RIGHT)
    _add_bottom_rule(styles["Header"])
    styles["Footer"].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER

    info = _custom_paragraph_style(document, "试卷信息", "PaperInfo")
    info.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    info.paragraph_format.space_after = Pt(4)

    instructions = _custom_paragraph_style(document, "注意事项", "PaperInstructions", SMALL_SIZE)
    instructions.paragraph_format.left_indent = Pt(18)

    section_note = _custom_paragraph_style(document, "题型说明", "SectionNote", SMALL_SIZE)
    section_note.paragraph_format.space_after = Pt(4)
    section_note.paragraph_format.keep_with_next = True

    stem = _custom_paragraph_style(document, "试题题干", "QuestionStem")
    stem.paragraph_format.space_before = Pt(6)
    stem.paragraph_format.keep_with_next = True  # never a stem without its options
    stem.paragraph_format.keep_together = True

    option = _custom_paragraph_style(document, "试题选项", "QuestionOption")
    option.paragraph_format.left_indent = Emu(int(em * (OPTION_INDENT_EM + OPTION_HANGING_EM)))
    option.paragraph_format.first_line_indent = Emu(-int(em * OPTION_HANGING_EM))
    option.paragraph_format.keep_together = True

    option_table = styles.add_style("试题选项表", WD_STYLE_TYPE.TABLE)
    option_table.style_id = "QuestionOptionTable"
    option_table.base_style = styles["Normal Table"]
    option_table.element.append(_borderless_table_properties())

    key_head = _custom_paragraph_style(document, "答案表头", "KeyHeader", SMALL_SIZE)
    key_head.font.bold = True
    key_head.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    key_head.paragraph_format.line_spacing = 1.0
    key_head.paragraph_format.keep_with_next = True  # no header row alone at a page foot
    key_head.paragraph_format.space_before = Pt(1)
    key_head.paragraph_format.space_after = Pt(1)
    key_cell = _custom_paragraph_style(document, "答案表格", "KeyCell", SMALL_SIZE)
    key_cell.paragraph_format.line_spacing = 1.0
    key_cell.paragraph_format.space_before = Pt(1)
    key_cell.paragraph_format.space_after = Pt(1)
    key_short = _custom_paragraph_style(document, "答案表格居中", "KeyCellCentered", SMALL_SIZE)
    key_short.base_style = key_cell
    key_short.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    key_answer = _custom_paragraph_style(document, "答案速查", "KeyQuickAnswer", BODY_SIZE)
    key_answer.base_style = key_short
    key_answer.font.bold = True
    end = _custom_paragraph_style(document, "试卷结束", "PaperEnd")
    end.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    end.paragraph_format.space_before = Pt(12)
    bank_id = _custom_paragraph_style(document, "题库编号", "KeyBankId", TINY_SIZE)
    bank_id.base_style = key_cell
    bank_id.font.color.rgb = GREY

    return _Styles(
        title=title,
        heading=heading,
        info=info,
        instructions=instructions,
        section_note=section_note,
        stem=stem,
        option=option,
        option_table=option_table,
        key_head=key_head,
        key_cell=key_cell,
        key_short=key_short,
        key_answer=key_answer,
        end=end,
        bank_id=bank_id,
        key_table=styles["Table Grid"],
    )


def _set_kinsoku(style) -> None:
    """East Asian line-breaking rules (w:kinsoku) on ``style``: no closing mark starts a line, no opening mark ends one.

    Word and LibreOffice apply them by default; stating it in the style keeps
    a teacher's edited copy (or a template that turned them off) honest.
    """
    pPr = style.element.get_or_add_pPr()
    _remove_child(pPr, "w:kinsoku")
    kinsoku = OxmlElement("w:kinsoku")
    kinsoku.set(qn("w:val"), "1")
    pPr.insert_element_before(
        kinsoku, "w:wordWrap", "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi",
        "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents",
        "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl",
        "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange",
    )  # fmt: skip


def _borderless_table_properties():
    """``w:tblPr`` for the option grid: no borders, no cell padding."""
    tblPr = OxmlElement("w:tblPr")
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        border = OxmlElement(f"w:{edge}")
        border.set(qn("w:val"), "nil")
        borders.append(border)
    margins = OxmlElement("w:tblCellMar")
    for edge in ("top", "left", "bottom", "right"):
        margin = OxmlElement(f"w:{edge}")
        margin.set(qn("w:w"), "0")
        margin.set(qn("w:type"), "dxa")
        margins.append(margin)
    tblPr.append(borders)
    tblPr.append(margins)
    return tblPr


def _add_bottom_rule(style) -> None:
    pPr = style.element.get_or_add_pPr()
    border = OxmlElement("w:bottom")
    for attr, value in (("w:val", "single"), ("w:sz", "4"), ("w:space", "1"), ("w:color", "auto")):
        border.set(qn(attr), value)
    pBdr = OxmlElement("w:pBdr")
    pBdr.append(border)
    pPr.insert_element_before(
        pBdr, "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
        "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid",
        "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc",
        "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle",
        "w:rPr", "w:sectPr", "w:pPrChange",
    )  # fmt: skip


def _set_page(document: Document, paper: Paper) -> None:
    section = document.sections[0]
    section.page_width = PAGE_WIDTH
    section.page_height = PAGE_HEIGHT
    section.top_margin = MARGIN_TOP
    section.bottom_margin = MARGIN_BOTTOM
    section.left_margin = MARGIN_SIDE
    section.right_margin = MARGIN_SIDE
    section.header_distance = HEADER_DISTANCE
    section.footer_distance = FOOTER_DISTANCE
    section.gutter = Emu(0)

    header = section.header.paragraphs[0]
    header.style = document.styles["Header"]
    header.add_run(f"{_clean(paper.title)}\t试卷类型 {_clean(paper.variant)}")

    footer = section.footer.paragraphs[0]
    footer.style = document.styles["Footer"]
    footer.add_run("第 ")
    _add_field(footer, "PAGE")
    footer.add_run(" 页 / 共 ")
    _add_field(footer, "NUMPAGES")
    footer.add_run(" 页")


def _add_field(paragraph: Paragraph, instruction: str) -> None:
    """A real Word field (begin/instr/separate/result/end), updated on layout."""

    def run_with(element):
        paragraph.add_run()._r.append(element)

    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    run_with(begin)
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} \\* MERGEFORMAT "
    run_with(instr)
    separate = OxmlElement("w:fldChar")
    separate.set(qn("w:fldCharType"), "separate")
    run_with(separate)
    paragraph.add_run("1")  # shown until the field is first updated
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run_with(end)


def _add_paragraph(container, text: str, style: BaseStyle) -> Paragraph:
    paragraph = container.add_paragraph()
    _set_style(paragraph, style)
    if text:
        paragraph.add_run(text)
    return paragraph


def _set_style(paragraph: Paragraph, style: BaseStyle) -> None:
    # ``paragraph.style = style`` looks for the default style among the template's
    # ~160 styles on every call (most of the build time); the id is all it sets.
    paragraph._p.style = style.style_id


def _add_table(document: Document, widths: Sequence[int], rows: int, style) -> Table:
    """A fixed-layout table of ``rows`` rows with explicit column and cell widths.

    Word needs ``w:tblGrid`` and per-cell widths to lay a fixed table out as
    intended; LibreOffice reads the grid.
    """
    table = document.add_table(rows=rows, cols=len(widths))
    table._tbl.tblStyle_val = style.style_id  # as in _set_style: skip the style scan
    table.autofit = False
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    tblW = table._tbl.tblPr.find(qn("w:tblW"))
    tblW.set(qn("w:type"), "dxa")
    tblW.set(qn("w:w"), str(Emu(sum(widths)).twips))
    for column, width in zip(table.columns, widths):
        column.width = Emu(width)
    for tr in table._tbl.tr_lst:
        for tc, width in zip(tr.tc_lst, widths):
            tc.width = Emu(width)
    return table


def _set_row_flag(tr, tag: str) -> None:
    # w:trPr children form an unordered choice, so appending is valid.
    tr.get_or_add_trPr().append(OxmlElement(tag))


def _remove_child(parent, tag: str) -> None:
    if parent is None:
        return
    child = parent.find(qn(tag))
    if child is not None:
        parent.remove(child)


#: An answer blank of ``paper.answer_blanks``: a bracket holding only ideographic spaces.
_ANSWER_BLANK = re.compile("([（(])(\u3000+)([）)])")


def _add_text_with_blanks(paragraph: Paragraph, text: str) -> None:
    """``text`` as runs, each answer blank "（　　　　）" as "（" spaced out to the blank's width, then "）".

    Word and LibreOffice break lines inside runs of spaces, even ideographic
    ones, which would leave "（" at the end of one line and "）" at the start
    of the next. An opening bracket never ends a line, so the pair stays
    whole; the width is character spacing (Font › Advanced › Spacing in Word).
    """
    position = 0
    for match in _ANSWER_BLANK.finditer(text):
        if match.start() > position:
            paragraph.add_run(text[position : match.start()])
        opening = paragraph.add_run(match.group(1))
        spacing = OxmlElement("w:spacing")
        spacing.set(qn("w:val"), str(int(len(match.group(2)) * BODY_SIZE.pt * 20)))  # twips
        opening._r.get_or_add_rPr().append(spacing)
        paragraph.add_run(match.group(3))
        position = match.end()
    if position < len(text):
        paragraph.add_run(text[position:])


def _clean(text: str) -> str:
    """Text as Word can hold it: one kind of line break, no XML-illegal controls."""
    return _XML_ILLEGAL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


# ---------------------------------------------------------------- saving


def _save(document: Document, path: str | Path) -> None:
    buffer = io.BytesIO()
    document.save(buffer)
    data = _with_fixed_timestamps(buffer.getvalue())
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _with_fixed_timestamps(package: bytes) -> bytes:
    """Re-pack the zip with fixed member times (and system) so builds are byte-identical."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            info = zipfile.ZipInfo(member.filename, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0  # otherwise the host OS leaks into the bytes
            target.writestr(info, source.read(member))
    return out.getvalue()
