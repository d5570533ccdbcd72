"""Matrix: outputs that cannot be written, for every command that writes.

Each case starts from a folder ``{d}/out`` holding the earlier outputs of
every command (an imported bank, an export, a built exam, personal sheets,
a report, feedback PDFs, trends, a results folder), breaks one thing, and
runs one command that would replace one of them:

- ``unwritable``: the output folder refuses new files (``chmod``, or
  ``chattr +i`` for root — see ``tests.matrix.unwritable``);
- ``locked``: replacing the target fails as it does on Windows while the
  file is open in Excel or Acrobat (a sharing violation, ``EACCES``);
- ``a-folder``: a folder of the target's name is in the way;
- ``disk-full``: the data never reaches the disk (``ENOSPC`` from ``fsync``,
  as a full disk reports it on file systems that allocate late);
- ``FSIZE``: the command runs in a child process under a file-size limit
  (``RLIMIT_FSIZE``), so a real ``write`` fails part-way through a file.

Every case must exit 6 (README "退出码") naming the file, leave every earlier
output byte-for-byte as it was, and leave no temp file. Two graders on one
results folder (exit 9) and a grade that runs out of space (resumed to the
exact result of an uninterrupted run) close the module.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from papergen.core.errors import ExitCode as X
from tests.conftest import MATRIX_BLUEPRINT, ROOT, SMALL_STUDENTS
from tests.matrix import (
    Case,
    assert_nothing_lost,
    expand,
    ids,
    run_cli,
    snapshot,
    store_dump,
    stored_pages,
    unwritable,
)
from tests.test_matrix_bank import BANK, TEXT_SOURCE

# -- faults ------------------------------------------------------------------------------------------


def unwritable_folder(rel: str):
    def setup(d: Path, ctx) -> None:
        ctx.stack.enter_context(unwritable(d / rel, ctx.monkeypatch))

    return setup


def locked(rel: str):
    """Replacing ``rel`` fails like a file held open on Windows (PermissionError, EACCES)."""

    def setup(d: Path, ctx) -> None:
        real_replace = os.replace
        target = (d / rel).resolve()

        def replace(src, dst, *args, **kwargs):
            if Path(dst).resolve() == target:
                raise PermissionError(errno.EACCES, "The process cannot access the file because it is being used by another process", str(dst))
            return real_replace(src, dst, *args, **kwargs)

        ctx.monkeypatch.setattr(os, "replace", replace)

    return setup


def a_folder(rel: str):
    def setup(d: Path, ctx) -> None:
        path = d / rel
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        (path / "something").mkdir(parents=True)

    return setup


def disk_full(d: Path, ctx) -> None:
    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    ctx.monkeypatch.setattr(os, "fsync", fsync)


def fsize(limit: int) -> dict[str, str]:
    """Not an environment variable: the file-size limit the command runs under (in a child process)."""
    return {"FSIZE": str(limit)}


# -- the table ------------------------------------------------------------------------------------------
IMPORT = ("bank", "import", "{d}/q.txt", "-o", "{d}/out/bank.yaml", "--force")
EXPORT = ("bank", "export", "{d}/bank.yaml", "-o", "{d}/out/bank.xlsx")
BUILD = ("build", "{blueprint}", "-o", "{d}/out/exam", "--force", "--seed", "6")
SHEETS = ("sheets", "{d}/out/exam/exam.json", "--roster", "{d}/roster.csv", "-o", "{d}/out/sheets.pdf")
REPORT = ("report", "{d}/out/results", "-o", "{d}/out/report.xlsx", "--roster", "{d}/roster.csv")
FEEDBACK = ("feedback", "{d}/out/results", "-o", "{d}/out/feedback", "--roster", "{d}/roster.csv")
ANALYZE = ("analyze", "{d}/out/results", "-o", "{d}/out/trends.xlsx")
GRADE = ("grade", "{d}/out/exam/exam.json", "{scans}", "-o", "{d}/out/new-results", "--workers", "1")
FULL = "磁盘已满，文件未写入（原有文件保持不变）"
DENIED = "没有写入权限"
TOO_BIG = "文件超过系统允许的大小"

CASES = [
    Case("import-unwritable", unwritable_folder("out"), IMPORT, X.output_error, ("{d}/out/bank.yaml", DENIED)),
    Case("import-locked", locked("out/bank.yaml"), IMPORT, X.output_error, ("{d}/out/bank.yaml", DENIED)),
    Case("import-disk-full", disk_full, IMPORT, X.output_error, ("{d}/out/bank.yaml", FULL)),
    Case("export-unwritable", unwritable_folder("out"), EXPORT, X.output_error, ("{d}/out/bank.xlsx", DENIED)),
    Case("export-a-folder", a_folder("out/bank.xlsx"), EXPORT, X.usage, ("{d}/out/bank.xlsx", "is a directory")),  # Click's own check
    Case("export-disk-full", disk_full, EXPORT, X.output_error, ("{d}/out/bank.xlsx", FULL)),
    Case("build-unwritable", unwritable_folder("out/exam"), BUILD, X.output_error, ("{d}/out/exam", DENIED)),
    Case("build-locked-paper", locked("out/exam/key-B.pdf"), BUILD, X.output_error, ("{d}/out/exam/key-B.pdf", DENIED)),
    Case("build-disk-full", disk_full, BUILD, X.output_error, ("{d}/out/exam/paper-A.pdf:", FULL)),
    Case("build-file-size-limit", None, BUILD, X.output_error, ("{d}/out/exam/paper-A.pdf:", TOO_BIG), env=fsize(40_000)),
    Case("sheets-unwritable", unwritable_folder("out"), SHEETS, X.output_error, ("{d}/out/sheets.pdf", DENIED)),
    Case("sheets-locked", locked("out/sheets.pdf"), SHEETS, X.output_error, ("{d}/out/sheets.pdf", DENIED)),
    # the PDF and its seat list are replaced together: a list that cannot be written keeps the old PDF too
    Case("sheets-list-locked", locked("out/sheets-座位与试卷类型.csv"), SHEETS, X.output_error, ("{d}/out/sheets-座位与试卷类型.csv", DENIED)),
    Case("sheets-list-a-folder", a_folder("out/sheets-座位与试卷类型.csv"), SHEETS, X.output_error, ("{d}/out/sheets-座位与试卷类型.csv", "同名的文件夹")),
    Case("sheets-file-size-limit", None, SHEETS, X.output_error, ("{d}/out/sheets.pdf:", TOO_BIG), env=fsize(40_000)),
    Case("report-unwritable", unwritable_folder("out"), REPORT, X.output_error, ("{d}/out/report.xlsx", DENIED)),
    Case("report-locked", locked("out/report.xlsx"), REPORT, X.output_error, ("{d}/out/report.xlsx", DENIED)),
    Case("report-a-folder", a_folder("out/report.xlsx"), REPORT, X.usage, ("{d}/out/report.xlsx", "is a directory")),
    Case("report-disk-full", disk_full, REPORT, X.output_error, ("{d}/out/report.xlsx", FULL)),
    Case("report-store-damaged", lambda d, c: (d / "out/results/results.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x13" * 4000), REPORT, X.input_file, ("{d}/out/results/results.sqlite", "成绩库无法读取")),
    Case("report-store-missing", lambda d, c: shutil.rmtree(d / "out/results"), REPORT, X.input_file, ("{d}/out/results", "没有成绩库")),
    Case("feedback-unwritable", unwritable_folder("out/feedback"), FEEDBACK, X.output_error, ("{d}/out/feedback", DENIED)),
    Case("feedback-disk-full", disk_full, FEEDBACK, X.output_error, ("{d}/out/feedback/2026030001-学生0.pdf:", FULL)),
    Case("feedback-a-folder", a_folder("out/feedback/2026030003-学生2.pdf"), FEEDBACK, X.output_error, ("{d}/out/feedback/2026030003-学生2.pdf", "同名的文件夹")),
    Case("feedback-file-size-limit", None, FEEDBACK, X.output_error, ("{d}/out/feedback/2026030001-学生0.pdf:", TOO_BIG), env=fsize(40_000)),
    Case("analyze-locked", locked("out/trends.xlsx"), ANALYZE, X.output_error, ("{d}/out/trends.xlsx", DENIED)),
    Case("analyze-disk-full", disk_full, ANALYZE, X.output_error, ("{d}/out/trends.xlsx", FULL)),
    Case("grade-unwritable", unwritable_folder("out"), GRADE, X.output_error, ("{d}/out/new-results", "无法创建结果文件夹")),
    Case("grade-results-of-another-exam", lambda d, c: shutil.copytree(c.other_results, d / "out/new-results"), GRADE, X.output_error, ("{d}/out/new-results", "属于考试 matrix-09，不是 matrix-01")),
]


@pytest.fixture(scope="module")
def earlier(small_exam, small_scans, small_results, other_exam, tmp_path_factory) -> SimpleNamespace:
    """One set of earlier outputs of every command, copied into each case."""
    base = tmp_path_factory.mktemp("outputs")
    (base / "q.txt").write_text(TEXT_SOURCE, encoding="utf-8")
    (base / "bank.yaml").write_text(BANK, encoding="utf-8")
    (base / "roster.csv").write_text("准考证号,姓名,班级\n" + "".join(f"{sid},学生{n},一班\n" for n, sid in enumerate(SMALL_STUDENTS)), encoding="utf-8")
    out = base / "out"
    out.mkdir()
    shutil.copytree(small_exam, out / "exam")
    shutil.copytree(small_results, out / "results")
    names = dict(d=base, blueprint=MATRIX_BLUEPRINT, scans=small_scans)
    for argv in (IMPORT, EXPORT, SHEETS, REPORT, FEEDBACK, ANALYZE):
        result = run_cli(expand(argv, **names))
        assert result.exit_code == 0, result.output
    with open(out / "bank.yaml", "a", encoding="utf-8") as handle:
        handle.write("# 手工改过\n")  # so that a re-import (with --force) has something to replace
    # a results folder of another exam
    other = base / "other"
    assert run_cli(["grade", other_exam / "exam.json", small_scans, "-o", other / "results", "--workers", "1"]).exit_code in (10, 11)
    return SimpleNamespace(base=base, scans=small_scans, other_results=other / "results")


def run_limited(argv: list[str], limit: int) -> tuple[int, str]:
    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    child = subprocess.run(
        [sys.executable, "-m", "papergen", *argv], cwd=ROOT, capture_output=True, text=True, timeout=120,
        preexec_fn=limit_file_size,
    )
    return child.returncode, child.stdout + child.stderr


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_output_matrix(case: Case, earlier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path
    for item in earlier.base.iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, d / item.name)
    argv = expand(case.argv, d=d, blueprint=MATRIX_BLUEPRINT, scans=earlier.scans)
    with contextlib.ExitStack() as stack:
        ctx = SimpleNamespace(stack=stack, monkeypatch=monkeypatch, other_results=earlier.other_results)
        if case.setup:
            case.setup(d, ctx)
        before = snapshot(d)
        if "FSIZE" in case.env:
            code, output = run_limited(argv, int(case.env["FSIZE"]))
        else:
            result = run_cli(argv)
            code, output = result.exit_code, result.output
        monkeypatch.undo()  # before looking at the files: os.replace/os.fsync are real again
        assert code == case.exit_code, output
        for fragment in expand(case.says, d=d):
            assert fragment in output, f"{fragment!r} not in:\n{output}"
        assert "Traceback" not in output
        assert_nothing_lost(before, d, case.writes)
    assert not list(d.rglob(".papergen-build-*")), "a staging folder was left behind"


# -- two graders, and a grade that runs out of space -----------------------------------------------------


def grade_argv(exam: Path, scans: Path, results: Path) -> list[str]:
    return ["grade", str(exam / "exam.json"), str(scans), "-o", str(results), "--workers", "1"]


def test_two_graders_on_one_results_folder(small_pile, tmp_path: Path) -> None:
    """The second `papergen grade` is refused with exit 9 while the first runs; the store ends as if it ran alone."""
    results = tmp_path / "results"
    first = subprocess.Popen([sys.executable, "-m", "papergen", *grade_argv(small_pile.exam, small_pile.scans, results)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not stored_pages(results) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert first.poll() is None, "the first grader finished before the second could start"
        second = run_cli(grade_argv(small_pile.exam, small_pile.scans, results))
        assert second.exit_code == X.busy == 9, second.output
        assert f"{results}: 另一个 papergen grade 正在使用这个结果文件夹" in second.output
    finally:
        assert first.wait(timeout=120) == small_pile.exit_code
    assert store_dump(results) == small_pile.expected


def test_grade_out_of_space_resumes_to_the_uninterrupted_store(small_pile, tmp_path: Path) -> None:
    """A grade whose store cannot grow stops with exit 6; given room, it resumes to exactly the clean result."""
    results = tmp_path / "results"
    code, output = run_limited(grade_argv(small_pile.exam, small_pile.scans, results), 400_000)
    assert code == X.output_error, output
    assert f"{results / 'results.sqlite'}" in output and "Traceback" not in output
    assert stored_pages(results) < len(small_pile.expected["pages"])  # it stopped part-way
    assert run_cli(grade_argv(small_pile.exam, small_pile.scans, results)).exit_code == small_pile.exit_code
    assert store_dump(results) == small_pile.expected
