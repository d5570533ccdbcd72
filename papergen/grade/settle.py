"""What each sheet says once people have decided: readings + overrides + key changes.

The store keeps three kinds of facts apart: the machine's readings (rewritten
when a page is graded again), people's decisions on sheets (``overrides``)
and corrections of the key (``key_changes``) — both append-only. Nothing here
writes a reading; every output (``results``, report.xlsx, feedback, the
review page, annotated sheets) sees a sheet through ``settled_sheets``, so a
decision or a corrected key changes every output at once, with no re-scan.

**When a decision applies.** A decision names its sheet by file name, page
and part (so grading the same scans again keeps it) and records the reading
it was taken on. It applies while the current reading is that reading. When
a rescan reads the question (or the 准考证号…) differently, the decision
stops applying and the item opens again, showing the earlier decision: a
person decided about marks they saw, not about new ones.

**The review queue** is every open item, most harmful first: who the sheet
belongs to (准考证号, 试卷类型, the same number on two sheets), pages not read,
the sheet's own flags (缺考, 违纪, blank sheet…), then single marks — those a
rescan re-opened first, then the least certain.

**Scores** come from ``score_marked``, the one scoring step: the key book
(the printed key, or its correction: another key, several accepted keys, a
question voided for everyone or dropped from the total) applied to the
options marked, in the bank's letters.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from papergen.bank.model import LETTERS
from papergen.core.errors import DecisionInvalid
from papergen.exam.manifest import Manifest
from papergen.grade.store import (
    FlagRow,
    KeyChange,
    MarkRow,
    Override,
    OwnedSheet,
    PageRow,
    file_error_rows,
    insert_key_change,
    insert_override,
    iter_pages,
    key_changes,
    marks_by_sheet,
    overrides,
    page_flags,
    page_label,
    page_marks,
    page_row,
    pages_without_marks,
    sheet_overrides,
    sheet_owners,
)

#: Fields a decision may set, and what each means on the review page.
FIELDS = {
    "answer": "作答",
    "student_id": "准考证号",
    "variant": "试卷类型",
    "absent": "缺考",
    "violation": "违纪",
    "void": "作废这张答题卡",
    "ack": "确认",
}
KEY_ACTIONS = ("key", "accept", "void-full", "void-drop", "restore")

# Which decision settles a flag on the sheet (number 0); any other sheet flag is settled by "ack".
_SHEET_FIELD = {
    "id-missing": "student_id", "id-incomplete": "student_id", "id-unreadable": "student_id",
    "id-mismatch": "student_id", "qr-id-invalid": "student_id",
    "variant-missing": "variant", "variant-unreadable": "variant", "variant-mismatch": "variant",
    "variant-unknown": "variant",
    "absent-unclear": "absent", "absent-with-answers": "absent",
    "violation-marked": "violation", "violation-unclear": "violation",
}
_IDENTITY_FIELDS = ("student_id", "variant")
#: Sheets named in a duplicate 准考证号's message (the rest are counted).
DUPLICATES_LISTED = 6
#: Queue order of item kinds: who the sheet is, pages not read, the sheet's flags, single marks.
KIND_ORDER = {"identity": 0, "page": 1, "sheet": 2, "mark": 3}


class InvalidDecision(DecisionInvalid):
    """A decision that cannot be recorded (a letter the question does not have, a malformed 准考证号…)."""


# -- the key book ---------------------------------------------------------------------


@dataclass(frozen=True)
class KeyInForce:
    """The key a question is scored against after corrections."""

    keys: tuple[frozenset[int], ...]  # accepted answers, bank option indices (the printed key alone unless corrected)
    void: str | None = None  # "full": everyone who sat gets full marks; "drop": not part of the total
    change: KeyChange | None = None  # the correction in force, if any

    def text(self) -> str:
        """"B", "B 或 BC", "作废（全体得分）", "作废（不计分）"."""
        if self.void == "full":
            return "作废（全体得分）"
        if self.void == "drop":
            return "作废（不计分）"
        return " 或 ".join(_letters(k) for k in self.keys)


def _letters(indices: Iterable[int]) -> str:
    return "".join(LETTERS[i] for i in sorted(indices))


def _indices(letters: str) -> frozenset[int]:
    return frozenset(LETTERS.index(letter) for letter in letters)


def printed_key(manifest: Manifest, question_id: str) -> KeyInForce:
    return KeyInForce((_indices(manifest.questions[question_id].answer),))


def key_book(manifest: Manifest, changes: Sequence[KeyChange]) -> dict[str, KeyInForce]:
    """The key in force for every corrected question (others: the printed key), from the active changes in order."""
    book: dict[str, KeyInForce] = {}
    for change in changes:
        if change.question_id not in manifest.questions:
            continue  # a change recorded against another exam's question cannot apply here
        if change.action == "restore":
            book.pop(change.question_id, None)
        elif change.action in ("void-full", "void-drop"):
            book[change.question_id] = KeyInForce(printed_key(manifest, change.question_id).keys, change.action[5:], change)
        else:  # key, accept
            book[change.question_id] = KeyInForce(tuple(_indices(a) for a in change.answers), None, change)
    return book


def keys_in_force(manifest: Manifest, changes: Sequence[KeyChange]) -> dict[str, KeyInForce]:
    """The key every question of the exam is scored against now (printed or corrected)."""
    book = key_book(manifest, changes)
    return {qid: book.get(qid) or printed_key(manifest, qid) for qid in manifest.questions}


def full_marks(manifest: Manifest, book: dict[str, KeyInForce]) -> float:
    """The exam's full marks under ``book``: a question voided and dropped no longer counts."""
    return sum(q.points for qid, q in manifest.questions.items() if not (qid in book and book[qid].void == "drop"))


def score_marked(manifest: Manifest, question_id: str, marked: frozenset[int], key: KeyInForce | None) -> float | None:
    """Points for ``marked`` (bank option indices) on one question; None: the question is not part of the total."""
    question = manifest.questions[question_id]
    key = key or printed_key(manifest, question_id)
    if key.void == "drop":
        return None
    if key.void == "full":
        return question.points
    rule = manifest.sections[question.section].scoring
    return max(rule.score(marked, k, question.points) for k in key.keys)


# -- settled sheets --------------------------------------------------------------------


@dataclass(slots=True)
class SettledMark:
    """One question on one sheet as every output shows it."""

    number: int
    question_id: str | None
    section: int | None
    outcome: str  # answer | blank | flagged
    letters: str  # marked, in the sheet's letters
    bank_letters: str | None  # the same options in the bank's letters (None: unknown variant, or flagged)
    score: float | None  # None: not scored (flagged, unknown variant, absent) or dropped from the total
    darkness_json: str
    read_outcome: str  # what the machine read
    read_letters: str
    flag_reason: str = ""  # the reader's flag on this question, if any
    by_hand: Override | None = None  # the decision that set it
    dropped: bool = False  # the question is voided and not part of the total

    @property
    def darkness(self) -> list[float]:
        return json.loads(self.darkness_json)


@dataclass
class ReviewItem:
    """Something a person must settle (see the module docstring for the order)."""

    id: str
    kind: str  # identity | page | sheet | mark
    reason: str  # slug
    message: str  # Chinese
    where: str
    path: str = ""  # the scan as named when graded (for people)
    page: int | None = None
    part: int = 1
    file_hash: str | None = None
    number: int | None = None
    student_id: str | None = None
    variant: str | None = None
    question_id: str | None = None
    read_letters: str = ""
    darkness: list[float] = field(default_factory=list)
    key_letters: str | None = None  # the key in force, in the sheet's letters
    options: int = 0  # boxes on the row
    previous: Override | None = None  # a decision a rescan made stale
    pages: list[str] = field(default_factory=list)  # duplicate 准考证号: the sheets involved (their ids)
    fields: tuple[str, ...] = ("ack",)
    confidence: float = 1.0  # marks: the reader's certainty (lowest first in the queue)
    source: str = ""  # the scan's resolved path: what to open (``path`` may be relative to where grade ran)

    @property
    def sort_key(self) -> tuple:
        reopened = 0 if self.previous is not None else 1
        return (KIND_ORDER[self.kind], reopened, self.confidence, self.path, self.page or 0, self.part, self.number or 0)


@dataclass
class SettledSheet:
    """One answer sheet (or one refused page) with every decision applied."""

    page: PageRow
    student_id: str | None
    variant: str | None
    absent: bool
    violation: bool
    void: bool
    marks: list[SettledMark]
    open_items: list[ReviewItem]
    by_hand: int  # answers and identity settled by a person
    decisions: list[Override] = field(default_factory=list)  # in force on this sheet
    # Set when this sheet's 准考证号 is on two sheets of the same sheet page (this one or another of its pages):
    # the message of that duplicate item. Every page carrying the number then stays a row of its own.
    duplicate_message: str | None = None

    @property
    def read(self) -> bool:
        return self.page.status == "read"


def _sheet_id(page: PageRow) -> str:
    return f"{page.file_hash}:{page.page}:{page.part}"


def _latest(decisions: Iterable[Override]) -> dict[tuple[int, str], Override]:
    """The last active decision per (question number, field) — and per flag for "ack"."""
    latest: dict[tuple[int, str], Override] = {}
    for decision in decisions:
        field_key = f"ack:{decision.new}" if decision.field == "ack" else decision.field
        latest[(decision.number, field_key)] = decision
    return latest


def _sheet_readings(page: PageRow, flags: Sequence[FlagRow]) -> dict[str, str]:
    """The machine's reading of each sheet-level field (what a decision on it is taken on)."""
    reasons = {f.reason for f in flags if f.number == 0}
    violation = "violation-marked" in reasons
    return {
        "student_id": page.student_id or "",
        "variant": page.variant or "",
        "absent": "1" if page.absent else "0",
        "violation": "1" if violation else "0",
        "void": page.student_id or "",
    }


def mark_reading(mark: MarkRow) -> str:
    """The reading an answer decision is taken on: outcome and letters as the machine read them."""
    return f"{mark.outcome}:{mark.letters}"


def settle_sheet(
    page: PageRow, marks: Sequence[MarkRow], flags: Sequence[FlagRow], decisions: Sequence[Override],
    manifest: Manifest, book: dict[str, KeyInForce], scored: dict | None = None,
) -> SettledSheet:
    """One sheet with its decisions and the key book applied (a pure function of its arguments).

    ``scored`` memoises (variant, question number, letters) → (bank letters, score) across the sheets of
    one pass with one key book: a class's sheets repeat the same few answers to each question.
    """
    scored = {} if scored is None else scored
    latest = _latest(decisions)
    where = page_label(page.path, page.page, page.part, page.parts)
    open_items: list[ReviewItem] = []
    in_force: list[Override] = []
    sheet_readings = _sheet_readings(page, flags)

    def base_item(**kwargs) -> ReviewItem:
        return ReviewItem(
            where=where, path=page.path, source=page.source, page=page.page, part=page.part, file_hash=page.file_hash,
            **kwargs,
        )

    def applied(number: int, field_key: str, reading: str) -> tuple[Override | None, Override | None]:
        """(the decision in force, a stale decision) for one field."""
        decision = latest.get((number, field_key))
        if decision is None:
            return None, None
        if decision.reading == reading:
            in_force.append(decision)
            return decision, None
        return None, decision

    if page.status != "read":
        # A page that was not read as a sheet: one item per reason, settled by a person's "seen".
        for flag in flags:
            decision, stale = applied(0, f"ack:{flag.reason}", flag.reason)
            if decision is None:
                open_items.append(base_item(
                    id=f"page:{_sheet_id(page)}:{flag.reason}", kind="page", reason=flag.reason,
                    message=flag.message, previous=stale,
                ))
        return SettledSheet(page, None, None, False, False, False, [], open_items, 0, in_force)

    values: dict[str, str] = dict(sheet_readings)
    stale_fields: dict[str, Override] = {}
    for name in ("student_id", "variant", "absent", "violation", "void"):
        decision, stale = applied(0, name, sheet_readings[name])
        if decision is not None:
            values[name] = decision.new
        elif stale is not None:
            stale_fields[name] = stale
    student_id = values["student_id"] or None
    variant_name = values["variant"] or None
    absent, violation, void = values["absent"] == "1", values["violation"] == "1", values["void"] == "1"
    by_hand = sum(1 for d in in_force if d.field in ("student_id", "variant"))

    # The sheet's own flags.
    settled_fields = {d.field for d in in_force}
    for flag in (f for f in flags if f.number == 0):
        name = _SHEET_FIELD.get(flag.reason, "ack")
        if name == "ack":
            decision, stale = applied(0, f"ack:{flag.reason}", flag.reason)
            if decision is not None:
                continue
        elif name in settled_fields:
            continue
        else:
            stale = stale_fields.get(name)
        kind = "identity" if name in _IDENTITY_FIELDS else "sheet"
        open_items.append(base_item(
            id=f"sheet:{_sheet_id(page)}:{flag.reason}", kind=kind, reason=flag.reason, message=flag.message,
            student_id=student_id, variant=variant_name, previous=stale,
            fields=(name,) if name != "ack" else ("ack",),
        ))
    for name, stale in stale_fields.items():
        if not any(item.previous is stale for item in open_items):
            open_items.append(base_item(
                id=f"sheet:{_sheet_id(page)}:reopened-{name}", kind="identity" if name in _IDENTITY_FIELDS else "sheet",
                reason="reopened", message=f"重新扫描后{FIELDS[name]}的读取变了，原来的人工判定（{stale.new or '空'}）不再适用；请重新判定",
                student_id=student_id, variant=variant_name, previous=stale, fields=(name,),
            ))

    variant = manifest.variant(variant_name) if variant_name and variant_name in _variant_names(manifest) else None
    mark_flags = {f.number: f for f in flags if f.number}
    settled: list[SettledMark] = []
    for mark in marks:
        item = variant.items[mark.number - 1] if variant is not None and mark.number <= len(variant.items) else None
        question_id = item.id if item else mark.question_id
        flag = mark_flags.get(mark.number) if mark_flags else None
        decision = stale = None
        if latest:
            decision, stale = applied(mark.number, "answer", mark_reading(mark))
        if decision is not None:
            outcome, letters = ("answer" if decision.new else "blank"), decision.new
            by_hand += 1
        else:
            outcome, letters = mark.outcome, mark.letters
        bank_letters = None
        score = None
        dropped = False
        key = book.get(question_id) if question_id else None
        if item is not None and outcome in ("answer", "blank"):
            memo = (variant_name, mark.number, letters)
            hit = scored.get(memo)
            if hit is None:
                marked = frozenset(item.permutation[LETTERS.index(letter)] for letter in letters)
                hit = scored[memo] = (_letters(marked), score_marked(manifest, item.id, marked, key))
            bank_letters = hit[0]
            if not absent:
                score = hit[1]
        elif item is not None and not absent and key is not None and key.void == "full":
            score = manifest.questions[item.id].points  # a voided question needs no decision about its marks
        if key is not None and key.void == "drop":
            dropped, score = True, None
        settled.append(SettledMark(
            mark.number, question_id, item.section if item else mark.section, outcome, letters, bank_letters, score,
            mark.darkness_json, mark.outcome, mark.letters, flag.reason if flag else "", decision, dropped,
        ))
        needs_person = (outcome == "flagged" and not absent and not (key is not None and key.void))
        if needs_person or stale is not None:
            open_items.append(base_item(
                id=f"mark:{_sheet_id(page)}:{mark.number}", kind="mark",
                reason="reopened" if stale is not None and not needs_person else (flag.reason if flag else "faint"),
                message=(flag.message if flag else f"第 {mark.number} 题需要人工判定")
                + (f"（重新扫描后读取变了；原人工判定为 {stale.new or '空白'}，{stale.grader}）" if stale is not None else ""),
                number=mark.number, student_id=student_id, variant=variant_name, question_id=question_id,
                read_letters=mark.letters, darkness=mark.darkness, options=len(mark.darkness),
                key_letters=sheet_key_letters(manifest, item, key) if item is not None else None,
                previous=stale, fields=("answer",), confidence=mark.confidence,
            ))
    return SettledSheet(page, student_id, variant_name, absent, violation, void, settled, open_items, by_hand, in_force)


def _variant_names(manifest: Manifest) -> list[str]:
    return [v.name for v in manifest.variants]


def sheet_key_letters(manifest: Manifest, item, key: KeyInForce | None) -> str:
    """The key in force for variant item ``item`` in the sheet's letters (several accepted: "B/CD"; void: its text)."""
    key = key or printed_key(manifest, item.id)
    if key.void:
        return key.text()
    return "/".join(_letters(item.permutation.index(i) for i in k) for k in key.keys)


def settled_sheets(db: sqlite3.Connection, manifest: Manifest) -> list[SettledSheet]:
    """Every current page of the store, settled; duplicates of one 准考证号 get an identity item each."""
    return list(iter_settled_sheets(db, manifest))


def iter_settled_sheets(db: sqlite3.Connection, manifest: Manifest) -> Iterator[SettledSheet]:
    """``settled_sheets`` one sheet at a time: memory does not grow with the number of sheets.

    Two passes over the store, neither holding every sheet (a results pass over 100,000 sheets must not
    hold 100,000 page rows and flag lists before its first sheet):

    1. Who each sheet belongs to (and so which 准考证号 are on two sheets) is settled first, page by page
       with its flags and decisions — no marks — by the same ``settle_sheet``. Each read sheet that is not
       set aside goes to a temporary SQLite file (``store.SheetOwners``); one GROUP BY finds the duplicated
       (准考证号, sheet page) groups, and only their items and shared messages are kept.
    2. Each sheet is settled with its marks as the store yields them (``marks_by_sheet``: a table scan),
       its page and flags looked up by key, then the pages with no marks (not read, or read with nothing on
       them), as before.

    What stays in memory across sheets: the decisions and key changes (people's work: small), the
    duplicate items, and the scoring memo (bounded by the answers' variety, not the sheets).
    """
    decisions_by_sheet: dict[tuple[str, int, int], list[Override]] = {}
    for decision in overrides(db):
        decisions_by_sheet.setdefault(decision.sheet, []).append(decision)
    book = keys_in_force(manifest, key_changes(db))

    def settle(page: PageRow, marks: Sequence[MarkRow], scored: dict | None = None) -> SettledSheet:
        decisions = decisions_by_sheet.get((page.source, page.page, page.part), [])
        return settle_sheet(page, marks, page_flags(db, page.key, open_only=False), decisions, manifest, book, scored)

    duplicate_items: dict[tuple[str, int, int], list[ReviewItem]] = {}
    duplicated: dict[str, str] = {}  # 准考证号 → the message of its duplicate item
    with sheet_owners() as owners:
        for page in iter_pages(db):
            if page.status != "read":
                continue  # a page not read belongs to no one
            sheet = settle(page, [])
            if not sheet.void and sheet.student_id is not None:
                owners.add(OwnedSheet(
                    sheet.student_id, page.sheet_page, sheet.variant, page.file_hash, page.page, page.part,
                    page.parts, page.path, page.source,
                ))
        for group in owners.duplicated():
            message, items = _duplicate_items(group)
            for owned, item in zip(group, items):
                duplicate_items.setdefault((owned.file_hash, owned.page, owned.part), []).insert(0, item)
            duplicated[group[0].student_id] = message
    scored: dict = {}

    def finish(page: PageRow, marks: Sequence[MarkRow]) -> SettledSheet:
        sheet = settle(page, marks, scored)
        sheet.open_items[:0] = duplicate_items.get(page.key, [])
        if sheet.read and not sheet.void and sheet.student_id in duplicated:
            sheet.duplicate_message = duplicated[sheet.student_id]
        return sheet

    for key, marks in marks_by_sheet(db):
        page = page_row(db, key)
        if page is not None:
            yield finish(page, marks)
    for page in pages_without_marks(db):
        yield finish(page, [])


def _duplicate_items(group: Sequence[OwnedSheet]) -> tuple[str, list[ReviewItem]]:
    """The same 准考证号 on two sheets (same sheet page, neither set aside): the message and an identity item each."""
    student_id = group[0].student_id
    # One list and one message for the whole group, shared by its items: a number on thousands of sheets
    # (a copier run of one sheet) must not cost thousands of copies of a thousand-name list.
    ids = [f"sheet:{s.file_hash}:{s.page}:{s.part}:duplicate-id" for s in group]
    shown = [page_label(s.path, s.page, s.part, s.parts) for s in group[:DUPLICATES_LISTED]]
    places = "、".join(shown) + (f" 等 {len(group)} 张" if len(group) > DUPLICATES_LISTED else "")
    message = (
        f"准考证号 {student_id} 出现在 {len(group)} 张答题卡上（{places}）；"
        f"{'两张' if len(group) == 2 else '这些答题卡'}都已保留，请核对：改正其中一张的准考证号，或作废重复的一张"
    )
    items = [
        ReviewItem(
            id=item_id, kind="identity", reason="duplicate-id", message=message,
            where=page_label(s.path, s.page, s.part, s.parts), path=s.path, source=s.source, page=s.page,
            part=s.part, file_hash=s.file_hash, student_id=student_id, variant=s.variant, pages=ids,
            fields=("student_id", "void"),
        )
        for s, item_id in zip(group, ids)
    ]
    return message, items


def review_queue(
    db: sqlite3.Connection, manifest: Manifest, sheets: Iterable[SettledSheet] | None = None, *,
    open_items: Sequence[ReviewItem] | None = None,
) -> list[ReviewItem]:
    """Every open item, most harmful first (see the module docstring), files that could not be read among the pages.

    ``sheets`` or ``open_items``: what the caller's own pass over the store already settled.
    """
    if open_items is None:
        open_items = [item for sheet in (iter_settled_sheets(db, manifest) if sheets is None else sheets) for item in sheet.open_items]
    items = list(open_items)
    acked = {d.new for d in overrides(db) if d.field == "ack" and d.number == -1}
    for error in file_error_rows(db):
        if f"{error.source}|{error.file_hash}|{error.reason}" in acked:
            continue
        items.append(ReviewItem(
            id=f"file:{error.source}|{error.file_hash}|{error.reason}", kind="page", reason=error.reason,
            message=error.message, where=error.path, path=error.path,
        ))
    return sorted(items, key=lambda item: item.sort_key)


def settle_one(db: sqlite3.Connection, manifest: Manifest, key: tuple[str, int, int]) -> SettledSheet | None:
    """One sheet settled on its own (no duplicate check across sheets): what a page showing one sheet needs."""
    page = page_row(db, key)
    if page is None:
        return None
    book = keys_in_force(manifest, key_changes(db))
    return settle_sheet(page, page_marks(db, key), page_flags(db, key, open_only=False), sheet_overrides(db, page), manifest, book)


def queue_item(db: sqlite3.Connection, manifest: Manifest, item_id: str) -> ReviewItem | None:
    """The open item ``item_id`` (None: settled or unknown); settles only its sheet unless it is about duplicates."""
    match = _TARGET.match(item_id)
    if match is None or item_id.endswith(":duplicate-id"):
        return next((item for item in review_queue(db, manifest) if item.id == item_id), None)
    sheet = settle_one(db, manifest, (match.group(2), int(match.group(3)), int(match.group(4))))
    return next((item for item in sheet.open_items if item.id == item_id), None) if sheet else None


# -- recording decisions ------------------------------------------------------------------

_TARGET = re.compile(r"^(mark|sheet|page):([0-9a-f]+):(\d+):(\d+)(?::(.*))?$")


def decide(
    db: sqlite3.Connection, manifest: Manifest, target: ReviewItem | str, *, grader: str, field: str, new: str,
    reason: str = "",
) -> int:
    """Record a person's decision on an item (or any sheet/question by id); returns the override's id.

    ``target`` is a review item, or an id of the forms ``mark:<file_hash>:<page>:<part>:<number>`` (any question,
    flagged or not), ``sheet:<file_hash>:<page>:<part>[:<reason>]`` (the sheet: 准考证号, 试卷类型, 缺考, 违纪,
    作废, or "ack" of the flag ``reason``), ``page:…:<reason>`` (a page not read: ack) and
    ``file:<source>|<hash>|<reason>`` (a file not read: ack). ``new`` for answers is the letters marked as printed
    on the sheet ("" for blank). Raises ``InvalidDecision`` with a Chinese message.
    """
    grader = grader.strip()
    if not grader:
        raise InvalidDecision("请先填写阅卷人姓名（每个人工判定都记录是谁做的）")
    if field not in FIELDS:
        raise InvalidDecision(f"未知的判定类型 {field!r}（可用：{'、'.join(FIELDS)}）")
    item_id = target.id if isinstance(target, ReviewItem) else target
    if item_id.startswith("file:"):
        if field != "ack":
            raise InvalidDecision("无法读取的文件只能确认已处理")
        source = item_id[5:].split("|")[0]
        placeholder = PageRow("", 0, 0, 1, source, "error", None, None, None, False, False, source=source)
        return insert_override(
            db, grader=grader, page=placeholder, number=-1, field="ack", old=None, new=item_id[5:], reading=item_id[5:],
            reason=reason,
        )
    match = _TARGET.match(item_id)
    if match is None:
        raise InvalidDecision(f"无法识别的复核项 {item_id!r}")
    prefix, file_hash, page_no, part, rest = match.group(1), match.group(2), int(match.group(3)), int(match.group(4)), match.group(5)
    page = page_row(db, (file_hash, page_no, part))
    if page is None:
        raise InvalidDecision("这张答题卡已不在成绩库中（可能已重新扫描）；请刷新复核列表")
    flags = page_flags(db, page.key, open_only=False)
    if prefix == "page" or page.status != "read":
        if field != "ack" or not rest or rest not in {f.reason for f in flags}:
            raise InvalidDecision("未评阅的页面只能确认已处理（如已另行人工评阅或重新扫描）")
        return insert_override(db, grader=grader, page=page, number=0, field="ack", old=None, new=rest, reading=rest, reason=reason)
    if prefix == "mark":
        if field != "answer":
            raise InvalidDecision("题目的判定只能是所涂的选项（或空白）")
        number = int(rest or 0)
        mark = next((m for m in page_marks(db, page.key) if m.number == number), None)
        if mark is None:
            raise InvalidDecision(f"这张答题卡上没有第 {number} 题")
        letters = _checked_letters(new, options=len(mark.darkness), number=number, manifest=manifest, mark=mark, page=page)
        current = next((d for d in reversed(sheet_overrides(db, page))
                        if d.number == number and d.field == "answer" and d.reading == mark_reading(mark)), None)
        old = current.new if current is not None else mark.letters if mark.outcome != "flagged" else None
        return insert_override(
            db, grader=grader, page=page, number=number, field="answer", old=old, new=letters,
            reading=mark_reading(mark), reason=reason,
        )
    # the sheet
    readings = _sheet_readings(page, flags)
    if field == "ack":
        if not rest or rest not in {f.reason for f in flags if f.number == 0}:
            raise InvalidDecision("这张答题卡上没有这个待确认的标记")
        return insert_override(db, grader=grader, page=page, number=0, field="ack", old=None, new=rest, reading=rest, reason=reason)
    if field == "answer":
        raise InvalidDecision("作答的判定要指明题号")
    value = _checked_sheet_value(field, new, manifest)
    return insert_override(
        db, grader=grader, page=page, number=0, field=field, old=readings[field] or None, new=value,
        reading=readings[field], reason=reason,
    )


def _checked_letters(new: str, *, options: int, number: int, manifest: Manifest, mark: MarkRow, page: PageRow) -> str:
    letters = "".join(sorted(set(new.strip().upper().replace(" ", "").replace(",", "").replace("空白", ""))))
    allowed = LETTERS[:options]
    bad = [c for c in letters if c not in allowed]
    if bad:
        raise InvalidDecision(f"第 {number} 题只有 {allowed[0]}–{allowed[-1]} 这 {options} 个选项，没有 {''.join(bad)}")
    variant = manifest.variant(page.variant) if page.variant and page.variant in _variant_names(manifest) else None
    if variant is not None and number <= len(variant.items):
        question = manifest.questions[variant.items[number - 1].id]
        # Two boxes on a single-choice question are recorded as marked (and score as the rule says).
        if letters and max(LETTERS.index(c) for c in letters) >= question.options:
            raise InvalidDecision(f"第 {number} 题只有 {LETTERS[0]}–{LETTERS[question.options - 1]} 这 {question.options} 个选项")
    return letters


def _checked_sheet_value(field: str, new: str, manifest: Manifest) -> str:
    new = new.strip()
    if field == "student_id":
        digits = manifest.sheet.id_digits
        if not (new.isdigit() and new.isascii() and len(new) == digits):
            raise InvalidDecision(f"准考证号应为 {digits} 位数字，现在是 {new!r}")
        return new
    if field == "variant":
        names = _variant_names(manifest)
        if new.upper() not in names:
            raise InvalidDecision(f"本次考试的试卷类型只有 {'、'.join(names)}，没有 {new!r}")
        return new.upper()
    if field in ("absent", "violation", "void"):
        yes = {"1": "1", "是": "1", "yes": "1", "true": "1", "0": "0", "否": "0", "no": "0", "false": "0"}
        if new.lower() not in yes:
            raise InvalidDecision(f"{FIELDS[field]}只能是 是 或 否，现在是 {new!r}")
        return yes[new.lower()]
    raise InvalidDecision(f"未知的判定类型 {field!r}")


def rekey(
    db: sqlite3.Connection, manifest: Manifest, question_id: str, *, action: str, answers: Sequence[str] = (),
    grader: str, reason: str = "",
) -> int:
    """Record a key correction for one question (bank letters); returns its id. Scores follow at once."""
    if question_id not in manifest.questions:
        raise InvalidDecision(f"本次考试没有题目 {question_id}")
    if action not in KEY_ACTIONS:
        raise InvalidDecision(f"未知的答案更正方式 {action!r}（可用：{'、'.join(KEY_ACTIONS)}）")
    if not grader.strip():
        raise InvalidDecision("请给出更正人（--grader 或环境变量 PAPERGEN_GRADER）")
    question = manifest.questions[question_id]
    clean: list[str] = []
    if action in ("key", "accept"):
        if not answers or (action == "key" and len(answers) != 1):
            raise InvalidDecision("更正答案需要给出一个新答案" if action == "key" else "接受多个答案需要给出至少一个答案")
        allowed = LETTERS[: question.options]
        for answer in answers:
            letters = "".join(sorted(set(answer.strip().upper())))
            if not letters or any(c not in allowed for c in letters):
                raise InvalidDecision(f"{question_id} 只有 {allowed[0]}–{allowed[-1]} 选项，答案 {answer!r} 无效")
            if question.type == "single" and len(letters) > 1:
                raise InvalidDecision(f"{question_id} 是单选题，答案只能是一个选项（{answer!r}）")
            clean.append(letters)
    current = key_book(manifest, key_changes(db)).get(question_id) or printed_key(manifest, question_id)
    return insert_key_change(
        db, grader=grader.strip(), question_id=question_id, action=action, answers=clean, old=current.text(), reason=reason,
    )
