"""Each student's result, read back from the grading store: the one place it is computed.

``student_results`` is what ``papergen results``, report.xlsx, feedback PDFs,
trends and remedial papers all use, so they can never disagree about one
student. A student's sheet is every current page carrying their 准考证号,
one page of each sheet page (a multi-page sheet adds up its pages). Two
pages claiming the same 准考证号 and sheet page are two sheets: each keeps a
row of its own and both wait for a person; they are never added together.
A sheet whose 准考证号 could not be read is a row of its own too.

Totals only add questions that were scored; a sheet with any unscored
(flagged) question, or any open flag, needs review and its total is
provisional — never presented as final. An absent candidate (缺考) has no
total at all, not zero. A sheet the invigilator marked 违纪 keeps its total
(shown, with the status 违纪) but is left out of statistics and ranking like
缺考; its reading is flagged ``violation-marked`` and stays on the review
list, so a stray pencil mark never removes a student unnoticed. Every total is checked to lie between the exam's
lowest and highest possible score: outside it, papergen stops with an
internal error rather than print a wrong number.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from papergen.core.errors import PapergenError
from papergen.exam.manifest import Manifest
from papergen.exam.scoring import score_range
from papergen.grade.settle import SettledSheet, iter_settled_sheets
from papergen.grade.store import (
    UNFINISHED_WARNING,
    ReplacedReading,
    grading_finished,
    page_label,
    replaced_readings,
)
from papergen.sheet.code import printable

STATUS_GRADED = "已评"
STATUS_REVIEW = "待复核"
STATUS_ABSENT = "缺考"
STATUS_VIOLATION = "违纪"
#: The sheet flag that a marked 违纪 box raises (and that makes the status 违纪).
VIOLATION_REASON = "violation-marked"


class ResultOutOfRange(PapergenError):
    """A computed total outside what the exam allows: a bug, never shown as a score."""


@dataclass
class StudentResult:
    student_id: str  # 准考证号, or "?file#page" for a sheet with no readable number
    identified: bool  # the 准考证号 was read
    variant: str | None
    absent: bool
    total: float  # sum of scored questions (meaningless when absent: see ``shown_total``)
    sections: list[float]
    answered: int
    unscored: int  # questions flagged or on a sheet without a variant
    duplicate: bool = False  # another sheet carries the same 准考证号
    flags: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)  # bank question id → points, scored questions only
    choices: dict[str, str | None] = field(default_factory=dict)  # bank letters; "" blank; None flagged
    violation: bool = False  # 违纪 marked by the invigilator on one of its pages
    by_hand: int = 0  # answers and identity settled by a person (review page, --apply)

    @property
    def status(self) -> str:
        if self.absent and not self.flags:
            return STATUS_ABSENT
        if self.violation and not self.absent and self.identified and not self.duplicate:
            return STATUS_VIOLATION  # its flag keeps it on the review list
        if self.flags or self.unscored or self.duplicate or not self.identified:
            return STATUS_REVIEW
        return STATUS_GRADED

    @property
    def in_stats(self) -> bool:
        """Counted in averages, item statistics and ranking: a known candidate who sat the exam
        without a 违纪 mark, with a known variant."""
        return not self.absent and not self.violation and self.identified and not self.duplicate and self.variant is not None

    @property
    def provisional(self) -> bool:
        """The total may still change (shown with ``*``): open items, or unscored questions on a 违纪 sheet."""
        return not self.absent and (self.status == STATUS_REVIEW or (self.status == STATUS_VIOLATION and self.unscored > 0))

    @property
    def shown_total(self) -> float | None:
        """The total to show, or ``None`` for an absent candidate (缺考 is not zero)."""
        return None if self.absent else self.total


def exam_score_range(manifest: Manifest) -> tuple[float, float]:
    """The lowest and highest total any sheet of the exam can get."""
    low = high = 0.0
    for question in manifest.questions.values():
        q_low, q_high = score_range(manifest.sections[question.section].scoring, question.points)
        low, high = low + q_low, high + q_high
    return low, high


def student_results(
    db: sqlite3.Connection, manifest: Manifest, sheets: Iterable[SettledSheet] | None = None, *, detail: bool = True
) -> list[StudentResult]:
    """Every student's (and every unidentified sheet's) result from the store, with people's decisions applied.

    Sheets are seen through ``settle.iter_settled_sheets``: a 准考证号, 试卷类型,
    缺考 or answer settled by a person, and a corrected key, count here as in
    every output. A sheet set aside (the same sheet scanned twice) is not a
    result. Sheets are taken one at a time (``sheets``: the caller's own pass
    over the store, when it needs the sheets too); ``detail=False`` leaves out
    each student's per-question scores and choices, which ``results`` does not
    print and which are most of the memory at 100,000 students.
    """
    results: dict[str, StudentResult] = {}
    for sheet in iter_settled_sheets(db, manifest) if sheets is None else sheets:
        if not sheet.read or sheet.void:
            continue
        page, sid = sheet.page, sheet.student_id
        # A 准考证号 on two sheets: every page carrying it keeps its own row (its
        # other pages too: which sheet they belong with is the open question);
        # adding them up would give one total (over full marks) to two sheets.
        duplicate = sheet.duplicate_message is not None
        key = f"{sid}@{page.where}" if (sid is None or duplicate) else sid
        result = results.get(key)
        if result is None:
            result = results[key] = StudentResult(
                sid or f"?{page.where}", sid is not None, sheet.variant, sheet.absent, 0.0,
                [0.0] * len(manifest.sections), 0, 0, duplicate=duplicate,
            )
            if duplicate and not any(item.reason == "duplicate-id" for item in sheet.open_items):
                result.flags.append(sheet.duplicate_message)
        result.pages.append(page.where)
        result.absent = result.absent or sheet.absent
        # a 违纪 mark stays the student's status even once a person has looked at its flag
        result.violation = result.violation or sheet.violation
        result.variant = result.variant or sheet.variant
        result.by_hand += sheet.by_hand
        for mark in sheet.marks:
            if detail and mark.question_id is not None:
                result.choices[mark.question_id] = mark.bank_letters if mark.outcome != "flagged" else None
            if mark.score is None:
                if not sheet.absent and not mark.dropped:
                    result.unscored += 1
                continue
            result.total += mark.score
            result.sections[mark.section] += mark.score
            result.answered += mark.outcome == "answer"
            if detail:
                result.scores[mark.question_id] = mark.score
        result.flags += [
            (f"第 {item.number} 题：" if item.number and not item.message.startswith(f"第 {item.number} 题") else "")
            + item.message
            for item in sheet.open_items
        ]
    low, high = exam_score_range(manifest)
    for result in results.values():
        if not low - 1e-9 <= result.total <= high + 1e-9:
            raise ResultOutOfRange(
                f"内部检查未通过：{printable(result.student_id, 40)} 的总分 {result.total:g} 超出本考试可能的范围 "
                f"{low:g}–{high:g}（页：{'、'.join(result.pages)}）；没有输出任何成绩",
                hint="这是 papergen 的错误，请把成绩文件夹报告给开发者",
            )
    return sorted(results.values(), key=lambda r: (r.student_id, r.pages))


# -- output ---------------------------------------------------------------------------


HEADERS = ["准考证号", "试卷类型", "状态", "总分"]


def _row(result: StudentResult) -> list[str]:
    if result.shown_total is None:
        total, sections = STATUS_ABSENT, ["" for _ in result.sections]
    else:
        total = f"{result.total:g}" + ("*" if result.provisional else "")
        sections = [f"{s:g}" for s in result.sections]
    return [result.student_id, result.variant or "", result.status, total, *sections, "；".join(result.flags)]


def terminal_text(text: str) -> str:
    """Text safe for a terminal: control characters (escape sequences, newlines) become "?"."""
    return printable(text, limit=10_000)


def format_results(
    results: list[StudentResult], manifest: Manifest, fmt: str, history: Sequence[ReplacedReading] = ()
) -> str:
    """``results`` as a table (terminal), CSV (spreadsheets) or JSON (scripts).

    Nothing read from a scan reaches the output raw: the table has no control
    characters, CSV fields never start a formula.
    """
    from papergen.core.excel_text import csv_text

    headers = HEADERS + [s.title for s in manifest.sections] + ["待复核原因"]
    if fmt == "json":
        def earlier(result: StudentResult) -> list[dict]:
            # readings of this student's pages that a newer scan under the same name replaced
            return [
                {"replaced_at": old.replaced_at, "path": old.path, "page": old.page, "student_id": old.student_id}
                for old in history
                if any(where.startswith(page_label(old.path, old.page)) for where in result.pages)
            ]

        return json.dumps(
            [
                {
                    "student_id": r.student_id, "variant": r.variant, "status": r.status, "absent": r.absent,
                    "violation": r.violation,
                    "total": r.shown_total, "sections": None if r.absent else r.sections, "answered": r.answered,
                    "unscored": r.unscored, "flags": r.flags, "pages": r.pages, "replaced": earlier(r),
                }
                for r in results
            ],
            ensure_ascii=False, indent=1,
        )
    rows = [_row(r) for r in results]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([csv_text(h) for h in headers])
        # Numbers stay numbers ("-0.5" is a score, not a formula); every text field is guarded.
        writer.writerows([[csv_text(c) if not _is_number(c) else c for c in row] for row in rows])
        return buffer.getvalue()
    from papergen.bank.stats import display_width

    rows = [[terminal_text(c) for c in row] for row in rows]
    headers = [terminal_text(h) for h in headers]
    widths = [max(display_width(str(r[i])) for r in rows + [headers]) for i in range(len(headers) - 1)]
    lines = []
    for cells in [headers] + rows:
        padded = [c + " " * (widths[i] - display_width(c)) for i, c in enumerate(cells[:-1])]
        lines.append("  ".join(padded + [cells[-1]]).rstrip())
    lines.append(
        f"共 {len(results)} 份；带 * 的总分为暂定（有待复核的题）；缺考不计分、不计入平均；违纪照常计分，但不计入平均和排名"
    )
    if history:
        lines.append(f"重新扫描（同名文件）替换了 {len(history)} 页较早的读取：")
        lines += [
            f"  {old.replaced_at} {terminal_text(old.path)} 第 {old.page} 页（原读取的准考证号 {old.student_id or '未识别'}）"
            for old in history
        ]
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    try:
        float(text.rstrip("*"))
    except ValueError:
        return False
    return True


def results_text(db: sqlite3.Connection, manifest: Manifest, fmt: str) -> str:
    """What ``papergen results`` prints."""
    text = format_results(student_results(db, manifest, detail=False), manifest, fmt, replaced_readings(db))
    return text + "\n" + UNFINISHED_WARNING if fmt == "table" and not grading_finished(db) else text
