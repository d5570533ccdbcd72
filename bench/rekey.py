"""Benchmark: a key correction on 10,000 stored sheets (prints seconds; issue 13's target: under 10 s).

    python bench/rekey.py [--sheets 10000] [--questions 100] [--profile]

A store of graded sheets is written directly (``sim.graded``: the rows
``grade`` would write, no images): an exam of ``--questions`` questions
(40–100; 70 % single, 30 % multiple choice) planned from the sample bank,
a cohort answering with a per-student ability, 1 % of marks doubtful. Then
``report.rekey.change_key`` changes one question's key, as ``papergen
rekey`` does: the change recorded, every student's result computed again
(one ``student_results`` pass, re-scoring from the stored readings) and
compared with the totals before.
Prints the time of that whole step and of one ``student_results`` pass;
``--profile`` lists the hot spots of a pass.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papergen.exam.blueprint import load_blueprint  # noqa: E402
from papergen.exam.manifest import Manifest  # noqa: E402
from papergen.exam.plan import plan_exam  # noqa: E402
from papergen.grade.results import student_results  # noqa: E402
from papergen.grade.store import reading_store  # noqa: E402
from papergen.report.rekey import change_key, resolve_request  # noqa: E402
from papergen.sim.graded import answering_cohort, write_graded_store  # noqa: E402

TARGET_SECONDS = 10.0


def blueprint_text(questions: int) -> str:
    single = round(questions * 0.7)
    return f"""exam: bench-rekey
title: 更正答案基准（{questions}题）
banks: [{ROOT / 'banks' / 'xinjiuye-dangjian.yaml'}]
variants: 4
seed: 13
sections:
  - {{title: 一、单项选择题, type: single, count: {single}, points: 1}}
  - {{title: 二、多项选择题, type: multiple, count: {questions - single}, points: 2}}
"""


def exam(questions: int, folder: Path) -> Manifest:
    path = folder / "bp.yaml"
    path.write_text(blueprint_text(questions), encoding="utf-8")
    manifest, _ = plan_exam(load_blueprint(path))
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sheets", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=100, choices=range(40, 101), metavar="40..100")
    parser.add_argument("--profile", action="store_true", help="list the hot spots of one student_results pass")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        manifest = exam(args.questions, folder)
        t = time.perf_counter()
        sheets = answering_cohort(manifest, args.sheets, seed=1, doubtful_rate=0.01)
        written = write_graded_store(folder / "results", manifest, sheets)
        print(f"成绩库：{written} 张答题卡 × {args.questions} 题，写入 {time.perf_counter() - t:.1f} 秒")
        with reading_store(folder / "results") as db:
            t = time.perf_counter()
            student_results(db, manifest)
            one_pass = time.perf_counter() - t
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                student_results(db, manifest)
                profiler.disable()
        print(f"student_results 一次（全部考生）：{one_pass:.2f} 秒")
        item = manifest.variant("A").items[0]
        other = next(x for x in "ABCD" if x != item.key)
        request = resolve_request(manifest, [], paper="A", number=1, key=other)
        t = time.perf_counter()
        outcome = change_key(folder / "results", request, grader="bench", reason="基准")
        seconds = time.perf_counter() - t
        print(f"更正一道题的答案并重算全部成绩（记录更正 + 一次 student_results + 比较）：{seconds:.2f} 秒 "
              f"（{outcome.changed} 份总分变化；目标 < {TARGET_SECONDS:g} 秒：{'达到' if seconds < TARGET_SECONDS else '未达到'}）")
        if args.profile:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(18)


if __name__ == "__main__":
    main()
