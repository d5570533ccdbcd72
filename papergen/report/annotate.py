"""``papergen annotate``: each student's answer sheet, marked up, to hand back.

Every read sheet is drawn from its own scan (``grade.views``), upright, with
each question's boxes outlined by what they meant:

- green: marked, and in the key;
- red: marked, not in the key;
- blue: in the key, not marked (the answer the student missed);
- orange (around the whole row): settled by a person (an override);
- grey (around the whole row): still waiting for review, not scored yet.

Boxes rightly left blank get no outline. Above the picture the 准考证号,
name, class, 试卷类型 and the score ("47 / 60 分", "暂定" while anything on the
sheet is still open) are printed as PDF text, and a legend below it, in the
CJK font the other PDFs use (``render.fonts``), so the PDF can be searched.

One PDF per student (``准考证号-姓名.pdf``) or, ``by_class``, one per class
from the roster (``班级.pdf``; students with no class go to ``未分班.pdf``).
Absent candidates and sheets set aside get none. The scans are decoded and
drawn in worker processes (``core.executor``), one job per student; this
process lays out and writes each PDF, atomically and deterministically.

A scan that can no longer be shown (moved, deleted, replaced by another
file) is never a silent gap: the run goes on with the others and
``AnnotateResult.unavailable`` names every page it could not draw; the
command then exits with code 3 (``ExitCode.input_file``).

The score is ``results.student_results``'s, like every other output.

Usage from a script::

    from papergen.report.annotate import write_annotated
    result = write_annotated("results", "annotated", roster="名单.csv", by_class=True)
    print(result.files, result.unavailable)
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus.flowables import Flowable

from papergen.bank.model import LETTERS
from papergen.core import atomic
from papergen.core.executor import run_jobs
from papergen.exam.manifest import Manifest
from papergen.exam.roster import Student, read_roster
from papergen.grade import settle, views
from papergen.grade.results import (
    StudentResult,
    student_results,
)
from papergen.grade.store import (
    key_changes,
    manifest_from_store,
    page_frame,
    reading_store,
)
from papergen.render import fonts
from papergen.report.filenames import safe_filename, safe_stem
from papergen.sheet.code import printable
from papergen.sheet.layout import Rect, SheetGeometry

#: Resolution the sheets are drawn at (the reader's own: every box as it was measured).
PX_PER_MM = 6.0
JPEG_QUALITY = 85
#: Outlines, in pixels at ``PX_PER_MM``: box outlines sit this far outside the printed box, so the pencil shows.
BOX_THICKNESS = 3
ROW_THICKNESS = 3
BOX_GROW_MM = 0.7
ROW_MARGIN_MM = 1.6
NO_CLASS = "未分班"

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 8 * mm
HEADER_HEIGHT = 15 * mm  # two lines of text above the picture
LEGEND_HEIGHT = 7 * mm  # one line below it

#: What each outline means, in the legend's order: (label, BGR colour of the outline).
LEGEND: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("涂对", views.GREEN),
    ("涂错", views.RED),
    ("正确答案（未涂）", views.BLUE),
    ("人工复核改判", views.ORANGE),
    ("待复核，未计分", views.GREY),
)


# --- what to draw: computed in this process from the store -------------------------------


@dataclass(frozen=True)
class SheetPicture:
    """One page of a sheet to draw: where its scan is and what to outline (picklable: sent to a worker)."""

    path: str
    page: int
    part: int
    file_hash: str
    frame: dict | None
    sheet_page: int
    where: str  # "scan.jpg 第 1 页", for messages
    outlines: tuple[tuple[Rect, tuple[int, int, int], int], ...]


@dataclass(frozen=True)
class StudentSheets:
    """A student's sheet pages and what is printed with them: one job."""

    result_id: str  # ``StudentResult.student_id``: whose result this is (feedback finds a student's sheet by it)
    student_id: str  # as shown ("未识别" for a sheet whose 准考证号 could not be read)
    name: str
    klass: str
    variant: str
    score: str  # "47 / 60 分", "47 / 60 分（暂定）"
    pictures: tuple[SheetPicture, ...]
    file_stem: str  # the per-student file name without ".pdf"

    @property
    def caption(self) -> str:
        parts = [f"准考证号 {self.student_id}"]
        if self.name:
            parts.append(f"姓名 {self.name}")
        if self.klass:
            parts.append(f"班级 {self.klass}")
        if self.variant:
            parts.append(f"试卷类型 {self.variant}")
        return "　".join(parts)


def mark_outlines(
    geometry: SheetGeometry, mark: settle.SettledMark, keys: Sequence[str]
) -> list[tuple[Rect, tuple[int, int, int], int]]:
    """The outlines of one question: each box by what it meant, and the row when a person settled it or it is open.

    ``keys`` are the accepted answers in the sheet's letters (usually one;
    none when the sheet has no known variant or the question is voided:
    then no box is right or wrong). Of several accepted answers the one
    nearest to what was marked is shown.
    """
    question = next(q for q in geometry.questions if q.number == mark.number)
    outlines: list[tuple[Rect, tuple[int, int, int], int]] = []
    open_ = mark.score is None and not mark.dropped
    marked = set(mark.letters)
    if not open_ and keys and mark.outcome in ("answer", "blank"):
        key = max((set(k) for k in keys), key=lambda k: (len(k & marked) - len(marked - k), -len(k)))
        for index, (x, y, w, h) in enumerate(question.boxes):
            letter = LETTERS[index]
            colour = None
            if letter in marked:
                colour = views.GREEN if letter in key else views.RED
            elif letter in key:
                colour = views.BLUE
            if colour is not None:
                g = BOX_GROW_MM
                outlines.append(((x - g, y - g, w + 2 * g, h + 2 * g), colour, BOX_THICKNESS))
    row = views.question_region(geometry, mark.number, ROW_MARGIN_MM)
    if open_:
        outlines.append((row, views.GREY, ROW_THICKNESS))
    elif mark.by_hand is not None:
        outlines.append((row, views.ORANGE, ROW_THICKNESS))
    return outlines


def keys_in_sheet_letters(
    manifest: Manifest, book: dict[str, settle.KeyInForce], variant: str | None, number: int
) -> list[str]:
    """The accepted answers of question ``number`` in ``variant``'s letters, after key corrections.

    Empty for an unknown variant or a voided question (nothing to outline as right or wrong).
    """
    if variant is None or variant not in {v.name for v in manifest.variants}:
        return []
    items = manifest.variant(variant).items
    if not 0 < number <= len(items):
        return []
    item = items[number - 1]
    key = book.get(item.id) or settle.printed_key(manifest, item.id)
    if key.void:
        return []
    return ["".join(sorted(LETTERS[item.permutation.index(i)] for i in k)) for k in key.keys]


def score_text(result: StudentResult, full: float) -> str:
    note = "（暂定）" if result.provisional else ""
    return f"{result.total:g} / {full:g} 分{note}"


@dataclass(frozen=True)
class AnnotatePlan:
    """Everything one run draws, gathered from the store before any scan is decoded."""

    manifest: Manifest
    students: list[StudentSheets]  # sorted by 准考证号
    skipped: list[str]  # who gets no picture, and why (absent, set aside)


def plan_annotations(results_dir: str | Path, roster: str | Path | None = None) -> AnnotatePlan:
    """Which sheets to draw, for whom, with what outlines and score."""
    with reading_store(results_dir) as db:
        manifest = Manifest.from_json(json.loads(manifest_from_store(db)))
        sheets = [sheet for sheet in settle.settled_sheets(db, manifest) if sheet.read]
        results = student_results(db, manifest)
        book = settle.key_book(manifest, key_changes(db))
        frames = {sheet.page.key: page_frame(db, sheet.page.key) for sheet in sheets}
    people: dict[str, Student] = {}
    if roster is not None:
        people = {s.student_id: s for s in read_roster(roster, id_digits=manifest.sheet.id_digits)}
    result_of = {where: result for result in results for where in result.pages}
    grouped: dict[int, list[settle.SettledSheet]] = {}
    owners: dict[int, StudentResult] = {}
    skipped: list[str] = []
    for sheet in sheets:
        result = result_of.get(sheet.page.where)
        if sheet.void or result is None:
            skipped.append(f"{sheet.page.where}：已作废，不生成")
            continue
        if sheet.absent:
            skipped.append(f"{printable(result.student_id, 40)}（{sheet.page.where}）：缺考")
            continue
        grouped.setdefault(id(result), []).append(sheet)
        owners[id(result)] = result
    students: list[StudentSheets] = []
    used: set[str] = set()
    for key, group in grouped.items():
        result = owners[key]
        person = people.get(result.student_id) if result.identified else None
        shown_id = printable(result.student_id, 40) if result.identified else "未识别"
        stem = safe_filename(result.student_id, person.name if person else "")[: -len(".pdf")]
        if not result.identified:
            first = group[0].page
            stem = f"未识别准考证号-{safe_stem(Path(first.path).stem, 'scan')}-{first.page}"
        unique, n = stem, 2
        while unique in used:  # the same 准考证号 on two sheets: two files
            unique, n = f"{stem}-{n}", n + 1
        used.add(unique)
        pictures = tuple(
            SheetPicture(
                path=sheet.page.source or sheet.page.path, page=sheet.page.page, part=sheet.page.part, file_hash=sheet.page.file_hash,
                frame=frames[sheet.page.key], sheet_page=sheet.page.sheet_page or 1, where=sheet.page.where,
                outlines=tuple(
                    outline for mark in sheet.marks
                    for outline in mark_outlines(manifest.sheet, mark, keys_in_sheet_letters(manifest, book, sheet.variant, mark.number))
                ),
            )
            for sheet in sorted(group, key=lambda s: (s.page.sheet_page or 1, s.page.where))
        )
        students.append(
            StudentSheets(
                result_id=result.student_id, student_id=shown_id, name=person.name if person else "", klass=person.klass if person else "",
                variant=result.variant or "", score=score_text(result, manifest.total_points), pictures=pictures,
                file_stem=unique,
            )
        )
    students.sort(key=lambda s: (s.student_id, s.file_stem))
    return AnnotatePlan(manifest, students, skipped)


# --- drawing: the scans in worker processes, the PDF here ---------------------------------


@dataclass(frozen=True)
class DrawnPage:
    """One sheet page drawn with its outlines (JPEG), or why it could not be."""

    picture: SheetPicture
    jpeg: bytes | None
    size: tuple[int, int]  # pixels (width, height)
    problem: str = ""  # Chinese; set when ``jpeg`` is None


def draw_pictures(job: StudentSheets, manifest: Manifest) -> list[DrawnPage]:
    """Decode and draw a student's sheet pages (a pure function: runs in a worker process)."""
    drawn = []
    for picture in job.pictures:
        try:
            view = views.sheet_view(
                picture.path, picture.page, picture.part, picture.file_hash, manifest, picture.frame, picture.sheet_page
            )
        except views.ViewUnavailable as exc:
            drawn.append(DrawnPage(picture, None, (0, 0), str(exc)))
            continue
        image = views.render_region(view, None, PX_PER_MM, picture.outlines)
        drawn.append(DrawnPage(picture, views.jpeg_bytes(image, JPEG_QUALITY), (image.shape[1], image.shape[0])))
    return drawn


@lru_cache(maxsize=1)
def _fonts() -> tuple[str, str]:
    return fonts.register_pdf_fonts()


def _pdf_colour(bgr: tuple[int, int, int]) -> colors.Color:
    b, g, r = bgr
    return colors.Color(r / 255, g / 255, b / 255)


@dataclass(frozen=True)
class Placement:
    """Where a drawn sheet page lies on a PDF page: its picture's box in points (origin bottom-left)."""

    x: float
    y: float
    width: float
    height: float
    geometry: SheetGeometry

    def frame_to_pdf(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        """A point of the sheet's frame (mm, y down) → PDF points (y up)."""
        pw, ph = self.geometry.page_size
        ox, oy = self.geometry.origin
        return (self.x + (x_mm + ox) * self.width / pw, self.y + self.height - (y_mm + oy) * self.height / ph)


def placement(geometry: SheetGeometry, x: float, y: float, width: float, height: float) -> Placement:
    """The picture's box inside the box ``(x, y, width, height)``: under the caption, above the legend, centred."""
    pw, ph = geometry.page_size
    room_h = height - HEADER_HEIGHT - LEGEND_HEIGHT
    scale = min(width / pw, room_h / ph)
    w, h = pw * scale, ph * scale
    return Placement(x + (width - w) / 2, y + LEGEND_HEIGHT + (room_h - h) / 2, w, h, geometry)


def draw_sheet(
    canvas: Canvas, page: DrawnPage, student: StudentSheets, geometry: SheetGeometry, title: str,
    box: tuple[float, float, float, float], pages: int,
) -> Placement:
    """Caption, picture and legend of one sheet page inside ``box`` (x, y, width, height; points)."""
    body, bold = _fonts()
    x, y, width, height = box
    top = y + height
    sheet_page = f"　答题卡第 {page.picture.sheet_page} 页" if pages > 1 else ""
    canvas.setFillColor(colors.black)
    fonts.draw_runs(canvas, x, top - 12, f"{title}　答题卡批阅{sheet_page}", bold, 11)
    fonts.draw_runs(canvas, x + width, top - 13, f"总分 {student.score}", bold, 13, anchor="right")
    fonts.draw_runs(canvas, x, top - 26, student.caption, body, 9.5)
    where = placement(geometry, x, y, width, height)
    canvas.drawImage(ImageReader(io.BytesIO(page.jpeg)), where.x, where.y, where.width, where.height)
    canvas.setStrokeColor(colors.HexColor("#BBBBBB"))
    canvas.setLineWidth(0.4)
    canvas.rect(where.x, where.y, where.width, where.height)
    lx = x
    for label, bgr in LEGEND:
        canvas.setStrokeColor(_pdf_colour(bgr))
        canvas.setLineWidth(1.6)
        canvas.rect(lx, y + 2.2 * mm, 3.2 * mm, 3.2 * mm)
        fonts.draw_runs(canvas, lx + 4.6 * mm, y + 2.8 * mm, label, body, 8.5)
        lx += 4.6 * mm + fonts.runs_width(label, body, 8.5) + 5 * mm
    return where


def sheets_pdf(drawn: Sequence[tuple[StudentSheets, list[DrawnPage]]], manifest: Manifest, *, title: str = "") -> bytes:
    """One PDF of every drawable page of the students given, in order (deterministic bytes)."""
    body, _ = _fonts()
    buffer = io.BytesIO()
    exam_title = " ".join(printable(manifest.title, 200).split())
    canvas = Canvas(buffer, pagesize=A4, invariant=1, initialFontName=body, initialFontSize=10, lang="zh-CN")
    canvas.setTitle(title or f"{exam_title} 答题卡批阅")
    canvas.setAuthor("papergen")
    canvas.setCreator("papergen")
    box = (MARGIN, MARGIN, PAGE_WIDTH - 2 * MARGIN, PAGE_HEIGHT - 2 * MARGIN)
    for student, pages in drawn:
        shown = [page for page in pages if page.jpeg is not None]
        for page in shown:
            draw_sheet(canvas, page, student, manifest.sheet, exam_title, box, len(student.pictures))
            canvas.showPage()
    canvas.save()
    return buffer.getvalue()


class SheetFlowable(Flowable):
    """A drawn sheet page filling a frame (the last page of a feedback PDF)."""

    def __init__(self, page: DrawnPage, student: StudentSheets, manifest: Manifest) -> None:
        super().__init__()
        self.page, self.student, self.manifest = page, student, manifest

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width, self.height = available_width, available_height - 1  # a hair under: always fits the frame
        return self.width, self.height

    def draw(self) -> None:
        title = " ".join(printable(self.manifest.title, 200).split())
        draw_sheet(self.canv, self.page, self.student, self.manifest.sheet, title, (0, 0, self.width, self.height),
                   len(self.student.pictures))


# --- the run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnotateResult:
    files: list[Path]
    students: int  # students with at least one page drawn
    pages: int  # sheet pages drawn
    skipped: list[str]  # who got no picture, and why
    unavailable: list[str] = field(default_factory=list)  # pages whose scan could not be drawn, and why


#: Fewer students than this are drawn in this process: starting worker processes costs more.
PARALLEL_FROM = 8


def draw_all(plan: AnnotatePlan, workers: int | None = None):
    """Context manager: the students' drawn pages, in plan order (worker processes when it pays)."""
    workers = workers or os.cpu_count() or 1
    kind = "processes" if len(plan.students) >= PARALLEL_FROM else "serial"
    return run_jobs(draw_pictures, plan.students, kind=kind, workers=workers, context=plan.manifest)


def write_annotated(
    results_dir: str | Path, outdir: str | Path, *, roster: str | Path | None = None, by_class: bool = False,
    workers: int | None = None,
) -> AnnotateResult:
    """Write the annotated sheets of ``results_dir`` into ``outdir``: one PDF per student, or per class.

    Raises
    ------
    InputFileError
        No store in ``results_dir``, or a roster that cannot be read.
    OutputError
        ``outdir`` or a file in it cannot be written.

    Pages whose scan cannot be drawn any more are listed in ``unavailable``
    (the rest are written); the caller decides the exit code.
    """
    outdir = Path(outdir)
    plan = plan_annotations(results_dir, roster)
    atomic.output_folder(outdir)
    _fonts()  # fonts (prepared once per machine) before any worker starts
    files: list[Path] = []
    unavailable: list[str] = []
    classes: dict[str, list[tuple[StudentSheets, list[DrawnPage]]]] = {}
    students = pages = 0
    with draw_all(plan, workers) as results:
        for student, drawn in zip(plan.students, results):
            unavailable += [f"{page.picture.where}（{student.student_id}）：{page.problem}" for page in drawn if page.jpeg is None]
            shown = sum(page.jpeg is not None for page in drawn)
            if not shown:
                continue
            students, pages = students + 1, pages + shown
            if by_class:
                classes.setdefault(student.klass or NO_CLASS, []).append((student, drawn))
                continue
            path = outdir / f"{student.file_stem}.pdf"
            atomic.write_bytes(path, sheets_pdf([(student, drawn)], plan.manifest, title=f"答题卡批阅 {student.caption}"))
            files.append(path)
    stems: set[str] = set()
    for klass in sorted(classes):
        stem = unique = safe_stem(klass, NO_CLASS)
        n = 2
        while unique in stems:  # two classes whose names clean to the same file name
            unique, n = f"{stem}-{n}", n + 1
        stems.add(unique)
        path = outdir / f"{unique}.pdf"
        atomic.write_bytes(path, sheets_pdf(classes[klass], plan.manifest, title=f"答题卡批阅 {klass}"))
        files.append(path)
    return AnnotateResult(files, students, pages, plan.skipped, unavailable)


__all__ = [
    "AnnotateResult",
    "DrawnPage",
    "Placement",
    "SheetFlowable",
    "StudentSheets",
    "draw_pictures",
    "mark_outlines",
    "plan_annotations",
    "placement",
    "sheets_pdf",
    "write_annotated",
]
