"""The hostile-input matrix: one ``Case`` per row, run through the real CLI.

Every ``tests/test_matrix_*.py`` module keeps a table of ``Case``s near its
top and runs each through ``papergen`` exactly as a user would, then checks
the three promises of README "退出码": the documented exit code, a message
that names the file (and line/page/sheet where there is one), and that
nothing already done is lost — every file that was there before is still
byte-for-byte the same unless the case says the command writes it, no
temp file is left behind, and whatever the command did write under its
final name is complete.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from papergen.cli import cli
from tests.conftest import ROOT


@dataclass(frozen=True)
class Case:
    """One row of a matrix.

    ``argv`` and ``says`` may use ``{d}``, the case's own folder (and other
    names a module passes to ``expand``). ``setup(d, ctx)`` writes the inputs
    (``ctx``: the module's shared fixtures). ``writes`` lists the files (under
    ``d``; ``fnmatch`` patterns) the command may create or replace; every
    other file must be left exactly as it was. ``check(d, result)`` makes the
    case's own further assertions.
    """

    id: str
    setup: Callable | None
    argv: tuple[str, ...]
    exit_code: int
    says: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    check: Callable | None = None


def ids(cases: list[Case]) -> list[str]:
    names = [c.id for c in cases]
    assert len(names) == len(set(names)), "case ids must be unique"
    return names


def expand(items: tuple[str, ...], **names: Path | str) -> list[str]:
    return [item.format(**{k: str(v) for k, v in names.items()}) for item in items]


def run_cli(argv: list[str], env: dict[str, str] | None = None) -> Result:
    """``papergen ARGV`` in-process; an unexpected exception fails the test (it would be exit 1)."""
    return CliRunner().invoke(cli, [str(a) for a in argv], env=env or {}, catch_exceptions=False)


def run_subprocess(argv: list[str], *, env: dict[str, str] | None = None, timeout: float = 120, **options) -> subprocess.CompletedProcess:
    """``python -m papergen ARGV`` in a child process (for limits and signals)."""
    return subprocess.run(
        [os.sys.executable, "-m", "papergen", *map(str, argv)], cwd=ROOT, env={**os.environ, **(env or {})},
        capture_output=True, text=True, timeout=timeout, **options,
    )


def start_subprocess(argv: list[str], *, env: dict[str, str] | None = None, **options) -> subprocess.Popen:
    """``python -m papergen ARGV`` started in its own session, so ``os.killpg(process.pid, …)``
    reaches it and its worker processes together, as a terminal's Ctrl-C or a power cut would."""
    return subprocess.Popen(
        [os.sys.executable, "-m", "papergen", *map(str, argv)], cwd=ROOT, env={**os.environ, **(env or {})},
        start_new_session=True, **options,
    )


# -- nothing lost ----------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name → bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def temp_leftovers(folder: Path) -> list[str]:
    """What an interrupted write would leave: temp files (``.name.XXXX.tmp``), kept copies (``.keep``), build staging folders."""
    return [
        str(p.relative_to(folder)) for p in folder.rglob("*")
        if p.name.startswith(".") and (p.name.endswith((".tmp", ".keep")) or p.name.startswith(".papergen-build-"))
    ]


def assert_nothing_lost(before: dict[str, bytes], folder: Path, writes: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Files from ``before`` unchanged (unless in ``writes``), no temp files, new files complete."""
    after = snapshot(folder)

    def allowed(name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in writes)

    changed = sorted(name for name, data in before.items() if not allowed(name) and after.get(name) != data)
    assert not changed, f"files changed or lost: {changed}"
    assert not temp_leftovers(folder), f"temp files left behind: {temp_leftovers(folder)}"
    unexpected = sorted(n for n in set(after) - set(before) if not allowed(n) and not _is_store_file(n))
    assert not unexpected, f"unexpected new files: {unexpected}"
    for name in after:
        if after[name] != before.get(name):
            assert_complete(folder / name)
    return after


def _is_store_file(name: str) -> bool:
    # the grading store and its lock/WAL files appear in a results folder by design
    return Path(name).name in ("results.sqlite", "results.sqlite-wal", "results.sqlite-shm", ".papergen-grade.lock")


def assert_complete(path: Path) -> None:
    """A file under its final name is whole: PDFs end with %%EOF, DOCX/XLSX are valid zips that open."""
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF"), f"{path} is not a complete PDF"
        import pypdfium2 as pdfium

        document = pdfium.PdfDocument(data)
        assert len(document) >= 1
        document.close()
    elif suffix in (".docx", ".xlsx"):
        import io

        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            assert archive.testzip() is None, f"{path} has a corrupt member"
        if suffix == ".docx":
            import docx

            docx.Document(io.BytesIO(data))
        else:
            from openpyxl import load_workbook

            load_workbook(io.BytesIO(data)).close()
    elif suffix == ".json":
        import json

        json.loads(data)
    elif suffix in (".yaml", ".yml"):
        from papergen.bank.files import read_bank

        _, problems = read_bank(path)
        assert not [p for p in problems if p.is_error], f"{path} does not read back as a valid bank: {problems}"


def store_dump(results: Path) -> dict[str, list]:
    """Every row of a results store, table by table (what "the same store" means, page for page)."""
    import sqlite3

    db = sqlite3.connect(f"file:{results / 'results.sqlite'}?mode=ro", uri=True)
    try:
        return {
            table: sorted(db.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in ("meta", "scans", "pages", "marks", "flags", "file_errors", "sheet_flags")
        }
    finally:
        db.close()


def stored_pages(results: Path) -> int:
    """Pages in the store so far (0 while the store or its tables do not exist yet, or it is locked)."""
    import sqlite3

    try:
        db = sqlite3.connect(f"file:{results / 'results.sqlite'}?mode=ro", uri=True, timeout=0.2)
        try:
            return db.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


# -- unwritable places -------------------------------------------------------------


def _can_write(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.write_bytes(b"")
    except OSError:
        return False
    probe.unlink()
    return True


@contextlib.contextmanager
def unwritable(folder: Path, monkeypatch: pytest.MonkeyPatch | None = None) -> Iterator[str]:
    """Make ``folder`` refuse new files, as really as this machine allows.

    An ordinary user gets ``chmod 555``. Root ignores permissions, so the
    folder is made immutable (``chattr +i``) where the file system supports
    it; failing that, and only for in-process runs (``monkeypatch`` given),
    creating a file in the folder fails with EACCES at the ``os.open`` level.
    Yields how it was done.
    """
    folder.chmod(0o555)
    how = "chmod"
    immutable = False
    try:
        if _can_write(folder):
            how = "chattr"
            immutable = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0 if shutil.which("chattr") else False
            if not immutable or _can_write(folder):
                if monkeypatch is None:
                    pytest.skip("cannot make a folder unwritable for a child process here (root, no chattr)")
                how = "os.open"
                _deny_creation(folder, monkeypatch)
        yield how
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def _deny_creation(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Creating, renaming into or linking into ``folder`` fails with EACCES (in this process)."""
    resolved = folder.resolve()

    def inside(path) -> bool:
        return Path(os.fspath(path)).resolve().parent == resolved

    def denied(path):
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))

    real_open, real_mkdir, real_replace, real_rename, real_link = os.open, os.mkdir, os.replace, os.rename, os.link

    def guarded_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and inside(path):
            raise denied(path)
        return real_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        if inside(path):
            raise denied(path)
        return real_mkdir(path, *args, **kwargs)

    def guarded(real):
        def move(src, dst, *args, **kwargs):
            if inside(dst):
                raise denied(dst)
            return real(src, dst, *args, **kwargs)

        return move

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)
    monkeypatch.setattr(os, "replace", guarded(real_replace))
    monkeypatch.setattr(os, "rename", guarded(real_rename))
    monkeypatch.setattr(os, "link", guarded(real_link))
