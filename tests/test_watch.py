"""``papergen grade --watch``: files graded as a scanner finishes writing them, each exactly once.

A writer process copies the committed scans into the hot folder slowly, some
in two halves with a pause longer than the settle interval between them (a
stalled copy): none may be read half-written, none may become an error row,
and each sheet is read once.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from papergen.core.errors import ExitCode
from papergen.grade.watch import FolderWatch, finished_looking
from tests.conftest import ROOT

SCANS = ROOT / "scans" / "2026-mock-03"
EXAM_JSON = SCANS / "exam.json"

WRITER = """
import sys, time
from pathlib import Path
hot, pause, sources = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
for number, source in enumerate(sources):
    data = Path(source).read_bytes()
    target = hot / f"{number:02d}-{Path(source).parent.name}-{Path(source).name}"
    with open(target, "wb") as handle:
        if number % 2:  # in two halves, the pause longer than the settle interval
            handle.write(data[: len(data) // 2])
            handle.flush()
            time.sleep(pause)
        handle.write(data[len(data) // 2 if number % 2 else 0 :])
    time.sleep(0.3)
(hot / "notes.txt").write_text("扫描仪日志", encoding="utf-8")
"""


def papergen(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "papergen", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_a_slow_writer_s_files_are_each_read_once_and_never_half_written(tmp_path: Path) -> None:
    hot, results = tmp_path / "hot", tmp_path / "results"
    hot.mkdir()
    jpegs = [str(p) for p in sorted(SCANS.glob("*/sheet-*.jpg"))]
    sources = jpegs[:1] + [str(SCANS / "sheet.pdf")] + jpegs[1:]  # the PDF second: written in halves
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(hot), "1.5", *sources])
    grader = papergen("grade", str(EXAM_JSON), str(hot), "-o", str(results), "--watch", "--idle", "3",
                      "--settle", "0.5", "--workers", "1")
    out, err = grader.communicate(timeout=120)
    assert writer.wait(timeout=10) == 0
    assert grader.returncode == ExitCode.graded_with_review, out + err  # the committed scans have items to review
    assert "Traceback" not in err
    with sqlite3.connect(results / "results.sqlite") as db:
        pages = db.execute("SELECT path, status FROM pages ORDER BY path").fetchall()
        file_errors = db.execute("SELECT path, reason FROM file_errors").fetchall()
        history = db.execute("SELECT path, why FROM history").fetchall()
    names = sorted(Path(path).name for path, _ in pages)
    assert len(names) == len(sources) == len(set(names))  # every file read, none twice
    assert {status for _, status in pages} == {"read"}, pages  # the blank sheet.pdf is read as a (blank) sheet
    assert file_errors == [] and history == []  # no half-written file was ever read, or replaced later
    assert "不是扫描件，已略过：notes.txt" in out
    assert "秒内没有新文件，结束" in out and f"本次监视评阅 {len(sources)} 页" in out


def test_ctrl_c_ends_the_watch_with_130(tmp_path: Path) -> None:
    hot, results = tmp_path / "hot", tmp_path / "results"
    hot.mkdir()
    (hot / "a.jpg").write_bytes((SCANS / "scan" / "sheet-0001.jpg").read_bytes())
    grader = papergen("grade", str(EXAM_JSON), str(hot), "-o", str(results), "--watch", "--settle", "0.2",
                      "--workers", "1", start_new_session=True)
    deadline = time.monotonic() + 60
    while not (results / "results.sqlite").exists() or _pages(results) < 1:
        assert grader.poll() is None and time.monotonic() < deadline, grader.communicate()
        time.sleep(0.1)
    os.killpg(grader.pid, signal.SIGINT)
    out, err = grader.communicate(timeout=30)
    assert grader.returncode == ExitCode.interrupted, out + err
    assert err.rstrip().endswith("已中断。") and "监视已停止" in err and "Traceback" not in err


def _pages(results: Path) -> int:
    try:
        with sqlite3.connect(results / "results.sqlite") as db:
            return db.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_file_is_ready_only_after_it_stops_changing(tmp_path: Path) -> None:
    now = [0.0]
    hot = FolderWatch([tmp_path], settle=2.0, clock=lambda: now[0])
    data = (SCANS / "scan" / "sheet-0001.jpg").read_bytes()
    scan = tmp_path / "a.jpg"
    scan.write_bytes(data[:1000])
    assert hot.settled() == [] and hot.waiting == 1
    now[0] = 5.0
    assert hot.settled() == []  # settled, but cut off (no JPEG end marker): given longer
    with open(scan, "ab") as handle:
        handle.write(data[1000:])
    assert hot.settled() == []  # changed: the settle interval starts again
    now[0] = 6.9
    assert hot.settled() == []
    now[0] = 7.1
    assert hot.settled() == [scan]
    hot.mark_graded([scan])
    now[0] = 20.0
    assert hot.settled() == [] and hot.waiting == 0  # graded at this size and time: not again


def test_a_file_that_stays_cut_off_is_graded_after_the_grace(tmp_path: Path) -> None:
    from papergen.grade.watch import INCOMPLETE_GRACE_SECONDS

    now = [0.0]
    hot = FolderWatch([tmp_path], settle=1.0, clock=lambda: now[0])
    scan = tmp_path / "a.jpg"
    scan.write_bytes((SCANS / "scan" / "sheet-0001.jpg").read_bytes()[:1000])
    assert not finished_looking(scan)
    hot.settled()
    now[0] = 1.0 + INCOMPLETE_GRACE_SECONDS
    assert hot.settled() == [scan]  # graded, and reported as the truncated file it is
