"""Jobs on a Dask distributed cluster: the ``"dask"`` kind of ``executor.run_jobs``.

A centre grading more sheets than one machine reads in an evening runs a
Dask scheduler on one machine and Dask workers on the others; papergen is a
client of that cluster, never a scheduler of its own. The shape is the one
every kind has: each job is sent as one task running ``fn(job, context)`` on
some worker, and the results come back to the caller — the only process that
writes anything (the grading store) — as they finish.

- **Bounded.** Jobs travel in chunks of ``chunksize`` (one task each: the
  scheduler's and the client's cost per task is shared by the chunk). At
  most a window of jobs is submitted and not yet handed back (a few chunks
  per worker thread, re-counted as workers join or leave); a new chunk is
  submitted as each result is taken, so a million-page batch never holds a
  million futures, and results are handed back as they complete
  (``distributed.as_completed``), never held for the slowest.
- **Shared once.** ``context`` (the exam manifest) is one task of its own
  that every job's task depends on: it travels to each worker once, and the
  scheduler can make it again if all the workers holding it die.
- **Lost workers.** A worker that dies (killed, out of memory, its machine
  gone) loses only the tasks it held: the scheduler runs them again on
  other workers, up to its ``distributed.scheduler.allowed-failures``
  deaths per task (default 3). A task that kills every worker it is given
  ends as ``KilledWorker``: a chunk's jobs are then sent again one task
  each, so only the job that does it is lost; a single job's result is then
  ``on_lost(job)`` (for grading: the page's error row) and the run goes on.
  A task that *raises* is tried again ``TASK_RETRIES`` times (a network
  file system's hiccup on one worker), then its exception is raised here,
  as in every other kind.
- **Stopping.** Leaving the ``with`` block early (Ctrl-C, an error) cancels
  the submitted tasks, closes the connection and, for ``"local"``, stops the
  LocalCluster's worker processes.

``dask`` and ``distributed`` come with the optional extra ``papergen[dask]``
and are imported only here, only when a run asks for the cluster; without
them the run stops with ``ClusterUnavailable`` saying how to install them.
Every worker needs the same papergen installed (the task's function is
found by name there), which is checked when connecting.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from typing import Any

from papergen import __version__
from papergen.core.errors import ExitCode, PapergenError

#: ``--dask local``: a LocalCluster on this machine instead of a scheduler's address.
LOCAL = "local"
INSTALL_HINT = 'pip install "papergen[dask]"'
#: Times a task that raised is run again before its exception is the run's.
TASK_RETRIES = 1
#: Tasks in flight per worker thread: one running, the next ones already on their way.
TASKS_PER_THREAD = 4
#: How often the window is re-counted from the cluster's threads (workers join and leave).
RECOUNT_SECONDS = 5.0
#: Seconds to wait for a scheduler to answer before giving up.
CONNECT_SECONDS = 20.0


class ClusterUnavailable(PapergenError):
    """The cluster cannot be used: Dask is not installed, the scheduler does not answer, a worker lacks papergen."""

    exit_code = ExitCode.usage


def require_dask() -> None:
    """Raise ``ClusterUnavailable`` (with the pip command) when ``papergen[dask]`` is not installed."""
    _dask()


def _dask():
    """``(dask, distributed)``, or ``ClusterUnavailable`` saying how to install them."""
    try:
        import dask
        import distributed
    except ImportError:
        raise ClusterUnavailable(
            "--dask 需要 Dask distributed，但当前环境没有安装",
            hint=f"运行 {INSTALL_HINT}（集群的每台工作机也要安装同一版本的 papergen 和 Dask）",
        ) from None
    return dask, distributed


def check_address(address: str) -> str:
    """``local`` or a scheduler address ``tcp://HOST:PORT`` (``tls://``, ``ws://`` too); a bare ``HOST:PORT`` gets ``tcp://``."""
    address = address.strip()
    if address == LOCAL:
        return address
    if "://" not in address:
        address = "tcp://" + address
    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("tcp", "tls", "ws", "wss", "inproc", "ucx") or not host or not port.isdigit():
        raise ClusterUnavailable(
            f"--dask {address!r} 不是调度器地址",
            hint="写成 tcp://主机:端口（例如 tcp://192.168.1.10:8786，端口为 dask scheduler 启动时显示的端口），或 --dask local 在本机启动",
        )
    return address


@contextlib.contextmanager
def connected(address: str, local_workers: int) -> Iterator[Any]:
    """A ``distributed.Client`` on the scheduler at ``address``, or on a new LocalCluster for ``"local"``."""
    dask, distributed = _dask()
    address = check_address(address)
    with contextlib.ExitStack() as stack:
        if address == LOCAL:
            # One task per worker thread at a time (the scheduler's default hands a
            # thread 1.1 tasks, rounded up: two): a page that crashes its worker then
            # takes no innocent neighbour's retry count with it. Read when the
            # scheduler starts, which for a LocalCluster is here.
            with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
                local = stack.enter_context(
                    distributed.LocalCluster(
                        n_workers=max(1, local_workers), threads_per_worker=1, processes=True,
                        dashboard_address=None, silence_logs=logging.ERROR, preload=[__name__],
                    )
                )
            client = stack.enter_context(distributed.Client(local))
        else:
            try:
                client = stack.enter_context(distributed.Client(address, timeout=CONNECT_SECONDS))
            except (OSError, TimeoutError) as exc:
                raise ClusterUnavailable(
                    f"无法连接 Dask 调度器 {address}（{type(exc).__name__}）",
                    hint="确认调度器已启动（dask scheduler）、地址和端口正确、防火墙放行该端口",
                ) from None
        _check_workers(client)
        # The client's own warnings ("Couldn't gather keys, rescheduling" when a
        # worker dies with a result) are the recovery working; errors still show.
        quiet = logging.getLogger("distributed.client")
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            yield client
        finally:
            quiet.setLevel(level)


def _papergen_version() -> str:
    return __version__


def _check_workers(client) -> None:
    """Every connected worker runs this papergen (a task's function is looked up by name there)."""
    try:
        versions = client.run(_papergen_version)
    except (ImportError, AttributeError):
        raise ClusterUnavailable(
            "Dask 工作机上没有安装 papergen（或版本不同，找不到评阅函数）",
            hint=f"在每台工作机上安装与本机相同版本的 papergen：{INSTALL_HINT}",
        ) from None
    wrong = {worker: version for worker, version in versions.items() if version != __version__}
    if wrong:
        listed = "、".join(f"{worker}（{version}）" for worker, version in sorted(wrong.items()))
        raise ClusterUnavailable(
            f"Dask 工作机上的 papergen 版本与本机（{__version__}）不同：{listed}",
            hint="每台工作机安装与本机相同版本的 papergen，再重新启动 dask worker",
        )


# -- on a worker -------------------------------------------------------------------------------------------


def dask_setup(worker) -> None:
    """A LocalCluster worker's preload (this module): a terminal's Ctrl-C is not the worker's to handle.

    The worker processes are in papergen's process group, so Ctrl-C reaches
    them too; each would print a ``KeyboardInterrupt`` traceback. papergen
    stops them itself when it is interrupted. Runs in the worker's main thread
    as it starts (a worker restarted after a crash included).

    At the end of a run the cluster closes its scheduler while a worker's
    heartbeat may still be on its way; that worker then logs "Failed to
    communicate with scheduler during heartbeat" with a traceback, at ERROR,
    on papergen's stderr — after every page was graded and stored. The
    scheduler lives in papergen's own process, so a closed connection to it
    only ever means papergen is stopping: that one record is dropped
    (``ClosedSchedulerHeartbeat``); a heartbeat failing any other way still
    shows.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _, distributed = _dask()
    logging.getLogger("distributed.worker").addFilter(ClosedSchedulerHeartbeat(distributed.comm.CommClosedError))


class ClosedSchedulerHeartbeat(logging.Filter):
    """Drops a worker's heartbeat failure whose cause is the scheduler's connection being closed (``closed``)."""

    MESSAGE = "Failed to communicate with scheduler during heartbeat"

    def __init__(self, closed: type[BaseException]) -> None:
        super().__init__()
        self.closed = closed

    def filter(self, record: logging.LogRecord) -> bool:
        cause = record.exc_info[1] if record.exc_info else None
        return not (isinstance(cause, self.closed) and record.getMessage().startswith(self.MESSAGE))


def _the_context(context: Any) -> Any:
    return context


_prepared = False
_prepare_lock = threading.Lock()


def _run_task(fn: Callable, chunk: list, context: Any, has_context: bool, initializer: Callable[[], None] | None) -> list:
    """A chunk of jobs on a worker: the initializer once per worker process, then ``fn`` on each job."""
    global _prepared
    if initializer is not None and not _prepared:
        with _prepare_lock:
            if not _prepared:
                initializer()
                _prepared = True
    return [fn(job, context) if has_context else fn(job) for job in chunk]


# -- on the client -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def run_on_cluster(
    fn: Callable,
    chunks: Iterable[list],
    *,
    address: str,
    local_workers: int,
    context: Any,
    has_context: bool,
    initializer: Callable[[], None] | None,
    window: int | None,
    chunksize: int,
    ordered: bool,
    on_lost: Callable[[Any], Any] | None,
) -> Iterator[Iterator]:
    """``run_jobs(kind="dask")``: connect, run the jobs as tasks, hand back results; clean up however it ends."""
    chunks = iter(chunks)  # the executor's chunks of ``chunksize`` jobs: one task each
    first = next(chunks, _END)
    if first is _END:  # nothing to do: no cluster needed
        yield iter(())
        return
    _, distributed = _dask()
    with connected(address, local_workers) as client:
        # A task that returns the context, not scattered data: the scheduler keeps
        # what made it and makes it again if every worker holding it dies, while
        # scattered data would be lost with them (and every page with it).
        shared = client.submit(_the_context, context, key=f"context-{uuid.uuid4().hex}", pure=False) if has_context else None
        tasks = _Tasks(client, fn, shared, has_context, initializer, window, max(1, chunksize))
        try:
            yield _results(distributed, tasks, _chained(first, chunks), ordered, on_lost)
        finally:
            tasks.cancel()


_END: Any = object()


def _chained(first: Any, rest: Iterator) -> Iterator:
    yield first
    yield from rest


class _Tasks:
    """The chunks submitted and not yet handed back, and how many jobs there may be in them."""

    def __init__(self, client, fn: Callable, shared, has_context: bool, initializer, window: int | None, chunksize: int) -> None:
        self.client, self.fn, self.shared, self.has_context, self.initializer = client, fn, shared, has_context, initializer
        self.fixed_window = window
        self.chunksize = chunksize
        self.pending: dict[Any, list] = {}  # future → its chunk of jobs
        self.jobs = 0  # jobs in the pending chunks
        self._window = 0
        self._counted_at = float("-inf")
        # the dashboard and the scheduler's logs name tasks after the function
        self.prefix = getattr(fn, "__name__", "job").replace("_", "-")

    @property
    def window(self) -> int:
        """Jobs in flight at most: ``TASKS_PER_THREAD`` chunks per worker thread, re-counted now and then."""
        if self.fixed_window:
            return self.fixed_window
        now = time.monotonic()
        if now - self._counted_at > RECOUNT_SECONDS:
            threads = sum(self.client.nthreads().values())
            self._window, self._counted_at = max(2, TASKS_PER_THREAD * threads) * self.chunksize, now
        return self._window

    def submit(self, chunk: list):
        future = self.client.submit(
            _run_task, self.fn, chunk, self.shared, self.has_context, self.initializer,
            key=f"{self.prefix}-{uuid.uuid4().hex}", pure=False, retries=TASK_RETRIES,
        )
        self.pending[future] = chunk
        self.jobs += len(chunk)
        return future

    def taken(self, future) -> list:
        chunk = self.pending.pop(future)
        self.jobs -= len(chunk)
        return chunk

    def cancel(self) -> None:
        if self.pending:
            self.client.cancel(list(self.pending))
            self.pending.clear()


def _results(distributed, tasks: _Tasks, chunks: Iterator[list], ordered: bool, on_lost) -> Iterator:
    """Results as chunks finish (or in job order); a chunk that kept killing workers is run again job by job."""
    slots: collections.deque[list] = collections.deque()  # ordered: each chunk's futures, in job order
    completed = distributed.as_completed()

    def top_up() -> None:
        while tasks.jobs < tasks.window:
            chunk = next(chunks, _END)
            if chunk is _END:
                return
            future = tasks.submit(chunk)
            if ordered:
                slots.append([future])
            else:
                completed.add(future)

    def outcome(future) -> tuple[list, list]:
        """``(results, [])``, or ``([], futures)`` of the chunk's jobs sent again one by one."""
        chunk = tasks.taken(future)
        try:
            results = future.result()
        except distributed.KilledWorker:
            if len(chunk) > 1:  # which job did it? each alone: the others are then read as usual
                return [], [tasks.submit([job]) for job in chunk]
            if on_lost is None:
                raise
            results = [on_lost(chunk[0])]
        except CancelledError:  # the scheduler went away and took the task with it
            raise ClusterUnavailable(
                "与 Dask 调度器的连接中断，评阅未完成",
                hint="检查调度器是否仍在运行；已评完的页面已经存入成绩库，重新运行同一命令会接着评其余页面",
            ) from None
        future.release()
        top_up()  # keep the workers busy while the caller handles these results
        return results, []

    top_up()
    if ordered:
        while slots:
            slot = slots.popleft()
            while slot:
                results, again = outcome(slot.pop(0))
                slot[0:0] = again
                yield from results
    else:
        for future in completed:  # futures added while iterating are waited for too
            results, again = outcome(future)
            for single in again:
                completed.add(single)
            yield from results
