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

``iter_student_results`` yields the same results in the same order without
holding them (``results --format csv`` at 100,000 students): each sheet's
part is spilled to a temporary SQLite file that sorts them by 准考证号.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

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
    # Pages read from a black-and-white scan: there a light tick and erasure residue both come out
    # as a few black pixels, so a misread may carry no flag — the result says so wherever it is shown.
    black_and_white: list[str] = field(default_factory=list)

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
    print and which are most of the memory at 100,000 students. Sorted by
    准考证号 (then pages); ``iter_student_results`` gives the same results in
    the same order without holding them.
    """
    results: dict[str, StudentResult] = {}
    for key, part in _sheet_parts(iter_settled_sheets(db, manifest) if sheets is None else sheets, manifest, detail):
        if key in results:
            _merge(results[key], part)
        else:
            results[key] = part
    low, high = exam_score_range(manifest)
    for result in results.values():
        _check_range(result, low, high)
    return sorted(results.values(), key=lambda r: (r.student_id, r.pages))


def iter_student_results(
    db: sqlite3.Connection, manifest: Manifest, sheets: Iterable[SettledSheet] | None = None
) -> Iterator[StudentResult]:
    """``student_results(db, manifest, sheets, detail=False)``, one result at a time, in the same order.

    For 100,000 students and more (``results --format csv``): each sheet's
    part of a result is spilled, as it is settled, to a temporary SQLite
    file, which sorts them by 准考证号 on disk; the parts of one result are
    then merged and yielded. Memory does not grow with the results. A total
    out of range raises when its result comes, after the ones before it were
    yielded: a caller that must print all or nothing spools its output.
    """
    low, high = exam_score_range(manifest)
    with tempfile.TemporaryDirectory(prefix="papergen-results-") as folder:
        spill = sqlite3.connect(Path(folder) / "parts.sqlite")
        try:
            spill.execute("PRAGMA journal_mode = OFF")
            spill.execute("PRAGMA synchronous = OFF")
            spill.execute("CREATE TABLE part (student_id TEXT, key TEXT, seq INTEGER, result BLOB)")
            parts = _sheet_parts(iter_settled_sheets(db, manifest) if sheets is None else sheets, manifest, detail=False)
            spill.executemany(
                "INSERT INTO part VALUES (?, ?, ?, ?)",
                ((part.student_id, key, seq, pickle.dumps(part)) for seq, (key, part) in enumerate(parts)),
            )
            # (准考证号, key) orders as (准考证号, pages): a 准考证号 has one key, or (on two sheets)
            # one key per page, "号@page"; SQLite compares text as Python does (UTF-8 bytes).
            current_key, current = None, None
            for key, blob in spill.execute("SELECT key, result FROM part ORDER BY student_id, key, seq"):
                part = pickle.loads(blob)
                if key == current_key:
                    _merge(current, part)
                    continue
                if current is not None:
                    _check_range(current, low, high)
                    yield current
                current_key, current = key, part
            if current is not None:
                _check_range(current, low, high)
                yield current
        finally:
            spill.close()


def _sheet_parts(
    sheets: Iterable[SettledSheet], manifest: Manifest, detail: bool
) -> Iterator[tuple[str, StudentResult]]:
    """Each read sheet's own part of a result, with the key of the result it adds to (``_merge``)."""
    for sheet in sheets:
        if not sheet.read or sheet.void:
            continue
        page, sid = sheet.page, sheet.student_id
        # A 准考证号 on two sheets: every page carrying it keeps its own row (its
        # other pages too: which sheet they belong with is the open question);
        # adding them up would give one total (over full marks) to two sheets.
        duplicate = sheet.duplicate_message is not None
        key = f"{sid}@{page.where}" if (sid is None or duplicate) else sid
        part = StudentResult(
            sid or f"?{page.where}", sid is not None, sheet.variant, sheet.absent, 0.0,
            [0.0] * len(manifest.sections), 0, 0, duplicate=duplicate, violation=sheet.violation, by_hand=sheet.by_hand,
        )
        if duplicate and not any(item.reason == "duplicate-id" for item in sheet.open_items):
            part.flags.append(sheet.duplicate_message)
        part.pages.append(page.where)
        if page.black_and_white and not sheet.absent:  # 缺考 has no answers a device could have lost
            part.black_and_white.append(page.where)
        for mark in sheet.marks:
            if detail and mark.question_id is not None:
                part.choices[mark.question_id] = mark.bank_letters if mark.outcome != "flagged" else None
            if mark.score is None:
                if not sheet.absent and not mark.dropped:
                    part.unscored += 1
                continue
            part.total += mark.score
            part.sections[mark.section] += mark.score
            part.answered += mark.outcome == "answer"
            if detail:
                part.scores[mark.question_id] = mark.score
        part.flags += [
            (f"第 {item.number} 题：" if item.number and not item.message.startswith(f"第 {item.number} 题") else "")
            + item.message
            for item in sheet.open_items
        ]
        yield key, part


def _merge(result: StudentResult, part: StudentResult) -> None:
    """Add another page of the same sheet (``part``, from ``_sheet_parts``) to ``result``."""
    result.pages += part.pages
    result.black_and_white += part.black_and_white
    result.absent = result.absent or part.absent
    # a 违纪 mark stays the student's status even once a person has looked at its flag
    result.violation = result.violation or part.violation
    result.variant = result.variant or part.variant
    result.by_hand += part.by_hand
    result.total += part.total
    result.sections = [a + b for a, b in zip(result.sections, part.sections)]
    result.answered += part.answered
    result.unscored += part.unscored
    result.scores.update(part.scores)
    result.choices.update(part.choices)
    result.flags += part.flags


def _check_range(result: StudentResult, low: float, high: float) -> None:
    if not low - 1e-9 <= result.total <= high + 1e-9:
        raise ResultOutOfRange(
            f"内部检查未通过：{printable(result.student_id, 40)} 的总分 {result.total:g} 超出本考试可能的范围 "
            f"{low:g}–{high:g}（页：{'、'.join(result.pages)}）；没有输出任何成绩",
            hint="这是 papergen 的错误，请把成绩文件夹报告给开发者",
        )


# -- output ---------------------------------------------------------------------------


HEADERS = ["准考证号", "试卷类型", "状态", "总分"]
#: The column that marks a result read (in part) from a black-and-white scan, and its mark.
BLACK_AND_WHITE = "黑白扫描"
BLACK_AND_WHITE_YES = "是"


#: Below the table when some results came from black-and-white scans.
BLACK_AND_WHITE_NOTE = (
    "{n} 份的“黑白扫描”为“是”：其答题卡（至少一页）是黑白（二值）扫描，浅勾、浅涂与擦痕都只剩几个黑点，"
    "无从区分，明确填涂旁的这类痕迹一律待复核；更浅的可能整个丢失，读成没有它的答案而不提示。"
    "请用灰度模式重扫这些页、以原文件名保存后再评（papergen grade 用同名文件的新扫描替换旧读取）"
)


def _headers(manifest: Manifest) -> list[str]:
    return HEADERS + [s.title for s in manifest.sections] + [BLACK_AND_WHITE, "待复核原因"]


def _row(result: StudentResult) -> list[str]:
    if result.shown_total is None:
        total, sections = STATUS_ABSENT, ["" for _ in result.sections]
    else:
        total = f"{result.total:g}" + ("*" if result.provisional else "")
        sections = [f"{s:g}" for s in result.sections]
    scan = BLACK_AND_WHITE_YES if result.black_and_white else ""
    return [result.student_id, result.variant or "", result.status, total, *sections, scan, "；".join(result.flags)]


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
    headers = _headers(manifest)
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
                    "unscored": r.unscored, "flags": r.flags, "pages": r.pages, "black_and_white": r.black_and_white,
                    "replaced": earlier(r),
                }
                for r in results
            ],
            ensure_ascii=False, indent=1,
        )
    if fmt == "csv":
        buffer = io.StringIO()
        write_results_csv(results, manifest, buffer)
        return buffer.getvalue()
    rows = [_row(r) for r in results]
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
    scanned = sum(1 for r in results if r.black_and_white)
    if scanned:
        lines.append(BLACK_AND_WHITE_NOTE.format(n=scanned))
    if history:
        lines.append(f"重新扫描（同名文件）替换了 {len(history)} 页较早的读取：")
        lines += [
            f"  {old.replaced_at} {terminal_text(old.path)} 第 {old.page} 页（原读取的准考证号 {old.student_id or '未识别'}）"
            for old in history
        ]
    return "\n".join(lines)


def write_results_csv(results: Iterable[StudentResult], manifest: Manifest, out: TextIO) -> None:
    """``format_results(…, "csv")`` written to ``out`` a row at a time (``results`` may be ``iter_student_results``)."""
    from papergen.core.excel_text import csv_text

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_text(h) for h in _headers(manifest)])
    for result in results:
        # Numbers stay numbers ("-0.5" is a score, not a formula); every text field is guarded.
        writer.writerow([csv_text(c) if not _is_number(c) else c for c in _row(result)])


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
