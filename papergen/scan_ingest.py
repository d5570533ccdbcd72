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
import os
import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import limits

# libtiff and libjpeg print their complaints about a damaged file straight to
# stderr, once per directory or marker: hundreds of lines over the progress
# bar. papergen reports every unreadable page itself, with its file and page.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

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
    stamp: tuple[int, int]  # (size, mtime_ns) when hashed: a file changed since is not graded
    dims: tuple[int, int] | None = None  # (width, height) of this page when known without decoding (TIFF)


@dataclass(frozen=True)
class IngestProblem:
    path: str
    reason: str  # slug: empty-file, unknown-format, not-a-scan (ignored), unreadable, too-large, encrypted, too-many-pages, truncated
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
    """Every file to look at, and whether it was found inside a folder.

    A file named on the command line counts as named even when a folder
    given alongside also holds it: naming a file that is not a scan is an
    error, finding one in a folder is not.
    """
    named = {Path(item).resolve() for item in inputs if not Path(item).is_dir()}
    found: list[tuple[Path, bool]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(
                (p, p.resolve() not in named) for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith(".")
            )
        else:
            found.append((path, False))
    return found


def _os_message(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "文件不存在"
    if isinstance(exc, PermissionError):
        return "没有读取权限"
    if isinstance(exc, IsADirectoryError):
        return "这是一个文件夹"
    return f"无法读取：{exc.strerror or exc}"


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
            stat = path.stat()
            if stat.st_size == 0:
                problems.append(IngestProblem(name, "empty-file", "文件是空的（0 字节）"))
                continue
            if stat.st_size > lim.max_scan_bytes:
                problems.append(IngestProblem(name, "too-large", f"文件 {stat.st_size / 1e6:.0f} MB 超过上限（PAPERGEN_MAX_SCAN_MB）"))
                continue
            data = path.read_bytes()
        except OSError as exc:
            problems.append(IngestProblem(name, "unreadable", _os_message(exc)))
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
        intact: list[bool] = []
        try:
            sizes = tiff_page_sizes(data, lim.max_pages + 1, intact) if kind == KIND_TIFF else None
            pages = len(sizes) if sizes is not None else count_pages(data, kind)
        except PageLoadError as exc:
            problems.append(IngestProblem(name, exc.reason, str(exc), digest))
            continue
        if pages > lim.max_pages:
            # a TIFF's directory chain is walked no further than the limit
            count = "页数" if sizes is not None else f"共 {pages} 页，"
            problems.append(IngestProblem(name, "too-many-pages", f"{count}超过上限 {lim.max_pages}（PAPERGEN_MAX_PAGES）", digest))
            continue
        if intact:  # a damaged or cut-off directory chain: the pages before it are still graded
            problems.append(
                IngestProblem(name, "truncated", f"TIFF 在第 {pages} 页之后已损坏或被截断，后面的页无法读取；前 {pages} 页照常评阅", digest)
            )
        stamp = (stat.st_size, stat.st_mtime_ns)
        jobs.extend(
            PageJob(name, digest, kind, page, pages, stamp, sizes[page - 1] if sizes else None) for page in range(1, pages + 1)
        )
    return jobs, problems


def count_pages(data: bytes, kind: str) -> int:
    if kind in (KIND_JPEG, KIND_PNG):
        return 1
    if kind == KIND_TIFF:
        return len(tiff_page_sizes(data, limits.current().max_pages + 1))
    document = _open_pdf(data)
    try:
        return len(document)
    finally:
        document.close()


def tiff_page_sizes(data: bytes, stop_after: int, intact: list[bool] | None = None) -> list[tuple[int, int]]:
    """``(width, height)`` of each page of a TIFF, read from its directory chain.

    Walks the image file directories (classic and BigTIFF) without decoding
    any pixels, at most ``stop_after`` of them: page count and pixel sizes
    come from one pass over the headers. A loop in the chain or a directory
    beyond the end of the file (a truncated file) ends the walk: the pages
    before it are returned and ``intact`` (if given) gets ``False``; with no
    readable page at all the file is reported as damaged.
    """
    damaged = PageLoadError("unreadable", "TIFF 文件已损坏（目录结构无法读取）")
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or len(data) < 16:
        raise damaged
    magic = struct.unpack(order + "H", data[2:4])[0]
    if magic == 42:
        offset = struct.unpack(order + "I", data[4:8])[0]
        count_fmt, entry_size, next_fmt, value_at = "H", 12, "I", 8
    elif magic == 43:  # BigTIFF: 8-byte offsets
        offset = struct.unpack(order + "Q", data[8:16])[0]
        count_fmt, entry_size, next_fmt, value_at = "Q", 20, "Q", 12
    else:
        raise damaged
    sizes: list[tuple[int, int]] = []
    visited: set[int] = set()
    while offset and len(sizes) < stop_after:
        size = _tiff_directory(data, offset, order, count_fmt, entry_size, next_fmt, value_at) if offset not in visited else None
        if size is None:
            if intact is not None:
                intact.append(False)
            break
        visited.add(offset)
        (width, height), offset = size
        sizes.append((width, height))
    if not sizes:
        raise damaged
    return sizes


def _tiff_directory(data: bytes, offset: int, order: str, count_fmt: str, entry_size: int, next_fmt: str, value_at: int):
    """``((width, height), next offset)`` of the directory at ``offset``, or ``None`` if it is damaged."""
    count_size, next_size = struct.calcsize(count_fmt), struct.calcsize(next_fmt)
    if offset + count_size > len(data):
        return None
    entries = struct.unpack(order + count_fmt, data[offset : offset + count_size])[0]
    start = offset + count_size
    end = start + entries * entry_size
    if end + next_size > len(data):
        return None
    found: dict[int, int] = {}
    for at in range(start, end, entry_size):
        tag, kind = struct.unpack(order + "HH", data[at : at + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT or LONG (LONG8 in BigTIFF)
            fmt = {3: "H", 4: "I", 16: "Q"}.get(kind)
            if fmt is None:
                return None
            found[tag] = struct.unpack(order + fmt, data[at + value_at : at + value_at + struct.calcsize(fmt)])[0]
    if 256 not in found or 257 not in found:
        return None
    return (found[256], found[257]), struct.unpack(order + next_fmt, data[end : end + next_size])[0]


def _open_pdf(data: bytes | Path):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        text = str(exc)
        if "password" in text.lower():
            raise PageLoadError("encrypted", "PDF 已加密（需要密码），无法读取；请导出未加密的 PDF") from None
        raise PageLoadError("unreadable", f"PDF 已损坏或不完整：{text}") from None


@contextmanager
def _decoder_stderr_silenced() -> Iterator[None]:
    """Mute file descriptor 2 while a C decoder runs.

    libjpeg and libpng print warnings about a damaged file ("Corrupt JPEG
    data: …") straight to the process's stderr, below any logging setting,
    and in the middle of the progress bar. papergen reports every page it
    cannot read itself, naming the file and page.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr (a daemon, a closed fd): nothing to mute
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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
    path = Path(job.path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise PageLoadError("unreadable", _os_message(exc)) from None
    # The content hash (the store's key) was taken when the job was made; size
    # and mtime tell a file changed since, for every kind of file, without
    # hashing it again for each page.
    if (stat.st_size, stat.st_mtime_ns) != job.stamp:
        raise PageLoadError("changed", "文件在评阅过程中被修改了；请重新运行 papergen grade")
    # A page of a multi-page file is read from the file itself, never the
    # whole file per page: the 300th page of a copier's PDF costs what the
    # first one does (a TIFF still walks its directory chain, in C).
    if job.kind == KIND_PDF:
        return _pdf_page(path, job.page, max_pixels)
    if job.kind == KIND_TIFF:
        return _tiff_page(path, job, max_pixels)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PageLoadError("unreadable", _os_message(exc)) from None
    # Decoders fill a cut-off image with grey rather than fail, and grey boxes
    # would read as marks: a file without its end marker is refused outright.
    if job.kind == KIND_JPEG and not data.rstrip(b"\x00")[-2:] == b"\xff\xd9":
        raise PageLoadError("truncated", "JPEG 文件不完整（缺少结尾标记），可能传输或复制时被截断")
    if job.kind == KIND_PNG and b"IEND" not in data[-16:]:
        raise PageLoadError("truncated", "PNG 文件不完整（缺少结尾块），可能传输或复制时被截断")
    width, height = _image_size(data)
    _check_pixels(width, height, max_pixels)
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
    with _decoder_stderr_silenced():
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if image is None:
        raise PageLoadError("unreadable", "图像无法解码（文件不完整或已损坏）")
    return image


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise PageLoadError(
            "too-many-pixels",
            f"图像 {width}×{height} 像素超过上限 {max_pixels / 1e6:.0f} 百万像素（PAPERGEN_MAX_PIXELS_MP）",
        )


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a JPEG or PNG from its header, without decoding pixels."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # we apply our own, documented limit
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size[0], image.size[1]
    except Exception as exc:
        raise PageLoadError("unreadable", f"图像文件头无法读取（文件不完整或已损坏）：{exc}") from None


def _tiff_page(path: Path, job: PageJob, max_pixels: int) -> np.ndarray:
    if job.dims is not None:
        _check_pixels(*job.dims, max_pixels)
    try:
        # Mapped, not read: only this page's directory chain and strips are touched.
        mapped = np.memmap(path, mode="r", dtype=np.uint8)
        with _decoder_stderr_silenced():
            ok, images = cv2.imdecodemulti(mapped, cv2.IMREAD_GRAYSCALE, range=(job.page - 1, job.page))
    except (OSError, ValueError, cv2.error) as exc:
        raise PageLoadError("unreadable", f"TIFF 第 {job.page} 页无法解码：{exc}") from None
    if not ok or not images or images[0] is None or images[0].size == 0:
        raise PageLoadError("unreadable", f"TIFF 第 {job.page} 页无法解码（文件不完整或已损坏）")
    return images[0]  # IMREAD_GRAYSCALE: 8-bit whatever the file's depth


def _pdf_page(path: Path, page: int, max_pixels: int) -> np.ndarray:
    document = _open_pdf(path)
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
