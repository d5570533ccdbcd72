"""Simulated answer sheets: filled in by a cohort, delivered by a scanner or a phone.

``simulate`` makes test input for the grader with a known answer. A cohort
of students answers the exam with a real topic pattern (per-student ability,
topics the whole cohort finds harder, harder questions); each student's
answers are pencilled into the real ``sheet.pdf`` — rasterized once, never
re-drawn, so the QR code, boxes and fiducials are exactly what was printed —
and each page is then degraded the way it reaches the grader: a clean raster,
a flatbed or copier scan, a phone photo, or a harsh fax-like copy turned on
its side. ``truth.csv`` records what a careful person reads on every page.

Three kinds of ink go on a sheet and must stay apart so that truth is
decidable: a real mark (core darkness about 0.5–0.9 of solid black), erasure
residue (about 0.05–0.12) and stray dots (never inside a box's core). The
deliberately doubtful cases — ``two-marks``, ``faint``, ``tick`` — sit in
between on purpose and are listed as ambiguous in truth.

Image steps are functions on numpy arrays: grayscale pages are ``(H, W)``
uint8, colour pages ``(H, W, 3)`` uint8 in RGB order, rectangles in pixels
``(x, y, w, h)`` with ``(0, 0)`` the top-left corner of the top-left pixel.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import functools
import io
import math
import os
import re
import statistics
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image

from papergen.core import atomic
from papergen.core.errors import ExitCode, InputFileError, OutputError, PapergenError
from papergen.exam.manifest import Manifest, read_manifest
from papergen.bank.model import LETTERS
from papergen.sheet.layout import Rect, SheetGeometry

DEGRADE_LEVELS = ("none", "scan", "photo", "harsh")
FORMATS = ("jpg", "png", "pdf")
SHEET_PDF = "sheet.pdf"
TRUTH_NAME = "truth.csv"
PDF_NAME = "scans.pdf"
DEFAULT_DPI = 300
MM_PER_INCH = 25.4
#: Sheets made at once on worker threads (the image steps release the GIL).
WORKERS = max(1, min(4, os.cpu_count() or 1))

# -- the cohort ---------------------------------------------------------------
#: Added to every student's logit: the cohort answers about 58 % of questions right.
COHORT_SHIFT = 0.4
#: Logit change per difficulty step away from 3 (the brief's model).
DIFFICULTY_SLOPE = 0.6
#: Spread of the cohort-wide per-topic offsets (some topics are harder for all).
TOPIC_SPREAD = 0.7
#: Spread of a student's own per-topic deviation around the cohort offset.
PERSONAL_TOPIC_SPREAD = 0.4
BLANK_RATE = 0.02
ERASURE_RATE = 0.03
#: Share of students who press lightly (still clearly marks).
LIGHT_HAND_RATE = 0.15
#: Share of anyone's marks pressed lightly (still clearly marks).
LIGHT_MARK_RATE = 0.05
#: Stray dots per page (Poisson mean).
STRAY_DOTS_PER_PAGE = 0.4
#: Wrong multiple-choice answers: share that are a subset of the key (少选);
#: the rest contain a wrong option (错选).
PARTIAL_SHARE = 0.55

# -- pencil (pixel darkness: 0 paper … 1 solid black) -------------------------
NORMAL_TONE = (0.78, 0.95)
LIGHT_TONE = (0.66, 0.75)
RESIDUE_TONE = (0.05, 0.11)
FAINT_TONE = (0.36, 0.48)
#: Each side of a fill covers this share of the box, so 0.6–1.0 of its area.
FILL_SIDE = (0.78, 1.0)
#: A faint half-fill covers this share of the box area.
FAINT_AREA = (0.25, 0.40)
SPILL_RATE = 0.25
SPILL_MM = (0.2, 0.6)  # beyond the box edge; the neighbour's core starts ≥ 1.7 mm away
TICK_WIDTH_MM = (0.35, 0.55)
DOT_RADIUS_MM = (0.2, 0.4)

# -- photo page curl (shares of the page size) ---------------------------------
CURL_BOW = 0.001  # the page bows by up to 0.1 % between opposite edges
CURL_LIFT = (0.001, 0.002)  # one edge lifts, moving its outer quarter by up to 0.2 %
CURL_EDGE = 0.25  # how far in from that edge the lift reaches

# -- black-and-white devices ---------------------------------------------------
#: Where a B/W scan or fax cuts, as a share of its own black…white range. The
#: lightest real mark lies below 0.5 of it, erasure residue above 0.8: both
#: survive binarization as what they are (faint marks and ticks may not).
BW_CUT = (0.55, 0.65)

MARK_KINDS = ("fill", "light", "residue", "faint", "tick", "dot")
DOUBT_SINGLE = ("two-marks", "faint", "tick")
DOUBT_MULTIPLE = ("faint", "tick")

_STREAM_COHORT, _STREAM_ANSWERS, _STREAM_PEN, _STREAM_DEVICE = range(4)
_OUTPUT_PATTERN = re.compile(r"^(sheet-\d{4,}(-\d+)?\.(jpg|png)|scans\.pdf)$")


class SimulateOptionError(PapergenError):
    """The requested counts cannot be simulated (a command-line mistake)."""

    exit_code = ExitCode.usage


# =============================================================================
# Who answers what
# =============================================================================


@dataclass(frozen=True)
class Student:
    sheet: int  # 1-based sheet number
    student_id: str  # what is bubbled (a duplicate reuses another sheet's)
    variant: str
    absent: bool
    ability: float
    topic_skill: dict[str, float]  # top-level topic → cohort offset + own deviation
    tone: float  # this student's pencil darkness


@dataclass(frozen=True)
class Response:
    """One question as drawn on the sheet and as truth records it."""

    number: int
    marks: tuple[tuple[int, str], ...]  # (box index, mark kind)
    letters: str  # what a careful human reads ("" when blank)
    doubt: str = ""  # "" or two-marks | faint | tick


def top_topic(topic: str) -> str:
    return topic.split("/", 1)[0].strip()


def student_ids(n: int, exam: str, digits: int) -> list[str]:
    """``n`` distinct 准考证号 of exactly ``digits`` digits: exam digits + serial.

    ``2026-mock-03`` with 10 digits gives 2026030001, 2026030002, …
    """
    serial = max(4, len(str(n)))
    if serial > digits:
        raise SimulateOptionError(f"准考证号只有 {digits} 位，编不出 {n} 个不同的号码")
    base = "".join(ch for ch in exam if ch.isdigit())[: digits - serial]
    base = base or "9"
    serial = digits - len(base)
    return [f"{base}{i:0{serial}d}" for i in range(1, n + 1)]


def make_cohort(manifest: Manifest, n: int, seed: int, *, absent: int = 0, duplicate_ids: int = 0) -> list[Student]:
    """The students behind ``n`` sheets, with absences and duplicated ids placed at random."""
    rng = _rng(seed, _STREAM_COHORT)
    topics = sorted({top_topic(q.topic) for q in manifest.questions.values()})
    offsets = dict(zip(topics, rng.normal(0.0, TOPIC_SPREAD, len(topics))))
    ids = student_ids(n, manifest.exam, manifest.sheet.id_digits)
    order = rng.permutation(n)
    absent_sheets = set(order[:absent].tolist())
    duplicate_sheets = order[absent:absent + duplicate_ids].tolist()
    originals = [i for i in range(n) if i not in absent_sheets and i not in duplicate_sheets]
    for i in duplicate_sheets:
        ids[i] = ids[int(rng.choice(originals))]
    names = [v.name for v in manifest.variants]
    students = []
    for i in range(n):
        light = rng.random() < LIGHT_HAND_RATE
        tone = rng.uniform(*(LIGHT_TONE if light else NORMAL_TONE))
        own = rng.normal(0.0, PERSONAL_TOPIC_SPREAD, len(topics))
        students.append(Student(
            sheet=i + 1, student_id=ids[i], variant=names[i % len(names)], absent=i in absent_sheets,
            ability=float(rng.normal()), topic_skill={t: float(offsets[t] + d) for t, d in zip(topics, own)},
            tone=float(tone),
        ))
    return students


def p_correct(ability: float, topic_skill: float, difficulty: int) -> float:
    """Logistic chance of a correct answer."""
    logit = ability + topic_skill - (difficulty - 3) * DIFFICULTY_SLOPE + COHORT_SHIFT
    return 1.0 / (1.0 + math.exp(-logit))


def answer_sheet(manifest: Manifest, student: Student, seed: int, doubtful_rate: float) -> list[Response]:
    """What ``student`` writes for every question (empty when absent)."""
    if student.absent:
        return []
    rng = _rng(seed, _STREAM_ANSWERS, student.sheet)
    variant = manifest.variant(student.variant)
    responses = []
    for item in variant.items:
        q = manifest.questions[item.id]
        key = [LETTERS.index(ch) for ch in item.key]
        chance = p_correct(student.ability, student.topic_skill[top_topic(q.topic)], q.difficulty)
        chosen = _choose(rng, key, q.options, q.type == "multiple", chance)
        responses.append(_draw_response(rng, item.number, chosen, q.options, q.type == "multiple", doubtful_rate))
    return responses


def _choose(rng: np.random.Generator, key: list[int], options: int, multiple: bool, chance: float) -> list[int]:
    if rng.random() < BLANK_RATE:
        return []
    if rng.random() < chance:
        return sorted(key)
    wrong = [i for i in range(options) if i not in key]
    if not multiple:
        return [int(rng.choice(wrong))]
    if len(key) > 1 and (not wrong or rng.random() < PARTIAL_SHARE):
        size = int(rng.integers(1, len(key)))
        return sorted(rng.choice(key, size, replace=False).tolist())
    picked = set(key)
    if len(key) > 1 and rng.random() < 0.5:
        picked.discard(int(rng.choice(key)))  # swap one right option for a wrong one
    picked.add(int(rng.choice(wrong)))
    return sorted(picked)


def _letters(boxes: Sequence[int]) -> str:
    return "".join(LETTERS[i] for i in sorted(boxes))


def _draw_response(
    rng: np.random.Generator, number: int, chosen: list[int], options: int, multiple: bool, doubtful_rate: float
) -> Response:
    if rng.random() < doubtful_rate:
        doubt = str(rng.choice(DOUBT_MULTIPLE if multiple else DOUBT_SINGLE))
        drawn = list(chosen) or [int(rng.integers(options))]
        if doubt == "two-marks":
            drawn.append(int(rng.choice([i for i in range(options) if i not in drawn])))
            marks = tuple((i, "fill") for i in sorted(drawn))
        else:
            odd = int(rng.choice(drawn))
            marks = tuple((i, doubt if i == odd else "fill") for i in sorted(drawn))
        return Response(number, marks, _letters(drawn), doubt)
    marks = [(i, "light" if rng.random() < LIGHT_MARK_RATE else "fill") for i in chosen]
    unused = [i for i in range(options) if i not in chosen]
    if chosen and unused and rng.random() < ERASURE_RATE:
        marks.append((int(rng.choice(unused)), "residue"))  # changed their mind
    return Response(number, tuple(sorted(marks)), _letters(chosen))


# =============================================================================
# Millimetres to pixels
# =============================================================================


def rect_to_px(rect: Rect, geometry: SheetGeometry, dpi: float) -> tuple[float, float, float, float]:
    """A frame rectangle (mm) as page pixels ``(x, y, w, h)`` at ``dpi``."""
    ox, oy = geometry.origin
    k = dpi / MM_PER_INCH
    x, y, w, h = rect
    return ((ox + x) * k, (oy + y) * k, w * k, h * k)


def fiducial_corners_px(geometry: SheetGeometry, dpi: float) -> np.ndarray:
    """Corners of the four fiducial squares, ``(16, 2)`` float page pixels."""
    s = geometry.fiducial_size
    points = []
    for cx, cy in geometry.fiducial_centers():
        x, y, w, h = rect_to_px((cx - s / 2, cy - s / 2, s, s), geometry, dpi)
        points += [(x, y), (x + w, y), (x, y + h), (x + w, y + h)]
    return np.array(points, dtype=np.float64)


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


# =============================================================================
# Pencil
# =============================================================================


def draw_mark(
    image: np.ndarray,
    rect_px: Sequence[float],
    kind: str,
    rng: np.random.Generator,
    *,
    px_per_mm: float,
    tone: float = 0.85,
) -> np.ndarray:
    """Pencil one mark of ``kind`` into ``image`` at the box ``rect_px`` (in place).

    Parameters
    ----------
    image : (H, W) uint8
        The page; graphite darkens it multiplicatively, so print stays visible under it.
    rect_px : (x, y, w, h)
        The box in page pixels.
    kind
        ``fill`` / ``light`` (a real mark), ``residue`` (an erased mark),
        ``faint`` (a light half-fill, doubtful), ``tick`` (a check stroke,
        doubtful), ``dot`` (a stray dot on the box edge or just outside it).
    px_per_mm
        Page resolution, so strokes and spills have physical sizes.
    tone
        The writer's pencil darkness for real marks (0 … 1).

    Returns
    -------
    The same ``image``.
    """
    alpha, x0, y0 = mark_alpha(rect_px, kind, rng, px_per_mm=px_per_mm, tone=tone)
    return apply_graphite(image, alpha, x0, y0)


def mark_alpha(
    rect_px: Sequence[float], kind: str, rng: np.random.Generator, *, px_per_mm: float, tone: float = 0.85
) -> tuple[np.ndarray, int, int]:
    """The darkness patch of one mark: ``(h, w)`` float32 in [0, 1] and its top-left pixel."""
    if kind not in MARK_KINDS:
        raise ValueError(f"unknown mark kind {kind!r}")
    x, y, w, h = rect_px
    pad = 1.2 * px_per_mm + 2
    x0, y0 = int(math.floor(x - pad)), int(math.floor(y - pad))
    shape = (int(math.ceil(y + h + pad)) - y0, int(math.ceil(x + w + pad)) - x0)
    box = (x - x0, y - y0, w, h)  # the box in patch coordinates
    if kind in ("fill", "light"):
        strength = tone * rng.uniform(0.93, 1.03)
        if kind == "light":
            strength = min(strength, rng.uniform(*LIGHT_TONE))
        cover = _fill_mask(shape, box, rng, px_per_mm, rng.uniform(*FILL_SIDE), rng.uniform(*FILL_SIDE),
                           spill=rng.random() < SPILL_RATE)
        alpha = cover * _graphite(shape, rng, px_per_mm) * min(strength, 0.97)
    elif kind == "residue":  # the shape of the erased fill, rubbed to a blotchy grey
        cover = _fill_mask(shape, box, rng, px_per_mm, rng.uniform(*FILL_SIDE), rng.uniform(*FILL_SIDE), spill=False)
        alpha = cover * _smudge(shape, rng, px_per_mm) * rng.uniform(*RESIDUE_TONE)
    elif kind == "faint":  # started filling, stopped: part of the box, light grey
        width_share = rng.uniform(0.45, 0.65)
        height_share = min(rng.uniform(*FAINT_AREA) / width_share, 0.9)
        cover = _fill_mask(shape, box, rng, px_per_mm, width_share, height_share, spill=False, slack=0.4)
        alpha = cover * _graphite(shape, rng, px_per_mm) * rng.uniform(*FAINT_TONE)
    elif kind == "tick":
        alpha = _tick(shape, box, rng, px_per_mm) * min(tone * rng.uniform(0.9, 1.05), 0.95)
    else:
        alpha = _dot(shape, box, rng, px_per_mm) * rng.uniform(0.5, 0.9)
    return alpha.astype(np.float32), x0, y0


def apply_graphite(image: np.ndarray, alpha: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """Darken ``image`` (H, W) uint8 by ``alpha`` (h, w) placed at ``(x0, y0)``, in place."""
    H, W = image.shape[:2]
    h, w = alpha.shape
    ax0, ay0 = max(0, -x0), max(0, -y0)
    ix0, iy0 = max(0, x0), max(0, y0)
    ix1, iy1 = min(W, x0 + w), min(H, y0 + h)
    if ix1 <= ix0 or iy1 <= iy0:
        return image
    region = image[iy0:iy1, ix0:ix1]
    part = alpha[ay0:ay0 + (iy1 - iy0), ax0:ax0 + (ix1 - ix0)]
    region[...] = np.clip(region * (1.0 - part) + 0.5, 0, 255).astype(np.uint8)
    return image


def _smooth_jitter(count: int, length: int, rng: np.random.Generator, scale: float, width: float) -> np.ndarray:
    """``(count, length)`` smooth random jitter: standard deviation ``scale``,
    correlated over about ``width`` samples (a moving sum of normals)."""
    k = max(1, int(round(width)))
    sums = np.cumsum(rng.normal(0.0, 1.0, (count, length + k)), axis=1)
    return (sums[:, k:] - sums[:, :-k]) * (scale / math.sqrt(k))


def _fill_mask(
    shape: tuple[int, int],
    box: tuple[float, float, float, float],
    rng: np.random.Generator,
    ppm: float,
    fw: float,
    fh: float,
    *,
    spill: bool,
    slack: float = 1.0,
) -> np.ndarray:
    """Coverage (0 … 1) of a scribbled fill: a ragged rectangle spanning shares
    ``fw`` × ``fh`` of the box, placed at random inside it (``slack`` < 1 keeps
    it nearer the centre), or spilling over one edge."""
    bx, by, bw, bh = box
    left = bx + (0.5 + slack * rng.uniform(-0.5, 0.5)) * (1 - fw) * bw
    top = by + (0.5 + slack * rng.uniform(-0.5, 0.5)) * (1 - fh) * bh
    right, bottom = left + fw * bw, top + fh * bh
    if spill:  # the pencil ran over one edge of the box
        amount = rng.uniform(*SPILL_MM) * ppm
        edge = int(rng.integers(4))
        if edge == 0:
            left = bx - amount
        elif edge == 1:
            right = bx + bw + amount
        elif edge == 2:
            top = by - amount
        else:
            bottom = by + bh + amount
    rows, cols = shape
    jitter = 0.12 * ppm  # stroke ends are never straight
    L, R = np.array([[left], [right]]) + _smooth_jitter(2, rows, rng, jitter, 0.3 * ppm)
    T, B = np.array([[top], [bottom]]) + _smooth_jitter(2, cols, rng, jitter, 0.3 * ppm)
    xs = np.arange(cols, dtype=np.float32) + 0.5
    ys = np.arange(rows, dtype=np.float32) + 0.5
    across = np.clip(xs[None, :] - L[:, None] + 0.5, 0, 1) * np.clip(R[:, None] - xs[None, :] + 0.5, 0, 1)
    down = np.clip(ys[:, None] - T[None, :] + 0.5, 0, 1) * np.clip(B[None, :] - ys[:, None] + 0.5, 0, 1)
    return (across * down).astype(np.float32)


def _graphite(shape: tuple[int, int], rng: np.random.Generator, ppm: float) -> np.ndarray:
    """Graphite texture for one mark, ``shape`` float32, mean ≈ 0.9: a random
    window of one of the pencil's texture tiles, possibly mirrored."""
    tiles = _graphite_tiles(round(ppm, 2))
    tile = tiles[int(rng.integers(len(tiles)))]
    rows, cols = shape
    y = int(rng.integers(tile.shape[0] - rows + 1))
    x = int(rng.integers(tile.shape[1] - cols + 1))
    window = tile[y:y + rows, x:x + cols]
    return window[:, ::-1] if rng.random() < 0.5 else window


@functools.lru_cache(maxsize=4)
def _graphite_tiles(ppm: float) -> tuple[np.ndarray, ...]:
    """Pencil texture tiles at ``ppm`` pixels/mm: parallel strokes (flat or
    diagonal hatching, two stroke pitches) over blurred paper grain.

    Made once per resolution from a fixed seed — the texture is a property of
    the pencil, not of the run — so marking a sheet only cuts windows out of
    them (computing texture per mark was half the time of a whole scan).
    """
    rng = np.random.default_rng(20260306)
    side = int(ppm * 12) + 16  # wider than any mark's patch (box + 1.2 mm padding each side)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    tiles = []
    for angle in (0.0, 0.55, 0.85):
        for pitch_mm in (0.32, 0.42):
            period = max(pitch_mm * ppm, 1.5)
            strokes = 0.5 + 0.5 * np.sin((xx * math.sin(angle) + yy * math.cos(angle)) * (2 * math.pi / period))
            grain = cv2.GaussianBlur(rng.random((side, side), dtype=np.float32), (0, 0), max(0.5, 0.06 * ppm))
            grain = (grain - grain.mean()) / (grain.std() + 1e-6)
            tiles.append(np.clip(1.0 - 0.16 * (1.0 - strokes) - 0.10 * grain, 0.4, 1.0).astype(np.float32))
    return tuple(tiles)


def _smudge(shape: tuple[int, int], rng: np.random.Generator, ppm: float) -> np.ndarray:
    """Eraser residue: blotchy, low-frequency, mean ≈ 1."""
    blotches = cv2.GaussianBlur(rng.random(shape, dtype=np.float32), (0, 0), max(1.0, 0.4 * ppm))
    blotches = (blotches - blotches.mean()) / (blotches.std() + 1e-6)
    return np.clip(1.0 + 0.35 * blotches, 0.2, 1.8)


def _tick(shape: tuple[int, int], box: tuple[float, float, float, float], rng: np.random.Generator, ppm: float) -> np.ndarray:
    """A check stroke ✓ across the box: short leg down, long leg up to the top right."""
    bx, by, bw, bh = box
    points = np.array([
        (bx + rng.uniform(0.12, 0.3) * bw, by + rng.uniform(0.4, 0.6) * bh),
        (bx + rng.uniform(0.38, 0.5) * bw, by + rng.uniform(0.8, 0.95) * bh),
        (bx + rng.uniform(0.85, 1.05) * bw, by + rng.uniform(-0.1, 0.12) * bh),
    ])
    canvas = np.zeros(shape, dtype=np.uint8)
    thickness = max(1, int(round(rng.uniform(*TICK_WIDTH_MM) * ppm)))
    cv2.polylines(canvas, [np.round(points * 16).astype(np.int32)], False, 255, thickness, cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0


def _dot(shape: tuple[int, int], box: tuple[float, float, float, float], rng: np.random.Generator, ppm: float) -> np.ndarray:
    """A small stray dot centred on an edge of the box or just outside it, never in its core."""
    bx, by, bw, bh = box
    r = rng.uniform(*DOT_RADIUS_MM) * ppm
    out = rng.uniform(0.0, 0.5) * ppm  # 0: on the edge; else beyond it
    edge = int(rng.integers(4))
    if edge == 0:
        cx, cy = bx + rng.uniform(0.1, 0.9) * bw, by - out
    elif edge == 1:
        cx, cy = bx + rng.uniform(0.1, 0.9) * bw, by + bh + out
    elif edge == 2:
        cx, cy = bx - out, by + rng.uniform(0.1, 0.9) * bh
    else:
        cx, cy = bx + bw + out, by + rng.uniform(0.1, 0.9) * bh
    canvas = np.zeros(shape, dtype=np.uint8)
    cv2.circle(canvas, (int(round(cx * 16)), int(round(cy * 16))), max(16, int(round(r * 16))), 255, -1, cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0


# =============================================================================
# Devices: how a page reaches the grader
# =============================================================================


@dataclass(frozen=True)
class Delivered:
    """A page as the device hands it over."""

    image: np.ndarray  # (H, W) uint8 grayscale or (H, W, 3) uint8 RGB
    dpi: float  # nominal resolution recorded in the file
    rotation: int = 0  # clockwise degrees the page was turned: 0, 90, 180, 270
    binary: bool = False  # black and white only (0 and 255)
    quality: int = 95  # JPEG quality


def gaussian_noise(shape: tuple[int, ...], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of standard deviation ``sigma`` grey levels, int16 ``shape``.

    Drawn as random bytes through a normal-quantile table: several times
    faster than ``standard_normal`` for page-sized arrays.
    """
    normal = statistics.NormalDist(0.0, sigma)
    table = np.array([round(normal.inv_cdf((i + 0.5) / 256)) for i in range(256)], dtype=np.int16)
    codes = np.frombuffer(rng.bytes(int(np.prod(shape))), dtype=np.uint8).reshape(shape)
    return cv2.LUT(codes, table)


def add_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``image`` (H, W) or (H, W, 3) uint8 plus Gaussian noise, saturated."""
    return cv2.add(image, gaussian_noise(image.shape, sigma, rng), dtype=cv2.CV_8U)


def paper_levels(image: np.ndarray, white: float, black: float, gamma: float = 1.0) -> np.ndarray:
    """Map 255 → ``white`` and 0 → ``black`` (a device's paper and toner levels); (H, W) uint8."""
    ramp = (np.arange(256) / 255.0) ** gamma
    table = np.clip(black + (white - black) * ramp + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(image, table)


def scanner_placement(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    dpi_in: float,
    dpi_out: float,
    keep_px: np.ndarray,
    max_angle: float = 3.0,
    max_shift_mm: float = 3.0,
    margin_mm: tuple[float, float] = (2.0, 5.0),
    background: int = 240,
) -> np.ndarray:
    """The page lying slightly askew on a scanner bed, sampled at ``dpi_out``.

    Parameters
    ----------
    image : (H, W) uint8
        The page at ``dpi_in``.
    keep_px : (N, 2) float
        Points (page pixels at ``dpi_in``) that must stay at least 1.5 mm
        inside the scan — the fiducial corners, so a skewed page is never
        cropped into an unreadable one.
    background
        Grey of the scanner lid around the page.

    Returns
    -------
    (H', W') uint8: the bed area (page plus a margin) at ``dpi_out``.
    """
    scale = dpi_out / dpi_in
    if scale < 0.6:  # area-average first: linear warping alone would alias thin print
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        shrink = small.shape[1] / image.shape[1]
        keep_px = keep_px * shrink
        image, scale = small, scale / shrink
    px_per_mm = dpi_out / MM_PER_INCH
    margin = rng.uniform(*margin_mm) * px_per_mm
    h, w = image.shape
    out_w, out_h = int(round(w * scale + 2 * margin)), int(round(h * scale + 2 * margin))
    angle = rng.uniform(-max_angle, max_angle)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[:, 2] += (out_w / 2 - w / 2, out_h / 2 - h / 2)
    placed = keep_px @ matrix[:, :2].T + matrix[:, 2]
    keep = 1.5 * px_per_mm
    limit = max_shift_mm * px_per_mm
    for axis, size in ((0, out_w), (1, out_h)):
        low = max(-limit, keep - placed[:, axis].min())
        high = min(limit, size - keep - placed[:, axis].max())
        matrix[axis, 2] += rng.uniform(low, high) if low <= high else (low + high) / 2
    return cv2.warpAffine(image, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=background)


def degrade_none(image: np.ndarray, dpi: float) -> Delivered:
    """The clean raster, unchanged: ``image`` (H, W) uint8."""
    return Delivered(image, dpi)


def degrade_scan(
    image: np.ndarray, rng: np.random.Generator, *, dpi_in: float, dpi_out: float | None, keep_px: np.ndarray
) -> Delivered:
    """A flatbed or copier scan: 150–300 dpi, ±3° skew, shift, blur, noise, JPEG 50–90, grey or B/W.

    ``image`` is the marked page, (H, W) uint8 at ``dpi_in``; ``keep_px`` as in ``scanner_placement``.
    """
    dpi = float(dpi_out or rng.integers(150, 301))
    white, black = rng.uniform(228, 252), rng.uniform(8, 35)
    page = paper_levels(image, white=white, black=black, gamma=rng.uniform(0.9, 1.15))
    page = scanner_placement(page, rng, dpi_in=dpi_in, dpi_out=dpi, keep_px=keep_px, background=int(rng.integers(225, 250)))
    page = cv2.GaussianBlur(page, (0, 0), rng.uniform(0.35, 0.9))
    page = add_noise(page, rng.uniform(2.0, 7.0), rng)
    quality = int(rng.integers(50, 91))
    if rng.random() < 0.3:  # the copier's "text" (black-and-white) mode
        _, page = cv2.threshold(page, black + (white - black) * rng.uniform(*BW_CUT), 255, cv2.THRESH_BINARY)
        return Delivered(page, dpi, binary=True, quality=quality)
    return Delivered(page, dpi, quality=quality)


def cover_corner(
    image: np.ndarray, corner: int, rng: np.random.Generator, *, fiducial_px: Sequence[float], px_per_mm: float, grey: int
) -> np.ndarray:
    """A patch (sticker, staple plate, folded corner) over one corner fiducial; returns a new (H, W) uint8.

    ``corner`` counts TL, TR, BL, BR; ``fiducial_px`` is that fiducial's
    ``(x, y, w, h)``. The patch reaches from the paper corner to 0.8–1.8 mm
    past the square's inner edges (no further: the QR code is 2.5 mm from
    the top-right square).
    """
    x, y, w, h = fiducial_px
    ppm = px_per_mm
    reach = rng.uniform(0.8, 1.8, 2) * ppm
    H, W = image.shape[:2]
    left_side, top_side = corner in (0, 2), corner in (0, 1)
    x0, x1 = (0, x + w + reach[0]) if left_side else (x - reach[0], W)
    y0, y1 = (0, y + h + reach[1]) if top_side else (y - reach[1], H)
    out = image.copy()
    out[int(y0):int(math.ceil(y1)), int(x0):int(math.ceil(x1))] = grey
    # the patch's edge casts a thin line, as a sticker or fold does
    edge = max(1, int(round(0.15 * ppm)))
    xe = int(x1) if left_side else int(x0)
    ye = int(y1) if top_side else int(y0)
    cv2.line(out, (xe, int(y0)), (xe, int(y1)), max(0, grey - 90), edge)
    cv2.line(out, (int(x0), ye), (int(x1), ye), max(0, grey - 90), edge)
    return out


def degrade_harsh(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    dpi_in: float,
    dpi_out: float | None,
    keep_px: np.ndarray,
    fiducials_px: Sequence[Sequence[float]],
) -> Delivered:
    """A fax-like copy: one corner fiducial covered (half the pages), skew and noise,
    hard black-and-white, and the page turned by 0/90/180/270°.

    ``image`` (H, W) uint8 at ``dpi_in``; ``fiducials_px`` the four fiducial
    rectangles in frame order (TL, TR, BL, BR) in page pixels.
    """
    dpi = float(dpi_out or rng.integers(150, 201))
    page = image
    if rng.random() < 0.5:
        corner = int(rng.integers(4))
        # white (sticker) or light grey (fold); darker grey would binarize into a black blob
        grey = int(rng.choice([int(rng.integers(235, 256)), int(rng.integers(185, 216))]))
        page = cover_corner(page, corner, rng, fiducial_px=fiducials_px[corner], px_per_mm=dpi_in / MM_PER_INCH, grey=grey)
        keep_px = np.delete(keep_px, slice(4 * corner, 4 * corner + 4), axis=0)
    white, black = rng.uniform(215, 245), rng.uniform(20, 50)
    page = paper_levels(page, white=white, black=black, gamma=rng.uniform(1.0, 1.2))
    page = scanner_placement(page, rng, dpi_in=dpi_in, dpi_out=dpi, keep_px=keep_px, background=int(rng.integers(215, 245)))
    page = cv2.GaussianBlur(page, (0, 0), rng.uniform(0.5, 1.1))
    page = add_noise(page, rng.uniform(4.0, 9.0), rng)
    _, page = cv2.threshold(page, black + (white - black) * rng.uniform(*BW_CUT), 255, cv2.THRESH_BINARY)
    speckle = rng.random(page.shape, dtype=np.float32) < rng.uniform(2e-4, 1.5e-3)  # line noise
    page[speckle] = 255 - page[speckle]
    rotation = int(rng.choice([0, 90, 180, 270], p=[0.25, 0.2, 0.35, 0.2]))
    return Delivered(rotate_clockwise(page, rotation), dpi, rotation=rotation, binary=True, quality=int(rng.integers(60, 86)))


def rotate_clockwise(image: np.ndarray, degrees: int) -> np.ndarray:
    """``image`` turned clockwise by a multiple of 90°; (H, W[, 3]) → (H, W) or (W, H)."""
    if degrees % 90:
        raise ValueError("degrees must be a multiple of 90")
    return np.ascontiguousarray(np.rot90(image, k=-(degrees // 90) % 4))


def degrade_photo(image: np.ndarray, rng: np.random.Generator) -> Delivered:
    """A phone photo of the page on a desk: 8–12 MP colour, perspective, page curl,
    a lighting gradient and a soft shadow, light defocus, sensor noise, JPEG.

    Parameters
    ----------
    image : (H, W) uint8
        The marked page (300 dpi is about the photo's own resolution).

    Returns
    -------
    ``Delivered`` with an (h, w, 3) uint8 RGB image, portrait 3:4.
    """
    megapixels = rng.uniform(8.0, 12.0)
    out_h = int(round(math.sqrt(megapixels * 1e6 * 4 / 3)))
    out_w = int(round(out_h * 3 / 4))
    H0, W0 = image.shape
    quad = _photo_quad(rng, (W0, H0), (out_w, out_h))
    src = np.array([[0, 0], [W0, 0], [W0, H0], [0, H0]], dtype=np.float32)
    to_page = np.linalg.inv(cv2.getPerspectiveTransform(src, quad))

    # The inverse map (photo pixel → page pixel) is smooth: compute it on a
    # coarse grid and let cv2.resize interpolate. Grid point i sits where
    # resize samples it, at pixel (i + 0.5) * step - 0.5.
    step = 8
    cols, rows = -(-out_w // step), -(-out_h // step)
    gx, gy = np.meshgrid((np.arange(cols) + 0.5) * step - 0.5, (np.arange(rows) + 0.5) * step - 0.5)
    hom = np.stack([gx, gy, np.ones_like(gx)], axis=-1) @ to_page.T
    sx, sy = hom[..., 0] / hom[..., 2], hom[..., 1] / hom[..., 2]
    sx, sy = _curl(sx, sy, (W0, H0), rng)
    full = (cols * step, rows * step)
    map_x = cv2.resize(sx.astype(np.float32), full, interpolation=cv2.INTER_LINEAR)[:out_h, :out_w]
    map_y = cv2.resize(sy.astype(np.float32), full, interpolation=cv2.INTER_LINEAR)[:out_h, :out_w]
    page = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = ((map_x >= 0) & (map_x < W0 - 1) & (map_y >= 0) & (map_y < H0 - 1)).astype(np.float32)
    inside = cv2.GaussianBlur(inside, (0, 0), 1.2)

    desk = np.array(rng.choice([(120, 85, 55), (150, 150, 145), (90, 90, 95), (175, 140, 100)]), dtype=np.float32)
    desk_texture = cv2.resize(rng.normal(1.0, 0.06, (out_h // 32 + 1, out_w // 32 + 1)).astype(np.float32), (out_w, out_h),
                              interpolation=cv2.INTER_CUBIC)
    light = _lighting(rng, out_w, out_h)
    tint = np.array(rng.choice([(1.0, 0.96, 0.86), (0.93, 0.97, 1.0), (1.0, 0.99, 0.95)]), dtype=np.float32)
    paper = page.astype(np.float32) * inside
    background = (1.0 - inside) * desk_texture
    rgb = np.empty((out_h, out_w, 3), dtype=np.uint8)
    for c in range(3):
        channel = (paper * tint[c] + background * desk[c]) * light
        rgb[..., c] = np.clip(channel, 0, 255).astype(np.uint8)
    rgb = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(0.5, 1.2))
    rgb = add_noise(rgb, rng.uniform(2.0, 5.0), rng)
    dpi = round(max(out_w, out_h) / (297 / MM_PER_INCH))  # nominal: the frame is about an A4 page
    return Delivered(rgb, dpi, quality=int(rng.integers(80, 94)))


def _photo_quad(rng: np.random.Generator, page: tuple[int, int], frame: tuple[int, int]) -> np.ndarray:
    """Where the page's corners land in the photo (TL, TR, BR, BL), ``(4, 2)`` float32."""
    W0, H0 = page
    w, h = frame
    k = rng.uniform(0.78, 0.9) * h / H0
    k = min(k, 0.9 * w / W0)
    cx, cy = w / 2 + rng.uniform(-0.03, 0.03) * w, h / 2 + rng.uniform(-0.03, 0.03) * h
    half = np.array([[-W0, -H0], [W0, -H0], [W0, H0], [-W0, H0]]) * k / 2
    turn = math.radians(rng.uniform(-4, 4))
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    quad = half @ rotation.T + (cx, cy)
    quad += rng.uniform(-0.035, 0.035, (4, 2)) * (w, h)  # the camera is not parallel to the page
    quad[:, 0] = np.clip(quad[:, 0], 0.01 * w, 0.99 * w)
    quad[:, 1] = np.clip(quad[:, 1], 0.01 * h, 0.99 * h)
    return quad.astype(np.float32)


def _curl(sx: np.ndarray, sy: np.ndarray, page: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A smooth non-linear warp of page coordinates: a gentle bow plus one curling edge.

    Slight on purpose: beyond the homography through the four fiducials,
    boxes move by at most about 0.5 mm (95th percentile 0.45 mm) — the box
    core starts 0.58 mm inside its edge — so the page stays readable by
    registration on the fiducials alone.
    """
    W0, H0 = page
    u, v = sx / W0, sy / H0
    sy = sy + rng.uniform(-CURL_BOW, CURL_BOW) * H0 * np.sin(np.pi * np.clip(u, 0, 1))
    sx = sx + rng.uniform(-CURL_BOW, CURL_BOW) * W0 * np.sin(np.pi * np.clip(v, 0, 1))
    lift = rng.uniform(*CURL_LIFT)
    edge = int(rng.integers(4))
    start = 1 - CURL_EDGE
    if edge == 0:
        sx = sx + lift * W0 * np.clip((u - start) / (1 - start), 0, None) ** 2
    elif edge == 1:
        sx = sx - lift * W0 * np.clip((1 - start - u) / (1 - start), 0, None) ** 2
    elif edge == 2:
        sy = sy + lift * H0 * np.clip((v - start) / (1 - start), 0, None) ** 2
    else:
        sy = sy - lift * H0 * np.clip((1 - start - v) / (1 - start), 0, None) ** 2
    return sx, sy


def _lighting(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Brightness over the photo, ``(h, w)`` float32 ≤ 1: a gradient and a soft shadow edge."""
    ys, xs = np.mgrid[0:h:16, 0:w:16].astype(np.float32)
    u, v = xs / w - 0.5, ys / h - 0.5
    gain = 1.0 + rng.uniform(-0.35, 0.35) * u + rng.uniform(-0.35, 0.35) * v
    theta = rng.uniform(0, 2 * math.pi)
    offset = rng.uniform(0.15, 0.35)  # the shadow covers the far side of this line
    distance = u * math.cos(theta) + v * math.sin(theta) - offset
    softness = rng.uniform(0.03, 0.08)
    gain *= 1.0 - rng.uniform(0.2, 0.4) / (1.0 + np.exp(-distance / softness))
    gain *= rng.uniform(0.92, 1.0) / gain.max()
    return cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)


# =============================================================================
# Files
# =============================================================================


def encode_image(page: Delivered, fmt: str) -> bytes:
    """JPEG or PNG bytes of a delivered page, with its resolution in the header."""
    dpi = int(round(page.dpi))
    if fmt == "png":
        picture = Image.fromarray(page.image)
        if page.binary:
            picture = picture.convert("1", dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        picture.save(buffer, "PNG", compress_level=1, dpi=(dpi, dpi))
        return buffer.getvalue()
    image = cv2.cvtColor(page.image, cv2.COLOR_RGB2BGR) if page.image.ndim == 3 else page.image
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, page.quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return with_jfif_dpi(data.tobytes(), dpi)


def with_jfif_dpi(jpeg: bytes, dpi: int) -> bytes:
    """``jpeg`` with its JFIF header stating ``dpi`` (OpenCV leaves it 1:1, no unit),
    as a scanner's file does; anything without a JFIF header is returned as is."""
    if jpeg[2:4] != b"\xff\xe0" or jpeg[6:11] != b"JFIF\x00" or not 0 < dpi < 65536:
        return jpeg
    density = bytes([1]) + dpi.to_bytes(2, "big") * 2  # unit 1 = dots per inch
    return jpeg[:13] + density + jpeg[18:]


def pdf_image_data(page: Delivered) -> bytes:
    """The image stream a scan-to-PDF stores: 1-bit Flate for black-and-white pages, else JPEG."""
    if page.binary:
        return zlib.compress(np.packbits(page.image > 127, axis=-1).tobytes(), 6)
    return encode_image(page, "jpg")


class ScanPdfWriter:
    """A multi-page PDF of page images, written as it goes (a copier's scan-to-PDF).

    Pages are streamed to ``handle`` so a batch of thousands of sheets never
    sits in memory: grey and colour pages as JPEG (DCTDecode), black-and-white
    pages as 1-bit Flate, each page sized from the image's resolution.
    """

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.offsets: dict[int, int] = {}
        self.kids: list[int] = []
        self.next_id = 3  # 1: catalog, 2: page tree (written last)
        handle.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

    def _object(self, number: int, body: bytes, stream: bytes | None = None) -> None:
        self.offsets[number] = self.handle.tell()
        self.handle.write(f"{number} 0 obj\n".encode() + body)
        if stream is not None:
            self.handle.write(b"\nstream\n" + stream + b"\nendstream")
        self.handle.write(b"\nendobj\n")

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def add_page(self, data: bytes, *, width: int, height: int, dpi: float, colour: bool, binary: bool) -> None:
        """Append a page showing one image: ``data`` from ``pdf_image_data``."""
        w, h = width, height
        if binary:
            spec = "/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /FlateDecode"
        else:
            space = "/DeviceRGB" if colour else "/DeviceGray"
            spec = f"/ColorSpace {space} /BitsPerComponent 8 /Filter /DCTDecode"
        width_pt, height_pt = w / dpi * 72, h / dpi * 72
        image_id, content_id, page_id = self._new_id(), self._new_id(), self._new_id()
        self._object(image_id, f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} {spec} /Length {len(data)} >>".encode(), data)
        content = f"q {width_pt:.3f} 0 0 {height_pt:.3f} 0 0 cm /Im0 Do Q".encode()
        self._object(content_id, f"<< /Length {len(content)} >>".encode(), content)
        self._object(page_id, (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width_pt:.3f} {height_pt:.3f}] "
            f"/Resources << /XObject << /Im0 {image_id} 0 R >> >> /Contents {content_id} 0 R >>"
        ).encode())
        self.kids.append(page_id)

    def close(self) -> None:
        kids = " ".join(f"{k} 0 R" for k in self.kids)
        self._object(2, f"<< /Type /Pages /Kids [{kids}] /Count {len(self.kids)} >>".encode())
        self._object(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        xref = self.handle.tell()
        count = self.next_id
        lines = [f"xref\n0 {count}\n", "0000000000 65535 f \n"]
        lines += [f"{self.offsets[i]:010d} 00000 n \n" for i in range(1, count)]
        lines.append(f"trailer\n<< /Size {count} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n")
        self.handle.write("".join(lines).encode())


# =============================================================================
# The whole run
# =============================================================================


@dataclass(frozen=True)
class TruthRow:
    file: str
    page: int  # page within the file (1 for an image)
    sheet_page: int  # which page of the answer sheet this is
    student_id: str
    variant: str
    absent: bool
    rotation: int
    ambiguous: str  # "3:two-marks;17:faint"
    answers: dict[int, str]  # question number → letters, for questions on this sheet page


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
    progress: Callable[[str], None] | None = None,
) -> SimulationResult:
    """Write ``n`` filled, degraded answer sheets and their ``truth.csv`` into ``outdir``.

    Parameters
    ----------
    exam_json
        The exam manifest; ``sheet.pdf`` must be beside it.
    degrade
        ``none`` | ``scan`` | ``photo`` | ``harsh`` (see the ``degrade_*`` functions).
    fmt
        ``jpg`` / ``png``: ``sheet-0001.jpg`` … (``sheet-0001-2.jpg`` for page 2
        of a multi-page sheet); ``pdf``: one multi-page ``scans.pdf``.
    dpi
        Resolution the sheet is rasterized and pencilled at (default 300);
        when given, also the scan and fax output resolution (otherwise
        drawn per sheet). Photos are 8–12 MP whatever it is.
    absent, duplicate_ids
        Sheets marked 缺考 by the invigilator; sheets bubbling another sheet's 准考证号.
    doubtful_rate
        Chance per question of a deliberately doubtful mark.
    """
    start = time.perf_counter()
    say = progress or (lambda message: None)
    _check_options(n, degrade, fmt, dpi, absent, duplicate_ids, doubtful_rate)
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
    students = make_cohort(manifest, n, seed, absent=absent, duplicate_ids=duplicate_ids)
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
    with ThreadPoolExecutor(max_workers=WORKERS) as pool, _abandoned_on_error(pool, run), contextlib.ExitStack() as stack:
        sink = _PageSink(outdir, fmt, stack)
        for student, (responses, pages) in zip(students, _in_order(pool, run.sheet, students, window=2 * WORKERS)):
            ambiguous += sum(1 for r in responses if r.doubt)
            for page in pages:
                name, index = sink.add(page, student.sheet, geometry.pages)
                rows.append(_truth_row(name, index, page.sheet_page, student, responses, geometry, page.rotation))
            if student.sheet % 50 == 0:
                say(f"已生成 {student.sheet}/{n} 张答题卡")
        sink.finish()
        files = sink.files
    atomic.write_bytes(truth, truth_csv(rows, geometry).encode("utf-8-sig"))
    _remove_stale(outdir, {p.name for p in files})
    return SimulationResult(
        outdir=outdir, files=tuple(files), truth=truth, sheets=n, pages=len(rows), absent=absent,
        duplicate_ids=duplicate_ids, ambiguous=ambiguous, seconds=time.perf_counter() - start, rows=tuple(rows),
    )


@contextlib.contextmanager
def _abandoned_on_error(pool: ThreadPoolExecutor, run: _Run) -> Iterator[None]:
    """Interrupted (Ctrl-C) or failed: drop the queued sheets and stop the ones being drawn.

    Threads cannot be killed and the pool waits for them on the way out, so
    each one checks ``run.stopped`` before every page: stopping takes one
    page's work at most (about a second for a 12-megapixel photo), not the
    whole queue's.
    """
    try:
        yield
    except BaseException:
        run.stopped.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise


class _Stopped(Exception):
    """A sheet abandoned half-way because the run was interrupted (nobody reads it)."""


@dataclass(frozen=True)
class _StoredPage:
    """One delivered page, encoded and ready to store."""

    sheet_page: int
    rotation: int
    payload: bytes  # the image file (jpg/png) or the PDF image stream
    width: int
    height: int
    dpi: float
    colour: bool
    binary: bool


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
        self.stopped = threading.Event()  # set when the run is interrupted: workers give up at the next page

    def sheet(self, student: Student) -> tuple[list[Response], list[_StoredPage]]:
        responses = answer_sheet(self.manifest, student, self.seed, self.doubtful_rate)
        pages = []
        for number, blank in enumerate(self.blanks, start=1):
            if self.stopped.is_set():
                raise _Stopped()
            pen = _rng(self.seed, _STREAM_PEN, student.sheet, number)
            marked = fill_page(blank, self.manifest.sheet, number, student, responses, pen, self.dpi_in)
            page = self.deliver(marked, _rng(self.seed, _STREAM_DEVICE, student.sheet, number))
            payload = pdf_image_data(page) if self.fmt == "pdf" else encode_image(page, self.fmt)
            h, w = page.image.shape[:2]
            pages.append(_StoredPage(number, page.rotation, payload, w, h, page.dpi, page.image.ndim == 3, page.binary))
        return responses, pages

    def deliver(self, image: np.ndarray, rng: np.random.Generator) -> Delivered:
        if self.degrade == "none":
            return degrade_none(image, self.dpi_in)
        if self.degrade == "scan":
            return degrade_scan(image, rng, dpi_in=self.dpi_in, dpi_out=self.dpi_out, keep_px=self.keep_px)
        if self.degrade == "photo":
            return degrade_photo(image, rng)
        return degrade_harsh(image, rng, dpi_in=self.dpi_in, dpi_out=self.dpi_out, keep_px=self.keep_px,
                             fiducials_px=self.fiducials_px)


def _in_order(pool: ThreadPoolExecutor, work: Callable, items: Sequence, window: int) -> Iterator:
    """``work(item)`` for each item on ``pool``, yielded in order, at most ``window`` in flight
    (so finished pages never pile up in memory ahead of the writer)."""
    pending: collections.deque = collections.deque()
    for item in items:
        pending.append(pool.submit(work, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def fill_page(
    blank: np.ndarray,
    geometry: SheetGeometry,
    page: int,
    student: Student,
    responses: Sequence[Response],
    rng: np.random.Generator,
    dpi: float,
) -> np.ndarray:
    """A copy of ``blank`` (H, W) uint8 with this student's pencil on sheet page ``page``.

    Every page carries the header, so the 准考证号, 试卷类型 (and, for an
    absent student, the invigilator's 缺考 mark) go on each page.
    """
    image = blank.copy()
    ppm = dpi / MM_PER_INCH
    header = geometry.header

    def mark(rect: Rect, kind: str) -> None:
        draw_mark(image, rect_to_px(rect, geometry, dpi), kind, rng, px_per_mm=ppm, tone=student.tone)

    for column, digit in zip(header.id_grid, student.student_id):
        mark(column[int(digit)], "fill")
    if student.absent:
        mark(header.absent, "fill")
        return image
    mark(header.variant_row[geometry.variants.index(student.variant)], "fill")
    boxes = {q.number: q.boxes for q in geometry.questions_on(page)}
    for response in responses:
        for box, kind in response.marks:
            if response.number in boxes:
                mark(boxes[response.number][box], kind)
    for _ in range(int(rng.poisson(STRAY_DOTS_PER_PAGE))):
        if boxes:
            row = boxes[int(rng.choice(list(boxes)))]
            mark(row[int(rng.integers(len(row)))], "dot")
    return image


def truth_csv(rows: Sequence[TruthRow], geometry: SheetGeometry) -> str:
    """The truth table as CSV text (header row; one row per delivered page)."""
    numbers = [q.number for q in geometry.questions]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "page", "sheet_page", "student_id", "variant", "absent", "rotation", "ambiguous",
                     *map(str, numbers)])
    for row in rows:
        writer.writerow([row.file, row.page, row.sheet_page, row.student_id, row.variant, int(row.absent),
                         row.rotation, row.ambiguous, *(row.answers.get(k, "") for k in numbers)])
    return buffer.getvalue()


def _truth_row(
    name: str, index: int, page: int, student: Student, responses: Sequence[Response], geometry: SheetGeometry,
    rotation: int,
) -> TruthRow:
    on_page = {q.number for q in geometry.questions_on(page)}
    mine = [r for r in responses if r.number in on_page]
    return TruthRow(
        file=name, page=index, sheet_page=page, student_id=student.student_id,
        variant="" if student.absent else student.variant, absent=student.absent, rotation=rotation,
        ambiguous=";".join(f"{r.number}:{r.doubt}" for r in mine if r.doubt),
        answers={r.number: r.letters for r in mine},
    )


class _PageSink:
    """Where delivered pages go: one image file each, or pages of ``scans.pdf``.

    The PDF is written into an atomic temp file held open by ``stack``; it
    takes its final name only when the stack closes without an error.
    """

    def __init__(self, outdir: Path, fmt: str, stack: contextlib.ExitStack) -> None:
        self.outdir, self.fmt = outdir, fmt
        self.files: list[Path] = []
        self.pdf_pages = 0
        if fmt == "pdf":
            path = outdir / PDF_NAME
            tmp = stack.enter_context(atomic.atomic_path(path))
            self.pdf = ScanPdfWriter(stack.enter_context(open(tmp, "wb")))
            self.files.append(path)

    def add(self, page: _StoredPage, sheet: int, sheet_pages: int) -> tuple[str, int]:
        """Store ``page``; returns the file name and the page within that file."""
        if self.fmt == "pdf":
            self.pdf.add_page(page.payload, width=page.width, height=page.height, dpi=page.dpi,
                              colour=page.colour, binary=page.binary)
            self.pdf_pages += 1
            return PDF_NAME, self.pdf_pages
        suffix = f"-{page.sheet_page}" if sheet_pages > 1 else ""
        path = self.outdir / f"sheet-{sheet:04d}{suffix}.{self.fmt}"
        atomic.write_bytes(path, page.payload)
        self.files.append(path)
        return path.name, 1

    def finish(self) -> None:
        if self.fmt == "pdf":
            self.pdf.close()


def _remove_stale(outdir: Path, written: set[str]) -> None:
    # A smaller rerun into the same folder must not leave last run's sheets
    # beside the new truth.csv, where the grader would read them.
    for entry in outdir.iterdir():
        if _OUTPUT_PATTERN.match(entry.name) and entry.name not in written:
            try:
                entry.unlink()
            except OSError:
                pass


def _check_options(n: int, degrade: str, fmt: str, dpi: float | None, absent: int, duplicate_ids: int, doubtful_rate: float) -> None:
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
    if not 0 <= doubtful_rate <= 1:
        raise SimulateOptionError("存疑比例应在 0 到 1 之间")


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """An independent random stream per purpose and sheet, so that answers do not
    depend on the degradation level and any sheet can be re-made alone."""
    return np.random.default_rng([seed % 2**63, *stream])
