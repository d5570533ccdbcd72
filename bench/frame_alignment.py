"""Benchmark: the frame-alignment score on right and wrong frames (calibrates ``ALIGNED_AT_LEAST``).

    python bench/frame_alignment.py [--sheets 40] [--exam scans/2026-mock-03/exam.json]

Right frames: registration's frame on simulated sheets at every degrade level
(``papergen simulate --degrade none|scan|photo|harsh``) and on the committed
scans. Wrong frames: each right frame moved by one question row, one box
pitch, half a question block, turned 180°, and the frames registration builds
from other dark squares when two corner squares are cropped off the image.
Prints the score's distribution for each, and the time one measurement takes
(on the reader's own path: the windows of the canonical page sampled from the
scan, ``reader.sample_page``, then ``frame_alignment``). Each frame is then
decided as the reader decides it (``bend.checked_frame``: a grey page whose
outlines do not all show is fitted a bend and checked again), and the bench
counts how many of each kind were accepted, and how many of those through a
bend. The ``curled`` level (sheets that do not lie flat) is among the right
frames: most of its pages are read only through a bend.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papergen.exam.manifest import read_manifest  # noqa: E402
from papergen.grade import reader  # noqa: E402
from papergen.grade.alignment import (  # noqa: E402
    NUMBERED_AT_LEAST,
    OUTLINED_AT_LEAST,
    frame_alignment,
)
from papergen.grade.bend import BENT_OUTLINED_AT_LEAST, checked_frame  # noqa: E402
from papergen.grade.registration import Registration, RegistrationError, register  # noqa: E402
from papergen.sim.run import simulate  # noqa: E402


def moved(registration: Registration, matrix: np.ndarray) -> Registration:
    """The frame ``registration`` found, with frame millimetres first mapped by ``matrix`` (3×3)."""
    return Registration(registration.homography @ matrix, registration.fiducials, registration.rotation)


def shifted(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0, dx], [0, 1, dy], [0, 0, 1]])


def wrong_frames(registration: Registration, geometry) -> dict[str, Registration]:
    """The right frame moved in the ways a wrong frame is most like the right one."""
    fw, fh = geometry.frame_size
    first = geometry.questions[0].boxes
    row = geometry.questions[1].boxes[0][1] - first[0][1]
    pitch = first[1][0] - first[0][0]
    return {
        "row+1": moved(registration, shifted(0, row)),
        "row-1": moved(registration, shifted(0, -row)),
        "pitch+1": moved(registration, shifted(pitch, 0)),
        "pitch-1": moved(registration, shifted(-pitch, 0)),
        "half-block": moved(registration, shifted(0, 2.5 * row)),
        "rotated-180": moved(registration, np.array([[-1.0, 0, fw], [0, -1, fh], [0, 0, 1]])),
    }


def corner_of(registration: Registration, x_mm: float, y_mm: float) -> np.ndarray:
    point = registration.homography @ np.array([x_mm, y_mm, 1.0])
    return point[:2] / point[2]


def cropped(gray: np.ndarray, registration: Registration, geometry, side: str) -> tuple[np.ndarray, np.ndarray]:
    """``gray`` with two corner squares cut off (the ``side`` edge cut just past them), and the offset of the crop."""
    fw, fh = geometry.frame_size
    cut = geometry.fiducial_size * 0.6  # past the squares' centres: they are gone, not shrunk
    points = {
        "left": [corner_of(registration, cut, 0), corner_of(registration, cut, fh)],
        "right": [corner_of(registration, fw - cut, 0), corner_of(registration, fw - cut, fh)],
        "top": [corner_of(registration, 0, cut), corner_of(registration, fw, cut)],
        "bottom": [corner_of(registration, 0, fh - cut), corner_of(registration, fw, fh - cut)],
    }[side]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if side == "left":
        c0 = int(max(xs))
        return gray[:, c0:], np.array([c0, 0])
    if side == "right":
        return gray[:, : int(min(xs))], np.array([0, 0])
    if side == "top":
        r0 = int(max(ys))
        return gray[r0:, :], np.array([0, r0])
    return gray[: int(min(ys)), :], np.array([0, 0])


def frame_error_mm(found: Registration, truth: Registration, offset: np.ndarray, geometry) -> float:
    """Largest distance (mm, frame) between where the two frames put the frame corners."""
    fw, fh = geometry.frame_size
    worst = 0.0
    scale = np.linalg.norm(corner_of(truth, fw, 0) - corner_of(truth, 0, 0)) / fw  # image px per mm
    for x, y in ((0, 0), (fw, 0), (fw, fh), (0, fh)):
        worst = max(worst, float(np.linalg.norm(corner_of(found, x, y) + offset - corner_of(truth, x, y)) / scale))
    return worst


def summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<22}{0:>6}"
    v = np.array(values)
    return (f"{name:<22}{v.size:>6}{v.min():>8.3f}{np.percentile(v, 1):>8.3f}{np.percentile(v, 5):>8.3f}"
            f"{np.median(v):>8.3f}{np.percentile(v, 95):>8.3f}{v.max():>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sheets", type=int, default=40, help="simulated sheets per degrade level")
    parser.add_argument("--exam", type=Path, default=ROOT / "scans" / "2026-mock-03" / "exam.json")
    args = parser.parse_args()
    manifest = read_manifest(args.exam)
    ppm = reader.PX_PER_MM
    right: dict[str, list[float]] = {}
    wrong: dict[str, list[float]] = {}
    seconds: list[float] = []
    decisions: dict[str, list[tuple[bool, bool]]] = {}  # each frame: accepted, and through a bend (checked_frame)

    def decide(name: str, page, black, binary: bool) -> None:
        checked = checked_frame(page, geometry.box_table(1).rects, geometry, ppm, 1, black=black, binary=binary)
        decisions.setdefault(name, []).append((checked.accepted, checked.bent is not None))

    grey_outlined: list[float] = []  # outlined on right frames of grey (not black-and-white) pages
    cropped_outcomes = {"right frame": 0, "wrong frame": 0, "refused": 0}
    with tempfile.TemporaryDirectory() as tmp:
        folders = {}
        for level in ("none", "scan", "photo", "harsh", "curled"):
            folders[f"sim-{level}"] = (Path(tmp) / level, manifest.sheet)
            simulate(args.exam, args.sheets, folders[f"sim-{level}"][0], seed=4242, degrade=level)
        for level in ("scan", "photo", "harsh"):
            folders[f"committed-{level}"] = (ROOT / "scans" / "2026-mock-03" / level, manifest.sheet)
        previous = ROOT / "tests" / "fixtures" / "scans" / "previous-sheet"
        folders["previous-sheet-harsh"] = (previous / "harsh", read_manifest(previous / "exam.json").sheet)
        for name, (folder, geometry) in folders.items():
            for path in sorted(folder.glob("*.jpg")) + sorted(folder.glob("*.png")):
                gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                binary = reader.is_black_and_white(gray)
                try:
                    registration = register(gray, geometry)
                except RegistrationError:
                    continue
                start = time.perf_counter()
                # the reader's own path: only the windows measured, sampled from the scan
                page = reader.sample_page(gray, registration, geometry, ppm)
                # …at the ink level of a light print's evenly grey squares, as the reader does
                black = reader.light_print_black(page, geometry, ppm, registration.corners)
                score = frame_alignment(page, geometry.box_table(1).rects, geometry, ppm, black=black)
                seconds.append(time.perf_counter() - start)
                right.setdefault(name, []).append(score)
                decide(name, page, black, binary)
                if not binary:
                    grey_outlined.append(score.outlined)
                if not name.startswith("sim-"):
                    continue
                for kind, frame in wrong_frames(registration, geometry).items():
                    wrong_page = reader.sample_page(gray, frame, geometry, ppm)
                    wrong_black = reader.light_print_black(wrong_page, geometry, ppm, frame.corners)
                    score = frame_alignment(wrong_page, geometry.box_table(1).rects, geometry, ppm, black=wrong_black)
                    wrong.setdefault(kind, []).append(score)
                    decide(kind, wrong_page, wrong_black, binary)
                for side in ("left", "right", "top", "bottom"):
                    part, offset = cropped(gray, registration, geometry, side)
                    try:
                        found = register(part, geometry)
                    except RegistrationError:
                        cropped_outcomes["refused"] += 1
                        continue
                    crop_page = reader.sample_page(part, found, geometry, ppm)
                    crop_black = reader.light_print_black(crop_page, geometry, ppm, found.corners)
                    score = frame_alignment(crop_page, geometry.box_table(1).rects, geometry, ppm, black=crop_black)
                    if frame_error_mm(found, registration, offset, geometry) > 1.5:
                        cropped_outcomes["wrong frame"] += 1
                        wrong.setdefault("cropped: wrong frame", []).append(score)
                        decide("cropped: wrong frame", crop_page, crop_black, binary)
                    else:
                        cropped_outcomes["right frame"] += 1
                        right.setdefault("cropped: right frame", []).append(score)
                        decide("cropped: right frame", crop_page, crop_black, binary)
    for measure, title in MEASURES.items():
        report(title, measure, right, wrong)
    print(summary("outlined, right frames of grey pages", grey_outlined))
    print(f"decided as the reader does (checked_frame: numbered >= {NUMBERED_AT_LEAST}, and outlined >= "
          f"{OUTLINED_AT_LEAST} on grey pages, or outlines and ticks >= {BENT_OUTLINED_AT_LEAST} through a fitted bend)")
    for name, values in decisions.items():
        kind = "right" if name in right else "wrong"
        accepted = sum(a for a, _ in values)
        bent = sum(a and b for a, b in values)
        print(f"  {kind} {name:<22}{len(values):>6} frames, accepted {accepted:>5} (through a bend {bent:>4}), "
              f"refused {len(values) - accepted:>5}")
    print("two corner squares cropped off:", cropped_outcomes)
    ms = np.array(seconds) * 1000
    print(f"one measurement: median {np.median(ms):.2f} ms, max {ms.max():.2f} ms")


MEASURES = {
    "outlined": "share of boxes whose printed edges show where the frame puts them",
    "numbered": "share of question numbers printed where the frame puts them",
}


def report(title, measure, right, wrong) -> None:
    right = {name: [getattr(a, measure) for a in values] for name, values in right.items()}
    wrong = {name: [getattr(a, measure) for a in values] for name, values in wrong.items()}
    header = f"{'frames':<22}{'n':>6}{'min':>8}{'p1':>8}{'p5':>8}{'median':>8}{'p95':>8}{'max':>8}"
    print(f"{measure}: {title}")
    print(header)
    print("right frames")
    for name, values in right.items():
        print(summary("  " + name, values))
    print(summary("  ALL RIGHT", [v for values in right.values() for v in values]))
    print("wrong frames")
    for name, values in wrong.items():
        print(summary("  " + name, values))
    print(summary("  ALL WRONG", [v for values in wrong.values() for v in values]))


if __name__ == "__main__":
    main()
