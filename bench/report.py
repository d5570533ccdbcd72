"""Benchmark: a report for 10,000 students × 100 questions (prints seconds and peak memory).

    python bench/report.py [--students 10000]

The score matrix is synthetic (no scanning): a 100-question exam is planned
from the sample bank, students answer with a per-student ability, and
``write_report`` writes the full workbook. Target: under 30 s and 1 GB.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papergen.bank.model import LETTERS  # noqa: E402
from papergen.exam.blueprint import load_blueprint  # noqa: E402
from papergen.exam.plan import plan_exam  # noqa: E402
from papergen.report.data import STATUS_GRADED, ExamResults, StudentRow  # noqa: E402
from papergen.report.workbook import write_report  # noqa: E402

BLUEPRINT = f"""exam: bench-report
title: 报表基准（100题）
banks: [{ROOT / 'banks' / 'xinjiuye-dangjian.yaml'}]
variants: 2
seed: 3
sections:
  - {{title: 一、单项选择题, type: single, count: 70, points: 1}}
  - {{title: 二、多项选择题, type: multiple, count: 30, points: 2}}
"""


def synthetic_results(students: int, rng: np.random.Generator) -> ExamResults:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bp.yaml"
        path.write_text(BLUEPRINT, encoding="utf-8")
        manifest, _ = plan_exam(load_blueprint(path))
    questions = sorted(manifest.questions.values(), key=lambda q: q.section)
    ability = rng.normal(0, 1, students)[:, None]
    hardness = np.array([(q.difficulty - 3) * 0.5 for q in questions])[None, :]
    right = rng.random((students, len(questions))) < 1 / (1 + np.exp(-(ability - hardness + 0.3)))
    points = np.array([q.points for q in questions])
    scores = np.where(right, points, 0.0)
    choices = []
    for s in range(students):
        row = []
        for c, q in enumerate(questions):
            if right[s, c]:
                row.append(q.answer)
            else:
                wrong = [letter for letter in LETTERS[: q.options] if letter not in q.answer]
                row.append(wrong[(s + c) % len(wrong)])
        choices.append(row)
    rows = [
        StudentRow(f"2026{n:06d}", f"考生{n}", f"{n % 40 + 1}班", "AB"[n % 2], STATUS_GRADED, float(scores[n].sum()),
                   [float(scores[n, :70].sum()), float(scores[n, 70:].sum())], True, True, True)
        for n in range(students)
    ]
    return ExamResults(manifest, questions, rows, scores, choices, [], Path(tmp))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    t = time.perf_counter()
    results = synthetic_results(args.students, rng)
    print(f"synthetic data for {args.students} students × {len(results.questions)} questions: {time.perf_counter() - t:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.xlsx"
        t = time.perf_counter()
        write_report(results, out)
        seconds = time.perf_counter() - t
        size = out.stat().st_size / 1e6
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"report.xlsx ({size:.1f} MB): {seconds:.1f} s  (target < 30 s)")
    print(f"peak memory of the process: {peak:.0f} MB  (target < 1024 MB)")


if __name__ == "__main__":
    main()
