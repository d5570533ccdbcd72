"""Matrix: hostile scans through `papergen grade`.

Every case grades a scans folder holding the hostile file(s) *and* the
two pages of a new, well-filled student into a copy of a results folder
that already holds three graded students. The documented exit code
(0 all read, 10 something for a person to look at, 11 a file or page
unreadable), a message naming the file and page, and nothing lost:
the earlier rows of the store are all still there unchanged, the new
student is graded whatever else is in the batch, and the bad file is
recorded rather than skipped in silence.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pillow_heif
import pytest
from PIL import Image

from papergen.core.errors import ExitCode as X
from tests.conftest import ROOT, SMALL_STUDENTS, small_sheet_pages
from tests.matrix import Case, assert_nothing_lost, expand, ids, run_cli, snapshot

NEW = "2026030004"  # the well-filled student in every case's batch (variant B, all correct)


# -- scans ----------------------------------------------------------------------------------------


def jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return data.tobytes()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A valid little PNG whose header claims ``width`` × ``height`` pixels (900 MP: a decompression bomb)."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + png_chunk(b"IEND", b"")


def jpeg_bomb() -> bytes:
    """A JPEG of 16×16 pixels whose frame header is patched to claim 30000 × 30000."""
    data = bytearray(jpeg(np.full((16, 16), 200, np.uint8)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 30000, 30000)
    return bytes(data)


def encrypted_pdf(path: Path) -> None:
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    locked = canvas.Canvas(str(path), encrypt=pdfencrypt.StandardEncryption("secret", canPrint=0))
    locked.drawString(100, 700, "scan")
    locked.save()


def photo() -> np.ndarray:
    """A colour 'photo' of a desk: a lit gradient, round objects and a few lines of writing; no sheet."""
    h, w = 900, 1200
    y, x = np.mgrid[0:h, 0:w]
    base = (120 + 80 * np.sin(x / 170.0) * np.cos(y / 230.0)).astype(np.uint8)
    image = cv2.merge([base, (base * 0.8).astype(np.uint8), (base * 0.6).astype(np.uint8)])
    for k in range(6):
        cv2.circle(image, (150 + 170 * k, 300 + 60 * (k % 3)), 40 + 10 * k, (30 * k, 200 - 25 * k, 90), -1)
    for row in range(600, 860, 45):
        cv2.putText(image, "lecture notes, not an answer sheet", (80, row), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (20, 20, 20), 2)
    return image


def new_student(d: Path, ctx) -> None:
    for page, image in enumerate(ctx.new_pages, start=1):
        (d / "scans" / f"{NEW}-{page}.jpg").write_bytes(jpeg(image))


def scan(name: str, make):
    """A scans folder with the new student plus ``name`` holding ``make(d, ctx)`` (bytes), or written by it."""

    def setup(d: Path, ctx) -> None:
        new_student(d, ctx)
        data = make(d, ctx)
        if data is not None:
            (d / "scans" / name).write_bytes(data)

    return setup


def copier_pdf(d: Path, ctx) -> None:
    """Two more students in one copier PDF: pages shuffled, two of them upside down."""
    a1, a2 = small_sheet_pages(ctx.exam, "2026030005", "A")
    b1, b2 = small_sheet_pages(ctx.exam, "2026030006", "B", "one wrong")
    pages = [cv2.rotate(b2, cv2.ROTATE_180), a2, cv2.rotate(a1, cv2.ROTATE_180), b1]
    images = [Image.fromarray(p) for p in pages]
    images[0].save(d / "scans" / "copier.pdf", save_all=True, append_images=images[1:], resolution=150)
    new_student(d, ctx)


def tiff_of(images: list[np.ndarray]) -> bytes:
    ok, data = cv2.imencodemulti(".tiff", images)
    assert ok
    return data.tobytes()


def last_directory(data: bytes) -> int:
    """Offset of the last page's directory in a little-endian classic TIFF."""
    offset = last = struct.unpack("<I", data[4:8])[0]
    while offset:
        last = offset
        entries = struct.unpack("<H", data[offset : offset + 2])[0]
        offset = struct.unpack("<I", data[offset + 2 + 12 * entries : offset + 6 + 12 * entries])[0]
    return last


def without_last_values(data: bytes) -> bytes:
    """The TIFF cut just after its last directory: the directory reads, the values it points to are gone."""
    last = last_directory(data)
    entries = struct.unpack("<H", data[last : last + 2])[0]
    return data[: last + 6 + 12 * entries]


def three_pages() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [rng.integers(200, 256, (200, 140), dtype=np.uint8) for _ in range(3)]


def heic(*images: np.ndarray, thumbnails: tuple[int, ...] = ()) -> bytes:
    """A HEIF file with each of ``images`` as a top-level image (and each given a thumbnail of every size)."""
    heif = pillow_heif.from_pillow(Image.fromarray(images[0]))
    for image in images[1:]:
        heif.add_from_pillow(Image.fromarray(image))
    buffer = io.BytesIO()
    heif.save(buffer, quality=90, thumbnails=list(thumbnails), enc_params={"preset": "ultrafast"})
    return buffer.getvalue()


def pillow_bytes(image: np.ndarray, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def claims_size(data: bytes, width: int, height: int) -> bytes:
    """A HEIF/AVIF file whose image-size property (``ispe``) is patched to claim ``width`` × ``height``."""
    patched = bytearray(data)
    at = patched.find(b"ispe")
    assert at > 0
    patched[at + 8 : at + 16] = struct.pack(">II", width, height)
    return bytes(patched)


def webp_bomb() -> bytes:
    """A lossless 64×64 WebP whose header is patched to claim 16000 × 16000 (256 MP)."""
    data = bytearray(pillow_bytes(np.full((64, 64), 200, np.uint8), "WEBP", lossless=True))
    at = data.index(b"VP8L") + 8
    rest = struct.unpack("<I", data[at + 1 : at + 5])[0] & ~((1 << 28) - 1)  # alpha and version bits kept
    data[at + 1 : at + 5] = struct.pack("<I", rest | (16000 - 1) | ((16000 - 1) << 14))
    return bytes(data)


def heic_two_sheets(d: Path, ctx) -> None:
    """Student 2026030005's two pages as the two top-level images of one HEIF, each with thumbnails."""
    (d / "scans" / "IMG_0005.HEIC").write_bytes(heic(*small_sheet_pages(ctx.exam, "2026030005", "A"), thumbnails=(256, 96)))
    new_student(d, ctx)


def tiff_pages(count: int, size: tuple[int, int] = (140, 100)):
    def make(d: Path, ctx) -> bytes:
        blank = Image.fromarray(np.full(size, 255, np.uint8))
        path = d / "pile.tif"
        blank.save(path, save_all=True, append_images=[blank] * (count - 1), compression="tiff_deflate")
        data = path.read_bytes()
        path.unlink()
        return data

    return make


def other_exam_sheet(d: Path, ctx) -> bytes:
    return jpeg(small_sheet_pages(ctx.other_exam, "2026030007", "A")[0])


def known_scan(d: Path, ctx) -> bytes:
    return (ctx.scans / f"{next(iter(SMALL_STUDENTS))}-1.jpg").read_bytes()


def same_student_again(d: Path, ctx) -> bytes:
    return jpeg(cv2.GaussianBlur(ctx.new_pages[0], (3, 3), 0))  # the same sheet scanned twice: other bytes


G = ("grade", "{exam}", "{d}/scans", "-o", "{d}/results", "--workers", "1")
STORE = ("results/*",)

CASES = [
    Case("zero-byte-file", scan("empty.jpg", lambda d, c: b""), G, X.graded_with_errors, ("{d}/scans/empty.jpg", "0 字节")),
    Case("truncated-jpeg", scan("cut.jpg", lambda d, c: jpeg(c.new_pages[0])[:30000]), G, X.graded_with_errors, ("{d}/scans/cut.jpg 第 1 页", "JPEG 文件不完整")),
    Case("truncated-png", scan("cut.png", lambda d, c: cv2.imencode(".png", c.new_pages[0])[1].tobytes()[:20000]), G, X.graded_with_errors, ("{d}/scans/cut.png 第 1 页", "PNG 文件不完整")),
    Case("encrypted-pdf", scan("locked.pdf", lambda d, c: encrypted_pdf(d / "scans" / "locked.pdf")), G, X.graded_with_errors, ("{d}/scans/locked.pdf", "PDF 已加密")),
    Case("corrupt-pdf", scan("broken.pdf", lambda d, c: b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R" + b"\x00garbage" * 50), G, X.graded_with_errors, ("{d}/scans/broken.pdf", "PDF 已损坏")),
    Case("png-30000x30000", scan("bomb.png", lambda d, c: png_bomb()), G, X.graded_with_errors, ("{d}/scans/bomb.png 第 1 页", "30000×30000", "PAPERGEN_MAX_PIXELS_MP")),
    Case("jpeg-30000x30000", scan("bomb.jpg", lambda d, c: jpeg_bomb()), G, X.graded_with_errors, ("{d}/scans/bomb.jpg 第 1 页", "30000×30000", "PAPERGEN_MAX_PIXELS_MP")),
    # the limit is the documented one: lowered below a 150 dpi page, every page is refused by it
    Case("pixel-limit-lowered", new_student, G, X.graded_with_errors, (f"{{d}}/scans/{NEW}-1.jpg 第 1 页", "超过上限 1 百万像素"), env={"PAPERGEN_MAX_PIXELS_MP": "1"}),
    Case("tiff-500-pages-over-limit", scan("pile.tif", tiff_pages(500)), G, X.graded_with_errors, ("{d}/scans/pile.tif", "页数超过上限 100", "PAPERGEN_MAX_PAGES"), env={"PAPERGEN_MAX_PAGES": "100"}),
    Case("named-non-scan", scan("../notes.txt", lambda d, c: "不是扫描件".encode()), (*G, "{d}/notes.txt"), X.graded_with_errors, ("{d}/notes.txt", "不是 JPEG、PNG、TIFF、PDF、HEIC/HEIF、WebP、AVIF 或 BMP 文件（看起来是文本）")),
    Case("missing-scan", new_student, (*G, "{d}/nope.jpg"), X.graded_with_errors, ("{d}/nope.jpg", "文件不存在")),
    # named on the command line, a non-scan is an error even inside a folder that is also given
    Case("named-non-scan-inside-the-folder", scan("notes.txt", lambda d, c: "说明".encode()), (*G, "{d}/scans/notes.txt"), X.graded_with_errors, ("{d}/scans/notes.txt", "不是 JPEG、PNG、TIFF、PDF、HEIC/HEIF、WebP、AVIF 或 BMP 文件")),
    # a multi-page TIFF cut off in transfer: the pages before the cut are graded, the rest reported
    # (libtiff puts each page's directory after its pixels, and the directory's values last)
    Case("tiff-cut-in-last-directory", scan("cut.tif", lambda d, c: (t := tiff_of(three_pages()))[: last_directory(t) + 20]), G, X.graded_with_errors, ("{d}/scans/cut.tif", "第 2 页之后已损坏或被截断", "cut.tif 第 2 页：找不到答题卡四角的定位块")),
    Case("tiff-cut-in-last-page-values", scan("cut.tif", lambda d, c: without_last_values(tiff_of(three_pages()))), G, X.graded_with_errors, ("{d}/scans/cut.tif 第 3 页", "TIFF 第 3 页无法解码", "cut.tif 第 2 页：找不到答题卡四角的定位块")),
    Case("exam-json-missing", new_student, ("grade", "{d}/exam.json", "{d}/scans", "-o", "{d}/results"), X.input_file, ("{d}/exam.json", "不存在")),
    Case("exam-json-corrupt", scan("../exam.json", lambda d, c: b'{"format": "papergen-exam", "vers'), ("grade", "{d}/exam.json", "{d}/scans", "-o", "{d}/results"), X.input_file, ("{d}/exam.json:1", "不是有效的 JSON")),
    Case("non-scan-in-folder-is-passed-over", scan("truth.csv", lambda d, c: b"file,page\n"), G, X.ok, ("已略过：truth.csv",)),
    Case("empty-non-scan-in-folder-is-passed-over", scan("notes.txt", lambda d, c: b""), G, X.ok, ("已略过：notes.txt",)),
    # named like a scan, but not one: a download that saved an error page, a text file, a copy that never finished
    Case("html-named-jpg-in-folder", scan("sheet-0009.jpg", lambda d, c: b"<!DOCTYPE html>\n<html><head><title>404</title></head><body>Not Found</body></html>"), G, X.graded_with_errors, ("{d}/scans/sheet-0009.jpg", "文件名是 .jpg，但内容不是图片（看起来是 HTML 网页")),
    Case("text-named-heic-in-folder", scan("IMG_0001.HEIC", lambda d, c: "这不是照片\n".encode()), G, X.graded_with_errors, ("{d}/scans/IMG_0001.HEIC", "文件名是 .HEIC，但内容不是图片（看起来是文本）")),
    Case("zeros-named-pdf-in-folder", scan("copier.pdf", lambda d, c: bytes(4096)), G, X.graded_with_errors, ("{d}/scans/copier.pdf", "文件名是 .pdf，但内容不是 PDF（看起来是空白数据（全是 0 字节）")),
    # phone and web formats: cut short, or claiming a decompression bomb's size in their headers
    Case("truncated-heic", scan("cut.heic", lambda d, c: heic(c.new_pages[0])[:-4000]), G, X.graded_with_errors, ("{d}/scans/cut.heic", "HEIC/HEIF 文件不完整")),
    Case("truncated-webp", scan("cut.webp", lambda d, c: pillow_bytes(c.new_pages[0], "WEBP", quality=90)[:-4000]), G, X.graded_with_errors, ("{d}/scans/cut.webp", "WebP 文件不完整")),
    Case("truncated-avif", scan("cut.avif", lambda d, c: pillow_bytes(c.new_pages[0], "AVIF", quality=90, speed=8)[:-4000]), G, X.graded_with_errors, ("{d}/scans/cut.avif", "AVIF 文件不完整")),
    Case("truncated-bmp", scan("cut.bmp", lambda d, c: pillow_bytes(c.new_pages[0], "BMP")[:-4000]), G, X.graded_with_errors, ("{d}/scans/cut.bmp", "BMP 文件不完整")),
    Case("heic-30000x30000", scan("bomb.heic", lambda d, c: claims_size(heic(np.full((64, 64), 200, np.uint8)), 30000, 30000)), G, X.graded_with_errors, ("{d}/scans/bomb.heic 第 1 页", "30000×30000", "PAPERGEN_MAX_PIXELS_MP")),
    Case("avif-15000x15000", scan("bomb.avif", lambda d, c: claims_size(pillow_bytes(np.full((64, 64), 200, np.uint8), "AVIF"), 15000, 15000)), G, X.graded_with_errors, ("{d}/scans/bomb.avif 第 1 页", "15000×15000", "PAPERGEN_MAX_PIXELS_MP")),
    Case("webp-16000x16000", scan("bomb.webp", lambda d, c: webp_bomb()), G, X.graded_with_errors, ("{d}/scans/bomb.webp 第 1 页", "16000×16000", "PAPERGEN_MAX_PIXELS_MP")),
    # each top-level image of a HEIF file is a page; thumbnails are not
    Case("heic-two-sheets-and-thumbnails", heic_two_sheets, G, X.ok, ("共 4 页（新评 4，已评过 0）", "无法读取 0 个")),
    Case("photo-not-a-sheet", scan("photo.jpg", lambda d, c: jpeg(photo())), G, X.graded_with_review, ("{d}/scans/photo.jpg 第 1 页", "不是答题卡")),
    Case("blank-page", scan("blank.jpg", lambda d, c: jpeg(np.full((1754, 1240), 247, np.uint8))), G, X.graded_with_review, ("{d}/scans/blank.jpg 第 1 页", "空白页")),
    Case("sheet-of-another-exam", scan("other.jpg", other_exam_sheet), G, X.graded_with_review, ("{d}/scans/other.jpg 第 1 页", "属于考试 matrix-09，不是本次评阅的考试 matrix-01")),
    Case("same-scan-twice", scan("copy-of-earlier.jpg", known_scan), (*G, "{d}/scans/copy-of-earlier.jpg"), X.ok, ("共 3 页（新评 2，已评过 1）",)),
    Case("same-sheet-scanned-twice", scan("rescan.jpg", same_student_again), G, X.graded_with_review, (f"准考证号 {NEW} 出现在 2 张答题卡上", "{d}/scans/rescan.jpg")),
    Case("shuffled-upside-down-pdf", copier_pdf, G, X.ok, ("共 6 页（新评 6，已评过 0）", "无法读取 0 个")),
]


# -- fixtures and the test ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ctx(small_exam, small_scans, small_results, other_exam) -> SimpleNamespace:
    return SimpleNamespace(
        exam=small_exam, scans=small_scans, results=small_results, other_exam=other_exam,
        new_pages=small_sheet_pages(small_exam, NEW, "B"),
    )


def store_rows(results: Path) -> dict[str, set]:
    db = sqlite3.connect(f"file:{results / 'results.sqlite'}?mode=ro", uri=True)
    try:
        return {t: set(db.execute(f"SELECT * FROM {t}")) for t in ("scans", "pages", "marks", "flags", "file_errors")}
    finally:
        db.close()


def sheet_flags(results: Path) -> list[tuple]:
    db = sqlite3.connect(f"file:{results / 'results.sqlite'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT * FROM sheet_flags").fetchall()
    finally:
        db.close()


def totals(results: Path) -> dict[str, tuple]:
    """准考证号 → (试卷类型, 总分, 状态), one tuple per row of `papergen results` (a duplicated id has several)."""
    rows: dict[str, tuple] = {}
    for r in json.loads(run_cli(["results", results, "--format", "json"]).output):
        rows[r["student_id"]] = rows.get(r["student_id"], ()) + ((r["variant"], r["total"], r["status"]),)
    return {sid: found[0] if len(found) == 1 else found for sid, found in rows.items()}


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_grade_matrix(case: Case, ctx, tmp_path: Path) -> None:
    d = tmp_path
    shutil.copytree(ctx.results, d / "results")
    (d / "scans").mkdir()
    case.setup(d, ctx)
    earlier = store_rows(d / "results")
    earlier_totals = totals(d / "results")
    before = snapshot(d)

    result = run_cli(expand(case.argv, d=d, exam=ctx.exam / "exam.json"), env=case.env)

    assert result.exit_code == case.exit_code, result.output
    for fragment in expand(case.says, d=d):
        assert fragment in result.output, f"{fragment!r} not in:\n{result.output}"
    assert_nothing_lost(before, d, STORE)  # the scans are never touched
    now = store_rows(d / "results")
    for table, rows in earlier.items():
        assert rows <= now[table], f"earlier rows of {table} changed or lost"
    got = totals(d / "results")
    assert {sid: got[sid] for sid in earlier_totals} == earlier_totals
    if case.exit_code not in (X.ok, X.graded_with_review, X.graded_with_errors):
        assert NEW not in got  # refused before grading: the store is as it was
        assert now == earlier
        return
    if case.env.get("PAPERGEN_MAX_PIXELS_MP"):
        assert NEW not in got
    elif case.id == "same-sheet-scanned-twice":  # both sheets kept, one row per page, none added up or final
        assert sorted(got[NEW]) == [("B", 5.0, "待复核"), ("B", 5.0, "待复核"), ("B", 6.0, "待复核")]
    else:
        assert got[NEW] == ("B", 11.0, "已评"), "the good sheet in the batch was not graded"
    # what went wrong is on record for the grader, not silently skipped
    if case.exit_code == X.graded_with_errors:  # an error row for the file or the page
        assert len(now["file_errors"]) + sum("error" in row for row in now["pages"]) > 0
    if case.exit_code == X.graded_with_review:  # an open flag (a page not read, or a sheet to check)
        assert len(now["flags"]) > len(earlier["flags"]) or sheet_flags(d / "results")
    if case.id == "shuffled-upside-down-pdf":
        assert got["2026030005"] == ("A", 11.0, "已评") and got["2026030006"] == ("B", 10.0, "已评")
    if case.id == "heic-two-sheets-and-thumbnails":
        assert got["2026030005"] == ("A", 11.0, "已评")


# -- a 500-page TIFF under the default page limit ------------------------------------------------------


def test_500_page_tiff_is_graded_page_by_page_in_bounded_memory(ctx, tmp_path: Path) -> None:
    """Under the default limit (2,000 pages) every page is graded and recorded, one page in memory at a time.

    Run in a child process that reports its own peak memory (VmHWM): the 500
    pages decode to 500 × 0.7 MB = 350 MB, so holding them all would show.
    """
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "pile.tif").write_bytes(tiff_pages(500, (1000, 707))(tmp_path, ctx))
    peak = (
        "import sys\n"
        "try:\n    from papergen.cli import main\n    main()\n"
        "finally:\n    sys.stderr.write(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", peak, "grade", str(ctx.exam / "exam.json"), str(tmp_path / "scans"), "-o", str(tmp_path / "results"), "--workers", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert child.returncode == X.graded_with_review, child.stdout + child.stderr
    assert "共 500 页（新评 500" in child.stdout and "pile.tif 第 1 页：空白页" in child.stdout
    assert sorted(row[1] for row in store_rows(tmp_path / "results")["pages"]) == list(range(1, 501))
    peak_mb = int(child.stderr.split("VmHWM:")[1].split()[0]) / 1024
    assert peak_mb < 200, f"peak memory {peak_mb:.0f} MB"


def test_a_page_of_a_multipage_file_is_read_without_reading_the_whole_file(ctx, tmp_path: Path, monkeypatch) -> None:
    """The 500th page of a TIFF (or PDF) costs no re-read or re-hash of the whole file (once O(N²) per file)."""
    from papergen.grade import ingest as scan_ingest

    path = tmp_path / "pile.tif"
    path.write_bytes(tiff_pages(500)(tmp_path, ctx))
    jobs, _ = scan_ingest.collect_pages([path])
    whole_reads = []
    monkeypatch.setattr(Path, "read_bytes", lambda self: whole_reads.append(self) or b"")
    monkeypatch.setattr(scan_ingest.hashlib, "sha256", lambda data: whole_reads.append(len(data)))
    last = scan_ingest.load_page(jobs[-1])
    assert last.shape == scan_ingest.load_page(jobs[0]).shape and whole_reads == []


def test_a_file_changed_after_it_was_hashed_is_not_graded(ctx, tmp_path: Path) -> None:
    from papergen.grade import ingest as scan_ingest

    path = tmp_path / "pile.tif"
    path.write_bytes(tiff_pages(3)(tmp_path, ctx))
    jobs, _ = scan_ingest.collect_pages([path])
    path.write_bytes(tiff_pages(4)(tmp_path, ctx))  # the copier overwrote it mid-run
    with pytest.raises(scan_ingest.PageLoadError, match="被修改"):
        scan_ingest.load_page(jobs[1])
