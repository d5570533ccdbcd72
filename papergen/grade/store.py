"""The grading store: ``RESULTS_DIR/results.sqlite``.

One row per answer sheet found on a scanned page, keyed by the scan file's
SHA-256, the page number and the sheet's place on the page (``part``: 1, or
1 and 2 for two sheets scanned side by side), written in one transaction
together with its marks and flags. A page already in the store is never
read again (except one that failed, which is retried on every run), so a
re-run adds only what is new and a run killed at any moment resumes to
exactly the rows an uninterrupted run would have written. Rows carry the
evidence (darkness of every box, paper and ink levels, QR text) next to
each decision.

A page is one physical sheet: the ``pages`` table holds only the *current*
reading of each page of each file (by its resolved path, ``source``). When
a file is scanned again under the same name, or a file that failed is read
again, the earlier reading or error moves to ``history`` (with its marks, as
evidence) — it is never added to the new one. A unique index on
``(source, page, part)`` makes that an invariant of the store.

Only the parent process writes readings; a lock file keeps a second
``grade`` on the same folder out. People's decisions are a separate,
append-only record: ``overrides`` (an answer, a 准考证号, a 试卷类型, 缺考 or
违纪 settled by a grader, a sheet set aside) and ``key_changes`` (a corrected,
voided or widened key), each with who, when, the old and the new value. They
are keyed by the page's file name (``source``), page and sheet, never by a
reading, so grading again or rescanning never removes one; whether one still
applies is decided when results are computed (``grade/settle.py``). The
review page, ``rekey`` and ``--apply`` write them while ``grade`` may be
running (WAL, short transactions); ``claims`` keeps two graders off one item.

The schema has a version (``SCHEMA_VERSION``, in ``meta``); a version-2 store
(before decisions) is upgraded in place when it is opened for writing, and
read as having no decisions until then. README documents the tables.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from papergen.core.errors import InputFileError, OutputError, StoreBusy, StoreMismatch

SCHEMA_VERSION = 3
#: Stores this version can upgrade in place (2: before frames and decisions).
UPGRADABLE = {2}
DB_NAME = "results.sqlite"
LOCK_NAME = ".papergen-grade.lock"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scans (
    file_hash TEXT PRIMARY KEY, path TEXT NOT NULL, kind TEXT NOT NULL, pages INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pages (
    file_hash TEXT NOT NULL, page INTEGER NOT NULL, part INTEGER NOT NULL,  -- part: which sheet on the page
    path TEXT NOT NULL,
    source TEXT NOT NULL,            -- the file's resolved path: what "the same file name" means
    status TEXT NOT NULL,            -- read | rejected | not-a-sheet | blank-page | error
    message TEXT NOT NULL DEFAULT '',
    parts INTEGER NOT NULL DEFAULT 1,  -- answer sheets found on this page
    sheet_page INTEGER, rotation INTEGER, fiducials INTEGER, qr TEXT,
    student_id TEXT, id_source TEXT, variant TEXT, absent INTEGER NOT NULL DEFAULT 0,
    paper_white REAL, ink_black REAL, empty_box REAL,
    binary INTEGER NOT NULL DEFAULT 0,  -- a black-and-white scan (light marks may be lost)
    frame TEXT,                      -- JSON: where the sheet lies in the decoded page image (see ``PageFrame``)
    PRIMARY KEY (file_hash, page, part)
);
CREATE UNIQUE INDEX IF NOT EXISTS pages_one_reading ON pages (source, page, part);
CREATE TABLE IF NOT EXISTS marks (
    file_hash TEXT NOT NULL, page INTEGER NOT NULL, part INTEGER NOT NULL, number INTEGER NOT NULL,
    question_id TEXT, section INTEGER,
    outcome TEXT NOT NULL,           -- answer | blank | flagged
    letters TEXT NOT NULL,           -- as marked, in the variant's letters
    bank_letters TEXT,               -- the same options in the bank's letters
    reason TEXT NOT NULL, note TEXT NOT NULL, confidence REAL NOT NULL,
    darkness TEXT NOT NULL,          -- JSON list, one value per box
    score REAL,                      -- NULL when the question could not be scored
    PRIMARY KEY (file_hash, page, part, number)
);
CREATE TABLE IF NOT EXISTS flags (
    file_hash TEXT NOT NULL, page INTEGER NOT NULL, part INTEGER NOT NULL,
    number INTEGER NOT NULL,         -- 0: the sheet itself
    reason TEXT NOT NULL, message TEXT NOT NULL, resolved INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (file_hash, page, part, number, reason)
);
CREATE TABLE IF NOT EXISTS file_errors (
    path TEXT NOT NULL, source TEXT NOT NULL, file_hash TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (source, file_hash)
);
CREATE TABLE IF NOT EXISTS sheet_flags (   -- recomputed after every run
    student_id TEXT NOT NULL, reason TEXT NOT NULL, message TEXT NOT NULL,
    PRIMARY KEY (student_id, reason)
);
CREATE TABLE IF NOT EXISTS history (       -- readings and errors that are no longer current
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    replaced_at TEXT NOT NULL,       -- UTC, ISO 8601
    why TEXT NOT NULL,               -- rescanned | retried | fixed
    source TEXT NOT NULL, path TEXT NOT NULL, file_hash TEXT NOT NULL, page INTEGER, part INTEGER,
    status TEXT NOT NULL, student_id TEXT, message TEXT NOT NULL,
    reading TEXT NOT NULL            -- JSON: the page row, its marks and flags (or the file error)
);
CREATE INDEX IF NOT EXISTS pages_student ON pages (student_id);
"""

#: Tables added by version 3: people's decisions (never deleted) and who is looking at what.
DECISIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS overrides (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,                -- UTC, ISO 8601
    grader TEXT NOT NULL,
    source TEXT NOT NULL, page INTEGER NOT NULL, part INTEGER NOT NULL,  -- the physical sheet, across rescans
    file_hash TEXT NOT NULL,         -- the scan the decision was taken on
    number INTEGER NOT NULL,         -- question number; 0: the sheet
    field TEXT NOT NULL,             -- answer | student_id | variant | absent | violation | void | ack
    old TEXT, new TEXT NOT NULL,
    reading TEXT NOT NULL,           -- the machine's reading it was taken on: it applies while that reading stands
    reason TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'active'  -- active | undone
);
CREATE INDEX IF NOT EXISTS overrides_sheet ON overrides (source, page, part);
CREATE TABLE IF NOT EXISTS key_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL, grader TEXT NOT NULL,
    question_id TEXT NOT NULL,
    action TEXT NOT NULL,            -- key | accept | void-full | void-drop | restore
    answers TEXT NOT NULL DEFAULT '[]',  -- JSON list of keys in bank letters
    old TEXT NOT NULL DEFAULT '',    -- the key in force before, as text
    reason TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'active'  -- active | undone
);
CREATE TABLE IF NOT EXISTS claims (      -- an item a grader has open on the review page
    item TEXT PRIMARY KEY, grader TEXT NOT NULL, session TEXT NOT NULL, until REAL NOT NULL
);
"""

#: Why a reading left ``pages``: the file was scanned again under the same
#: name; a page that had failed was read again; a file error went away.
WHY_ZH = {"rescanned": "同名文件已重新扫描，这是较早的读取", "retried": "重新读取", "fixed": "文件已更换或修好"}


@dataclass(frozen=True)
class PageRecord:
    """Everything the parent writes for one sheet on one page (built from a worker's result)."""

    file_hash: str
    page: int
    path: str
    status: str
    message: str
    values: dict  # the remaining ``pages`` columns
    marks: list[tuple]  # (number, question_id, section, outcome, letters, bank_letters, reason, note, confidence, darkness_json, score)
    flags: list[tuple]  # (number, reason, message)
    part: int = 1  # which answer sheet on the page (two sheets scanned side by side: 1 and 2)


def source_of(path: str | Path) -> str:
    """The identity of a scan file by name: its resolved absolute path."""
    return str(Path(path).resolve())


class Store:
    """An open results store (use ``open_store``)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection

    def done_pages(self) -> set[tuple[str, int]]:
        """Pages read (or refused) already; a page that failed with an error is tried again."""
        return {(h, p) for h, p in self.db.execute("SELECT file_hash, page FROM pages WHERE status != 'error'")}

    def record_ingest(
        self, scans: list[tuple[str, str, str, int]], errors: list[tuple[str, str | None, str, str]], seen: list[str]
    ) -> None:
        """What this run found in its input: scan files, file errors, and every path looked at.

        ``scans`` are ``(path, file_hash, kind, pages)`` of files with pages to
        grade, ``errors`` ``(path, file_hash, reason, message)`` of files that
        could not be read, ``seen`` every file path this run looked at.

        A page is one physical sheet: a scan saved under the name of an
        earlier one replaces that file's earlier readings (moved to
        ``history``, never added to the new one). An error belongs to a
        version of a file: for every path looked at, the open errors become
        exactly this run's errors for it; the others move to ``history``.
        (A newer version that cannot be read leaves the earlier reading
        current, next to the new error.)
        """
        with self.db:
            for path, file_hash, kind, pages in scans:
                self.db.execute(
                    "INSERT INTO scans (file_hash, path, kind, pages) VALUES (?, ?, ?, ?) ON CONFLICT(file_hash) DO NOTHING",
                    (file_hash, path, kind, pages),
                )
                stale = self.db.execute(
                    "SELECT file_hash, page, part FROM pages WHERE source = ? AND file_hash != ?", (source_of(path), file_hash)
                ).fetchall()
                for key in stale:
                    self._retire_page(key, "rescanned")
            open_now: dict[str, set[str]] = {source_of(path): set() for path in seen}
            for path, file_hash, reason, message in errors:
                source = source_of(path)
                open_now.setdefault(source, set()).add(file_hash or "")
                self.db.execute(
                    "INSERT INTO file_errors VALUES (?, ?, ?, ?, ?) ON CONFLICT(source, file_hash) DO UPDATE SET "
                    "path = excluded.path, reason = excluded.reason, message = excluded.message",
                    (path, source, file_hash or "", reason, message),
                )
            for source, hashes in open_now.items():
                for path, file_hash, reason, message in self.db.execute(
                    "SELECT path, file_hash, reason, message FROM file_errors WHERE source = ?", (source,)
                ).fetchall():
                    if file_hash in hashes:
                        continue
                    self.db.execute(
                        "INSERT INTO history (replaced_at, why, source, path, file_hash, status, message, reading) "
                        "VALUES (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'fixed', ?, ?, ?, 'error', ?, ?)",
                        (source, path, file_hash, message, json.dumps({"reason": reason}, ensure_ascii=False)),
                    )
                    self.db.execute("DELETE FROM file_errors WHERE source = ? AND file_hash = ?", (source, file_hash))

    def write_page(self, records: list[PageRecord]) -> None:
        """All sheets found on one page, their marks and flags, in one transaction.

        An earlier reading of the same page that had failed (status error) is
        moved to ``history`` first: the new reading replaces it.
        """
        with self.db:
            first = records[0]
            for key in self.db.execute(
                "SELECT file_hash, page, part FROM pages WHERE file_hash = ? AND page = ?", (first.file_hash, first.page)
            ).fetchall():
                self._retire_page(key, "retried")
            for record in records:
                columns = ["file_hash", "page", "part", "path", "source", "status", "message", "parts", *record.values]
                values = [
                    record.file_hash, record.page, record.part, record.path, source_of(record.path), record.status,
                    record.message, len(records), *record.values.values(),
                ]
                self.db.execute(
                    f"INSERT INTO pages ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values
                )
                self.db.executemany(
                    "INSERT INTO marks VALUES (?, ?, ?, " + ", ".join("?" * 11) + ")",
                    [(record.file_hash, record.page, record.part, *mark) for mark in record.marks],
                )
                self.db.executemany(
                    "INSERT INTO flags (file_hash, page, part, number, reason, message) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (record.file_hash, record.page, record.part, number or 0, reason, message)
                        for number, reason, message in record.flags
                    ],
                )

    def _retire_page(self, key: tuple[str, int, int], why: str) -> None:
        """Move one page reading (row, marks, flags) to ``history``; call inside a transaction."""
        where = "file_hash = ? AND page = ? AND part = ?"
        cursor = self.db.execute(f"SELECT * FROM pages WHERE {where}", key)
        names = [d[0] for d in cursor.description]
        row = dict(zip(names, cursor.fetchone()))
        marks = self.db.execute(f"SELECT * FROM marks WHERE {where} ORDER BY number", key).fetchall()
        flags = self.db.execute(f"SELECT * FROM flags WHERE {where} ORDER BY number, reason", key).fetchall()
        self.db.execute(
            "INSERT INTO history (replaced_at, why, source, path, file_hash, page, part, status, student_id, message, reading) "
            "VALUES (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                why, row["source"], row["path"], row["file_hash"], row["page"], row["part"], row["status"],
                row["student_id"], row["message"], json.dumps({"page": row, "marks": marks, "flags": flags}, ensure_ascii=False),
            ),
        )
        for table in ("marks", "flags", "pages"):
            self.db.execute(f"DELETE FROM {table} WHERE {where}", key)

    def mark_grading(self, finished: bool) -> None:
        """Record whether the last ``grade`` run got through its input (an interrupted one did not)."""
        with self.db:
            self.db.execute(
                "INSERT INTO meta VALUES ('grading', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                ("finished" if finished else "unfinished",),
            )

    def refresh_sheet_flags(self) -> list[SheetFlag]:
        """Recompute flags that depend on several pages (the same 准考证号 twice)."""
        # The sheets are listed by name, not in the order they were written (a
        # cluster writes pages as they finish): the same store, the same message.
        rows = self.db.execute(
            "SELECT student_id, sheet_page, path || '#' || page FROM pages p WHERE status = 'read' AND student_id IS NOT NULL "
            "AND (SELECT COUNT(*) FROM pages q WHERE q.status = 'read' AND q.student_id = p.student_id "
            "     AND q.sheet_page IS p.sheet_page) > 1 "
            "ORDER BY student_id, sheet_page, path, page, part"
        ).fetchall()
        flags = [
            SheetFlag(sid, "duplicate-id", f"准考证号 {sid} 出现在 {len(names)} 张答题卡上（{'、'.join(names)}）；两张都已保留，请核对")
            for (sid, _), names in _grouped(rows).items()
        ]
        with self.db:
            self.db.execute("DELETE FROM sheet_flags")
            self.db.executemany(
                "INSERT OR IGNORE INTO sheet_flags VALUES (?, ?, ?)", [(f.student_id, f.reason, f.message) for f in flags]
            )
        return flags

    def close(self) -> None:
        self.db.close()


def _grouped(rows: list[tuple]) -> dict[tuple, list[str]]:
    """``(student_id, sheet_page, where)`` rows → ``where`` values by ``(student_id, sheet_page)``, in row order."""
    groups: dict[tuple, list[str]] = {}
    for student_id, sheet_page, where in rows:
        groups.setdefault((student_id, sheet_page), []).append(where)
    return groups


def _connect(path: Path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        raise OutputError(f"无法打开成绩库：{exc}", path=path) from None
    return db


@contextmanager
def open_store(results_dir: str | Path, manifest_text: str, exam_id: str, *, exclusive: bool = True) -> Iterator[Store]:
    """Open (creating if needed) the store for one exam.

    ``exclusive`` takes the folder's lock (for ``grade``); a second holder is
    refused with ``StoreBusy``. A store made for another exam or another
    manifest is refused with ``StoreMismatch``.
    """
    results_dir = Path(results_dir)
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"无法创建结果文件夹：{exc.strerror}", path=results_dir) from None
    lock_handle = None
    if exclusive:
        try:
            lock_handle = open(results_dir / LOCK_NAME, "a+")
        except OSError as exc:
            raise OutputError(f"结果文件夹不可写：{exc.strerror}", path=results_dir) from None
        try:
            fcntl.flock(lock_handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_handle.close()
            raise StoreBusy(
                "另一个 papergen grade 正在使用这个结果文件夹", path=results_dir,
                hint="等它结束后再运行；成绩库不会因此损坏",
            ) from None
    path = results_dir / DB_NAME
    db = _connect(path)
    try:
        with db:
            db.executescript(SCHEMA)
        _upgrade(db, path)
        digest = hashlib.sha256(manifest_text.encode("utf-8")).hexdigest()
        meta = dict(db.execute("SELECT key, value FROM meta"))
        if not meta:
            with db:
                db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("exam", exam_id), ("manifest_sha256", digest),
                     ("manifest", manifest_text)],
                )
        else:
            if meta.get("exam") != exam_id:
                raise StoreMismatch(
                    f"这个结果文件夹属于考试 {meta.get('exam')}，不是 {exam_id}", path=results_dir,
                    hint="每场考试用一个结果文件夹",
                )
            if meta.get("manifest_sha256") != digest:
                raise StoreMismatch(
                    "这个结果文件夹是用另一份 exam.json 评阅的（同一考试编号但内容不同）", path=results_dir,
                    hint="用原来的 exam.json，或换一个结果文件夹",
                )
        yield Store(db)
    except sqlite3.DatabaseError as exc:
        raise OutputError(_database_message(exc), path=path) from None
    finally:
        db.close()
        if lock_handle is not None:
            fcntl.flock(lock_handle.fileno(), fcntl.LOCK_UN)
            lock_handle.close()


def _upgrade(db: sqlite3.Connection, path: Path) -> None:
    """Bring a store to ``SCHEMA_VERSION`` in place (a new one just gets the decision tables).

    Version 2 → 3 adds ``pages.frame`` (empty on earlier rows) and the
    decision tables; nothing is rewritten. A store from a newer papergen, or
    one too old to upgrade, is refused.
    """
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else SCHEMA_VERSION
    if version != SCHEMA_VERSION and version not in UPGRADABLE:
        raise StoreMismatch(f"成绩库版本 {version} 与本版 papergen（{SCHEMA_VERSION}）不符", path=path)
    with db:
        if version < 3 and "frame" not in _columns(db, "pages"):
            db.execute("ALTER TABLE pages ADD COLUMN frame TEXT")
        db.executescript(DECISIONS_SCHEMA)
        if row is not None and version != SCHEMA_VERSION:
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def has_decisions(db: sqlite3.Connection) -> bool:
    """Whether the store has the decision tables (a version-2 store read before any upgrade has none)."""
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'overrides'").fetchone() is not None


@contextmanager
def deciding_store(results_dir: str | Path) -> Iterator[sqlite3.Connection]:
    """The store open for recording people's decisions (review page, ``rekey``, ``--apply``).

    No ``grade`` lock: decisions are short transactions beside a running
    ``grade`` (WAL; a writer waits up to 10 s for another). The store is
    upgraded to this version first. SQLite failures become papergen errors
    naming the store.
    """
    path = Path(results_dir) / DB_NAME
    if not path.exists():
        raise InputFileError("这里没有成绩库 results.sqlite", path=results_dir, hint="先运行 papergen grade")
    db = _connect(path)
    try:
        db.execute("PRAGMA busy_timeout = 10000")
        _upgrade(db, path)
        yield db
    except sqlite3.DatabaseError as exc:
        raise OutputError(_database_message(exc), path=path) from None
    finally:
        db.close()


def _database_message(exc: sqlite3.DatabaseError) -> str:
    """SQLite's English error, said in Chinese for the cases a grader can act on."""
    text = str(exc).lower()
    if "full" in text:
        return "成绩库无法写入：磁盘已满；已写入的页面都保留着，腾出空间后重新运行即可接着评"
    if "i/o" in text:
        return "成绩库无法写入：磁盘读写出错（磁盘已满、U 盘被拔出或网络盘断开）；已写入的页面都保留着，重新运行即可接着评"
    if "readonly" in text or "read-only" in text:
        return "成绩库无法写入：文件或文件夹是只读的"
    if "malformed" in text or "not a database" in text:
        return "成绩库文件已损坏，无法使用；请换一个结果文件夹重新评阅"
    return f"成绩库出错：{exc}"


def read_only(results_dir: str | Path) -> sqlite3.Connection:
    """A connection for reports and ``results`` (no lock: WAL lets readers in)."""
    path = Path(results_dir) / DB_NAME
    if not path.exists():
        raise InputFileError("这里没有成绩库 results.sqlite", path=results_dir, hint="先运行 papergen grade")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


@contextmanager
def reading_store(results_dir: str | Path) -> Iterator[sqlite3.Connection]:
    """The results store open for reading (``results``, reports, evaluation).

    SQLite failures (a damaged file, a folder where SQLite cannot make its
    ``-shm`` file, a full disk) become an ``InputFileError`` naming the store
    instead of a traceback.
    """
    db = None
    try:
        db = read_only(results_dir)
        yield db
    except sqlite3.Error as exc:
        raise InputFileError(
            f"成绩库无法读取：{exc}", path=Path(results_dir) / DB_NAME,
            hint="确认结果文件夹可以读写、磁盘没有满，且 results.sqlite 是 papergen grade 写出的",
        ) from None
    finally:
        if db is not None:
            db.close()


# -- reading the store: every query the commands need lives here ---------------------------
#
# Each function returns typed rows with named fields; nothing outside this
# module writes SQL or unpacks a row by position.


@dataclass(frozen=True)
class PageRow:
    """One current reading of a sheet on a page (a row of ``pages``)."""

    file_hash: str
    page: int
    part: int
    parts: int  # answer sheets found on this page
    path: str
    status: str  # read | rejected | not-a-sheet | blank-page | error
    sheet_page: int | None
    student_id: str | None
    variant: str | None
    absent: bool
    black_and_white: bool  # a binary scan: light marks may have been lost before reading
    source: str = ""  # the file's resolved path: with page and part, the sheet a decision belongs to

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.file_hash, self.page, self.part)

    @property
    def where(self) -> str:
        return page_label(self.path, self.page, self.part, self.parts)


class MarkRow(NamedTuple):
    """One question as read on one sheet (a row of ``marks``).

    A named tuple, not a dataclass: a results pass builds one per answer on
    every sheet (a million for 10,000 sheets of 100 questions), and a tuple
    is made straight from the database row.
    """

    number: int  # question number on the sheet
    question_id: str | None  # bank id; None on a sheet without a known variant
    section: int | None
    outcome: str  # answer | blank | flagged
    letters: str  # as marked, in the variant's letters
    bank_letters: str | None  # the same options in the bank's letters
    score: float | None  # None: not scored
    darkness_json: str  # JSON list, one value per box (parsed only when asked: ``darkness``)
    confidence: float = 1.0  # the reader's certainty in its decision (lowest: nearest a threshold)

    @property
    def darkness(self) -> list[float]:
        return json.loads(self.darkness_json)

    def left_no_trace(self, boxes: Iterable[int]) -> bool:
        """True when none of ``boxes`` (0 = A) read darker than an empty box.

        A mark that leaves no trace (a light mark lost by a black-and-white
        scan) is one no reader could have seen.
        """
        # Imported here: the bubble reader brings OpenCV, which readers of the
        # store (``results``, reports) never need.
        from papergen.grade.bubbles import EMPTY

        darkness = self.darkness
        return all(darkness[box] <= EMPTY for box in boxes)


@dataclass(frozen=True)
class FlagRow:
    """Something on one sheet that waits for a person (a row of ``flags``)."""

    number: int  # question number; 0: the sheet itself
    reason: str  # slug
    message: str  # Chinese
    resolved: bool


@dataclass(frozen=True)
class SheetFlag:
    """A problem across sheets (a row of ``sheet_flags``): the same 准考证号 on two sheets."""

    student_id: str
    reason: str  # duplicate-id
    message: str


@dataclass(frozen=True)
class ReplacedReading:
    """A reading that a newer scan under the same file name replaced (from ``history``)."""

    replaced_at: str  # UTC, ISO 8601
    path: str
    page: int | None
    student_id: str | None


def page_label(path: str, page: int | None, part: int = 1, parts: int = 1) -> str:
    """"scan.pdf 第 3 页", and which sheet when one page held several ("第 3 页第 2 张答题卡")."""
    text = f"{path} 第 {page} 页" if page else path
    return text + (f"第 {part} 张答题卡" if parts > 1 else "")


_PAGE_COLUMNS = "file_hash, page, part, parts, path, status, sheet_page, student_id, variant, absent, binary, source"


def _page_row(row: tuple) -> PageRow:
    file_hash, page, part, parts, path, status, sheet_page, student_id, variant, absent, binary, source = row
    return PageRow(
        file_hash=file_hash, page=page, part=part, parts=parts, path=path, status=status, sheet_page=sheet_page,
        student_id=student_id, variant=variant, absent=bool(absent), black_and_white=bool(binary), source=source,
    )


def read_pages(db: sqlite3.Connection) -> list[PageRow]:
    """Every current reading of a sheet (status ``read``), in a stable order."""
    return [
        _page_row(row)
        for row in db.execute(
            f"SELECT {_PAGE_COLUMNS} FROM pages WHERE status = 'read' ORDER BY student_id, path, page, part"
        )
    ]


def page_row(db: sqlite3.Connection, key: tuple[str, int, int]) -> PageRow | None:
    """The current reading ``(file_hash, page, part)``, whatever its status; None when there is none."""
    row = db.execute(f"SELECT {_PAGE_COLUMNS} FROM pages WHERE file_hash = ? AND page = ? AND part = ?", key).fetchone()
    return _page_row(row) if row else None


def all_pages(db: sqlite3.Connection) -> list[PageRow]:
    """Every current page reading whatever its status (read, refused, failed), first sheets first."""
    return list(iter_pages(db))


def iter_pages(db: sqlite3.Connection) -> Iterator[PageRow]:
    """``all_pages`` one row at a time, in the same order (first sheets first, then as written)."""
    for row in db.execute(f"SELECT {_PAGE_COLUMNS} FROM pages ORDER BY part, rowid"):
        yield _page_row(row)


def pages_without_marks(db: sqlite3.Connection) -> Iterator[PageRow]:
    """The current pages that have no marks (not read, or read with nothing on them), in ``all_pages`` order."""
    for row in db.execute(
        f"SELECT {_PAGE_COLUMNS} FROM pages AS p WHERE NOT EXISTS "
        "(SELECT 1 FROM marks AS m WHERE m.file_hash = p.file_hash AND m.page = p.page AND m.part = p.part) "
        "ORDER BY part, rowid"
    ):
        yield _page_row(row)


class OwnedSheet(NamedTuple):
    """A read sheet as ``SheetOwners`` keeps it: who it belongs to once decided, and where it is."""

    student_id: str
    sheet_page: int | None
    variant: str | None  # as settled
    file_hash: str
    page: int
    part: int
    parts: int
    path: str
    source: str


class SheetOwners:
    """Who each read sheet belongs to, spilled to a temporary SQLite file, to find a 准考证号 on two sheets.

    One row per sheet goes to disk, so finding duplicates holds memory for
    the duplicated sheets only, however many sheets the store has.
    """

    def __init__(self, folder: Path) -> None:
        self._db = sqlite3.connect(folder / "owners.sqlite")
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(
            "CREATE TABLE owner (seq INTEGER PRIMARY KEY, student_id TEXT NOT NULL, sheet_page INTEGER, variant TEXT, "
            "file_hash TEXT, page INTEGER, part INTEGER, parts INTEGER, path TEXT, source TEXT)"
        )
        self._pending: list[tuple] = []

    def add(self, sheet: OwnedSheet) -> None:
        """Record one sheet; sheets come in the order their duplicate items list them."""
        self._pending.append(tuple(sheet))
        if len(self._pending) >= 1000:
            self._flush()

    def _flush(self) -> None:
        self._db.executemany(
            "INSERT INTO owner (student_id, sheet_page, variant, file_hash, page, part, parts, path, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self._pending,
        )
        self._pending = []

    def duplicated(self) -> Iterator[list[OwnedSheet]]:
        """Each (准考证号, sheet page) on two sheets or more: its sheets in the order they were added.

        Groups come in the order of their last sheet (what a later group of the same 准考证号 overrides).
        """
        self._flush()
        group: list[OwnedSheet] = []
        for row in self._db.execute(
            "SELECT o.student_id, o.sheet_page, o.variant, o.file_hash, o.page, o.part, o.parts, o.path, o.source "
            "FROM owner AS o JOIN (SELECT student_id, sheet_page, MAX(seq) AS last FROM owner "
            "GROUP BY student_id, sheet_page HAVING COUNT(*) > 1) AS d "
            "ON o.student_id = d.student_id AND o.sheet_page IS d.sheet_page ORDER BY d.last, o.seq"
        ):
            sheet = OwnedSheet._make(row)
            if group and (group[0].student_id, group[0].sheet_page) != (sheet.student_id, sheet.sheet_page):
                yield group
                group = []
            group.append(sheet)
        if group:
            yield group

    def close(self) -> None:
        self._db.close()


@contextmanager
def sheet_owners() -> Iterator[SheetOwners]:
    """A ``SheetOwners`` in a temporary folder, removed on leaving."""
    with tempfile.TemporaryDirectory(prefix="papergen-owners-") as folder:
        owners = SheetOwners(Path(folder))
        try:
            yield owners
        finally:
            owners.close()


def page_marks(db: sqlite3.Connection, key: tuple[str, int, int]) -> list[MarkRow]:
    """The marks of one sheet ``(file_hash, page, part)``, by question number."""
    return [
        MarkRow(number, question_id, section, outcome, letters, bank_letters, score, darkness, confidence)
        for number, question_id, section, outcome, letters, bank_letters, score, darkness, confidence in db.execute(
            "SELECT number, question_id, section, outcome, letters, bank_letters, score, darkness, confidence FROM marks "
            "WHERE file_hash = ? AND page = ? AND part = ? ORDER BY number",
            key,
        )
    ]


def page_flags(db: sqlite3.Connection, key: tuple[str, int, int], *, open_only: bool = True) -> list[FlagRow]:
    """The flags of one sheet ``(file_hash, page, part)`` (number 0: the sheet), unresolved only unless asked."""
    return [
        FlagRow(number=number, reason=reason, message=message, resolved=bool(resolved))
        for number, reason, message, resolved in db.execute(
            "SELECT number, reason, message, resolved FROM flags WHERE file_hash = ? AND page = ? AND part = ? "
            + ("AND resolved = 0 " if open_only else "")
            + "ORDER BY number, reason",
            key,
        )
    ]


def sheet_flags(db: sqlite3.Connection) -> list[SheetFlag]:
    """Problems across sheets (the same 准考证号 twice), as the last ``grade`` run found them."""
    return [
        SheetFlag(student_id=sid, reason=reason, message=message)
        for sid, reason, message in db.execute(
            "SELECT student_id, reason, message FROM sheet_flags ORDER BY student_id, reason"
        )
    ]


@dataclass(frozen=True)
class StoreCounts:
    read: int
    rejected: int  # another exam or build, not a sheet, blank page
    errors: int  # pages and files that could not be read
    black_and_white: int
    replaced: int  # earlier readings kept in history


def store_counts(db: sqlite3.Connection) -> StoreCounts:
    """What ``grade``'s summary counts, over the whole store (this run and earlier ones)."""
    counts = dict(db.execute("SELECT status, COUNT(*) FROM pages GROUP BY status").fetchall())

    def count(sql: str) -> int:
        return db.execute(sql).fetchone()[0]

    return StoreCounts(
        read=counts.get("read", 0),
        rejected=sum(v for k, v in counts.items() if k not in ("read", "error")),
        errors=counts.get("error", 0) + count("SELECT COUNT(*) FROM file_errors"),
        black_and_white=count("SELECT COUNT(*) FROM pages WHERE status = 'read' AND binary = 1"),
        replaced=count("SELECT COUNT(*) FROM history WHERE why = 'rescanned'"),
    )


def black_and_white_pages(db: sqlite3.Connection) -> list[str]:
    """The read pages that were black-and-white scans (``page_label``s, by file and page): the ones to rescan in grey."""
    return [
        page_label(path, page, part, parts)
        for path, page, part, parts in db.execute(
            "SELECT path, page, part, parts FROM pages WHERE status = 'read' AND binary = 1 ORDER BY path, page, part"
        )
    ]


def page_notes(db: sqlite3.Connection) -> list[tuple[str, str]]:
    """What the reader said about read pages it did not read as plain scans — a mirror image turned back, a device's
    lines left out, a pushed contrast eased: ``(page_label, message)``, by file and page."""
    return [
        (page_label(path, page, part, parts), message)
        for path, page, part, parts, message in db.execute(
            "SELECT path, page, part, parts, message FROM pages WHERE status = 'read' AND message != '' "
            "ORDER BY path, page, part"
        )
    ]


def replaced_readings(db: sqlite3.Connection) -> list[ReplacedReading]:
    """Readings that a newer scan under the same file name replaced, oldest first."""
    return [
        ReplacedReading(replaced_at=at, path=path, page=page, student_id=sid)
        for at, path, page, sid in db.execute(
            "SELECT replaced_at, path, page, student_id FROM history WHERE why = 'rescanned' ORDER BY id"
        )
    ]


#: What every reader of a store says when the last ``grade`` run was interrupted.
UNFINISHED_WARNING = "注意：上次评阅被中断，没有评完，下面的成绩不全；请重新运行同一条 papergen grade 命令接着评完"


def grading_finished(db: sqlite3.Connection) -> bool:
    row = db.execute("SELECT value FROM meta WHERE key = 'grading'").fetchone()
    return row is None or row[0] == "finished"


def manifest_from_store(db: sqlite3.Connection) -> str:
    """The exam.json text the store was graded with (``meta``)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()
    return row[0]


def page_frame(db: sqlite3.Connection, key: tuple[str, int, int]) -> dict | None:
    """Where the sheet ``key`` lies in its decoded page image, as graded (None: not recorded)."""
    if "frame" not in _columns(db, "pages"):
        return None
    row = db.execute("SELECT frame FROM pages WHERE file_hash = ? AND page = ? AND part = ?", key).fetchone()
    return json.loads(row[0]) if row and row[0] else None


def marks_by_sheet(db: sqlite3.Connection) -> Iterator[tuple[tuple[str, int, int], list[MarkRow]]]:
    """The marks of every current reading, one sheet at a time: ``(key, marks in question order)``.

    A sheet's marks are written in one statement of one transaction, so they
    hold consecutive rowids and a plain table scan (no ORDER BY, no index
    walk) meets them together; only one sheet's marks are in memory at a time.
    That they are together is checked per sheet by one index look-up (its
    first mark is where the scan met it), not by remembering every sheet met.
    """
    key = None
    rows: list[MarkRow] = []
    for rowid, file_hash, page, part, *fields in db.execute(
        "SELECT rowid, file_hash, page, part, number, question_id, section, outcome, letters, bank_letters, score, "
        "darkness, confidence FROM marks"
    ):
        if key != (file_hash, page, part):
            if key is not None:
                yield key, sorted(rows, key=lambda mark: mark.number)
            key, rows = (file_hash, page, part), []
            # A sheet met before would have a mark earlier in the scan: one index look-up per sheet checks it
            # without remembering every sheet met (cannot happen with marks written by ``write_page``).
            first = db.execute(
                "SELECT MIN(rowid) FROM marks WHERE file_hash = ? AND page = ? AND part = ?", key
            ).fetchone()[0]
            if first != rowid:
                raise StoreMismatch("成绩库中一张答题卡的各题记录不连续，无法逐张读取", hint="这是 papergen 的错误，请把成绩文件夹报告给开发者")
        rows.append(MarkRow._make(fields))
    if key is not None:
        yield key, sorted(rows, key=lambda mark: mark.number)


def all_flags(db: sqlite3.Connection) -> dict[tuple[str, int, int], list[FlagRow]]:
    """The flags of every current reading, by sheet key (number 0: the sheet), in one query."""
    flags: dict[tuple[str, int, int], list[FlagRow]] = {}
    for file_hash, page, part, number, reason, message, resolved in db.execute(
        "SELECT file_hash, page, part, number, reason, message, resolved FROM flags ORDER BY file_hash, page, part, number, reason"
    ):
        flags.setdefault((file_hash, page, part), []).append(
            FlagRow(number=number, reason=reason, message=message, resolved=bool(resolved))
        )
    return flags


@dataclass(frozen=True)
class FileErrorRow:
    """A file that could not be opened as a scan (a row of ``file_errors``)."""

    path: str
    source: str
    file_hash: str
    reason: str
    message: str


def file_error_rows(db: sqlite3.Connection) -> list[FileErrorRow]:
    return [FileErrorRow(*row) for row in db.execute(
        "SELECT path, source, file_hash, reason, message FROM file_errors ORDER BY path"
    )]


# -- people's decisions ------------------------------------------------------------------


@dataclass(frozen=True)
class Override:
    """One decision a person took on a sheet (a row of ``overrides``)."""

    id: int
    at: str  # UTC, ISO 8601
    grader: str
    source: str  # the scan file's resolved path
    page: int
    part: int
    file_hash: str  # the scan version the decision was taken on
    number: int  # question number; 0: the sheet
    field: str  # answer | student_id | variant | absent | violation | void | ack
    old: str | None  # the value before (as read, or as an earlier decision set it)
    new: str
    reading: str  # the machine's reading the decision was taken on
    reason: str
    state: str  # active | undone

    @property
    def sheet(self) -> tuple[str, int, int]:
        return (self.source, self.page, self.part)


@dataclass(frozen=True)
class KeyChange:
    """A correction of the answer key after the exam (a row of ``key_changes``)."""

    id: int
    at: str
    grader: str
    question_id: str
    action: str  # key | accept | void-full | void-drop | restore
    answers: tuple[str, ...]  # keys in bank letters (key: one; accept: several)
    old: str  # the key in force before, as text
    reason: str
    state: str  # active | undone


_NOW = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"


_OVERRIDE_COLUMNS = "id, at, grader, source, page, part, file_hash, number, field, old, new, reading, reason, state"


def overrides(db: sqlite3.Connection, *, active_only: bool = True) -> list[Override]:
    """Every decision on sheets, oldest first (undone ones too unless ``active_only``)."""
    return _select_overrides(db, "WHERE state = 'active'" if active_only else "", ())


def sheet_overrides(db: sqlite3.Connection, page: PageRow) -> list[Override]:
    """The active decisions on one sheet (by file name, page and part), oldest first."""
    return _select_overrides(
        db, "WHERE source = ? AND page = ? AND part = ? AND state = 'active'", (page.source, page.page, page.part)
    )


def _select_overrides(db: sqlite3.Connection, where: str, params: tuple) -> list[Override]:
    if not has_decisions(db):
        return []
    return [Override(*row) for row in db.execute(f"SELECT {_OVERRIDE_COLUMNS} FROM overrides {where} ORDER BY id", params)]


def key_changes(db: sqlite3.Connection, *, active_only: bool = True) -> list[KeyChange]:
    """Every key correction, oldest first (undone ones too unless ``active_only``)."""
    if not has_decisions(db):
        return []
    return [
        KeyChange(id, at, grader, question_id, action, tuple(json.loads(answers)), old, reason, state)
        for id, at, grader, question_id, action, answers, old, reason, state in db.execute(
            "SELECT id, at, grader, question_id, action, answers, old, reason, state FROM key_changes "
            + ("WHERE state = 'active' " if active_only else "") + "ORDER BY id"
        )
    ]


def insert_override(
    db: sqlite3.Connection, *, grader: str, page: PageRow, number: int, field: str, old: str | None, new: str,
    reading: str, reason: str = "",
) -> int:
    """Record one decision (its own transaction); returns its id."""
    with db:
        cursor = db.execute(
            "INSERT INTO overrides (at, grader, source, page, part, file_hash, number, field, old, new, reading, reason) "
            f"VALUES ({_NOW}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (grader, page.source, page.page, page.part, page.file_hash, number, field, old, new, reading, reason),
        )
    return int(cursor.lastrowid)


def insert_key_change(
    db: sqlite3.Connection, *, grader: str, question_id: str, action: str, answers: Iterable[str], old: str, reason: str = ""
) -> int:
    """Record one key correction (its own transaction); returns its id."""
    with db:
        cursor = db.execute(
            f"INSERT INTO key_changes (at, grader, question_id, action, answers, old, reason) VALUES ({_NOW}, ?, ?, ?, ?, ?, ?)",
            (grader, question_id, action, json.dumps(list(answers), ensure_ascii=False), old, reason),
        )
    return int(cursor.lastrowid)


def undo_override(db: sqlite3.Connection, override_id: int, grader: str) -> bool:
    """Take back one decision: it stays in the audit trail as ``undone``. False when there was none to undo."""
    return _undo(db, "overrides", override_id, grader)


def undo_key_change(db: sqlite3.Connection, change_id: int, grader: str) -> bool:
    """Take back one key correction (kept as ``undone``)."""
    return _undo(db, "key_changes", change_id, grader)


def _undo(db: sqlite3.Connection, table: str, row_id: int, grader: str) -> bool:
    with db:
        cursor = db.execute(
            f"UPDATE {table} SET state = 'undone', reason = reason || ? WHERE id = ? AND state = 'active'",
            (f"（{grader} 撤销）", row_id),
        )
    return cursor.rowcount == 1


def state_token(db: sqlite3.Connection) -> tuple:
    """A cheap fingerprint of everything the review queue depends on: it changes with any reading written
    or replaced, any decision recorded or undone, any key change; claims do not count."""
    token = db.execute(
        "SELECT (SELECT COUNT(*) FROM pages), (SELECT MAX(rowid) FROM pages), (SELECT MAX(id) FROM history), "
        "(SELECT COUNT(*) FROM file_errors), (SELECT MAX(rowid) FROM marks)"
    ).fetchone()
    if not has_decisions(db):
        return token
    return token + db.execute(
        "SELECT (SELECT MAX(id) FROM overrides), (SELECT COUNT(*) FROM overrides WHERE state = 'undone'), "
        "(SELECT MAX(id) FROM key_changes), (SELECT COUNT(*) FROM key_changes WHERE state = 'undone')"
    ).fetchone()


def last_override(db: sqlite3.Connection, grader: str) -> Override | None:
    """The latest decision of ``grader`` still in force (what "undo" takes back)."""
    matches = [o for o in overrides(db) if o.grader == grader]
    return matches[-1] if matches else None


def claim_item(db: sqlite3.Connection, item: str, grader: str, session: str, seconds: float = 120.0) -> bool:
    """Reserve a review item for one browser tab for ``seconds``; False when another tab holds it."""
    now = time.time()
    with db:
        db.execute("DELETE FROM claims WHERE until < ?", (now,))
        row = db.execute("SELECT session FROM claims WHERE item = ?", (item,)).fetchone()
        if row is not None and row[0] != session:
            return False
        db.execute(
            "INSERT INTO claims VALUES (?, ?, ?, ?) ON CONFLICT(item) DO UPDATE SET until = excluded.until",
            (item, grader, session, now + seconds),
        )
    return True


def release_item(db: sqlite3.Connection, item: str, session: str) -> None:
    with db:
        db.execute("DELETE FROM claims WHERE item = ? AND session = ?", (item, session))


def claimed_items(db: sqlite3.Connection, session: str) -> dict[str, str]:
    """Items other tabs hold right now, and by whom (item → grader)."""
    if not has_decisions(db):
        return {}
    return dict(db.execute("SELECT item, grader FROM claims WHERE until >= ? AND session != ?", (time.time(), session)))
