"""Benchmark: pages that lost corner squares (``--degrade cut``), per journey.

    python bench/cut_corners.py [--sheets 100] [--seed 1200] [--workers 2] [--details]

Simulates sheets at the ``cut`` level (fed crooked or shifted and cut at the
bed's edge, a copy with a clipped margin, a covered corner, a staple, a cut
plus a covered corner), grades them and prints, per journey kind (the
``journey`` column of truth.csv without its corners): pages, how many were
read exactly, read with flags beyond the deliberate doubtful marks, refused
(not read; how many of those as "not-a-sheet", which tells an operator the
page may be no answer sheet at all), and read with silent errors — with the number of answers read
wrong without a flag — and how many pages were read through a frame recovered from two corner
squares and the QR code; then each refused or flagged page with what the grader said. Silent
errors must be zero: a page that lost its corners is read exactly or refused.
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papergen.grade.pipeline import grade  # noqa: E402
from papergen.render.build import build_exam  # noqa: E402
from papergen.sim.evaluation import evaluate  # noqa: E402
from papergen.sim.run import simulate  # noqa: E402

OUTCOMES = ("exact", "flagged", "refused", "not-a-sheet", "silent")  # the columns; not-a-sheet is among refused


def journey_kind(journey: str) -> str:
    """``"cut:TR;covered:BL"`` → ``"cut+covered"``; ``"cut:TL,TR"`` → ``"cut×2"``."""
    parts = []
    for part in filter(None, journey.split(";")):
        kind, corners = part.split(":")
        count = len(corners.split(","))
        parts.append(kind if count == 1 else f"{kind}×{count}")
    return "+".join(parts) or "none"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sheets", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--details", action="store_true", help="list every silent error")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_exam(ROOT / "blueprints" / "2026-mock-03.yaml", tmp / "exam")
        exam_json = tmp / "exam" / "exam.json"
        start = time.perf_counter()
        scans = tmp / "scans"
        simulate(exam_json, args.sheets, scans, seed=args.seed, degrade="cut")
        grade(exam_json, [scans], tmp / "results", workers=args.workers)
        report = evaluate(tmp / "results", scans / "truth.csv")
        db = sqlite3.connect(tmp / "results" / "results.sqlite")
        stored = {(Path(path).name, page): (status, fiducials, message) for path, page, status, fiducials, message
                  in db.execute("SELECT path, page, status, fiducials, message FROM pages WHERE part = 1")}
        db.close()
        with (scans / "truth.csv").open(encoding="utf-8-sig", newline="") as handle:
            journeys = {(row["file"], int(row["page"])): row["journey"] for row in csv.DictReader(handle)}
    counts: dict[str, Counter] = defaultdict(Counter)
    wrong: dict[str, list[int]] = defaultdict(list)
    for page in report.pages:
        kind = journey_kind(journeys[(page.file, page.page)])
        for key in (kind, "all"):
            counts[key]["pages"] += 1
            counts[key][page.outcome] += 1
            counts[key]["not-a-sheet"] += page.status == "not-a-sheet"
            status, fiducials, _ = stored.get((page.file, page.page), ("", None, ""))
            counts[key]["recovered"] += status == "read" and fiducials is not None and fiducials < 3
            if page.outcome == "silent":
                wrong[key].append(page.wrong)
    print(f"{'journey':<16}{'pages':>7}{'exact':>7}{'flagged':>9}{'refused':>9}{'(n-a-s)':>9}{'silent':>8}{'2-squares':>11}"
          "  wrong answers on silent pages")
    for kind in sorted(counts, key=lambda k: (k == "all", k)):
        c = counts[kind]
        print(f"{kind:<16}{c['pages']:>7}" + "".join(f"{c[o]:>{w}}" for o, w in zip(OUTCOMES, (7, 9, 9, 9, 8)))
              + f"{c['recovered']:>11}  {sorted(wrong[kind], reverse=True) if wrong[kind] else ''}")
    print("2-squares: read through a frame recovered from two corner squares and the QR code (grade/recovery.py)")
    for page in report.pages:
        if page.outcome in ("refused", "flagged"):
            status, fiducials, message = stored.get((page.file, page.page), ("?", None, ""))
            print(f"  {page.outcome} {page.file} {journeys[(page.file, page.page)]}: {status} ({fiducials} squares) {message}")
    print(f"seed {args.seed}, {args.sheets} sheets, {time.perf_counter() - start:.0f} s")
    if args.details:
        silent = {f"{p.file}#{p.page}" for p in report.pages if p.outcome == "silent"}
        for line in report.details:
            if line.split(" ")[0].split(":")[0] in silent:
                print("   ", journeys.get((line.split("#")[0], 1), ""), line)


if __name__ == "__main__":
    main()
