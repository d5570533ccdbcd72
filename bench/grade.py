"""Benchmark: grading speed against the JPEG decoder, and memory (prints figures; not a test).

    python bench/grade.py [--sheets 60] [--levels none,scan,photo] [--dpi 300] [--profile] [--big 5000]

For each degrade level (clean ``none`` scans, noisy ``scan`` and ``photo``
journeys; simulated at ``--dpi`` JPEG) it measures, in one child process and
so under one load:

- the decode floor of the very same files: a full grayscale decode
  (``IMREAD_GRAYSCALE``) and the half-size decode (``IMREAD_REDUCED_GRAYSCALE_2``),
  CPU ms per file, bytes already in memory;
- papergen's CPU per sheet with 1 worker (in-process) after start-up: after a
  warm-up grade, the first K sheets and then all N are graded into fresh
  stores, and the CPU (user + sys) difference is divided by N − K, so
  interpreter start-up, imports, opening the store and the summary cancel
  out; wall time the same way (sheets/s) with 1 and 2 workers;
- the ratios of papergen's CPU per sheet to both decodes.

``--profile`` also runs cProfile over grading the set in-process and prints
the time per stage (decode, registration, QR, canonical page, alignment,
measuring, deciding, store) and the top functions. ``--big N`` grades N sheets
(copies of the first set under new bytes) to show that the parent's memory
stays flat as the batch grows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papergen.render.build import build_exam  # noqa: E402
from papergen.sim.run import simulate  # noqa: E402

#: Runs in a fresh interpreter: decode floors and grading of the same files, one load.
MEASURE_CHILD = r"""
import json, os, resource, statistics, sys, time
from pathlib import Path
import cv2, numpy as np
from papergen.grade.pipeline import grade

exam_json, scans, part, tmp = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
cv2.setNumThreads(1)

def cpu():
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

files = sorted(scans.glob("*.jpg"))
blobs = [np.frombuffer(p.read_bytes(), np.uint8) for p in files]

def decode(flag):
    start = time.process_time()
    for blob in blobs:
        cv2.imdecode(blob, flag)
    return (time.process_time() - start) / len(blobs)

def floors():
    full, half = [], []
    for _ in range(3):  # interleaved, median: both see the same load
        full.append(decode(cv2.IMREAD_GRAYSCALE))
        half.append(decode(cv2.IMREAD_REDUCED_GRAYSCALE_2))
    return statistics.median(full), statistics.median(half)

def graded(folder, workers, name):
    out = tmp / name
    c0, w0 = cpu(), time.perf_counter()
    summary = grade(exam_json, [folder], out, workers=workers)
    return cpu() - c0, time.perf_counter() - w0, summary.pages_new

full0, half0 = floors()
graded(part, 1, "warm")  # lazy imports, first-use initialisation
k_cpu, k_wall, k = graded(part, 1, "k1")
n_cpu, n_wall, n = graded(scans, 1, "n1")
full1, half1 = floors()
_, k_wall2, _ = graded(part, 2, "k2")
_, n_wall2, _ = graded(scans, 2, "n2")
print(json.dumps({
    "full": (full0 + full1) / 2, "half": (half0 + half1) / 2,
    "cpu": (n_cpu - k_cpu) / (n - k), "wall1": (n_wall - k_wall) / (n - k), "wall2": (n_wall2 - k_wall2) / (n - k),
    "sheets": n, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""

#: Runs in a fresh interpreter: cProfile over grading a folder in-process (1 worker).
PROFILE_CHILD = r"""
import cProfile, pstats, sys
from pathlib import Path
from papergen.grade.pipeline import grade
exam_json, scans, tmp = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
grade(exam_json, [scans], tmp / "warm", workers=1)
profiler = cProfile.Profile()
profiler.enable()
summary = grade(exam_json, [scans], tmp / "profiled", workers=1)
profiler.disable()
stats = pstats.Stats(profiler)
n = summary.pages_new
STAGES = [
    ("decode (load_page)", "ingest.py", "load_page"),
    ("registration (register_all)", "registration.py", "register_all"),
    ("  of which QR decode (_decode_at)", "registration.py", "_decode_at"),
    ("  of which fiducial search (find_square_blobs)", "registration.py", "find_square_blobs"),
    ("read_registered (all after registration)", "reader.py", "read_registered"),
    ("  canonical page (canonical_page)", "reader.py", "canonical_page"),
    ("  page windows sampled from the scan (sample_page)", "reader.py", "sample_page"),
    ("  alignment check (frame_alignment)", "alignment.py", "frame_alignment"),
    ("  bend fitted where the page may not lie flat (bent_alignment)", "bend.py", "bent_alignment"),
    ("  measuring (measure)", "reader.py", "measure"),
    ("    of which paper rings gathered (ring_patches)", "bubbles.py", "ring_patches"),
    ("    of which stroke tracing (trace_strokes)", "bubbles.py", "trace_strokes"),
    ("  deciding (decide_questions)", "reader.py", "decide_questions"),
    ("reading the page (read_sheets: registration + the above)", "reader.py", "read_sheets"),
    ("store write in the parent (write_page)", "store.py", "write_page"),
    ("scoring rows (score_reading)", "pipeline.py", "score_reading"),
    ("whole page (process_page)", "pipeline.py", "process_page"),
]
print(f"per sheet, cumulative CPU ms over {n} sheets (cProfile adds overhead):")
for label, file, func in STAGES:
    total = sum(v[3] for k, v in stats.stats.items() if k[0].endswith(file) and k[2] == func)
    if total:
        print(f"  {label:<48} {total / n * 1000:7.2f}")
print("top functions by own time:")
rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:14]
for (file, line, func), (cc, nc, tt, ct, callers) in rows:
    print(f"  {tt / n * 1000:7.2f} ms  {nc / n:7.1f} calls  {Path(file).name}:{line} {func}")
"""


def run_child(code: str, *args: object) -> str:
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(out.stderr)
    return out.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sheets", type=int, default=60, help="sheets per level")
    parser.add_argument("--levels", default="none,scan,photo", help="simulate --degrade levels (clean and noisy)")
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="also print a cProfile breakdown per level")
    parser.add_argument("--big", type=int, default=0, help="also grade this many sheets to check memory stays flat")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_exam(ROOT / "blueprints" / "2026-mock-03.yaml", tmp / "exam")
        exam_json = tmp / "exam" / "exam.json"
        rows = []
        for level in args.levels.split(","):
            scans = tmp / f"scans-{level}"
            t = time.perf_counter()
            simulate(exam_json, args.sheets, scans, seed=args.seed, degrade=level, dpi=args.dpi)
            (scans / "truth.csv").unlink(missing_ok=True)
            part = tmp / f"part-{level}"
            part.mkdir()
            for path in sorted(scans.glob("*.jpg"))[: max(2, args.sheets // 6)]:
                os.link(path, part / path.name)
            print(f"\n{level}: {args.sheets} sheets at {args.dpi} dpi JPEG (simulated in {time.perf_counter() - t:.0f} s)", flush=True)
            work = tmp / f"work-{level}"
            work.mkdir()
            figures = json.loads(run_child(MEASURE_CHILD, exam_json, scans, part, work))
            shutil.rmtree(work)
            rows.append((level, figures))
            f = figures
            print(
                f"  decode full {f['full'] * 1e3:.1f} ms, half {f['half'] * 1e3:.1f} ms per file; papergen 1 worker "
                f"{f['cpu'] * 1e3:.1f} ms CPU/sheet = {f['cpu'] / f['half']:.2f}x half, {f['cpu'] / f['full']:.2f}x full; "
                f"{1 / f['wall1']:.1f} sheets/s (1 worker), {1 / f['wall2']:.1f} sheets/s (2 workers)", flush=True,
            )
            if args.profile:
                work.mkdir()
                print(run_child(PROFILE_CHILD, exam_json, scans, work), flush=True)
                shutil.rmtree(work)
        print("\n| scans | full decode ms | half decode ms | papergen CPU ms/sheet | ÷ half | ÷ full | sheets/s 1 worker | sheets/s 2 workers |")
        print("|---|---|---|---|---|---|---|---|")
        for level, f in rows:
            print(
                f"| {level} | {f['full'] * 1e3:.1f} | {f['half'] * 1e3:.1f} | {f['cpu'] * 1e3:.1f} | {f['cpu'] / f['half']:.2f} "
                f"| {f['cpu'] / f['full']:.2f} | {1 / f['wall1']:.1f} | {1 / f['wall2']:.1f} |"
            )
        if args.big:
            big_memory(tmp, exam_json, tmp / f"scans-{args.levels.split(',')[0]}", args.sheets, args.big)


GRADE_CHILD = """
import resource, sys, time
from papergen.grade.pipeline import grade
start = time.perf_counter()
summary = grade(sys.argv[1], [sys.argv[2]], sys.argv[3], workers=int(sys.argv[4]))
wall = time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(wall, own.ru_maxrss / 1024, kids.ru_maxrss / 1024, summary.pages_new)
"""


def big_memory(tmp: Path, exam_json: Path, source_dir: Path, sheets: int, count_big: int) -> None:
    """Grade ``sheets`` and then ``count_big`` sheets with every core: the parent's peak memory stays flat."""
    cores = os.cpu_count() or 1
    big = tmp / "big"
    big.mkdir()
    source = sorted(source_dir.glob("*.jpg"))
    for n in range(count_big):
        # a fresh copy is a new scan only if its bytes differ: re-encode with another quality
        image = cv2.imread(str(source[n % len(source)]), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(big / f"b{n:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 70 + n // len(source) % 25])
    print()
    for count in (sheets, count_big):
        subset = tmp / f"subset-{count}"
        subset.mkdir()
        for path in sorted(big.glob("*.jpg"))[:count]:
            os.link(path, subset / path.name)
        shutil.rmtree(tmp / "res-big", ignore_errors=True)
        wall, parent_mb, child_mb, pages = run_child(GRADE_CHILD, exam_json, subset, tmp / "res-big", cores).split()
        print(f"  {pages} sheets, {cores} workers: peak memory parent {float(parent_mb):.0f} MB, "
              f"largest worker {float(child_mb):.0f} MB, {int(pages) / float(wall):.1f} sheets/s")


if __name__ == "__main__":
    main()
