"""Benchmark: reports from a store of 100,000 sheets × 100 questions (prints time, CPU and peak memory).

    python bench/report.py [--students 100000] [--store DIR] [--feedback 200] [--steps report,...]

A synthetic results store is written through the store's own writer
(``Store.write_page``, one transaction per sheet, as ``grade`` writes it):
a 100-question exam planned from the sample bank, two variants, students
answering with a per-student ability; the scores come from
``settle.score_marked`` (the grader's scoring step). No image is graded.
``--store DIR`` keeps the store there and reuses it on the next run (it is
only read: a shared store stays as it is).

Each step runs in a fresh process and prints its wall time, its CPU time
(user + system, worker processes included) and its peak RSS (targets:
report under 2 minutes and under 2 GB; ``results --format csv`` flat in
memory from 10,000 to 100,000 students). On a shared machine the CPU time
is the steadier figure.

- ``report``: ``load_exam_results`` (``student_results`` + the review queue)
  and ``write_report`` (report.xlsx), each timed apart (wall and CPU);
- ``results --format csv`` (to /dev/null), the command itself;
- ``feedback``: the whole cohort loaded, then ``write_feedback`` for the
  first ``--feedback`` students (every core, ``core.executor``): seconds
  per PDF, and what goes to the workers pickled — each job (one student's
  row and the cohort figures it shows), the context every worker gets once,
  and, for scale, the whole results (what each worker was sent before).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papergen.bank.model import LETTERS  # noqa: E402
from papergen.exam.blueprint import load_blueprint  # noqa: E402
from papergen.exam.manifest import manifest_text  # noqa: E402
from papergen.exam.plan import plan_exam  # noqa: E402
from papergen.grade.settle import score_marked  # noqa: E402
from papergen.grade.store import PageRecord, open_store  # noqa: E402

BLUEPRINT = f"""exam: bench-report
title: 报表基准（100题）
banks: [{ROOT / 'banks' / 'xinjiuye-dangjian.yaml'}]
variants: 2
seed: 3
sections:
  - {{title: 一、单项选择题, type: single, count: 70, points: 1}}
  - {{title: 二、多项选择题, type: multiple, count: 30, points: 2}}
"""

#: Run in a fresh process: ``STEP`` code, then its wall time, CPU time and peak RSS as JSON on the last line.
CHILD = """
import json, resource, sys, time
def cpu():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
start, start_cpu = time.perf_counter(), cpu()
figures = {{}}
{code}
figures["seconds"] = time.perf_counter() - start
figures["cpu"] = cpu() - start_cpu
figures["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(figures))
"""

STEPS = {
    "report": """
from papergen.report.data import load_exam_results
from papergen.report.workbook import write_report
t, c = time.perf_counter(), cpu()
results = load_exam_results(sys.argv[1])
figures["load"], figures["load_cpu"] = time.perf_counter() - t, cpu() - c
t, c = time.perf_counter(), cpu()
write_report(results, sys.argv[2] + "/report.xlsx")
figures["write"], figures["write_cpu"] = time.perf_counter() - t, cpu() - c
""",
    "results --format csv": """
import contextlib, os
from papergen.cli import cli
with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
    try:
        cli.main(["results", sys.argv[1], "--format", "csv"], prog_name="papergen")
    except SystemExit as exc:
        assert not exc.code, exc.code
""",
    "feedback": """
import pickle
from papergen.report import feedback
from papergen.report.data import load_exam_results
t, c = time.perf_counter(), cpu()
results = load_exam_results(sys.argv[1])
figures["load"], figures["load_cpu"] = time.perf_counter() - t, cpu() - c
count = min(int(sys.argv[3]), len(results.students))
jobs = list(feedback._feedback_jobs(results, range(count), ()))
figures["job_bytes"] = sum(len(pickle.dumps(job)) for job in jobs) / len(jobs)
context = feedback._FeedbackContext(feedback._without_students(results), feedback.exam_questions(results.manifest), False)
figures["context_bytes"] = len(pickle.dumps(context))
figures["results_bytes"] = len(pickle.dumps(results))
del jobs, context
t, c = time.perf_counter(), cpu()
written = feedback.write_feedback(results, sys.argv[2] + "/feedback", rows=range(count))
figures["write"], figures["write_cpu"] = time.perf_counter() - t, cpu() - c
figures["pdfs"] = len(written.files)
""",
}


def plan() -> object:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bp.yaml"
        path.write_text(BLUEPRINT, encoding="utf-8")
        manifest, _ = plan_exam(load_blueprint(path))
    return manifest


def write_store(folder: Path, students: int, rng: np.random.Generator) -> None:
    """``students`` sheets, each one page of 100 marks, written as ``grade`` writes them."""
    manifest = plan()
    questions = manifest.questions
    ability = rng.normal(0, 1, students)
    with open_store(folder, manifest_text(manifest), manifest.exam) as db:
        for n in range(students):
            variant = manifest.variants[n % len(manifest.variants)]
            marks = []
            for item in variant.items:
                question = questions[item.id]
                hard = (question.difficulty - 3) * 0.5
                right = rng.random() < 1 / (1 + np.exp(-(ability[n] - hard + 0.3)))
                if right:
                    bank = {LETTERS.index(letter) for letter in question.answer}
                else:
                    wrong = [i for i in range(question.options) if LETTERS[i] not in question.answer]
                    bank = {wrong[(n + item.number) % len(wrong)]}
                sheet = sorted(item.permutation.index(b) for b in bank)
                letters = "".join(LETTERS[i] for i in sheet)
                darkness = [0.9 if i in sheet else 0.05 for i in range(question.options)]
                score = score_marked(manifest, item.id, frozenset(bank), None)
                marks.append((item.number, item.id, item.section, "answer", letters,
                              "".join(LETTERS[b] for b in sorted(bank)), "", "", 0.99, json.dumps(darkness), score))
            student_id = f"2026{n:06d}"
            values = {"sheet_page": 1, "rotation": 0, "fiducials": 4, "qr": None, "student_id": student_id,
                      "id_source": "bubbles", "variant": variant.name, "absent": 0, "paper_white": 240.0,
                      "ink_black": 30.0, "empty_box": 230.0, "binary": 0}
            digest = f"{n:064x}"
            db.write_page([PageRecord(digest, 1, f"/scans/sheet-{n:06d}.jpg", "read", "", values, marks, [])])
        db.refresh_sheet_flags()
        db.mark_grading(finished=True)


def run_step(name: str, store: Path, out: Path, feedback: int) -> dict:
    code = CHILD.format(code=STEPS[name])
    done = subprocess.run([sys.executable, "-c", code, str(store), str(out), str(feedback)], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{name}: {done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--store", type=Path, help="keep the synthetic store here (reused when it exists)")
    parser.add_argument("--feedback", type=int, default=200, help="feedback PDFs to write (the first N students)")
    parser.add_argument("--steps", default="report,results --format csv,feedback")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or Path(tmp) / "results"
        if not (store / "results.sqlite").exists():
            t = time.perf_counter()
            write_store(store, args.students, np.random.default_rng(1))
            size = (store / "results.sqlite").stat().st_size / 1e6
            print(f"store: {args.students} sheets × 100 questions written in {time.perf_counter() - t:.0f} s ({size:.0f} MB)")
        for name in filter(None, args.steps.split(",")):
            print(describe(name, run_step(name, store, Path(tmp), args.feedback)), flush=True)


def describe(name: str, f: dict) -> str:
    """One line per step: wall and CPU seconds, peak memory, and the step's own figures."""
    line = f"{name}: {f['seconds']:.1f} s wall, {f['cpu']:.1f} s CPU, peak memory {f['rss_mb']:.0f} MB"
    parts = [f"{key} {f[key]:.1f} s ({f[key + '_cpu']:.1f} s CPU)" for key in ("load", "write") if key in f]
    if parts:
        line += " — " + ", ".join(parts)
    if "pdfs" in f:
        line += (
            f"\n  {f['pdfs']} PDFs: {1000 * f['write'] / max(f['pdfs'], 1):.0f} ms wall, "
            f"{1000 * f['write_cpu'] / max(f['pdfs'], 1):.0f} ms CPU per PDF (workers' start included)"
            f"\n  pickled: a job {f['job_bytes'] / 1e3:.1f} kB, the workers' context {f['context_bytes'] / 1e6:.2f} MB "
            f"(once per worker), the whole results {f['results_bytes'] / 1e6:.0f} MB"
        )
    return line


if __name__ == "__main__":
    main()
