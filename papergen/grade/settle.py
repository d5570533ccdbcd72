"""STAND-IN for the lead's grade/settle.py (api13.md); reverted before merging main."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from papergen.bank.model import LETTERS
from papergen.core.errors import PapergenError
from papergen.exam.manifest import Manifest
from papergen.grade import store
from papergen.grade.store import Override, PageRow


class InvalidDecision(PapergenError):
    pass


@dataclass
class ReviewItem:
    id: str
    kind: str
    reason: str
    message: str
    where: str
    path: str
    page: int | None
    part: int
    file_hash: str | None
    number: int | None = None
    student_id: str | None = None
    variant: str | None = None
    question_id: str | None = None
    read_letters: str = ""
    darkness: list[float] = field(default_factory=list)
    key_letters: str | None = None
    options: int = 0
    previous: Override | None = None
    pages: list[str] = field(default_factory=list)
    fields: tuple[str, ...] = ()


@dataclass
class SettledMark:
    number: int
    question_id: str | None
    section: int | None
    outcome: str
    letters: str
    bank_letters: str | None
    score: float | None
    darkness: list[float]
    read_outcome: str
    read_letters: str
    by_hand: Override | None
    void: bool = False


@dataclass
class SettledSheet:
    page: PageRow
    student_id: str | None
    variant: str | None
    absent: bool
    violation: bool
    void: bool
    marks: list[SettledMark]
    open_items: list[ReviewItem]
    by_hand: int
    frame: dict | None


def _key(manifest, variant, number):
    if variant is None:
        return None
    item = manifest.variant(variant).items[number - 1]
    return item.key


def _active(db, page: PageRow, number: int, field_: str) -> Override | None:
    found = [o for o in store.overrides(db) if o.sheet == (page.source, page.page, page.part)
             and o.number == number and o.field == field_]
    return found[-1] if found else None


def _items_of(db, manifest, page: PageRow) -> list[ReviewItem]:
    items = []
    marks = {m.number: m for m in store.page_marks(db, page.key)}
    for flag in store.page_flags(db, page.key):
        base = dict(where=page.where, path=page.path, page=page.page, part=page.part, file_hash=page.file_hash,
                    student_id=page.student_id, variant=page.variant)
        if flag.number:
            if _active(db, page, flag.number, "answer"):
                continue
            mark = marks[flag.number]
            qid = mark.question_id
            items.append(ReviewItem(
                f"mark:{page.file_hash}:{page.page}:{page.part}:{flag.number}", "mark", flag.reason, flag.message,
                number=flag.number, question_id=qid, read_letters=mark.letters, darkness=mark.darkness,
                key_letters=_key(manifest, page.variant, flag.number), options=len(mark.darkness), fields=("answer",), **base))
        else:
            if _active(db, page, 0, "ack"):
                continue
            items.append(ReviewItem(f"sheet:{page.file_hash}:{page.page}:{page.part}:{flag.reason}", "sheet", flag.reason,
                                    flag.message, fields=("ack",), **base))
    return items


def review_queue(db: sqlite3.Connection, manifest: Manifest) -> list[ReviewItem]:
    items = []
    for flag in store.sheet_flags(db):
        items.append(ReviewItem(f"dup:{flag.student_id}", "identity", flag.reason, flag.message, where="", path="",
                                page=None, part=1, file_hash=None, student_id=flag.student_id, fields=("void", "student_id")))
    for page in store.read_pages(db):
        items += _items_of(db, manifest, page)
    return items


def queue_item(db, manifest, item_id: str) -> ReviewItem | None:
    return next((i for i in review_queue(db, manifest) if i.id == item_id), None)


def decide(db, manifest, item: ReviewItem, *, grader: str, field: str, new: str, reason: str = "") -> int:
    if field not in item.fields:
        raise InvalidDecision(f"这一项不能设置 {field}")
    if field == "answer" and any(ch not in LETTERS[: item.options] for ch in new):
        raise InvalidDecision(f"第 {item.number} 题没有选项 {new}")
    page = next(p for p in store.read_pages(db) if p.file_hash == item.file_hash and p.page == item.page and p.part == item.part) \
        if item.file_hash else next(p for p in store.read_pages(db) if p.student_id == item.student_id)
    return store.insert_override(db, grader=grader, page=page, number=item.number or 0, field=field,
                                 old=item.read_letters, new=new, reading=item.read_letters, reason=reason)


def settled_sheets(db, manifest) -> list[SettledSheet]:
    sheets = []
    for page in store.read_pages(db):
        marks = []
        by_hand = 0
        for m in store.page_marks(db, page.key):
            override = _active(db, page, m.number, "answer")
            letters, outcome, score = m.letters, m.outcome, m.score
            if override is not None and page.variant:
                by_hand += 1
                letters = override.new
                outcome = "answer" if letters else "blank"
                key = set(_key(manifest, page.variant, m.number))
                q = manifest.questions[m.question_id]
                score = q.points if set(letters) == key else 0.0
            marks.append(SettledMark(m.number, m.question_id, m.section, outcome, letters, m.bank_letters, score,
                                     m.darkness, m.outcome, m.letters, override))
        sheets.append(SettledSheet(page, page.student_id, page.variant, page.absent, False, False, marks,
                                   _items_of(db, manifest, page), by_hand, store.page_frame(db, page.key)))
    return sheets
