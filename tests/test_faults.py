"""`kill -9` at random moments: grading resumes to the exact uninterrupted store; build and
report never leave a half-written PDF, DOCX or XLSX under a final name.

The moments come from a seeded random generator (the same delays and page
counts on every run; where they fall still depends on the machine's speed). Every process is started in its own session and killed
with its whole group (a grader's worker processes die with it, as they would
in a power cut).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from papergen.core.errors import ExitCode as X
from tests.conftest import MATRIX_BLUEPRINT, ROOT
from tests.matrix import (
    assert_complete,
    run_cli,
    start_subprocess,
    store_dump,
    stored_pages,
)

SEED = 20260306


def timed_run(argv: list[str], exit_code: int = 0) -> float:
    """Run ``papergen ARGV`` to the end; how long it took (the window to kill a later run in)."""
    began = time.monotonic()
    assert subprocess.run([sys.executable, "-m", "papergen", *map(str, argv)], cwd=ROOT, capture_output=True).returncode == exit_code
    return time.monotonic() - began


def start(argv: list[str]) -> subprocess.Popen:
    return start_subprocess(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill_after(process: subprocess.Popen, seconds: float, watch=None) -> bool:
    """SIGKILL ``process`` (and its group) after ``seconds``; False if it had already finished.

    ``watch()`` is called while waiting; returning True kills at once (used to
    stop a grading run the moment it has written a given number of pages).
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        if watch is not None and watch():
            break
        time.sleep(0.005)
    if process.poll() is not None:
        return False
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return True


# -- grade -----------------------------------------------------------------------------------------


def test_grade_killed_at_random_moments_resumes_to_the_uninterrupted_store(small_pile, tmp_path: Path) -> None:
    """At least 20 SIGKILLs over several gradings of the same 16-page pile.

    Each round grades into a fresh results folder, killing the grader again
    and again — at a random time after its start, sometimes the moment a
    given page count is reached — until a run finishes on its own; that
    store must equal the uninterrupted one row for row. Some kills land
    before anything is written, most in the middle of the pages.
    """
    rng = random.Random(SEED)
    total = len(small_pile.expected["pages"])
    argv = ["grade", small_pile.exam / "exam.json", small_pile.scans, "-o"]
    window = timed_run([*argv, tmp_path / "timed", "--workers", 1], small_pile.exit_code)
    kills = mid_run = before_any = rounds = stalled = 0
    started = time.monotonic()
    while kills < 20:
        rounds += 1
        results = tmp_path / f"round-{rounds}"
        while True:
            assert time.monotonic() - started < 150, "the kill loop is taking far too long"
            done = stored_pages(results)
            workers = rng.choice([1, 1, 1, 2])
            # half the runs die the moment they have written a few more pages, the others at a random time
            target = done + rng.randint(1, 4) if rng.random() < 0.5 else total + 1
            delay = rng.uniform(0.0, 0.75) * window * (1 + stalled)  # no progress: give the next run longer
            process = start([*argv, results, "--workers", workers])
            killed = kill_after(process, delay, watch=lambda: stored_pages(results) >= target)
            if not killed:
                assert process.returncode == small_pile.exit_code
                break
            kills += 1
            after = stored_pages(results)
            before_any += after == done
            mid_run += done < after < total
            stalled = stalled + 1 if after == done else 0
        assert store_dump(results) == small_pile.expected, f"round {rounds} differs after {kills} kills"
    assert before_any >= 1 and mid_run >= 5, (before_any, mid_run)


# -- build -------------------------------------------------------------------------------------------


def final_files(folder: Path) -> dict[str, bytes]:
    """Files under their final names (hidden temp and staging files excluded)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}


@pytest.fixture(scope="module")
def builds(small_exam, tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """The two complete builds the folder may hold: the matrix exam, and the same blueprint with seed 6."""
    other = tmp_path_factory.mktemp("seed-6") / "exam"
    assert run_cli(["build", MATRIX_BLUEPRINT, "-o", other, "--seed", "6"]).exit_code == 0
    return {"old": final_files(other), "new": final_files(small_exam), "old_dir": other}


def test_build_killed_at_random_moments_leaves_no_half_written_file(builds, tmp_path: Path) -> None:
    """A forced rebuild over another exam, killed at random moments.

    After every kill each file under a final name is complete, and the folder
    holds the old exam, the new one, or (killed while moving files into place)
    no exam.json at all — never an exam.json beside another exam's papers.
    A final uninterrupted run gives exactly the reference build and clears
    the killed runs' staging folders.
    """
    rng = random.Random(SEED + 1)
    window = timed_run(["build", MATRIX_BLUEPRINT, "-o", tmp_path / "timed"])
    out = tmp_path / "exam"
    shutil.copytree(builds["old_dir"], out)
    kills = 0
    for _ in range(6):
        process = start(["build", MATRIX_BLUEPRINT, "-o", out, "--force"])
        kills += kill_after(process, rng.uniform(0.1, 1.0) * window)
        files = final_files(out)
        for name in files:
            assert_complete(out / name)
        if "exam.json" in files:
            assert files in (builds["old"], builds["new"]), "a mixed folder: exam.json with another build's files"
        else:
            assert all(builds["old"].get(n) == data or builds["new"].get(n) == data for n, data in files.items())
    assert kills >= 3
    result = run_cli(["build", MATRIX_BLUEPRINT, "-o", out, "--force"])
    assert result.exit_code == 0, result.output
    assert final_files(out) == builds["new"]
    assert not list(out.glob(".*")), "the killed builds' temp files or staging folders are still there"


# -- report ------------------------------------------------------------------------------------------


def workbook_values(path: Path) -> dict[str, list[tuple]]:
    """Every sheet's cell values (the workbook's content; its zip timestamps differ run to run)."""
    book = load_workbook(path)
    try:
        return {sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}
    finally:
        book.close()


def test_report_killed_at_random_moments_leaves_no_half_written_workbook(small_results, tmp_path: Path) -> None:
    rng = random.Random(SEED + 2)
    out = tmp_path / "report.xlsx"
    roster = tmp_path / "roster.csv"
    roster.write_text("准考证号,姓名,班级\n2026030001,甲,一班\n2026030002,乙,二班\n", encoding="utf-8")
    assert run_cli(["report", small_results, "-o", out]).exit_code == 0  # the earlier report, without names
    old = workbook_values(out)
    reference = tmp_path / "reference" / "report.xlsx"
    reference.parent.mkdir()
    window = timed_run(["report", small_results, "-o", reference, "--roster", roster])
    new = workbook_values(reference)
    assert new != old
    kills = 0
    for _ in range(5):
        process = start(["report", small_results, "-o", out, "--roster", roster])
        kills += kill_after(process, rng.uniform(0.1, 1.0) * window)
        assert zipfile.is_zipfile(out)
        assert_complete(out)
        assert workbook_values(out) in (old, new)
    assert kills >= 3
    assert run_cli(["report", small_results, "-o", out, "--roster", roster]).exit_code == X.ok
    assert workbook_values(out) == new
    assert not list(tmp_path.glob(".*")), "the killed runs' temp files are still there"
