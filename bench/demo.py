"""Benchmark: how long `papergen demo` takes, cold (empty font cache) and warm.

    python bench/demo.py [--keep DIR]

Runs, each as a fresh `papergen` process with PAPERGEN_FONT_CACHE set to a new
empty folder:

1. font preparation alone (register the PDF fonts: shells made once),
2. a cold `papergen demo` (empty font cache),
3. a warm `papergen demo` (the cache the cold run left).

Prints wall-clock and CPU seconds (user + system of the process and its
children, i.e. the grading workers too) for each, and for the warm run the
wall time of each demo step (from the time stamps of its progress lines), so
that a slow demo can be traced to its step. Run it on an otherwise idle
machine for figures to compare; the README states the figures measured.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(command: list[str], cache: Path) -> tuple[float, float, list[tuple[float, str]]]:
    """(wall s, CPU s, [(seconds since start, stderr line)]) of one command."""
    env = {**os.environ, "PAPERGEN_FONT_CACHE": str(cache)}
    cpu0, start = _cpu(), time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = [(time.perf_counter() - start, line.rstrip("\n")) for line in process.stderr]
    if process.wait() != 0:
        sys.exit(f"failed ({process.returncode}): {' '.join(command)}\n" + "\n".join(text for _, text in lines))
    return time.perf_counter() - start, _cpu() - cpu0, lines


def steps(lines: list[tuple[float, str]], total: float) -> list[tuple[str, float]]:
    """Each progress line's step and how long it lasted (until the next line)."""
    marks = [(t, text.strip()) for t, text in lines if text.strip().endswith("…")]
    return [(text, (marks[i + 1][0] if i + 1 < len(marks) else total) - t) for i, (t, text) in enumerate(marks)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", type=Path, help="write the demo outputs here instead of a temporary folder")
    parser.add_argument("--repeat", type=int, default=1, help="cold/warm pairs to run (wall times vary with load)")
    args = parser.parse_args()
    papergen = [str(Path(sys.executable).parent / "papergen")]  # the console script of this environment
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        prepare = [sys.executable, "-c", "from papergen.render import fonts; fonts.register_pdf_fonts()"]
        wall, cpu, _ = run(prepare, Path(tempfile.mkdtemp(dir=tmp)))
        print(f"font preparation alone (cold): {wall:6.1f} s wall {cpu:6.1f} s CPU")
        for round_ in range(1, args.repeat + 1):
            cache = Path(tempfile.mkdtemp(dir=tmp))
            timed = {}
            for kind in ("cold", "warm"):
                wall, cpu, lines = run([*papergen, "demo", "-o", str(work / f"demo-{kind}-{round_}")], cache)
                timed[kind] = steps(lines, wall)
                print(f"papergen demo, {kind} font cache: {wall:6.1f} s wall {cpu:6.1f} s CPU")
            print("wall time per step (cold, warm; the cold run's font preparation is its own line):")
            warm = iter(timed["warm"])
            for text, seconds in timed["cold"]:
                if text.startswith("首次使用"):
                    print(f"  {seconds:6.1f} s {'':8}  {text}")
                    continue
                print(f"  {seconds:6.1f} s {next(warm, ('', float('nan')))[1]:6.1f} s  {text}")
        print(f"(machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end)")


if __name__ == "__main__":
    main()
