"""Scan ingest: which pages are in the grader's input, and their pixels.

``collect_pages`` expands files and folders into ``PageJob``s — one per page
of every JPEG, PNG, TIFF (multi-page) and PDF (multi-page), told apart by
their bytes, not their names — keyed by the file's content hash so a file
renamed or given twice is still one scan. ``load_page`` decodes one page to
a grayscale array, refusing pages over the pixel limit before decoding them
(a decompression bomb never reaches memory). Problems with a file become
``IngestProblem``s; they never stop the rest of the batch.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import limits

KIND_JPEG = "jpeg"
KIND_PNG = "png"
KIND_TIFF = "tiff"
KIND_PDF = "pdf"
#: PDF pages are rasterized at this resolution (enough for 5 mm boxes).
PDF_DPI = 200
#: Pixels on the short side of an A4 page at about 150 dpi; JPEGs at least
#: twice this size are decoded at reduced scale.
READ_SHORT_SIDE = 1240


class PageLoadError(Exception):
    """A page could not be decoded; ``reason`` is a slug, ``str()`` the Chinese message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PageJob:
    """One page to grade: picklable, so it can go to a worker process."""

    path: str
    file_hash: str
    kind: str
    page: int  # 1-based page within the file
    pages: int  # pages in the file


@dataclass(frozen=True)
class IngestProblem:
    path: str
    reason: str  # slug: empty-file, unknown-format, not-a-scan (ignored), unreadable, too-large, encrypted, too-many-pages
    message: str
    file_hash: str | None = None


def sniff_scan(head: bytes) -> str | None:
    """The kind of a scan file from its first bytes, or ``None``."""
    if head.startswith(b"\xff\xd8\xff"):
        return KIND_JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return KIND_PNG
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return KIND_TIFF
    if head.startswith(b"%PDF") or b"%PDF" in head[:1024]:
        return KIND_PDF
    return None


def _files(inputs: list[str | Path]) -> list[tuple[Path, bool]]:
    """Every file to look at, and whether it was found inside a folder."""
    found: list[tuple[Path, bool]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend((p, True) for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith("."))
        else:
            found.append((path, False))
    return found


def collect_pages(inputs: list[str | Path]) -> tuple[list[PageJob], list[IngestProblem]]:
    """Expand ``inputs`` (files and folders) into page jobs.

    The same content given twice (two names, or a file inside a folder also
    named on its own) yields its pages once.
    """
    lim = limits.current()
    jobs: list[PageJob] = []
    problems: list[IngestProblem] = []
    seen: set[str] = set()
    for path, in_folder in _files(inputs):
        name = str(path)
        try:
            size = path.stat().st_size
            if size == 0:
                problems.append(IngestProblem(name, "empty-file", "文件是空的（0 字节）"))
                continue
            if size > lim.max_scan_bytes:
                problems.append(IngestProblem(name, "too-large", f"文件 {size / 1e6:.0f} MB 超过上限（PAPERGEN_MAX_SCAN_MB）"))
                continue
            data = path.read_bytes()
        except OSError as exc:
            problems.append(IngestProblem(name, "unreadable", f"无法读取：{exc.strerror or exc}"))
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        kind = sniff_scan(data[:2048])
        if kind is None:
            # Inside a folder, a non-scan (truth.csv, notes) is passed over and
            # listed; named on the command line, it is an error.
            reason = "not-a-scan" if in_folder else "unknown-format"
            problems.append(IngestProblem(name, reason, "不是 JPEG、PNG、TIFF 或 PDF 文件", digest))
            continue
        try:
            pages = count_pages(data, kind)
        except PageLoadError as exc:
            problems.append(IngestProblem(name, exc.reason, str(exc), digest))
            continue
        if pages > lim.max_pages:
            problems.append(IngestProblem(name, "too-many-pages", f"共 {pages} 页，超过上限 {lim.max_pages}（PAPERGEN_MAX_PAGES）", digest))
            continue
        jobs.extend(PageJob(name, digest, kind, page, pages) for page in range(1, pages + 1))
    return jobs, problems


def count_pages(data: bytes, kind: str) -> int:
    if kind in (KIND_JPEG, KIND_PNG):
        return 1
    if kind == KIND_TIFF:
        return _tiff_pages(data)
    document = _open_pdf(data)
    try:
        return len(document)
    finally:
        document.close()


def _tiff_pages(data: bytes) -> int:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return getattr(image, "n_frames", 1)
    except Exception as exc:
        raise PageLoadError("unreadable", f"TIFF 文件已损坏：{exc}") from None


def _open_pdf(data: bytes):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        text = str(exc)
        if "password" in text.lower():
            raise PageLoadError("encrypted", "PDF 已加密（需要密码），无法读取；请导出未加密的 PDF") from None
        raise PageLoadError("unreadable", f"PDF 已损坏或不完整：{text}") from None


def load_page(job: PageJob) -> np.ndarray:
    """Decode one page to grayscale.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` uint8, 0 = black, 255 = white.

    Raises
    ------
    PageLoadError
        The page is truncated/corrupt, or over the pixel limit.
    """
    max_pixels = limits.current().max_pixels
    try:
        data = Path(job.path).read_bytes()
    except OSError as exc:
        raise PageLoadError("unreadable", f"无法读取：{exc.strerror or exc}") from None
    if hashlib.sha256(data).hexdigest() != job.file_hash:
        raise PageLoadError("changed", "文件在读取过程中被修改了")
    if job.kind == KIND_PDF:
        return _pdf_page(data, job.page, max_pixels)
    # Decoders fill a cut-off image with grey rather than fail, and grey boxes
    # would read as marks: a file without its end marker is refused outright.
    if job.kind == KIND_JPEG and not data.rstrip(b"\x00")[-2:] == b"\xff\xd9":
        raise PageLoadError("truncated", "JPEG 文件不完整（缺少结尾标记），可能传输或复制时被截断")
    if job.kind == KIND_PNG and b"IEND" not in data[-16:]:
        raise PageLoadError("truncated", "PNG 文件不完整（缺少结尾块），可能传输或复制时被截断")
    width, height, frame = _image_size(data, job)
    if width * height > max_pixels:
        raise PageLoadError(
            "too-many-pixels",
            f"图像 {width}×{height} 像素超过上限 {max_pixels / 1e6:.0f} 百万像素（PAPERGEN_MAX_PIXELS_MP）",
        )
    if job.kind == KIND_TIFF:
        return _tiff_page(data, job.page)
    # The reader works at about 150 dpi (6 px/mm): JPEG can decode straight to
    # a half or quarter size (skipping most of the DCT work), which is both the
    # cheapest decode and all the resolution the boxes need.
    flag = cv2.IMREAD_GRAYSCALE
    if job.kind == KIND_JPEG:
        short_side = min(width, height)
        if short_side >= 4 * READ_SHORT_SIDE:
            flag = cv2.IMREAD_REDUCED_GRAYSCALE_4
        elif short_side >= 2 * READ_SHORT_SIDE:
            flag = cv2.IMREAD_REDUCED_GRAYSCALE_2
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if image is None:
        raise PageLoadError("unreadable", "图像无法解码（文件不完整或已损坏）")
    return image


def _image_size(data: bytes, job: PageJob) -> tuple[int, int, int]:  # noqa: D401
    """Width and height from the header, without decoding pixels."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # we apply our own, documented limit
    try:
        with Image.open(io.BytesIO(data)) as image:
            if job.kind == KIND_TIFF:
                image.seek(job.page - 1)
            return image.size[0], image.size[1], job.page
    except Exception as exc:
        raise PageLoadError("unreadable", f"图像文件头无法读取（文件不完整或已损坏）：{exc}") from None


def _tiff_page(data: bytes, page: int) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.seek(page - 1)
            return np.asarray(image.convert("L"))
    except Exception as exc:
        raise PageLoadError("unreadable", f"TIFF 第 {page} 页无法解码：{exc}") from None


def _pdf_page(data: bytes, page: int, max_pixels: int) -> np.ndarray:
    document = _open_pdf(data)
    try:
        pdf_page = document[page - 1]
        width_pt, height_pt = pdf_page.get_size()
        scale = PDF_DPI / 72
        if width_pt * height_pt * scale * scale > max_pixels:
            scale = (max_pixels / (width_pt * height_pt)) ** 0.5
        bitmap = pdf_page.render(scale=scale, grayscale=True)
        return np.array(bitmap.to_numpy()).reshape(bitmap.height, bitmap.width)
    except Exception as exc:
        raise PageLoadError("unreadable", f"PDF 第 {page} 页无法渲染：{exc}") from None
    finally:
        document.close()
