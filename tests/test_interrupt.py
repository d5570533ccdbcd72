"""Ctrl-C and SIGTERM, sent for real to a real ``papergen`` process and its whole process group.

A terminal's Ctrl-C reaches every process in the foreground group: the
command and its worker processes. README promises "已中断。" and exit 130
(143 for SIGTERM), no Click "Aborted!", no traceback, no hang even when the
user presses Ctrl-C twice, and for ``grade`` a store that resumes to exactly
the uninterrupted one. The other exit paths of the entry point stay as
they were.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from papergen.core.errors import ExitCode as X
from tests.conftest import MATRIX_BLUEPRINT
from tests.matrix import (
    run_subprocess,
    start_subprocess,
    store_dump,
    stored_pages,
    temp_leftovers,
)

#: Sheets (two pages each) in the pile that is interrupted: enough that
#: grading with two workers is still running seconds after its first page.
SHEETS = 80
#: Stopping must take about the time of one page (measured: 0.1–0.3 s for
#: grading); a few seconds' margin for a loaded machine, far below a hang.
STOP_LIMIT = 3.0


def live_processes(group: int) -> list[str]:
    """Processes of a process group that are still running (zombies excluded)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        fields = text.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp, …
        if int(fields[2]) == group and fields[0] != "Z":
            alive.append(text.split(")", 1)[0] + ")")
    return alive


def wait_until(condition, process: subprocess.Popen, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert process.poll() is None, f"papergen ended (exit {process.returncode}) before it could be interrupted"
        assert time.monotonic() < deadline, "papergen never got to the point where the test interrupts it"
        time.sleep(0.01)


def start(argv: list, tmp_path: Path, name: str, env: dict[str, str] | None = None) -> SimpleNamespace:
    # stderr into a file, not a pipe: nothing can block on a full pipe, and a
    # worker left holding the pipe open could not hide the parent's exit
    err = tmp_path / f"{name}.stderr"
    with open(err, "wb") as handle:
        process = start_subprocess(argv, env=env, stdout=subprocess.DEVNULL, stderr=handle)
    return SimpleNamespace(process=process, stderr=err)


def interrupt(run: SimpleNamespace, *signals: int, gap: float = 0.3) -> tuple[int, float, str]:
    """Send ``signals`` to the group, ``gap`` seconds apart while it still runs.

    Returns the exit code, the seconds from the first signal to the exit,
    and stderr. A process still running 30 s later is killed and fails.
    """
    process = run.process
    began = time.monotonic()
    for number, sent in enumerate(signals):
        if number:
            time.sleep(gap)
        if process.poll() is None:
            os.killpg(process.pid, sent)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pytest.fail(f"still running 30 s after {len(signals)} signal(s): it hangs\n{run.stderr.read_text('utf-8', 'replace')}")
    took = time.monotonic() - began
    deadline = time.monotonic() + 5
    while live_processes(process.pid) and time.monotonic() < deadline:  # workers may take a moment to be reaped
        time.sleep(0.02)
    assert not live_processes(process.pid), f"left running after the interrupt: {live_processes(process.pid)}"
    return process.returncode, took, run.stderr.read_text("utf-8", "replace")


def assert_clean_stop(code: int, took: float, stderr: str, *, exit_code: int = X.interrupted,
                      last_line: str = "已中断。", limit: float = STOP_LIMIT) -> None:
    assert code == exit_code, stderr
    assert stderr.rstrip().endswith(last_line), stderr
    assert "Aborted!" not in stderr and "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert took < limit, f"took {took:.1f} s to stop"


# -- the entry point's other exits are unchanged --------------------------------------------------------


def _bad_bank(d: Path) -> list:
    (d / "bad.yaml").write_text("bank: b\ntitle: t\nquestions:\n  - id: q1\n    type: single\n", encoding="utf-8")
    return ["bank", "validate", d / "bad.yaml"]


def _empty_scan(d: Path, exam: Path) -> list:
    (d / "empty.jpg").write_bytes(b"")
    return ["grade", exam / "exam.json", d / "empty.jpg", "-o", d / "results"]


EXITS = [
    # (id, argv or a function of the case folder and the small exam, exit code, text on stdout/stderr)
    ("no-command", [], X.usage, "Usage: papergen"),
    ("help", ["--help"], X.ok, "papergen：随机组卷"),
    ("version", ["--version"], X.ok, "papergen, version"),
    ("usage-error", ["bank", "validate"], X.usage, "Missing argument"),
    ("papergen-error", _bad_bank, X.bank_invalid, "错误：题库校验未通过"),
    ("sys-exit-in-command", _empty_scan, X.graded_with_errors, "无法读取 1 个"),
]


@pytest.mark.parametrize(("argv", "exit_code", "says"), [c[1:] for c in EXITS], ids=[c[0] for c in EXITS])
def test_other_exit_paths_keep_their_codes_and_messages(argv, exit_code, says, small_exam, tmp_path: Path) -> None:
    if callable(argv):
        argv = argv(tmp_path, small_exam) if argv is _empty_scan else argv(tmp_path)
    result = run_subprocess(argv)
    assert result.returncode == exit_code, result.stderr
    assert says in result.stdout + result.stderr
    assert "已中断" not in result.stderr and "Aborted!" not in result.stderr and "Traceback" not in result.stderr


# -- grade ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_pile(small_exam, tmp_path_factory) -> SimpleNamespace:
    """``SHEETS`` simulated 150 dpi sheets of the small exam, and the store of grading them in one go."""
    from papergen.grade.pipeline import grade
    from papergen.sim.run import simulate

    base = tmp_path_factory.mktemp("big-pile")
    simulate(small_exam / "exam.json", SHEETS, base / "scans", seed=12, degrade="scan", dpi=150)
    clean = grade(small_exam / "exam.json", [base / "scans"], base / "clean", workers=2)
    assert clean.pages_total == 2 * SHEETS and clean.errors == 0
    return SimpleNamespace(exam=small_exam, scans=base / "scans", expected=store_dump(base / "clean"), exit_code=clean.exit_code)


def assert_pages_complete(results: Path, expected: dict[str, list]) -> int:
    """Every page in the store is exactly as in the uninterrupted store, with all its marks and flags; returns their count."""
    partial = store_dump(results)
    written = {(row[0], row[1]) for row in partial["pages"]}
    for table in ("pages", "marks", "flags"):
        assert partial[table] == [row for row in expected[table] if (row[0], row[1]) in written], f"{table} differs"
    assert partial["scans"] == expected["scans"]
    return len(written)


def test_grade_interrupted_by_ctrl_c_twice_and_sigterm_resumes_to_the_uninterrupted_store(big_pile, tmp_path: Path) -> None:
    """One results folder, three interrupted runs, then a run to the end.

    1. Ctrl-C, then SIGTERM, while the worker processes are still starting (nothing graded);
    2. Ctrl-C twice, 0.3 s apart, while pages are being written (two workers);
    3. SIGTERM to a serial run (``--workers 1``) that resumed the batch;
    4. the same command again: it is not refused (the lock was released),
       finishes the batch, and the store equals the uninterrupted one.
    """
    total = 2 * SHEETS
    results = tmp_path / "results"
    argv = ["grade", big_pile.exam / "exam.json", big_pile.scans, "-o", results]

    for sent, exit_code, last_line in ((signal.SIGINT, X.interrupted, "已中断。"),
                                       (signal.SIGTERM, X.terminated, "已中断（收到 SIGTERM）。")):
        run = start([*argv, "--workers", 2], tmp_path, f"starting-{sent}")
        wait_until(lambda: len(live_processes(run.process.pid)) >= 3, run.process)  # grader, resource tracker, a worker
        assert_clean_stop(*interrupt(run, sent), exit_code=exit_code, last_line=last_line)

    run = start([*argv, "--workers", 2], tmp_path, "twice")
    wait_until(lambda: stored_pages(results) > 0, run.process)
    code, took, stderr = interrupt(run, signal.SIGINT, signal.SIGINT)
    assert_clean_stop(code, took, stderr)
    assert "评阅未完成" in stderr and "重新运行同一命令" in stderr
    graded = assert_pages_complete(results, big_pile.expected)
    assert 0 < graded < total, "the run was not interrupted in the middle of the batch"

    run = start([*argv, "--workers", 1], tmp_path, "sigterm")
    wait_until(lambda: stored_pages(results) > graded + 2, run.process)
    assert_clean_stop(*interrupt(run, signal.SIGTERM), exit_code=X.terminated, last_line="已中断（收到 SIGTERM）。")
    assert graded < assert_pages_complete(results, big_pile.expected) < total

    finished = run_subprocess(argv)
    assert finished.returncode == big_pile.exit_code, finished.stderr
    assert store_dump(results) == big_pile.expected


# -- simulate, build (first run: fonts), demo --------------------------------------------------------------


def test_simulate_interrupted_stops_within_a_page_and_leaves_no_truth(small_exam, tmp_path: Path) -> None:
    """Photos are the slowest pages (about a second each): the drawing threads give up at the next page
    instead of finishing every queued sheet. The folder held an earlier simulation's scans.pdf and truth.csv."""
    out = tmp_path / "scans"
    earlier = run_subprocess(["simulate", small_exam / "exam.json", "-n", 2, "-o", out, "--dpi", 150, "--format", "pdf"])
    assert earlier.returncode == 0 and (out / "truth.csv").exists(), earlier.stderr
    run = start(["simulate", small_exam / "exam.json", "-n", 6, "-o", out, "--degrade", "photo"], tmp_path, "simulate")
    wait_until(lambda: any(out.glob("sheet-*.jpg")), run.process)
    assert_clean_stop(*interrupt(run, signal.SIGINT), limit=STOP_LIMIT + 1)
    # not even the earlier run's: it would describe sheets this run has partly replaced
    assert not (out / "truth.csv").exists(), "an interrupted simulation must leave no truth.csv"
    assert not temp_leftovers(out)


def test_build_interrupted_while_preparing_fonts_stops_cleanly(tmp_path: Path) -> None:
    """The first build on a machine prepares the font shells (about a second, with a progress line)."""
    fonts, out = tmp_path / "fonts", tmp_path / "exam"
    run = start(["build", MATRIX_BLUEPRINT, "-o", out], tmp_path, "build", env={"PAPERGEN_FONT_CACHE": str(fonts)})
    wait_until(lambda: "首次使用" in run.stderr.read_text("utf-8", "replace"), run.process)
    assert_clean_stop(*interrupt(run, signal.SIGINT, signal.SIGINT, gap=0.05))
    # a shell under its final name is whole: written to a temp file and renamed
    for shell in fonts.glob("*.ttf"):
        from fontTools.ttLib import TTFont

        TTFont(shell).close()
    assert not [p for p in fonts.glob(".*") if p.name.endswith(".tmp")]
    assert not (out / "exam.json").exists()
    assert not out.exists() or not temp_leftovers(out)


def test_demo_interrupted_ends_with_130(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    run = start(["demo", "-o", out], tmp_path, "demo")
    wait_until(lambda: any((out / "2026-mock-03" / "scans").glob("sheet-*.jpg")), run.process)
    assert_clean_stop(*interrupt(run, signal.SIGINT))
    assert not (out / "report.xlsx").exists()


def test_a_signal_ignored_by_whoever_started_papergen_stays_ignored(small_exam, tmp_path: Path) -> None:
    """``nohup`` and a shell's background jobs start commands with SIGINT ignored: a Ctrl-C meant
    for the terminal's foreground job must not stop them."""
    out = tmp_path / "scans"
    earlier = run_subprocess(["simulate", small_exam / "exam.json", "-n", 2, "-o", out, "--dpi", 150, "--format", "pdf"])
    assert earlier.returncode == 0, earlier.stderr

    def ignore_sigint() -> None:  # in the child, before papergen starts
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    with open(tmp_path / "stderr", "wb") as handle:
        process = start_subprocess(["simulate", small_exam / "exam.json", "-n", 40, "-o", out, "--dpi", 150],
                                   stdout=subprocess.DEVNULL, stderr=handle, preexec_fn=ignore_sigint)
    wait_until(lambda: not (out / "truth.csv").exists(), process)  # it is drawing: the earlier truth.csv is gone
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=60) == 0, (tmp_path / "stderr").read_text("utf-8")
    assert (out / "truth.csv").exists()


def test_grade_on_a_local_dask_cluster_interrupted_by_ctrl_c_stops_its_workers(big_pile, tmp_path: Path) -> None:
    """``--dask local``: the LocalCluster's worker processes are in papergen's group too.

    Ctrl-C twice while pages are written: papergen stops them (no traceback of
    theirs, none left running), and the same command then finishes the batch
    to the uninterrupted store.
    """
    pytest.importorskip("distributed")
    results = tmp_path / "results"
    argv = ["grade", big_pile.exam / "exam.json", big_pile.scans, "-o", results, "--dask", "local", "--workers", 2]
    run = start(argv, tmp_path, "dask")
    wait_until(lambda: stored_pages(results) > 0, run.process)
    code, took, stderr = interrupt(run, signal.SIGINT, signal.SIGINT)
    assert_clean_stop(code, took, stderr)
    assert 0 < assert_pages_complete(results, big_pile.expected) < 2 * SHEETS
    finished = run_subprocess(argv)
    assert finished.returncode == big_pile.exit_code, finished.stderr
    assert store_dump(results) == big_pile.expected


# -- a stop the interpreter swallowed ---------------------------------------------------------------------

#: A command whose Ctrl-C lands in a ``__del__`` (as it can in importlib's module-lock callback, where CI
#: once saw a build run to its end and exit 0): the handler's raise is "ignored" by the interpreter.
SWALLOWED = """
import os, signal
from pathlib import Path
import click
from papergen import cli
from papergen.core import executor

class Swallows:
    def __del__(self):
        signal.raise_signal(signal.{signal})  # the handler runs here; its raise cannot leave a __del__

def step(number):
    Path(os.environ["STEPS"], f"step-{{number}}").touch()
    return number

@click.command()
def job():
    Swallows()
    {then}
    click.echo("做完了")

cli.cli = job
cli.main()
"""

THEN = {
    "nothing": "pass",
    "jobs": "with executor.run_jobs(step, range(5), kind='serial', workers=1) as results: list(results)",
    "threads": "with executor.run_jobs(step, range(5), kind='threads', workers=2) as results: list(results)",
    # an empty folder: no page to grade, so only the poll loop can notice
    "watch": "from papergen.grade.watch import watch; watch(os.environ['EXAM'], [os.environ['STEPS']], os.environ['RESULTS'])",
}


@pytest.mark.parametrize(("then", "sent"), [("nothing", "SIGINT"), ("jobs", "SIGINT"), ("threads", "SIGTERM"),
                                           ("watch", "SIGINT")])
def test_a_stop_swallowed_in_a_destructor_still_stops(then: str, sent: str, small_exam, tmp_path: Path) -> None:
    """The next step (a job, a poll) raises it again; with no step left, the command still ends interrupted."""
    script = SWALLOWED.format(signal=sent, then=THEN[then])
    folders = {"STEPS": str(tmp_path), "EXAM": str(small_exam / "exam.json"), "RESULTS": str(tmp_path.parent / f"{tmp_path.name}-results")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            env={**os.environ, **folders})
    expected = X.terminated if sent == "SIGTERM" else X.interrupted
    assert result.returncode == expected, result.stderr
    assert result.stderr.rstrip().endswith("已中断（收到 SIGTERM）。" if sent == "SIGTERM" else "已中断。"), result.stderr
    assert "Exception ignored" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not list(tmp_path.glob("step-*")), "no job may start after the stop"
    assert ("做完了" in result.stdout) == (then == "nothing")


def test_other_unraisable_exceptions_are_still_reported(tmp_path: Path) -> None:
    script = SWALLOWED.replace("signal.raise_signal(signal.{signal})", "raise ValueError('坏了')").format(then="pass")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "STEPS": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "Exception ignored" in result.stderr and "坏了" in result.stderr
