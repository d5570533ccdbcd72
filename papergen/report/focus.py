"""Remedial papers: steer a new exam toward what a group got wrong.

``focus_plan`` reads earlier results (one or more folders), picks the group
(everyone, one class, or one student), and returns the group's error rate
per topic and every question the group has already seen. ``selection`` then
excludes those questions and draws the free part of each section with
weights that grow with the error rate of the question's topic, recording the
reason for each pick in the manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from papergen.core.errors import BlueprintError
from papergen.exam.focus import FocusPlan
from papergen.report.data import load_exam_results


def focus_plan(
    results_dirs: Sequence[str | Path],
    *,
    student: str | None = None,
    klass: str | None = None,
    roster: str | Path | None = None,
) -> FocusPlan:
    """The error rates and seen questions of a group across ``results_dirs``."""
    if student and klass:
        raise BlueprintError("--student 和 --class 只能选一个")
    if klass and roster is None:
        raise BlueprintError("按班级出卷（--class）需要提供名单 --roster，才能知道谁在这个班")
    attempts: dict[str, list[float]] = {}
    seen: set[str] = set()
    exams: list[str] = []
    found = False
    for folder in results_dirs:
        results = load_exam_results(folder, roster)
        exams.append(results.manifest.exam)
        seen.update(q.id for q in results.questions)
        rows = results.stats_rows.copy()
        if student:
            rows &= np.array([s.student_id == student for s in results.students], dtype=bool)
        elif klass:
            rows &= np.array([s.klass == klass for s in results.students], dtype=bool)
        if not rows.any():
            continue
        found = True
        for stats in results.topic_statistics(rows):
            if stats.attempts:
                entry = attempts.setdefault(stats.topic, [0.0, 0.0])
                entry[0] += stats.error_rate * stats.attempts
                entry[1] += stats.attempts
    group = f"考生 {student} " if student else (f"{klass} " if klass else "全体")
    if not found:
        raise BlueprintError(f"在给出的成绩中找不到{group.strip()}的有效答卷", hint="检查准考证号或班级名称，以及 --roster")
    rates = {topic: wrong / count for topic, (wrong, count) in attempts.items() if count}
    return FocusPlan(group, rates, frozenset(seen), tuple(exams))
