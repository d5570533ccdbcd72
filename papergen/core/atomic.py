"""Atomic output: write to a temp file in the same folder, then ``os.replace``.

A reader (or a ``kill -9``) never sees a half-written file under the final
name: either the old file or the complete new one is there. Files that
belong together (``atomic_paths``, ``replace_all``) are replaced all or none.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from papergen.core.errors import OutputError


def output_error(path: str | Path, exc: OSError) -> OutputError:
    """The ``OutputError`` (with a Chinese reason) for an OS error while writing ``path``."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputError("磁盘已满，文件未写入（原有文件保持不变）", path=path)
    if exc.errno == errno.EFBIG:
        return OutputError(
            "文件超过系统允许的大小，未写入（原有文件保持不变）", path=path, hint="检查文件大小上限（ulimit -f）或磁盘配额"
        )
    if exc.errno in (errno.EISDIR, errno.ENOTEMPTY):
        return OutputError("同名的文件夹已存在，无法写入文件", path=path)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError("没有写入权限，文件未写入", path=path, hint="换一个可写的输出位置，或检查文件夹权限")
    if exc.errno == errno.ENOENT:
        return OutputError("输出文件夹不存在", path=path)
    return OutputError(f"写入失败：{exc.strerror or exc}（原有文件保持不变）", path=path)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success move it into place.

    For libraries that save to a file name (openpyxl, python-docx, reportlab).
    On any exception the temp file is removed and the final name untouched.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        tmp = _temp_beside(path)
    except OSError as exc:
        raise output_error(path, exc) from None
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        raise output_error(path, exc) from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_folder(folder)


@contextlib.contextmanager
def atomic_paths(*paths: str | Path) -> Iterator[list[Path]]:
    """``atomic_path`` for files that belong together: all are replaced, or none.

    Yields one temp path per target; once the block has written them all,
    they are moved into place in order with ``replace_all``.
    """
    targets = [Path(p) for p in paths]
    temps: list[Path] = []
    try:
        for target in targets:
            temps.append(_temp_beside(target))
        yield temps
        for tmp in temps:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
    except OSError as exc:
        for tmp in temps:
            _remove_quietly(tmp)
        raise output_error(targets[min(len(temps), len(targets) - 1)], exc) from None
    except OutputError as exc:  # a writer's own atomic write onto a temp: name the file the user asked for
        for tmp in temps:
            _remove_quietly(tmp)
        named = [t for tmp, t in zip(temps, targets) if exc.path and Path(exc.path).name.startswith((tmp.name, f".{tmp.name}."))]
        if named:
            raise OutputError(exc.message, path=named[0], hint=exc.hint or None) from None
        raise
    except BaseException:
        for tmp in temps:
            _remove_quietly(tmp)
        raise
    try:
        replace_all(list(zip(temps, targets)))
    finally:
        for tmp in temps:
            _remove_quietly(tmp)


def replace_all(moves: list[tuple[Path, Path]], *, withdraw: Path | None = None) -> None:
    """Move completely written files onto their targets, in order: all of them or none.

    Each target about to be replaced is kept first (a hard link beside it, or
    a copy where the file system has no hard links). Should a move fail part
    of the way (a file held open by another program), the targets already
    replaced get their earlier content back, files that are new are removed,
    and the ``OutputError`` names the file that failed. ``withdraw`` (one of
    the targets, say a manifest that vouches for the others) is removed
    before the first move, so that a process killed among the moves leaves
    it absent rather than standing next to a mix of old and new files.
    """
    kept: dict[Path, Path] = {}
    moved: list[Path] = []
    current = moves[0][1] if moves else Path(".")
    try:
        for _, target in moves:
            current = target
            # A process killed while it held a copy leaves ``.NAME.PID-….keep``;
            # the targets' folder is where it lies (``_temp_beside`` may have run elsewhere).
            _remove_abandoned(target.parent, target.name)
            if target.is_file():
                kept[target] = _keep(target)
        if withdraw is not None and withdraw in kept:
            current = withdraw
            withdraw.unlink()
        for source, target in moves:
            current = target
            os.replace(source, target)
            moved.append(target)
    except BaseException as exc:
        for target in dict.fromkeys(moved + ([withdraw] if withdraw is not None else [])):
            with contextlib.suppress(OSError):
                if target in kept:
                    os.replace(kept.pop(target), target)
                elif target in moved:
                    target.unlink()
        for copy in kept.values():
            _remove_quietly(copy)
        if isinstance(exc, OSError):
            raise output_error(current, exc) from None
        raise
    for copy in kept.values():
        _remove_quietly(copy)
    for folder in {target.parent for _, target in moves}:
        _fsync_folder(folder)


def _keep(target: Path) -> Path:
    copy = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.keep")
    try:
        os.link(target, copy)  # no data copied: the earlier file itself, under a second name
    except OSError:
        shutil.copy2(target, copy)
    return copy


#: Every folder this process has made a temp file in (see ``remove_own_temps``).
_TEMP_FOLDERS: set[Path] = set()


def remove_own_temps() -> list[Path]:
    """Remove the temp files this process left in the folders it wrote to; returns them.

    For an interrupted run (``cli.main``). Every writer removes its own temp
    file on any exception, but a signal's handler runs between any two
    bytecodes: landing just after ``mkstemp`` returned, or after the temp
    was made but before a ``with`` block was entered, it leaves a file no
    clean-up holds. A later write of the same target would remove it (its
    process is gone by then); this removes it at once. Only ``.tmp`` files
    carrying this process's id: a ``.keep`` copy may be the only old version
    of a file, and other processes' temps are theirs.
    """
    removed = []
    suffix = f".{os.getpid()}-"
    for folder in sorted(_TEMP_FOLDERS):
        for leftover in folder.glob(f".*{glob.escape(suffix)}*.tmp"):
            _remove_quietly(leftover)
            removed.append(leftover)
    return removed


def _temp_beside(path: Path) -> Path:
    """An empty temp file in ``path``'s folder (``.name.PID-XXXX.tmp``) with the permissions ``path`` will have.

    Temp files that a killed process (``kill -9``, a power cut) left for the
    same target are removed first: the process id in their name is gone.
    """
    folder = path.parent if str(path.parent) else Path(".")
    _remove_abandoned(folder, path.name)
    _TEMP_FOLDERS.add(folder.resolve())
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=folder)
    # From here on the temp file exists: any failure, or a Ctrl-C landing in
    # these few calls, removes it (the caller's clean-up does not hold it yet).
    try:
        os.close(fd)
        tmp = Path(tmp_name)  # pathlib is Python code: a signal handler can run inside it
        # mkstemp makes the file private (0600); outputs get the usual permissions
        # (those of the file being replaced, else 0666 less the umask).
        try:
            mode = path.stat().st_mode & 0o777
        except OSError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return tmp


def _remove_abandoned(folder: Path, name: str) -> None:
    for leftover in folder.glob(f".{glob.escape(name)}.*-*"):
        pid = leftover.name[len(name) + 2 :].split("-")[0]
        if leftover.name.endswith((".tmp", ".keep")) and pid.isdigit() and not process_alive(int(pid)):
            _remove_quietly(leftover)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (leftovers of a dead one may be removed)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but belongs to someone else
        return True
    return True


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def output_folder(path: str | Path) -> Path:
    """Make sure ``path`` is a folder papergen can write files into (created if missing)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError("输出位置已存在且不是文件夹", path=path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"无法创建输出文件夹：{exc.strerror or exc}", path=path) from None
    return path


def write_bytes(path: str | Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the folder entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
