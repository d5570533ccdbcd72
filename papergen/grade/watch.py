"""``papergen grade --watch``: grade the files a scanner writes into a folder, as they are finished.

The folders are looked at every ``POLL_SECONDS``. A file is graded only once
it is finished: its size and modification time have not changed for
``settle`` seconds (``SETTLE_SECONDS`` unless told), so a file the scanner or
a network copy is still writing is never read half-written. A file that has
stopped changing but still looks cut off — a JPEG without its end marker, a
PNG without its last chunk, a PDF without ``%%EOF`` — is given
``INCOMPLETE_GRACE_SECONDS`` more (a stalled copy resumes); only after that
is it graded, and reported as the truncated file it is, not lost.

Each round of finished files is one ordinary ``pipeline.grade`` call on
those files: the store skips pages it already holds (a file copied in twice
is read once), a file saved again under the same name replaces its earlier
reading, and an interrupted round resumes on the next run. Files that are
not scans (``truth.csv``, notes) are passed over as in any folder. A file
that changes after it was graded is graded again (a rescan).

The loop ends with Ctrl-C (``Interrupted``: exit 130, after the round being
graded is cut short as in ``grade``) or once no file has appeared or changed
for ``idle`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from papergen.core.errors import ExitCode
from papergen.core.interrupts import stop_if_lost
from papergen.grade.ingest import sniff_scan
from papergen.grade.pipeline import GradeSummary, grade

#: Seconds a file's size and modification time must stay the same before it is read.
SETTLE_SECONDS = 2.0
#: Seconds between looks at the folders.
POLL_SECONDS = 0.5
#: Further seconds a settled file that looks cut off is left alone before it is graded anyway.
INCOMPLETE_GRACE_SECONDS = 30.0


@dataclass
class _Seen:
    signature: tuple[int, int]  # (size, mtime_ns)
    since: float  # when this signature was first seen


@dataclass
class WatchSummary:
    """The running totals of a watch (the store's, after the latest round)."""

    rounds: int = 0
    pages_new: int = 0
    last: GradeSummary | None = None  # the latest round's summary (store-wide counts)
    ignored: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """As ``grade``'s over the whole store: 11 with unreadable pages or files, 10 with items to review, else 0."""
        if self.last is not None and self.last.errors:
            return ExitCode.graded_with_errors
        if self.last is not None and self.last.review:
            return ExitCode.graded_with_review
        return ExitCode.ok


def finished_looking(path: Path) -> bool:
    """Whether a scan file's bytes end as a complete file of its kind does (other kinds: yes)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(2048)
            kind = sniff_scan(head)
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 1024))
            tail = handle.read()
    except OSError:
        return True  # let grading report it
    if kind == "jpeg":
        return tail.rstrip(b"\x00").endswith(b"\xff\xd9")
    if kind == "png":
        return b"IEND" in tail[-16:]
    if kind == "pdf":
        return b"%%EOF" in tail
    return True


class FolderWatch:
    """Which files in the folders are new or changed and finished (call ``settled`` each round)."""

    def __init__(self, folders: Sequence[Path], settle: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.folders = list(folders)
        self.settle = settle
        self.clock = clock
        self.seen: dict[Path, _Seen] = {}
        self.graded: dict[Path, tuple[int, int]] = {}  # path → signature it was graded at
        self.last_change = clock()

    def settled(self) -> list[Path]:
        """Files finished and not yet graded at their current size and time, oldest first."""
        now = self.clock()
        ready: list[tuple[float, Path]] = []
        present = set()
        for folder in self.folders:
            for path in folder.rglob("*"):
                if path.name.startswith(".") or not path.is_file():
                    continue
                try:
                    stat = path.stat()
                except OSError:  # gone meanwhile
                    continue
                present.add(path)
                signature = (stat.st_size, stat.st_mtime_ns)
                if self.graded.get(path) == signature:
                    continue
                seen = self.seen.get(path)
                if seen is None or seen.signature != signature:
                    self.seen[path] = _Seen(signature, now)
                    self.last_change = now
                    continue
                waited = now - seen.since
                if waited < self.settle:
                    continue
                if waited < self.settle + INCOMPLETE_GRACE_SECONDS and (stat.st_size == 0 or not finished_looking(path)):
                    continue  # a copy that stalled may go on: wait a while longer
                ready.append((seen.since, path))
        for gone in set(self.seen) - present:
            del self.seen[gone]
        return [path for _, path in sorted(ready)]

    def mark_graded(self, paths: Sequence[Path]) -> None:
        for path in paths:
            seen = self.seen.pop(path, None)
            if seen is not None:
                self.graded[path] = seen.signature

    @property
    def waiting(self) -> int:
        """Files seen but not yet finished."""
        return len(self.seen)


def watch(
    exam_json: str | Path,
    folders: Sequence[str | Path],
    results_dir: str | Path,
    *,
    idle: float | None = None,
    settle: float = SETTLE_SECONDS,
    poll: float = POLL_SECONDS,
    on_round: Callable[[WatchSummary, GradeSummary], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    **grading,
) -> WatchSummary:
    """Grade finished files in ``folders`` round after round until ``idle`` seconds pass without a new one.

    ``idle=None`` watches until interrupted. ``grading`` goes to each
    ``pipeline.grade`` call (``workers``, ``dask``, ``ship_bytes``);
    ``on_round(totals, round)`` is called after each round.
    """
    hot = FolderWatch([Path(folder) for folder in folders], settle)
    summary = WatchSummary()
    while True:
        stop_if_lost()  # a Ctrl-C swallowed in a __del__ (interrupts) ends the watch between polls too
        ready = hot.settled()
        if ready:
            round_summary = grade(exam_json, ready, results_dir, progress=progress, found_in_folder=True, **grading)
            hot.mark_graded(ready)
            summary.rounds += 1
            summary.pages_new += round_summary.pages_new
            summary.last = round_summary
            summary.ignored += [path for path in round_summary.ignored if path not in summary.ignored]
            if on_round is not None:
                on_round(summary, round_summary)
            continue  # more may have finished meanwhile
        if idle is not None and not hot.waiting and hot.clock() - hot.last_change >= idle:
            return summary
        time.sleep(poll)
