"""Ctrl-C and SIGTERM: the command stops at once, cleanly, with its own message.

Two halves:

* ``stop_on_signals`` (called by the command line's entry point, never at
  import) makes the first SIGINT or SIGTERM raise ``Interrupted`` in the main
  thread and ignores every later one, so a second Ctrl-C cannot break into
  the clean-up the first one started (closing the store, stopping workers).
* ``WorkerPool`` is the process pool for parallel work (grading, cutting
  fonts). A terminal's Ctrl-C goes to the whole process group, so workers
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
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from .exceptions import Interrupted

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
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread while the pool may start worker processes.

    A started process inherits the signal mask of the thread that started it
    (multiprocessing's own resource tracker is started the same way), so a
    worker cannot be interrupted while it is still importing papergen, before
    its initializer can ignore SIGINT. A SIGINT that arrives meanwhile stays
    pending for this process and is delivered as soon as the block ends.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


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
        with _sigint_blocked():
            return self._executor.submit(fn, *args)

    def map(self, fn: Callable, items: Iterable, *, chunksize: int = 1) -> Iterator:
        """Results in order. Every item is submitted here, before the first result is waited for."""
        with _sigint_blocked():
            return self._executor.map(fn, items, chunksize=chunksize)

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
