"""The grading store as matrices for reports: students × bank questions.

``load_exam_results`` reads one results folder (and optionally a roster)
into ``ExamResults``: every student's row (name and class from the roster,
status, totals), the score matrix in the canonical question order (section
by section, as the manifest lists them), the bank letters each student
chose (an ``analysis.AnswerMatrix``: int16 codes, not ten million strings
at 100,000 students), and the open review items. Both matrices are filled a
row at a time as the store's sheets are settled. Unscored marks (flagged, or a sheet
without a variant) are NaN, so statistics skip them instead of counting a
guess. Absent students and duplicated 准考证号 are kept in the lists but
left out of the statistics (``in_stats``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from papergen.exam.manifest import Manifest, ManifestQuestion
from papergen.exam.roster import Student, read_roster
from papergen.grade.results import (  # noqa: F401 - re-exported
    STATUS_ABSENT,
    STATUS_GRADED,
    STATUS_REVIEW,
    student_results,
)
from papergen.grade.settle import ReviewItem, iter_settled_sheets, review_queue
from papergen.grade.store import (
    KeyChange,
    grading_finished,
    key_changes,
    manifest_from_store,
    reading_store,
)
from papergen.report.analysis import (
    AnswerCoder,
    AnswerMatrix,
    SuspectedKeyError,
    TopicStats,
    suspected_key_errors,
    topic_statistics,
)
from papergen.report.audit import AuditRow, audit_rows
from papergen.report.keys import answers_in_force, corrected_keys

STATUS_NO_SHEET = "缺考（无答题卡）"


@dataclass
class StudentRow:
    """One row of the report: a student's result (``results.StudentResult``) with their roster entry."""

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
    absent: bool = False  # 缺考 marked on the sheet: no total, whatever the status
    roster_row: int | None = None  # the roster row the name and class came from
    identified: bool = True  # the sheet's 准考证号 was read (a roster row without a sheet: from the roster)
    duplicate: bool = False  # another sheet carries the same 准考证号
    by_hand: int = 0  # answers and identity settled by a person (``StudentResult.by_hand``)
    black_and_white: bool = False  # read (in part) from a black-and-white scan (``StudentResult.black_and_white``)


@dataclass
class ExamResults:
    manifest: Manifest
    questions: list[ManifestQuestion]  # canonical order
    students: list[StudentRow]
    scores: np.ndarray  # (n_students, n_questions) points; NaN = not scored
    # bank letters chosen ("" blank; None flagged/unknown): ``choices[i][c]``, stored as codes (lists are converted)
    choices: AnswerMatrix
    review: list[ReviewItem]  # the open review items, as ``grade`` printed them (settle.review_queue)
    results_dir: Path
    finished: bool = True  # False: the last grade run was interrupted, so results are incomplete
    key_changes: list[KeyChange] = field(default_factory=list)  # every key correction (``rekey``), undone ones too
    audit: list[AuditRow] = field(default_factory=list)  # every decision by a person, for the 审计 sheet

    def __post_init__(self) -> None:
        if not isinstance(self.choices, AnswerMatrix):
            self.choices = AnswerMatrix.from_rows(self.choices, len(self.questions))

    @property
    def stats_rows(self) -> np.ndarray:
        return np.array([s.in_stats for s in self.students], dtype=bool)

    @property
    def max_points(self) -> np.ndarray:
        return np.array([q.points for q in self.questions], dtype=float)

    def paper_numbers(self) -> dict[str, dict[str, int]]:
        """Each bank question's 题号 on each variant's paper: ``{"xjy-001": {"A": 13, "B": 7}}``.

        Teachers name a question by its paper and number ("A卷第13题"), not by
        bank id; every output that lists questions shows these next to the id.
        """
        numbers: dict[str, dict[str, int]] = {q.id: {} for q in self.questions}
        for variant in self.manifest.variants:
            for item in variant.items:
                numbers.setdefault(item.id, {})[variant.name] = item.number
        return numbers

    def paper_order(self, variant: str | None = None) -> list[int]:
        """Column indices of ``questions`` in the order of a variant's paper (the first variant by default)."""
        name = variant or self.manifest.variants[0].name
        numbers = self.paper_numbers()
        return sorted(range(len(self.questions)), key=lambda i: (numbers[self.questions[i].id].get(name, 10**9), i))

    def scoring_keys(self) -> list[tuple[str, ...]]:
        """The answers that score on each question now (bank letters; after ``rekey``); empty: voided."""
        in_force = corrected_keys(self.manifest, self.key_changes)
        return [answers_in_force(self.manifest, q.id, in_force.get(q.id)) for q in self.questions]

    def suspected_key_errors(self) -> list[SuspectedKeyError]:
        """``analysis.suspected_key_errors`` over the students in the statistics, in the canonical question order."""
        rows = self.stats_rows
        numbers = self.paper_numbers()
        return suspected_key_errors(
            self.scores[rows], self.choices.take(rows), self.scoring_keys(),
            [q.id for q in self.questions], [numbers[q.id] for q in self.questions],
        )

    def topic_statistics(self, rows: np.ndarray) -> list[TopicStats]:
        """``analysis.topic_statistics`` for the students selected by the boolean mask ``rows``."""
        return topic_statistics(self.scores[rows], [q.topic for q in self.questions], self.max_points)


def load_exam_results(results_dir: str | Path, roster: str | Path | None = None) -> ExamResults:
    """One results folder (and optionally a roster) as rows and matrices.

    Each row is ``results.student_results``'s: the report, feedback and
    trends show exactly what ``papergen results`` shows.
    """
    results_dir = Path(results_dir)
    with reading_store(results_dir) as db:
        manifest = Manifest.from_json(json.loads(manifest_from_store(db)))
        # One pass over the store, a sheet at a time, for the results and the review list.
        open_items: list[ReviewItem] = []

        def collecting(sheets):
            for sheet in sheets:
                open_items.extend(sheet.open_items)
                yield sheet

        sheets = student_results(db, manifest, collecting(iter_settled_sheets(db, manifest)))
        finished = grading_finished(db)
        review = review_queue(db, manifest, open_items=open_items)
        changes = key_changes(db, active_only=False)
        audit = audit_rows(db, manifest, review)
    questions = sorted(manifest.questions.values(), key=lambda q: q.section)  # stable: manifest order within
    roster_rows: dict[str, Student] = {}
    if roster is not None:
        roster_rows = {s.student_id: s for s in read_roster(roster, id_digits=manifest.sheet.id_digits)}
    students: list[StudentRow] = []
    # Matrices filled as the sheets come, row by row: no per-student dict or list outlives its row.
    ids = [q.id for q in questions]
    scores = _GrowingMatrix(len(questions), np.float64, np.nan)
    codes = _GrowingMatrix(len(questions), np.int16, AnswerMatrix.UNREAD)
    coder = AnswerCoder()
    for sheet in sheets:
        entry = roster_rows.get(sheet.student_id) if sheet.identified else None
        students.append(
            StudentRow(
                student_id=sheet.student_id, name=entry.name if entry else "", klass=entry.klass if entry else "",
                variant=sheet.variant, status=sheet.status, total=sheet.total, sections=list(sheet.sections),
                on_roster=entry is not None or not roster_rows, has_sheet=True, in_stats=sheet.in_stats,
                flags=list(sheet.flags), absent=sheet.absent, roster_row=entry.row if entry else None,
                identified=sheet.identified, duplicate=sheet.duplicate, by_hand=sheet.by_hand,
                black_and_white=bool(sheet.black_and_white),
            )
        )
        scores.next_row()[:] = [sheet.scores.get(qid, np.nan) for qid in ids]
        codes.next_row()[:] = coder.encode([sheet.choices.get(qid) for qid in ids])
        sheet.scores, sheet.choices = {}, {}  # in the matrices now
    seen = {s.student_id for s in students}
    for sid, entry in roster_rows.items():
        if sid not in seen:
            students.append(
                StudentRow(sid, entry.name, entry.klass, None, STATUS_NO_SHEET, 0.0, [0.0] * len(manifest.sections),
                           True, False, False, roster_row=entry.row)
            )
            scores.next_row(), codes.next_row()
    choices = coder.matrix(codes.array())
    return ExamResults(manifest, questions, students, scores.array(), choices, review, results_dir, finished, changes, audit)


class _GrowingMatrix:
    """A (rows, width) array filled a row at a time, its capacity doubled as needed (no list of row arrays)."""

    def __init__(self, width: int, dtype, fill) -> None:
        self._fill = fill
        self._data = np.full((1024, width), fill, dtype=dtype)
        self._rows = 0

    def next_row(self) -> np.ndarray:
        """The next row (filled with the fill value), to be written in place."""
        if self._rows == self._data.shape[0]:
            grown = np.full((2 * self._rows, self._data.shape[1]), self._fill, dtype=self._data.dtype)
            grown[: self._rows] = self._data
            self._data = grown
        self._rows += 1
        return self._data[self._rows - 1]

    def array(self) -> np.ndarray:
        return self._data[: self._rows].copy()
