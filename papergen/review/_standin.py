"""TEMPORARY stand-in for grade/settle.py, grade/views.py and the store additions (api13.md).

Deleted when the lead's "Settle:" step lands on main. Not part of the product.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from papergen.core.errors import PapergenError

Rect = tuple[float, float, float, float]


class InvalidDecision(PapergenError):
    pass


class ViewUnavailable(PapergenError):
    pass


from papergen.grade.store import Override, insert_override, overrides, read_pages


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


_SHEET_FIELDS = {"violation-marked": ("violation",), "absent-unclear": ("absent",), "absent-with-answers": ("absent",),
                 "id-unreadable": ("student_id",), "id-missing": ("student_id",), "id-incomplete": ("student_id",),
                 "variant-missing": ("variant",), "variant-unreadable": ("variant",)}


def _items(db, manifest) -> list[ReviewItem]:
    decided = {(o.file_hash, o.page, o.part, o.number) for o in overrides(db)}
    decided |= {(o.file_hash, o.page, o.part, 0) for o in overrides(db) if o.field in ("void", "student_id")}
    items = []
    rows = db.execute(
        "SELECT p.file_hash, p.page, p.part, p.path, p.student_id, p.variant, f.number, f.reason, f.message "
        "FROM flags f JOIN pages p USING (file_hash, page, part) WHERE f.resolved = 0 AND p.status = 'read'"
    ).fetchall()
    for h, page, part, path, sid, variant, number, reason, message in rows:
        if (h, page, part, number) in decided:
            continue
        where = f"{path} 第 {page} 页"
        if number:
            m = db.execute("SELECT letters, darkness, question_id FROM marks WHERE file_hash=? AND page=? AND part=? AND number=?",
                           (h, page, part, number)).fetchone()
            darkness = json.loads(m[1]) if m else []
            key = None
            if variant and m and m[2]:
                item = next(i for i in manifest.variant(variant).items if i.number == number)
                key = item.key
            items.append(ReviewItem(f"mark:{h}:{page}:{part}:{number}", "mark", reason, message, where, path, page, part, h,
                                    number, sid, variant, m[2] if m else None, m[0] if m else "", darkness, key,
                                    len(darkness)))
        else:
            fields = _SHEET_FIELDS.get(reason, ("ack",))
            kind = "identity" if fields[0] in ("student_id", "variant") else "sheet"
            items.append(ReviewItem(f"sheet:{h}:{page}:{part}:{reason}", kind, reason, message, where, path, page, part, h,
                                    None, sid, variant, fields=fields))
    for sid, reason, message in db.execute("SELECT student_id, reason, message FROM sheet_flags"):
        sheets = db.execute("SELECT file_hash, page, part FROM pages WHERE student_id = ? AND status='read'", (sid,)).fetchall()
        if any((h, p, q, 0) in decided for h, p, q in sheets):
            continue
        items.append(ReviewItem(f"dup:{sid}", "identity", reason, message, "", "", None, 1, None, None, sid,
                                pages=[f"sheet:{h}:{p}:{q}:duplicate-id" for h, p, q in sheets], fields=("void", "student_id")))
    rank = {"identity": 0, "page": 1, "sheet": 2, "mark": 3}
    return sorted(items, key=lambda i: (rank[i.kind], i.id))


def review_queue(db, manifest) -> list[ReviewItem]:
    return _items(db, manifest)


def queue_item(db, manifest, item_id: str) -> ReviewItem | None:
    return next((i for i in _items(db, manifest) if i.id == item_id), None)


def decide(db, manifest, item: ReviewItem, *, grader: str, field: str, new: str, reason: str = "") -> int:
    if field not in item.fields and not (item.kind == "mark" and field == "answer"):
        raise InvalidDecision(f"这一项不能设置 {field}")
    if field == "answer":
        letters = "ABCDEFGH"[: item.options]
        bad = [c for c in new if c not in letters]
        if bad:
            raise InvalidDecision(f"第 {item.number} 题没有选项 {''.join(bad)}（只有 {letters}）")
    if field == "student_id" and not (new.isdigit() and len(new) == manifest.sheet.id_digits):
        raise InvalidDecision(f"准考证号应为 {manifest.sheet.id_digits} 位数字")
    if field == "variant" and new not in [v.name for v in manifest.variants]:
        raise InvalidDecision(f"本次考试没有试卷类型 {new}")
    target_hash, target_page, target_part = item.file_hash, item.page, item.part
    if item.id.startswith("dup:"):
        raise InvalidDecision("stand-in: decide on a sheet of the duplicate")
    page = next(p for p in read_pages(db) if p.key == (target_hash, target_page, target_part))
    return insert_override(db, grader=grader, page=page, number=item.number or 0, field=field, old=item.read_letters,
                           new=new, reading=item.read_letters, reason=reason)


def sheet_item(db, manifest, sheet_id: str) -> ReviewItem:
    _, h, page, part, reason = sheet_id.split(":")
    path, sid, variant = db.execute("SELECT path, student_id, variant FROM pages WHERE file_hash=? AND page=? AND part=?",
                                    (h, int(page), int(part))).fetchone()
    return ReviewItem(sheet_id, "identity", reason, "", f"{path} 第 {page} 页", path, int(page), int(part), h, None, sid,
                      variant, fields=("void", "student_id"))


def suspected(_: Sequence) -> list:
    return []
