"""Reading one scanned page of an answer sheet: a pure function of its pixels.

``read_sheets(gray, manifest)`` finds every answer sheet on the page (two for
a copier's 2-up page) and reads each one in named steps (``read_registered``):

1. register: the frame (``registration``) and the page as if warped
   upright, lighting divided out (``canonical_page``) — sampled only where
   it is measured (``sample_page``);
2. accept: the QR code checked against the exam and the build that printed
   it (``accept_sheet``), which also says which page of the sheet this is;
3. align: the printed boxes and question numbers found where the frame puts
   them (``alignment.frame_alignment``, ``alignment.is_aligned``), or the page
   refused as ``frame-misaligned`` before any box is read;
4. measure: every box of the page's ``BoxTable`` (``measure``), giving
   arrays of darkness and pencil coverage in the table's order;
5. decide: from those numbers only — every mark by ``bubbles`` (``decide``
   for the 准考证号 columns, the 试卷类型 row and each question,
   ``decide_absent`` for the invigilator's 缺考 and 违纪 boxes), then the identity and the variant against
   the QR code (``decide_identity``, ``decide_variant``) and what a person
   must check (``question_flags``).

Before step 1, a black-and-white page is looked at whole for straight lines a
device drew through it (a dirty scan head's column, a fax's lost row:
``scanlines``), and is read with them painted paper white.

It returns one ``PageReading`` per sheet with every number it measured, so
the store keeps the evidence next to the decision; it never raises for a bad
page — a page that is not a sheet, or of another exam or build, is a reading
with that status (and a page no frame is found on whose QR code is this
exam's is ``rejected`` as ``unregistered-sheet``, not "not a sheet"). Values read from a QR code are data from a scan: they are
checked (the 准考证号's digits and length) before anything uses or prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import EllipsisType

import cv2
import numpy as np

from papergen.exam.manifest import Manifest
from papergen.grade import bubbles
from papergen.grade.alignment import frame_alignment, is_aligned, rects_to_px
from papergen.grade.bend import checked_frame
from papergen.grade.recovery import (
    hypotheses,
    qr_anchored,
    qr_cornered,
    recover,
    refine,
)
from papergen.grade.registration import (
    ANOTHER_SHEET_BELOW,
    DETECT_WIDTH,
    PX_PER_MM,
    Registration,
    RegistrationError,
    decode_qr_crop,
    faint_squares,
    flat_field,
    local_scale,
    page_outline,
    page_shape,
    page_to_image,
    qr_bounds,
    register,
    register_all,
    warp_to_page,
)
from papergen.grade.scanlines import dark_shares, find_lines, without_lines
from papergen.grade.windows import CanonicalSample, Windows
from papergen.sheet.code import SheetCode, printable
from papergen.sheet.layout import BoxTable, Rect, SheetGeometry

DIGITS = "0123456789"
#: Grey levels this close to 0 or 255 count as the extremes of a 1-bit scan.
BW_EXTREME = 8
#: A page is looked at closely for areas of grey only when at least this share of it is at the extremes: a
#: 1-bit page is (0.83 at the least on the 2,160 simulated pages of seed 19, as ``ingest`` decodes them), a grey
#: scan whose paper is not pure white is not (0.02–0.9).
BW_SCREEN_EXTREME = 0.5
#: Of every other pixel each way, the share that is neither black nor white along with its 8 neighbours: an area
#: of grey, not the grey a JPEG or a scaled decode leaves where black meets white. On those pages 1-bit ones
#: 0–0.000064 (0.0003 decoded at 75 dpi, coarser than ``ingest`` ever reads), grey ones 0.008 at the least (a
#: clean scan of a 30-question sheet, paper pure white: the pencil alone).
BW_GREY_AREA = 0.0015


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
    #: 违纪 marked by the invigilator (a sheet printed without the box: never). Always flagged
    #: for review too ("violation-marked"): a stray mark must not silently remove a student.
    violation: bool = False
    questions: list[QuestionReading] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    levels: tuple[float, float, float] | None = None  # white, black, empty box
    binary: bool = False  # scanned in black and white: light pencil may be lost
    # Where the sheet lies in the page image it was read from: the homography
    # (frame mm → pixels, row-major), that image's (width, height), and whether
    # the image had to be mirrored first; for a sheet that did not lie flat,
    # the bend it was read through ("bend": ``bend.Bend.to_json``). Kept so a
    # person can be shown the very boxes that were measured (review crops,
    # annotated sheets).
    frame: dict | None = None

    def add_note(self, text: str) -> None:
        """Say one more thing about how the page was read: a read page's ``message`` keeps every such note."""
        self.message = f"{self.message}；{text}" if self.message else text


def is_black_and_white(gray: np.ndarray) -> bool:
    """True for a thresholded (black-and-white) scan, even after JPEG compression or scaling.

    Parameters
    ----------
    gray : (H, W) uint8

    A 1-bit page has grey only where black meets white: JPEG rings there, and
    a decode at half or quarter size averages black and white pixels into
    grey. It has no area of grey anywhere, and a grey scan always has some:
    pencil, and its paper and noise unless the scanner whitened them. So a
    page is 1-bit when nearly all of it is at the extremes and almost none of
    it (``BW_GREY_AREA``) is grey together with all its neighbours.
    Counting grey pixels alone could not tell a clean grey scan of a sparse
    sheet on pure white paper (3 % grey, 95 % at the extremes) from a 1-bit
    page whose edges a coarse decode made grey (up to 9 % at 75 dpi).
    Mistaking a grey page for a 1-bit one costs extra flags, the reverse a
    silent error.
    """
    sample = gray[::4, ::4]
    # One histogram: most grey scans and every photo stop here (a tenth of the cost of comparing every pixel four times).
    counts = cv2.calcHist([np.ascontiguousarray(sample)], [0], None, [256], [0, 256]).ravel()
    extreme = (counts[: BW_EXTREME + 1].sum() + counts[255 - BW_EXTREME :].sum()) / sample.size
    if extreme < BW_SCREEN_EXTREME:
        return False
    # Every other pixel each way: a pencil fill is still several pixels across at 150 dpi, an edge's grey is not.
    half = np.ascontiguousarray(gray[::2, ::2])
    between = cv2.inRange(half, BW_EXTREME + 1, 254 - BW_EXTREME)
    grey_area = cv2.countNonZero(cv2.erode(between, np.ones((3, 3), np.uint8))) / half.size
    # a Python bool: numpy's np.False_ is not False, and a reading carries this verdict everywhere
    return bool(grey_area < BW_GREY_AREA)


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
    # A line a device drew through a black-and-white page is as black as pencil there: read the page without it.
    binary = is_black_and_white(gray)  # once per page: a mirror image or a page without its lines is as black and white
    lines = find_lines(*dark_shares(gray)) if binary else None
    if lines:
        gray = without_lines(gray, lines)
    readings = _read_all(gray, manifest, ppm, binary)
    if lines:
        for reading in readings:
            if reading.status == "read":
                reading.add_note(f"黑白扫描上有 {len(lines)} 条贯穿整页的直线（扫描头或传真线路的污迹），读填涂框时已略去")
    if readings[0].qr_text is None and readings[0].status in ("read", "rejected"):
        # A frame no QR code confirmed may be a mirror image (a phone's front
        # camera, a scan saved flipped): the frame fits, the boxes do not. If
        # the flipped page's code reads, the flipped page is the sheet.
        mirror = np.ascontiguousarray(gray[:, ::-1])
        try:  # registration alone says whether the flipped page's code reads (the usual answer: no)
            confirmed = register(mirror, manifest.sheet).qr_text is not None
        except RegistrationError:
            confirmed = False
        flipped = _read_all(mirror, manifest, ppm, binary) if confirmed else []
        if flipped and flipped[0].qr_text is not None and flipped[0].status != "not-a-sheet":
            for reading in flipped:
                reading.add_note("图像是镜像（左右翻转）的，已翻转后评阅")
                if reading.frame is not None:
                    reading.frame["mirrored"] = True
            return flipped
    return readings


def _read_all(gray: np.ndarray, manifest: Manifest, ppm: float, binary: bool) -> list[PageReading]:
    try:
        registrations = register_all(gray, manifest.sheet)
    except RegistrationError as exc:
        if exc.reason != "not-a-sheet":
            return [PageReading(status=exc.reason, message=str(exc))]
        recovered = read_recovered(gray, manifest, ppm)
        if recovered is not None:
            return [recovered]
        code = page_code(gray)
        anchored = read_anchored(gray, manifest, ppm, code)
        if anchored is not None:
            return [anchored]
        unregistered = unregistered_sheet(manifest, binary, code) or uncoded_sheet(gray, manifest, ppm, binary)
        if unregistered is not None:
            return [unregistered]
        hint = HOLLOWED_HINT if binary else FADED_SQUARES_HINT if faint_squares(gray) >= 3 else ""
        return [PageReading(status=exc.reason, message=str(exc) + hint)]
    readings = [
        read_registered(gray, registration, manifest, ppm, another=index > 0, binary=binary)
        for index, registration in enumerate(registrations)
    ]
    frames = [registration.homography for registration in registrations]
    if readings[0].status == "rejected" and readings[0].reason in RECOVERABLE:
        recovered = read_recovered(gray, manifest, ppm, registrations[0])
        if recovered is not None:
            # The other "sheets" were searched for beside a wrong frame: keep only those that read on their own
            # (QR code and alignment), and not the recovered sheet a second time — told by where it lies, not by
            # its code (sheets printed without a name all carry the same one).
            found = np.array(recovered.frame["homography"], dtype=np.float64).reshape(3, 3)
            readings = [recovered] + [
                reading for reading, registration in zip(readings[1:], registrations[1:], strict=True)
                if reading.status == "read" and not same_sheet(registration.homography, found, manifest.sheet)
            ]
            frames.append(found)
    unframed = unframed_sheet(gray, frames, manifest, ppm, binary)
    return readings + ([unframed] if unframed is not None else [])


#: Two frames are of one sheet when they put its centre this close (mm of the sheet): sheets side by side on a
#: page lie a whole sheet apart.
SAME_SHEET_MM = 30.0


def same_sheet(first: np.ndarray, second: np.ndarray, geometry: SheetGeometry) -> bool:
    """Whether two frames (homographies, frame mm → image pixels) put the sheet's centre within ``SAME_SHEET_MM``."""
    fw, fh = geometry.frame_size
    centre = np.array([[[fw / 2, fh / 2]]], dtype=np.float64)
    a, b = cv2.perspectiveTransform(centre, first)[0, 0], cv2.perspectiveTransform(centre, second)[0, 0]
    ends = cv2.perspectiveTransform(np.array([[[0.0, 0.0], [fw, 0.0]]]), first)[0]
    px_per_mm = np.linalg.norm(ends[1] - ends[0]) / fw
    return bool(np.linalg.norm(a - b) <= SAME_SHEET_MM * px_per_mm)


#: Refusals a frame recovered from the squares left and the QR code may overturn: the
#: frame registration built did not fit the page, or was built from three squares with no QR code.
RECOVERABLE = ("frame-misaligned", "unconfirmed-frame")


def read_recovered(
    gray: np.ndarray, manifest: Manifest, ppm: float, refused: Registration | None = None,
) -> PageReading | None:
    """The page read through a frame recovered from two corner squares and the QR code (``recovery``).

    For a page registration could not read (corner squares cut off, clipped,
    covered). Each candidate frame must read the QR code where it puts it
    and pass ``read_registered``'s checks — the exam and build, and the
    alignment of the printed numbers and boxes, never weaker than for any
    other page; a frame that fails the alignment is corrected against the
    printed box outlines (``recovery.refine``) and checked once more. Returns the first reading, or None when no candidate frame
    is read (the caller keeps its refusal). ``refused``: the frame registration found and the reader refused; a
    three-square one is first corrected with the QR code's corners (``recovery.qr_cornered``: a photo at an angle).
    """
    cornered = qr_cornered(gray, refused, manifest.sheet) if refused is not None else None
    if cornered is not None:
        reading = read_registered(gray, cornered, manifest, ppm)
        if reading.status == "read":
            reading.add_note("只找到三个定位块，第四个角由二维码的四角推算（照片斜拍时按平放补出的角偏差较大），并与印刷的题号、框线核对无误")
            return reading
    for registration in recover(gray, manifest.sheet):
        reading = read_registered(gray, registration, manifest, ppm)
        if reading.reason == "frame-misaligned" and reading.sheet_page is not None:
            # Two squares fix a similarity; a stretched or bowed page can leave its far side off by
            # more than the alignment's slack. Corrected against its own printed boxes, the frame
            # gets the same check again (never a weaker one).
            refined = refine(gray, registration, manifest.sheet, reading.sheet_page, ppm)
            if refined is not registration:
                reading = read_registered(gray, refined, manifest, ppm)
        if reading.status == "read":
            lost = 4 - len(registration.corners or ())
            reading.add_note(
                f"有 {lost} 个定位块缺失（被裁掉或遮住），已由其余定位块和二维码定位，并与印刷的题号、框线核对无误" if lost else
                # all four squares, but the frame they first gave missed the printed grid (a low resolution, a bowed page)
                "四个定位块推算的位置起初与印刷的题号、框线对不上，已由定位块和二维码重新定位，并核对无误"
            )
            return reading
    return None


#: Why a black-and-white page that kept its printed letters black is not read (``bubbles.LETTERS_KEPT``).
BW_DARKENED = (
    "这是黑白扫描，而空白填涂框里印的浅灰字母留下了黑色笔画（字母处约 {kept:.0%} 是黑的，白纸正常扫描时几乎为 0）："
    "阈值把和字母一样浅的铅笔痕也变成了黑色，擦掉的选项会和填涂一样黑、分不出来，所以这一页没有评分。"
    "彩色纸、调深的黑白阈值、扫描 App 的“黑白”模式都会这样；请用灰度模式重扫这一页（传真件请改要灰度扫描件），"
    "或对照答题卡原件人工评阅"
)
#: …and one whose fills came through as fragments (``bubbles.BinaryFills.pencil_lost``).
BW_FADED = (
    "这是黑白扫描，而页面上的填涂不是实心的黑块（清楚的填涂平均只有约 {solid:.0%} 是黑的，"
    "另有 {fragments} 处零碎的黑点；正常黑白扫描的填涂几乎全黑）："
    "黑白阈值和铅笔一样深，浅一些的填涂可能整个成了白纸、会读成未作答，所以这一页没有评分。"
    "扫描时调亮了、黑白阈值调浅了，或答题卡本身褪了色（复印件再复印、传真件）都会这样；"
    "请用灰度模式重扫这一页，或对照答题卡原件人工评阅"
)


def threshold_refusal(measured: Measurements, table: BoxTable, *, absent: bool) -> Refusal | None:
    """Why a black-and-white page is not read because its threshold sits where pencil is; None when it does not.

    Cut lighter than the pencil, it kept the printed grey letters black (``bubbles.LETTERS_KEPT``), and erasure
    residue with them: an erased option reads as a fill (``bw-darkened``). Cut as dark as the pencil, its fills
    came through as fragments and lighter ones as paper (``bubbles.BinaryFills.pencil_lost``, judged unless the
    缺考 box is marked): they read as unanswered (``bw-faded``).
    """
    if measured.kept is not None and measured.kept >= bubbles.LETTERS_KEPT:
        return Refusal("bw-darkened", BW_DARKENED.format(kept=measured.kept))
    boxes = answer_boxes(table)
    fills = bubbles.binary_fills(measured.darkness[boxes], measured.floor[boxes])
    if not absent and fills.pencil_lost:
        return Refusal("bw-faded", BW_FADED.format(solid=fills.solid, fragments=fills.fragments))
    return None


#: Said of a black-and-white page no frame was found on: a scanner app's black-and-white mode thresholds each
#: pixel against its neighbourhood, and a neighbourhood smaller than a corner square leaves it a hollow outline.
HOLLOWED_HINT = "（这是黑白扫描：扫描 App 的“黑白”模式会把定位块和涂黑的框掏空成空心框；若是这样，请改用灰度或原图）"

#: Long side (pixels) of the page searched whole for a QR code when no frame is found.
WHOLE_PAGE_QR_WIDTH = 1600


@dataclass(frozen=True)
class PageCode:
    """A QR code found anywhere on a page (``page_code``)."""

    text: str
    corners: np.ndarray  # (4, 2) pixels of the page image, in the code's own order (top left first)
    faded: bool  # its dark modules printed light (``printed_faintly``)


def page_code(gray: np.ndarray, thorough: bool = True) -> PageCode | None:
    """The QR code read anywhere on a page no frame was found on (the detector's own search), or None.

    Looked for on the page shrunk to ``WHOLE_PAGE_QR_WIDTH`` first; ``thorough``: then at full size, then at full
    size by the ArUco-based detector, which finds a code foreshortened in a photo taken at an angle where the other
    does not (6 of 6 such pages of a simulated set, about 0.1 s each). Only pages that failed registration, or
    have room for a sheet no frame was found for (``unframed_sheet``), pay for this search.
    """
    factor = max(1, -(-max(gray.shape) // WHOLE_PAGE_QR_WIDTH))
    small = gray if factor == 1 else cv2.resize(gray, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA)
    looks = [(small, factor, cv2.QRCodeDetector)]
    if thorough:
        looks += ([(gray, 1, cv2.QRCodeDetector)] if factor > 1 else []) + [(gray, 1, cv2.QRCodeDetectorAruco)]
    for candidate, scale, detector in looks:
        try:
            text, corners, _ = detector().detectAndDecode(candidate)
        except cv2.error:  # the detector asserts on some degenerate images: no code found
            text, corners = "", None
        if text and corners is not None:
            points = corners.reshape(-1, 2).astype(np.float64)
            return PageCode(text, (points + 0.5) * scale - 0.5, printed_faintly(candidate, points))
    return None


def read_anchored(gray: np.ndarray, manifest: Manifest, ppm: float, code: PageCode | None) -> PageReading | None:
    """The page read through a frame built from its QR code's corners and the corner squares they point to
    (``recovery.qr_anchored``: a photo at an angle whose squares registration's flat-page tests refused), or None."""
    if code is None or sheet_code(code.text) is None:
        return None
    registration = qr_anchored(gray, manifest.sheet, code.text, code.corners)
    if registration is None:
        return None
    reading = read_registered(gray, registration, manifest, ppm)
    if reading.status != "read":
        return None
    reading.add_note(f"定位块由二维码的四角找到（找到 {registration.fiducials} 个；照片可能是斜着拍的），并与印刷的题号、框线核对无误")
    return reading


def unframed_sheet(
    gray: np.ndarray, frames: Sequence[np.ndarray], manifest: Manifest, ppm: float, binary: bool,
) -> PageReading | None:
    """Another answer sheet on a page, beside those framed, that no frame was found for; None when there is none.

    Two sheets photographed side by side, or a 2-up copy, one of them with corner squares cut off or covered:
    ``register_all`` finds the sheet it can frame, and the other would be left out with nothing said. Where the
    sheets found cover less than ``registration.ANOTHER_SHEET_BELOW`` of the image, the rest (the sheets found
    painted out) is searched for a QR code (``page_code``: 0.1–0.3 s, paid only by such pages): a code of this exam
    there is a sheet, framed from its code (``read_anchored``) or refused as ``unregistered-sheet``.
    """
    sheets = [Registration(frame, 4, 0) for frame in frames]  # ``frames``: every frame tried, read or refused
    distinct = [sheet for k, sheet in enumerate(sheets)
                if not any(same_sheet(sheet.homography, later.homography, manifest.sheet) for later in sheets[k + 1:])]
    if sum(abs(cv2.contourArea(page_outline(sheet, manifest.sheet))) for sheet in distinct) >= (
            ANOTHER_SHEET_BELOW * gray.shape[0] * gray.shape[1]):
        return None
    rest = gray.copy()
    for sheet in sheets:
        cv2.fillPoly(rest, [np.round(page_outline(sheet, manifest.sheet, grow_mm=3.0)).astype(np.int32)], 255)
    # a code read there is another sheet's, whatever it says: the sheets found are painted out (sheets printed
    # without a name carry the same code)
    code = page_code(rest)
    if code is None:
        return None
    return read_anchored(rest, manifest, ppm, code) or unregistered_sheet(manifest, binary, code)


def unregistered_sheet(manifest: Manifest, binary: bool, found: PageCode | None) -> PageReading | None:
    """A page no frame was found on, when its QR code says it is an answer sheet; else None.

    "这一页可能不是答题卡" would let an operator skip a sheet whose corner
    squares were cut off or covered: when a papergen QR code reads anywhere
    on the page, the page is refused as an answer sheet that could not be
    registered (or as another exam's or build's). Only pages that failed
    registration pay for this search. ``binary``: the page's ``is_black_and_white``
    verdict (a black-and-white page's refusal says what its mode may have done).
    """
    text, faded = (found.text, found.faded) if found is not None else (None, False)
    code = sheet_code(text)
    if code is None:
        return None
    reading = PageReading(status="rejected", qr_text=text)
    accepted = accept_sheet(code, manifest, fiducials=4, another=False)
    if isinstance(accepted, Refusal) and accepted.reason in ("other-exam", "other-build"):
        reading.reason, reading.message = accepted.reason, accepted.message
        return reading
    reading.reason = "unregistered-sheet"
    reading.message = "这是本次考试的答题卡（二维码已识别），但定位块不全，无法确定填涂框的位置；请重新扫描这一页" + (
        HOLLOWED_HINT if binary else FADED_HINT if faded else ""
    )
    return reading


#: Added to the refusal of a page whose QR code reads but whose squares are not found, when the code's
#: dark modules are light (``printed_faintly``): the squares are there, printed too light to be told.
FADED_HINT = "（二维码和定位块都印得很浅：答题卡可能墨粉不足或省墨打印；请换用印得清楚的答题卡，或把扫描调深后重扫）"
#: …and to "not a sheet" when the page holds grey squares the size of corner squares (``registration.faint_squares``).
FADED_SQUARES_HINT = "（页面上有几个印得很浅的方块，可能是印得太浅的定位块：答题卡可能墨粉不足或省墨打印；请换用印得清楚的答题卡，或把扫描调深后重扫）"
#: Registration takes a square for ink where it is darker than 55 % of the local paper
#: (``registration._square_blobs``); a QR code whose dark modules are lighter than this share of its paper
#: was printed so light that the squares beside it were not seen.
FADED_PRINT = 0.5


def printed_faintly(gray: np.ndarray, quad: np.ndarray) -> bool:
    """Whether the QR code at ``quad`` ((4, 2) image points) was printed light: its dark modules (the 15th
    percentile grey inside it) lighter than ``FADED_PRINT`` of its paper (the 95th)."""
    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
    patch = gray[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)]
    if patch.size < 100:
        return False
    dark, paper = np.percentile(patch, (15, 95))
    return bool(dark > FADED_PRINT * paper)


#: How many of recovery's frame hypotheses, best-fitting first, are checked against the printed
#: numbers and boxes when no QR code reads (each costs a page warp: about 10 ms).
UNCODED_HYPOTHESES = 12


def uncoded_sheet(
    gray: np.ndarray, manifest: Manifest, ppm: float, binary: bool,
) -> PageReading | None:
    """A page with no frame and no QR code, when two of its squares still pin this sheet's printed grid; else None.

    Each recovery hypothesis (two square blobs taken for two corners) is
    tried as a frame: when the printed question numbers and box outlines lie
    where it puts them (``is_aligned``, for any page of the sheet), the page
    is this layout's answer sheet — "rejected" for a person, not "not a
    sheet". It is not read: with no QR code, nothing confirms the exam, the
    build, or the frame beyond the grid (``accept_sheet`` refuses a frame of
    fewer than four squares without one). ``binary``: the page's ``is_black_and_white``
    verdict (its outlines are lost, the numbers alone decide; its refusal names the app's black-and-white mode).
    """
    geometry = manifest.sheet
    for hypothesis in hypotheses(gray, geometry, DETECT_WIDTH)[:UNCODED_HYPOTHESES]:
        registration = Registration(hypothesis.homography, len(hypothesis.corners), 0, corners=hypothesis.corners)
        page = sample_page(gray, registration, geometry, ppm)  # only the windows the alignment check looks at
        light = light_print_black(page, geometry, ppm, hypothesis.corners)
        for number in range(1, geometry.pages + 1):
            table = geometry.box_table(number)
            if is_aligned(frame_alignment(page, table.rects, geometry, ppm, number, black=light), binary=binary):
                return PageReading(
                    status="rejected", reason="unregistered-sheet", fiducials=len(hypothesis.corners),
                    message="这一页是本考试版式的答题卡（印刷的题号和填涂框已对上），但定位块不全，二维码也无法识别，"
                    "无法确认是本次考试的答题卡；请重新扫描这一页" + (HOLLOWED_HINT if binary else ""),
                )
    return None


#: A sheet seen at fewer pixels per mm than this (about 100 dpi) in the decoded image is read again from a finer
#: decode when there is one (``too_coarse``): a JPEG is decoded at half or a quarter of its size when the page
#: would fill it (``ingest.READ_SHORT_SIDE``), and a phone photo of a sheet turned in the picture or taken from
#: afar shows it smaller — at 3 px/mm its box outlines blur away and the alignment check refuses it.
COARSEST_PX_PER_MM = 4.0


def too_coarse(readings: Sequence[PageReading], geometry: SheetGeometry) -> bool:
    """Whether any sheet framed on the page lies at under ``COARSEST_PX_PER_MM`` in the image it was read from
    (the frame's magnification at the sheet's centre, ``registration.local_scale``)."""
    fw, fh = geometry.frame_size
    for reading in readings:
        if reading.frame is None:
            continue
        homography = np.array(reading.frame["homography"], dtype=np.float64).reshape(3, 3)
        if float(local_scale(homography, np.array([[fw / 2, fh / 2]]))[0]) < COARSEST_PX_PER_MM:
            return True
    return False


def read_page(gray: np.ndarray, manifest: Manifest, ppm: float = PX_PER_MM) -> PageReading:
    """The first sheet's reading (for pages known to hold one sheet; grading uses ``read_sheets``)."""
    return read_sheets(gray, manifest, ppm)[0]


@dataclass(frozen=True)
class Refusal:
    """Why a page is not read (its QR code or its lack, its black-and-white threshold): a slug and its Chinese message."""

    reason: str
    message: str


@dataclass(frozen=True)
class Measurements:
    """One page's boxes measured, each array in its ``BoxTable``'s order.

    darkness : (N,) float64
        Darkness above the printed empty box, 0 … 1 (``bubbles.darkness``).
    coverage : (N,) float64
        Excess pencil coverage of each box interior (``bubbles.excess_coverage``).
    whole : (N,) float64
        Excess pencil coverage of each whole box, just inside its brackets.
    levels
        The sheet's paper white, ink black and empty-box darkness.
    stroke : (N,) float64, optional
        The longest thin pencil stroke in each box, against its label's empty
        box (``bubbles.trace_strokes``); None when not measured.
    smudge : (N,) float64, optional
        The largest run of pencil of any shape in each box, as a share of its window (``bubbles.trace_strokes``).
    crossed : (N,) bool, optional
        A line crosses the box's whole window (a fold's crease; ``bubbles.trace_strokes``).
    rise : (N,) float64, optional
        How much of the window's height the box's longest stroke spans (``bubbles.trace_strokes``).
    crease : (N,) float64, optional
        Darkness a fold's crease alone adds to the box, where it is the only line there (``bubbles.trace_strokes``).
    paper : (N,) float64, optional
        Grey of the paper just around each box (``bubbles.local_paper``): a
        shadow's edge darkens a box and its surroundings alike.
    off_letter : (N,) float64, optional
        Black away from each box's printed letter, mm² (``bubbles.off_letter_ink``):
        a tick's fragments on a black-and-white page, pencil pressed hard on a grey one.
    film : (N,) float64, optional
        Darkness of each box's median pixel (``bubbles.shared_darkness``): as dark
        as the box's mean for an even film, lighter for pencil gathered in one part.
    floor : (N,) float64, optional
        Darkness that ``bubbles.FLOOR_SHARE`` of each box's window reaches: a film
        of residue lifts it, a half-fill or a tick leaves it paper.
    unprinted : (N,) float64, optional
        How much of its printed letter each box has lost against its label's empty boxes
        (``bubbles.missing_print``): a sticker or correction tape over the box.
    letters : (N,) float64, optional
        On a black-and-white page, the share of each box's letter place that is black
        (``bubbles.letter_black``): how much of the printed grey letter the threshold kept.
    contrast : float
        How much darker than an unaltered scan the page's marks read (``bubbles.contrast_gain``):
        above 1, the boxes were measured with their darkness divided by it (``bubbles.ease_contrast``).
    side : (N, 2, h), optional
        Grey of the paper beside each box, left and right, row by row (``bubbles.side_paper``):
        a fold's shading darkens a band of boxes and the paper between them alike.
    shaded : (N,) float64, derived
        ``bubbles.shade`` of ``paper``, computed once per page.
    speck : float, derived
        ``bubbles.speck_threshold`` of ``off_letter``: on a black-and-white page, how much
        black off a box's letter is a stroke's remains, from how speckled the whole page is.
    kept : float, derived
        ``bubbles.kept_letters`` of ``letters``: how much of its printed letters a black-and-white
        page kept black in its empty boxes; None on a grey page.
    band : (N,) float64, derived when not given
        ``bubbles.band_shade`` of ``side``. ``decide`` measures a part's boxes against the
        least of its boxes' bands (or ``shaded``, where that is more): a band across the
        page lifts every box of a question, a neighbour's spill only some.
    lined : (N,) float64, derived from ``side``
        ``bubbles.line_through``: how dark a line crossing each box is on both its sides
        (a pen's X across a row); None without ``side``.
    """

    darkness: np.ndarray
    coverage: np.ndarray
    whole: np.ndarray
    levels: bubbles.Levels
    stroke: np.ndarray | None = None
    smudge: np.ndarray | None = None
    paper: np.ndarray | None = None
    off_letter: np.ndarray | None = None
    film: np.ndarray | None = None
    floor: np.ndarray | None = None
    crossed: np.ndarray | None = None
    rise: np.ndarray | None = None
    crease: np.ndarray | None = None
    side: np.ndarray | None = None
    unprinted: np.ndarray | None = None
    letters: np.ndarray | None = None
    contrast: float = 1.0
    shaded: np.ndarray | None = field(init=False, default=None, repr=False)
    band: np.ndarray | None = field(default=None, repr=False)
    lined: np.ndarray | None = field(init=False, default=None, repr=False)
    speck: float | None = field(init=False, default=None, repr=False)
    kept: float | None = field(init=False, default=None, repr=False)
    _lists: dict = field(init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # once per page: shade compares every box's paper with the page's median, and decide runs per question
        if self.paper is not None:
            object.__setattr__(self, "shaded", bubbles.shade(self.paper, self.levels))
        if self.side is not None and self.band is None:  # ``measure`` hands it over: the tracer needed it first
            object.__setattr__(self, "band", bubbles.band_shade(self.side, self.levels))
        if self.side is not None:
            object.__setattr__(self, "lined", bubbles.line_through(self.side, self.levels))
        if self.off_letter is not None:
            object.__setattr__(self, "speck", bubbles.speck_threshold(self.off_letter))
        if self.letters is not None:
            object.__setattr__(self, "kept", bubbles.kept_letters(self.letters, self.darkness))
        # …and each decision reads a few boxes: plain lists slice far cheaper than arrays convert
        for name in ("darkness", "coverage", "whole", "stroke", "smudge", "off_letter", "shaded", "band", "film", "floor", "crossed",
                     "rise", "crease", "unprinted", "lined"):
            values = getattr(self, name)
            self._lists[name] = None if values is None else np.asarray(values, dtype=float).tolist()

    def decide_lone(self, part: slice) -> str:
        """``bubbles.decide_absent`` on one lone box (缺考, 违纪), measured against the paper around it."""
        value = float(self.darkness[part][0])
        if self.shaded is not None:  # a shadow band darkens the box and its surroundings alike
            value = max(value - float(self.shaded[part][0]), 0.0)
        return bubbles.decide_absent(value, float(self.whole[part][0]))

    def decide(self, part: slice, **options) -> bubbles.Reading:
        """``bubbles.decide`` on the boxes of one part of the table (an ID column, the 试卷类型 row, a question)."""
        lists = {name: None if values is None else values[part] for name, values in self._lists.items()}
        lists["speck"] = self.speck
        lists["pushed"] = self.contrast > 1.0
        lists.update(options)  # a caller may leave a measurement out (``off_letter=None``)
        band = lists.pop("band", None)
        lined = lists.get("lined")
        if band and lined and max(lined) >= bubbles.LINE_THROUGH:
            band = None  # a pen line across the row darkens both sides of its boxes: that is no band of shading
        if band and lists.get("shaded") is not None:
            least = min(band)  # what a band across the page takes from every box of the part
            lists["shaded"] = [max(x, least) for x in lists["shaded"]]
            lists["band"] = least  # bubbles.decide weighs it once more, for a crease's run
        return bubbles.decide(lists.pop("darkness"), **lists)


@dataclass(frozen=True)
class Identity:
    """The 准考证号 a sheet is graded under, where it came from, and what a person must check."""

    student_id: str | None
    source: str | None  # bubbles | qr
    flags: tuple[Flag, ...]


@dataclass(frozen=True)
class VariantChoice:
    """The 试卷类型 a sheet is scored against (None: cannot be scored), and what a person must check."""

    name: str | None
    flags: tuple[Flag, ...]


def read_registered(
    gray: np.ndarray, registration: Registration, manifest: Manifest, ppm: float = PX_PER_MM, another: bool = False,
    binary: bool | None = None,
) -> PageReading:
    """Read the sheet whose frame ``registration`` found in ``gray``.

    ``another``: a second (third…) sheet on the same page, which is read
    only when its own QR code confirms it. ``binary``: the page's
    ``is_black_and_white`` verdict, when ``read_sheets`` already has it.
    """
    geometry = manifest.sheet
    # Only the pixels measured, sampled straight from the scan: the whole canonical page is never made.
    page = sample_page(gray, registration, geometry, ppm)
    reading = PageReading(status="read", rotation=registration.rotation, fiducials=registration.fiducials)
    reading.frame = {
        "homography": [round(float(v), 6) for v in registration.homography.ravel()],
        "size": [int(gray.shape[1]), int(gray.shape[0])], "mirrored": False,
    }
    reading.binary = is_black_and_white(gray) if binary is None else binary
    reading.qr_text = registration.qr_text or decode_qr_crop(page.region(*qr_bounds(geometry, ppm)))
    code = sheet_code(reading.qr_text)
    accepted = accept_sheet(code, manifest, fiducials=registration.fiducials, another=another)
    if isinstance(accepted, Refusal):
        reading.status, reading.reason, reading.message = "rejected", accepted.reason, accepted.message
        return reading
    reading.sheet_page = accepted
    table = geometry.box_table(reading.sheet_page)
    # Before any box is read: squares that are not the printed fiducials (two
    # corners cut off, filled boxes taken for squares) make a frame that reads
    # every answer against the wrong box. The page itself says whether its
    # printed boxes and numbers lie where this frame puts them; a QR code that
    # reads does not (it may still sit within the frame's slack).
    # …at the ink this page was printed with: a light print's numbers are as grey as its squares
    light = light_print_black(page, geometry, ppm, registration.corners)
    checked = checked_frame(page, table.rects, geometry, ppm, reading.sheet_page, black=light, binary=reading.binary)
    if not checked.accepted:
        reading.status, reading.reason = "rejected", "frame-misaligned"
        reading.message = (
            "定位块推算出的填涂框位置与印刷的填涂框、题号对不上（可能有定位块被裁掉或遮住，图像太模糊、题号看不清，"
            "或答题卡没有压平），这一页没有评分；"
            f"请重新扫描（答题卡压平、四角完整）或人工评阅（题号吻合 {checked.alignment.numbered:.0%}，框线吻合 {checked.alignment.outlined:.0%}）"
        )
        return reading
    if checked.bent is not None:
        # A page that does not lie flat (a bowed or lifted sheet photographed) moves its boxes by a millimetre or two
        # against a frame through its corners: the printed brackets said where they went (``bend``).
        page = checked.bent.sample
        reading.frame["bend"] = checked.bent.bend.to_json()
        reading.add_note(
            f"填涂框比四角定位块推算的位置最多偏了 {checked.bent.largest:.1f} mm（答题卡没有压平：弯曲或边缘翘起），"
            "已按印刷的框线逐处校正后评阅；拍照或扫描时请把答题卡压平"
        )
    if code is None:
        reading.flags.append(Flag(None, "qr-unreadable", "二维码无法识别，未能核对考试编号和组卷指纹；请确认这张答题卡是本次考试这一次组卷印的"))

    measured = measure(page, table, geometry, ppm, corners=registration.corners, binary=reading.binary, light=light)
    reading.levels = (measured.levels.white, measured.levels.black, measured.levels.empty_box)
    absent = measured.decide_lone(table.absent)
    refusal = threshold_refusal(measured, table, absent=absent == "marked") if reading.binary else None
    if refusal is not None:
        reading.status, reading.reason, reading.message = "rejected", refusal.reason, refusal.message
        return reading
    if light is not None:
        reading.add_note(
            f"答题卡印得偏浅（定位块只有约 {1 - light / 255:.0%} 黑，墨粉不足或省墨打印），填涂深浅按正常印刷的黑来量；"
            "下次请换墨粉或关闭省墨模式再印。若这是整页褪了色的复印件（铅笔也一样浅），浅的填涂可能被当成擦痕，请改扫原件"
        )
    pushed = measured.contrast > 1.0  # the boxes were read eased back (``measure``)
    if pushed:
        reading.add_note(
            f"页面的对比度被加深过（扫描 App 的“增强”或深色复印：印刷的字母比未处理的扫描件深约 {measured.contrast - 1:.0%}），"
            "读填涂框时已按字母的深浅减淡，擦痕和浅涂可能被加深、待复核会多些，最好用原图（不“增强”）评阅"
        )

    # every part of the page is weighed against this student's own clear marks, and as the page was scanned
    own = own_marks(measured, table)
    weigh = {"binary": reading.binary, "own": own}
    # black off the letter's place means a stroke in a box printed with a letter; a digit such as 4 or 7 reaches there
    # itself. The grid's columns stand 1.2 mm apart: two neighbours' fills spilling toward a box darken both its sides
    # as a pen's line does (``bubbles.line_through``), so lines are weighed on the answer rows only.
    identity = decide_identity(
        [measured.decide(column, single=True, labels=DIGITS, off_letter=None, lined=None, **weigh)
         for column in table.id_columns],
        code, geometry.id_digits,
    )
    variant = decide_variant(measured.decide(table.variant, single=True, labels="".join(geometry.variants), **weigh),
                             code, manifest)
    reading.student_id, reading.id_source, reading.variant = identity.student_id, identity.source, variant.name
    reading.absent = absent == "marked"
    reading.flags += identity.flags
    # An absent candidate picked no variant: nothing to score, nothing to review.
    reading.flags += [f for f in variant.flags if not (reading.absent and f.reason == "variant-missing")]
    if absent == "unclear":
        reading.flags.append(Flag(None, "absent-unclear", "缺考标记处有浅色痕迹，无法确定是否缺考"))
    if table.violation is not None:
        violation = measured.decide_lone(table.violation)
        reading.violation = violation == "marked"
        reading.flags += violation_flags(violation)
    reading.questions = decide_questions(measured, table, manifest, reading.variant, binary=reading.binary, own=own)
    reading.flags += question_flags(reading.questions, absent=reading.absent, binary=reading.binary, pushed=pushed)
    return reading


def canonical_page(gray: np.ndarray, registration: Registration, geometry: SheetGeometry, ppm: float) -> np.ndarray:
    """The sheet warped upright to ``ppm`` pixels per mm, lighting divided out.

    Parameters
    ----------
    gray : (H, W) uint8
        The scanned page.

    Returns
    -------
    (round(page_height·ppm), round(page_width·ppm)) uint8
    """
    page = warp_to_page(gray, registration, geometry, ppm)
    # Divide out lighting (shadows, a phone's vignette) so that every box is
    # measured against the paper right around it.
    return flat_field(page, kernel=int(12 * ppm))


def sample_page(gray: np.ndarray, registration: Registration, geometry: SheetGeometry, ppm: float) -> CanonicalSample:
    """The canonical page (``canonical_page``) where it is measured: windows sampled from the scan on demand.

    Parameters
    ----------
    gray : (H, W) uint8
        The scanned page.
    """
    # the fiducial search's quarter-size scan, when it is of this very image (two halvings of ``gray``)
    quarter = registration.quarter
    if quarter is not None and quarter.shape != ((gray.shape[0] + 3) // 4, (gray.shape[1] + 3) // 4):
        quarter = None
    return CanonicalSample.of_scan(gray, page_to_image(registration, geometry, ppm), page_shape(geometry, ppm),
                                   kernel=int(12 * ppm), quarter=quarter)


# -- QR acceptance ----------------------------------------------------------


def sheet_code(qr_text: str | None) -> SheetCode | None:
    """The sheet code in a QR code's text; None when there is none or it is not papergen's."""
    if not qr_text:
        return None
    try:
        return SheetCode.decode(qr_text)
    except ValueError:
        return None


def accept_sheet(code: SheetCode | None, manifest: Manifest, *, fiducials: int, another: bool) -> int | Refusal:
    """The sheet page (1-based) to read the boxes as, or why the sheet is not read.

    A code of another exam or another build of this one is refused: its boxes
    mean other questions and options. Without a code, a sheet is read as
    page 1 only when nothing else could be meant — the exam's sheet has one
    page, all four fiducials fixed the frame, and it is the page's only sheet.
    """
    geometry = manifest.sheet
    if code is not None and code.exam != manifest.exam:
        return Refusal("other-exam", f"这张答题卡属于考试 {printable(code.exam)}，不是本次评阅的考试 {manifest.exam}")
    if code is not None and code.build != manifest.build:
        # Same exam id, another printing (another seed, build --focus, another
        # layout): its boxes mean other questions and options. Never scored.
        return Refusal(
            "other-build",
            f"这张答题卡由考试 {manifest.exam} 的另一次组卷打印（卡上的组卷指纹为 {printable(code.build or '（无）')}，"
            f"本次 exam.json 为 {manifest.build}），不能按这份 exam.json 评分；请用打印这张卡时生成的 exam.json 评阅",
        )
    if code is None and another:
        return Refusal(
            "another-sheet-unconfirmed",
            "这一页上还有一张答题卡，但它的二维码无法识别，无法确认属于本次考试；请把它单独扫描一遍",
        )
    if code is None and fiducials < 4:
        # Three squares fix a frame only if the page lies flat and square; with
        # no QR code to confirm it, a tilted photo can put every box a few
        # millimetres off and still look like a sheet. Not guessed: a person looks.
        return Refusal("unconfirmed-frame", "只找到三个定位块，二维码也无法识别，无法确认答题卡的位置；请重新扫描这一页或人工评阅")
    if code is None:
        if geometry.pages > 1:
            return Refusal("qr-unreadable", "二维码无法识别，无法确定这是答题卡的第几页；请人工核对")
        return 1
    if not 1 <= code.page <= geometry.pages or code.pages != geometry.pages:
        return Refusal(
            "page-unknown",
            f"二维码上的页码 {code.page}/{code.pages} 与本次考试的答题卡（共 {geometry.pages} 页）不符；请人工核对",
        )
    return code.page


# -- measuring --------------------------------------------------------------


def label_groups(table: BoxTable) -> np.ndarray:
    """The printed label of each box in ``table``, as a group number: (N,) int.

    ID digits are groups 0–9 and option letters 10 onwards (A = 10); the
    试卷类型 row and the 缺考 box (-1) are too few to form groups of their own.
    """
    groups = [-1] * len(table)
    for part in table.id_columns:
        groups[part] = range(part.stop - part.start)
    for part in table.questions:
        groups[part] = range(10, 10 + part.stop - part.start)
    return np.array(groups)


def fiducial_black(
    page: np.ndarray | CanonicalSample, geometry: SheetGeometry, ppm: float, corners: Sequence[int] | None = None,
) -> np.ndarray:
    """The mean grey of each corner square's interior on the canonical page: the sheet's printed black, (K,) float64.

    ``corners``: the squares on the page (frame order); None: all four.
    """
    squares, fiducials_px = _fiducial_windows(page, geometry, ppm, corners)
    return bubbles.box_means_from(squares.summed(), fiducials_px, windows=squares)


def _fiducial_windows(
    page: np.ndarray | CanonicalSample, geometry: SheetGeometry, ppm: float, corners: Sequence[int] | None,
) -> tuple[Windows, np.ndarray]:
    """The windows around the corner squares' interiors on the page (those in ``corners``), and the interiors in pixels."""
    sample = page if isinstance(page, CanonicalSample) else CanonicalSample.of_page(page)
    interiors = fiducial_interiors(geometry)
    if corners is not None:
        interiors = [interiors[c] for c in corners]
    fiducials_px = rects_to_px(interiors, geometry, ppm)
    return sample.windows(fiducials_px), fiducials_px


#: A light print's corner squares are evenly grey: in each one's interior (``fiducial_interiors``) the 10th and
#: 90th percentile greys lie this close (noise, JPEG and toner mottle). A wrong frame puts an interior across a
#: square's edge, or on paper and pencil, and spreads far wider: its squares say nothing of the print.
LIGHT_SQUARE_SPREAD = 60
#: …and a light print's squares are still darker than registration's ink level finds squares at (55 % of the
#: paper, ``registration._square_blobs``): a frame whose "squares" read lighter stands on paper.
LIGHT_PRINT_MAX = 150.0


def light_print_black(
    page: np.ndarray | CanonicalSample, geometry: SheetGeometry, ppm: float, corners: Sequence[int] | None = None,
) -> float | None:
    """The grey a light print's squares read under this frame (``bubbles.is_light_print``), or None.

    None also when the frame's squares are not evenly grey (``LIGHT_SQUARE_SPREAD``, ``LIGHT_PRINT_MAX``): the
    alignment check is eased for a light print only on evidence that cannot come from a wrong frame.
    """
    squares, fiducials_px = _fiducial_windows(page, geometry, ppm, corners)
    pixels = bubbles.box_patches(squares.pixels, fiducials_px, (0.0, 0.0), windows=squares)
    flat = pixels.reshape(len(pixels), -1).astype(np.float32)
    means = flat.mean(axis=1)
    black = bubbles.printed_black(means)
    if not bubbles.is_light_print(black) or black > LIGHT_PRINT_MAX:
        return None
    kept = np.argsort(means)[: max(1, len(means) - 1)]  # as ``printed_black``: a covered square is dropped
    low, high = np.percentile(flat[kept], (10, 90), axis=1)
    return black if bool(np.all(high - low <= LIGHT_SQUARE_SPREAD)) else None


def fiducial_interiors(geometry: SheetGeometry) -> list[Rect]:
    """The middle half of each fiducial square (mm, frame): solid ink, the sheet's own black."""
    s = geometry.fiducial_size
    return [(cx - s / 4, cy - s / 4, s / 2, s / 2) for cx, cy in geometry.fiducial_centers()]


def below(image: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``image < levels[None, :]`` for a uint8 image and a float level per column, compared as 8-bit integers.

    A grey level ``p`` is below ``L`` exactly when it is below ``ceil(L)``: the
    same mask as comparing in float64, without converting every pixel.
    """
    whole = np.nan_to_num(np.ceil(levels), nan=0.0)  # NaN: nothing is below it
    mask = image < np.clip(whole, 0, 255).astype(np.uint8)[None, :]
    if np.any(whole > 255):  # every grey level is below such a level
        mask[:, whole > 255] = True
    return mask


def measure(
    page: np.ndarray | CanonicalSample,
    table: BoxTable,
    geometry: SheetGeometry,
    ppm: float = PX_PER_MM,
    corners: Sequence[int] | None = None,
    binary: bool = False,
    light: float | None | EllipsisType = ...,
) -> Measurements:
    """Measure every box of ``table`` on the canonical page.

    Parameters
    ----------
    page : (H, W) uint8 or CanonicalSample
        The canonical page (``canonical_page``): frame origin at
        ``geometry.origin`` mm, ``ppm`` pixels per mm; or the reader's
        sample of it (``sample_page``), which holds only the pixels measured.
    table
        The boxes to measure (``SheetGeometry.box_table``).
    corners
        The corner squares on the page (frame order), whose ink is the sheet's
        black; None: all four (one may be covered: ``estimate_levels`` drops
        the lightest). A recovered frame names the two or three it was built from.
    binary
        The page is black and white (``is_black_and_white``): no dash is told (``bubbles.trace_strokes``).
    light
        ``light_print_black`` of the page under this frame, when the caller has it (``...``: worked out here):
        on a light print darkness is measured against an unaltered print's black (``bubbles.estimate_levels``).

    Returns
    -------
    Measurements with (N,) arrays, N = ``len(table)``.
    """
    sample = page if isinstance(page, CanonicalSample) else CanonicalSample.of_page(page)
    rects_px = rects_to_px(table.rects, geometry, ppm)
    groups = label_groups(table)
    boxes = sample.windows(rects_px)
    black = fiducial_black(sample, geometry, ppm, corners)
    if light is ...:
        light = light_print_black(sample, geometry, ppm, corners)
    white = bubbles.paper_white(sample.grid)
    measured, templates = _measure_windows(boxes, rects_px, groups, black, white, ppm, binary, light=light is not None)
    # Letters printed darker than any unaltered scan shows them: the page's contrast was pushed after the light
    # fell on it, and its marks with them; read the boxes eased back (the fiducials' black stays the black).
    gain = 1.0 if binary else bubbles.contrast_gain(bubbles.print_peak(templates, measured.levels))
    if gain > 1.0:
        eased = boxes.with_pixels(bubbles.ease_contrast(boxes.pixels, measured.levels.white, gain))
        measured, _ = _measure_windows(eased, rects_px, groups, black, white, ppm, binary, contrast=gain,
                                       light=light is not None)
    return measured


def _measure_windows(
    boxes: Windows, rects_px: np.ndarray, groups: np.ndarray, black: np.ndarray, white: float, ppm: float, binary: bool,
    contrast: float = 1.0, light: bool = False,
) -> tuple[Measurements, list]:
    """``measure``'s work on the box windows: the Measurements, and the label templates they were traced against.

    ``black``: the fiducial interiors' mean greys; ``white``: the page's paper white (``bubbles.paper_white``);
    ``contrast``: the gain ``boxes`` were eased by (``Measurements.contrast``); ``light``: the page is a light print.
    """
    grey = boxes.summed()
    means = bubbles.box_means_from(grey, rects_px, windows=boxes)
    levels = bubbles.estimate_levels(None, black, means, white=white, light_print=light)
    # Coverage counts pixels, so scanner noise and JPEG ringing are smoothed
    # away first (a 1-pixel Gaussian at 6 px/mm keeps pencil strokes; 5×5
    # taps hold all but 1 % of its weight; each window keeps 2 pixels of page around its box for them).
    smooth = cv2.GaussianBlur(boxes.pixels, (5, 5), 1.0)
    rings = bubbles.ring_patches(boxes.pixels, rects_px, ppm, windows=boxes)  # the windows hold each box's ring
    paper = bubbles.ring_paper(rings, bubbles.ring_margin(ppm))
    # a box in a shadow band is pencil where it is that much darker than its own paper, not than the page's
    pencil_levels = np.repeat(bubbles.pencil_levels(paper, levels), boxes.width)
    pencil = bubbles.summed_area(below(smooth, pencil_levels).view(np.uint8))
    box = bubbles.box_patches(smooth, rects_px, windows=boxes)
    lit = bubbles.lit_evenly(box, paper)
    film, floor = bubbles.shared_darkness(box, groups, levels, (0.5, bubbles.FLOOR_SHARE), gain=bubbles.even_gain(paper))
    templates = bubbles.label_templates(lit, groups)
    side = bubbles.side_paper(rings, bubbles.ring_margin(ppm))
    band = bubbles.band_shade(side, levels)
    smudge = np.zeros(len(rects_px))
    stroke, crossed, rise, crease = bubbles.trace_strokes(lit, groups, levels, templates, band=None if binary else band,
                                                          smudge=smudge)
    # lit evenly: in a phone photo's shadow band the paper itself is darker than mid-grey
    letter_patches = bubbles.lit_evenly(
        bubbles.box_patches(boxes.pixels, rects_px, (bubbles.LETTER_PLACE_INSET,) * 2, windows=boxes), paper)
    measured = Measurements(
        darkness=bubbles.darkness(means, levels, groups),
        coverage=bubbles.excess_coverage(bubbles.box_means_from(pencil, rects_px, windows=boxes), groups),
        whole=bubbles.excess_coverage(bubbles.box_means_from(pencil, rects_px, bubbles.WHOLE_INSET, windows=boxes), groups),
        levels=levels,
        stroke=stroke,
        smudge=smudge,
        crossed=crossed,
        crease=crease,
        rise=rise,
        film=film,
        floor=floor,
        paper=paper,
        side=side,
        band=band,
        unprinted=bubbles.missing_print(lit, templates, levels),
        off_letter=bubbles.off_letter_ink(letter_patches, levels, ppm),
        letters=bubbles.letter_black(letter_patches, levels) if binary else None,
        contrast=contrast,
    )
    return measured, templates


# -- deciding -----------------------------------------------------------------


def answer_boxes(table: BoxTable) -> np.ndarray:
    """Indices of the table's answer boxes, every question's in order: (M,) int."""
    return np.r_[tuple(table.questions)] if table.questions else np.zeros(0, dtype=int)


def own_marks(measured: Measurements, table: BoxTable) -> float | None:
    """How dark this student's clear marks on the page's answer boxes are (``bubbles.own_darkness``)."""
    boxes = answer_boxes(table)
    return bubbles.own_darkness(measured.darkness[boxes], measured.whole[boxes])


def decide_questions(
    measured: Measurements, table: BoxTable, manifest: Manifest, variant: str | None, *, binary: bool = False,
    own: float | None = None,
) -> list[QuestionReading]:
    """Each question on the page decided from its boxes.

    With a variant known, each question's type and number of real options
    are its item's; without one, its section's type, and every box counts.
    ``binary``: the page was scanned black and white (``bubbles.decide``).
    Every question is also weighed against the student's own clear marks on
    the page (``own``, ``own_marks`` when not given): a lighter or partial
    fill that covers its box well reads as the mark it is.
    """
    items = manifest.variant(variant).items if variant else None
    own = own_marks(measured, table) if own is None else own
    darkness = np.asarray(measured.darkness, dtype=float).tolist()  # plain floats: rounded per box below
    readings = []
    for number, section, part in zip(table.numbers, table.sections, table.questions):
        item = items[number - 1] if items else None
        qtype = manifest.questions[item.id].type if item else manifest.sections[section].type
        decided = measured.decide(part, single=qtype == "single", valid=len(item.permutation) if item else None,
                                  binary=binary, own=own)
        readings.append(
            QuestionReading(
                number, decided.outcome, decided.letters, decided.reason, decided.confidence,
                tuple(round(v, 3) for v in darkness[part]), decided.note,
            )
        )
    return readings


def violation_flags(decided: str) -> list[Flag]:
    """What a person must check about the 违纪 box (``decide_absent``'s outcome for it).

    A marked box changes the student's status and takes them out of the
    statistics, so it always waits for a person, like an unclear one.
    """
    if decided == "marked":
        return [Flag(None, "violation-marked", "监考员标记了违纪；请核对（违纪考生不计入统计和排名）")]
    if decided == "unclear":
        return [Flag(None, "violation-unclear", "违纪标记处有浅色痕迹，无法确定是否违纪；请核对")]
    return []


def question_flags(
    questions: list[QuestionReading], *, absent: bool, binary: bool = False, pushed: bool = False,
) -> list[Flag]:
    """What a person must check about the answers: each flagged question, a blank sheet, answers beside 缺考.

    A faint mark's message names the options in doubt; on a black-and-white
    page (``binary``), or one whose contrast was pushed (``pushed``), it also
    says why the reader could not decide there, so the reviewer looks at
    those boxes knowing what to look for.
    """
    if absent:
        # an absent candidate's flagged marks are not reviewed; any answer at all is
        if any(q.outcome == "answer" for q in questions):
            return [Flag(None, "absent-with-answers", "标记了缺考，但答题区有填涂；请核对")]
        return []
    flags = [Flag(q.number, q.reason, _question_message(q, binary, pushed)) for q in questions if q.outcome == "flagged"]
    if questions and all(q.outcome == "blank" for q in questions):
        # Nobody answers nothing: a sheet never filled in, a 缺考 the invigilator
        # did not mark, or a page scanned blank. Scored 0 only after a person looks.
        flags.append(Flag(None, "blank-sheet", "空白答题卡：答题区没有任何填涂（未作答，或缺考但未涂缺考标记）；请核对"
                          + (BINARY_LOST_HINT if binary else "")))
    elif binary and len(questions) >= FEW_ANSWERS_QUESTIONS:
        # a student answers nearly every choice question; a device whose cut sat near the pencil may have
        # taken most fills away, and what is left reads as unanswered: the whole sheet waits for a person
        answered = sum(q.outcome == "answer" for q in questions)
        if answered < len(questions) / 2:
            flags.append(Flag(None, "few-answers", f"{len(questions)} 道题里只读到 {answered} 道有作答" + BINARY_LOST_HINT))
    return flags


#: Said of a black-and-white sheet that reads as unanswered (``question_flags``): a device whose cut sat as dark
#: as the pencil (a faded copy, a pale fax, a scan turned bright) may have turned every fill to paper.
BINARY_LOST_HINT = "（黑白扫描：很浅的填涂可能在扫描时整个丢了，请看答题卡原件或用灰度重扫）"
#: A black-and-white page of at least this many questions, fewer than half of them answered, is flagged ``few-answers``.
FEW_ANSWERS_QUESTIONS = 10


#: Added to a faint mark's message on a black-and-white page (``question_flags``).
BINARY_FAINT_HINT = "（黑白扫描：擦痕与浅痕分不清，请看原图）"
#: …and on a page whose contrast was pushed (``Measurements.contrast``).
PUSHED_FAINT_HINT = "（这一页的对比度被加深过：擦痕和浅涂都显得更深，请看答题卡原件）"


def _question_message(question: QuestionReading, binary: bool, pushed: bool = False) -> str:
    """``第 12 题 B、D 选项填涂过浅或不完整，无法判断``: the question, the options in doubt, the reason."""
    options = ""
    if question.reason in ("faint", "covered", "lined") and question.note.startswith(("uncertain:", "covered:", "lined:")):
        options = f" {'、'.join(question.note.split(':', 1)[1])} 选项"
    hint = "" if question.reason != "faint" else BINARY_FAINT_HINT if binary else PUSHED_FAINT_HINT if pushed else ""
    return f"第 {question.number} 题{options}{_reason_zh(question.reason)}{hint}"


def _reason_zh(reason: str) -> str:
    return {
        "faint": "填涂过浅或不完整，无法判断",
        "covered": "的填涂框被遮住或涂改过（看不到印刷的字母），无法判断；请看答题卡原件",
        "lined": "上有笔画穿过（如批改的叉、划线），无法判断是否填涂；请看答题卡原件",
        "multiple-marks": "填涂了多个选项（单选题）",
        "nonexistent-option": "填涂了本题没有的选项",
    }.get(reason, reason)


def decide_identity(columns: Sequence[bubbles.Reading], code: SheetCode | None, id_digits: int) -> Identity:
    """The 准考证号 from the bubbled digit columns and the QR code.

    A valid personalised QR code wins (a bubbled number that differs is
    flagged); otherwise the bubbles, when every column reads.
    """
    digits = [column.letters if column.outcome == "answer" else None for column in columns]
    bubble_id = "".join(digits) if all(d is not None for d in digits) else None
    flags: list[Flag] = []
    qr_id = code.student if code else None
    if qr_id is not None and not (len(qr_id) == id_digits and qr_id.isascii() and qr_id.isdigit()):
        # A personalised code is printed by papergen with the roster's number;
        # anything else is damage or forgery and must not become a student.
        flags.append(
            Flag(None, "qr-id-invalid", f"答题卡二维码上的准考证号无效（应为 {id_digits} 位数字，读到 {printable(qr_id)}），未采用；请核对")
        )
        qr_id = None
    if qr_id:
        if bubble_id and bubble_id != qr_id:
            flags.append(Flag(None, "id-mismatch", f"填涂的准考证号 {bubble_id} 与答题卡打印的 {qr_id} 不一致"))
        return Identity(qr_id, "qr", tuple(flags))
    if bubble_id:
        return Identity(bubble_id, "bubbles", tuple(flags))
    unreadable = next((index for index, column in enumerate(columns) if column.outcome == "flagged"), None)
    if unreadable is not None:
        flags.append(Flag(None, "id-unreadable", f"准考证号第 {unreadable + 1} 位{_reason_zh(columns[unreadable].reason)}"))
    elif any(d is not None for d in digits):
        missing = [str(i + 1) for i, d in enumerate(digits) if d is None]
        flags.append(Flag(None, "id-incomplete", f"准考证号第 {'、'.join(missing)} 位未填涂"))
    else:
        flags.append(Flag(None, "id-missing", "没有填涂准考证号"))
    return Identity(None, None, tuple(flags))


def decide_variant(marked: bubbles.Reading, code: SheetCode | None, manifest: Manifest) -> VariantChoice:
    """The 试卷类型 from the bubbled row (``marked``) and the QR code.

    The QR code's variant wins when it is one of this exam's (a bubbled one
    that differs is flagged); then the bubbles; an exam of one variant needs
    neither.
    """
    names = [v.name for v in manifest.variants]
    bubble_variant = marked.letters if marked.outcome == "answer" else None
    qr_variant = code.variant if code else None
    if qr_variant and qr_variant not in names:
        # printed for another build of this exam id, or a forged code: nothing to score against
        return VariantChoice(None, (
            Flag(None, "variant-unknown", f"答题卡二维码上的试卷类型 {printable(qr_variant)} 不属于本次考试（{'、'.join(names)}），无法评分"),
        ))
    if qr_variant:
        if bubble_variant and bubble_variant != qr_variant:
            return VariantChoice(qr_variant, (Flag(None, "variant-mismatch", f"填涂的试卷类型 {bubble_variant} 与答题卡打印的 {qr_variant} 不一致"),))
        return VariantChoice(qr_variant, ())
    if bubble_variant:
        return VariantChoice(bubble_variant, ())
    if len(names) == 1:
        return VariantChoice(names[0], ())
    if marked.outcome == "flagged":
        return VariantChoice(None, (Flag(None, "variant-unreadable", f"试卷类型{_reason_zh(marked.reason)}，无法评分"),))
    return VariantChoice(None, (Flag(None, "variant-missing", "没有填涂试卷类型，无法评分"),))
