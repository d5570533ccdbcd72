"""``papergen grade --dask``: a real scheduler and workers, started as their own processes on loopback.

- A worker SIGKILLed while it holds pages costs nothing: the scheduler runs
  its pages again elsewhere, and the store equals a local run's, row for row.
- A page that kills every worker it is given becomes that page's error
  (``worker-lost``); every other page is read.
- ``--ship-bytes`` grades from bytes sent with the jobs, the same as from the files.
- Without ``papergen[dask]`` the flag says how to install it (exit 2).

Worker faults come from ``tests/dask_faults.py`` (a ``--preload`` for the
workers; test-only, papergen itself has no hook).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from papergen.core.errors import ExitCode
from papergen.grade.ingest import collect_pages, load_page
from papergen.grade.pipeline import grade
from tests.conftest import ROOT

distributed = pytest.importorskip("distributed")

SCANS = ROOT / "scans" / "2026-mock-03"
EXAM_JSON = SCANS / "exam.json"
FAULTS = Path(__file__).with_name("dask_faults.py")
COPIES = 4  # the six committed sheets, four times over: 24 pages


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_comment(data: bytes, text: str) -> bytes:
    """The same JPEG with a comment segment after its start marker: the same pixels, another file."""
    payload = text.encode()
    return data[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:]


@pytest.fixture(scope="module")
def scan_folder(tmp_path_factory) -> Path:
    """24 distinct JPEG files (the committed scans and re-encoded copies), by absolute path."""
    folder = tmp_path_factory.mktemp("dask-scans")
    for source in sorted(SCANS.glob("*/sheet-*.jpg")):
        for copy in range(COPIES):
            data = source.read_bytes() if copy == 0 else with_comment(source.read_bytes(), f"copy {copy}")
            name = source.name if copy == 0 else f"{source.stem}-copy{copy}.jpg"
            (folder / source.parent.name).mkdir(exist_ok=True)
            (folder / source.parent.name / name).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def local_store(scan_folder, tmp_path_factory) -> Path:
    results = tmp_path_factory.mktemp("local-results")
    grade(EXAM_JSON, [scan_folder], results, workers=1)
    return results


class Cluster:
    """``dask scheduler`` and ``dask worker --nthreads 1`` processes on 127.0.0.1."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.log = tmp
        self.scheduler = self._start("scheduler", ["distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                                   "--port", self.address.rsplit(":", 1)[1], "--no-dashboard"])
        self.workers: list[subprocess.Popen] = []

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = (self.log / f"{name}.log").open("wb")
        return subprocess.Popen([sys.executable, "-m", *args], env=self.env, cwd=self.log, stdout=log, stderr=subprocess.STDOUT)

    def add_workers(self, count: int, *, nanny: bool) -> None:
        for _ in range(count):
            self.workers.append(self._start(
                f"worker-{len(self.workers)}",
                ["distributed.cli.dask_worker", self.address, "--nthreads", "1", "--host", "127.0.0.1",
                 "--no-dashboard", "--preload", str(FAULTS), "--nanny" if nanny else "--no-nanny"],
            ))
        with distributed.Client(self.address, timeout=30) as client:
            client.wait_for_workers(len(self.workers), timeout=60)

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.log.glob("*.log")))


@pytest.fixture
def cluster(tmp_path: Path, request):
    env = getattr(request, "param", {})
    started = Cluster(tmp_path, env)
    try:
        yield started
    finally:
        started.stop()


TABLES = {
    "pages": "file_hash, page, part",
    "marks": "file_hash, page, part, number",
    "flags": "file_hash, page, part, number, reason",
    "sheet_flags": "student_id, reason",
    "scans": "file_hash",
    "file_errors": "source, file_hash",
    "history": "id",
}


def store_rows(results: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(results / "results.sqlite") as db:
        return {table: db.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall() for table, key in TABLES.items()}


def test_a_worker_killed_mid_batch_costs_nothing(cluster, scan_folder, local_store, tmp_path):
    cluster.env["PAPERGEN_TEST_PAGE_SECONDS"] = "0.4"
    cluster.add_workers(2, nanny=False)
    victim = cluster.workers[0]
    killed_at: list[int] = []

    def progress(done: int, total: int) -> None:
        if done == 3 and not killed_at:  # both workers hold pages: one is working on its next
            victim.send_signal(signal.SIGKILL)
            killed_at.append(done)

    results = tmp_path / "results"
    summary = grade(EXAM_JSON, [scan_folder], results, dask=cluster.address, progress=progress)
    assert killed_at and victim.wait(timeout=10) == -signal.SIGKILL
    assert summary.pages_new == 6 * COPIES and summary.errors == 0, cluster.logs()
    dask_rows, local_rows = store_rows(results), store_rows(local_store)
    assert len(dask_rows["pages"]) == 6 * COPIES and all(row[5] == "read" for row in dask_rows["pages"])
    for table in TABLES:
        assert dask_rows[table] == local_rows[table], table


@pytest.mark.parametrize(
    "cluster",
    # one task per worker thread at a time (an innocent page is not caught in a crash),
    # and a page is given up after killing two workers (fewer restarts to wait for)
    [{"DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0", "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}],
    indirect=True,
)
def test_a_page_that_kills_every_worker_is_that_pages_error(cluster, scan_folder, tmp_path):
    cluster.env["PAPERGEN_TEST_EXIT_ON"] = "sheet-0002.jpg"
    cluster.add_workers(2, nanny=True)  # the nanny restarts a worker that died
    poison = scan_folder / "photo"  # holds one sheet-0002.jpg among its eight files
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "papergen", "grade", str(EXAM_JSON), str(poison), "-o", str(results), "--dask", cluster.address],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert done.returncode == ExitCode.graded_with_errors, done.stdout + done.stderr + cluster.logs()
    assert "Traceback" not in done.stderr
    with sqlite3.connect(results / "results.sqlite") as db:
        pages = db.execute("SELECT path, status FROM pages ORDER BY path").fetchall()
        lost = db.execute("SELECT p.path, f.reason, f.message FROM flags f JOIN pages p USING (file_hash, page, part) "
                          "WHERE p.status = 'error'").fetchall()
    assert len(pages) == COPIES * 2
    assert [(Path(path).name, status) for path, status in pages if status != "read"] == [("sheet-0002.jpg", "error")]
    assert [(Path(path).name, reason) for path, reason, _ in lost] == [("sheet-0002.jpg", "worker-lost")]
    assert "工作进程多次意外退出" in lost[0][2]


def test_ship_bytes_grades_from_the_bytes_sent(scan_folder, local_store, tmp_path):
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "papergen", "grade", str(EXAM_JSON), str(scan_folder), "-o", str(results),
         "--dask", "local", "--workers", "2", "--ship-bytes"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert done.returncode == ExitCode.graded_with_review, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert store_rows(results) == store_rows(local_store)


@pytest.mark.parametrize("name", ["scan/sheet-0001.jpg", "sheet.pdf"])
def test_a_job_with_its_bytes_decodes_like_the_file(name, tmp_path):
    path = tmp_path / Path(name).name
    shutil.copy(SCANS / name, path)
    jobs, problems = collect_pages([path])
    assert jobs and not problems
    shipped = [job.with_bytes() for job in jobs]
    from_files = [load_page(job) for job in jobs]
    path.unlink()  # the bytes are all a shipped job needs
    for job, expected in zip(shipped, from_files):
        assert job.data is not None and (load_page(job) == expected).all()


def test_a_changed_file_is_not_shipped(tmp_path):
    path = tmp_path / "sheet.jpg"
    shutil.copy(SCANS / "scan" / "sheet-0001.jpg", path)
    jobs, _ = collect_pages([path])
    time.sleep(0.01)
    path.write_bytes(with_comment(path.read_bytes(), "rescanned"))
    assert jobs[0].with_bytes().data is None  # graded where it runs: refused there as "changed"


def test_without_dask_the_flag_says_how_to_install_it(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from papergen.cli import cli

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed → ImportError
    result = CliRunner().invoke(cli, ["grade", str(EXAM_JSON), str(SCANS / "scan"), "-o", str(tmp_path / "r"), "--dask", "local"])
    assert result.exit_code == ExitCode.usage
    assert 'pip install "papergen[dask]"' in result.output and "--dask 需要 Dask distributed" in result.output
    assert not (tmp_path / "r").exists()


def test_ship_bytes_needs_dask(tmp_path):
    from click.testing import CliRunner

    from papergen.cli import cli

    result = CliRunner().invoke(cli, ["grade", str(EXAM_JSON), str(SCANS / "scan"), "-o", str(tmp_path / "r"), "--ship-bytes"])
    assert result.exit_code == ExitCode.usage and "--ship-bytes 只能与 --dask 一起使用" in result.output


def test_an_address_that_is_no_address_is_refused(tmp_path):
    from click.testing import CliRunner

    from papergen.cli import cli

    result = CliRunner().invoke(cli, ["grade", str(EXAM_JSON), str(SCANS / "scan"), "-o", str(tmp_path / "r"), "--dask", "tcp://nohost"])
    assert result.exit_code == ExitCode.usage and "不是调度器地址" in result.output


def scaled(n: int, factor: int) -> int:
    return n * factor


@pytest.mark.parametrize("ordered", [True, False])
def test_run_jobs_on_a_local_cluster_gives_every_result(ordered):
    from papergen.core.executor import run_jobs

    with run_jobs(scaled, range(23), kind="dask", workers=2, cluster="local", context=3, chunksize=4,
                  window=8, ordered=ordered) as results:
        got = list(results)
    assert (got if ordered else sorted(got)) == [3 * n for n in range(23)]


def test_a_local_workers_heartbeat_to_the_closing_scheduler_is_not_shown_but_other_failures_are():
    # The race at the end of a `--dask local` run (seen once in CI: a traceback on
    # stderr after every page was stored): a worker's heartbeat meets the
    # scheduler's closed connection. Only that record is dropped.
    import logging

    from distributed.comm import CommClosedError

    from papergen.core.cluster import ClosedSchedulerHeartbeat

    class Kept(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.DEBUG)
            self.records: list[logging.LogRecord] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.records.append(record)

    # a handler on the worker's own logger: distributed's logging setup may keep its records from the root's
    worker_log, kept, dropper = logging.getLogger("distributed.worker"), Kept(), ClosedSchedulerHeartbeat(CommClosedError)
    level, disabled = worker_log.level, worker_log.disabled
    worker_log.disabled = False  # a logging.config.dictConfig elsewhere in the run may have disabled it
    worker_log.addHandler(kept)
    worker_log.addFilter(dropper)
    worker_log.setLevel(logging.ERROR)
    try:
        for failure in (CommClosedError("in <TCP (closed) ConnectionPool.heartbeat_worker>: Stream is closed"),
                        OSError("Network is unreachable")):
            try:
                raise failure
            except OSError:
                worker_log.exception("Failed to communicate with scheduler during heartbeat.")
        try:
            raise CommClosedError("closed")
        except OSError:
            worker_log.exception("Unexpected exception during heartbeat. Closing worker.")
    finally:
        worker_log.removeFilter(dropper)
        worker_log.removeHandler(kept)
        worker_log.setLevel(level)
        worker_log.disabled = disabled
    shown = [(record.getMessage(), type(record.exc_info[1]).__name__) for record in kept.records]
    assert shown == [("Failed to communicate with scheduler during heartbeat.", "OSError"),
                     ("Unexpected exception during heartbeat. Closing worker.", "CommClosedError")]


def _worker_log_filters() -> list[str]:
    import logging

    return [type(f).__name__ for f in logging.getLogger("distributed.worker").filters]


def test_a_local_clusters_workers_drop_the_closing_schedulers_heartbeat():
    from papergen.core.cluster import connected

    with connected("local", 1) as client:
        assert list(client.run(_worker_log_filters).values()) == [["ClosedSchedulerHeartbeat"]]
