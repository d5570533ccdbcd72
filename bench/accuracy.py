"""Benchmark: grading accuracy per degradation level, on simulated sheets.

    python bench/accuracy.py [--sheets 300] [--seeds 3] [--first-seed 0] [--workers 2] [--questions 30,100]
    python bench/accuracy.py --levels hard --questions 100 --sheets 40 --doubtful-rate 1.0   # a doubtful mark on every question

For each level (none, scan, photo, harsh by default; the ``cut`` level,
pages that lost corner squares, only when named: ``--levels cut`` or
``--levels none,scan,photo,harsh,cut``; bench/cut_corners.py breaks it down
per journey; ``--levels hard`` for the harder levels, run.HARD_LEVELS: a
messy hand on a scanner, copier, folded sheet, fax, phone, shadowed photo),
exam size (``--questions``: 45 is the sample exam, 2026-mock-03; 30 and 100
are built from the same bank, 70 % single choice) and seed it simulates sheets with `papergen simulate`, grades
them, and compares with truth.csv. Prints per
level: sheets, exact sheets, sheets flagged beyond the deliberate doubtful
marks, and silent errors (wrong readings nobody was warned about), the read pages
that were grey and black-and-white (1-bit) scans with how many of each were
flagged beyond the deliberate marks and how many held a silent error, plus how
many deliberately doubtful marks were flagged, and how many doubtful marks a black-and-white device
erased (``erased``: truth.csv says nothing a person could see was left of
them; neither a silent error nor hidden).
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
from papergen.sim.run import HARD_LEVELS, simulate  # noqa: E402

BLUEPRINT = ROOT / "blueprints" / "2026-mock-03.yaml"


def exam_blueprint(questions: int, folder: Path) -> Path:
    """The sample exam's blueprint (45 questions), or one of ``questions`` from the same bank."""
    if questions == 45:
        return BLUEPRINT
    single = round(questions * 0.7)
    text = (
        f"exam: bench-{questions}\ntitle: 模拟卷（{questions} 题）\nbanks: [{ROOT / 'banks' / 'xinjiuye-dangjian.yaml'}]\n"
        "variants: 4\nseed: 20260306\nminutes: 90\nsections:\n"
        f"  - title: 一、单项选择题\n    type: single\n    count: {single}\n    points: 1\n"
        f"  - title: 二、多项选择题\n    type: multiple\n    count: {questions - single}\n    points: 2\n"
        "    scoring: all_or_nothing\n"
    )
    path = folder / f"bench-{questions}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sheets", type=int, default=300, help="sheets per level and seed")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds run from this one (a set of scans no rule was tuned on: pick one not used before)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--levels", default="none,scan,photo,harsh", help="comma-separated; 'hard' = every harder level")
    parser.add_argument("--questions", default="45", help="exam sizes, comma-separated (45 = the sample exam)")
    parser.add_argument("--details", type=int, nargs="?", const=60, default=0,
                        help="list up to this many errors and extra flags per level (60 when given alone)")
    parser.add_argument("--doubtful-rate", type=float, default=None,
                        help="share of questions made deliberately doubtful (a tick, a faint half-fill, two marks), as "
                             "papergen simulate --doubtful-rate; 1.0 stresses the decisions with a doubtful mark on "
                             "every question (default: the simulator's)")
    parser.add_argument("--keep", help="keep the simulated scans in this folder and reuse them on the next run "
                                       "(the exam build is deterministic, so the same sheets are graded again)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        levels = [name for level in args.levels.split(",") for name in (HARD_LEVELS if level == "hard" else (level,))]
        print(f"{'level':<13}{'q':>4}{'sheets':>8}{'exact':>8}{'flagged+':>10}{'silent':>8}{'(b/w lost)':>11}{'doubtful':>10}{'flagged':>9}{'erased':>8}{'s/level':>9}"
              f"{'grey: pages':>13}{'flagged+':>10}{'silent':>8}{'1-bit: pages':>14}{'flagged+':>10}{'silent':>8}")
        for questions in map(int, args.questions.split(",")):
            build_exam(exam_blueprint(questions, tmp), tmp / f"exam-{questions}")
            for level in levels:
                run_level(tmp, tmp / f"exam-{questions}" / "exam.json", level, questions, args)


def run_level(tmp: Path, exam_json: Path, level: str, questions: int, args: argparse.Namespace) -> None:
    """Simulate (or reuse, with ``--keep``), grade and compare one level; print its row."""
    total = Accuracy()
    start = time.perf_counter()
    scans_root = Path(args.keep) if args.keep else tmp
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        rate = "" if args.doubtful_rate is None else f"-d{args.doubtful_rate:g}"  # kept scans of another rate are other scans
        scans = scans_root / f"{level}-{questions}-{args.sheets}-{seed}{rate}"
        if not (scans / "truth.csv").is_file():
            extra = {} if args.doubtful_rate is None else {"doubtful_rate": args.doubtful_rate}
            simulate(exam_json, args.sheets, scans, seed=1000 + seed, degrade=level, **extra)
        results = tmp / f"res-{level}-{questions}-{seed}"
        grade(exam_json, [scans], results, workers=args.workers)
        report = evaluate(results, scans / "truth.csv")
        for name in ("sheets", "exact", "flagged_beyond", "silent_errors", "lost_black_and_white", "deliberate",
                     "deliberate_flagged", "erased_by_device"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        total.details += report.details
        total.pages += report.pages
    seconds = time.perf_counter() - start
    print(
        f"{level:<13}{questions:>4}{total.sheets:>8}{total.exact:>8}{total.flagged_beyond:>10}{total.silent_errors:>8}"
        f"{total.lost_black_and_white:>11}{total.deliberate:>10}{total.deliberate_flagged:>9}{total.erased_by_device:>8}"
        f"{seconds:>9.0f}{_share(total.pages, False)}{_share(total.pages, True)}",
        flush=True,
    )
    if args.details:
        for line in total.details[:args.details]:
            print("   ", line)


def _share(pages: list, black_and_white: bool) -> str:
    """Read pages of one kind (grey or 1-bit scans), how many were flagged beyond the deliberate marks,
    and how many held a silent error (the device-erased marks counted in, as in the level's column)."""
    kind = [p for p in pages if p.black_and_white == black_and_white and p.outcome != "refused"]
    flagged = sum(p.outcome == "flagged" for p in kind)
    silent = sum(p.outcome == "silent" for p in kind)
    width = 14 if black_and_white else 13
    return f"{len(kind):>{width}}{flagged:>10}{silent:>8}"


if __name__ == "__main__":
    main()
