"""Benchmark aid: every box's measurements beside what the simulator drew in it.

    python bench/box_features.py --keep /work/sim-keep-fax --levels scan-messy,fax --questions 30 --out boxes.csv

Reads scans kept by ``bench/accuracy.py --keep`` (simulating them first when
missing), and writes one CSV row per answer box, 准考证号 box and 试卷类型
box: the measurements ``bubbles.decide`` weighs (darkness, shade and band, interior
and whole-box coverage, stroke and its rise, the largest run of any shape (smudge), whether a line crosses the window
and the darkness a crease alone adds,
median pixel and floor, black off the letter, the student's own darkness), the
question's decision, and the kind of pencil the simulator put in the box
(``fill``, ``light``, ``residue``, ``faint``, ``tick``, ``dot`` or empty) with
the question's deliberate doubt. Tuning a decision rule starts
here: which measurements separate the kinds a person reads alike from the
kinds a person must look at. Stray dots are placed at random after the
answers, so a ``dot`` is not listed (its box reads as empty here).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.accuracy import exam_blueprint  # noqa: E402
from papergen.exam.manifest import read_manifest  # noqa: E402
from papergen.grade import reader  # noqa: E402
from papergen.grade.ingest import collect_pages, load_page  # noqa: E402
from papergen.render.build import build_exam  # noqa: E402
from papergen.sim.cohort import answer_sheet, make_cohort  # noqa: E402
from papergen.sim.run import HARD_LEVELS, simulate  # noqa: E402

COLUMNS = ("level", "questions", "seed", "file", "part", "box", "kind", "doubt", "darkness", "shaded", "band", "coverage", "whole",
           "stroke", "smudge", "rise", "crossed", "crease", "film", "floor", "off_letter", "own", "binary", "outcome", "letters", "reason", "note", "tone")


class _Capture:
    """Wraps ``reader.measure`` to keep the last page's measurements and box table."""

    def __init__(self) -> None:
        self.original = reader.measure
        self.last = None

    def __call__(self, page, table, *args, **kwargs):
        measured = self.original(page, table, *args, **kwargs)
        self.last = (measured, table)
        return measured


def rows_for_level(exam_json: Path, scans: Path, level: str, questions: int, seed: int, doubtful_rate: float = 0.01):
    manifest = read_manifest(exam_json)
    n = sum(1 for _ in scans.glob("sheet-*"))
    students = {s.sheet: s for s in make_cohort(manifest, n, seed)}
    capture = _Capture()
    reader.measure = capture
    try:
        for path in sorted(scans.glob("sheet-*")):
            sheet = int(path.stem.split("-")[1])
            student = students[sheet]
            responses = {r.number: r for r in answer_sheet(manifest, student, seed, doubtful_rate)}
            jobs, _ = collect_pages([path])
            for job in jobs:
                capture.last = None
                readings = [r for r in reader.read_sheets(load_page(job), manifest) if r.status == "read"]
                if capture.last is None or len(readings) != 1:
                    continue
                reading = readings[0]
                measured, table = capture.last
                own = reader.own_marks(measured, table)
                decided = {q.number: q for q in reading.questions}
                parts = [(f"q{n}", part, n) for n, part in zip(table.numbers, table.questions)]
                parts += [(f"id{i}", part, None) for i, part in enumerate(table.id_columns)]
                parts.append(("variant", table.variant, None))
                for name, part, number in parts:
                    idx = np.arange(len(measured.darkness))[part]
                    if number is not None:
                        response = responses.get(number)
                        kinds = dict(response.marks) if response else {}
                        doubt = response.doubt if response else ""
                        q = decided.get(number)
                        outcome, letters, reason, note = (q.outcome, q.letters, q.reason, q.note) if q else ("", "", "", "")
                    else:
                        if name == "variant":
                            kinds = {manifest.sheet.variants.index(student.variant): "fill"} if not student.absent else {}
                        else:
                            kinds = {int(student.student_id[int(name[2:])]): "fill"}
                        labels = "".join(manifest.sheet.variants) if name == "variant" else reader.DIGITS
                        decided_part = measured.decide(part, single=True, labels=labels, binary=reading.binary, own=own)
                        doubt = ""
                        outcome, letters, reason, note = (decided_part.outcome, decided_part.letters, decided_part.reason,
                                                          decided_part.note)
                    for k, i in enumerate(idx):
                        yield {
                            "level": level, "questions": questions, "seed": seed - 1000, "file": path.name, "part": name, "box": k,
                            "kind": kinds.get(k, ""), "doubt": doubt,
                            "darkness": round(float(measured.darkness[i]), 4),
                            "shaded": "" if measured.shaded is None else round(float(measured.shaded[i]), 4),
                            "band": "" if measured.band is None else round(float(measured.band[i]), 4),
                            "coverage": round(float(measured.coverage[i]), 4),
                            "whole": round(float(measured.whole[i]), 4),
                            "stroke": "" if measured.stroke is None else round(float(measured.stroke[i]), 4),
                            "smudge": "" if measured.smudge is None else round(float(measured.smudge[i]), 4),
                            "rise": "" if measured.rise is None else round(float(measured.rise[i]), 3),
                            "crossed": "" if measured.crossed is None else int(bool(measured.crossed[i])),
                            "crease": "" if measured.crease is None else round(float(measured.crease[i]), 4),
                            "film": round(float(measured.film[i]), 4),
                            "floor": round(float(measured.floor[i]), 4),
                            "off_letter": "" if measured.off_letter is None else round(float(measured.off_letter[i]), 4),
                            "own": "" if own is None else round(own, 4), "binary": int(reading.binary),
                            "outcome": outcome, "letters": letters, "reason": reason, "note": note,
                            "tone": round(student.tone, 3),
                        }
    finally:
        reader.measure = capture.original


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", required=True, help="the folder bench/accuracy.py --keep uses")
    parser.add_argument("--levels", default="hard")
    parser.add_argument("--questions", default="30")
    parser.add_argument("--sheets", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0, help="as bench/accuracy.py --first-seed")
    parser.add_argument("--doubtful-rate", type=float, default=None, help="as bench/accuracy.py --doubtful-rate")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    levels = [name for level in args.levels.split(",") for name in (HARD_LEVELS if level == "hard" else (level,))]
    with tempfile.TemporaryDirectory() as tmp, open(args.out, "w", newline="", encoding="utf-8") as out:
        tmp = Path(tmp)
        writer = csv.DictWriter(out, COLUMNS)
        writer.writeheader()
        for questions in map(int, args.questions.split(",")):
            build_exam(exam_blueprint(questions, tmp), tmp / f"exam-{questions}")
            exam_json = tmp / f"exam-{questions}" / "exam.json"
            for level in levels:
                for seed in range(args.first_seed, args.first_seed + args.seeds):  # the folders and seeds bench/accuracy.py uses
                    rate = "" if args.doubtful_rate is None else f"-d{args.doubtful_rate:g}"
                    scans = Path(args.keep) / f"{level}-{questions}-{args.sheets}-{seed}{rate}"
                    extra = {} if args.doubtful_rate is None else {"doubtful_rate": args.doubtful_rate}
                    if not (scans / "truth.csv").is_file():
                        simulate(exam_json, args.sheets, scans, seed=1000 + seed, degrade=level, **extra)
                    writer.writerows(rows_for_level(exam_json, scans, level, questions, 1000 + seed, **extra))
                print(f"{level} {questions}: done", flush=True)


if __name__ == "__main__":
    main()
