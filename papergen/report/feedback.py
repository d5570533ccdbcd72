"""``papergen feedback``: one PDF per student, for handing back after an exam.

Each student who sat the exam gets a page or two: their total against the
full marks, the score per section, their score rate per topic next to their
class's (a table and a bar drawing), and their 错题本: every question they
lost points on, in the order of *their* paper, as it was printed on it —
their question number, the options in their variant's order, their answer
and the key in their variant's letters, the points earned, the topic and
the explanation. Pages are numbered "第 N 页 / 共 M 页".

The rank ("第 3 名 / 共 57 人") is left out unless asked for
(``show_rank=True``, ``papergen feedback --rank``): publishing students'
rankings is discouraged (China's Ministry of Education tells schools not to),
and a rank on every student's sheet is a known source of anxiety.

The question text comes from the banks the exam was built from. They are
checked against the sha256 the manifest recorded first: a bank edited since
the exam was built could show a student a different question from the one
they answered, so it is refused rather than trusted.

With ``sheets`` (``papergen feedback --with-sheet``) the student's annotated
answer sheet (``report.annotate``) follows as the last page(s).

Laid out with reportlab's platypus on A4 in Noto Sans SC (``fonts.py``).
Every file is written atomically and deterministically (``invariant=1``):
running the command again gives the same bytes. File names come from the
roster, which is user input, so ``safe_filename`` makes sure a name can
never point outside the output folder or be invalid on Windows.

Usage from a script::

    from papergen.report.feedback import write_feedback
    from papergen.report.data import load_exam_results

    result = write_feedback(load_exam_results("results", "roster.csv"), "feedback")  # show_rank=True adds the rank
    print(len(result.files), "PDFs;", "skipped:", result.skipped)
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import os
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    PageBreak,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable, HRFlowable

from papergen.bank.files import load_banks
from papergen.bank.model import LETTERS, TYPE_LABELS_ZH, Question
from papergen.core import atomic
from papergen.core.errors import InputFileError, OutputError
from papergen.core.executor import run_jobs
from papergen.exam.manifest import Manifest
from papergen.exam.variants import display_letters
from papergen.grade.results import STATUS_VIOLATION
from papergen.render import fonts
from papergen.render.cjk import CJKParagraph
from papergen.render.paper import (
    PaperQuestion,
    corrected_paper,
    format_points,
    key_text,
    paper_for_variant,
)
from papergen.render.pdf import (
    PageCountingCanvas,
    draw_page_number,
    markup,
    option_label,
    single_frame_document,
)
from papergen.report import analysis
from papergen.report.analysis import TopicStats, topic_statistics
from papergen.report.annotate import (
    DrawnPage,
    SheetFlowable,
    StudentSheets,
    draw_pictures,
)
from papergen.report.data import STATUS_ABSENT, STATUS_NO_SHEET, ExamResults, StudentRow
from papergen.report.filenames import safe_filename
from papergen.report.keys import key_corrections

# --- page geometry -----------------------------------------------------------
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_SIDE = 18 * mm
MARGIN_TOP = 22 * mm  # the running header sits in the upper part of this
MARGIN_BOTTOM = 18 * mm
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN_SIDE
HEADER_BASELINE = PAGE_HEIGHT - 13 * mm
FOOTER_BASELINE = 9 * mm
FURNITURE_SIZE = 8.5

#: Topic levels shown: the top level and, where the bank has one, the second.
TOPIC_LEVELS = 2

STUDENT_COLOR = colors.HexColor("#2F6DB5")
GROUP_COLOR = colors.HexColor("#B7B7B7")
KEY_COLOR = "#1E7B34"  # correct options, in Paragraph markup
WRONG_COLOR = "#C00000"  # options the student chose that are not in the key
HEAD_FILL = colors.HexColor("#EEF3FA")
GRID = colors.HexColor("#9E9E9E")
#: A visible gap inside a Paragraph (it collapses runs of spaces, even "　").
GAP = "&nbsp;" * 4


@dataclass(frozen=True)
class FeedbackResult:
    files: list[Path]  # one PDF per student, in the order of ``results.students``
    skipped: list[str]  # "准考证号 姓名：原因" for each row that got no PDF
    #: One line per student whose name or class has characters no font can print (an empty box).
    warnings: list[str] = field(default_factory=list)
    #: With the annotated sheet: one line per sheet page whose scan could not be drawn (that PDF lacks it).
    sheets_unavailable: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TopicRate:
    """One topic's score rate for a student and for their comparison group.

    Rates are points earned / points possible over the scored questions;
    ``nan`` when none of the topic's questions was scored (all under review).
    """

    topic: str  # full path, "地方实践案例/常州"
    level: int  # 1 = top level
    questions: int
    student: float
    group: float

    @property
    def label(self) -> str:
        """The last level of the topic: "常州" under "地方实践案例"."""
        return self.topic.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class MissedQuestion:
    """A question the student did not get full marks on, as printed on their paper."""

    number: int  # on the student's variant
    section: int
    printed: PaperQuestion  # stem, options in display order, key in display letters, explanation
    chosen: str  # the student's answer in display letters; "" = left blank
    earned: float
    points: float

    @property
    def outcome(self) -> str:
        if not self.chosen:
            return "未作答"
        return "部分正确" if self.earned > 0 else "错误"


# --- pure helpers ------------------------------------------------------------
def _printable(text: str) -> str:
    """``text`` without control and format characters (they print as boxes or break lines)."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")


def skip_reason(results: ExamResults, row: int) -> str | None:
    """Why row ``row`` gets no feedback PDF, or ``None`` when it gets one."""
    student = results.students[row]
    if not student.has_sheet or student.status == STATUS_NO_SHEET:
        return "缺考（无答题卡）"
    if student.absent or student.status == STATUS_ABSENT:
        return "缺考" if student.status == STATUS_ABSENT else "标记了缺考，待复核"
    if student.status == STATUS_VIOLATION:
        return "监考员标记了违纪，成绩待核对，不生成反馈"
    if not student.identified:
        return "答题卡上的准考证号未能识别，待复核"
    if student.duplicate:
        # One of the sheets belongs to someone else: a PDF under this name
        # could hand one student another's answers.
        return "准考证号出现在多张答题卡上，待复核"
    if student.variant not in {variant.name for variant in results.manifest.variants}:
        return "试卷类型未能识别，无法评分，待复核"
    return None


class Cohort:
    """What every student's feedback is compared with, worked out once per run, not once per student.

    The comparison groups (each class, or everyone in the statistics), their
    topic score rates and mean totals, and the ranks are cohort-wide: computed
    for each of 100,000 PDFs they cost more than the PDF itself (each is a
    pass over every student). A group's figures are computed when a feedback
    first needs them and kept (in a worker process: for all its PDFs).
    """

    def __init__(self, results: ExamResults) -> None:
        self.results = results
        self.stats_rows = results.stats_rows
        members: dict[str, list[int]] = {}
        for index, student in enumerate(results.students):
            if student.klass:
                members.setdefault(student.klass, []).append(index)
        self._classes = members
        self._masks: dict[str, np.ndarray] = {}
        self._rates: dict[str, dict[str, float]] = {}
        self._totals: dict[str, list[float]] = {}
        self._ranks: np.ndarray | None = None

    def group(self, row: int) -> tuple[str, str]:
        """``(key, label)`` of the group ``row`` is compared with: their class, else everyone in the statistics."""
        klass = self.results.students[row].klass
        return (klass, "班级平均") if klass else ("", "全体平均")

    def mask(self, key: str) -> np.ndarray:
        if key not in self._masks:
            if key:
                same = np.zeros(len(self.results.students), dtype=bool)
                same[self._classes.get(key, [])] = True
                self._masks[key] = self.stats_rows & same
            else:
                self._masks[key] = self.stats_rows
        return self._masks[key]

    def topic_rates(self, key: str) -> dict[str, float]:
        if key not in self._rates:
            self._rates[key] = {stats.topic: stats.score_rate for stats in self.results.topic_statistics(self.mask(key))}
        return self._rates[key]

    def totals(self, key: str) -> list[float]:
        if key not in self._totals:
            self._totals[key] = [self.results.students[i].total for i in np.flatnonzero(self.mask(key))]
        return self._totals[key]

    @property
    def ranks(self) -> np.ndarray:
        if self._ranks is None:
            totals = np.array([s.total if s.in_stats else np.nan for s in self.results.students])
            self._ranks = analysis.competition_ranks(totals)
        return self._ranks

    # What a feedback PDF asks of its cohort (``_StudentCohort`` answers the same for one student).

    def mean_total(self, key: str) -> float | None:
        """The group's mean total, or ``None`` when nobody is in it."""
        totals = self.totals(key)
        return float(np.mean(totals)) if totals else None

    def rank(self, row: int) -> int:
        """``row``'s rank (ties share; 0: not ranked)."""
        return int(self.ranks[row])

    @property
    def ranked(self) -> int:
        """How many students are ranked (those in the statistics)."""
        return int(self.stats_rows.sum())

    def for_student(self, row: int) -> _StudentCohort:
        """The figures ``row``'s feedback shows, for its job (a worker needs nothing else of the cohort)."""
        key, label = self.group(row)
        return _StudentCohort(key, label, self.mean_total(key), self.topic_rates(key), self.rank(row), self.ranked)


@dataclass(frozen=True)
class _StudentCohort:
    """``Cohort`` as one student's feedback sees it: the row is always that student's (row 0 of its job)."""

    key: str
    label: str
    group_mean: float | None
    group_topic_rates: dict[str, float]  # shared by every student of the group (pickled once per chunk of jobs)
    student_rank: int
    ranked: int

    def group(self, row: int) -> tuple[str, str]:
        return self.key, self.label

    def mean_total(self, key: str) -> float | None:
        return self.group_mean

    def topic_rates(self, key: str) -> dict[str, float]:
        return self.group_topic_rates

    def rank(self, row: int) -> int:
        return self.student_rank


def comparison_rows(results: ExamResults, row: int, cohort: Cohort | None = None) -> tuple[np.ndarray, str]:
    """The students ``row`` is compared with (mask) and what to call them.

    The student's class (from the roster) when they have one, else everyone
    in the statistics. ``cohort``: the run's ``Cohort`` (made here if not given).
    """
    cohort = cohort or Cohort(results)
    key, label = cohort.group(row)
    return cohort.mask(key), label


def student_topic_rates(results: ExamResults, row: int, cohort: Cohort | None = None) -> list[TopicRate]:
    """Score rate per topic (top two levels) for ``row`` and for their comparison group.

    Ordered as a tree: each top-level topic in the order it first appears
    in the exam, followed by its second-level topics.
    """
    cohort = cohort or Cohort(results)
    group = cohort.topic_rates(cohort.group(row)[0])
    entries = [
        stats for stats in topic_statistics(results.scores[row:row + 1], [q.topic for q in results.questions], results.max_points)
        if stats.level <= TOPIC_LEVELS
    ]
    first_seen = {stats.topic: index for index, stats in enumerate(entries)}

    def tree_order(stats: TopicStats) -> tuple[int, int, int]:
        top = stats.topic.split("/")[0]
        return first_seen[top], stats.level, first_seen[stats.topic]

    return [
        TopicRate(stats.topic, stats.level, stats.questions, stats.score_rate, group.get(stats.topic, math.nan))
        for stats in sorted(entries, key=tree_order)
    ]


def missed_questions(results: ExamResults, row: int, printed: dict[str, PaperQuestion]) -> list[MissedQuestion]:
    """Every scored question ``row`` did not get full marks on, in the order of the student's paper (their 题号).

    ``printed`` maps bank question id → the question as printed on the
    student's variant (``paper_for_variant``). Questions under review (not
    scored) are not listed here: the review list names them.
    """
    variant = results.manifest.variant(results.students[row].variant)
    items = {item.id: item for item in variant.items}
    missed = []
    for column, question in enumerate(results.questions):
        earned = results.scores[row, column]
        choice = results.choices[row][column]
        if math.isnan(earned) or choice is None or earned >= question.points:
            continue
        item = items[question.id]
        missed.append(
            MissedQuestion(
                number=item.number, section=question.section, printed=printed[question.id],
                chosen=display_letters(choice, item.permutation), earned=float(earned), points=question.points,
            )
        )
    return sorted(missed, key=lambda question: question.number)


def by_hand_text(count: int) -> str:
    """What a feedback PDF says when a person settled some of the student's answers (or their 准考证号)."""
    return f"你的答题卡上有 {count} 处由阅卷老师人工核定（如涂得太浅、改涂不清的题），其余由机器读卡。"


def rank_text(results: ExamResults, row: int, cohort: Cohort | None = None) -> str:
    """"第 3 名 / 共 57 人" among the students in the statistics (ties share a rank)."""
    cohort = cohort or Cohort(results)
    rank, ranked = cohort.rank(row), cohort.ranked
    if rank <= 0:
        return f"不参与排名（共 {ranked} 人计入统计）"
    return f"第 {rank} 名 / 共 {ranked} 人"


def exam_questions(manifest: Manifest) -> dict[str, Question]:
    """The bank questions of the exam, after checking the banks are the ones it was built from.

    Raises
    ------
    InputFileError
        A bank file is missing, or its sha256 differs from the manifest's.
    """
    for bank in manifest.banks:
        path = Path(bank["file"])
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise InputFileError(
                f"找不到组卷时使用的题库「{bank['title']}」（{exc.strerror or exc}）", path=path,
                hint="成绩反馈要从题库读取题目和解析；把题库放回组卷时的位置",
            ) from None
        if digest != bank["sha256"]:
            raise InputFileError(
                f"题库「{bank['title']}」在组卷之后被修改过（sha256 与考试清单不同），"
                "成绩反馈会显示与考生作答时不同的题目",
                path=path, hint="恢复组卷时的题库文件（例如从版本管理中找回）后再生成成绩反馈",
            )
    by_id = {q.id: q for bank in load_banks([b["file"] for b in manifest.banks]) for q in bank.questions}
    missing = sorted(set(manifest.questions) - set(by_id))
    if missing:  # only if a bank with the same bytes somehow lacks them; never guess
        raise InputFileError(f"题库中找不到考试的题目：{'、'.join(missing[:10])}", path=manifest.banks[0]["file"])
    return by_id


# --- styles ------------------------------------------------------------------
@dataclass(frozen=True)
class Styles:
    body_font: str
    bold_font: str
    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    option: ParagraphStyle
    note: ParagraphStyle
    warn: ParagraphStyle
    cell: ParagraphStyle
    cell_head: ParagraphStyle
    big: ParagraphStyle


@lru_cache(maxsize=1)
def styles() -> Styles:
    """Register the fonts and build the paragraph styles, once per process."""
    body_font, bold_font = fonts.register_pdf_fonts()
    # Options hang: a wrapped line continues under the text, not under "A．".
    label = max(stringWidth(option_label(i), bold_font, 10) for i in range(len(LETTERS)))

    def style(name: str, font: str, size: float, leading: float, **extra) -> ParagraphStyle:
        # wordWrap="CJK": Chinese lines may break between any two characters.
        return ParagraphStyle(f"feedback-{name}", fontName=font, fontSize=size, leading=leading, wordWrap="CJK", **extra)

    return Styles(
        body_font=body_font,
        bold_font=bold_font,
        title=style("title", bold_font, 16, 22, alignment=TA_CENTER, spaceAfter=2),
        subtitle=style("subtitle", bold_font, 12, 16, alignment=TA_CENTER),
        heading=style("heading", bold_font, 12, 17, spaceBefore=10, spaceAfter=4),
        body=style("body", body_font, 10, 15.5),
        option=style("option", body_font, 10, 15, leftIndent=14 + label, firstLineIndent=-label),
        note=style("note", body_font, 9, 13.5, textColor=colors.HexColor("#404040")),
        warn=style("warn", bold_font, 10, 15, textColor=colors.HexColor("#9C5700")),
        cell=style("cell", body_font, 9, 12.5),
        cell_head=style("cell-head", bold_font, 9, 12.5),
        big=style("big", bold_font, 20, 24),
    )


class _Para(CJKParagraph):
    """A Paragraph that keeps its line breaks for the width it was last wrapped at.

    ``KeepTogether`` wraps a whole question to see whether it fits, then the
    frame wraps each paragraph again to place it. Breaking Chinese text
    measures every character, so the second pass reuses the first's lines
    (same text, same width, same result). Splitting makes new paragraphs,
    which wrap afresh.
    """

    _wrapped: tuple[float, float, object, list[float]] | None = None

    def wrap(self, availWidth, availHeight):  # noqa: N803 (reportlab's names)
        if self._wrapped is not None and self._wrapped[0] == availWidth:
            _, self.height, self.blPara, self._wrapWidths = self._wrapped
            self.width = availWidth
            return self.width, self.height
        width, height = super().wrap(availWidth, availHeight)
        self._wrapped = (availWidth, height, self.blPara, self._wrapWidths)
        return width, height


def _table(rows: list[list], widths: list[float], commands: list[tuple], **options) -> Table:
    # Table's own default font is Helvetica, which would end up in the file
    # even for empty cells: name ours.
    table = Table(rows, colWidths=widths, **options)
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), styles().body_font), *commands]))
    return table


#: Grid tables: a header row, then plain-string number cells set right-aligned
#: (plain strings cost far less to lay out than Paragraphs, and never wrap).
_GRID_TABLE = (
    ("GRID", (0, 0), (-1, -1), 0.4, GRID),
    ("BACKGROUND", (0, 0), (-1, 0), HEAD_FILL),
    ("FONTSIZE", (1, 1), (-1, -1), 9),
    ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
)


def _pts(value: float) -> str:
    # Proportional scoring gives thirds; two decimals are enough on paper.
    return format_points(round(float(value), 2))


def _percent(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.0%}"


# --- the story ---------------------------------------------------------------
def _header_block(results: ExamResults, student: StudentRow, st: Styles) -> list[Flowable]:
    name = _printable(student.name) or "（名单中无姓名）"
    cells = [
        ("姓名", name), ("准考证号", _printable(student.student_id)),
        ("班级", _printable(student.klass) or "—"), ("试卷类型", student.variant or "—"),
    ]
    row = []
    for label, value in cells:
        # Roster text may hold characters Noto Sans SC lacks (𠮷): fallback fonts per run.
        row += [_Para(escape(label), st.cell_head), _Para(fonts.markup_runs(value, st.body_font), st.cell)]
    widths = [14 * mm, 36 * mm, 18 * mm, 34 * mm, 12 * mm, 30 * mm, 18 * mm, 12 * mm]
    widths[-1] = TEXT_WIDTH - sum(widths[:-1])
    info = _table(
        [row], widths,
        [("BOX", (0, 0), (-1, -1), 0.5, GRID), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
         ("BACKGROUND", (0, 0), (0, 0), HEAD_FILL), ("BACKGROUND", (2, 0), (2, 0), HEAD_FILL),
         ("BACKGROUND", (4, 0), (4, 0), HEAD_FILL), ("BACKGROUND", (6, 0), (6, 0), HEAD_FILL)],
    )
    return [_Para(markup(results.manifest.title), st.title),
            _Para("成绩反馈", st.subtitle),
            Spacer(0, 6), info]


def _provisional(results: ExamResults, row: int) -> bool:
    student = results.students[row]
    return bool(student.flags) or bool(np.isnan(results.scores[row]).any()) or not student.in_stats


def _score_block(results: ExamResults, row: int, st: Styles, show_rank: bool, cohort: Cohort) -> list[Flowable]:
    student = results.students[row]
    full = float(results.max_points.sum())
    group_key, group_label = cohort.group(row)
    group_mean = cohort.mean_total(group_key)
    provisional = _provisional(results, row)
    note = "（暂定）" if provisional else ""
    percent = student.total / full if full else math.nan
    standing = f"得分率 {_percent(percent)}"
    if show_rank:
        standing += f"<br/>{escape(rank_text(results, row, cohort))}{note}"
    summary = [
        [_Para(f"{escape(_pts(student.total))} <font size=11>/ {escape(_pts(full))} 分{note}</font>", st.big),
         _Para(standing, st.body),
         _Para(
             f"{group_label} {escape(_pts(group_mean))} 分" if group_mean is not None else f"{group_label} —",
             st.body,
         )],
    ]
    block: list[Flowable] = [
        _Para("总分", st.heading),
        _table(summary, [60 * mm, 60 * mm, TEXT_WIDTH - 120 * mm], [("VALIGN", (0, 0), (-1, -1), "MIDDLE")]),
    ]
    rows: list[list] = [[_Para(h, st.cell_head) for h in ("大题", "得分", "满分", "得分率")]]
    for index, section in enumerate(results.manifest.sections):
        possible = sum(q.points for q in results.questions if q.section == index)
        earned = student.sections[index]
        rows.append([_Para(markup(section.title), st.cell), _pts(earned), _pts(possible),
                     _percent(earned / possible if possible else math.nan)])
    block += [Spacer(0, 4), _table(rows, [TEXT_WIDTH - 66 * mm, 22 * mm, 22 * mm, 22 * mm], _GRID_TABLE, hAlign="LEFT")]
    if student.by_hand:
        block += [Spacer(0, 4), _Para(by_hand_text(student.by_hand), st.note)]
    if provisional:
        block += [Spacer(0, 6), _Para(
            f"注意：你的答题卡有待复核的题目，以上总分{'和名次' if show_rank else ''}是暂定成绩，复核后可能变化。待复核：",
            st.warn)]
        messages = student.flags or ["有题目未能评分"]
        block += [_Para("· " + markup(_printable(message)), st.note) for message in messages]
    return block


def topic_chart(rates: list[TopicRate], group_label: str, width: float) -> Drawing:
    """Horizontal bars per topic: the student's score rate above the group's."""
    st = styles()
    label_width, value_room = 42 * mm, 14 * mm
    bar_height, row_height = 5.5, 17.0
    legend_height, scale_height = 13.0, 10.0  # legend on top, then the 0 % / 50 % / 100 % scale
    plot_width = width - label_width - value_room
    plot_top = row_height * len(rates) + 4
    height = plot_top + scale_height + legend_height
    drawing = Drawing(width, height)
    x0 = label_width
    for k, (label, color) in enumerate((("本人", STUDENT_COLOR), (group_label, GROUP_COLOR))):
        lx = x0 + k * 26 * mm
        drawing.add(Rect(lx, height - 8, 8, 6, fillColor=color, strokeColor=None))
        drawing.add(String(lx + 11, height - 7.5, label, fontName=st.body_font, fontSize=8))
    for tick in (0.0, 0.5, 1.0):  # light guides at 0 %, 50 %, 100 %
        x = x0 + plot_width * tick
        drawing.add(Line(x, 2, x, plot_top, strokeColor=colors.HexColor("#DDDDDD"), strokeWidth=0.5))
        drawing.add(String(x, plot_top + 3, f"{tick:.0%}", fontName=st.body_font, fontSize=6.5,
                           textAnchor="middle", fillColor=colors.grey))
    for index, rate in enumerate(rates):
        top = plot_top - row_height * index
        indent = 0 if rate.level == 1 else 8
        text = rate.label if rate.level == 1 else f"· {rate.label}"
        size = 8.5 if rate.level == 1 else 8
        font = st.bold_font if rate.level == 1 else st.body_font
        room = label_width - indent - 4
        while stringWidth(text, font, size) > room and len(text) > 1:
            text = text[:-2] + "…"  # a long topic name is cut, not run into the bars
        drawing.add(String(indent, top - 11, text, fontName=font, fontSize=size))
        for k, (value, color) in enumerate(((rate.student, STUDENT_COLOR), (rate.group, GROUP_COLOR))):
            y = top - 3 - bar_height * (k + 1) - k
            if not math.isnan(value):
                drawing.add(Rect(x0, y, max(plot_width * value, 0.8), bar_height, fillColor=color, strokeColor=None))
            drawing.add(String(x0 + plot_width * (0 if math.isnan(value) else value) + 3, y + 1, _percent(value),
                               fontName=st.body_font, fontSize=6.5))
    return drawing


def _topic_block(results: ExamResults, row: int, st: Styles, cohort: Cohort) -> list[Flowable]:
    rates = student_topic_rates(results, row, cohort)
    _, group_label = cohort.group(row)
    rows: list[list] = [[_Para(h, st.cell_head) for h in ("知识点", "题数", "本人得分率", group_label + "得分率")]]
    commands = list(_GRID_TABLE)
    for rate in rates:
        label = markup(rate.topic) if rate.level == 1 else "&nbsp;" * 6 + markup(rate.label)
        rows.append([_Para(label, st.cell_head if rate.level == 1 else st.cell),
                     str(rate.questions), _percent(rate.student), _percent(rate.group)])
        if not math.isnan(rate.student) and not math.isnan(rate.group) and rate.student < rate.group:
            commands.append(("TEXTCOLOR", (2, len(rows) - 1), (2, len(rows) - 1), colors.HexColor(WRONG_COLOR)))
    table = _table(rows, [TEXT_WIDTH - 78 * mm, 18 * mm, 30 * mm, 30 * mm], commands, repeatRows=1, hAlign="LEFT")
    return [CondPageBreak(60 * mm), _Para("各知识点得分率", st.heading), table, Spacer(0, 8),
            KeepTogether([topic_chart(rates, group_label, TEXT_WIDTH)])]


def _missed_block(question: MissedQuestion, st: Styles) -> KeepTogether:
    printed = question.printed
    # after a key correction (``papergen rekey``) the key in force, and the note that it was corrected
    key = set(printed.correction.shown if printed.correction is not None else printed.key)
    chosen = set(question.chosen)
    type_label = TYPE_LABELS_ZH.get(printed.type, printed.type)
    parts: list[Flowable] = [_Para(
        f"第 {question.number} 题（{type_label}）{GAP}<font color='{WRONG_COLOR}'>{question.outcome}</font>"
        f"{GAP}得分 {_pts(question.earned)} / {_pts(question.points)}", st.cell_head,
    ), _Para(markup(printed.stem), st.body)]
    for index, text in enumerate(printed.options):
        letter = LETTERS[index]
        line = escape(option_label(index)) + markup(text)
        if letter in key:
            line = f"<font color='{KEY_COLOR}'><b>{line}</b></font>"
        elif letter in chosen:
            line = f"<font color='{WRONG_COLOR}'>{line}</font>"
        parts.append(_Para(line, st.option))
    mine = question.chosen or "未作答"
    parts.append(_Para(
        f"你的答案：<font color='{WRONG_COLOR}'><b>{mine}</b></font>{GAP}"
        f"正确答案：<font color='{KEY_COLOR}'><b>{escape(key_text(printed))}</b></font>{GAP}知识点：{markup(printed.topic)}",
        st.body,
    ))
    explanation = markup(printed.explanation.strip()) if printed.explanation.strip() else "（暂无解析）"
    parts += [_Para(f"解析：{explanation}", st.note),
              HRFlowable(width="100%", thickness=0.4, color=GRID, spaceBefore=5, spaceAfter=6)]
    return KeepTogether(parts)


def _missed_section(results: ExamResults, row: int, printed: dict[str, PaperQuestion], st: Styles) -> list[Flowable]:
    missed = missed_questions(results, row, printed)
    block: list[Flowable] = [CondPageBreak(50 * mm), _Para(f"错题本（按试卷题号顺序，共 {len(missed)} 题）", st.heading)]
    if not missed:
        return block + [_Para("已评分的题目全部答对。", st.body)]
    block.append(_Para("选项顺序和字母与你的试卷一致；绿色为正确答案，红色为你选错的选项。", st.note))
    block.append(Spacer(0, 4))
    counts = Counter(q.section for q in missed)
    current = None
    for question in missed:
        if question.section != current:
            current = question.section
            title = results.manifest.sections[current].title
            block.append(_Para(f"{markup(title)}（{counts[current]} 题）", st.cell_head))
            block.append(Spacer(0, 3))
        block.append(_missed_block(question, st))
    return block


def feedback_story(
    results: ExamResults, row: int, printed: dict[str, PaperQuestion], *, show_rank: bool = False,
    cohort: Cohort | None = None,
) -> list[Flowable]:
    """The flowables of one student's feedback, in order; the rank only with ``show_rank``."""
    st = styles()
    student = results.students[row]
    cohort = cohort or Cohort(results)
    return (_header_block(results, student, st) + _score_block(results, row, st, show_rank, cohort)
            + _topic_block(results, row, st, cohort) + _missed_section(results, row, printed, st))


def _furniture(canvas, doc, *, left: str, right: str) -> None:
    st = styles()
    canvas.saveState()
    canvas.setFont(st.body_font, FURNITURE_SIZE)
    fonts.draw_runs(canvas, PAGE_WIDTH - MARGIN_SIDE, HEADER_BASELINE, right, st.body_font, FURNITURE_SIZE,
                    anchor="right")
    room = TEXT_WIDTH - fonts.runs_width(right, st.body_font, FURNITURE_SIZE) - 12
    while stringWidth(left, st.body_font, FURNITURE_SIZE) > room and len(left) > 1:
        left = left[:-2] + "…"
    canvas.drawString(MARGIN_SIDE, HEADER_BASELINE, left)
    canvas.setLineWidth(0.4)
    canvas.line(MARGIN_SIDE, HEADER_BASELINE - 2.5 * mm, PAGE_WIDTH - MARGIN_SIDE, HEADER_BASELINE - 2.5 * mm)
    canvas.restoreState()
    draw_page_number(canvas, canvas.getPageNumber(), FOOTER_BASELINE)


def feedback_pdf(
    results: ExamResults, row: int, printed: dict[str, PaperQuestion], *, show_rank: bool = False,
    sheet: tuple[StudentSheets, list[DrawnPage]] | None = None, cohort: Cohort | None = None,
) -> bytes:
    """The feedback PDF of ``results.students[row]`` (deterministic: the same bytes every run).

    ``sheet``: the student's annotated answer sheet (``report.annotate``),
    added after the feedback, a page per sheet page that could be drawn.
    ``cohort``: the run's ``Cohort``, shared by all its PDFs (made here if not given).
    """
    st = styles()
    student = results.students[row]
    name = _printable(student.name)
    title = " ".join(_printable(results.manifest.title).split())
    buffer = io.BytesIO()

    def furniture(canvas, document) -> None:
        _furniture(canvas, document, left=f"{title}　成绩反馈",
                   right=f"{name}　{_printable(student.student_id)}".strip())

    doc = single_frame_document(
        buffer, side=MARGIN_SIDE, top=MARGIN_TOP, bottom=MARGIN_BOTTOM, frame_width=TEXT_WIDTH,
        title=f"{title} 成绩反馈 {name}".strip(), subject=f"准考证号 {_printable(student.student_id)}",
        font=st.body_font, size=10, on_page=furniture,
    )
    story = feedback_story(results, row, printed, show_rank=show_rank, cohort=cohort)
    if sheet is not None:
        student_sheets, drawn = sheet
        story += [
            flowable for page in drawn if page.jpeg is not None
            for flowable in (PageBreak(), SheetFlowable(page, student_sheets, results.manifest))
        ]
    doc.build(story, canvasmaker=PageCountingCanvas)
    return buffer.getvalue()


def _skipped_line(student: StudentRow, reason: str) -> str:
    name = _printable(student.name)
    return f"{student.student_id} {name}：{reason}" if name else f"{student.student_id}：{reason}"


#: Fewer PDFs than this are laid out in this process: starting worker processes costs more.
PARALLEL_FROM = 16


@dataclass
class _FeedbackContext:
    """What every feedback PDF of one run shares, and nothing per student; sent once to each worker process.

    Not the results: at 100,000 students they pickle to over 100 MB, sent to
    every worker. The cohort's figures go with each job (``_FeedbackJob``).
    """

    template: ExamResults  # the exam (manifest, questions, key changes) without a student
    bank_questions: dict[str, Question]
    show_rank: bool
    papers: dict[str, dict[str, PaperQuestion]] = field(default_factory=dict)  # variant → printed questions

    def printed(self, variant: str) -> dict[str, PaperQuestion]:
        if variant not in self.papers:
            self.papers[variant] = _printed_paper(self.template, self.bank_questions, variant)
        return self.papers[variant]


@dataclass(frozen=True)
class _FeedbackJob:
    """One student's feedback PDF: their row of the results and what of the cohort it shows."""

    student: StudentRow
    scores: np.ndarray  # (n_questions,)
    choices: list[str | None]
    cohort: _StudentCohort
    sheets: StudentSheets | None = None  # the annotated sheet to add (``--with-sheet``)

    def results(self, template: ExamResults) -> ExamResults:
        """The one-student results its PDF is laid out from (the student is row 0)."""
        return dataclasses.replace(template, students=[self.student], scores=self.scores[None, :],
                                   choices=[self.choices])


def _feedback_job(job: _FeedbackJob, context: _FeedbackContext) -> tuple[bytes, list[str]]:
    """One student's PDF: its bytes and the sheet pages that could not be drawn (the parent writes the file)."""
    results = job.results(context.template)
    sheet = None
    missing: list[str] = []
    if job.sheets is not None:
        drawn = draw_pictures(job.sheets, results.manifest)
        sheet = (job.sheets, drawn)
        missing = [f"{page.picture.where}（{job.sheets.student_id}）：{page.problem}" for page in drawn if page.jpeg is None]
    pdf = feedback_pdf(
        results, 0, context.printed(job.student.variant), show_rank=context.show_rank, sheet=sheet, cohort=job.cohort
    )
    return pdf, missing


def _printed_paper(results: ExamResults, bank_questions: dict[str, Question], variant: str) -> dict[str, PaperQuestion]:
    """Bank id → the question as printed on ``variant``, with the keys corrected since (``papergen rekey``)."""
    paper = paper_for_variant(results.manifest, bank_questions, variant)
    paper = corrected_paper(paper, key_corrections(results.manifest, results.key_changes, variant), "")
    return {q.id: q for q in paper.questions}


def write_feedback(
    results: ExamResults, outdir: str | Path, *, workers: int | None = None, show_rank: bool = False,
    sheets: Sequence[StudentSheets] = (), rows: Sequence[int] | None = None,
) -> FeedbackResult:
    """Write one feedback PDF per student who sat the exam into ``outdir``.

    ``rows``: only these rows of ``results.students`` (default: every row);
    they are still compared with the whole cohort.

    The PDFs show no rank unless ``show_rank`` (see the module docstring).
    ``sheets`` (``annotate.plan_annotations(...).students``): each student's
    annotated answer sheet is added as the last page(s) of their PDF; a page
    whose scan cannot be drawn is left out and named in ``sheets_unavailable``.

    Rows without a usable sheet (absent, no sheet, unreadable or duplicated
    准考证号, unknown variant) get none; ``skipped`` says who and why.
    ``warnings`` names each student whose name or class has a character no
    font can print, with their roster row.
    The banks are checked before anything is written. With ``workers`` > 1
    (default: every core) and enough students, the PDFs are laid out in
    worker processes (``core.executor``); this process writes each file,
    atomically, byte for byte what a serial run writes. A job carries one
    student's row and the cohort figures their PDF shows (``Cohort`` is
    worked out once, here): about 2 kB, where the whole results of 100,000
    students pickle to over 100 MB.

    Raises
    ------
    InputFileError
        A bank the exam was built from is missing or has changed.
    OutputError
        ``outdir`` or a file in it cannot be written.
    """
    outdir = Path(outdir)
    bank_questions = exam_questions(results.manifest)
    atomic.output_folder(outdir)
    styles()  # fonts (prepared once per machine) and styles, before any PDF
    jobs: list[tuple[int, str, str]] = []
    skipped: list[str] = []
    warnings: list[str] = []
    for row in range(len(results.students)) if rows is None else rows:
        student = results.students[row]
        reason = skip_reason(results, row)
        if reason is not None:
            line = _skipped_line(student, reason)
            if line not in skipped:  # a duplicated 准考证号 has a row per sheet: say it once
                skipped.append(line)
            continue
        path = outdir / safe_filename(student.student_id, student.name)
        if path.parent != outdir:  # safe_filename never allows this; a guard, not a code path
            raise OutputError("成绩反馈文件名不安全", path=path)
        jobs.append((row, student.variant, str(path)))
        place = f"名单第 {student.roster_row} 行" if student.roster_row else f"准考证号 {student.student_id}"
        warnings += fonts.person_warnings(place, _printable(student.name), _printable(student.klass))
    workers = workers or os.cpu_count() or 1
    kind = "processes" if len(jobs) >= PARALLEL_FROM else "serial"
    context = _FeedbackContext(_without_students(results), bank_questions, show_rank)
    files = [Path(path) for _, _, path in jobs]
    unavailable: list[str] = []
    with run_jobs(_feedback_job, _feedback_jobs(results, [row for row, _, _ in jobs], sheets), kind=kind,
                  workers=workers, context=context, chunksize=4) as pdfs:
        for path, (pdf, missing) in zip(files, pdfs):
            atomic.write_bytes(path, pdf)
            unavailable += missing
    return FeedbackResult(files, skipped, warnings, unavailable)


def _without_students(results: ExamResults) -> ExamResults:
    """``results`` without a student: what every PDF shares (``_FeedbackContext.template``)."""
    return dataclasses.replace(
        results, students=[], scores=np.zeros((0, len(results.questions))), choices=[], review=[], audit=[]
    )


def _feedback_jobs(results: ExamResults, rows: Sequence[int], sheets: Sequence[StudentSheets]) -> Iterator[_FeedbackJob]:
    """A job per row, made as the executor takes them; the cohort is worked out once, here."""
    cohort = Cohort(results)
    by_id = {s.result_id: s for s in sheets}
    for row in rows:
        student = results.students[row]
        yield _FeedbackJob(student, results.scores[row].copy(), results.choices[row], cohort.for_student(row),
                           by_id.get(student.student_id))


__all__ = [
    "Cohort",
    "FeedbackResult",
    "by_hand_text",
    "MissedQuestion",
    "TopicRate",
    "display_letters",
    "exam_questions",
    "missed_questions",
    "rank_text",
    "safe_filename",
    "skip_reason",
    "student_topic_rates",
    "write_feedback",
]
