"""The grading store as matrices for reports: students × bank questions.

``load_exam_results`` reads one results folder (and optionally a roster)
into ``ExamResults``: every student's row (name and class from the roster,
status, totals), the score matrix in the canonical question order (section
by section, as the manifest lists them), the bank letters each student
chose, and the open review items. Unscored marks (flagged, or a sheet
without a variant) are NaN, so statistics skip them instead of counting a
guess. Absent students and duplicated 准考证号 are kept in the lists but
left out of the statistics (``in_stats``).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .exceptions import InputFileError
from .manifest import Manifest, ManifestQuestion
from .roster import Student, read_roster
from .store import DB_NAME, manifest_from_store, read_only

STATUS_GRADED = "已评"
STATUS_REVIEW = "待复核"
STATUS_ABSENT = "缺考"
STATUS_NO_SHEET = "缺考（无答题卡）"


@dataclass
class StudentRow:
    student_id: str
    name: str
    klass: str
    variant: str | None
    status: str
    total: float
    sections: list[float]
    on_roster: bool
    has_sheet: bool
    in_stats: bool
    flags: list[str] = field(default_factory=list)


@dataclass
class ReviewItem:
    where: str  # file and page
    student_id: str
    number: int | None
    reason: str
    message: str


@dataclass
class ExamResults:
    manifest: Manifest
    questions: list[ManifestQuestion]  # canonical order
    students: list[StudentRow]
    scores: np.ndarray  # (n_students, n_questions) points; NaN = not scored
    choices: list[list[str | None]]  # bank letters chosen; "" blank; None flagged/unknown
    review: list[ReviewItem]
    results_dir: Path

    @property
    def stats_rows(self) -> np.ndarray:
        return np.array([s.in_stats for s in self.students], dtype=bool)

    @property
    def max_points(self) -> np.ndarray:
        return np.array([q.points for q in self.questions], dtype=float)


@contextlib.contextmanager
def reading_store(results_dir: str | Path) -> Iterator[sqlite3.Connection]:
    """The results store open for reading.

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


def load_exam_results(results_dir: str | Path, roster: str | Path | None = None) -> ExamResults:
    results_dir = Path(results_dir)
    with reading_store(results_dir) as db:
        manifest = Manifest.from_json(json.loads(manifest_from_store(db)))
        questions = sorted(manifest.questions.values(), key=lambda q: q.section)  # stable: manifest order within
        column = {q.id: i for i, q in enumerate(questions)}
        roster_rows: dict[str, Student] = {}
        if roster is not None:
            roster_rows = {s.student_id: s for s in read_roster(roster, id_digits=manifest.sheet.id_digits)}
        duplicated = {sid for (sid,) in db.execute("SELECT student_id FROM sheet_flags WHERE reason = 'duplicate-id'")}
        pages = db.execute(
            "SELECT file_hash, page, path, student_id, variant, absent FROM pages WHERE status = 'read' ORDER BY student_id, path, page"
        ).fetchall()
        students: list[StudentRow] = []
        score_rows: list[np.ndarray] = []
        choice_rows: list[list[str | None]] = []
        index: dict[str, int] = {}
        for file_hash, page, path, sid, variant, absent in pages:
            # Duplicates keep one row per sheet (never merged); others one row per student.
            key = f"{sid}@{path}#{page}" if (sid is None or sid in duplicated) else sid
            if key not in index:
                entry = roster_rows.get(sid or "")
                index[key] = len(students)
                students.append(
                    StudentRow(
                        student_id=sid or f"?{Path(path).name}#{page}", name=entry.name if entry else "",
                        klass=entry.klass if entry else "", variant=variant, status=STATUS_GRADED, total=0.0,
                        sections=[0.0] * len(manifest.sections), on_roster=entry is not None or not roster_rows,
                        has_sheet=True, in_stats=True,
                    )
                )
                score_rows.append(np.full(len(questions), np.nan))
                choice_rows.append([None] * len(questions))
            row = index[key]
            student = students[row]
            if absent:
                student.status = STATUS_ABSENT
            for qid, section, outcome, bank_letters, score in db.execute(
                "SELECT question_id, section, outcome, bank_letters, score FROM marks WHERE file_hash = ? AND page = ?",
                (file_hash, page),
            ):
                if qid is None:
                    continue
                c = column[qid]
                choice_rows[row][c] = bank_letters if outcome != "flagged" else None
                if score is not None:
                    score_rows[row][c] = score
                    student.total += score
                    student.sections[section] += score
            for number, reason, message in db.execute(
                "SELECT number, reason, message FROM flags WHERE file_hash = ? AND page = ? AND resolved = 0", (file_hash, page)
            ):
                student.flags.append(message)
        review: list[ReviewItem] = []
        for path, page, sid, number, reason, message in db.execute(
            "SELECT p.path, p.page, p.student_id, f.number, f.reason, f.message FROM flags f JOIN pages p USING (file_hash, page) "
            "WHERE f.resolved = 0 ORDER BY p.path, p.page, f.number"
        ):
            review.append(ReviewItem(f"{path} 第 {page} 页", sid or "", number or None, reason, message))
        for sid, reason, message in db.execute("SELECT student_id, reason, message FROM sheet_flags ORDER BY student_id"):
            review.append(ReviewItem("", sid, None, reason, message))
        for path, _, reason, message in db.execute("SELECT * FROM file_errors ORDER BY path"):
            review.append(ReviewItem(path, "", None, reason, message))

    for student, scores in zip(students, score_rows):
        if student.status == STATUS_ABSENT:
            student.in_stats = False
        elif student.student_id in duplicated or student.student_id.startswith("?"):
            student.status = STATUS_REVIEW
            student.in_stats = False
        elif student.flags or np.isnan(scores).any():
            student.status = STATUS_REVIEW
        if student.variant is None and student.status != STATUS_ABSENT:
            student.in_stats = False
    seen = {s.student_id for s in students}
    for sid, entry in roster_rows.items():
        if sid not in seen:
            students.append(
                StudentRow(sid, entry.name, entry.klass, None, STATUS_NO_SHEET, 0.0, [0.0] * len(manifest.sections),
                           True, False, False)
            )
            score_rows.append(np.full(len(questions), np.nan))
            choice_rows.append([None] * len(questions))
    scores = np.vstack(score_rows) if score_rows else np.zeros((0, len(questions)))
    return ExamResults(manifest, questions, students, scores, choice_rows, review, results_dir)
