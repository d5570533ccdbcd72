"""``papergen analyze``: how topics, classes and students change over several exams.

``load_trends`` reads several results folders (one per exam, in the order the
exams were sat) into ``Trends``: per topic (every level of the topic path)
the error rate in each exam, the same per class, and each student's score
rate per top-level topic in the latest exam they sat with the change since
their first. It is pure aggregation, reusing ``analysis.topic_statistics`` so
one exam's figures here are exactly those of its own report.

Exams are compared by what the questions are, never by where they were
printed: ``report_data`` already turns every variant's printed numbers back
into bank question ids, and topics come from each exam's manifest. Different
papers drawn from the same bank(s) therefore line up topic by topic. Exams
that share no bank are refused, since their topics would only match by
accident of naming.

``write_trends`` writes the workbook (Chinese headers by default, English
with ``lang="en"``) atomically, like ``report.write_report``. It lists
topics, classes and students, never single questions, so no 题号 appear.
Each sheet prints legibly on A4 (``print_setup.setup_print``): the 班级
sheet starts each class on a new page, the 学生 sheet repeats 准考证号,
姓名 and 班级 on every page, and the trend chart sits below its table,
sized by the number of exams and topics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference, Series
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break

from papergen.core import atomic
from papergen.core.errors import InputFileError
from papergen.core.excel_text import put_text
from papergen.report.analysis import TopicStats
from papergen.report.charts import size_line_chart
from papergen.report.data import ExamResults, load_exam_results
from papergen.report.print_setup import (
    CM_PER_INCH,
    box_cells,
    choose_layout,
    column_inches,
    setup_print,
    wrapped_lines,
)
from papergen.report.workbook import HEADER_FILL, HEADER_FONT

#: Group keys besides the class names: everyone (when no student has a
#: class, e.g. without a roster) and the students without a class.
ALL_STUDENTS: str | None = None
NO_CLASS = ""

RATE_FORMAT = "0.0%"
CHANGE_FORMAT = "+0.0%;-0.0%;0.0%"
EXAM_WIDTH = 14  # width of each exam's columns on the trends sheet

TEXT = {
    "zh": {
        "topic_trends": "知识点趋势", "by_class": "班级", "by_student": "学生",
        "topic": "知识点", "level": "层级", "error_rate": "错误率", "questions": "题数", "change": "变化",
        "latest_minus_first": "最近－最早", "class": "班级", "order": "考试次序", "exam": "考试",
        "attempts": "作答人次", "score_rate": "平均得分率", "id": "准考证号", "name": "姓名", "sat": "参加次数",
        "first_exam": "首次考试", "latest_exam": "最近考试", "latest_rate": "最近一次得分率",
        "change_since_first": "较首次考试的变化", "overall": "总体", "all": "全体", "no_class": "（未分班）",
        "not_on_roster": "（名单中没有）", "chart": "各知识点错误率走势",
    },
    "en": {
        "topic_trends": "Topic trends", "by_class": "By class", "by_student": "By student",
        "topic": "Topic", "level": "Level", "error_rate": "Error rate", "questions": "Questions", "change": "Change",
        "latest_minus_first": "Latest − earliest", "class": "Class", "order": "Exam no.", "exam": "Exam",
        "attempts": "Attempts", "score_rate": "Mean score rate", "id": "Student ID", "name": "Name", "sat": "Exams sat",
        "first_exam": "First exam", "latest_exam": "Latest exam", "latest_rate": "Score rate, latest exam",
        "change_since_first": "Change since first exam", "overall": "Overall", "all": "All",
        "no_class": "(no class)", "not_on_roster": "(not on roster)", "chart": "Error rate by topic over the exams",
    },
}

GROUP_LABEL = Alignment(horizontal="left", vertical="center", indent=1)

# Red (weak) → yellow → green (strong), Excel's own three-colour palette.
RED, YELLOW, GREEN = "F8696B", "FFEB84", "63BE7B"


@dataclass(frozen=True)
class ExamInfo:
    """One exam, i.e. one results folder, in the order given."""

    exam: str
    title: str
    results_dir: Path
    banks: tuple[str, ...]
    students: int  # in statistics
    questions: int


@dataclass
class StudentTrend:
    """One 准考证号 across the exams it was counted in."""

    student_id: str
    name: str
    klass: str
    on_roster: bool
    #: Per exam (same order as ``Trends.exams``): score rate per top-level topic,
    #: or ``None`` when the student is not in that exam's statistics.
    rates: list[dict[str, float] | None]
    overall: list[float]  # per exam: points earned / possible over scored answers (NaN: not sat)

    @property
    def sat(self) -> list[int]:
        """Indices of the exams the student was counted in."""
        return [k for k, rates in enumerate(self.rates) if rates is not None]

    @property
    def first(self) -> int:
        return self.sat[0]

    @property
    def latest(self) -> int:
        return self.sat[-1]

    def latest_rate(self, topic: str) -> float:
        return self.rates[self.latest].get(topic, math.nan)

    def change(self, topic: str | None = None) -> float:
        """Latest minus first score rate (``topic=None``: overall); NaN with one exam or no data."""
        if len(self.sat) < 2:
            return math.nan
        if topic is None:
            return self.overall[self.latest] - self.overall[self.first]
        return self.rates[self.latest].get(topic, math.nan) - self.rates[self.first].get(topic, math.nan)


@dataclass
class Trends:
    """Several exams' results side by side (``load_trends``)."""

    exams: list[ExamInfo]
    #: Every topic path prefix seen in any exam; children follow their parent,
    #: siblings in the order they first appear.
    topics: list[str]
    #: topic → one entry per exam (``None``: no question of that topic in that exam).
    by_exam: dict[str, list[TopicStats | None]]
    #: Class groups: ``ALL_STUDENTS`` alone when no student has a class, else
    #: the classes (sorted) and ``NO_CLASS`` for students without one.
    groups: list[str | None]
    #: group → topic → one entry per exam (``None``: topic not in the exam, or
    #: nobody of that group counted in it).
    by_group: dict[str | None, dict[str, list[TopicStats | None]]]
    students: list[StudentTrend] = field(default_factory=list)

    @property
    def top_topics(self) -> list[str]:
        return [t for t in self.topics if topic_level(t) == 1]


def topic_level(topic: str) -> int:
    return topic.count("/") + 1


# -- loading -------------------------------------------------------------------


def load_trends(results_dirs: Sequence[str | Path], roster: str | Path | None = None) -> Trends:
    """Aggregate several exams' results, given in the order they were sat.

    Parameters
    ----------
    results_dirs
        Results folders (``papergen grade -o``), earliest exam first.
    roster
        Optional roster giving names and classes; one roster for every exam,
        since students are matched across exams by 准考证号.

    Raises
    ------
    InputFileError
        A folder is missing or given twice, two folders hold the same exam,
        or the exams share no question bank.
    """
    folders = [Path(d) for d in results_dirs]
    if not folders:
        raise InputFileError("没有给出结果文件夹")
    _check_folders(folders)
    exams = [load_exam_results(folder, roster) for folder in folders]
    _check_exams(exams)
    infos = [
        ExamInfo(
            r.manifest.exam, r.manifest.title, r.results_dir, tuple(b["id"] for b in r.manifest.banks),
            int(r.stats_rows.sum()), len(r.questions),
        )
        for r in exams
    ]
    tables = [{stats.topic: stats for stats in r.topic_statistics(r.stats_rows)} for r in exams]
    topics = _topic_order(tables)
    by_exam = {topic: [table.get(topic) for table in tables] for topic in topics}
    groups = _groups(exams)
    by_group: dict[str | None, dict[str, list[TopicStats | None]]] = {}
    for group in groups:
        per_exam = []
        for r in exams:
            rows = r.stats_rows & _group_mask(r, group)
            per_exam.append({stats.topic: stats for stats in r.topic_statistics(rows)} if rows.any() else {})
        by_group[group] = {topic: [table.get(topic) for table in per_exam] for topic in topics}
    top = [t for t in topics if topic_level(t) == 1]
    return Trends(infos, topics, by_exam, groups, by_group, _students(exams, top))


def _check_folders(folders: list[Path]) -> None:
    seen: dict[Path, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            raise InputFileError("结果文件夹不存在", path=folder, hint="给出 papergen grade -o 写入的文件夹")
        key = folder.resolve()
        if key in seen:
            raise InputFileError(f"同一个结果文件夹给出了两次（{seen[key]}）", path=folder)
        seen[key] = folder


def _check_exams(exams: list[ExamResults]) -> None:
    by_id: dict[str, Path] = {}
    for r in exams:
        if r.manifest.exam in by_id:
            raise InputFileError(
                f"考试 {r.manifest.exam} 出现在两个结果文件夹中（{by_id[r.manifest.exam]} 和 {r.results_dir}）",
                path=r.results_dir, hint="同一场考试的答题卡请评阅到同一个结果文件夹（papergen grade 可以分批追加）",
            )
        by_id[r.manifest.exam] = r.results_dir
    common = set.intersection(*({b["id"] for b in r.manifest.banks} for r in exams))
    if not common:
        listing = "；".join(f"{r.results_dir}：{'、'.join(b['id'] for b in r.manifest.banks) or '（无）'}" for r in exams)
        raise InputFileError(
            f"这些考试没有共同的题库，知识点无法对比（{listing}）",
            hint="只把出自同一题库的考试放在一起分析",
        )


def _topic_order(tables: list[dict[str, TopicStats]]) -> list[str]:
    """All topics, each followed by its subtopics; siblings in order of first appearance."""
    first_seen: dict[str, int] = {}
    for table in tables:
        for topic in table:
            first_seen.setdefault(topic, len(first_seen))

    def key(topic: str) -> tuple[int, ...]:
        parts = topic.split("/")
        # A prefix is always seen with its topic (topic_statistics lists every level).
        return tuple(first_seen["/".join(parts[:level])] for level in range(1, len(parts) + 1))

    return sorted(first_seen, key=key)


def _groups(exams: list[ExamResults]) -> list[str | None]:
    counted = [s for r in exams for s in r.students if s.in_stats]
    classes = sorted({s.klass for s in counted if s.klass})
    if not classes:
        return [ALL_STUDENTS]
    return classes + ([NO_CLASS] if any(not s.klass for s in counted) else [])


def _group_mask(results: ExamResults, group: str | None) -> np.ndarray:
    if group is ALL_STUDENTS:
        return np.ones(len(results.students), dtype=bool)
    return np.array([s.klass == group for s in results.students], dtype=bool)


def student_topic_rates(results: ExamResults, topics: Sequence[str]) -> np.ndarray:
    """Score rate of every student (rows) on every topic (columns, path prefixes).

    Points earned / points possible over the student's scored answers, the
    same figure ``topic_statistics`` gives for a one-student group, computed for
    all students at once. NaN where the student has no scored answer there.
    """
    scored = ~np.isnan(results.scores)
    earned = np.where(scored, results.scores, 0.0)
    possible = scored * results.max_points
    out = np.full((len(results.students), len(topics)), np.nan)
    for k, topic in enumerate(topics):
        columns = [c for c, q in enumerate(results.questions) if q.topic == topic or q.topic.startswith(topic + "/")]
        if not columns:
            continue
        denominator = possible[:, columns].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, k] = np.where(denominator > 0, earned[:, columns].sum(axis=1) / denominator, np.nan)
    return out


def _overall_rates(results: ExamResults) -> np.ndarray:
    scored = ~np.isnan(results.scores)
    possible = (scored * results.max_points).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(possible > 0, np.where(scored, results.scores, 0.0).sum(axis=1) / possible, np.nan)


def _students(exams: list[ExamResults], top_topics: list[str]) -> list[StudentTrend]:
    trends: dict[str, StudentTrend] = {}
    for k, r in enumerate(exams):
        rates = student_topic_rates(r, top_topics)
        overall = _overall_rates(r)
        for i, s in enumerate(r.students):
            if not s.in_stats:  # absent, duplicated 准考证号, unknown variant: not this student's result
                continue
            trend = trends.get(s.student_id)
            if trend is None:
                trend = trends[s.student_id] = StudentTrend(
                    s.student_id, s.name, s.klass, s.on_roster, [None] * len(exams), [math.nan] * len(exams)
                )
            trend.name = s.name or trend.name
            trend.klass = s.klass or trend.klass
            trend.on_roster = trend.on_roster or s.on_roster
            trend.rates[k] = {t: float(rates[i, j]) for j, t in enumerate(top_topics) if not math.isnan(rates[i, j])}
            trend.overall[k] = float(overall[i])
    # By class (students without one last), then 准考证号.
    return sorted(trends.values(), key=lambda t: (not t.klass, t.klass, t.student_id))


# -- writing -------------------------------------------------------------------


def write_trends(trends: Trends, path: str | Path, lang: str = "zh") -> Path:
    """Write the trends workbook to ``path`` (atomically) and return the path."""
    t = TEXT[lang]
    workbook = Workbook()
    _topic_sheet(workbook.active, trends, t)
    _class_sheet(workbook.create_sheet(t["by_class"]), trends, t)
    _student_sheet(workbook.create_sheet(t["by_student"]), trends, t)
    exams = [e.exam for e in trends.exams]
    title = " → ".join(exams if len(exams) <= 3 else [exams[0], "…", exams[-1]])  # the page header
    keys = {t["topic_trends"]: 2, t["by_class"]: 2, t["by_student"]: 3}  # columns naming a row
    heads = {t["topic_trends"]: (1, 3), t["by_class"]: (1, 1), t["by_student"]: (1, 2)}
    for sheet in workbook.worksheets:
        # The class sheet is long and narrow: portrait holds a class per page.
        setup_print(sheet, header_rows=heads[sheet.title], key_columns=keys[sheet.title], title=title, lang=lang,
                    landscape=False if sheet.title == t["by_class"] else None,
                    gridlines=sheet.title != t["topic_trends"])  # its chart would print inside the grid
    path = Path(path)
    with atomic.atomic_path(path) as tmp:
        workbook.save(tmp)
    return path


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _header_cell(cell, label: str):
    put_text(cell, label)
    cell.font = HEADER_FONT
    cell.fill = HEADER_FILL
    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    return cell


def _group_header(sheet, blocks: list[tuple[int, int, str]], width: int) -> None:
    """Row 1: a label over each block of columns (merged), the rest styled blank.

    Labels sit at the left of their block: a block printed over two pages
    shows its label where it starts, not in the middle of the gap.
    """
    for column in range(1, width + 1):
        _header_cell(sheet.cell(row=1, column=column), "")
    for first, last, label in blocks:
        _header_cell(sheet.cell(row=1, column=first), label).alignment = GROUP_LABEL
        if last > first:
            sheet.merge_cells(start_row=1, start_column=first, end_row=1, end_column=last)


def _finish(sheet, header_row: int, last_row: int, widths: list[float], freeze_column: int = 1) -> None:
    """Frozen header (and first columns), autofilter over the table, column widths (printing: ``write_trends``)."""
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=freeze_column)
    sheet.auto_filter.ref = f"A{header_row}:{get_column_letter(len(widths))}{max(last_row, header_row)}"
    for column, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(column)].width = width


def _latest_minus_earliest(stats: list[TopicStats | None]) -> float:
    rates = [s.error_rate for s in stats if s is not None and not math.isnan(s.error_rate)]
    return rates[-1] - rates[0] if len(rates) >= 2 else math.nan


# -- 知识点趋势 Topic trends ---------------------------------------------------


def _topic_sheet(sheet, trends: Trends, t: dict) -> None:
    """Three header rows: block (error rate / questions / change), exam id, exam title."""
    sheet.title = t["topic_trends"]
    n = len(trends.exams)
    rate_col, count_col, change_col = 3, 3 + n, 3 + 2 * n
    width = change_col
    _group_header(sheet, [(rate_col, rate_col + n - 1, t["error_rate"]), (count_col, count_col + n - 1, t["questions"]),
                          (change_col, change_col, t["change"])], width)
    for row, labels in (
        (2, ["", ""] + [e.exam for e in trends.exams] * 2 + [""]),
        (3, [t["topic"], t["level"]] + [e.title for e in trends.exams] * 2 + [t["latest_minus_first"]]),
    ):
        for column, label in enumerate(labels, 1):
            _header_cell(sheet.cell(row=row, column=column), label)
    sheet.row_dimensions[3].height = 15 * max([wrapped_lines(e.title, EXAM_WIDTH) for e in trends.exams] + [1])
    top_rows: list[tuple[int, str]] = []
    for r, topic in enumerate(trends.topics, start=4):
        level = topic_level(topic)
        put_text(sheet.cell(row=r, column=1), "　" * (level - 1) + topic.split("/")[-1] if level > 1 else topic)
        sheet.cell(row=r, column=2, value=level)
        stats = trends.by_exam[topic]
        for k, stat in enumerate(stats):
            if stat is None:
                continue
            sheet.cell(row=r, column=rate_col + k, value=_number(stat.error_rate)).number_format = RATE_FORMAT
            sheet.cell(row=r, column=count_col + k, value=stat.questions).number_format = "0"
        sheet.cell(row=r, column=change_col, value=_number(_latest_minus_earliest(stats))).number_format = CHANGE_FORMAT
        if level == 1:
            top_rows.append((r, topic))
    last = len(trends.topics) + 3
    widths = [30, 6] + [EXAM_WIDTH] * (2 * n) + [12]
    _finish(sheet, 3, last, widths, freeze_column=3)
    box_cells(sheet, 1, last, width)
    if top_rows:
        chart = _trend_chart(sheet, top_rows, rate_col, n, t)
        # Beside the table when both fit a landscape page at a legible scale
        # (a few exams), else below it, whole on the next page if need be.
        beside = sum(column_inches(w) for w in widths + [3]) + chart.width / CM_PER_INCH
        if choose_layout(beside, landscape=True).fit_to_width:
            sheet.column_dimensions[get_column_letter(width + 1)].width = 3
            sheet.add_chart(chart, f"{get_column_letter(width + 2)}1")
        else:
            sheet.add_chart(chart, f"A{last + 3}")


def _trend_chart(sheet, top_rows: list[tuple[int, str]], rate_col: int, n: int, t: dict) -> LineChart:
    chart = LineChart()
    chart.title = t["chart"]
    chart.y_axis.title = t["error_rate"]
    chart.y_axis.numFmt = "0%"
    chart.y_axis.scaling.min = 0
    chart.y_axis.scaling.max = 1
    for row, topic in top_rows:
        values = Reference(sheet, min_col=rate_col, max_col=rate_col + n - 1, min_row=row, max_row=row)
        series = Series(values, title=topic)
        series.marker.symbol = "circle"
        series.smooth = False
        chart.series.append(series)
    # Categories: the exam ids (header row 2), short enough to read on the axis.
    chart.set_categories(Reference(sheet, min_col=rate_col, max_col=rate_col + n - 1, min_row=2, max_row=2))
    size_line_chart(chart, n, len(top_rows))
    return chart


# -- 班级 By class ------------------------------------------------------------


def group_label(group: str | None, t: dict) -> str:
    if group is ALL_STUDENTS:
        return t["all"]
    return group or t["no_class"]


def _class_sheet(sheet, trends: Trends, t: dict) -> None:
    headers = [t["class"], t["topic"], t["level"], t["order"], t["exam"], t["questions"], t["attempts"],
               t["error_rate"], t["score_rate"]]
    for column, label in enumerate(headers, 1):
        _header_cell(sheet.cell(row=1, column=column), label)
    r = 1
    for group in trends.groups:
        if r > 1:
            sheet.row_breaks.append(Break(id=r))  # each class starts a page
        for topic in trends.topics:
            for k, stat in enumerate(trends.by_group[group][topic]):
                if stat is None:
                    continue
                r += 1
                put_text(sheet.cell(row=r, column=1), group_label(group, t))
                put_text(sheet.cell(row=r, column=2), topic)
                sheet.cell(row=r, column=3, value=topic_level(topic))
                sheet.cell(row=r, column=4, value=k + 1)
                put_text(sheet.cell(row=r, column=5), trends.exams[k].exam)
                sheet.cell(row=r, column=6, value=stat.questions).number_format = "0"
                sheet.cell(row=r, column=7, value=stat.attempts).number_format = "0"
                sheet.cell(row=r, column=8, value=_number(stat.error_rate)).number_format = RATE_FORMAT
                sheet.cell(row=r, column=9, value=_number(stat.score_rate)).number_format = RATE_FORMAT
    _finish(sheet, 1, r, [10, 30, 5, 8, 14, 6, 8, 8, 10])


# -- 学生 By student ----------------------------------------------------------


def _student_sheet(sheet, trends: Trends, t: dict) -> None:
    """Latest score rates per top-level topic, then the change since the first exam."""
    top = trends.top_topics
    fixed = [t["id"], t["name"], t["class"], t["sat"], t["first_exam"], t["latest_exam"]]
    rate_col = len(fixed) + 1
    change_col = rate_col + len(top) + 1
    width = change_col + len(top)
    blocks = [(rate_col, change_col - 1, t["latest_rate"]), (change_col, width, t["change_since_first"])]
    _group_header(sheet, blocks, width)
    labels = fixed + [t["overall"], *top] * 2
    for column, label in enumerate(labels, 1):
        _header_cell(sheet.cell(row=2, column=column), label)
    for r, student in enumerate(trends.students, start=3):
        put_text(sheet.cell(row=r, column=1), student.student_id)
        name = student.name if student.on_roster else (student.name or t["not_on_roster"])
        put_text(sheet.cell(row=r, column=2), name)
        put_text(sheet.cell(row=r, column=3), student.klass)
        sheet.cell(row=r, column=4, value=len(student.sat))
        put_text(sheet.cell(row=r, column=5), trends.exams[student.first].exam)
        put_text(sheet.cell(row=r, column=6), trends.exams[student.latest].exam)
        sheet.cell(row=r, column=rate_col, value=_number(student.overall[student.latest])).number_format = RATE_FORMAT
        sheet.cell(row=r, column=change_col, value=_number(student.change())).number_format = CHANGE_FORMAT
        for j, topic in enumerate(top, start=1):
            latest, change = _number(student.latest_rate(topic)), _number(student.change(topic))
            sheet.cell(row=r, column=rate_col + j, value=latest).number_format = RATE_FORMAT
            sheet.cell(row=r, column=change_col + j, value=change).number_format = CHANGE_FORMAT
    last = len(trends.students) + 2
    _finish(sheet, 2, last, [12, 9, 9, 6, 14, 14] + [10] * (2 * (len(top) + 1)), freeze_column=3)
    sheet.row_dimensions[2].height = 15 * max(wrapped_lines(label, 10) for label in labels)
    sheet.col_breaks.append(Break(id=change_col - 1))  # the changes start a page of their own
    if trends.students:
        rates = f"{get_column_letter(rate_col)}3:{get_column_letter(change_col - 1)}{last}"
        changes = f"{get_column_letter(change_col)}3:{get_column_letter(width)}{last}"
        # Rates: yellow at 60 %, the usual pass mark, so red reads as "below passing".
        sheet.conditional_formatting.add(rates, ColorScaleRule(
            start_type="num", start_value=0, start_color=RED, mid_type="num", mid_value=0.6, mid_color=YELLOW,
            end_type="num", end_value=1, end_color=GREEN,
        ))
        # Changes: a drop is red, no change yellow, a gain green (±50 points saturate).
        sheet.conditional_formatting.add(changes, ColorScaleRule(
            start_type="num", start_value=-0.5, start_color=RED, mid_type="num", mid_value=0, mid_color=YELLOW,
            end_type="num", end_value=0.5, end_color=GREEN,
        ))
