"""Reading one scanned page of an answer sheet: a pure function of its pixels.

``read_sheets(gray, manifest)`` finds every answer sheet on the page (two for
a copier's 2-up page), checks each one's QR code against the exam and the
build that printed it, measures every box (``bubbles``), and decides
identity (准考证号, 试卷类型, 缺考) and each question. It returns one
``PageReading`` per sheet with every number it measured, so the store keeps
the evidence next to the decision; it never raises for a bad page — a page
that is not a sheet, or of another exam or build, is a reading with that
status. Values read from a QR code are data from a scan: they are checked
(the 准考证号's digits and length) before anything uses or prints them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from papergen.grade import bubbles
from papergen.exam.manifest import Manifest
from papergen.grade.registration import (
    PX_PER_MM, Registration, RegistrationError, decode_qr, flat_field, register, register_all, warp_to_page,
)
from papergen.sheet.code import SheetCode, printable
from papergen.sheet.layout import SheetGeometry

DIGITS = "0123456789"
#: Grey levels this close to 0 or 255 count as the extremes of a 1-bit scan.
BW_EXTREME = 8


@dataclass(frozen=True)
class QuestionReading:
    number: int
    outcome: str  # answer | blank | flagged
    letters: str  # display letters marked (variant lettering)
    reason: str  # flag slug or ""
    confidence: float
    darkness: tuple[float, ...]
    note: str = ""


@dataclass(frozen=True)
class Flag:
    number: int | None  # question number, or None for the sheet itself
    reason: str  # slug
    message: str  # Chinese, for the review list


@dataclass
class PageReading:
    status: str  # read | rejected | not-a-sheet | blank-page
    message: str = ""
    reason: str = ""  # why a page was not read, as a slug (other-exam, other-build, …); "" → the status
    sheet_page: int | None = None
    rotation: int | None = None
    fiducials: int | None = None
    qr_text: str | None = None
    student_id: str | None = None
    id_source: str | None = None  # bubbles | qr
    variant: str | None = None
    absent: bool = False
    questions: list[QuestionReading] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    levels: tuple[float, float, float] | None = None  # white, black, empty box
    binary: bool = False  # scanned in black and white: light pencil may be lost


def is_black_and_white(gray: np.ndarray) -> bool:
    """True for a thresholded (black-and-white) scan, even after JPEG compression.

    Parameters
    ----------
    gray : (H, W) uint8

    A grayscale scan has mid-tones everywhere ink meets paper and noise in
    the paper itself; a 1-bit page has neither, and saving it as JPEG only
    rings around its edges: nearly every pixel stays at one extreme or the
    other. Either sign marks the page; mistaking a grey page for a 1-bit one
    costs some extra flags, the reverse a silent error, so both count.
    """
    sample = gray[::4, ::4]
    mid = np.count_nonzero((sample > 60) & (sample < 195)) / sample.size
    extreme = np.count_nonzero((sample <= BW_EXTREME) | (sample >= 255 - BW_EXTREME)) / sample.size
    return mid < 0.01 or (extreme >= 0.95 and mid < 0.05)


def _label_groups(header, questions) -> np.ndarray:
    """The printed label of each box, in ``read_registered``'s box order, as a group number.

    ID digits are groups 0–9 and option letters 10 onwards (A = 10); the
    试卷类型 row and the 缺考 box (-1) are too few to form groups of their own.
    """
    groups = [digit for column in header.id_grid for digit in range(len(column))]
    groups += [-1] * (len(header.variant_row) + 1)
    groups += [10 + k for q in questions for k in range(len(q.boxes))]
    return np.array(groups)


def _rects_px(rects, geometry: SheetGeometry, ppm: float) -> np.ndarray:
    ox, oy = geometry.origin
    return np.array([((ox + x) * ppm, (oy + y) * ppm, w * ppm, h * ppm) for x, y, w, h in rects], dtype=float)


def read_sheets(gray: np.ndarray, manifest: Manifest, ppm: float = PX_PER_MM) -> list[PageReading]:
    """Read every answer sheet on one page.

    Parameters
    ----------
    gray : (H, W) uint8
        The scanned page, any rotation, any resolution from about 100 dpi.
    manifest
        The exam manifest; its sheet geometry says where everything is.

    Returns
    -------
    One reading per sheet found (top to bottom, left to right); a page with
    no sheet gives one reading with the reason as its status.
    """
    readings = _read_all(gray, manifest, ppm)
    if readings[0].qr_text is None and readings[0].status in ("read", "rejected"):
        # A frame no QR code confirmed may be a mirror image (a phone's front
        # camera, a scan saved flipped): the frame fits, the boxes do not. If
        # the flipped page's code reads, the flipped page is the sheet.
        mirror = np.ascontiguousarray(gray[:, ::-1])
        try:  # registration alone says whether the flipped page's code reads (the usual answer: no)
            confirmed = register(mirror, manifest.sheet).qr_text is not None
        except RegistrationError:
            confirmed = False
        flipped = _read_all(mirror, manifest, ppm) if confirmed else []
        if flipped and flipped[0].qr_text is not None and flipped[0].status != "not-a-sheet":
            for reading in flipped:
                reading.message = reading.message or "图像是镜像（左右翻转）的，已翻转后评阅"
            return flipped
    return readings


def _read_all(gray: np.ndarray, manifest: Manifest, ppm: float) -> list[PageReading]:
    try:
        registrations = register_all(gray, manifest.sheet)
    except RegistrationError as exc:
        return [PageReading(status=exc.reason, message=str(exc))]
    return [
        read_registered(gray, registration, manifest, ppm, another=index > 0)
        for index, registration in enumerate(registrations)
    ]


def read_page(gray: np.ndarray, manifest: Manifest, ppm: float = PX_PER_MM) -> PageReading:
    """The first sheet's reading (for pages known to hold one sheet; grading uses ``read_sheets``)."""
    return read_sheets(gray, manifest, ppm)[0]


def _refused(reading: PageReading, reason: str, message: str) -> PageReading:
    reading.status, reading.reason, reading.message = "rejected", reason, message
    return reading


def read_registered(
    gray: np.ndarray, registration: Registration, manifest: Manifest, ppm: float = PX_PER_MM, another: bool = False
) -> PageReading:
    """Read the sheet whose frame ``registration`` found in ``gray``.

    ``another``: a second (third…) sheet on the same page, which is read
    only when its own QR code confirms it.
    """
    geometry = manifest.sheet
    page = warp_to_page(gray, registration, geometry, ppm)
    # Divide out lighting (shadows, a phone's vignette) so that every box is
    # measured against the paper right around it.
    page = flat_field(page, kernel=int(12 * ppm))
    reading = PageReading(status="read", rotation=registration.rotation, fiducials=registration.fiducials)
    reading.binary = is_black_and_white(gray)
    qr_text = registration.qr_text or decode_qr(page, geometry, ppm)
    reading.qr_text = qr_text
    code = None
    if qr_text:
        try:
            code = SheetCode.decode(qr_text)
        except ValueError:
            code = None
    if code is not None and code.exam != manifest.exam:
        return _refused(reading, "other-exam", f"这张答题卡属于考试 {printable(code.exam)}，不是本次评阅的考试 {manifest.exam}")
    if code is not None and code.build != manifest.build:
        # Same exam id, another printing (another seed, build --focus, another
        # layout): its boxes mean other questions and options. Never scored.
        return _refused(
            reading, "other-build",
            f"这张答题卡由考试 {manifest.exam} 的另一次组卷打印（卡上的组卷指纹为 {printable(code.build or '（无）')}，"
            f"本次 exam.json 为 {manifest.build}），不能按这份 exam.json 评分；请用打印这张卡时生成的 exam.json 评阅",
        )
    if code is None and another:
        return _refused(
            reading, "another-sheet-unconfirmed",
            "这一页上还有一张答题卡，但它的二维码无法识别，无法确认属于本次考试；请把它单独扫描一遍",
        )
    if code is None and registration.fiducials < 4:
        # Three squares fix a frame only if the page lies flat and square; with
        # no QR code to confirm it, a tilted photo can put every box a few
        # millimetres off and still look like a sheet. Not guessed: a person looks.
        return _refused(reading, "unconfirmed-frame", "只找到三个定位块，二维码也无法识别，无法确认答题卡的位置；请重新扫描这一页或人工评阅")
    if code is None:
        if geometry.pages > 1:
            return _refused(reading, "qr-unreadable", "二维码无法识别，无法确定这是答题卡的第几页；请人工核对")
        reading.flags.append(Flag(None, "qr-unreadable", "二维码无法识别，未能核对考试编号和组卷指纹；请确认这张答题卡是本次考试这一次组卷印的"))
        reading.sheet_page = 1
    elif not 1 <= code.page <= geometry.pages or code.pages != geometry.pages:
        return _refused(
            reading, "page-unknown",
            f"二维码上的页码 {code.page}/{code.pages} 与本次考试的答题卡（共 {geometry.pages} 页）不符；请人工核对",
        )
    else:
        reading.sheet_page = code.page

    header = geometry.header
    questions = geometry.questions_on(reading.sheet_page)
    all_rects = [r for column in header.id_grid for r in column] + list(header.variant_row) + [header.absent]
    all_rects += [box for q in questions for box in q.boxes]
    rects_px = _rects_px(all_rects, geometry, ppm)
    groups = _label_groups(header, questions)
    table = bubbles.summed_area(page)
    means = bubbles.box_means_from(table, rects_px)
    s = geometry.fiducial_size
    fiducials = [(cx - s / 4, cy - s / 4, s / 2, s / 2) for cx, cy in geometry.fiducial_centers()]
    levels = bubbles.estimate_levels(page, bubbles.box_means_from(table, _rects_px(fiducials, geometry, ppm)), means)
    reading.levels = (levels.white, levels.black, levels.empty_box)
    dark = bubbles.darkness(means, levels, groups)
    pencil = bubbles.pencil_level(levels)
    # Coverage counts pixels, so scanner noise and JPEG ringing are smoothed
    # away first (a 1-pixel Gaussian at 6 px/mm keeps pencil strokes; 5×5
    # taps hold all but 1 % of its weight).
    smooth = cv2.GaussianBlur(page, (5, 5), 1.0)
    pencil_table = bubbles.summed_area((smooth < pencil).astype(np.uint8))
    cover = bubbles.excess_coverage(bubbles.box_means_from(pencil_table, rects_px), groups)
    whole = bubbles.excess_coverage(bubbles.box_means_from(pencil_table, rects_px, bubbles.WHOLE_INSET), groups)

    cursor = 0
    digits = []
    id_problem = None
    for column_index, column in enumerate(header.id_grid):
        values = dark[cursor : cursor + len(column)]
        decided = bubbles.decide(
            values, single=True, labels=DIGITS, coverage=cover[cursor : cursor + len(column)],
            whole=whole[cursor : cursor + len(column)]
        )
        cursor += len(column)
        if decided.outcome == "answer":
            digits.append(decided.letters)
        else:
            digits.append(None)
            if decided.outcome == "flagged" and id_problem is None:
                id_problem = f"准考证号第 {column_index + 1} 位{_reason_zh(decided.reason)}"
    variant_values = dark[cursor : cursor + len(header.variant_row)]
    variant_cover = cover[cursor : cursor + len(header.variant_row)]
    variant_whole = whole[cursor : cursor + len(header.variant_row)]
    cursor += len(header.variant_row)
    absent_value = float(dark[cursor]) if whole[cursor] >= bubbles.SOLID else min(float(dark[cursor]), bubbles.MARKED - 0.01)
    cursor += 1

    _identity(reading, digits, id_problem, code, geometry)
    _variant(reading, variant_values, variant_cover, variant_whole, code, manifest)
    if absent_value >= bubbles.MARKED:
        reading.absent = True
        # An absent candidate picked no variant: nothing to score, nothing to review.
        reading.flags = [f for f in reading.flags if f.reason != "variant-missing"]
    elif absent_value > bubbles.EMPTY:
        reading.flags.append(Flag(None, "absent-unclear", "缺考标记处有浅色痕迹，无法确定是否缺考"))

    variant = manifest.variant(reading.variant) if reading.variant else None
    for q in questions:
        values = dark[cursor : cursor + len(q.boxes)]
        coverage = cover[cursor : cursor + len(q.boxes)]
        whole_box = whole[cursor : cursor + len(q.boxes)]
        cursor += len(q.boxes)
        item = variant.items[q.number - 1] if variant else None
        qtype = manifest.questions[item.id].type if item else manifest.sections[q.section].type
        valid = len(item.permutation) if item else None
        decided = bubbles.decide(
            values, single=qtype == "single", valid=valid, coverage=coverage, whole=whole_box,
        )
        reading.questions.append(
            QuestionReading(
                q.number, decided.outcome, decided.letters, decided.reason, decided.confidence,
                tuple(round(float(v), 3) for v in values), decided.note,
            )
        )
        if decided.outcome == "flagged" and not reading.absent:
            reading.flags.append(Flag(q.number, decided.reason, f"第 {q.number} 题{_reason_zh(decided.reason)}"))
    if reading.absent and any(r.outcome == "answer" for r in reading.questions):
        reading.flags.append(Flag(None, "absent-with-answers", "标记了缺考，但答题区有填涂；请核对"))
    if not reading.absent and reading.questions and all(r.outcome == "blank" for r in reading.questions):
        # Nobody answers nothing: a sheet never filled in, a 缺考 the invigilator
        # did not mark, or a page scanned blank. Scored 0 only after a person looks.
        reading.flags.append(
            Flag(None, "blank-sheet", "空白答题卡：答题区没有任何填涂（未作答，或缺考但未涂缺考标记）；请核对")
        )
    return reading


def _reason_zh(reason: str) -> str:
    return {
        "faint": "填涂过浅或不完整，无法判断",
        "multiple-marks": "填涂了多个选项（单选题）",
        "nonexistent-option": "填涂了本题没有的选项",
    }.get(reason, reason)


def _identity(reading: PageReading, digits, id_problem, code: SheetCode | None, geometry: SheetGeometry) -> None:
    bubble_id = "".join(digits) if all(d is not None for d in digits) else None
    any_digit = any(d is not None for d in digits)
    qr_id = code.student if code else None
    if qr_id is not None and not (len(qr_id) == geometry.id_digits and qr_id.isascii() and qr_id.isdigit()):
        # A personalised code is printed by papergen with the roster's number;
        # anything else is damage or forgery and must not become a student.
        reading.flags.append(
            Flag(None, "qr-id-invalid", f"答题卡二维码上的准考证号无效（应为 {geometry.id_digits} 位数字，读到 {printable(qr_id)}），未采用；请核对")
        )
        qr_id = None
    if qr_id:
        reading.student_id, reading.id_source = qr_id, "qr"
        if bubble_id and bubble_id != qr_id:
            reading.flags.append(Flag(None, "id-mismatch", f"填涂的准考证号 {bubble_id} 与答题卡打印的 {qr_id} 不一致"))
        return
    if bubble_id:
        reading.student_id, reading.id_source = bubble_id, "bubbles"
        return
    if id_problem:
        reading.flags.append(Flag(None, "id-unreadable", id_problem))
    elif any_digit:
        missing = [str(i + 1) for i, d in enumerate(digits) if d is None]
        reading.flags.append(Flag(None, "id-incomplete", f"准考证号第 {'、'.join(missing)} 位未填涂"))
    else:
        reading.flags.append(Flag(None, "id-missing", "没有填涂准考证号"))


def _variant(reading: PageReading, values, coverage, whole, code: SheetCode | None, manifest: Manifest) -> None:
    names = [v.name for v in manifest.variants]
    decided = bubbles.decide(
        values, single=True, labels="".join(manifest.sheet.variants), coverage=coverage, whole=whole,
    )
    bubble_variant = decided.letters if decided.outcome == "answer" else None
    qr_variant = code.variant if code else None
    if qr_variant and qr_variant not in names:
        # printed for another build of this exam id, or a forged code: nothing to score against
        reading.flags.append(
            Flag(None, "variant-unknown", f"答题卡二维码上的试卷类型 {printable(qr_variant)} 不属于本次考试（{'、'.join(names)}），无法评分")
        )
        return
    if qr_variant:
        reading.variant = qr_variant
        if bubble_variant and bubble_variant != qr_variant:
            reading.flags.append(Flag(None, "variant-mismatch", f"填涂的试卷类型 {bubble_variant} 与答题卡打印的 {qr_variant} 不一致"))
        return
    if bubble_variant:
        reading.variant = bubble_variant
        return
    if len(names) == 1:
        reading.variant = names[0]
        return
    if decided.outcome == "flagged":
        reading.flags.append(Flag(None, "variant-unreadable", f"试卷类型{_reason_zh(decided.reason)}，无法评分"))
    else:
        reading.flags.append(Flag(None, "variant-missing", "没有填涂试卷类型，无法评分"))
