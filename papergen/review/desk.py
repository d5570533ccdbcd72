"""The review desk: what the review page shows and does, without HTTP.

``ReviewDesk`` is opened once per ``papergen review`` run on one results
folder. It hands out the open items of ``settle.review_queue`` to the
graders' browser tabs (each tab is a *session*; an item is claimed by the
tab that shows it, so a second grader is never offered it), records their
decisions as overrides through ``settle.decide`` and undoes them, and draws
the pictures the page shows: the question row or header part of the scan
with the boxes outlined, and a thumbnail of the whole page.

Every picture is drawn from a sheet named in the store (file hash, page,
part) — never from a path a request supplies. Each request opens its own
store connection (``store.deciding_store``), so decisions of several
graders are separate SQLite transactions; the desk itself only keeps
caches of decoded pages and finished images.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from papergen.bank.model import LETTERS
from papergen.core.errors import PapergenError
from papergen.exam.manifest import Manifest
from papergen.exam.roster import read_roster
from papergen.grade import settle, store, views
from papergen.grade.bubbles import EMPTY, MARKED
from papergen.grade.reasons import reason_label
from papergen.grade.results import (
    STATUS_ABSENT,
    STATUS_GRADED,
    STATUS_REVIEW,
    STATUS_VIOLATION,
    student_results,
)
from papergen.grade.store import manifest_from_store, read_pages, reading_store

#: Seconds a tab holds the item it shows; the page renews the claim well before (every 30 s).
CLAIM_SECONDS = 120.0
#: Pixels per millimetre of a question-row crop: a 300 dpi scan's own resolution (11.8), shown at
#: its natural size (a five-option row ≈ 660 px wide), so the grader sees the pencil as scanned …
CROP_PX_PER_MM = 12.0
#: … of the whole-page thumbnail beside it (an A4 page ≈ 315 × 445 px) …
THUMB_PX_PER_MM = 1.5
#: … and of the whole page shown for a sheet-level item or when the thumbnail is opened.
PAGE_PX_PER_MM = 4.0
#: Outline colours (BGR): every box of the row, and the effective key's boxes.
BOX_COLOUR = views.BLUE
KEY_COLOUR = views.GREEN
#: Grader names: what a person types, not markup or control characters.
GRADER_NAME = re.compile(r"[^\x00-\x1f\x7f<>&\"']{1,40}")

SheetKey = tuple[str, int, int]  # (file_hash, page, part)


class DeskError(PapergenError):
    """A request the desk refuses, with its HTTP status and a Chinese message for the page."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Person:
    """Someone a sheet can be assigned to: a roster row, or a 准考证号 already in the store."""

    student_id: str
    name: str = ""
    klass: str = ""


def check_grader(name: str) -> str:
    """The grader's name as it will stand in the audit trail; refused when empty or odd."""
    name = (name or "").strip()
    if not GRADER_NAME.fullmatch(name):
        raise DeskError("请先在页面右上角填写阅卷人姓名（最多 40 个字，不含 < > & 引号）", 400)
    return name


def _parse_sheet_id(sheet_id: str) -> SheetKey:
    """``sheet:<file_hash>:<page>:<part>:<reason>`` → the sheet's key."""
    parts = sheet_id.split(":")
    if len(parts) < 4 or parts[0] != "sheet":
        raise DeskError("无效的答题卡编号", 400)
    try:
        return parts[1], int(parts[2]), int(parts[3])
    except ValueError:
        raise DeskError("无效的答题卡编号", 400) from None


class _LRU:
    """A small thread-safe least-recently-used cache."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, make: Callable[[], object]):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: two tabs may draw the same picture once each, never block each other
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


class ReviewDesk:
    """One results folder under review (see the module docstring)."""

    def __init__(self, results_dir: str | Path, *, roster: str | Path | None = None, grader: str | None = None) -> None:
        self.results_dir = Path(results_dir)
        with reading_store(self.results_dir) as db:
            self.manifest = Manifest.from_json(json.loads(manifest_from_store(db)))
            store_ids = sorted({p.student_id for p in read_pages(db) if p.student_id})
        self.grader = check_grader(grader) if grader else None
        if roster is not None:
            rows = read_roster(roster, id_digits=self.manifest.sheet.id_digits)
            self.people = [Person(s.student_id, s.name, s.klass) for s in rows]
        else:
            self.people = [Person(sid) for sid in store_ids]
        self._names = {p.student_id: p.name for p in self.people}
        self._views = _LRU(6)  # decoded pages: ~9 MB each at 300 dpi
        self._images = _LRU(4000)  # finished PNG/JPEG bytes: thumbnails ~15 kB, crops ~30 kB
        self._sheets: dict[SheetKey, store.PageRow] = {}
        self._sheets_lock = threading.Lock()
        self._held: dict[str, set[str]] = {}  # session → the item ids it has claimed
        #: the effective key (sheet letters) of each mark item shown, outlined green in its crop
        self._keys: dict[tuple[str, int, int, int], str] = {}
        # The queue settles the whole store (≈ 4 s for 10,000 sheets): kept until the store changes.
        self._queue_cache: tuple[tuple, list] | None = None
        self._queue_lock = threading.Lock()

    # -- the store -------------------------------------------------------------------------

    def _db(self):
        return store.deciding_store(self.results_dir)

    def _open_items(self, db) -> list:
        """``settle.review_queue``, reused while ``store.state_token`` says nothing it depends on changed."""
        token = store.state_token(db)
        with self._queue_lock:
            if self._queue_cache is not None and self._queue_cache[0] == token:
                return list(self._queue_cache[1])
        items = settle.review_queue(db, self.manifest)
        with self._queue_lock:
            self._queue_cache = (token, items)
        return list(items)

    def progress(self, db, items: Sequence | None = None) -> dict:
        """"已处理 k / 共 n": k decisions in force, n = k + the items still open."""
        open_items = len(self._open_items(db) if items is None else items)
        done = len(store.overrides(db))
        return {"done": done, "open": open_items, "total": done + open_items}

    # A tab holds one item at a time — with a duplicated 准考证号, every sheet carrying it (each is an item of
    # its own, and a decision on one settles them all). ``_held`` remembers what each tab holds.

    def _take(self, db, item, grader: str, session: str) -> bool:
        """Claim ``item`` (and its sibling sheets) for ``session``, letting go of what it held before; False: held elsewhere."""
        wanted = [item.id] + [other for other in item.pages if other != item.id]
        taken: list[str] = []
        for item_id in wanted:
            if not store.claim_item(db, item_id, grader, session, CLAIM_SECONDS):
                for done in taken:
                    if done not in self._held.get(session, ()):
                        store.release_item(db, done, session)
                return False
            taken.append(item_id)
        for old in self._held.get(session, set()) - set(wanted):
            store.release_item(db, old, session)
        self._held[session] = set(wanted)
        return True

    def _let_go(self, db, session: str) -> None:
        for item_id in self._held.pop(session, set()):
            store.release_item(db, item_id, session)

    def queue(self, session: str) -> dict:
        """The open items in risk order (what the page navigates with ← / →), who else holds which, the progress."""
        with self._db() as db:
            return self._queue_json(db, self._open_items(db), session)

    def _queue_json(self, db, items: Sequence, session: str) -> dict:
        held = store.claimed_items(db, session)
        return {
            "items": [{"id": i.id, "kind": i.kind, "label": self._label(i), "held_by": held.get(i.id)} for i in items],
            "progress": self.progress(db, items),
        }

    def next_item(self, session: str, grader: str, *, skip: Sequence[str] = ()) -> dict:
        """Claim and return the riskiest open item nobody else holds, ``skip`` (deferred by this tab) left for last.

        Also returns the queue (``queue``), read once for both: settling the
        whole store is what a request costs. ``item`` is None when nothing is
        open to this tab: ``final`` (the counts) when nothing is open at all.
        """
        grader = check_grader(grader)
        with self._db() as db:
            items = self._open_items(db)
            skipped = set(skip)
            for item in [i for i in items if i.id not in skipped] + [i for i in items if i.id in skipped]:
                if not self._take(db, item, grader, session):
                    continue
                # Claimed; but another grader may have settled it (and let go) since the queue was read.
                current = settle.queue_item(db, self.manifest, item.id)
                if current is None:
                    self._let_go(db, session)
                    continue
                return {"item": self._item_json(db, current), "queue": self._queue_json(db, items, session)}
            self._let_go(db, session)
            queue = self._queue_json(db, items, session)
        if items:
            return {"item": None, "held": len(items), "queue": queue}
        return {"item": None, "held": 0, "queue": queue, "final": self._final_counts()}

    def open_item(self, item_id: str, session: str, grader: str) -> dict:
        """Claim one item by id (← / →, a click in the list); 409 when another grader holds it, 410 when settled."""
        grader = check_grader(grader)
        with self._db() as db:
            self._claim(db, item_id, grader, session, gone=("这一项已经处理过了", 410))
            items = self._open_items(db)  # after the claim: nobody can settle it meanwhile
            item = next((i for i in items if i.id == item_id), None)
            if item is None:
                self._let_go(db, session)
                raise DeskError("这一项已经处理过了", 410)
            return {"item": self._item_json(db, item), "queue": self._queue_json(db, items, session)}

    def _claim(self, db, item_id: str, grader: str, session: str, *, gone: tuple[str, int]) -> settle.ReviewItem:
        """The open item ``item_id``, claimed for ``grader``'s tab: ``gone`` (message, status) when it is settled, 409 when
        another grader holds it."""
        item = settle.queue_item(db, self.manifest, item_id)
        if item is None:
            raise DeskError(*gone)
        if not self._take(db, item, grader, session):
            raise DeskError("另一位阅卷人正在处理这一项", 409)
        return item

    def renew(self, item_id: str, session: str, grader: str) -> bool:
        """Keep the claim of the item a tab still shows (and of its sibling sheets)."""
        grader = check_grader(grader)
        with self._db() as db:
            held = self._held.get(session) or {item_id}
            return all([store.claim_item(db, i, grader, session, CLAIM_SECONDS) for i in sorted(held | {item_id})])

    def release(self, item_id: str, session: str) -> None:
        """The tab left the item (closed, or went to the per-question view)."""
        with self._db() as db:
            store.release_item(db, item_id, session)
            self._let_go(db, session)

    def decide(
        self, item_id: str, session: str, grader: str, field: str, new: str, *, reason: str = "", sheet: str | None = None
    ) -> dict:
        """One decision on one item: an override recorded by ``settle.decide``.

        ``sheet`` names which sheet of a duplicated 准考证号 the decision is
        about (``"sheet:…"``, one of the item's ``pages``).
        """
        grader = check_grader(grader)
        with self._db() as db:
            self._claim(db, item_id, grader, session, gone=("这一项已经由别人处理过了", 409))
            item = settle.queue_item(db, self.manifest, item_id)  # after the claim: nobody settles it meanwhile
            if item is None:
                self._let_go(db, session)
                raise DeskError("这一项已经由别人处理过了", 409)
            target: object = item
            if sheet is not None:  # one sheet of a duplicated 准考证号: a decision on that sheet
                if sheet not in item.pages:
                    raise DeskError("这张答题卡不属于这一项", 400)
                target = sheet
            elif field not in item.fields:
                raise DeskError(f"这一项不能这样判定（可以判定：{'、'.join(settle.FIELDS[f] for f in item.fields)}）", 400)
            try:
                override = settle.decide(db, self.manifest, target, grader=grader, field=field, new=new, reason=reason)
            except settle.InvalidDecision as exc:
                raise DeskError(exc.message, 400) from None
            self._let_go(db, session)
            return {"override": override}  # the page asks for the next item (and the queue) at once

    def decide_many(self, item_ids: Sequence[str], session: str, grader: str, answer: str, reason: str = "") -> dict:
        """One answer for several mark items of the per-question view: one override each.

        Items another grader holds, or that were settled meanwhile, are left
        as they are and listed; a bad answer refuses the whole batch before
        anything is written (every item of one question has the same options).
        """
        grader = check_grader(grader)
        decided: list[str] = []
        left: list[dict] = []
        with self._db() as db:
            for item_id in item_ids:
                if not store.claim_item(db, item_id, grader, session, CLAIM_SECONDS):
                    left.append({"id": item_id, "why": "另一位阅卷人正在处理"})
                    continue
                item = settle.queue_item(db, self.manifest, item_id)
                if item is None:
                    store.release_item(db, item_id, session)
                    left.append({"id": item_id, "why": "已经处理过了"})
                    continue
                if item.kind != "mark":
                    store.release_item(db, item_id, session)
                    raise DeskError("批量处理只用于同一题的填涂", 400)
                try:
                    settle.decide(db, self.manifest, item, grader=grader, field="answer", new=answer, reason=reason)
                except settle.InvalidDecision as exc:
                    store.release_item(db, item.id, session)
                    raise DeskError(exc.message, 400) from None
                store.release_item(db, item.id, session)
                decided.append(item_id)
            return {"decided": decided, "left": left, "progress": self.progress(db)}

    def undo(self, grader: str) -> dict:
        """Undo this grader's latest decision in force; the item it settled is open again."""
        grader = check_grader(grader)
        with self._db() as db:
            last = store.last_override(db, grader)
            if last is None or not store.undo_override(db, last.id, grader):
                raise DeskError(f"{grader} 没有可以撤销的决定", 404)
            return {"undone": last.id, "item": self._item_of(db, last)}  # the page opens it (or the next) at once

    def _item_of(self, db, override) -> str | None:
        """The open item an undone override settled (so the page can show it again)."""
        for item in self._open_items(db):
            same_sheet = (item.file_hash, item.page, item.part) == (override.file_hash, override.page, override.part)
            if same_sheet and (item.number or 0) == override.number:
                return item.id
        return None

    def question_counts(self) -> list[dict]:
        """Questions with open marks and how many (the per-question view's index), most first."""
        with self._db() as db:
            items = self._open_items(db)
        counts: dict[int, int] = {}
        for item in items:
            if item.kind == "mark" and item.number is not None:
                counts[item.number] = counts.get(item.number, 0) + 1
        return [{"number": n, "open": c} for n, c in sorted(counts.items(), key=lambda nc: (-nc[1], nc[0]))]

    def group(self, number: int, *, every_sheet: bool = False) -> dict:
        """The per-question view: every open item of question ``number`` (and, asked, every sheet's reading of it)."""
        if not any(q.number == number for q in self.manifest.sheet.questions):
            raise DeskError(f"本次考试没有第 {number} 题", 404)
        with self._db() as db:
            sheets = settle.settled_sheets(db, self.manifest)
            queue = settle.review_queue(db, self.manifest, sheets)
            items = [i for i in queue if i.kind == "mark" and i.number == number]
            open_keys = {(i.file_hash, i.page, i.part) for i in items}
            book = settle.key_book(self.manifest, store.key_changes(db)) if every_sheet else {}
            others = []
            for sheet in sheets if every_sheet else ():
                mark = next((m for m in sheet.marks if m.number == number), None)
                if not sheet.read or sheet.void or mark is None or sheet.page.key in open_keys:
                    continue
                key_letters = self._key_in_force(book, sheet.variant, number)
                with self._sheets_lock:
                    self._keys[(*sheet.page.key, number)] = key_letters
                others.append({
                    "student_id": sheet.student_id, "variant": sheet.variant,
                    "name": self._names.get(sheet.student_id or "", ""), "crop": self._url(sheet.page.key, f"q{number}.png"),
                    "letters": mark.letters if mark.outcome != "flagged" else None, "by_hand": mark.by_hand is not None,
                    "key_letters": key_letters,
                })
            return {
                "number": number,
                "options": len(next(q.boxes for q in self.manifest.sheet.questions if q.number == number)),
                "items": [self._item_json(db, i) for i in items],
                "others": others,
            }

    def _key_in_force(self, book: dict, variant: str | None, number: int) -> str:
        """The key in force for question ``number`` in the letters printed on ``variant`` ("" when unknown)."""
        if not variant or variant not in {v.name for v in self.manifest.variants}:
            return ""
        printed = next((i for i in self.manifest.variant(variant).items if i.number == number), None)
        return settle.sheet_key_letters(self.manifest, printed, book.get(printed.id)) if printed else ""

    def suspected_key_errors(self) -> list[dict]:
        """Questions whose key the item analysis doubts, for the top of the queue (letters are the bank's).

        From ``report.data.ExamResults.suspected_key_errors`` (the top 27 % chose another answer more
        often than the key, or a negative point-biserial); only those with a suggested answer, which the
        page offers as a one-key "rekey".
        """
        from papergen.report.data import load_exam_results

        suspects = load_exam_results(self.results_dir).suspected_key_errors()
        return [
            {
                "question_id": s.question_id, "where": "/".join(f"{v}{n}" for v, n in s.numbers.items()),
                "key": s.key, "suspected": s.suspected, "headline": s.headline, "message": s.message,
            }
            for s in suspects if s.suspected
        ]

    def rekey(self, question_id: str, answer: str, grader: str) -> dict:
        """The one-key "rekey" action: make ``answer`` (bank letters) the key of ``question_id``."""
        grader = check_grader(grader)
        if question_id not in self.manifest.questions:
            raise DeskError("本次考试没有这道题", 404)
        with self._db() as db:
            try:
                change = settle.rekey(db, self.manifest, question_id, action="key", answers=[answer], grader=grader)
            except settle.InvalidDecision as exc:
                raise DeskError(exc.message, 400) from None
            return {"key_change": change, "progress": self.progress(db)}

    def _final_counts(self) -> dict:
        with reading_store(self.results_dir) as db:
            results = student_results(db, self.manifest)
        with store.deciding_store(self.results_dir) as db:
            decisions = store.overrides(db)
        return {
            "students": len(results),
            "final": sum(r.status in (STATUS_GRADED, STATUS_VIOLATION) for r in results),
            "absent": sum(r.status == STATUS_ABSENT for r in results),
            "review": sum(r.status == STATUS_REVIEW for r in results),
            "decisions": len(decisions),
            "graders": sorted({d.grader for d in decisions}),
        }

    # -- what the page shows of an item ----------------------------------------------------

    def _label(self, item) -> str:
        who = item.student_id or Path(item.path).name or "准考证号未识别"
        if item.kind == "mark":
            return f"{who} 第 {item.number} 题"
        return f"{who} {reason_label(item.reason)}" + (f"（{Path(item.path).name}）" if item.pages else "")

    def _item_json(self, db, item) -> dict:
        # a page that was not read as a sheet has no frame to draw from: its message says what is wrong
        key = (item.file_hash, item.page, item.part) if item.file_hash and item.page and item.kind != "page" else None
        if key:
            if item.kind == "mark":
                with self._sheets_lock:
                    self._keys[(*key, item.number)] = item.key_letters or ""
        crop = None
        if key and item.kind == "mark":
            crop = self._url(key, f"q{item.number}.png")
        elif key and "student_id" in item.fields:
            crop = self._url(key, "id.png")
        elif key and "variant" in item.fields:
            crop = self._url(key, "variant.png")
        elif key and ("absent" in item.fields or "violation" in item.fields):
            crop = self._url(key, "invigilator.png")
        elif key:
            crop = self._url(key, "page.jpg")
        sheets = []
        for sheet_id in item.pages:
            sheet_key = _parse_sheet_id(sheet_id)
            sheets.append({
                "id": sheet_id, "where": self._where(sheet_key), "crop": self._url(sheet_key, "id.png"),
                "thumb": self._url(sheet_key, "thumb.jpg"), "page": self._url(sheet_key, "page.jpg"),
            })
        previous = item.previous
        return {
            "id": item.id, "kind": item.kind, "reason": item.reason, "reason_label": reason_label(item.reason),
            "message": item.message, "where": item.where, "student_id": item.student_id,
            "name": self._names.get(item.student_id or "", ""), "variant": item.variant, "number": item.number,
            "question_id": item.question_id, "read_letters": item.read_letters, "darkness": list(item.darkness),
            "key_letters": item.key_letters, "options": item.options, "letters": LETTERS[: item.options],
            "fields": list(item.fields), "crop": crop,
            "thumb": self._url(key, "thumb.jpg") if key else None, "page": self._url(key, "page.jpg") if key else None,
            "sheets": sheets,
            "previous": None if previous is None else {
                "grader": previous.grader, "at": previous.at, "field": previous.field, "old": previous.old,
                "new": previous.new, "reading": previous.reading, "reason": previous.reason,
            },
        }

    def people_json(self) -> list[dict]:
        return [{"id": p.student_id, "name": p.name, "klass": p.klass} for p in self.people]

    def page_config(self) -> dict:
        """What the page needs once: thresholds, variants, the fixed grader name."""
        return {
            "marked": MARKED, "empty": EMPTY, "variants": [v.name for v in self.manifest.variants],
            "id_digits": self.manifest.sheet.id_digits, "grader": self.grader, "exam": self.manifest.exam,
            "title": self.manifest.title,
            "roster": any(p.name for p in self.people),
        }

    # -- pictures --------------------------------------------------------------------------

    @staticmethod
    def _url(key: SheetKey, name: str) -> str:
        return f"/img/{key[0]}/{key[1]}/{key[2]}/{name}"

    def _where(self, key: SheetKey) -> str:
        return self._sheet(key).where

    def _sheet(self, key: SheetKey) -> store.PageRow:
        """A sheet the store has read (its current reading); any other key is refused."""
        with self._sheets_lock:
            known = self._sheets.get(key)
        if known is not None:
            return known
        with reading_store(self.results_dir) as db:
            pages = {page.key: page for page in read_pages(db)}
        with self._sheets_lock:
            self._sheets = pages  # a rescan since the last look replaces readings: take the store's list as it is now
            known = pages.get(key)
        if known is None:
            raise DeskError("成绩库中没有这张答题卡", 404)
        return known

    def _view(self, key: SheetKey):
        page = self._sheet(key)

        def decode():
            with reading_store(self.results_dir) as db:
                frame = store.page_frame(db, key)
            return views.sheet_view(
                page.source, page.page, page.part, page.file_hash, self.manifest, frame, page.sheet_page or 1
            )

        return self._views.get(key, decode)

    def image(self, key: SheetKey, name: str) -> tuple[bytes, str]:
        """One picture of a sheet in the store: ``(bytes, mimetype)``; ``name`` is one of a fixed set."""
        kind, number = _image_name(name)
        self._sheet(key)  # refuses a sheet the store does not have before anything is decoded
        with self._sheets_lock:
            key_letters = self._keys.get((*key, number), "") if number else ""
        return self._images.get((key, name, key_letters), lambda: self._draw(key, kind, number, key_letters))

    def _draw(self, key: SheetKey, kind: str, number: int | None, key_letters: str) -> tuple[bytes, str]:
        try:
            view = self._view(key)
        except (PapergenError, views.ViewUnavailable) as exc:
            raise DeskError(f"无法显示这张扫描：{exc}", 404) from None
        geometry = self.manifest.sheet
        header = geometry.header
        if kind == "thumb":
            return views.jpeg_bytes(views.render_region(view, None, THUMB_PX_PER_MM), 80), "image/jpeg"
        if kind == "page":
            return views.jpeg_bytes(views.render_region(view, None, PAGE_PX_PER_MM), 85), "image/jpeg"
        if kind == "q":
            question = next((q for q in geometry.questions if q.number == number), None)
            if question is None:
                raise DeskError(f"本次考试没有第 {number} 题", 404)
            outlines = [(box, BOX_COLOUR, 2) for box in question.boxes]
            # the key in force ("B", several accepted "B/CD": the first; a voided question has none)
            first_key = key_letters.split("/")[0]
            outlines += [(question.boxes[i], KEY_COLOUR, 3) for i, c in enumerate(LETTERS[: len(question.boxes)]) if c in first_key]
            region = views.question_region(geometry, number)
            return views.png_bytes(views.render_region(view, region, CROP_PX_PER_MM, outlines)), "image/png"
        if kind == "id":
            # the handwritten 姓名, 班级 and digits above the bubbles: what a person identifies the sheet by
            rects = [box for column in header.id_grid for box in column] + list(header.id_write_in)
            rects += [header.name_box, header.class_box]
            outlines = [(box, BOX_COLOUR, 1) for column in header.id_grid for box in column]
            region = views.bounds(rects, 1.5)
            # Cut at the grid's right edge: further right lie the barcode area and the 试卷类型 label (the name
            # boxes run on a little; a name is written from their left end).
            grid_right = max(x + w for x, _, w, _ in rects[:-2]) + 1.0
            region = (region[0], region[1], grid_right - region[0], region[3])
            return views.png_bytes(views.render_region(view, region, CROP_PX_PER_MM * 0.6, outlines)), "image/png"
        if kind == "variant":
            region = views.bounds(list(header.variant_row), 2.0)
            region = (region[0] - 16.0, region[1], region[2] + 16.0, region[3])  # the printed 试卷类型 label
            outlines = [(box, BOX_COLOUR, 2) for box in header.variant_row]
            return views.png_bytes(views.render_region(view, region, CROP_PX_PER_MM, outlines)), "image/png"
        # invigilator: the 缺考 / 违纪 frame
        boxes = [header.absent] + ([header.violation] if header.violation else [])
        region = views.bounds([header.invigilator] if header.invigilator else boxes, 1.5)
        outlines = [(box, BOX_COLOUR, 2) for box in boxes]
        return views.png_bytes(views.render_region(view, region, CROP_PX_PER_MM, outlines)), "image/png"


_IMAGE_NAMES = re.compile(r"(thumb)\.jpg|(page)\.jpg|(id)\.png|(variant)\.png|(invigilator)\.png|(q)([1-9][0-9]{0,3})\.png")


def _image_name(name: str) -> tuple[str, int | None]:
    match = _IMAGE_NAMES.fullmatch(name)
    if match is None:
        raise DeskError("没有这种图像", 404)
    kind = next(g for g in match.groups()[:6] if g)
    return kind, int(match.group(7)) if kind == "q" else None


__all__ = ["DeskError", "ReviewDesk", "check_grader"]
