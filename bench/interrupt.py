"""Benchmark: how long papergen takes to stop on Ctrl-C / SIGTERM (prints figures; not a test).

    python bench/interrupt.py [--rounds 5] [--sheets 300]

Each round starts a real ``papergen`` command in its own process group,
waits until it is busy, sends the signal(s) to the whole group (as a
terminal's Ctrl-C does) and measures the time from the first signal to the
command's exit; it also checks the exit code and that stderr ends with
"已中断。" and holds no traceback. Scenarios: grade with two workers (one
Ctrl-C, two Ctrl-C 0.3 s apart, SIGTERM), grade with one worker, simulate
of phone photos (the slowest pages), and build while cutting the fonts on
a cold font cache.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papergen.render.build import build_exam  # noqa: E402
from papergen.sim.run import simulate  # noqa: E402
from tests.matrix import stored_pages  # noqa: E402 - the test suite's own probe of a store being written

BLUEPRINT = ROOT / "tests" / "fixtures" / "exam" / "matrix.yaml"


def stop_once(argv: list, busy, signals: tuple[int, ...], err: Path, env: dict | None = None) -> tuple[float, int, str]:
    with open(err, "wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "papergen", *map(str, argv)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=handle,
            start_new_session=True, env={**os.environ, **(env or {})},
        )
    deadline = time.monotonic() + 120
    while not busy() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if process.poll() is not None:
        raise SystemExit(f"{argv[0]} finished before it could be interrupted; use more sheets")
    began = time.monotonic()
    os.killpg(process.pid, signals[0])
    later = [(began + 0.3 * n, sent) for n, sent in enumerate(signals[1:], start=1)]
    while process.poll() is None:  # poll, so the time is the exit's, not the last signal's
        now = time.monotonic()
        if now - began > 60:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return float("inf"), process.returncode, "hung for 60 s"
        if later and now >= later[0][0]:
            os.killpg(process.pid, later.pop(0)[1])
        time.sleep(0.002)
    return time.monotonic() - began, process.returncode, err.read_text("utf-8", "replace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sheets", type=int, default=300, help="sheets (two pages each) in the pile to grade")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="papergen-bench-interrupt-") as tmp:
        tmp = Path(tmp)
        build_exam(BLUEPRINT, tmp / "exam")
        exam_json = tmp / "exam" / "exam.json"
        simulate(exam_json, args.sheets, tmp / "scans", seed=3, dpi=150)
        scenarios = []
        for workers in (2, 1):
            for name, signals in (("Ctrl-C", (signal.SIGINT,)), ("Ctrl-C ×2", (signal.SIGINT, signal.SIGINT)),
                                  ("SIGTERM", (signal.SIGTERM,))):
                if workers == 1 and name == "Ctrl-C ×2":
                    continue

                def grade_case(round_: int, workers=workers, signals=signals, name=name):
                    results = tmp / f"results-{workers}-{name}-{round_}"
                    argv = ["grade", exam_json, tmp / "scans", "-o", results, "--workers", workers]
                    return stop_once(argv, lambda: stored_pages(results) > 0, signals, tmp / "err")

                scenarios.append((f"grade --workers {workers}, {name}", signals, grade_case))

        def simulate_case(round_: int):
            out = tmp / f"photos-{round_}"
            argv = ["simulate", exam_json, "-n", 20, "-o", out, "--degrade", "photo"]
            return stop_once(argv, lambda: any(out.glob("sheet-*")), (signal.SIGINT,), tmp / "err")

        def build_case(round_: int):
            fonts = tmp / f"fonts-{round_}"
            argv = ["build", BLUEPRINT, "-o", tmp / f"build-{round_}"]
            began = time.monotonic()
            # the font workers are busy cutting about a second after the build starts
            return stop_once(argv, lambda: time.monotonic() - began > 2.0, (signal.SIGINT, signal.SIGINT), tmp / "err",
                             env={"PAPERGEN_FONT_CACHE": str(fonts)})

        scenarios.append(("simulate --degrade photo, Ctrl-C", (signal.SIGINT,), simulate_case))
        scenarios.append(("build, cold font cache, Ctrl-C ×2", (signal.SIGINT, signal.SIGINT), build_case))
        print(f"{'scenario':40} {'median s':>9} {'max s':>7}  exit codes / stderr check")
        for title, signals, case in scenarios:
            times, codes, bad = [], set(), 0
            for round_ in range(args.rounds):
                took, code, stderr = case(round_)
                times.append(took)
                codes.add(code)
                last = "已中断（收到 SIGTERM）。" if signals[0] == signal.SIGTERM else "已中断。"
                bad += not stderr.rstrip().endswith(last) or "Traceback" in stderr or "Aborted!" in stderr
            verdict = "ok" if not bad else f"{bad} bad stderr"
            print(f"{title:40} {statistics.median(times):9.2f} {max(times):7.2f}  {sorted(codes)} {verdict}")


if __name__ == "__main__":
    main()
