"""The audit trail as rows for report.xlsx's 审计 sheet: every decision a person took, undone ones too.

Two kinds of decision live in the store, both append-only: overrides (an
answer, a 准考证号, a 试卷类型, 缺考/违纪, a sheet set aside, a flag accepted,
taken on the review page or from an exported workbook) and key changes
(``papergen rekey``). ``audit_rows`` lists both, oldest first, with where
each applies in the words teachers use (the scan and page, the 题号 on the
student's paper and the bank id) and its state: in force (有效), taken back
(已撤销), or waiting for a person again because the page was scanned again
and now reads differently (重新扫描后待复核).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from papergen.bank.model import LETTERS
from papergen.exam.manifest import Manifest
from papergen.grade.results import StudentResult
from papergen.grade.settle import ReviewItem, review_queue
from papergen.grade.store import all_pages, key_changes, overrides, page_label
from papergen.report.keys import ACTIONS, change_state, changes_in_force

STATE_ACTIVE = "有效"
STATE_UNDONE = "已撤销"
STATE_REOPENED = "重新扫描后待复核"

#: What an override's ``field`` set, in words.
FIELD_NAMES = {
    "answer": "作答", "student_id": "准考证号", "variant": "试卷类型", "absent": "缺考", "violation": "违纪",
    "void": "作废答题卡", "ack": "确认无误",
}


@dataclass(frozen=True)
class AuditRow:
    """One decision, as the 审计 sheet shows it."""

    at: str  # UTC, ISO 8601
    grader: str
    kind: str  # override | key
    where: str  # "scan.jpg 第 1 页", or "答案更正" for a key change
    numbers: str  # 题号 on the paper(s): "A13" for a sheet's question, "A13/B17" for a key change, "" for the sheet
    question_id: str  # bank id, "" for a decision about the whole sheet
    student_id: str  # 准考证号 of the sheet ("" unread); "（全体）" for a key change
    what: str  # what was decided: "作答", "准考证号", "更正答案" …
    old: str  # an answer in the sheet's letters (the paper of 题号); a key in the bank's letters, said so
    new: str
    reason: str
    state: str  # 有效 | 已撤销 | 重新扫描后待复核; a key change also 已被后来的更正取代 | 已恢复印刷答案


def _reading_shown(reading: str) -> str:
    """An answer's machine reading ("outcome:letters", ``settle.mark_reading``) in words."""
    outcome, _, letters = reading.partition(":")
    if outcome == "flagged":
        return "未能判读"
    return letters if outcome == "answer" else "（空白）"


def _key_shown(text: str) -> str:
    """A key as the 审计 sheet shows it: letters are the bank's, and said so ("作废（不计分）" stays as it is)."""
    return f"{text}（题库字母）" if text[:1] in LETTERS and text[:1] else text


def _shown(value: str | None, field: str) -> str:
    if value is None:
        return ""
    if field == "answer" and value == "":
        return "（空白）"
    if field in ("absent", "violation", "void"):
        return {"1": "是", "0": "否"}.get(value, value)
    return value


def audit_rows(db: sqlite3.Connection, manifest: Manifest, review: Sequence[ReviewItem] | None = None) -> list[AuditRow]:
    """Every override and key change in the store, oldest first.

    ``review`` is the open review queue (``settle.review_queue``, read when
    not given): an active override shown there as an item's earlier decision
    no longer applies, because a rescan reads the page differently.
    """
    queue = review_queue(db, manifest) if review is None else review
    reopened = {item.previous.id for item in queue if item.previous is not None}
    pages = {(p.source, p.page, p.part): p for p in all_pages(db)}
    decisions = overrides(db, active_only=False)
    rows = []
    for o in decisions:
        page = pages.get(o.sheet)
        where = page.where if page is not None else page_label(Path(o.source).name, o.page)
        variant = page.variant if page is not None else None
        question_id = ""
        numbers = ""
        if o.number:
            numbers = f"{variant or '?'}{o.number}"
            if variant is not None:
                items = manifest.variant(variant).items
                question_id = items[o.number - 1].id if o.number <= len(items) else ""
        state = STATE_UNDONE if o.state != "active" else STATE_REOPENED if o.id in reopened else STATE_ACTIVE
        rows.append(AuditRow(
            at=o.at, grader=o.grader, kind="override", where=where, numbers=numbers, question_id=question_id,
            student_id=(page.student_id or "") if page is not None else "", what=FIELD_NAMES.get(o.field, o.field),
            old=_shown(o.old, o.field) if o.old is not None or o.field != "answer" else _reading_shown(o.reading),
            new=_shown(o.new, o.field), reason=o.reason, state=state,
        ))
    changes = key_changes(db, active_only=False)
    in_force = changes_in_force(manifest, changes)
    numbers_of: dict[str, list[str]] = {}
    for variant in manifest.variants:
        for item in variant.items:
            numbers_of.setdefault(item.id, []).append(f"{variant.name}{item.number}")
    for c in changes:
        state = change_state(c, in_force)
        rows.append(AuditRow(
            at=c.at, grader=c.grader, kind="key", where="答案更正", numbers="/".join(numbers_of.get(c.question_id, [])),
            question_id=c.question_id, student_id="（全体）", what=ACTIONS.get(c.action, c.action),
            old=_key_shown(c.old), new=_key_shown(" 或 ".join(c.answers)),
            reason=c.reason, state=state,
        ))
    return sorted(rows, key=lambda r: r.at)


def by_hand_line(results: Sequence[StudentResult]) -> str:
    """The last line of ``papergen results``' table: "人工判定 N 处（M 名考生）"."""
    counts = [result.by_hand for result in results]
    return f"人工判定 {sum(counts)} 处（{sum(1 for c in counts if c)} 名考生）"
