"""Scan ingest: which pages are in the grader's input, and their pixels.

``collect_pages`` expands files and folders into ``PageJob``s — one per page
of every JPEG, PNG, TIFF (multi-page), PDF (multi-page), HEIC/HEIF (an
iPhone photo; each top-level image a page), WebP, AVIF and BMP, told apart
by their bytes, not their names — keyed by the file's content hash so a file
renamed or given twice is still one scan. ``load_page`` decodes one page to
a grayscale array, refusing pages over the pixel limit before decoding them
(a decompression bomb never reaches memory). Problems with a file become
``IngestProblem``s; they never stop the rest of the batch. A file whose name
says it is an image (``.jpg``, ``.heic``…) but whose bytes are not one is a
problem even inside a folder: a scan lost in transfer must not vanish.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import struct
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from papergen.core import limits

KIND_JPEG = "jpeg"
KIND_PNG = "png"
KIND_TIFF = "tiff"
KIND_PDF = "pdf"
KIND_HEIF = "heif"  # HEIC/HEIF: HEVC pictures in an ISO media file (iPhone photos)
KIND_AVIF = "avif"  # AV1 pictures in the same container
KIND_WEBP = "webp"
KIND_BMP = "bmp"
#: Kinds decoded through Pillow (and pillow-heif), not OpenCV.
PILLOW_KINDS = (KIND_HEIF, KIND_AVIF, KIND_WEBP)
#: ``ftyp`` brands of the still-image container (ISO/IEC 23008-12): AVIF's
#: are checked first, since an AVIF file also carries the generic ``mif1``.
AVIF_BRANDS = frozenset({b"avif", b"avis"})
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"mif2"})
#: Sizes of the BMP info headers OpenCV reads (core, v1, v2/v3, v4, v5).
BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 108, 124})
#: Names that promise a scan. Inside a folder such a file whose bytes are not
#: one is an error (a scan lost to a broken download or copy), while other
#: files there (truth.csv, notes) are passed over and listed.
SCAN_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".pdf", ".heic", ".heif", ".hif", ".webp", ".avif", ".bmp"}
)
FORMAT_NAMES = "JPEG、PNG、TIFF、PDF、HEIC/HEIF、WebP、AVIF 或 BMP"
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
    """One page to grade: picklable, so it can go to a worker process or another machine.

    A job names its file by ``path``, read where the job runs; a job that
    carries the file's bytes (``with_bytes``, for workers that do not share
    the scan folder) is read from those instead, and is otherwise the same.
    """

    path: str
    file_hash: str
    kind: str
    page: int  # 1-based page within the file
    pages: int  # pages in the file
    stamp: tuple[int, int]  # (size, mtime_ns) when hashed: a file changed since is not graded
    dims: tuple[int, int] | None = None  # (width, height) of this page when known without decoding (TIFF)
    data: bytes | None = field(default=None, repr=False)  # the whole file, when shipped with the job

    def with_bytes(self) -> PageJob:
        """This job carrying its file's bytes, read now (``grade --ship-bytes``).

        A multi-page file travels whole with each of its pages. A file that
        cannot be read, or has changed since it was hashed, is not shipped:
        the job then fails where it runs, as it would have here.
        """
        try:
            path = Path(self.path)
            stat = path.stat()
            if (stat.st_size, stat.st_mtime_ns) != self.stamp:
                return self
            data = path.read_bytes()
        except OSError:
            return self
        return replace(self, data=data) if len(data) == self.stamp[0] else self


@dataclass(frozen=True)
class IngestProblem:
    path: str
    reason: str  # slug: empty-file, unknown-format, not-an-image, not-a-scan (ignored), unreadable, too-large, encrypted, too-many-pages, truncated, no-decoder
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
    brands = set(_ftyp_brands(head))
    if brands & AVIF_BRANDS:
        return KIND_AVIF
    if brands & HEIF_BRANDS:
        return KIND_HEIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return KIND_WEBP
    # "BM" alone is two letters any text may start with: the info header's size must be a real one too
    if head[:2] == b"BM" and len(head) >= 26 and struct.unpack("<I", head[14:18])[0] in BMP_HEADER_SIZES:
        return KIND_BMP
    if head.startswith(b"%PDF") or b"%PDF" in head[:1024]:
        return KIND_PDF
    return None


def _ftyp_brands(head: bytes) -> list[bytes]:
    """Major and compatible brands of an ISO media file's leading ``ftyp`` box (empty if there is none)."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return []
    end = min(struct.unpack(">I", head[:4])[0], len(head))
    return [head[8:12]] + [head[at : at + 4] for at in range(16, end - 3, 4)]


def looks_like(head: bytes) -> str:
    """What a file that is not a scan seems to hold, in words for the message naming it."""
    if not head:
        return "空文件（0 字节）"
    if not head.strip(b"\x00"):
        return "空白数据（全是 0 字节），可能没有下载或复制完整"
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html")) or b"<html" in start[:1024] or b"<body" in start[:1024]:
        return "HTML 网页，可能是下载失败时保存的错误页"
    if b"<svg" in start[:1024]:
        return "SVG 矢量图，papergen 不读 SVG"
    if start.startswith(b"<?xml"):
        return "XML 文本"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF 图像，papergen 不读 GIF"
    if head[4:8] == b"ftyp":
        return f"视频或其他媒体文件（{head[8:12].decode('latin-1').strip()}）"
    if head.startswith(b"PK\x03\x04"):
        return "ZIP 压缩包或 Office 文档"
    if b"\x00" not in head:
        for encoding in ("utf-8", "gb18030"):
            try:
                codecs.getincrementaldecoder(encoding)().decode(head, final=False)
            except UnicodeDecodeError:
                continue
            return "文本"
    return "无法识别的二进制数据"


def _spaced(text: str) -> str:
    # Chinese running text puts a space before a Latin word
    return f" {text}" if text[:1].isascii() else text


def _not_a_scan_message(path: Path, head: bytes) -> tuple[str, str]:
    """``(reason, message)`` for a file whose bytes are no scan papergen reads."""
    what = _spaced(looks_like(head))
    if path.suffix.lower() in SCAN_SUFFIXES:
        target = "PDF" if path.suffix.lower() == ".pdf" else "图片"
        return "not-an-image", f"文件名是 {path.suffix}，但内容不是{_spaced(target)}（看起来是{what}）"
    return "unknown-format", f"不是 {FORMAT_NAMES} 文件（看起来是{what}）"


def _files(inputs: list[str | Path], found_in_folder: bool = False) -> list[tuple[Path, bool]]:
    """Every file to look at, and whether it was found inside a folder.

    A file named on the command line counts as named even when a folder
    given alongside also holds it: naming a file that is not a scan is an
    error, finding one in a folder is not. ``found_in_folder``: the files
    given were found in a folder by the caller (the hot folder of ``grade
    --watch``) and count as such.
    """
    named = set() if found_in_folder else {Path(item).resolve() for item in inputs if not Path(item).is_dir()}
    found: list[tuple[Path, bool]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(
                (p, p.resolve() not in named) for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith(".")
            )
        else:
            found.append((path, found_in_folder))
    return found


def _os_message(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "文件不存在"
    if isinstance(exc, PermissionError):
        return "没有读取权限"
    if isinstance(exc, IsADirectoryError):
        return "这是一个文件夹"
    return f"无法读取：{exc.strerror or exc}"


def collect_pages(inputs: list[str | Path], *, found_in_folder: bool = False) -> tuple[list[PageJob], list[IngestProblem]]:
    """Expand ``inputs`` (files and folders) into page jobs.

    The same content given twice (two names, or a file inside a folder also
    named on its own) yields its pages once. ``found_in_folder``: the files
    in ``inputs`` are treated as found in a folder (a file that is not a scan
    is passed over and listed, not an error).
    """
    lim = limits.current()
    jobs: list[PageJob] = []
    problems: list[IngestProblem] = []
    seen: set[str] = set()
    for path, in_folder in _files(inputs, found_in_folder):
        name = str(path)
        try:
            stat = path.stat()
            if stat.st_size == 0:
                # an empty notes.txt in a folder is no scan; an empty sheet-0001.jpg is a scan lost
                reason = "not-a-scan" if in_folder and path.suffix.lower() not in SCAN_SUFFIXES else "empty-file"
                problems.append(IngestProblem(name, reason, "文件是空的（0 字节）"))
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
            reason, message = _not_a_scan_message(path, data[:2048])
            # Inside a folder, a file not named like a scan (truth.csv, notes)
            # is passed over and listed; named on the command line, or named
            # like an image, it is an error.
            if in_folder and reason == "unknown-format":
                reason = "not-a-scan"
            problems.append(IngestProblem(name, reason, message, digest))
            continue
        intact: list[bool] = []
        try:
            if kind == KIND_TIFF:
                sizes = tiff_page_sizes(data, lim.max_pages + 1, intact)
            elif kind in PILLOW_KINDS or kind == KIND_BMP:
                sizes = image_page_sizes(data, kind)
            else:
                sizes = None
            pages = len(sizes) if sizes is not None else count_pages(data, kind)
        except PageLoadError as exc:
            problems.append(IngestProblem(name, exc.reason, str(exc), digest))
            continue
        if pages > lim.max_pages:
            # a TIFF's directory chain is walked no further than the limit
            count = "页数" if kind == KIND_TIFF else f"共 {pages} 页，"
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


def image_page_sizes(data: bytes, kind: str) -> list[tuple[int, int]]:
    """``(width, height)`` of each page of a HEIF, AVIF, WebP or BMP file, from its headers alone.

    A file cut short is refused here, before any decoder sees it. A HEIF
    file's pages are its top-level images (an iPhone photo has one; its
    thumbnail, depth map and grid tiles are parts of that image, not pages);
    an animated WebP or AVIF (rare for a scan) has a page per frame.
    """
    if kind == KIND_BMP:
        return [_bmp_size(data)]
    _check_complete(data, kind)
    if kind == KIND_WEBP:
        return _webp_sizes(data)
    with _decoders_silenced():
        if kind == KIND_HEIF:
            return [image.size for image in _open_heif(data)]
        image = _open_pillow(data, kind)
        return [image.size] * getattr(image, "n_frames", 1)


_FORMAT_LABEL = {KIND_HEIF: "HEIC/HEIF", KIND_AVIF: "AVIF", KIND_WEBP: "WebP", KIND_BMP: "BMP"}


def _truncated(kind: str) -> PageLoadError:
    return PageLoadError("truncated", f"{_FORMAT_LABEL[kind]} 文件不完整（比文件头写的长度短），可能传输或复制时被截断")


def _damaged(kind: str, detail: object = "") -> PageLoadError:
    return PageLoadError("unreadable", f"{_FORMAT_LABEL[kind]} 文件已损坏或无法解码" + (f"：{detail}" if detail else ""))


def _check_complete(data: bytes, kind: str) -> None:
    """Refuse a HEIF/AVIF/WebP file shorter than its own headers say.

    The decoders refuse most cut files themselves, but a length check is
    certain where a decoder's choice between failing and filling the gap
    (with grey, which reads as pencil) is not.
    """
    if kind == KIND_WEBP:
        if len(data) < 8 + struct.unpack("<I", data[4:8])[0]:
            raise _truncated(kind)
        return
    # ISO media file: top-level boxes (ftyp, meta, mdat…) end to end
    offset = 0
    while len(data) - offset >= 8:
        size = struct.unpack(">I", data[offset : offset + 4])[0]
        if size == 1:  # a 64-bit size follows the type
            if len(data) - offset < 16:
                raise _truncated(kind)
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        elif size == 0:  # the last box runs to the end of the file
            return
        if size < 8:
            raise _damaged(kind, "文件结构无法读取")
        if offset + size > len(data):
            raise _truncated(kind)
        offset += size


def _webp_sizes(data: bytes) -> list[tuple[int, int]]:
    """``(width, height)`` of each frame of a WebP, from its chunks.

    Read here rather than by Pillow: libwebp's decoder allocates the whole
    canvas as soon as it is created, before papergen could check the size.
    """
    size = None
    frames = 0
    offset = 12
    while offset + 8 <= len(data):
        chunk = data[offset : offset + 4]
        length = struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        body = data[offset + 8 : offset + 8 + min(length, 16)]
        if chunk == b"VP8X" and len(body) >= 10:  # extended format: the canvas, 24-bit sizes minus one
            size = (int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1)
        elif chunk == b"ANMF":
            frames += 1
        elif size is None and chunk == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":  # lossy key frame
            width, height = struct.unpack("<HH", body[6:10])
            size = (width & 0x3FFF, height & 0x3FFF)
        elif size is None and chunk == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:  # lossless: 14-bit sizes minus one
            bits = int.from_bytes(body[1:5], "little")
            size = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        offset += 8 + length + (length & 1)  # chunks are padded to an even length
    if size is None:
        raise _damaged(KIND_WEBP, "文件头中没有图像尺寸")
    return [size] * max(frames, 1)


def _bmp_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` of a BMP from its header; refuses a file shorter than its pixel rows."""
    if len(data) < 30:
        raise _truncated(KIND_BMP)
    declared, _, pixels_at, header = struct.unpack("<IIII", data[2:18])
    if header == 12:  # OS/2 core header: 16-bit sizes, never compressed
        width, height, _, bits = struct.unpack("<HHHH", data[18:26])
        compression = 0
    else:
        if len(data) < 34:
            raise _truncated(KIND_BMP)
        width, height, _, bits, compression = struct.unpack("<iiHHI", data[18:34])
    width, height = abs(width), abs(height)  # a negative height stores rows top-down
    if declared > len(data):
        raise _truncated(KIND_BMP)
    # uncompressed rows (RGB, BITFIELDS): their total length is known
    if compression in (0, 3, 6) and pixels_at + ((width * bits + 31) // 32) * 4 * height > len(data):
        raise _truncated(KIND_BMP)
    return width, height


def _open_heif(data: bytes):
    """The parsed HEIF container (pillow-heif): its top-level images, nothing decoded yet."""
    try:
        import pillow_heif
    except ImportError:
        raise PageLoadError(
            "no-decoder", "读取 HEIC/HEIF 需要 pillow-heif 包（papergen 的依赖）：请运行 pip install pillow-heif"
        ) from None
    try:
        heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
    except Exception as exc:  # noqa: BLE001 - libheif raises several types for a damaged file
        raise _damaged(KIND_HEIF, exc) from None
    if len(heif) == 0:
        raise _damaged(KIND_HEIF, "文件中没有图像")
    return heif


def _open_pillow(data: bytes, kind: str):
    """An AVIF or WebP image opened lazily (header only) by its own Pillow plugin class.

    Calling the plugin class rather than ``Image.open`` skips Pillow's
    process-wide decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``), so
    papergen's own documented limit applies and nothing global is changed.
    """
    if kind == KIND_AVIF:
        from PIL import AvifImagePlugin as plugin

        opener = plugin.AvifImageFile
    else:
        from PIL import WebPImagePlugin as plugin

        opener = plugin.WebPImageFile
    if not plugin.SUPPORTED:
        raise PageLoadError(
            "no-decoder", f"这个 Pillow 不能读 {_FORMAT_LABEL[kind]}：请升级 Pillow（pip install -U Pillow）"
        )
    from PIL import Image

    try:
        return opener(io.BytesIO(data))
    except Image.DecompressionBombError:
        # only when PAPERGEN_MAX_PIXELS_MP is raised past the limit Pillow's WebP reader keeps for itself
        raise PageLoadError(
            "too-many-pixels", f"图像超过 Pillow 自身的上限 {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} 百万像素"
        ) from None
    except Exception as exc:  # noqa: BLE001 - libavif/libwebp raise several types for a damaged file
        raise _damaged(kind, exc) from None


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


_quiet_lock = threading.Lock()
_quiet_depth = 0  # decoders running under _decoders_silenced (threads may overlap)
_quiet_saved: tuple[int, int] | None = None  # the stderr descriptor and OpenCV log level to put back


@contextmanager
def _decoders_silenced() -> Iterator[None]:
    """Mute the C decoders' own complaints while they run: stderr and OpenCV's log.

    libtiff, libjpeg and libpng print warnings about a damaged file ("Corrupt
    JPEG data: …") straight to the process's stderr, below any logging
    setting, once per directory or marker: hundreds of lines over the progress
    bar; OpenCV logs its own. papergen reports every page it cannot read
    itself, naming the file and page. Both are process-wide, so they are
    changed only while a decoder runs and put back afterwards — by the last
    of any overlapping callers, so threads decoding at once cannot leave
    them muted.
    """
    global _quiet_depth, _quiet_saved
    with _quiet_lock:
        if _quiet_depth == 0:
            _quiet_saved = _silence()
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _quiet_saved is not None:
                _restore(*_quiet_saved)
                _quiet_saved = None


def _silence() -> tuple[int, int]:
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr (a daemon, a closed fd): nothing to mute
        return (-1, level)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 2)
    return (saved, level)


def _restore(saved_stderr: int, level: int) -> None:
    if saved_stderr >= 0:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
    cv2.utils.logging.setLogLevel(level)


def decodes_reduced(job: PageJob) -> bool:
    """Whether ``load_page`` may decode this page below its full size (a JPEG: ``load_page(finest=True)`` is then worth
    asking for); every other kind is decoded whole."""
    return job.kind == KIND_JPEG


def load_page(job: PageJob, finest: bool = False) -> np.ndarray:
    """Decode one page to grayscale.

    A JPEG large enough is decoded at half or a quarter of its size, about
    150 dpi for a page that fills it (``READ_SHORT_SIDE``); ``finest``: at its
    full size, for a sheet that fills only part of the picture (``reader.too_coarse``).

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
    if job.data is not None:  # shipped: checked against the file's stamp when it was read
        data = job.data
        if job.kind == KIND_PDF:
            return _pdf_page(data, job.page, max_pixels)
        if job.kind == KIND_TIFF:
            return _tiff_page(np.frombuffer(data, np.uint8), job, max_pixels)
        return _decode_image(data, job, max_pixels, finest)
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
        # Mapped, not read: only this page's directory chain and strips are touched.
        try:
            mapped = np.memmap(path, mode="r", dtype=np.uint8)
        except (OSError, ValueError) as exc:
            raise PageLoadError("unreadable", f"TIFF 第 {job.page} 页无法解码：{exc}") from None
        return _tiff_page(mapped, job, max_pixels)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PageLoadError("unreadable", _os_message(exc)) from None
    return _decode_image(data, job, max_pixels, finest)


def _decode_image(data: bytes, job: PageJob, max_pixels: int, finest: bool = False) -> np.ndarray:
    """A single-image file's page (JPEG, PNG, BMP, HEIF, AVIF, WebP) from its bytes; ``finest``: never reduced."""
    if job.kind in PILLOW_KINDS:
        return _pillow_page(data, job, max_pixels)
    if job.kind == KIND_BMP:
        _check_pixels(*_bmp_size(data), max_pixels)
        with _decoders_silenced():
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise _damaged(KIND_BMP)
        return image
    # Decoders fill a cut-off image with grey rather than fail, and grey boxes
    # would read as marks: a file without its end marker is refused outright.
    if job.kind == KIND_JPEG and not data.rstrip(b"\x00")[-2:] == b"\xff\xd9":
        raise PageLoadError("truncated", "JPEG 文件不完整（缺少结尾标记），可能传输或复制时被截断")
    if job.kind == KIND_PNG and b"IEND" not in data[-16:]:
        raise PageLoadError("truncated", "PNG 文件不完整（缺少结尾块），可能传输或复制时被截断")
    width, height = _image_size(data, job.kind)
    _check_pixels(width, height, max_pixels)
    # The reader works at about 150 dpi (6 px/mm): JPEG can decode straight to
    # a half or quarter size (skipping most of the DCT work), which is both the
    # cheapest decode and all the resolution the boxes need.
    flag = cv2.IMREAD_GRAYSCALE
    if job.kind == KIND_JPEG and not finest:
        short_side = min(width, height)
        if short_side >= 4 * READ_SHORT_SIDE:
            flag = cv2.IMREAD_REDUCED_GRAYSCALE_4
        elif short_side >= 2 * READ_SHORT_SIDE:
            flag = cv2.IMREAD_REDUCED_GRAYSCALE_2
    with _decoders_silenced():
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


#: JPEG start-of-frame markers (baseline, extended, progressive, lossless…): they carry the image size.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_frame_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a JPEG's frame header, walking its marker segments; None if not found there.

    A few dozen bytes read instead of Pillow parsing every header segment
    (a tenth of a millisecond per page); anything unusual is left to Pillow.
    """
    at = 2  # after SOI
    while at + 9 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return (width, height) if width and height else None
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before it
            return None
        at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
    return None


def _image_size(data: bytes, kind: str) -> tuple[int, int]:
    """Width and height of a JPEG or PNG from its header, without decoding pixels.

    The plugin class is called directly, not ``Image.open``: that would apply
    Pillow's own, process-wide pixel limit, and papergen applies its
    documented one (``_check_pixels``) instead.
    """
    if kind == KIND_JPEG:
        size = _jpeg_frame_size(data)
        if size is not None:
            return size
    from PIL import JpegImagePlugin, PngImagePlugin

    opener = JpegImagePlugin.JpegImageFile if kind == KIND_JPEG else PngImagePlugin.PngImageFile
    try:
        with opener(io.BytesIO(data)) as image:
            return image.size[0], image.size[1]
    except Exception as exc:
        raise PageLoadError("unreadable", f"图像文件头无法读取（文件不完整或已损坏）：{exc}") from None


def _pillow_page(data: bytes, job: PageJob, max_pixels: int) -> np.ndarray:
    """One page of a HEIF, AVIF or WebP file, grayscale; its size is checked from the header first."""
    _check_complete(data, job.kind)
    with _decoders_silenced():
        if job.kind == KIND_HEIF:
            heif = _open_heif(data)
            if job.page > len(heif):
                raise _damaged(job.kind, f"没有第 {job.page} 页")
            picture = heif[job.page - 1]
            _check_pixels(*picture.size, max_pixels)
        else:
            if job.kind == KIND_WEBP:  # before libwebp allocates the canvas
                _check_pixels(*_webp_sizes(data)[0], max_pixels)
            picture = _open_pillow(data, job.kind)
            try:
                picture.seek(job.page - 1)
            except EOFError:
                raise _damaged(job.kind, f"没有第 {job.page} 页") from None
            _check_pixels(*picture.size, max_pixels)
        try:
            # decoding happens here, after the size check (pillow-heif's to_pillow, Pillow's convert)
            image = picture.to_pillow() if job.kind == KIND_HEIF else _upright(picture)
            return _grayscale(image)
        except Exception as exc:  # noqa: BLE001 - a decoder fails in its own way on damaged data
            raise _damaged(job.kind, exc) from None


def _upright(image):
    """An AVIF or WebP image turned as its EXIF orientation says (libheif does this itself for HEIF).

    The reader finds any rotation by itself, but not a mirror image (a
    front camera's), whose columns of boxes would be read back to front.
    """
    from PIL import ExifTags, ImageOps

    if image.getexif().get(ExifTags.Base.Orientation, 1) in (1, None):
        return image
    return ImageOps.exif_transpose(image)


def _grayscale(image) -> np.ndarray:
    """A Pillow image as ``(H, W)`` uint8; transparent parts become white paper, not black."""
    from PIL import Image

    if "A" in image.mode or "a" in image.mode or (image.mode == "P" and "transparency" in image.info):
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        paper.alpha_composite(image.convert("RGBA"))
        image = paper
    return np.array(image.convert("L"), dtype=np.uint8)


def _tiff_page(mapped: np.ndarray, job: PageJob, max_pixels: int) -> np.ndarray:
    if job.dims is not None:
        _check_pixels(*job.dims, max_pixels)
    try:
        with _decoders_silenced():
            ok, images = cv2.imdecodemulti(mapped, cv2.IMREAD_GRAYSCALE, range=(job.page - 1, job.page))
    except (OSError, ValueError, cv2.error) as exc:
        raise PageLoadError("unreadable", f"TIFF 第 {job.page} 页无法解码：{exc}") from None
    if not ok or not images or images[0] is None or images[0].size == 0:
        raise PageLoadError("unreadable", f"TIFF 第 {job.page} 页无法解码（文件不完整或已损坏）")
    return images[0]  # IMREAD_GRAYSCALE: 8-bit whatever the file's depth


def _pdf_page(source: Path | bytes, page: int, max_pixels: int) -> np.ndarray:
    document = _open_pdf(source)
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
