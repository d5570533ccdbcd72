"""Atomic output: write to a temp file in the same folder, then ``os.replace``.

A reader (or a ``kill -9``) never sees a half-written file under the final
name: either the old file or the complete new one is there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .exceptions import OutputError


def _output_error(path: Path, exc: OSError) -> OutputError:
    if exc.errno == errno.ENOSPC:
        return OutputError("磁盘已满，文件未写入（原有文件保持不变）", path=path)
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
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _output_error(path, exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp makes the file private (0600); outputs get the usual permissions
    # (those of the file being replaced, else 0666 less the umask).
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o666 & ~_umask()
    os.chmod(tmp, mode)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        raise _output_error(path, exc) from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_folder(folder)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


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
