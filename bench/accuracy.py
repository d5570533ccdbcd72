"""Benchmark: grading accuracy per degradation level, on simulated sheets.

    python bench/accuracy.py [--sheets 300] [--seeds 3] [--workers 2]

For each level (none, scan, photo, harsh by default; the ``cut`` level,
pages that lost corner squares, only when named: ``--levels cut`` or
``--levels none,scan,photo,harsh,cut``; bench/cut_corners.py breaks it down
per journey) and seed it simulates sheets with `papergen simulate`, grades
them, and compares with truth.csv. Prints per
level: sheets, exact sheets, sheets flagged beyond the deliberate doubtful
marks, and silent errors (wrong readings nobody was warned about), plus how
many deliberately doubtful marks were flagged.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papergen.grade.pipeline import grade  # noqa: E402
from papergen.render.build import build_exam  # noqa: E402
from papergen.sim.evaluation import Accuracy, evaluate  # noqa: E402
from papergen.sim.run import simulate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sheets", type=int, default=300, help="sheets per level and seed")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--levels", default="none,scan,photo,harsh")
    parser.add_argument("--details", action="store_true", help="list every error and extra flag")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_exam(ROOT / "blueprints" / "2026-mock-03.yaml", tmp / "exam")
        exam_json = tmp / "exam" / "exam.json"
        print(f"{'level':<7}{'sheets':>8}{'exact':>8}{'flagged+':>10}{'silent':>8}{'(b/w lost)':>11}{'doubtful':>10}{'flagged':>9}{'s/level':>9}")
        for level in args.levels.split(","):
            total = Accuracy()
            start = time.perf_counter()
            for seed in range(args.seeds):
                scans = tmp / f"{level}-{seed}"
                simulate(exam_json, args.sheets, scans, seed=1000 + seed, degrade=level)
                results = tmp / f"res-{level}-{seed}"
                grade(exam_json, [scans], results, workers=args.workers)
                report = evaluate(results, scans / "truth.csv")
                for name in ("sheets", "exact", "flagged_beyond", "silent_errors", "lost_black_and_white", "deliberate", "deliberate_flagged"):
                    setattr(total, name, getattr(total, name) + getattr(report, name))
                total.details += report.details
            seconds = time.perf_counter() - start
            print(
                f"{level:<7}{total.sheets:>8}{total.exact:>8}{total.flagged_beyond:>10}{total.silent_errors:>8}{total.lost_black_and_white:>11}"
                f"{total.deliberate:>10}{total.deliberate_flagged:>9}{seconds:>9.0f}"
            )
            if args.details:
                for line in total.details[:60]:
                    print("   ", line)


if __name__ == "__main__":
    main()
