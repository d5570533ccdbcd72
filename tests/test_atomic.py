"""Atomic writes: a failed write leaves the old file and no temp file behind."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from papergen.core import atomic
from papergen.core.errors import OutputError


def test_write_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    atomic.write_text(target, "新内容")
    assert target.read_text(encoding="utf-8") == "新内容"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize(
    "code, needle", [(errno.ENOSPC, "磁盘已满"), (errno.EACCES, "权限"), (errno.EIO, "写入失败")]
)
def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, needle: str) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")

    def failing_replace(src, dst):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OutputError) as info:
        atomic.write_text(target, "new")
    assert needle in info.value.message and str(target) in str(info.value)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_exception_inside_the_block_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("renderer crashed")
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError):
        atomic.write_text(tmp_path / "no" / "such" / "out.txt", "x")


def test_replace_all_is_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A move that fails half-way (a file held open) puts back what was already replaced."""
    targets = [tmp_path / name for name in ("a.pdf", "b.pdf", "new.pdf", "exam.json")]
    for target in (targets[0], targets[1], targets[3]):
        target.write_text(f"old {target.name}")
    staged = []
    for target in targets:
        staged.append(tmp_path / f"staged-{target.name}")
        staged[-1].write_text(f"new {target.name}")
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst).name == "exam.json" and "staged" in str(src):
            raise PermissionError(errno.EACCES, "in use")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(OutputError) as info:
        atomic.replace_all(list(zip(staged, targets)), withdraw=targets[3])
    assert str(targets[3]) in str(info.value)
    assert {p.name: p.read_text() for p in targets if p.exists()} == {
        "a.pdf": "old a.pdf", "b.pdf": "old b.pdf", "exam.json": "old exam.json",
    }
    assert not list(tmp_path.glob(".*"))  # no kept copies left


def test_temp_files_of_a_killed_process_are_cleared_by_the_next_write(tmp_path: Path) -> None:
    dead = _a_dead_pid()
    abandoned = tmp_path / f".out.txt.{dead}-abcd1234.tmp"
    abandoned.write_text("half")
    running = tmp_path / f".out.txt.{os.getpid()}-efgh5678.tmp"  # a write in progress in a live process
    running.write_text("busy")
    atomic.write_text(tmp_path / "out.txt", "whole")
    assert not abandoned.exists() and running.exists()
    assert (tmp_path / "out.txt").read_text() == "whole"


def test_copies_kept_by_a_killed_replace_all_are_cleared_by_the_next_one(tmp_path: Path) -> None:
    """``build`` renders in a staging folder, so only ``replace_all`` sees the output folder's leftovers."""
    target = tmp_path / "paper-A.pdf"
    target.write_text("old")
    kept = tmp_path / f".paper-A.pdf.{_a_dead_pid()}-abcd1234.keep"  # killed between keeping and moving
    kept.write_text("old")
    staged = tmp_path / "staging"
    staged.mkdir()
    (staged / "paper-A.pdf").write_text("new")
    atomic.replace_all([(staged / "paper-A.pdf", target)])
    assert target.read_text() == "new"
    assert not kept.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["paper-A.pdf", "staging"]


def test_an_interrupted_process_removes_its_own_unheld_temps(tmp_path: Path) -> None:
    """A Ctrl-C landing between ``mkstemp`` and the ``with`` that would clean up leaves a temp nobody holds."""
    made = atomic._temp_beside(tmp_path / "sheet-0001.jpg")  # as if the signal came right after
    other = tmp_path / f".sheet-0002.jpg.{_a_dead_pid()}-abcd1234.tmp"  # another process's: not ours to judge here
    other.write_text("x")
    kept = tmp_path / f".sheet-0003.jpg.{os.getpid()}-abcd1234.keep"  # possibly the only old copy: never removed
    kept.write_text("x")
    removed = atomic.remove_own_temps()  # other tests' folders may hold this process's temps too
    assert [r for r in removed if r.parent == tmp_path.resolve()] == [made.resolve()]
    assert not made.exists() and other.exists() and kept.exists()


def _a_dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
