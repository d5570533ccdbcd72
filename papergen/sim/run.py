"""Simulated answer sheets: filled in by a cohort, delivered by a scanner or a phone.

``simulate`` makes test input for the grader with a known answer. A cohort
of students answers the exam with a real topic pattern (``cohort``); each
student's answers are pencilled into the real ``sheet.pdf`` — rasterized
once, never re-drawn, so the QR code, boxes and fiducials are exactly what
was printed (``marks``) — and each page is then degraded the way it reaches
the grader: a clean raster, a flatbed or copier scan, a phone photo, or a
harsh fax-like copy turned on its side, or a scan that lost corner squares
(``journeys``). The levels after ``cut`` (``HARD_LEVELS``) are as hard as
what graders meet: a messy hand (``marks``: light, partial, unevenly pressed
fills, spill, strong erasure residue, fine light ticks) delivered by a
scanner, a copier, as a folded sheet, a fax, a phone, or a phone photo with
a shadow band across it. ``truth.csv`` records what a careful person reads on every
page and what befell its corner squares (``output``).

Sheets are independent jobs, made on worker threads by ``core.executor``
(OpenCV and the encoders release the GIL); this thread writes every file,
in sheet order, so a seed gives the same bytes however the work was spread
(``PAPERGEN_EXECUTOR=serial`` makes them one after another).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from papergen.core import atomic
from papergen.core.errors import InputFileError, OutputError
from papergen.core.executor import run_jobs
from papergen.exam.manifest import Manifest, read_manifest
from papergen.sim.cohort import (
    STREAM_DEVICE,
    STREAM_MARKUP,
    STREAM_PEN,
    Response,
    SimulateOptionError,
    Student,
    answer_sheet,
    make_cohort,
    random_stream,
)
from papergen.sim.journeys import (
    CURLED_BOW,
    CURLED_LIFT,
    LOW_QUALITY,
    TILT_DEGREES,
    TURN_DEGREES,
    Delivered,
    degrade_app,
    degrade_copier,
    degrade_cut,
    degrade_fax,
    degrade_fold,
    degrade_harsh,
    degrade_none,
    degrade_photo,
    degrade_scan,
    degrade_shadow,
)
from papergen.sim.marks import (
    FADE_SHARE,
    MM_PER_INCH,
    DoubtfulTrace,
    PenLine,
    faded,
    fiducial_corners_px,
    fill_page,
    on_tinted_paper,
    pen_over_rows,
    printed_light,
    rect_to_px,
)
from papergen.sim.output import (
    TRUTH_NAME,
    PageSink,
    StoredPage,
    TruthRow,
    encode_image,
    pdf_image_data,
    remove_stale,
    truth_csv,
    truth_row,
)

#: Levels pencilled by the messy hand, each with its device: ``scan-messy`` a
#: flatbed or copier scan as ``scan``; ``copier`` a contrast-pushed photocopy;
#: ``fold`` a sheet folded in three or in half; ``fax`` 1-bit at 150–204 dpi;
#: ``phone-messy`` a phone photo as ``photo`` at JPEG quality down to 45;
#: ``harsh-shadow`` a 5–9 MP phone photo with a shadow band across the page; ``app`` a phone photo a
#: scanner app cut out, whitened and "enhanced" (its black point raised); ``pen`` a scan as ``scan`` of
#: sheets a pen went over before grading (a teacher's X across a row, a row struck out: ``marks.pen_over_rows``);
#: ``light-print`` a scan as ``scan`` of sheets printed light (``marks.printed_light``: 45–75 % of the toner);
#: ``tinted`` a scan as ``scan`` of sheets printed on coloured paper (``marks.on_tinted_paper``), half of them
#: in the scanner's black-and-white mode (``TINTED_BW_SHARE``); ``faded`` the same of pencilled sheets faded
#: to ``marks.FADE_SHARE`` of their contrast (a copy of a copy, a pale fax, a scan turned bright: ``marks.faded``);
#: ``curled`` a phone photo as ``photo`` of a sheet that does not lie flat (``journeys.CURLED_BOW``, ``CURLED_LIFT``);
#: ``tilted`` a phone photo as ``photo`` taken at an angle (``journeys.TILT_DEGREES``: the far edge narrower);
#: ``turned`` a phone photo as ``photo`` with the page turned 10–40° in the picture (``journeys.TURN_DEGREES``).
HARD_LEVELS = ("scan-messy", "copier", "fold", "fax", "phone-messy", "harsh-shadow", "app", "pen", "light-print", "tinted",
               "faded", "curled", "tilted", "turned")
#: Coloured and faded paper are where a black-and-white scan matters: they are scanned so this often (other scans 0.3).
TINTED_BW_SHARE = 0.5
DEGRADE_LEVELS = ("none", "scan", "photo", "harsh", "cut", *HARD_LEVELS)
FORMATS = ("jpg", "png", "pdf")
#: A doubtful mark that leaves less black than this (mm²) on a black-and-white
#: page was erased by the device: a few specks, like its own line noise, that
#: no person could read as a mark (``_Run.erased_by_device``). On simulated fax
#: pages, ticks left 0–0.1 mm² (nothing to see), 0.28 (a speck and a short dash),
#: then 0.43 (three specks in a row) and 0.6 mm² and more (a broken but readable tick).
ERASED_MM2 = 0.3
SHEET_PDF = "sheet.pdf"
DEFAULT_DPI = 300
#: Sheets made at once on worker threads (the image steps release the GIL).
WORKERS = max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class SimulationResult:
    outdir: Path
    files: tuple[Path, ...]  # the images, or the one PDF
    truth: Path
    sheets: int
    pages: int  # page images delivered
    absent: int
    duplicate_ids: int
    ambiguous: int  # deliberately doubtful questions
    seconds: float
    violations: int = 0  # sheets the invigilator marked 违纪
    rows: tuple[TruthRow, ...] = field(repr=False, default=())


def simulate(
    exam_json: str | Path,
    n: int,
    outdir: str | Path,
    *,
    seed: int = 0,
    degrade: str = "scan",
    fmt: str = "jpg",
    dpi: float | None = None,
    absent: int = 0,
    duplicate_ids: int = 0,
    doubtful_rate: float = 0.01,
    violations: int = 0,
    progress: Callable[[str], None] | None = None,
) -> SimulationResult:
    """Write ``n`` filled, degraded answer sheets and their ``truth.csv`` into ``outdir``.

    Parameters
    ----------
    exam_json
        The exam manifest; ``sheet.pdf`` must be beside it.
    degrade
        ``none`` | ``scan`` | ``photo`` | ``harsh`` | ``cut`` (see the ``degrade_*`` functions in ``journeys``),
        or one of ``HARD_LEVELS`` (a messy hand, then a scanner, copier, fold, fax, phone or shadowed photo).
    fmt
        ``jpg`` / ``png``: ``sheet-0001.jpg`` … (``sheet-0001-2.jpg`` for page 2
        of a multi-page sheet); ``pdf``: one multi-page ``scans.pdf``.
    dpi
        Resolution the sheet is rasterized and pencilled at (default 300);
        when given, also the scan and fax output resolution (otherwise
        drawn per sheet). Photos are 8–12 MP whatever it is.
    absent, duplicate_ids
        Sheets marked 缺考 by the invigilator; sheets bubbling another sheet's 准考证号.
    violations
        Sheets (of students who sat the exam, with their own 准考证号) the
        invigilator marked 违纪; an exam.json whose sheet has no 违纪 box gets none.
    doubtful_rate
        Chance per question of a deliberately doubtful mark.
    """
    start = time.perf_counter()
    say = progress or (lambda message: None)
    _check_options(n, degrade, fmt, dpi, absent, duplicate_ids, doubtful_rate, violations)
    exam_json, outdir = Path(exam_json), Path(outdir)
    manifest = read_manifest(exam_json)
    sheet_pdf = exam_json.parent / SHEET_PDF
    if not sheet_pdf.is_file():
        raise InputFileError(f"找不到答题卡 {SHEET_PDF}（应与 exam.json 在同一文件夹）", path=sheet_pdf,
                             hint="用 papergen build 生成的考试文件夹")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"无法创建输出文件夹：{exc.strerror}", path=outdir) from None
    geometry = manifest.sheet
    base_dpi = float(dpi or DEFAULT_DPI)
    blanks = rasterize_sheet(sheet_pdf, base_dpi)
    if len(blanks) != geometry.pages:
        raise InputFileError(f"答题卡 PDF 有 {len(blanks)} 页，考试清单说是 {geometry.pages} 页", path=sheet_pdf)
    if violations and geometry.header.violation is None:
        raise SimulateOptionError("这份 exam.json 的答题卡没有违纪标记框（由旧版 papergen 生成），不能模拟违纪")
    students = make_cohort(manifest, n, seed, absent=absent, duplicate_ids=duplicate_ids, violations=violations)
    run = _Run(manifest, blanks, base_dpi, seed, degrade, fmt, dpi, doubtful_rate)
    truth = outdir / TRUTH_NAME
    # An earlier run's truth.csv stops being true as soon as its sheets start
    # being replaced: a run interrupted half-way (Ctrl-C, kill) must leave no
    # truth.csv at all rather than one that describes other sheets.
    try:
        truth.unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"无法删除旧的标准答案：{exc.strerror}", path=truth) from None
    rows: list[TruthRow] = []
    ambiguous = 0
    # Interrupted (Ctrl-C) or failed, queued sheets are dropped and the ones
    # being drawn stop at their next page (``run.stopped``): threads cannot be
    # killed, so stopping takes one page's work at most (about a second for a
    # 12-megapixel photo), not the whole queue's. At most two sheets per
    # thread wait, encoded, ahead of the writer.
    with (
        run_jobs(run.sheet, students, kind="threads", workers=WORKERS, window=2 * WORKERS,
                 on_abandon=run.stopped.set) as sheets,
        contextlib.ExitStack() as stack,
    ):
        sink = PageSink(outdir, fmt, stack)
        for student, (responses, pages) in zip(students, sheets):
            ambiguous += sum(1 for r in responses if r.doubt)
            for page in pages:
                name, index = sink.add(page, student.sheet, geometry.pages)
                rows.append(truth_row(name, index, page.sheet_page, student, responses, geometry, page.rotation,
                                      page.journey, page.erased))
            if student.sheet % 50 == 0:
                say(f"已生成 {student.sheet}/{n} 张答题卡")
        sink.finish()
        files = sink.files
    atomic.write_bytes(truth, truth_csv(rows, geometry).encode("utf-8-sig"))
    remove_stale(outdir, {p.name for p in files})
    return SimulationResult(
        outdir=outdir, files=tuple(files), truth=truth, sheets=n, pages=len(rows), absent=absent,
        duplicate_ids=duplicate_ids, ambiguous=ambiguous, seconds=time.perf_counter() - start, rows=tuple(rows),
        violations=violations,
    )


class _Stopped(Exception):
    """A sheet abandoned half-way because the run was interrupted (nobody reads it)."""


class _Run:
    """What every sheet of one run shares; ``sheet`` makes one student's pages.

    Sheets are independent (each has its own random streams), so they can be
    made on worker threads — OpenCV and the encoders release the GIL — and
    come out identical whatever the order.
    """

    def __init__(self, manifest: Manifest, blanks: list[np.ndarray], dpi_in: float, seed: int, degrade: str,
                 fmt: str, dpi_out: float | None, doubtful_rate: float) -> None:
        self.manifest, self.blanks, self.dpi_in, self.seed = manifest, blanks, dpi_in, seed
        self.degrade, self.fmt, self.dpi_out, self.doubtful_rate = degrade, fmt, dpi_out, doubtful_rate
        g = manifest.sheet
        self.keep_px = fiducial_corners_px(g, dpi_in)
        s = g.fiducial_size
        self.fiducials_px = [rect_to_px((cx - s / 2, cy - s / 2, s, s), g, dpi_in) for cx, cy in g.fiducial_centers()]
        self.qr_px = rect_to_px(g.header.qr, g, dpi_in)
        self.stopped = threading.Event()  # set when the run is interrupted: workers give up at the next page

    def sheet(self, student: Student) -> tuple[list[Response], list[StoredPage]]:
        responses = answer_sheet(self.manifest, student, self.seed, self.doubtful_rate)
        pages = []
        for number, blank in enumerate(self.blanks, start=1):
            if self.stopped.is_set():
                raise _Stopped()
            pen = random_stream(self.seed, STREAM_PEN, student.sheet, number)
            hand = "messy" if self.degrade in HARD_LEVELS else "neat"
            if self.degrade == "light-print":  # this sheet came off a printer low on toner
                blank = printed_light(blank, random_stream(self.seed, STREAM_MARKUP, student.sheet, number))
            if self.degrade == "tinted":  # coloured paper (pencil darkens what it covers by a share: tinted alike)
                blank = on_tinted_paper(blank, random_stream(self.seed, STREAM_MARKUP, student.sheet, number))
            doubtful: list[DoubtfulTrace] = []
            marked = fill_page(blank, self.manifest.sheet, number, student, responses, pen, self.dpi_in, hand,
                               doubtful=doubtful)
            lined = ()
            if self.degrade == "faded":  # pencil and print faded alike (the device's own erasing sees the same page)
                share = random_stream(self.seed, STREAM_MARKUP, student.sheet, number).uniform(*FADE_SHARE)
                blank, marked = faded(blank, share), faded(marked, share)
            if self.degrade == "pen":
                marked, lined = pen_over_rows(marked, self.manifest.sheet, number,
                                              random_stream(self.seed, STREAM_MARKUP, student.sheet, number), self.dpi_in)
            page = self.deliver(marked, random_stream(self.seed, STREAM_DEVICE, student.sheet, number))
            erased = self.erased_by_device(blank, marked, page, doubtful, student.sheet, number) if page.binary else ()
            payload = pdf_image_data(page) if self.fmt == "pdf" else encode_image(page, self.fmt)
            h, w = page.image.shape[:2]
            journey = ";".join(filter(None, (page.journey, pen_journey(lined))))
            pages.append(StoredPage(number, page.rotation, payload, w, h, page.dpi, page.image.ndim == 3, page.binary,
                                     journey, erased))
        return responses, pages

    def erased_by_device(self, blank: np.ndarray, marked: np.ndarray, page: Delivered,
                         doubtful: list[DoubtfulTrace], sheet: int, number: int) -> tuple[int, ...]:
        """The questions whose doubtful marks the device left no trace of (black-and-white pages only).

        Each doubtful question's marks are lifted off the pencilled page
        (the printed page put back wherever their graphite lay) and the page
        delivered again by the same device with the same random draws; the
        black pixels the two deliveries differ by are all the mark left.
        Under ``ERASED_MM2`` of them (a speck or two, as the device's own
        line noise makes) is nothing a person could see: truth.csv records
        the question as erased by the device rather than a mark missed.
        """
        erased = []
        for question in sorted({trace.number for trace in doubtful}):
            without = marked.copy()
            for trace in (t for t in doubtful if t.number == question):
                h, w = trace.alpha.shape
                y0, x0 = max(trace.y0, 0), max(trace.x0, 0)
                y1, x1 = min(trace.y0 + h, marked.shape[0]), min(trace.x0 + w, marked.shape[1])
                inked = trace.alpha[y0 - trace.y0:y1 - trace.y0, x0 - trace.x0:x1 - trace.x0] > 0
                without[y0:y1, x0:x1][inked] = blank[y0:y1, x0:x1][inked]
            again = self.deliver(without, random_stream(self.seed, STREAM_DEVICE, sheet, number))
            left = int(np.count_nonzero((page.image < 128) & (again.image >= 128)))
            if left / (page.dpi / MM_PER_INCH) ** 2 < ERASED_MM2:
                erased.append(question)
        return tuple(erased)

    def deliver(self, image: np.ndarray, rng: np.random.Generator) -> Delivered:
        if self.degrade == "none":
            return degrade_none(image, self.dpi_in)
        if self.degrade == "scan":
            return degrade_scan(image, rng, dpi_in=self.dpi_in, dpi_out=self.dpi_out, keep_px=self.keep_px)
        if self.degrade == "photo":
            return degrade_photo(image, rng)
        if self.degrade in ("scan-messy", "pen", "light-print"):
            return degrade_scan(image, rng, dpi_in=self.dpi_in, dpi_out=self.dpi_out, keep_px=self.keep_px)
        if self.degrade in ("tinted", "faded"):
            return degrade_scan(image, rng, dpi_in=self.dpi_in, dpi_out=self.dpi_out, keep_px=self.keep_px,
                                bw_share=TINTED_BW_SHARE)
        if self.degrade == "copier":
            return degrade_copier(image, rng, dpi_in=self.dpi_in, dpi_out=self.dpi_out, keep_px=self.keep_px)
        if self.degrade == "fold":
            return degrade_fold(image, rng, dpi_in=self.dpi_in, dpi_out=self.dpi_out, keep_px=self.keep_px)
        if self.degrade == "fax":
            return degrade_fax(image, rng, dpi_in=self.dpi_in, dpi_out=self.dpi_out, keep_px=self.keep_px)
        if self.degrade == "phone-messy":
            return degrade_photo(image, rng, quality=LOW_QUALITY)
        if self.degrade == "curled":
            return degrade_photo(image, rng, bow=CURLED_BOW, lift=CURLED_LIFT)
        if self.degrade == "tilted":
            return degrade_photo(image, rng, tilt=TILT_DEGREES)
        if self.degrade == "turned":
            return degrade_photo(image, rng, turn=TURN_DEGREES)
        if self.degrade == "harsh-shadow":
            return degrade_shadow(image, rng)
        if self.degrade == "app":
            return degrade_app(image, rng, dpi_in=self.dpi_in, keep_px=self.keep_px)
        if self.degrade == "cut":
            return degrade_cut(image, rng, dpi_in=self.dpi_in, dpi_out=self.dpi_out, keep_px=self.keep_px,
                               fiducials_px=self.fiducials_px, qr_px=self.qr_px)
        return degrade_harsh(image, rng, dpi_in=self.dpi_in, dpi_out=self.dpi_out, keep_px=self.keep_px,
                             fiducials_px=self.fiducials_px)


def pen_journey(lines: Sequence[PenLine]) -> str:
    """``truth.csv``'s journey entry for a page's pen lines: "pen:12,40" (the rows a pen crossed), "" for none."""
    rows = sorted({line.number for line in lines})
    return "pen:" + ",".join(map(str, rows)) if rows else ""


def rasterize_sheet(sheet_pdf: Path, dpi: float) -> list[np.ndarray]:
    """Every page of the printed blank sheet as ``(H, W)`` uint8 at ``dpi``."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(sheet_pdf))
    except (pdfium.PdfiumError, OSError) as exc:
        raise InputFileError(f"答题卡 PDF 无法打开：{exc}", path=sheet_pdf) from None
    try:
        return [page.render(scale=dpi / 72.0, grayscale=True).to_numpy().copy() for page in document]
    finally:
        document.close()


def _check_options(
    n: int, degrade: str, fmt: str, dpi: float | None, absent: int, duplicate_ids: int, doubtful_rate: float,
    violations: int = 0,
) -> None:
    if degrade not in DEGRADE_LEVELS:
        raise SimulateOptionError(f"未知的退化程度 {degrade!r}，可选：{'、'.join(DEGRADE_LEVELS)}")
    if fmt not in FORMATS:
        raise SimulateOptionError(f"未知的输出格式 {fmt!r}，可选：{'、'.join(FORMATS)}")
    if n < 1:
        raise SimulateOptionError("答题卡张数至少为 1")
    if dpi is not None and not 50 <= dpi <= 1200:
        raise SimulateOptionError(f"分辨率 {dpi:g} dpi 不合理，应在 50–1200 之间")
    if absent < 0 or duplicate_ids < 0:
        raise SimulateOptionError("缺考数和重复准考证号数不能为负")
    if absent > n:
        raise SimulateOptionError(f"缺考 {absent} 张多于总数 {n} 张")
    if duplicate_ids and absent + duplicate_ids >= n:
        raise SimulateOptionError(
            f"重复准考证号 {duplicate_ids} 张需要另有未缺考的答题卡可供重复（共 {n} 张，缺考 {absent} 张）"
        )
    if violations < 0:
        raise SimulateOptionError("违纪数不能为负")
    if violations > n - absent - 2 * duplicate_ids:  # each duplicate shares the number of one other sheet
        raise SimulateOptionError(
            f"违纪 {violations} 张多于未缺考、准考证号不重复的答题卡（共 {n} 张，缺考 {absent} 张，重复 {duplicate_ids} 张）"
        )
    if not 0 <= doubtful_rate <= 1:
        raise SimulateOptionError("存疑比例应在 0 到 1 之间")
