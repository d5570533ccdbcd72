"""Benchmark: grading speed and memory (prints figures; not a test).

    python bench/grade.py [--sheets 500] [--big 5000]

Simulates sheets with `papergen simulate` (clean scans at 300 dpi JPEG, and
at 150 dpi), then for each set: the bare JPEG decode time of the same files
(cv2.imdecode, the floor no grader can beat), grading with 1 worker and with
all cores (sheets/s, CPU ms per sheet, ratio to the decode time), and the
parent's peak memory. With --big N it also grades N sheets (copies of the
set under new names, so nothing is skipped) to show that memory stays flat
as the batch grows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papergen.render.build import build_exam  # noqa: E402
from papergen.sim.run import simulate  # noqa: E402

GRADE_CHILD = """
import resource, sys, time
from papergen.grade.pipeline import grade
start = time.perf_counter()
cpu0 = resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime
summary = grade(sys.argv[1], [sys.argv[2]], sys.argv[3], workers=int(sys.argv[4]))
wall = time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime - cpu0
print(wall, cpu, own.ru_maxrss / 1024, kids.ru_maxrss / 1024, summary.pages_new)
"""


def decode_floor(folder: Path) -> float:
    files = sorted(folder.glob("*.jpg"))
    start = time.process_time()
    for path in files:
        cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_GRAYSCALE)
    return (time.process_time() - start) / len(files)


def run_grade(exam_json: Path, scans: Path, results: Path, workers: int) -> tuple[float, float, float, float, int]:
    shutil.rmtree(results, ignore_errors=True)
    out = subprocess.run(
        [sys.executable, "-c", GRADE_CHILD, str(exam_json), str(scans), str(results), str(workers)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    wall, cpu, parent_mb, child_mb, pages = out.stdout.split()
    return float(wall), float(cpu), float(parent_mb), float(child_mb), int(pages)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sheets", type=int, default=500)
    parser.add_argument("--big", type=int, default=0, help="also grade this many sheets to check memory stays flat")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_exam(ROOT / "blueprints" / "2026-mock-03.yaml", tmp / "exam")
        exam_json = tmp / "exam" / "exam.json"
        for dpi in (300, 150):
            scans = tmp / f"scans-{dpi}"
            t = time.perf_counter()
            simulate(exam_json, args.sheets, scans, seed=7, degrade="none", dpi=dpi)
            print(f"\n{args.sheets} sheets at {dpi} dpi JPEG (simulated in {time.perf_counter() - t:.0f} s)")
            floor = decode_floor(scans)
            print(f"  bare decode (cv2.imdecode, full size): {floor * 1000:.1f} ms per sheet")
            for workers in sorted({1, cores}):
                wall, cpu, parent_mb, child_mb, pages = run_grade(exam_json, scans, tmp / "res", workers)
                per_sheet = cpu / pages
                print(
                    f"  {workers} worker(s): {pages / wall:.1f} sheets/s, CPU {per_sheet * 1000:.1f} ms/sheet "
                    f"({per_sheet / floor:.2f}x decode), peak memory parent {parent_mb:.0f} MB, largest worker {child_mb:.0f} MB"
                )
        if args.big:
            big = tmp / "big"
            big.mkdir()
            source = sorted((tmp / "scans-300").glob("*.jpg"))
            for n in range(args.big):
                # a fresh copy is a new scan only if its bytes differ: append a comment byte after EOI is not
                # allowed (truncation check), so re-encode with a different quality instead
                image = cv2.imread(str(source[n % len(source)]), cv2.IMREAD_GRAYSCALE)
                cv2.imwrite(str(big / f"b{n:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 70 + n // len(source) % 25])
            for count in (args.sheets, args.big):
                subset = tmp / f"subset-{count}"
                subset.mkdir()
                for path in sorted(big.glob("*.jpg"))[:count]:
                    os.link(path, subset / path.name)
                wall, cpu, parent_mb, child_mb, pages = run_grade(exam_json, subset, tmp / "res-big", cores)
                print(f"  {pages} sheets: peak memory parent {parent_mb:.0f} MB, largest worker {child_mb:.0f} MB, {pages / wall:.1f} sheets/s")


if __name__ == "__main__":
    main()
