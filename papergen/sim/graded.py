"""Graded stores written straight from answers, without scans: for benchmarks and for tests downstream of grading.

``write_graded_store`` writes what ``grade`` would have written for sheets
read exactly as given: one page row per sheet (all its questions, whatever
page of a multi-page sheet they are printed on), marks scored by the
grader's own ``score_reading``, a "faint" flag on each question given as
doubtful. ``answering_cohort`` makes answers for a cohort whose stronger
students answer more questions right (a one-parameter logistic model), so
item statistics behave as on a real exam. Nothing here reads or draws an
image: 10,000 sheets take seconds, not hours.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from papergen.bank.model import LETTERS
from papergen.exam.manifest import Manifest, manifest_text
from papergen.grade.pipeline import score_reading
from papergen.grade.reader import PageReading, QuestionReading
from papergen.grade.store import PageRecord, open_store

#: Darkness of a marked box and of an empty one, as the reader measures them.
MARKED, EMPTY = 0.85, 0.03


@dataclass(frozen=True)
class SyntheticSheet:
    """One candidate's sheet as it should read: answers by question number, in the variant's letters."""

    student_id: str
    variant: str
    answers: dict[int, str] = field(default_factory=dict)  # number → letters marked; a number not here is blank
    doubtful: frozenset[int] = frozenset()  # numbers read as doubtful: flagged, not scored
    absent: bool = False


def sheet_record(sheet: SyntheticSheet, manifest: Manifest) -> PageRecord:
    """The store row ``grade`` would write for ``sheet`` read exactly."""
    boxes = {row.number: len(row.boxes) for row in manifest.sheet.questions}
    questions = []
    for number in sorted(boxes):
        letters = sheet.answers.get(number, "")
        darkness = tuple(MARKED if LETTERS[k] in letters else EMPTY for k in range(boxes[number]))
        if number in sheet.doubtful:
            questions.append(QuestionReading(number, "flagged", "", "faint", 0.4, darkness, note=letters))
        else:
            questions.append(QuestionReading(number, "answer" if letters else "blank", letters, "", 1.0, darkness))
    reading = PageReading(status="read", sheet_page=1, student_id=sheet.student_id, variant=sheet.variant,
                          absent=sheet.absent, questions=questions)
    file_hash = hashlib.sha256(sheet.student_id.encode("utf-8")).hexdigest()
    values = {"sheet_page": 1, "student_id": sheet.student_id, "id_source": "bubbles", "variant": sheet.variant,
              "absent": int(sheet.absent)}
    flags = [(number, "faint", f"第 {number} 题填涂过浅") for number in sorted(sheet.doubtful)]
    return PageRecord(file_hash, 1, f"synthetic/{sheet.student_id}.jpg", "read", "", values,
                      score_reading(reading, manifest), flags)


def write_graded_store(results_dir: str | Path, manifest: Manifest, sheets: Iterable[SyntheticSheet]) -> int:
    """Write ``sheets`` into a new (or existing) store for ``manifest``; returns how many were written."""
    count = 0
    with open_store(results_dir, manifest_text(manifest), manifest.exam) as store:
        for sheet in sheets:
            record = sheet_record(sheet, manifest)
            store.record_ingest([(record.path, record.file_hash, "jpeg", 1)], [], [])
            store.write_page([record])
            count += 1
        store.refresh_sheet_flags()
        store.mark_grading(True)
    return count


def answering_cohort(manifest: Manifest, students: int, *, seed: int = 0, first_id: int = 2026000001,
                     doubtful_rate: float = 0.0) -> list[SyntheticSheet]:
    """``students`` sheets of a plausible cohort: ability ~ N(0, 1), each question right with probability
    logistic(ability − difficulty); a wrong answer is another option (多选: the key with one letter changed).
    Variants are dealt in turn."""
    rng = random.Random(seed)
    sheets = []
    for k in range(students):
        variant = manifest.variants[k % len(manifest.variants)]
        ability = rng.gauss(0.0, 1.0)
        answers: dict[int, str] = {}
        doubtful = set()
        for item in variant.items:
            question = manifest.questions[item.id]
            difficulty = (question.difficulty - 3) * 0.6
            if rng.random() < 1 / (1 + math.exp(difficulty - ability)):
                answers[item.number] = item.key
            elif rng.random() < 0.9:  # some leave it blank
                answers[item.number] = _wrong(item.key, question.options, rng)
            if rng.random() < doubtful_rate:
                doubtful.add(item.number)
        sheets.append(SyntheticSheet(str(first_id + k), variant.name, answers, frozenset(doubtful)))
    return sheets


def _wrong(key: str, options: int, rng: random.Random) -> str:
    letters = LETTERS[:options]
    if len(key) == 1:
        return rng.choice([x for x in letters if x != key])
    changed = set(key) ^ {rng.choice(letters)}  # one letter added or left out: never the key, never empty
    return "".join(sorted(changed))

