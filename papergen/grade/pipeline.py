"""``papergen grade``: scans → pages → readings → scores → the store.

Per-page work is a picklable ``PageJob`` and the pure function
``process_page`` (decode, register, read, score), run by ``core.executor``
in spawned worker processes, on a Dask cluster (``dask=``: a scheduler's
address or ``"local"``) or, with one worker or ``PAPERGEN_EXECUTOR=serial``,
in-process (the serial path for debugging). Only the parent writes to the
store (each page as its result arrives) and moves the progress bar. One bad
file or page becomes an error row and the batch goes on — also a page that
keeps crashing the cluster's workers (``worker-lost``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from papergen.bank.model import LETTERS
from papergen.core.errors import ExitCode
from papergen.core.executor import run_jobs
from papergen.exam.manifest import Manifest, manifest_text, read_manifest
from papergen.grade.ingest import (
    PageJob,
    PageLoadError,
    collect_pages,
    decodes_reduced,
    load_page,
)
from papergen.grade.reader import PageReading, read_sheets, too_coarse
from papergen.grade.settle import iter_settled_sheets, review_queue, score_marked
from papergen.grade.store import (
    PageRecord,
    black_and_white_pages,
    open_store,
    page_notes,
    store_counts,
)


def _tune_process() -> None:
    """Settings for a process that grades pages one after another.

    Each worker uses one core (the pool supplies the parallelism; OpenCV's
    own threads would fight it and spin), and OpenCV logs nothing: every
    problem with a page is reported as that page's error. And every page
    allocates the same few multi-megabyte arrays: glibc serves those with
    fresh ``mmap`` calls whose pages the kernel must fault in and zero each
    time, about a sixth of a page's CPU time. Raising the mmap threshold lets them be reused
    from the heap instead; memory stays bounded by one page's arrays.
    """
    import ctypes
    import ctypes.util

    import cv2

    cv2.setNumThreads(1)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    libc_name = ctypes.util.find_library("c")
    if libc_name and "libc.so" in libc_name:  # glibc only: mallopt is not portable
        try:
            libc = ctypes.CDLL(libc_name)
            m_trim_threshold, m_mmap_threshold = -1, -3
            libc.mallopt(m_mmap_threshold, 256 << 20)
            libc.mallopt(m_trim_threshold, 512 << 20)
        except (OSError, AttributeError):
            pass


def score_reading(reading: PageReading, manifest: Manifest) -> list[tuple]:
    """Marks rows for the store: each question with its bank letters and score.

    A flagged question, or any question on a sheet whose variant is unknown,
    gets no score (``None``) rather than a guess. Absent sheets score nothing.
    """
    variant = manifest.variant(reading.variant) if reading.variant else None
    rows = []
    for q in reading.questions:
        item = variant.items[q.number - 1] if variant else None
        bank_letters = None
        score = None
        if item is not None:
            if q.outcome in ("answer", "blank"):
                marked = frozenset(item.permutation[LETTERS.index(letter)] for letter in q.letters)
                bank_letters = "".join(LETTERS[i] for i in sorted(marked))
                if not reading.absent:
                    # the printed key: corrections made later apply when results are computed (settle)
                    score = score_marked(manifest, item.id, marked, None)
        rows.append(
            (
                q.number, item.id if item else None, item.section if item else None, q.outcome, q.letters,
                bank_letters, q.reason, q.note, q.confidence, json.dumps(list(q.darkness)), score,
            )
        )
    return rows


def process_page(job: PageJob, manifest: Manifest) -> list[PageRecord]:
    """Grade one page: a record per answer sheet on it (runs in a worker; never raises for bad input)."""
    try:
        gray = load_page(job)
    except PageLoadError as exc:
        return _failed(job, str(exc), exc.reason)
    try:
        readings = read_sheets(gray, manifest)
        if decodes_reduced(job) and too_coarse(readings, manifest.sheet):
            readings = _read_finer(job, gray, readings, manifest)
    except Exception as exc:  # noqa: BLE001 - one page a reader bug cannot read must not stop the batch
        return _failed(job, f"papergen 读这一页时出错（{type(exc).__name__}: {exc}）；请人工评阅这一页，并把这个文件报告给开发者", "reader-error")
    return [_record(job, part, reading, manifest) for part, reading in enumerate(readings, start=1)]


def _read_finer(job: PageJob, gray, readings: list[PageReading], manifest: Manifest) -> list[PageReading]:
    """The page read again from its full-size decode, when it was decoded reduced and its sheet came out too small
    (``reader.too_coarse``); the first readings when there is nothing finer, or the finer read refuses a sheet the
    first one read."""
    try:
        finer = load_page(job, finest=True)
    except PageLoadError:
        return readings
    if finer.shape[0] <= gray.shape[0]:
        return readings  # decoded at full size already: nothing finer to read
    again = read_sheets(finer, manifest)
    if readings[0].status == "read" and again[0].status != "read":
        return readings
    return again


def lost_page(job: PageJob) -> list[PageRecord]:
    """The error row of a page whose grading kept killing the cluster's workers (Dask's ``KilledWorker``)."""
    return _failed(
        job,
        "评阅这一页时工作进程多次意外退出（文件可能触发了解码器的缺陷，或工作机内存不足）；这一页已跳过，"
        "请人工评阅，并把这个文件报告给开发者。重新运行同一命令会再试这一页",
        "worker-lost",
    )


def _failed(job: PageJob, message: str, reason: str) -> list[PageRecord]:
    return [PageRecord(job.file_hash, job.page, job.path, "error", message, {"qr": None}, [], [(None, reason, message)])]


def _record(job: PageJob, part: int, reading: PageReading, manifest: Manifest) -> PageRecord:
    values = {
        "sheet_page": reading.sheet_page, "rotation": reading.rotation, "fiducials": reading.fiducials,
        "qr": reading.qr_text, "student_id": reading.student_id, "id_source": reading.id_source,
        "variant": reading.variant, "absent": int(reading.absent),
        "paper_white": reading.levels[0] if reading.levels else None,
        "ink_black": reading.levels[1] if reading.levels else None,
        "empty_box": reading.levels[2] if reading.levels else None,
        "binary": int(reading.binary),
        "frame": json.dumps(reading.frame) if reading.frame is not None else None,
    }
    flags = [(f.number, f.reason, f.message) for f in reading.flags]
    if reading.status != "read":
        flags.append((None, reading.reason or reading.status, reading.message))
    marks = score_reading(reading, manifest) if reading.status == "read" else []
    return PageRecord(job.file_hash, job.page, job.path, reading.status, reading.message, values, marks, flags, part)


def _sent(todo: list[PageJob], dask: str | None, ship_bytes: bool) -> Iterable[PageJob]:
    """The jobs as the workers get them: on a cluster, by absolute path, or carrying their bytes.

    A worker on another machine has another working directory, so a path
    given relative to this one is made absolute (the scan folder must be
    shared under the same absolute path). Shipped bytes are read as the jobs
    are submitted, one window ahead, never all at once.
    """
    if not dask:
        return todo
    if ship_bytes:
        return (job.with_bytes() for job in todo)
    return (replace(job, path=os.path.abspath(job.path)) for job in todo)


@dataclass
class GradeSummary:
    pages_total: int = 0
    pages_new: int = 0
    pages_skipped: int = 0  # already in the store
    read: int = 0
    flagged_pages: int = 0
    rejected: int = 0  # other exam, not a sheet, blank
    errors: int = 0  # pages or files that could not be read
    seconds: float = 0.0
    review: list[str] = field(default_factory=list)  # what needs a person, one line each
    ignored: list[str] = field(default_factory=list)  # files in scanned folders that are not scans
    black_and_white: int = 0  # pages scanned in black and white
    black_and_white_pages: list[str] = field(default_factory=list)  # which: "scan.pdf 第 3 页", by file and page
    notes: list[str] = field(default_factory=list)  # read pages the reader says something about: "scan.pdf 第 3 页：…"
    replaced: int = 0  # earlier readings replaced by a newer scan under the same file name (kept in history)
    no_pages: bool = False  # the input held no page to grade at all

    @property
    def exit_code(self) -> ExitCode:
        if self.errors:
            return ExitCode.graded_with_errors
        if self.no_pages:
            return ExitCode.input_file
        if self.review:
            return ExitCode.graded_with_review
        return ExitCode.ok


def grade(
    exam_json: str | Path,
    scans: Iterable[str | Path],
    results_dir: str | Path,
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    dask: str | None = None,
    ship_bytes: bool = False,
    found_in_folder: bool = False,
) -> GradeSummary:
    """Grade every new page in ``scans`` into ``results_dir``.

    ``progress(done, total)`` is called by the parent after each page.
    ``dask``: a Dask scheduler's address (``tcp://HOST:8786``) or
    ``"local"`` — the pages are graded on that cluster (``workers``: the
    size of a local one). Its workers read the scans by their absolute
    paths, or, with ``ship_bytes``, from bytes sent with each page.
    ``found_in_folder``: ``scans`` are files the caller found in a folder
    (``grade --watch``): one that is not a scan is passed over, as in a folder.
    """
    if dask is not None:
        from papergen.core.cluster import require_dask

        require_dask()  # before the store is opened: nothing to undo
    start = time.perf_counter()
    manifest = read_manifest(Path(exam_json))
    summary = GradeSummary()
    workers = workers or os.cpu_count() or 1
    with open_store(results_dir, manifest_text(manifest), manifest.exam) as db:
        jobs, problems = collect_pages(list(scans), found_in_folder=found_in_folder)
        summary.ignored = [problem.path for problem in problems if problem.reason == "not-a-scan"]
        db.record_ingest(
            scans=list({j.file_hash: (j.path, j.file_hash, j.kind, j.pages) for j in jobs}.values()),
            errors=[(p.path, p.file_hash, p.reason, p.message) for p in problems if p.reason != "not-a-scan"],
            seen=[j.path for j in jobs] + [p.path for p in problems],
        )
        done = db.done_pages()
        todo = [job for job in jobs if (job.file_hash, job.page) not in done]
        summary.pages_total = len(jobs)
        summary.pages_skipped = len(jobs) - len(todo)
        summary.no_pages = not jobs
        db.mark_grading(finished=False)
        named = {(job.file_hash, job.page): job.path for job in todo}
        if progress and todo:
            progress(0, len(todo))
        # Spawned workers that ignore Ctrl-C (or the cluster's); interrupted (even
        # while a page is written here), the queued pages are cancelled and the
        # workers terminated. Pages are written as they finish, in any order:
        # the store's keys make the result the same.
        with run_jobs(process_page, _sent(todo, dask, ship_bytes), kind="dask" if dask else "processes",
                      workers=workers, context=manifest, initializer=_tune_process, chunksize=4, ordered=False,
                      cluster=dask, on_lost=lost_page) as pages:
            for count, records in enumerate(pages, start=1):
                if dask:  # the store names a file as it was given, whatever the worker was told
                    records = [replace(r, path=named[(r.file_hash, r.page)]) for r in records]
                db.write_page(records)  # one transaction: an interrupted page is not written at all
                summary.pages_new += 1
                if progress:
                    progress(count, len(todo))
        db.refresh_sheet_flags()
        db.mark_grading(finished=True)
        counts = store_counts(db.db)
        summary.black_and_white_pages = black_and_white_pages(db.db)
        summary.notes = [f"{label}：{message}" for label, message in page_notes(db.db)]
        # People's decisions settle items: the summary lists only what is still open.
        open_items, flagged_pages = [], 0
        for sheet in iter_settled_sheets(db.db, manifest):  # one sheet's marks in memory at a time
            open_items += sheet.open_items
            flagged_pages += bool(sheet.read and sheet.open_items)
        summary.review = [
            (f"{item.where}" + (f" 第 {item.number} 题" if item.number else "") + "：" if item.where else "") + item.message
            for item in review_queue(db.db, manifest, open_items=open_items)
        ]
    summary.read, summary.rejected, summary.errors = counts.read, counts.rejected, counts.errors
    summary.flagged_pages, summary.black_and_white, summary.replaced = flagged_pages, counts.black_and_white, counts.replaced
    summary.seconds = time.perf_counter() - start
    return summary
