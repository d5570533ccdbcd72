"""Ctrl-C and SIGTERM: the command stops at once, cleanly, with its own message.

``stop_on_signals`` (called by the command line's entry point, never at
import) makes the first SIGINT or SIGTERM raise ``Interrupted`` in the main
thread and ignores every later one, so a second Ctrl-C cannot break into the
clean-up the first one started (closing the store, stopping workers).

The other half is in ``executor``: a terminal's Ctrl-C goes to the whole
process group, so worker processes get it too. Left alone, each would print
a ``KeyboardInterrupt`` traceback and the pool would go on feeding them
queued work; there the workers ignore SIGINT from the moment they start, and
the parent, when anything interrupts it, cancels what is queued and
terminates them instead of waiting for the queue to drain.

A raise from a signal handler can be lost. When the signal arrives while the
interpreter runs a ``__del__``, a weakref callback (importlib's module locks
use one, so any import can be the place) or a garbage-collection callback,
the interpreter prints "Exception ignored in …" and goes on; the first signal
has already set the rest to SIG_IGN, so the command would run to its end and
exit 0 as if nobody had pressed Ctrl-C. ``stop_on_signals`` therefore also
installs an ``sys.unraisablehook`` that takes such an ``Interrupted`` back
silently, and ``stop_if_lost`` raises it again where the work reaches its
next step (between fonts, jobs, pages, ``watch``'s and the review server's polls). The entry point ends with the
interrupted exit code even if no step comes before the command finishes.
"""

from __future__ import annotations

import signal
import sys

from papergen.core.errors import Interrupted

#: The signals that stop a command (Ctrl-C; kill, a service manager, a job's time limit).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: The signal whose ``Interrupted`` the interpreter swallowed, until it is raised again
#: (filled only by the hook ``stop_on_signals`` installs; empty in every other process).
_lost: list[int] = []


def stop_if_lost() -> None:
    """Raise again the ``Interrupted`` a ``__del__`` or callback swallowed, if any.

    Called between the steps of long work (the executor between jobs, font
    preparation between fonts, ``watch`` and the review server between
    polls) and by ``cli.main`` when the command returns; costs a list test
    when nothing was lost.
    """
    if _lost:
        raise Interrupted(_lost.pop())


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
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        raise Interrupted(signum)

    for number in STOP_SIGNALS:
        # A signal ignored by whoever started papergen (``nohup``, a shell's
        # background job) stays ignored, as the Python interpreter itself does.
        if signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, handler)

    report_unraisable = sys.unraisablehook

    def take_back_swallowed_stop(unraisable) -> None:
        if isinstance(unraisable.exc_value, Interrupted):
            _lost.append(unraisable.exc_value.signum)  # no "Exception ignored" traceback: the stop goes on
            return
        report_unraisable(unraisable)

    sys.unraisablehook = take_back_swallowed_stop
