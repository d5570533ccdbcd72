"""``papergen report``: one Excel workbook of scores, items, topics, distribution, review and audit.

Built with openpyxl from ``ExamResults`` (``report.data``) and the pure
statistics in ``report.analysis`` (items, topics, reliability, distribution);
this module only lays them out. Chinese headers by default, English with
``lang="en"``. Every sheet has a frozen header row, an autofilter, column
widths and number formats; user-supplied text (names, classes) is written
as plain strings so Excel never runs it as a formula. The file is written
atomically.

Questions are listed in the order of the first variant's paper and named
by their 题号 on every variant's paper next to the bank id (``A13/B17``
over ``xjy-001`` in 成绩, one 题号 column per variant in 题目分析), since
teachers speak of "A卷第13题". Each sheet prints legibly on A4
(``print_setup.setup_print``); charts are sized by their number of
categories so no label is dropped. The workbook is teacher-facing: 成绩
shows the school rank and, with a roster giving classes, the rank within
the class (ties share a rank); student-facing output (feedback) leaves
ranks out by default.

After ``papergen rekey`` 题目分析 shows the key in force ("D（更正，原 A）")
and counts against it; a question whose key the strong students contradict
(``analysis.suspected_key_errors``) has its row highlighted, 疑似答案错误 first
in 需关注 and the whole finding, with the command that would correct it, in
a comment on its 答案 cell. 审计 lists every decision a person took and every
key change (``report.audit``); 成绩 ends with 人工判定, the answers each
student had settled by hand.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from xml.sax.saxutils import escape
from zipfile import ZIP64_LIMIT, ZIP_DEFLATED, ZipFile

import numpy as np
from openpyxl import Workbook
from openpyxl.cell.cell import Cell, WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.writer.excel import ExcelWriter

from papergen.bank.model import LETTERS
from papergen.core import atomic
from papergen.core.excel_text import clean, put_text
from papergen.grade.reasons import reason_label
from papergen.report import analysis, classes
from papergen.report.audit import STATE_ACTIVE, STATE_REOPENED
from papergen.report.charts import size_bar_chart, size_column_chart
from papergen.report.data import STATUS_NO_SHEET, ExamResults
from papergen.report.print_setup import (
    CM_PER_INCH,
    box_cells,
    column_inches,
    fit_row_height,
    setup_print,
    wrapped_lines,
)

FILLS = {
    "right": PatternFill("solid", fgColor="C6EFCE"),
    "partial": PatternFill("solid", fgColor="FCE4D6"),
    "wrong": PatternFill("solid", fgColor="FFC7CE"),
    "blank": PatternFill("solid", fgColor="EDEDED"),
    "flagged": PatternFill("solid", fgColor="FFEB9C"),
}
HEADER_FONT = Font(bold=True)
#: 成绩's "黑白扫描" cell: a result that may hold a misread without a flag (``StudentResult.black_and_white``).
BLACK_AND_WHITE_FILL = PatternFill("solid", fgColor="F8CBAD")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")  # beside a wrapped cell, so a row reads along its first line
QUESTION_HEADER_FONT = Font(bold=True, size=9)  # "A13/B17" over "xjy-001" in a narrow column
QUESTION_WIDTH = 6.5  # characters: a score, or a 9 pt "A13/B17" / "xjy-001"

TEXT = {
    "zh": {
        "scores": "成绩", "items": "题目分析", "topics": "知识点", "distribution": "分数分布", "review": "待复核",
        "rank": "名次", "id": "准考证号", "name": "姓名", "class": "班级", "variant": "试卷类型", "status": "状态",
        "total": "总分", "percent": "得分率", "no": "序号", "qid": "题目编号", "section": "大题", "topic": "知识点",
        "key": "答案", "points": "分值", "attempts": "作答人数", "p": "难度（得分率 p）", "rpb": "区分度（校正点双列）",
        "d": "区分度 D（上下27%）", "blank": "空白", "flagged": "待复核/多涂", "look": "需关注", "level": "层级",
        "questions": "题数", "error_rate": "错误率", "score_rate": "平均得分率", "all": "全体",
        "stat": "统计量", "value": "数值", "n": "人数", "mean": "平均分", "median": "中位数", "sd": "标准差",
        "max": "最高分", "min": "最低分", "kr20": "信度（KR-20）", "alpha": "信度（Cronbach α）", "sem": "测量标准误",
        "band": "分数段", "count": "人数", "where": "位置", "number": "题号", "reason": "原因", "message": "说明",
        "not_on_roster": "（名单中没有）", "chart_topics": "各知识点错误率", "chart_hist": "分数分布",
        "class_summary": "各班情况", "full": "满分", "absent": "缺考", "class_rank": "班级名次",
        "paper_number": "{variant}卷题号",
        "suspect": "疑似答案错误", "by_hand": "人工判定", "bw": "黑白扫描", "bw_yes": "是", "audit": "审计",
        "at": "时间（UTC）", "grader": "阅卷人",
        "numbers": "题号", "what": "判定内容", "old": "原值", "new": "新值", "state": "状态",
        "audit_note": "审计：阅卷老师的每一个人工判定和每一次答案更正（含已撤销的），按时间排列；机器读卡的原始结果保留在成绩库中。",
        "classes": "班级对比", "bands": "分数段", "item_rates": "小题得分率", "group": "班级",
        "above_mean": "超均率", "place": "均分名次", "excellent": "优秀率", "pass": "及格率", "low": "低分率",
        "running": "累计", "upper": "高分段", "lower": "低分段", "gap": "高低差",
        "topic_rates": "各知识点得分率（括号内为与全体之差）", "whole": "全体",
        "no_classes": "名单中没有班级（或没有用 --roster 提供名单），只列全体。",
        "band_note": "每段含下限、不含上限，最高一段含满分；累计 = 本段及以上的人数。",
        "rate_note": "优秀 ≥ 满分×{excellent:.0%}，及格 ≥ 满分×{pass:.0%}，低分 < 满分×{low:.0%}；"
                     "超均率 =（班级平均分 − 全体平均分）÷ 全体平均分；高分段、低分段为总分前、后 27% 的考生。",
    },
    "en": {
        "scores": "Scores", "items": "Items", "topics": "Topics", "distribution": "Distribution", "review": "Review",
        "rank": "Rank", "id": "Student ID", "name": "Name", "class": "Class", "variant": "Variant", "status": "Status",
        "total": "Total", "percent": "Percent", "no": "No.", "qid": "Question ID", "section": "Section", "topic": "Topic",
        "key": "Key", "points": "Points", "attempts": "Attempts", "p": "Difficulty (p)", "rpb": "Discrimination (corrected r_pb)",
        "d": "Discrimination D (27%)", "blank": "Blank", "flagged": "Flagged / multiple", "look": "Needs a look",
        "level": "Level", "questions": "Questions", "error_rate": "Error rate", "score_rate": "Mean score rate",
        "all": "All", "stat": "Statistic", "value": "Value", "n": "Students", "mean": "Mean", "median": "Median",
        "sd": "Standard deviation", "max": "Maximum", "min": "Minimum", "kr20": "Reliability (KR-20)",
        "alpha": "Reliability (Cronbach's alpha)", "sem": "Standard error of measurement", "band": "Score band",
        "count": "Students", "where": "Where", "number": "Question", "reason": "Reason", "message": "Message",
        "not_on_roster": "(not on roster)", "chart_topics": "Error rate by topic", "chart_hist": "Score distribution",
        "class_summary": "By class", "full": "Full marks", "absent": "Absent", "class_rank": "Class rank",
        "paper_number": "No. on paper {variant}",
        "suspect": "Suspected key error", "by_hand": "Settled by hand", "bw": "Black-and-white scan", "bw_yes": "yes",
        "audit": "Audit", "at": "Time (UTC)",
        "grader": "Grader", "numbers": "Question", "what": "Decision", "old": "Old", "new": "New", "state": "State",
        "audit_note": "Audit: every decision by a person and every key correction (undone ones too), oldest first; "
                      "the machine's readings stay in the store.",
        "classes": "Classes", "bands": "Score bands", "item_rates": "Item rates by class", "group": "Class",
        "above_mean": "Above mean", "place": "Place by mean", "excellent": "Excellent", "pass": "Pass", "low": "Low",
        "running": "Cumulative", "upper": "Upper group", "lower": "Lower group", "gap": "Upper − lower",
        "topic_rates": "Score rate by topic (difference from all in brackets)",
        "band_note": "Each band includes its lower end, not its upper one; the top band includes full marks.",
        "whole": "All", "no_classes": "No classes on the roster (or no --roster given): the whole group only.",
        "rate_note": "Excellent ≥ {excellent:.0%} of full marks, pass ≥ {pass:.0%}, low < {low:.0%}; above mean = "
                     "(class mean − overall mean) ÷ overall mean; upper/lower groups: top and bottom 27 % by total.",
    },
}


@dataclass(frozen=True)
class ReportSummary:
    path: Path
    students: int
    graded: int
    review_items: int


def _header(sheet, row: int, labels: list[str]) -> None:
    for column, label in enumerate(labels, 1):
        cell = put_text(sheet.cell(row=row, column=column), label)  # class names from the roster are user text
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _finish(sheet, header_row: int, last_row: int, widths: list[float]) -> None:
    """Frozen header, autofilter over the table, column widths (print setup comes after, in ``setup_print``)."""
    last_column = get_column_letter(len(widths))
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    sheet.auto_filter.ref = f"A{header_row}:{last_column}{max(last_row, header_row)}"
    for column, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    fit_row_height(sheet, header_row)


def _number(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def write_report(results: ExamResults, path: str | Path, *, lang: str = "zh") -> ReportSummary:
    """Write the workbook to ``path`` (atomically).

    成绩 has a row per student and a cell per question: ten million cells for
    100,000 students, which openpyxl's ordinary worksheets hold in memory
    (gigabytes) and write slowly. It is streamed instead — an openpyxl
    write-only worksheet in an otherwise ordinary workbook, its student rows
    written as XML text (``_StreamedSheet``) — so the report's memory does
    not grow with its cells. The other sheets have a row per question,
    topic, class or review item and stay ordinary; their statistics are
    numpy over the score matrix and the ``AnswerMatrix``.
    """
    t = TEXT[lang]
    workbook = Workbook()
    title = results.manifest.title
    workbook.remove(workbook.active)
    scores = _StreamedSheet(workbook, t["scores"])
    workbook._add_sheet(scores)
    _scores_sheet(scores, results, t, title, lang)
    _items_sheet(workbook.create_sheet(t["items"]), results, t, title, lang)
    _topics_sheet(workbook.create_sheet(t["topics"]), results, t, title, lang)
    _distribution_sheet(workbook.create_sheet(t["distribution"]), results, t, title, lang)
    _classes_sheet(workbook.create_sheet(t["classes"]), results, t, title, lang)
    _bands_sheet(workbook.create_sheet(t["bands"]), results, t, title, lang)
    _item_rates_sheet(workbook.create_sheet(t["item_rates"]), results, t, title, lang)
    _review_sheet(workbook.create_sheet(t["review"]), results, t, title, lang)
    _audit_sheet(workbook.create_sheet(t["audit"]), results, t, title, lang)
    workbook.active = 0
    try:
        with atomic.atomic_path(path) as tmp, ZipFile(tmp, "w", ZIP_DEFLATED, allowZip64=True) as archive:
            _MixedWriter(workbook, archive).save()
    finally:
        _discard(scores)
    graded = sum(1 for s in results.students if s.in_stats)
    return ReportSummary(Path(path), len(results.students), graded, len(results.review))


def question_label(numbers: dict[str, int], variants: list[str]) -> str:
    """A question's 题号 on each variant's paper, compactly: ``A13/B17`` (one line per two variants)."""
    parts = [f"{v}{numbers[v]}" for v in variants if v in numbers]
    return "\n".join("/".join(parts[k:k + 2]) for k in range(0, len(parts), 2))


def class_ranks(results: ExamResults) -> np.ndarray:
    """Each student's rank within their class (``analysis.competition_ranks``; 0: no class or not ranked)."""
    ranks = np.zeros(len(results.students), dtype=np.int64)
    for name in _classes(results):
        members = np.array([s.klass == name and s.in_stats for s in results.students], bool)
        totals = np.array([s.total for s in results.students], float)[members]
        ranks[members] = analysis.competition_ranks(totals)
    return ranks


# -- 成绩 Scores ---------------------------------------------------------------


class _StreamedSheet(WriteOnlyWorksheet):
    """openpyxl's write-only worksheet whose rows after the header are XML papergen writes itself.

    openpyxl writes the sheet's frame — columns, panes, filter, print set-up
    and the header row (``append``). The rows after it (a row per student:
    ten million cells for 100,000 students) come as ready ``<row>`` text
    (``append_xml``, built by ``_RowXml``) into a file of their own, spliced
    in before ``</sheetData>`` when the workbook is saved
    (``_MixedWriter``): making, styling and serialising an openpyxl cell for
    each was most of the report's time. The text is what openpyxl writes for
    the same cells (``tests/test_report.py`` reads it back with openpyxl).
    """

    def __init__(self, parent, title) -> None:
        super().__init__(parent, title)
        self.body = tempfile.TemporaryFile()
        self.body_rows = 0

    def append_xml(self, row_xml: str) -> None:
        self.body.write(row_xml.encode("ascii"))  # non-ASCII text is already character references
        self.body_rows += 1


def _discard(sheet: _StreamedSheet) -> None:
    """Close a streamed sheet (saved or not: the output may not have been written) and delete its rows' files."""
    sheet.body.close()
    if sheet.closed:
        return  # saved: the writer deleted its file
    sheet.close()
    sheet._writer.cleanup()


def _xml_text(text: str) -> str:
    """Text as openpyxl (lxml) writes it in a cell: escaped, non-ASCII as character references."""
    return escape(text).replace("\r", "&#13;").encode("ascii", "xmlcharrefreplace").decode("ascii")


class _RowXml:
    """The XML of one row's cells, as openpyxl writes them (``openpyxl.cell._writer``), without a cell object each."""

    def __init__(self, row: int) -> None:
        self.row = f"{row}"
        self.cells: list[str] = []

    def number(self, column: str, value: float | None, style: int | None = None) -> None:
        """A number (``<v>`` as ``safe_string``: ``%.16g``), with a style from the workbook's table or none."""
        s = f' s="{style}"' if style is not None else ""
        v = "" if value is None else f"<v>{'%.16g' % value}</v>"
        self.cells.append(f'<c r="{column}{self.row}"{s} t="n">{v}</c>')

    def text(self, column: str, value: str, style: int | None = None) -> None:
        """Text as ``put_text`` stores it: an inline string (an empty one has no ``<is>``), with a style or none."""
        value = clean(value)
        s = f' s="{style}"' if style is not None else ""
        if not value:
            self.cells.append(f'<c r="{column}{self.row}"{s} t="inlineStr"></c>')
            return
        space = ' xml:space="preserve"' if value != value.strip() else ""
        self.cells.append(f'<c r="{column}{self.row}"{s} t="inlineStr"><is><t{space}>{_xml_text(value)}</t></is></c>')

    def raw(self, xml: str) -> None:
        self.cells.append(xml)

    def xml(self) -> str:
        return f'<row r="{self.row}">{"".join(self.cells)}</row>'


class _MarkCells:
    """The question cells of 成绩 for every student: a score coloured by right/partial/wrong/blank/flagged.

    Each cell is one of a few (look, score) pairs, so each column's text is
    looked up, not formatted: a row's question cells are
    ``P₀ + r + J₀ + r + J₁ …`` where ``r`` is the row number, ``P₀`` opens
    the first cell and ``J`` is (end of this cell + start of the next).
    """

    def __init__(self, results: ExamResults, paper: list[int], first_column: int, styles: dict[str, int]) -> None:
        scores = results.scores[:, paper]
        points = results.max_points[paper]
        unscored = np.isnan(scores)
        blank = results.choices.is_blank()[:, paper]
        kinds = ["flagged", "blank", "right", "partial", "wrong"]
        kind = np.select(
            [unscored, blank, scores >= points, scores > 0], [0, 1, 2, 3], default=4
        ).astype(np.int32)
        values, value_index = np.unique(np.where(unscored, 0.0, scores), return_inverse=True)
        value_index = value_index.reshape(scores.shape).astype(np.int32)
        # One code per (look, score); a flagged cell has no score.
        per_kind = len(values)
        self.codes = kind * per_kind + np.where(unscored, 0, value_index)
        ends = []
        for k, name in enumerate(kinds):
            for value in values.tolist():
                content = "/>" if name == "flagged" else f"><v>{'%.16g' % float(value)}</v></c>"
                ends.append(f'" s="{styles[name]}"{content}')
        letters = [get_column_letter(first_column + offset) for offset in range(len(paper))]
        self.first = f'<c r="{letters[0]}' if letters else ""
        # J[column * len(ends) + code]: this cell's end, then the next cell's start
        table = []
        for offset in range(len(paper)):
            after = f'<c r="{letters[offset + 1]}' if offset + 1 < len(paper) else ""
            table += [end + after for end in ends]
        self._table = table
        self._offsets = np.arange(len(paper), dtype=np.int64) * len(ends)

    def xml(self, student: int, row: str) -> str:
        if not len(self._offsets):
            return ""
        joints = itemgetter(*(self._offsets + self.codes[student]).tolist())(self._table)
        return self.first + row + (row.join(joints) if isinstance(joints, tuple) else joints)


class _MixedWriter(ExcelWriter):
    """openpyxl's workbook writer, for a workbook with both streamed and ordinary sheets.

    openpyxl writes every sheet the one way its workbook was opened
    (``Workbook(write_only=True)`` or not); this writes each sheet its own
    way: a streamed sheet is closed (its rows are already on disk, in
    openpyxl's temporary file) and copied in, as openpyxl's own write-only
    path does. ``tests/test_report.py`` reads the result back with openpyxl.
    """

    def write_worksheet(self, ws) -> None:
        if not isinstance(ws, WriteOnlyWorksheet):
            super().write_worksheet(ws)
            return
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        if not ws.closed:
            ws.close()
        writer = ws._writer
        ws._rels = writer._rels
        with open(writer.out, "rb") as frame:
            head, end, tail = frame.read().partition(b"</sheetData>")
        if not end:
            raise ValueError("a streamed sheet without <sheetData> rows")  # openpyxl's output changed
        size = len(head) + ws.body.tell() + len(end) + len(tail)
        with self._archive.open(ws.path[1:], "w", force_zip64=size > ZIP64_LIMIT // 2) as part:
            part.write(head)
            ws.body.seek(0)
            shutil.copyfileobj(ws.body, part, 1 << 20)
            part.write(end + tail)
        self.manifest.append(ws)
        writer.cleanup()


def _scores_sheet(sheet: _StreamedSheet, results: ExamResults, t: dict, title: str, lang: str) -> None:
    """成绩, streamed: its columns, panes, filter and page set-up first, then one row per student in rank order."""
    manifest = results.manifest
    full = sum(q.points for q in results.questions)
    totals = np.array([s.total if s.in_stats else np.nan for s in results.students])
    ranks = analysis.competition_ranks(totals)
    by_class = bool(_classes(results))  # a roster gave classes: rank within each too
    in_class = class_ranks(results)
    order = sorted(range(len(results.students)), key=lambda i: (ranks[i] <= 0, ranks[i], results.students[i].student_id))
    paper = results.paper_order()
    numbers = results.paper_numbers()
    variants = [v.name for v in manifest.variants]
    key_headers = [t["rank"]] + ([t["class_rank"]] if by_class else []) + [t["id"], t["name"], t["class"]]
    headers = key_headers + [t["variant"], t["status"], t["total"], t["percent"]] + [s.title for s in manifest.sections]
    first_q = len(headers) + 1
    labels = [question_label(numbers[results.questions[c].id], variants) for c in paper]
    headers += [f"{label}\n{results.questions[c].id}" for label, c in zip(labels, paper)] + [t["by_hand"], t["bw"]]
    # Column of each fixed field: the class rank shifts the rest by one.
    col = {key: k for k, key in enumerate(
        ["rank"] + (["class_rank"] if by_class else []) + ["id", "name", "class", "variant", "status", "total", "percent"],
        start=1)}
    first_section = col["percent"] + 1

    key_widths = [6] + ([9] if by_class else []) + [12, 9, 9]
    widths = key_widths + [5, 9, 7, 7] + [9] * len(manifest.sections) + [QUESTION_WIDTH] * len(results.questions) + [8, 8]
    for column, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(widths))}{len(order) + 1}"
    lines = max([label.count("\n") + 2 for label in labels] + [wrapped_lines(h, 9) for h in key_headers])
    sheet.row_dimensions[1].height = 12 * lines + 4  # the 9 pt question labels set the height
    sheet.freeze_panes = f"{get_column_letter(col['name'])}2"  # rank(s) and 准考证号 stay in view
    setup_print(sheet, header_rows=(1, 1), key_columns=len(key_headers), title=title, lang=lang)

    header_cells = []
    for column, label in enumerate(headers, 1):
        cell = put_text(WriteOnlyCell(sheet), label)  # class names from the roster are user text
        cell.font = QUESTION_HEADER_FONT if first_q <= column < len(headers) - 1 else HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        header_cells.append(cell)
    sheet.append(header_cells)

    # One prototype style per look: its entry in the workbook's style table is
    # what each streamed cell names (``s="…"``), as openpyxl's ``style_id`` adds it.
    def style(fill=None, number_format: str = "General") -> int:
        prototype = Cell(sheet)
        if fill is not None:
            prototype.fill = fill
        prototype.number_format = number_format
        return sheet.parent._cell_styles.add(prototype._style)

    marks = {kind: style(fill, "0.##") for kind, fill in FILLS.items()}
    points, percent = style(number_format="0.##"), style(number_format="0.0%")
    letter = {key: get_column_letter(column) for key, column in col.items()}
    section_letters = [get_column_letter(first_section + k) for k in range(len(manifest.sections))]
    by_hand_letter, bw_letter = get_column_letter(len(headers) - 1), get_column_letter(len(headers))
    warn = style(BLACK_AND_WHITE_FILL)
    mark_cells = _MarkCells(results, paper, first_q, marks)

    for row_number, i in enumerate(order, start=2):
        s = results.students[i]
        row = _RowXml(row_number)
        if ranks[i] > 0:
            row.number(letter["rank"], int(ranks[i]))
        if by_class and in_class[i] > 0:
            row.number(letter["class_rank"], int(in_class[i]))
        row.text(letter["id"], s.student_id)
        row.text(letter["name"], s.name if s.on_roster else (s.name or t["not_on_roster"]))
        row.text(letter["class"], s.klass)
        if s.variant is not None:
            row.text(letter["variant"], s.variant)
        row.text(letter["status"], s.status)
        if s.absent:
            row.text(letter["total"], t["absent"])  # 缺考 is not a score of 0
        elif s.status != STATUS_NO_SHEET:
            row.number(letter["total"], s.total, points)
            row.number(letter["percent"], s.total / full if full else None, percent)
            for column, value in zip(section_letters, s.sections):
                row.number(column, value, points)
        if s.has_sheet and not s.absent:  # an absent candidate has no answers to colour
            row.raw(mark_cells.xml(i, row.row))
        # after the questions, so the columns before them keep their places; blank when the machine read it all
        if s.by_hand:
            row.number(by_hand_letter, s.by_hand)
        # a light tick and erasure residue both come out as a few black pixels there: a misread may carry no flag
        if s.black_and_white:
            row.text(bw_letter, t["bw_yes"], warn)
        sheet.append_xml(row.xml())


# -- 题目分析 Items ------------------------------------------------------------


def _items_sheet(sheet, results: ExamResults, t: dict, title: str, lang: str) -> None:
    rows = results.stats_rows
    scores = results.scores[rows]
    max_points = results.max_points
    n_letters = max((q.options for q in results.questions), default=4)
    p = analysis.difficulty_index(scores, max_points)
    rpb = analysis.point_biserial(scores, corrected=True)
    d = analysis.upper_lower_discrimination(scores, max_points)
    numbers = results.paper_numbers()
    variants = [v.name for v in results.manifest.variants]
    headers = [t["paper_number"].format(variant=v) for v in variants]
    headers += [t["qid"], t["section"], t["topic"], t["key"], t["points"], t["attempts"], t["p"], t["rpb"], t["d"]]
    headers += list(LETTERS[:n_letters]) + [t["blank"], t["flagged"], t["look"]]
    _header(sheet, 1, headers)
    keys = results.scoring_keys()
    suspected = {error.question_id: error for error in results.suspected_key_errors()}
    first = len(variants) + 1  # the bank id's column; the statistics follow
    any_flags = False
    for row, c in enumerate(results.paper_order(), start=2):
        question = results.questions[c]
        for k, variant in enumerate(variants, start=1):
            sheet.cell(row=row, column=k, value=numbers[question.id].get(variant))
        tally = analysis.tally_answers(results.choices.counts(c, rows), question.options)
        key = keys[c][0] if len(keys[c]) == 1 else question.answer  # item_flags takes one key; several: the printed
        flags = analysis.item_flags(p[c], rpb[c], tally, [LETTERS.index(k) for k in key])
        values = [question.id, results.manifest.sections[question.section].title, question.topic,
                  _key_label(question.answer, keys[c], lang),
                  question.points, tally.n - tally.flagged, _number(p[c]), _number(rpb[c]), _number(d[c])]
        for column, value in enumerate(values, first):
            cell = sheet.cell(row=row, column=column)
            if isinstance(value, str):
                put_text(cell, value)
            else:
                cell.value = value
        sheet.cell(row=row, column=first + 2).alignment = WRAP  # a long topic path takes two lines
        sheet.cell(row=row, column=first + 3).alignment = WRAP  # a corrected key: "D（更正，原 A）"
        for column in (first + 6, first + 7, first + 8):
            sheet.cell(row=row, column=column).number_format = "0.00"
        letters = first + 9
        for k in range(n_letters):
            if k < question.options:
                cell = sheet.cell(row=row, column=letters + k, value=int(tally.counts[k]))
                if LETTERS[k] in key:
                    cell.font = Font(bold=True, color="006100")
        sheet.cell(row=row, column=letters + n_letters, value=tally.blank)
        sheet.cell(row=row, column=letters + n_letters + 1, value=tally.flagged + tally.multiple)
        error = suspected.get(question.id)
        if error is not None:  # most serious first: before the item's other notes
            flags.insert(0, f"{t['suspect']}：{error.headline}（详见“{t['key']}”格的批注）")
        put_text(sheet.cell(row=row, column=letters + n_letters + 2), "；".join(flags)).alignment = WRAP
        any_flags = any_flags or bool(flags)
        _mark_suspected(sheet, row, first + 3, letters + n_letters + 2, error)
    number_width = 7 if lang == "zh" else 10
    widths = [number_width] * len(variants) + [9, 14, 20, 6, 5, 7, 10, 10, 10] + [4.5] * n_letters
    widths += [6, 9, 30 if any_flags else 10]
    _finish(sheet, 1, len(results.questions) + 1, widths)
    for row in range(2, len(results.questions) + 2):
        fit_row_height(sheet, row)
        for cell in sheet[row]:
            if not cell.alignment.wrap_text:
                cell.alignment = TOP  # a row of two lines reads along its first
    sheet.freeze_panes = sheet.cell(row=2, column=first + 1)  # the 题号 and bank id stay in view
    setup_print(sheet, header_rows=(1, 1), key_columns=first, title=title, lang=lang)


SUSPECT_FILL = PatternFill("solid", fgColor="F8CBAD")  # a suspected key error: stronger than a 需关注 note


def _key_label(printed: str, scoring: tuple[str, ...], lang: str) -> str:
    """The 答案 cell: the printed key, or the key in force after ``rekey`` with the printed one in brackets."""
    if scoring == (printed,):
        return printed
    if not scoring:
        return f"作废（原 {printed}）" if lang == "zh" else f"void (was {printed})"
    now = (" 或 " if lang == "zh" else " or ").join(scoring)
    return f"{now}（更正，原 {printed}）" if lang == "zh" else f"{now} (corrected, was {printed})"


def _mark_suspected(sheet, row: int, key_column: int, last_column: int, error: analysis.SuspectedKeyError | None) -> None:
    """A suspected key error: the row highlighted, and on its 答案 cell a comment with what the strong students chose."""
    if error is None:
        return
    for column in range(1, last_column + 1):
        sheet.cell(row=row, column=column).fill = SUSPECT_FILL
    key = sheet.cell(row=row, column=key_column)
    key.comment = Comment(error.message, "papergen", width=320, height=140)
    key.font = Font(bold=True, color="C00000")


# -- 知识点 Topics -------------------------------------------------------------


def _classes(results: ExamResults) -> list[str]:
    return sorted({s.klass for s in results.students if s.in_stats and s.klass})


def _topics_sheet(sheet, results: ExamResults, t: dict, title: str, lang: str) -> None:
    rows = results.stats_rows
    classes = _classes(results)
    overall = results.topic_statistics(rows)
    per_class = {
        k: {
            stats.topic: stats
            for stats in results.topic_statistics(rows & np.array([s.klass == k for s in results.students], bool))
        }
        for k in classes
    }
    headers = [t["topic"], t["level"], t["questions"], t["attempts"], t["error_rate"], t["score_rate"]]
    headers += [f"{k} {t['error_rate']}" for k in classes]
    _header(sheet, 1, headers)
    for r, stats in enumerate(overall, start=2):
        label = "　" * (stats.level - 1) + stats.topic.split("/")[-1] if stats.level > 1 else stats.topic
        put_text(sheet.cell(row=r, column=1), label)
        sheet.cell(row=r, column=2, value=stats.level)
        sheet.cell(row=r, column=3, value=stats.questions)
        sheet.cell(row=r, column=4, value=stats.attempts)
        sheet.cell(row=r, column=5, value=_number(stats.error_rate)).number_format = "0.0%"
        sheet.cell(row=r, column=6, value=_number(stats.score_rate)).number_format = "0.0%"
        for k, name in enumerate(classes):
            entry = per_class[name].get(stats.topic)
            sheet.cell(row=r, column=7 + k, value=_number(entry.error_rate) if entry else None).number_format = "0.0%"
    last = len(overall) + 1
    widths = [30, 6, 6, 8, 9, 10] + [12] * len(classes)
    _finish(sheet, 1, last, widths)
    if overall:
        chart = BarChart()
        chart.type = "bar"
        chart.title = t["chart_topics"]
        chart.y_axis.title = t["error_rate"]
        chart.y_axis.numFmt = "0%"
        chart.x_axis.scaling.orientation = "maxMin"  # the first topic at the top, as in the table
        chart.add_data(Reference(sheet, min_col=5, min_row=1, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=last))
        chart.legend = None
        # Below the table, as wide as it: one page holds both while the topics fit.
        table_cm = sum(column_inches(w) for w in widths) * CM_PER_INCH
        size_bar_chart(chart, len(overall), width_cm=max(16.0, table_cm))
        sheet.add_chart(chart, f"A{last + 3}")
    box_cells(sheet, 1, last, len(headers))
    setup_print(sheet, header_rows=(1, 1), key_columns=1, title=title, lang=lang, gridlines=False)


# -- 分数分布 Distribution -----------------------------------------------------


def _distribution_sheet(sheet, results: ExamResults, t: dict, title: str, lang: str) -> None:
    rows = results.stats_rows
    scores = results.scores[rows]
    totals = np.array([s.total for s in results.students])[rows]
    full = float(results.max_points.sum())
    summary = analysis.summary(totals)
    # Reliability leaves out students with unscored (flagged) questions rather
    # than counting a flagged answer as wrong.
    method = analysis.reliability_method(scores, results.max_points)
    reliability = analysis.reliability(scores, results.max_points)
    sem = analysis.standard_error_of_measurement(totals, reliability)
    _header(sheet, 1, [t["stat"], t["value"]])
    stats = [
        (t["n"], summary["n"], "0"), (t["full"], full, "0.##"), (t["mean"], summary["mean"], "0.00"),
        (t["median"], summary["median"], "0.0"), (t["sd"], summary["sd"], "0.00"), (t["max"], summary["max"], "0.##"),
        (t["min"], summary["min"], "0.##"), (t["kr20"] if method == analysis.KR20 else t["alpha"], reliability, "0.000"),
        (t["sem"], sem, "0.00"),
    ]
    for r, (label, value, fmt) in enumerate(stats, start=2):
        sheet.cell(row=r, column=1, value=label)
        sheet.cell(row=r, column=2, value=_number(value)).number_format = fmt
    top = len(stats) + 3
    _header(sheet, top, [t["band"], t["count"]])
    edges, counts = analysis.histogram(totals, full)
    for k, count in enumerate(counts):
        low, high = edges[k], edges[k + 1]
        closing = "]" if k == len(counts) - 1 else ")"
        sheet.cell(row=top + 1 + k, column=1, value=f"[{low:g}, {high:g}{closing}")
        sheet.cell(row=top + 1 + k, column=2, value=int(count))
    chart = BarChart()
    chart.title = t["chart_hist"]
    chart.y_axis.title = t["count"]
    chart.y_axis.majorGridlines = None
    chart.add_data(Reference(sheet, min_col=2, min_row=top, max_row=top + len(counts)), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=top + 1, max_row=top + len(counts)))
    chart.legend = None
    chart.gapWidth = 10  # a histogram's bars touch
    size_column_chart(chart, len(counts))
    # Beside the tables (column H, after a gap column): the page is landscape
    # and scaled to hold both, so the histogram prints whole next to its table.
    sheet.add_chart(chart, "H1")
    classes = _classes(results)
    start = top + len(counts) + 2
    _header(sheet, start, [t["class"], t["n"], t["mean"], t["sd"], t["max"], t["min"]])
    for r, name in enumerate(classes, start=start + 1):
        members = np.array([s.total for s in results.students if s.in_stats and s.klass == name])
        info = analysis.summary(members)
        put_text(sheet.cell(row=r, column=1), name)
        for column, key in enumerate(("n", "mean", "sd", "max", "min"), start=2):
            sheet.cell(row=r, column=column, value=_number(info[key])).number_format = "0.00" if key in ("mean", "sd") else "0.##"
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:B{len(stats) + 1}"
    for column, width in enumerate([22, 12, 10, 10, 10, 10, 3], 1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    box_cells(sheet, 1, len(stats) + 1, 2)
    box_cells(sheet, top, top + len(counts), 2)
    box_cells(sheet, start, start + len(classes), 6)
    # Several small tables: no header row to repeat.
    setup_print(sheet, header_rows=None, title=title, lang=lang, gridlines=False)


# -- 待复核 Review -------------------------------------------------------------


def _review_sheet(sheet, results: ExamResults, t: dict, title: str, lang: str) -> None:
    _header(sheet, 1, [t["where"], t["id"], t["number"], t["reason"], t["message"]])
    for r, item in enumerate(results.review, start=2):
        put_text(sheet.cell(row=r, column=1), item.where).alignment = WRAP
        put_text(sheet.cell(row=r, column=2), item.student_id or "").alignment = TOP
        sheet.cell(row=r, column=3, value=item.number).alignment = TOP
        # People read the reason's Chinese name; the English slug is for tools (``results --format json``).
        put_text(sheet.cell(row=r, column=4), reason_label(item.reason) if lang == "zh" else item.reason)
        put_text(sheet.cell(row=r, column=5), item.message).alignment = WRAP
        sheet.cell(row=r, column=4).alignment = WRAP
    _finish(sheet, 1, len(results.review) + 1, [48, 13, 6, 20, 52])
    for r in range(2, len(results.review) + 2):
        fit_row_height(sheet, r)
    setup_print(sheet, header_rows=(1, 1), title=title, lang=lang)


# -- 审计 Audit ---------------------------------------------------------------


def _audit_sheet(sheet, results: ExamResults, t: dict, title: str, lang: str) -> None:
    """Every decision by a person and every key correction (``report.audit``), oldest first."""
    headers = [t["at"], t["grader"], t["where"], t["numbers"], t["qid"], t["id"], t["what"], t["old"], t["new"],
               t["reason"], t["state"]]
    _header(sheet, 1, headers)
    for r, entry in enumerate(results.audit, start=2):
        values = [entry.at.replace("T", " ").rstrip("Z"), entry.grader, entry.where, entry.numbers, entry.question_id,
                  entry.student_id, entry.what, entry.old, entry.new, entry.reason, entry.state]
        for column, value in enumerate(values, start=1):
            put_text(sheet.cell(row=r, column=column), value).alignment = WRAP  # every field is text people typed or read
        if entry.state == STATE_REOPENED:  # waits for a person again: the one state to act on
            sheet.cell(row=r, column=len(headers)).font = Font(bold=True, color="C00000")
        elif entry.state != STATE_ACTIVE:
            for column in range(1, len(headers) + 1):
                sheet.cell(row=r, column=column).font = Font(color="808080")  # no longer in force: greyed
    last = len(results.audit) + 1
    if not results.audit:
        _note(sheet, 2, t["audit_note"])
    _finish(sheet, 1, last, [16, 9, 30, 8, 10, 12, 14, 10, 10, 24, 16])
    for r in range(2, last + 1):
        fit_row_height(sheet, r)
    setup_print(sheet, header_rows=(1, 1), title=title, lang=lang)


# -- 班级对比 / 分数段 / 小题得分率: the class analyses of ``report.classes`` --------


LOW_RATE = 0.6  # a score rate below this is shaded: a question or topic the group has not got yet
LOW_FILL = PatternFill("solid", fgColor="FFC7CE")
BEHIND = Font(color="C00000")  # a class more than 5 points below the whole
BEHIND_BY = -5.0  # percentage points


def _group_label(group: classes.Group, t: dict) -> str:
    return t["whole"] if group.whole else group.name


def _note(sheet, row: int, text: str) -> None:
    cell = sheet.cell(row=row, column=1, value=text)
    cell.font = Font(italic=True, color="595959")


def _classes_sheet(sheet, results: ExamResults, t: dict, title: str, lang: str) -> None:
    groups = classes.class_groups(results)
    summaries = classes.group_summaries(results, groups)
    section_titles = [s.title for s in results.manifest.sections]
    headers = [t["group"], t["n"], t["mean"], t["above_mean"], t["place"], t["sd"], t["max"], t["min"],
               t["excellent"], t["pass"], t["low"]] + section_titles
    _header(sheet, 1, headers)
    for r, (group, info) in enumerate(zip(groups, summaries), start=2):
        put_text(sheet.cell(row=r, column=1), _group_label(group, t))
        values = [(info.n, "0"), (info.mean, "0.00"), (info.above_mean, "+0.0%;-0.0%;0.0%"),
                  (info.place or None, "0"), (info.sd, "0.00"), (info.max, "0.##"), (info.min, "0.##"),
                  (info.excellent_rate, "0.0%"), (info.pass_rate, "0.0%"), (info.low_rate, "0.0%")]
        values += [(rate, "0.0%") for rate in info.section_rates]
        for column, (value, fmt) in enumerate(values, start=2):
            sheet.cell(row=r, column=column, value=_number(value)).number_format = fmt
        if group.whole:
            for column in range(1, len(headers) + 1):
                sheet.cell(row=r, column=column).font = HEADER_FONT
    last = len(groups) + 1
    _note(sheet, last + 1, t["rate_note"].format(**classes.RATE_LINES))
    if len(groups) == 1:
        _note(sheet, last + 2, t["no_classes"])
    # topics: each group's score rate and, for a class, its difference from the whole
    top = last + 4
    sheet.cell(row=top - 1, column=1, value=t["topic_rates"]).font = HEADER_FONT
    _header(sheet, top, [t["topic"]] + [_group_label(g, t) for g in groups])
    whole = summaries[0].topic_rates
    for r, stats in enumerate(results.topic_statistics(results.stats_rows), start=top + 1):
        label = "　" * (stats.level - 1) + stats.topic.split("/")[-1] if stats.level > 1 else stats.topic
        put_text(sheet.cell(row=r, column=1), label)
        for column, (group, info) in enumerate(zip(groups, summaries), start=2):
            rate = info.topic_rates.get(stats.topic, math.nan)
            cell = sheet.cell(row=r, column=column)
            if math.isnan(rate):
                continue
            if group.whole:
                cell.value = rate
                cell.number_format = "0.0%"
            else:
                # text, not a number: "62.5%（−4.1）" reads at a glance and the rate itself is in 知识点
                # rounded first, so a difference of −0.01 points prints as +0.0, not −0.0
                difference = round((rate - whole.get(stats.topic, math.nan)) * 100, 1) + 0.0
                put_text(cell, f"{rate:.1%}（{difference:+.1f}）" if not math.isnan(difference) else f"{rate:.1%}")
                cell.alignment = Alignment(horizontal="right")
                if difference < BEHIND_BY:
                    cell.font = BEHIND
            if rate < LOW_RATE:
                cell.fill = LOW_FILL
    topics_last = top + len(results.topic_statistics(results.stats_rows))
    widths = [30, 8, 9, 9, 9, 9, 9, 9, 9, 9, 9] + [14] * len(section_titles)
    _finish(sheet, 1, last, widths)
    box_cells(sheet, 1, last, len(headers))
    box_cells(sheet, top, topics_last, len(groups) + 1)
    for column in range(2, len(groups) + 2):
        width = sheet.column_dimensions[get_column_letter(column)].width or 9
        sheet.column_dimensions[get_column_letter(column)].width = max(width, 15)
    # two tables: no one header to repeat, and no grid printed around the empty cells between them
    setup_print(sheet, header_rows=None, key_columns=1, title=title, lang=lang, gridlines=False)


def _bands_sheet(sheet, results: ExamResults, t: dict, title: str, lang: str) -> None:
    groups = classes.class_groups(results)
    bands = classes.score_bands(results, groups)
    headers = [t["band"]]
    for group in groups:
        headers += [f"{_group_label(group, t)} {t['count']}", f"{_group_label(group, t)} {t['running']}"]
    _header(sheet, 1, headers)
    for r, band in enumerate(bands, start=2):
        put_text(sheet.cell(row=r, column=1), band.label)
        for k, (count, running) in enumerate(zip(band.counts, band.running)):
            sheet.cell(row=r, column=2 + 2 * k, value=count)
            sheet.cell(row=r, column=3 + 2 * k, value=running)
    last = len(bands) + 1
    _note(sheet, last + 2, t["band_note"])
    if len(groups) == 1:
        _note(sheet, last + 3, t["no_classes"])
    _finish(sheet, 1, last, [16] + [9] * (2 * len(groups)))
    sheet.freeze_panes = "B2"
    setup_print(sheet, header_rows=(1, 1), key_columns=1, title=title, lang=lang)


def _item_rates_sheet(sheet, results: ExamResults, t: dict, title: str, lang: str) -> None:
    groups = classes.class_groups(results)
    variants = [v.name for v in results.manifest.variants]
    headers = [t["paper_number"].format(variant=v) for v in variants] + [t["qid"], t["section"], t["topic"], t["points"]]
    headers += [_group_label(g, t) for g in groups] + [t["upper"], t["lower"], t["gap"]]
    _header(sheet, 1, headers)
    first_rate = len(variants) + 5
    for r, item in enumerate(classes.question_rates(results, groups), start=2):
        question = results.questions[item.column]
        for k, name in enumerate(variants, start=1):
            sheet.cell(row=r, column=k, value=item.numbers.get(name))
        put_text(sheet.cell(row=r, column=len(variants) + 1), question.id)
        put_text(sheet.cell(row=r, column=len(variants) + 2), results.manifest.sections[question.section].title)
        put_text(sheet.cell(row=r, column=len(variants) + 3), question.topic)
        sheet.cell(row=r, column=len(variants) + 4, value=question.points).number_format = "0.##"
        for column, rate in enumerate(item.rates + (item.upper, item.lower), start=first_rate):
            cell = sheet.cell(row=r, column=column, value=_number(rate))
            cell.number_format = "0%"
            if not math.isnan(rate) and rate < LOW_RATE:
                cell.fill = LOW_FILL
        sheet.cell(row=r, column=first_rate + len(groups) + 2, value=_number(item.gap)).number_format = "0.00"
    last = len(results.questions) + 1
    _note(sheet, last + 2, t["rate_note"].format(**classes.RATE_LINES))
    widths = [7] * len(variants) + [11, 14, 28, 6] + [9] * (len(groups) + 3)
    _finish(sheet, 1, last, widths)
    sheet.freeze_panes = sheet.cell(row=2, column=len(variants) + 2)
    setup_print(sheet, header_rows=(1, 1), key_columns=len(variants) + 1, title=title, lang=lang)
