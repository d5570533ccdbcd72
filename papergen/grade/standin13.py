"""STAND-IN for the lead's issue 13 step 2 (store v3 key_changes/overrides, settle.rekey, results on settle).

Only what report/rekey.py and its tests need, coded against /work/tools/api13.md.
Deleted when main's "Settle:" commit is merged.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from papergen.bank.model import LETTERS
from papergen.exam.manifest import Manifest
from papergen.grade import results as real_results
from papergen.grade.store import DB_NAME

_SQL = """
CREATE TABLE IF NOT EXISTS overrides (id INTEGER PRIMARY KEY, at TEXT, grader TEXT, source TEXT, page INT, part INT,
    file_hash TEXT, number INT, field TEXT, old TEXT, new TEXT, reading TEXT, reason TEXT, state TEXT);
CREATE TABLE IF NOT EXISTS key_changes (id INTEGER PRIMARY KEY, at TEXT, grader TEXT, question_id TEXT, action TEXT,
    answers TEXT, old TEXT, reason TEXT, state TEXT);
"""


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


@dataclass(frozen=True)
class KeyChange:
    id: int
    at: str
    grader: str
    question_id: str
    action: str
    answers: tuple[str, ...]
    old: str
    reason: str
    state: str


@contextmanager
def deciding_store(results_dir) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(Path(results_dir) / DB_NAME)
    db.executescript(_SQL)
    try:
        yield db
    finally:
        db.close()


def key_changes(db, *, active_only=True) -> list[KeyChange]:
    try:
        rows = db.execute("SELECT * FROM key_changes ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    out = [KeyChange(*r[:5], tuple(json.loads(r[5])), *r[6:]) for r in rows]
    return [c for c in out if c.state == "active"] if active_only else out


def overrides(db, *, active_only=True) -> list[Override]:
    try:
        rows = db.execute("SELECT * FROM overrides ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    out = [Override(*r) for r in rows]
    return [o for o in out if o.state == "active"] if active_only else out


def rekey(db, manifest: Manifest, question_id: str, *, action: str, answers: Sequence[str] = (), grader: str,
          reason: str = "") -> int:
    with db:
        old = manifest.questions[question_id].answer
        if action == "restore":
            db.execute("UPDATE key_changes SET state = 'undone' WHERE question_id = ? AND state = 'active'", (question_id,))
        cursor = db.execute(
            "INSERT INTO key_changes (at, grader, question_id, action, answers, old, reason, state) VALUES "
            "(strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?, ?, ?, ?, ?, ?, ?)",
            (grader, question_id, action, json.dumps(list(answers)), old, reason,
             "undone" if action == "restore" else "active"),
        )
        return cursor.lastrowid


def student_results(db, manifest: Manifest):
    results = real_results.student_results(db, manifest)
    latest = {c.question_id: c for c in key_changes(db)}
    for result in results:
        if result.absent or result.variant is None:
            continue
        for qid, change in latest.items():
            question = manifest.questions[qid]
            rule = manifest.sections[question.section].scoring
            old = result.scores.get(qid)
            choice = result.choices.get(qid)
            if change.action == "void-drop":
                new = None
            elif change.action == "void-full":
                new = question.points
            elif choice is None:
                continue
            else:
                marked = frozenset(LETTERS.index(x) for x in choice)
                new = max(rule.score(marked, frozenset(LETTERS.index(x) for x in a), question.points) for a in change.answers)
            delta = (new or 0.0) - (old or 0.0)
            result.total += delta
            result.sections[question.section] += delta
            if new is None:
                result.scores.pop(qid, None)
            else:
                result.scores[qid] = new
    return results
