"""A grading run killed with SIGKILL resumes to exactly the uninterrupted result."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from papergen.build import build_exam
from papergen.grading import grade
from papergen.simulate import simulate
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def pile(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("resume")
    build_exam(ROOT / "blueprints" / "2026-mock-03.yaml", base / "exam")
    simulate(base / "exam" / "exam.json", 14, base / "scans", seed=11, degrade="scan", dpi=150)
    return base / "exam" / "exam.json", base / "scans"


def dump(results: Path) -> dict[str, list]:
    db = sqlite3.connect(results / "results.sqlite")
    try:
        return {
            table: sorted(db.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in ("scans", "pages", "marks", "flags", "file_errors", "sheet_flags")
        }
    finally:
        db.close()


def pages_done(results: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{results / 'results.sqlite'}?mode=ro", uri=True, timeout=0.2)
        try:
            return db.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_sigkill_at_several_moments_then_resume(pile, tmp_path: Path) -> None:
    exam_json, scans = pile
    grade(exam_json, [scans], tmp_path / "clean", workers=1)
    expected = dump(tmp_path / "clean")
    results = tmp_path / "killed"
    kills = 0
    for target in (0, 3, 7, 11):  # kill before anything is written, then after a few pages each time
        process = subprocess.Popen(
            [sys.executable, "-m", "papergen", "grade", str(exam_json), str(scans), "-o", str(results), "--workers", "1"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and pages_done(results) < target:
            time.sleep(0.02)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
    assert kills >= 3
    assert pages_done(results) < 14  # the last kill really interrupted a run
    summary = grade(exam_json, [scans], results, workers=1)
    assert summary.pages_skipped + summary.pages_new == 14
    assert dump(results) == expected
