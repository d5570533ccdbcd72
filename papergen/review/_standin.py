"""TEMPORARY stand-in for grade/settle.py, grade/views.py and the store additions (api13.md).

Deleted when the lead's "Settle:" step lands on main. Not part of the product.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from papergen.core.errors import PapergenError
from papergen.grade.store import DB_NAME

Rect = tuple[float, float, float, float]


class InvalidDecision(PapergenError):
    pass


class ViewUnavailable(PapergenError):
    pass


@dataclass(frozen=True)
class Override:
    id: int
    at: str
    grader: str
    source: str
    page: int
    part: int
    file_hash: str
    number: int
    field: str
    old: str
    new: str
    reading: str
    reason: str
    state: str


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


@contextmanager
def deciding_store(results_dir) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(Path(results_dir) / DB_NAME, timeout=10)
    db.execute("PRAGMA busy_timeout=10000")
    with db:
        db.executescript(
            "CREATE TABLE IF NOT EXISTS overrides(id INTEGER PRIMARY KEY, at TEXT, grader TEXT, source TEXT, page INT,"
            " part INT, file_hash TEXT, number INT, field TEXT, old TEXT, new TEXT, reading TEXT, reason TEXT, state TEXT);"
            "CREATE TABLE IF NOT EXISTS claims(item TEXT PRIMARY KEY, grader TEXT, session TEXT, until REAL);"
        )
    try:
        yield db
    finally:
        db.close()


def overrides(db, *, active_only=True) -> list[Override]:
    rows = db.execute("SELECT * FROM overrides" + (" WHERE state = 'active'" if active_only else "") + " ORDER BY id")
    return [Override(*row) for row in rows]


def undo_override(db, override_id: int, grader: str) -> None:
    with db:
        db.execute("UPDATE overrides SET state = 'undone' WHERE id = ?", (override_id,))


def claim_item(db, item: str, grader: str, session: str, seconds: float = 120) -> bool:
    now = time.time()
    with db:
        row = db.execute("SELECT session, until FROM claims WHERE item = ?", (item,)).fetchone()
        if row and row[0] != session and row[1] > now:
            return False
        db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?)", (item, grader, session, now + seconds))
    return True


def release_item(db, item: str, session: str) -> None:
    with db:
        db.execute("DELETE FROM claims WHERE item = ? AND session = ?", (item, session))


_SHEET_FIELDS = {"violation-marked": ("violation",), "absent-unclear": ("absent",), "absent-with-answers": ("absent",),
                 "id-unreadable": ("student_id",), "id-missing": ("student_id",), "id-incomplete": ("student_id",),
                 "variant-missing": ("variant",), "variant-unreadable": ("variant",)}


def _items(db, manifest) -> list[ReviewItem]:
    decided = {(o.file_hash, o.page, o.part, o.number) for o in overrides(db)}
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
    with db:
        cur = db.execute(
            "INSERT INTO overrides (at, grader, source, page, part, file_hash, number, field, old, new, reading, reason, state)"
            " VALUES (strftime('%Y-%m-%dT%H:%M:%SZ','now'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active')",
            (grader, item.path, target_page, target_part, target_hash, item.number or 0, field, item.read_letters, new,
             item.read_letters, reason),
        )
    return cur.lastrowid


def sheet_item(db, manifest, sheet_id: str) -> ReviewItem:
    _, h, page, part, reason = sheet_id.split(":")
    path, sid, variant = db.execute("SELECT path, student_id, variant FROM pages WHERE file_hash=? AND page=? AND part=?",
                                    (h, int(page), int(part))).fetchone()
    return ReviewItem(sheet_id, "identity", reason, "", f"{path} 第 {page} 页", path, int(page), int(part), h, None, sid,
                      variant, fields=("void", "student_id"))


# -- views ---------------------------------------------------------------------------------

@dataclass
class SheetView:
    gray: np.ndarray
    homography: np.ndarray
    geometry: object
    sheet_page: int


def sheet_view(path, page, part, manifest, frame) -> SheetView:
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise ViewUnavailable(f"无法打开 {path}")
    g = manifest.sheet
    ox, oy = g.origin
    s = gray.shape[1] / g.page_size[0]
    h = np.array([[s, 0, ox * s], [0, s, oy * s], [0, 0, 1]], float)
    return SheetView(gray, h, g, 1)


def render_region(view, region_mm, px_per_mm, outlines=()) -> np.ndarray:
    g = view.geometry
    if region_mm is None:
        region_mm = (-g.origin[0], -g.origin[1], g.page_size[0], g.page_size[1])
    x, y, w, hh = region_mm
    scale = np.array([[px_per_mm, 0, -x * px_per_mm], [0, px_per_mm, -y * px_per_mm], [0, 0, 1]])
    m = scale @ np.linalg.inv(view.homography)
    out = cv2.warpPerspective(view.gray, m, (int(w * px_per_mm), int(hh * px_per_mm)), borderValue=255)
    out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    for (rx, ry, rw, rh), colour, thick in outlines:
        p0 = (int((rx - x) * px_per_mm), int((ry - y) * px_per_mm))
        p1 = (int((rx + rw - x) * px_per_mm), int((ry + rh - y) * px_per_mm))
        cv2.rectangle(out, p0, p1, colour, thick)
    return out


def question_region(geometry, number: int, margin_mm: float = 2.0) -> Rect:
    q = next(q for q in geometry.questions if q.number == number)
    x0 = min(b[0] for b in q.boxes) - 12
    y0 = min(b[1] for b in q.boxes)
    x1 = max(b[0] + b[2] for b in q.boxes)
    y1 = max(b[1] + b[3] for b in q.boxes)
    return (x0 - margin_mm, y0 - margin_mm, x1 - x0 + 2 * margin_mm, y1 - y0 + 2 * margin_mm)


def png_bytes(image) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def jpeg_bytes(image, quality=85) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def suspected(_: Sequence) -> list:
    return []
