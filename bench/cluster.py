"""Benchmark: grading on a Dask cluster against local workers (prints figures; not a test).

    python bench/cluster.py [--sheets 200] [--dpi 300] [--memory 1000,5000]

1. Throughput per added worker: ``--sheets`` simulated sheets (clean 300 dpi
   JPEG) graded by local 1 worker (in-process), local 2 worker processes, and
   a Dask scheduler with 1, then 2 single-threaded workers (``dask worker
   --nthreads 1 --no-nanny``, separate processes on 127.0.0.1). Sheets/s is
   measured from the first page written to the last (start-up excluded; the
   start-up is printed apart), efficiency = throughput ÷ workers ÷ the
   1-worker throughput of the same kind.
2. Scheduler overhead per page in the same run: Dask with 1 worker against
   local with 1 worker, in wall time per page and in CPU per page of every
   process involved (client, scheduler, worker — read from /proc).
3. Client memory: the peak RSS of the grading client (``ru_maxrss`` of the
   process that runs ``grade(..., dask=…)``) for each count in ``--memory``
   pages — copies of the committed scans, each with its own JPEG comment
   segment (same pixels, new bytes, so no page is skipped as already graded),
   on the 2-worker cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papergen.render.build import build_exam  # noqa: E402
from papergen.sim.run import simulate  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")

GRADE_CHILD = """
import json, resource, sys, time
from papergen.grade.pipeline import grade
marks = []
grading_peak = [0.0]
def progress(done, total):
    if done in (1, total):
        marks.append(time.perf_counter())
    if done == total:  # every page written; what follows is the run's summary over the whole store
        status = open("/proc/self/status").read()
        grading_peak[0] = int(status.split("VmHWM:")[1].split()[0]) / 1024
start = time.perf_counter()
usage0 = resource.getrusage(resource.RUSAGE_SELF)
summary = grade(sys.argv[1], [sys.argv[2]], sys.argv[3], workers=int(sys.argv[4]), dask=sys.argv[5] or None, progress=progress)
wall = time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "wall": wall, "first": marks[0] - start, "steady": marks[-1] - marks[0], "pages": summary.pages_new,
    "errors": summary.errors,
    "cpu": own.ru_utime + own.ru_stime - usage0.ru_utime - usage0.ru_stime + kids.ru_utime + kids.ru_stime,
    "rss_mb": own.ru_maxrss / 1024, "grading_rss_mb": grading_peak[0],
}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


class Cluster:
    def __init__(self, log: Path) -> None:
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.log = log
        self.processes: list[subprocess.Popen] = []
        self.scheduler = self._start("scheduler", ["distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                                   "--port", self.address.rsplit(":", 1)[1], "--no-dashboard"])

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen([sys.executable, "-m", *args], env=env, cwd=self.log,
                                   stdout=(self.log / f"{name}.log").open("wb"), stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def add_worker(self) -> None:
        import distributed

        count = len(self.processes)  # the scheduler and the workers so far
        self._start(f"worker-{count}", ["distributed.cli.dask_worker", self.address, "--nthreads", "1", "--no-nanny",
                                        "--host", "127.0.0.1", "--no-dashboard"])
        with distributed.Client(self.address, timeout=30) as client:
            client.wait_for_workers(count, timeout=60)

    def cpu(self) -> float:
        return sum(self.cpu_split().values())

    def cpu_split(self) -> dict[str, float]:
        return {("scheduler" if p is self.scheduler else f"worker {n}"): cpu_seconds(p.pid) for n, p in enumerate(self.processes)}

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def run_grade(exam_json: Path, scans: Path, results: Path, workers: int, dask: str = "") -> dict:
    shutil.rmtree(results, ignore_errors=True)
    done = subprocess.run([sys.executable, "-c", GRADE_CHILD, str(exam_json), str(scans), str(results), str(workers), dask],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["errors"]:
        raise SystemExit(f"{figures['errors']} pages or files could not be read: the figures would not be comparable")
    figures["rate"] = (figures["pages"] - 1) / figures["steady"]
    return figures


def copies(count: int, folder: Path) -> Path:
    """``count`` distinct JPEG files: the committed scans, each copy with its own comment segment."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = [p.read_bytes() for p in sorted((ROOT / "scans" / "2026-mock-03").glob("*/sheet-*.jpg"))]
    for number in range(count):
        data = sources[number % len(sources)]
        comment = f"bench copy {number}".encode()
        (folder / f"c{number:06d}.jpg").write_bytes(data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:])
    return folder


def report_throughput(rows: dict[str, dict]) -> None:
    print(f"{'run':8} {'sheets/s':>9} {'efficiency':>10} {'start-up s':>10} {'CPU ms/sheet':>12} {'client MB':>9}")
    for name, figures in rows.items():
        kind, workers = name.split()
        single = rows[f"{kind} 1"]["rate"]
        print(
            f"{name:8} {figures['rate']:9.1f} {figures['rate'] / int(workers) / single:10.2f} {figures['first']:10.1f} "
            f"{figures['cpu'] / figures['pages'] * 1000:12.1f} {figures['rss_mb']:9.0f}"
        )
    local, dask = rows["local 1"], rows["dask 1"]
    wall_ratio = (1 / dask["rate"]) / (1 / local["rate"]) - 1
    cpu_ratio = (dask["cpu"] / dask["pages"]) / (local["cpu"] / local["pages"]) - 1
    print(
        f"\nscheduler overhead per page, Dask 1 worker against local 1 worker: wall {wall_ratio * 100:+.1f} %, "
        f"CPU of all processes {cpu_ratio * 100:+.1f} % "
        f"({(dask['cpu'] / dask['pages'] - local['cpu'] / local['pages']) * 1000:+.1f} ms per page)"
    )
    print(f"dask efficiency against local 1 worker: 2 workers {rows['dask 2']['rate'] / 2 / local['rate']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sheets", type=int, default=200)
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--memory", default="1000,5000", help="page counts for the client-memory runs (comma-separated; 0 skips)")
    parser.add_argument("--no-throughput", action="store_true", help="only the client-memory runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_exam(ROOT / "blueprints" / "2026-mock-03.yaml", tmp / "exam")
        exam_json = tmp / "exam" / "exam.json"
        scans = tmp / "scans"
        simulate(exam_json, args.sheets, scans, seed=7, degrade="none", dpi=args.dpi)
        print(f"{args.sheets} sheets at {args.dpi} dpi JPEG; {os.cpu_count()} cores\n")

        rows = {}
        for workers in () if args.no_throughput else (1, 2):
            rows[f"local {workers}"] = run_grade(exam_json, scans, tmp / "results", workers)
        logs = tmp / "logs"
        logs.mkdir()
        cluster = Cluster(logs)
        try:
            for workers in (1, 2):
                cluster.add_worker()
                if args.no_throughput:
                    continue
                before = cluster.cpu_split()
                figures = run_grade(exam_json, scans, tmp / "results", workers, cluster.address)
                after = cluster.cpu_split()
                figures["cluster_cpu"] = sum(after.values()) - sum(before.values())
                split = ", ".join(f"{name} {(after[name] - before.get(name, 0)) / figures['pages'] * 1000:.1f}" for name in after)
                own = figures["cpu"] / figures["pages"] * 1000
                print(f"dask {workers}: CPU ms per sheet: client {own:.1f}, {split}")
                figures["cpu"] += figures["cluster_cpu"]
                rows[f"dask {workers}"] = figures
            if rows:
                report_throughput(rows)

            counts = [int(c) for c in args.memory.split(",") if c.strip() and int(c)]
            if counts:
                print("\nclient memory (peak RSS of the process running grade(..., dask=...), 2 workers):")
            for count in counts:
                folder = copies(count, tmp / f"copies-{count}")
                figures = run_grade(ROOT / "scans" / "2026-mock-03" / "exam.json", folder, tmp / "results-memory", 2, cluster.address)
                print(f"  {count:6d} pages: {figures['grading_rss_mb']:.0f} MB while grading, {figures['rss_mb']:.0f} MB with the "
                      f"end-of-run summary; {figures['rate']:.1f} sheets/s, {figures['wall']:.0f} s")
                shutil.rmtree(folder)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
