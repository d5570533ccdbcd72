"""Grading accuracy against a simulation's ``truth.csv``.

``evaluate(results_dir, truth_csv)`` compares every graded page with what
the simulator drew and counts, per sheet: exact (identity and every answer
right, no flag beyond the deliberately doubtful marks), flagged beyond the
deliberate cases, and *silent errors* — a reading that differs from the
truth with no flag to warn anyone, or a deliberately doubtful mark that was
decided instead of flagged. Silent errors are the number that must be zero.
A doubtful mark that ``truth.csv`` records as erased by the device (a
black-and-white page kept nothing a person could see of it) is counted
apart, ``erased_by_device``, and listed, rather than as a silent error.
``Accuracy.pages`` keeps each page's outcome, to break the counts down (by
``truth.csv``'s ``journey``, say).
"""

from __future__ import annotations

import csv
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from papergen.grade.store import (
    PageRow,
    all_pages,
    page_flags,
    page_marks,
    reading_store,
)

IDENTITY_FLAGS = {"id-unreadable", "id-incomplete", "id-missing", "id-mismatch"}
VARIANT_FLAGS = {"variant-unreadable", "variant-missing", "variant-mismatch", "variant-unknown"}
#: Sheet flags whose message is that the sheet's blanks may be fills the device lost: a question read blank on such a
#: sheet was warned about (the reviewer is told to look at the original or rescan it), not read wrong silently.
BLANKS_IN_DOUBT = {"blank-sheet", "few-answers"}


@dataclass(frozen=True)
class PageOutcome:
    """How one truth row fared."""

    file: str
    page: int
    outcome: str  # exact | flagged (read, with flags beyond the deliberate ones) | refused (not read) | silent
    wrong: int = 0  # answers read wrong without a flag (deliberately doubtful marks decided included)
    status: str = "read"  # the page's status in the store (rejected | not-a-sheet | … when refused)
    black_and_white: bool = False  # read from a black-and-white (1-bit) scan


@dataclass
class Accuracy:
    sheets: int = 0
    exact: int = 0
    flagged_beyond: int = 0  # sheets with a flag that was not a deliberate doubtful mark
    silent_errors: int = 0  # sheets with at least one unflagged wrong reading
    questions: int = 0
    question_errors: int = 0
    deliberate: int = 0  # deliberately doubtful marks
    deliberate_flagged: int = 0
    missing_pages: int = 0  # truth rows with no graded page
    lost_black_and_white: int = 0  # silent errors where the mark left no trace on a black-and-white scan
    erased_by_device: int = 0  # doubtful marks truth.csv says the device left no trace of, read as what is left
    details: list[str] = field(default_factory=list)
    pages: list[PageOutcome] = field(default_factory=list)


def evaluate(results_dir: str | Path, truth_csv: str | Path) -> Accuracy:
    truth_path = Path(truth_csv)
    with reading_store(results_dir) as db:
        by_name: dict[tuple[str, int], PageRow] = {}
        report = Accuracy()
        for page in all_pages(db):
            if page.part > 1:  # every simulated page holds one sheet: a second one read there is a phantom
                if page.status == "read":
                    report.silent_errors += 1
                    report.details.append(f"{Path(page.path).name}#{page.page}: 多读出了一张答题卡（第 {page.part} 张）")
                continue
            by_name[(Path(page.path).name, page.page)] = page
        with truth_path.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                report.sheets += 1
                key = (row["file"], int(row["page"]))
                if key not in by_name:
                    report.missing_pages += 1
                    report.silent_errors += 1
                    report.details.append(f"{key}: 没有评阅记录")
                    report.pages.append(PageOutcome(key[0], key[1], "silent", status=""))
                    continue
                _compare_page(db, row, by_name[key], report)
    return report


def _compare_page(db: sqlite3.Connection, row: dict, page: PageRow, report: Accuracy) -> None:
    where = f"{row['file']}#{row['page']}"
    # Every flag the reader raised, resolved or not: the question is what the reader saw.
    sheet_reasons = {flag.reason for flag in page_flags(db, page.key, open_only=False) if flag.number == 0}
    if page.status != "read":
        report.flagged_beyond += 1
        report.details.append(f"{where}: 页面状态 {page.status}")
        report.pages.append(PageOutcome(row["file"], int(row["page"]), "refused", status=page.status))
        return
    ambiguous = {}
    for part in filter(None, row["ambiguous"].split(";")):
        number, reason = part.split(":")
        ambiguous[int(number)] = reason
    # doubtful marks a black-and-white device left no trace of (older truth.csv files have no such column)
    erased = {int(number) for number in filter(None, (row.get("erased") or "").split(";"))}
    silent = False
    beyond = False
    if bool(int(row["absent"])) != page.absent:
        silent = True
        report.details.append(f"{where}: 缺考读错")
    # truth.csv files written before the 违纪 box have no column for it
    drawn_violation = bool(int(row.get("violation") or 0))
    read_violation = "violation-marked" in sheet_reasons
    if drawn_violation and not read_violation:
        silent = True
        report.details.append(f"{where}: 违纪标记未读出")
    elif read_violation and not drawn_violation:
        beyond = True
        report.details.append(f"{where}: 读出了没有画上的违纪标记")
    sheet_reasons.discard("violation-marked")  # the expected flag of a 违纪 sheet, not a reading beyond it
    if row["student_id"] != (page.student_id or ""):
        if sheet_reasons & IDENTITY_FLAGS:
            beyond = True
            report.details.append(f"{where}: 准考证号待复核 {sorted(sheet_reasons & IDENTITY_FLAGS)}")
        else:
            silent = True
            report.details.append(f"{where}: 准考证号读成 {page.student_id}，应为 {row['student_id']}")
    if not int(row["absent"]) and row["variant"] != (page.variant or ""):
        if sheet_reasons & VARIANT_FLAGS:
            beyond = True
            report.details.append(f"{where}: 试卷类型待复核 {sorted(sheet_reasons & VARIANT_FLAGS)}")
        else:
            silent = True
            report.details.append(f"{where}: 试卷类型读成 {page.variant}，应为 {row['variant']}")
    marks = {mark.number: mark for mark in page_marks(db, page.key)}
    lost = False
    wrong = 0
    for column, expected in row.items():
        if not column.isdigit() or expected is None:
            continue
        number = int(column)
        if number not in marks:
            continue
        mark = marks[number]
        report.questions += 1
        if number in ambiguous:
            report.deliberate += 1
            if mark.outcome == "flagged":
                report.deliberate_flagged += 1
            elif number in erased and set(mark.letters) <= set(expected):
                # nothing a person could see is left of the doubtful mark, and the reading is what is left of the
                # question: not the grader's error, and not hidden either
                report.erased_by_device += 1
                report.details.append(f"{where} 第 {number} 题：故意模糊（{ambiguous[number]}）的笔迹被设备抹去，读成 {mark.letters or '空白'}")
            else:
                silent = True
                # Did the doubtful mark leave any trace at all? On a thresholded
                # scan a light mark can vanish; no reader could see it.
                drawn = [ord(letter) - 65 for letter in expected if letter not in mark.letters]
                if page.black_and_white and drawn and mark.left_no_trace(drawn):
                    lost = True
                report.question_errors += 1
                wrong += 1
                report.details.append(f"{where} 第 {number} 题：故意模糊（{ambiguous[number]}）却读成 {mark.letters or '空白'}")
            continue
        if mark.outcome == "flagged":
            beyond = True
            report.details.append(f"{where} 第 {number} 题：多余的待复核（应为 {expected or '空白'}）")
        elif mark.outcome == "blank" and sheet_reasons & BLANKS_IN_DOUBT:
            if expected:
                beyond = True
                report.details.append(f"{where} 第 {number} 题：读成 空白，应为 {expected}（整卡待复核：{sorted(sheet_reasons & BLANKS_IN_DOUBT)[0]}）")
        elif mark.letters != expected:
            silent = True
            report.question_errors += 1
            wrong += 1
            report.details.append(f"{where} 第 {number} 题：读成 {mark.letters or '空白'}，应为 {expected or '空白'}")
    other_sheet_flags = sheet_reasons - IDENTITY_FLAGS - VARIANT_FLAGS
    if other_sheet_flags:
        beyond = True
        report.details.append(f"{where}: 整卡待复核 {sorted(other_sheet_flags)}")
    report.silent_errors += silent
    report.lost_black_and_white += silent and lost
    report.flagged_beyond += beyond and not silent
    report.exact += not silent and not beyond
    outcome = "silent" if silent else "flagged" if beyond else "exact"
    report.pages.append(PageOutcome(row["file"], int(row["page"]), outcome, wrong, black_and_white=page.black_and_white))
