"""Independent jobs run in parallel — worker processes, threads, or one after another.

Grading pages, laying out feedback PDFs and making simulated answer sheets
have the same shape: a list of jobs, one pure function that turns a job into
a result, and a parent that alone writes the results (files, the store) and
moves the progress bar. ``run_jobs`` is the one place that runs such work::

    with run_jobs(process_page, pages, kind="processes", workers=4, context=manifest) as results:
        for records in results:      # in the order of ``pages``
            store.write_page(records)

Kinds
-----
``"processes"``
    For CPU-bound Python work. Workers are *spawned*, never forked: OpenCV
    and BLAS keep thread pools, and a child forked from a process with
    threads can deadlock. ``fn`` must be a top-level function and jobs,
    results and ``context`` picklable; ``context`` is sent once to each
    worker, not with every job.
``"threads"``
    For work that spends its time in C code releasing the GIL (OpenCV, image
    encoders). No pickling: ``fn`` may be a bound method.
``"serial"``
    In the calling process, one job after another. The same results; for
    debugging (breakpoints, profilers, tracebacks that go through the job).
``"dask"``
    On a Dask distributed cluster: ``cluster`` is a scheduler's address
    (``tcp://HOST:8786``) or ``"local"`` (a LocalCluster of ``workers``
    single-threaded worker processes on this machine). The backend lives in
    ``core.cluster`` and needs the optional ``papergen[dask]``. A chunk is
    one task; a chunk that kept killing the workers that ran it (Dask's
    ``KilledWorker``) is sent again job by job, and a job that still does
    yields ``on_lost(job)`` instead of stopping the run, when ``on_lost`` is
    given.

Any kind but ``dask`` becomes serial with ``workers`` ≤ 1, and **setting the environment
variable** ``PAPERGEN_EXECUTOR=serial`` **makes every run serial**, whatever
its caller asked for (``PAPERGEN_EXECUTOR=serial papergen grade …``).

Calling convention: ``fn(job)``, or ``fn(job, context)`` when ``context`` is
given (the data every job shares: the exam manifest, the results). The
optional ``initializer()`` prepares each worker process or thread (in serial
runs, this process) before its first job, e.g. to limit OpenCV's threads.

Results come back in job order (``ordered=True``) or as jobs finish, with at
most ``window`` jobs submitted and not yet handed back, so finished results
never pile up in memory ahead of a slow writer. ``chunksize`` jobs travel to
a worker process together (fewer round trips for small jobs).

Stopping. A terminal's Ctrl-C goes to the whole process group, so worker
processes get it too: they ignore SIGINT from the moment they start, and the
parent (``interrupts.stop_on_signals``) decides. Leaving the ``with`` block
with an exception — ``Interrupted``, a job's error, an error writing a
result — or before every result was taken cancels the queued jobs and
terminates worker processes at once. Threads cannot be killed: ``on_abandon``
(e.g. setting an event the job checks between steps) lets running jobs stop
early instead of finishing.

Nothing here changes process-wide state at import.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from typing import Any, Literal

from papergen.core.errors import ExitCode, PapergenError
from papergen.core.interrupts import STOP_SIGNALS, stop_if_lost

Kind = Literal["processes", "threads", "serial", "dask"]
KINDS: tuple[Kind, ...] = ("processes", "threads", "serial", "dask")
#: Set to ``serial`` to run every job in the calling process (debugging).
EXECUTOR_ENV = "PAPERGEN_EXECUTOR"
#: Chunks in flight per worker when the caller sets no window: enough that a
#: worker never waits for the parent to hand it the next chunk.
CHUNKS_PER_WORKER = 4

_NO_CONTEXT: Any = object()


class ExecutorSettingError(PapergenError):
    """``PAPERGEN_EXECUTOR`` holds something other than ``serial``."""

    exit_code = ExitCode.usage


def effective_kind(kind: Kind, workers: int) -> Kind:
    """The kind a run really uses: ``serial`` with one local worker or when ``PAPERGEN_EXECUTOR=serial``.

    A ``dask`` run with ``workers`` ≤ 1 stays on the cluster: its size is the cluster's.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown executor kind {kind!r}; one of {', '.join(KINDS)}")
    forced = os.environ.get(EXECUTOR_ENV, "").strip().lower()
    if forced not in ("", "serial"):
        raise ExecutorSettingError(
            f"环境变量 {EXECUTOR_ENV}={os.environ[EXECUTOR_ENV]!r} 无效",
            hint="调试时设为 serial（所有任务在本进程中依次运行），平时不设",
        )
    return "serial" if forced == "serial" or (workers <= 1 and kind != "dask") else kind


@contextlib.contextmanager
def run_jobs(
    fn: Callable,
    jobs: Iterable,
    *,
    kind: Kind,
    workers: int,
    context: Any = _NO_CONTEXT,
    initializer: Callable[[], None] | None = None,
    window: int | None = None,
    chunksize: int = 1,
    ordered: bool = True,
    on_abandon: Callable[[], None] | None = None,
    cluster: str | None = None,
    on_lost: Callable[[Any], Any] | None = None,
) -> Iterator[Iterator]:
    """Run ``fn`` on every job; the ``with`` block gets an iterator over the results.

    Parameters
    ----------
    fn
        ``fn(job)`` or, with ``context``, ``fn(job, context)``; a top-level
        function for ``processes``.
    kind, workers
        See the module docstring; ``workers`` is capped at the number of
        jobs when ``jobs`` is a sequence.
    window
        Jobs submitted and not yet handed back, at most (default: a few
        chunks per worker). Ignored by serial runs, which hold one.
    chunksize
        Jobs per round trip to a worker process (threads take one at a time).
    ordered
        Results in job order; otherwise in the order jobs finish.
    on_abandon
        Called once when the run is left early (see "Stopping").
    cluster
        ``dask`` only: the scheduler's address, or ``"local"``.
    on_lost
        ``dask`` only: the result of a job whose task kept killing its
        workers (without it, that job's ``KilledWorker`` is raised).

    A job's exception is raised from the iterator when its result is due
    (in job order when ``ordered``).
    """
    if isinstance(jobs, Sequence):
        workers = min(workers, max(1, len(jobs)))
    kind = effective_kind(kind, workers)
    call = _bind(fn, context)
    if kind == "serial":
        if initializer is not None:
            initializer()
        yield _serial_results(call, jobs)
        return
    if kind == "dask":
        # needs papergen[dask]: loaded only when a run asks for the cluster
        from papergen.core import cluster as dask_cluster

        with dask_cluster.run_on_cluster(
            fn, _chunks(jobs, max(1, chunksize)), address=cluster or dask_cluster.LOCAL, local_workers=workers,
            context=None if context is _NO_CONTEXT else context, has_context=context is not _NO_CONTEXT,
            initializer=initializer, window=window, chunksize=chunksize, ordered=ordered, on_lost=on_lost,
        ) as results:
            yield _stopping_if_lost(results)
        return
    if kind == "threads":
        chunksize = 1
        pool: _Pool = _ThreadPool(workers, initializer)
    else:
        pool = _ProcessPool(workers, initializer, context)
    window = max(1, window or CHUNKS_PER_WORKER * workers * chunksize)
    in_flight = max(1, -(-window // chunksize))  # chunks
    taken_all: list[bool] = []  # becomes [True] when the last result has been handed back
    results = _results(pool, call if kind == "threads" else fn, _chunks(jobs, chunksize), in_flight, ordered, taken_all)
    try:
        yield results
    finally:
        results.close()
        if taken_all:
            pool.shutdown()
        else:
            if on_abandon is not None:
                on_abandon()
            pool.stop()


def _bind(fn: Callable, context: Any) -> Callable:
    return fn if context is _NO_CONTEXT else (lambda job: fn(job, context))


def _chunks(jobs: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for job in jobs:
        chunk.append(job)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _serial_results(call: Callable, jobs: Iterable) -> Iterator:
    for job in jobs:
        stop_if_lost()
        yield call(job)


def _stopping_if_lost(results: Iterator) -> Iterator:
    for result in results:
        stop_if_lost()
        yield result


def _results(
    pool: _Pool, fn: Callable, chunks: Iterator[list], in_flight: int, ordered: bool, taken_all: list[bool]
) -> Iterator:
    """Keep ``in_flight`` chunks submitted; yield their results (job order, or as they finish)."""
    pending: collections.deque[Future] | set[Future] = collections.deque() if ordered else set()
    for chunk in chunks:
        stop_if_lost()  # a Ctrl-C swallowed in a __del__ (interrupts) stops the run here
        future = pool.submit(fn, chunk)
        if ordered:
            pending.append(future)
            if len(pending) >= in_flight:
                yield from pending.popleft().result()
        else:
            pending.add(future)
            if len(pending) >= in_flight:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for finished in done:
                    yield from finished.result()
    if ordered:
        while pending:
            stop_if_lost()
            yield from pending.popleft().result()
    else:
        while pending:
            stop_if_lost()
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for finished in done:
                yield from finished.result()
    taken_all.append(True)


class _Pool:
    executor: Executor

    def submit(self, fn: Callable, chunk: list) -> Future:
        raise NotImplementedError

    def shutdown(self) -> None:
        """All results were taken: nothing is pending, wait for the workers to exit."""
        self.executor.shutdown(wait=True)

    def stop(self) -> None:
        raise NotImplementedError


# -- threads -----------------------------------------------------------------------------------------------


def _run_chunk_here(fn: Callable, chunk: list) -> list:
    return [fn(job) for job in chunk]


class _ThreadPool(_Pool):
    def __init__(self, workers: int, initializer: Callable[[], None] | None) -> None:
        self.executor = ThreadPoolExecutor(max_workers=workers, initializer=initializer)

    def submit(self, fn: Callable, chunk: list) -> Future:
        return self.executor.submit(_run_chunk_here, fn, chunk)

    def stop(self) -> None:
        # Not waiting: a running job finishes (or notices ``on_abandon``) on its own.
        self.executor.shutdown(wait=False, cancel_futures=True)


# -- processes ---------------------------------------------------------------------------------------------

# In a worker process: whether the run has a context, and the context (sent
# once, with the worker's start-up data; ``_NO_CONTEXT`` itself would not
# survive pickling as the same object).
_worker_has_context = False
_worker_context: Any = None


def _start_worker(initializer: Callable[[], None] | None, has_context: bool, context: Any) -> None:
    global _worker_has_context, _worker_context
    # Stopping is the parent's job: it terminates workers when interrupted.
    # Ignoring also discards a SIGINT that arrived while it was blocked.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _worker_has_context, _worker_context = has_context, context
    if initializer is not None:
        initializer()


def _run_chunk_in_worker(fn: Callable, chunk: list) -> list:
    if not _worker_has_context:
        return [fn(job) for job in chunk]
    return [fn(job, _worker_context) for job in chunk]


@contextlib.contextmanager
def _starting_workers() -> Iterator[None]:
    """Hold off SIGINT and SIGTERM while the pool may start worker processes.

    A started process inherits the signal mask of the thread that started
    it (multiprocessing's own resource tracker is started the same way), so
    with SIGINT blocked here a worker cannot be interrupted while it is still
    importing papergen, before ``_start_worker`` can ignore SIGINT. And this
    process must not be interrupted half-way through starting one: a worker
    whose start-up data was cut off prints a traceback. Blocking SIGINT in
    this thread is not enough for that (another thread may take the signal,
    and Python runs the handler here anyway), so in the main thread the
    handlers are swapped for one that only notes the signal, which is raised
    again once the workers are started.
    """
    noted: list[int] = []
    swapped = {}
    previous_mask = None
    try:
        if threading.current_thread() is threading.main_thread():
            for number in STOP_SIGNALS:
                if callable(signal.getsignal(number)):  # not SIG_IGN / SIG_DFL / a handler set outside Python
                    swapped[number] = signal.signal(number, lambda signum, frame: noted.append(signum))
        previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        yield
    finally:
        if previous_mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        for number, handler in swapped.items():
            signal.signal(number, handler)
        if noted:  # now through whatever handles it normally (stop_on_signals: Interrupted)
            signal.raise_signal(noted[0])


class _ProcessPool(_Pool):
    """Spawned workers that leave Ctrl-C to the parent.

    Work is submitted chunk by chunk, never through ``Executor.map``: closing
    its iterator cancels futures from this thread while, if the workers were
    killed (SIGTERM to the group), the executor's own thread may be failing
    the same futures — Python 3.11 then prints an ``InvalidStateError``
    traceback. Here only the executor cancels (``stop``).
    """

    def __init__(self, workers: int, initializer: Callable[[], None] | None, context: Any) -> None:
        self._others = set(multiprocessing.active_children())
        self.executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(initializer, context is not _NO_CONTEXT, None if context is _NO_CONTEXT else context),
        )

    def submit(self, fn: Callable, chunk: list) -> Future:
        # Workers are started inside submit, as they are needed.
        with _starting_workers():
            return self.executor.submit(_run_chunk_in_worker, fn, chunk)

    def stop(self) -> None:
        """Terminate the workers now; queued work is cancelled, running work lost."""
        # The executor has no public handle on its processes before Python
        # 3.14 (terminate_workers); they are the children started since
        # this pool was made.
        for process in multiprocessing.active_children():
            if process not in self._others:
                process.terminate()
        # Dead workers make the executor's manager thread fail what is
        # pending and close its queues, so this returns promptly.
        self.executor.shutdown(wait=True, cancel_futures=True)
