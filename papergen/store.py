"""The grading store: ``RESULTS_DIR/results.sqlite``.

One row per scanned page, keyed by the scan file's SHA-256 and the page
number, written in one transaction together with that page's marks and
flags. A page already in the store is never read again, so a re-run adds
only what is new and a run killed at any moment resumes to exactly the rows
an uninterrupted run would have written. Rows carry the evidence (darkness
of every box, paper and ink levels, QR text) next to each decision.

Only the parent process writes; a lock file keeps a second ``grade`` on the
same folder out. The schema has a version (``SCHEMA_VERSION``, in ``meta``)
for future migrations; README documents the tables.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .exceptions import InputFileError, OutputError, StoreBusy, StoreMismatch

SCHEMA_VERSION = 1
DB_NAME = "results.sqlite"
LOCK_NAME = ".papergen-grade.lock"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scans (
    file_hash TEXT PRIMARY KEY, path TEXT NOT NULL, kind TEXT NOT NULL, pages INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pages (
    file_hash TEXT NOT NULL, page INTEGER NOT NULL, path TEXT NOT NULL,
    status TEXT NOT NULL,            -- read | rejected | not-a-sheet | blank-page | error
    message TEXT NOT NULL DEFAULT '',
    sheet_page INTEGER, rotation INTEGER, fiducials INTEGER, qr TEXT,
    student_id TEXT, id_source TEXT, variant TEXT, absent INTEGER NOT NULL DEFAULT 0,
    paper_white REAL, ink_black REAL, empty_box REAL,
    binary INTEGER NOT NULL DEFAULT 0,  -- a black-and-white scan (light marks may be lost)
    PRIMARY KEY (file_hash, page)
);
CREATE TABLE IF NOT EXISTS marks (
    file_hash TEXT NOT NULL, page INTEGER NOT NULL, number INTEGER NOT NULL,
    question_id TEXT, section INTEGER,
    outcome TEXT NOT NULL,           -- answer | blank | flagged
    letters TEXT NOT NULL,           -- as marked, in the variant's letters
    bank_letters TEXT,               -- the same options in the bank's letters
    reason TEXT NOT NULL, note TEXT NOT NULL, confidence REAL NOT NULL,
    darkness TEXT NOT NULL,          -- JSON list, one value per box
    score REAL,                      -- NULL when the question could not be scored
    PRIMARY KEY (file_hash, page, number)
);
CREATE TABLE IF NOT EXISTS flags (
    file_hash TEXT NOT NULL, page INTEGER NOT NULL, number INTEGER NOT NULL,  -- 0: the sheet itself
    reason TEXT NOT NULL, message TEXT NOT NULL, resolved INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (file_hash, page, number, reason)
);
CREATE TABLE IF NOT EXISTS file_errors (
    path TEXT NOT NULL, file_hash TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL, message TEXT NOT NULL,
    PRIMARY KEY (path, file_hash)
);
CREATE TABLE IF NOT EXISTS sheet_flags (   -- recomputed after every run
    student_id TEXT NOT NULL, reason TEXT NOT NULL, message TEXT NOT NULL,
    PRIMARY KEY (student_id, reason)
);
CREATE INDEX IF NOT EXISTS pages_student ON pages (student_id);
"""


@dataclass(frozen=True)
class PageRecord:
    """Everything the parent writes for one page (built from a worker's result)."""

    file_hash: str
    page: int
    path: str
    status: str
    message: str
    values: dict  # the remaining ``pages`` columns
    marks: list[tuple]  # (number, question_id, section, outcome, letters, bank_letters, reason, note, confidence, darkness_json, score)
    flags: list[tuple]  # (number, reason, message)


class Store:
    """An open results store (use ``open_store``)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection

    def done_pages(self) -> set[tuple[str, int]]:
        return {(h, p) for h, p in self.db.execute("SELECT file_hash, page FROM pages")}

    def add_scan(self, file_hash: str, path: str, kind: str, pages: int) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO scans (file_hash, path, kind, pages) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(file_hash) DO NOTHING",
                (file_hash, path, kind, pages),
            )

    def add_file_error(self, path: str, file_hash: str | None, reason: str, message: str) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO file_errors VALUES (?, ?, ?, ?) ON CONFLICT(path, file_hash) DO UPDATE SET "
                "reason = excluded.reason, message = excluded.message",
                (path, file_hash or "", reason, message),
            )

    def write_page(self, record: PageRecord) -> None:
        """One page, its marks and flags, in one transaction."""
        columns = ["file_hash", "page", "path", "status", "message", *record.values]
        values = [record.file_hash, record.page, record.path, record.status, record.message, *record.values.values()]
        with self.db:
            self.db.execute(
                f"INSERT INTO pages ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values
            )
            self.db.executemany(
                "INSERT INTO marks VALUES (?, ?, " + ", ".join("?" * 11) + ")",
                [(record.file_hash, record.page, *mark) for mark in record.marks],
            )
            self.db.executemany(
                "INSERT INTO flags (file_hash, page, number, reason, message) VALUES (?, ?, ?, ?, ?)",
                [(record.file_hash, record.page, number or 0, reason, message) for number, reason, message in record.flags],
            )

    def refresh_sheet_flags(self) -> list[tuple[str, str, str]]:
        """Recompute flags that depend on several pages (the same 准考证号 twice)."""
        rows = self.db.execute(
            "SELECT student_id, sheet_page, COUNT(*), GROUP_CONCAT(path || '#' || page, '、') FROM pages "
            "WHERE status = 'read' AND student_id IS NOT NULL GROUP BY student_id, sheet_page HAVING COUNT(*) > 1"
        ).fetchall()
        flags = [
            (sid, "duplicate-id", f"准考证号 {sid} 出现在 {count} 张答题卡上（{where}）；两张都已保留，请核对")
            for sid, _, count, where in rows
        ]
        with self.db:
            self.db.execute("DELETE FROM sheet_flags")
            self.db.executemany("INSERT OR IGNORE INTO sheet_flags VALUES (?, ?, ?)", flags)
        return flags

    def close(self) -> None:
        self.db.close()


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
            if int(meta.get("schema_version", 0)) != SCHEMA_VERSION:
                raise StoreMismatch(f"成绩库版本 {meta.get('schema_version')} 与本版 papergen（{SCHEMA_VERSION}）不符", path=path)
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


def manifest_from_store(db: sqlite3.Connection) -> str:
    row = db.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()
    return row[0]


def dumps(values) -> str:
    return json.dumps(list(values))


