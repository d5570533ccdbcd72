"""Ctrl-C and SIGTERM: the command stops at once, cleanly, with its own message.

Two halves:

* ``stop_on_signals`` (called by the command line's entry point, never at
  import) makes the first SIGINT or SIGTERM raise ``Interrupted`` in the main
  thread and ignores every later one, so a second Ctrl-C cannot break into
  the clean-up the first one started (closing the store, stopping workers).
* ``WorkerPool`` is the process pool for parallel work (grading). A
  terminal's Ctrl-C goes to the whole process group, so workers
  get it too: left alone, each would print a ``KeyboardInterrupt``
  traceback, and the pool would go on feeding them queued work. Here the
  workers ignore SIGINT from the moment they start, and the parent, when
  anything interrupts it, cancels what is queued and terminates them
  instead of waiting for the queue to drain.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from papergen.core.errors import Interrupted

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_on_signals() -> None:
    """Turn the first SIGINT/SIGTERM into ``Interrupted``; ignore the rest.

    ``Interrupted`` is not a ``KeyboardInterrupt``: Click's standalone mode
    would turn that into "Aborted!" and exit 1 before papergen could report
    it (README: 130 for Ctrl-C, 143 for SIGTERM).
    """
    stopping = False

    def handler(signum: int, frame) -> None:
        nonlocal stopping
        if stopping:  # a second signal that reached Python before the first one's SIG_IGN took effect
            return
        stopping = True
        for number in _STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        raise Interrupted(signum)

    for number in _STOP_SIGNALS:
        # A signal ignored by whoever started papergen (``nohup``, a shell's
        # background job) stays ignored, as the Python interpreter itself does.
        if signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, handler)


@contextlib.contextmanager
def _starting_workers() -> Iterator[None]:
    """Hold off SIGINT and SIGTERM while the pool may start worker processes.

    A started process inherits the signal mask of the thread that started
    it (multiprocessing's own resource tracker is started the same way), so
    with SIGINT blocked here a worker cannot be interrupted while it is still
    importing papergen, before its initializer can ignore SIGINT. And this
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
            for number in _STOP_SIGNALS:
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


def _run_chunk(fn: Callable, chunk: Sequence) -> list:
    return [fn(item) for item in chunk]


def _start_worker(initializer: Callable | None, initargs: tuple) -> None:
    # Stopping is the parent's job: it terminates workers when interrupted.
    # Ignoring also discards a SIGINT that arrived while it was blocked.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if initializer is not None:
        initializer(*initargs)


class WorkerPool:
    """A spawn-based process pool whose workers leave Ctrl-C to the parent.

    Use it as a context manager: leaving the block normally waits for the
    work as ``ProcessPoolExecutor`` does; leaving it with any exception
    (``Interrupted``, an error writing results, a generator closed early)
    cancels queued work and terminates the workers at once. Submit work only
    through ``submit`` and ``map``: they are where workers get started.
    """

    def __init__(self, workers: int, initializer: Callable | None = None, initargs: tuple = ()) -> None:
        # "spawn", not fork: OpenCV and BLAS keep thread pools, and forking a
        # process that has threads can deadlock the child.
        self._others = set(multiprocessing.active_children())
        self._executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker, initargs=(initializer, initargs),
        )

    def submit(self, fn: Callable, *args) -> Future:
        with _starting_workers():
            return self._executor.submit(fn, *args)

    def map(self, fn: Callable, items: Sequence, *, chunksize: int = 1) -> Iterator:
        """``fn(item)`` for every item, in order; all are submitted here, in chunks of ``chunksize``.

        Not ``Executor.map``: closing its iterator cancels the futures from
        this thread while, if the workers were killed (SIGTERM to the group),
        the executor's own thread may be failing the same futures — Python
        3.11 then prints an ``InvalidStateError`` traceback. Here only the
        executor cancels (``stop``).
        """
        chunks = [items[start:start + chunksize] for start in range(0, len(items), chunksize)]
        with _starting_workers():
            futures = [self._executor.submit(_run_chunk, fn, chunk) for chunk in chunks]
        return (result for future in futures for result in future.result())

    def stop(self) -> None:
        """Terminate the workers now; queued work is cancelled, running work lost."""
        # The executor has no public handle on its processes before Python
        # 3.14 (terminate_workers); they are the children started since
        # this pool was made.
        workers = [p for p in multiprocessing.active_children() if p not in self._others]
        for process in workers:
            process.terminate()
        # Dead workers make the executor's manager thread fail what is
        # pending and close its queues, so this returns promptly.
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self._executor.shutdown(wait=True)
        else:
            self.stop()
