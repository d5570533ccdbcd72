"""Benchmark: answer boxes under a sticker, a sticky note or correction tape — flagged, or read as blank? (prints figures; not a test)

    python bench/covered_boxes.py [--sheets 40] [--levels scan,photo,copier,fold,phone-messy,harsh-shadow] [--questions 45]
                                  [--seed 7] [--keep DIR] [--details]

For each level it simulates sheets (``--keep DIR`` reuses them), reads every page
once as it is, then pastes one to three patches over each page where the
grader's own frame puts the answer boxes: a strip of correction tape over one
box, a sticker over a question's row, a note over two to four questions;
paper white to the grey of a yellow note, its edge softened and its surface grainy
like the rest of the scan (the page's other pixels stay as they are). It prints, separately for grey and black-and-white
pages: the covered questions, how many were flagged, how many were read as
something other than what the student marked without a flag (silent), and
questions elsewhere on the page whose reading changed (the patches change the page's own statistics: each
label's empty boxes, the student's own marks), and how many of those are now read wrong without a flag.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papergen.exam.manifest import read_manifest  # noqa: E402
from papergen.grade.ingest import collect_pages, load_page  # noqa: E402
from papergen.grade.reader import read_sheets  # noqa: E402
from papergen.grade.registration import RegistrationError, register_all  # noqa: E402
from papergen.render.build import build_exam  # noqa: E402
from papergen.sim.run import simulate  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from accuracy import exam_blueprint  # noqa: E402


def covered_page(gray: np.ndarray, homography: np.ndarray, rects: list, grey: int, rng: np.random.Generator) -> np.ndarray:
    """``gray`` with one patch of ``grey`` over the frame-mm rectangles ``rects`` (and up to 1.5 mm around them)."""
    x0 = min(r[0] for r in rects) - rng.uniform(0.3, 1.5)
    y0 = min(r[1] for r in rects) - rng.uniform(0.3, 1.5)
    x1 = max(r[0] + r[2] for r in rects) + rng.uniform(0.3, 1.5)
    y1 = max(r[1] + r[3] for r in rects) + rng.uniform(0.3, 1.5)
    corners = np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], np.float32)
    outline = cv2.perspectiveTransform(corners, homography)[0]
    cover = np.zeros(gray.shape, np.uint8)
    cv2.fillPoly(cover, [np.round(outline).astype(np.int32)], 255)
    cover = cv2.GaussianBlur(cover, (5, 5), 0).astype(np.float32) / 255  # a scanned edge, a pixel or two soft
    noise = rng.normal(0.0, 2.0, gray.shape).astype(np.float32)  # the sticker's own grain
    return np.clip(gray * (1 - cover) + (grey + noise) * cover + 0.5, 0, 255).astype(np.uint8)


def run_level(level: str, questions: int, args: argparse.Namespace, tmp: Path) -> None:
    exam_dir = tmp / f"exam-{questions}"
    if not (exam_dir / "exam.json").is_file():
        build_exam(exam_blueprint(questions, tmp) if questions != 45 else ROOT / "blueprints" / "2026-mock-03.yaml", exam_dir)
    manifest = read_manifest(exam_dir / "exam.json")
    scans = (Path(args.keep) if args.keep else tmp) / f"{level}-{questions}-{args.sheets}-{args.seed}"
    if not (scans / "truth.csv").is_file():
        simulate(exam_dir / "exam.json", args.sheets, scans, seed=1000 + args.seed, degrade=level)
    truth = {(r["file"], int(r["page"])): r for r in csv.DictReader(open(scans / "truth.csv", encoding="utf-8-sig"))}
    rng = np.random.default_rng(args.seed)
    counts = {kind: dict(pages=0, covered=0, flagged=0, silent=0, blank_read_blank=0, elsewhere=0, elsewhere_silent=0) for kind in ("grey", "1-bit")}
    jobs, _ = collect_pages([scans])
    for job in jobs:
        gray = load_page(job)
        before = read_sheets(gray, manifest)[0]
        if before.status != "read":
            continue
        try:
            frame = register_all(gray, manifest.sheet)[0].homography
        except RegistrationError:
            continue
        row = truth[(Path(job.path).name, job.page)]
        page_questions = manifest.sheet.questions_on(before.sheet_page)
        covered: set[int] = set()
        for _ in range(int(rng.integers(1, 4))):
            first = int(rng.integers(len(page_questions)))
            kind = rng.choice(["tape", "sticker", "note"])
            if kind == "tape":  # one box
                boxes = [page_questions[first].boxes[int(rng.integers(len(page_questions[first].boxes)))]]
                chosen = [page_questions[first]]
            else:  # whole rows: one question, or two to four in a column
                chosen = page_questions[first:first + (1 if kind == "sticker" else int(rng.integers(2, 5)))]
                boxes = [box for question in chosen for box in question.boxes]
            grey = int(rng.integers(205, 256))
            gray = covered_page(gray, frame, boxes, grey, rng)
            covered |= {q.number for q in chosen}
        after = read_sheets(gray, manifest)[0]
        c = counts["1-bit" if after.binary else "grey"]
        c["pages"] += 1
        was = {q.number: (q.outcome, q.letters) for q in before.questions}
        for q in after.questions:
            if q.number in covered:
                c["covered"] += 1
                marked = row[str(q.number)]
                if q.outcome == "flagged":
                    c["flagged"] += 1
                elif q.letters != marked:
                    c["silent"] += 1
                    if args.details:
                        print(f"    {Path(job.path).name} 第 {q.number} 题：盖住后读成 {q.letters or '空白'}（{q.outcome}），实为 {marked or '空白'}")
                else:
                    c["blank_read_blank"] += 1  # nothing marked there, read blank: right, but by luck
            elif (q.outcome, q.letters) != was[q.number]:
                c["elsewhere"] += 1
                # a silent misread the patches made on a question they do not touch
                c["elsewhere_silent"] += q.outcome != "flagged" and q.letters != row[str(q.number)]
    for kind, c in counts.items():
        if c["pages"]:
            print(f"{level:<13}{questions:>4} {kind:<6}{c['pages']:>6}{c['covered']:>9}{c['flagged']:>9}{c['silent']:>8}"
                  f"{c['blank_read_blank']:>12}{c['elsewhere']:>11}{c['elsewhere_silent']:>9}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sheets", type=int, default=40)
    parser.add_argument("--levels", default="scan,photo,copier,fold,phone-messy,harsh-shadow")
    parser.add_argument("--questions", default="45")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", help="keep the simulated scans in this folder and reuse them")
    parser.add_argument("--details", action="store_true", help="name every covered question read wrong without a flag")
    args = parser.parse_args()
    print(f"{'level':<13}{'q':>4} {'pages':<6}{'':>6}{'covered':>9}{'flagged':>9}{'silent':>8}{'blank/blank':>12}{'elsewhere':>11}{'(silent)':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for questions in (int(q) for q in args.questions.split(",")):
            for level in args.levels.split(","):
                run_level(level, questions, args, Path(tmp))


if __name__ == "__main__":
    main()
