"""Phone and web image formats through `papergen grade`: HEIC/HEIF, WebP, AVIF, BMP.

The committed sample scans (which grade exactly, tests/test_committed_scans.py)
are re-encoded into each format; a folder holding only those files must be
read sheet for sheet and evaluate exactly as the JPEGs do, with the same
totals and the same exit code. Before papergen read these formats such a
folder graded nothing and exited 0, every file "passed over" as not a scan.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pillow_heif
import pytest
from PIL import ExifTags, Image, ImageOps

from papergen.sim.evaluation import evaluate
from tests.conftest import ROOT
from tests.matrix import run_cli

EXAM = ROOT / "scans" / "2026-mock-03"


def encode(image: Image.Image, fmt: str, mirrored: bool = False) -> bytes:
    """``image`` in ``fmt`` at a camera's or browser's usual quality (lossy, except BMP).

    ``mirrored``: the pixels stored mirror-imaged with EXIF orientation 2
    ("flip horizontally to view"), as a front camera may save them.
    """
    buffer = io.BytesIO()
    if mirrored:
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = 2
        ImageOps.mirror(image).save(buffer, format=fmt.upper(), quality=90, exif=exif.tobytes())
    elif fmt == "heic":
        # an iPhone photo's layout: the picture as a grid of 512-pixel tiles, plus a thumbnail
        heif = pillow_heif.from_pillow(image)
        heif.save(buffer, quality=90, tile_size=512, thumbnails=[320], enc_params={"preset": "ultrafast"})
    elif fmt == "webp":
        image.save(buffer, format="WEBP", quality=90)
    elif fmt == "avif":
        image.save(buffer, format="AVIF", quality=90, speed=8)
    else:
        image.save(buffer, format="BMP")
    return buffer.getvalue()


def convert_folder(level: str, fmt: str, out: Path, mirrored: bool = False) -> Path:
    """``scans/…/<level>`` re-encoded as ``fmt``, with truth.csv naming the new files."""
    out.mkdir(parents=True)
    source = EXAM / level
    for jpeg in sorted(source.glob("*.jpg")):
        with Image.open(jpeg) as image:
            (out / f"{jpeg.stem}.{fmt}").write_bytes(encode(image, fmt, mirrored))
    with (source / "truth.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    for row in rows[1:]:
        row[0] = f"{Path(row[0]).stem}.{fmt}"
    with (out / "truth.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return out


def grade_folder(folder: Path, results: Path, workers: int = 1):
    result = run_cli(["grade", EXAM / "exam.json", folder, "-o", results, "--workers", str(workers)])
    report = evaluate(results, folder / "truth.csv")
    totals = {r["student_id"]: (r["variant"], r["total"], r["status"]) for r in json.loads(run_cli(["results", results, "--format", "json"]).output)}
    return result, report, totals


@pytest.fixture(scope="module")
def jpeg_grades(tmp_path_factory) -> dict:
    """Each committed level graded from its JPEGs, through the CLI: the reference."""
    done = {}
    for level in ("scan", "photo"):
        base = tmp_path_factory.mktemp(f"jpeg-{level}")
        folder = base / "scans"
        shutil.copytree(EXAM / level, folder)
        done[level] = grade_folder(folder, base / "results")
    return done


@pytest.mark.parametrize(
    "fmt, level, workers, mirrored",
    [
        ("heic", "scan", 1, False),
        ("heic", "photo", 2, False),  # a colour 10-megapixel phone photo, decoded in worker processes
        ("webp", "scan", 1, False),
        ("avif", "scan", 1, False),
        ("avif", "photo", 1, False),
        ("bmp", "scan", 1, False),
        ("webp", "photo", 1, True),  # stored mirror-imaged, turned back by its EXIF orientation
        ("avif", "scan", 1, True),
    ],
)
def test_a_folder_of_only_this_format_grades_like_the_jpegs(fmt: str, level: str, workers: int, mirrored: bool, jpeg_grades, tmp_path: Path) -> None:
    folder = convert_folder(level, fmt, tmp_path / "scans", mirrored)
    result, report, totals = grade_folder(folder, tmp_path / "results", workers)
    jpeg_result, jpeg_report, jpeg_totals = jpeg_grades[level]

    assert "共 2 页（新评 2" in result.output and "无法读取 0 个" in result.output, result.output
    assert "已略过：truth.csv\n" in result.output  # and nothing else passed over
    assert result.exit_code == jpeg_result.exit_code, result.output
    assert report.sheets == 2 and report.missing_pages == 0
    assert report.silent_errors == 0, report.details
    assert report.exact == report.sheets == jpeg_report.exact, report.details
    assert report.deliberate_flagged == report.deliberate == jpeg_report.deliberate
    assert totals == jpeg_totals


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_600_dpi_a3_scan_loads_under_papergens_limit_whatever_pillows_is(suffix: str, tmp_path: Path, monkeypatch) -> None:
    """70 megapixels: within PAPERGEN_MAX_PIXELS_MP (100), so it loads even with Pillow's own guard set far lower."""
    import cv2
    import numpy as np

    from papergen.grade.ingest import collect_pages, load_page

    width, height = round(297 / 25.4 * 600), round(420 / 25.4 * 600)  # 7016 × 9921
    page = np.full((height, width), 250, np.uint8)
    cv2.rectangle(page, (600, 600), (width - 600, height - 600), 0, 12)
    path = tmp_path / f"a3{suffix}"
    path.write_bytes(cv2.imencode(suffix, page)[1].tobytes())
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000_000)
    (job,), problems = collect_pages([path])
    assert problems == []
    gray = load_page(job)
    assert gray.shape == ((height, width) if suffix == ".png" else (-(-height // 4), -(-width // 4)))  # JPEG: read at 1/4
    assert Image.MAX_IMAGE_PIXELS == 10_000_000


def test_grading_leaves_pillows_own_pixel_limit_alone(tmp_path: Path, monkeypatch) -> None:
    """papergen checks its documented limit from the headers itself; it does not switch Pillow's bomb guard off for the process."""
    limit = Image.MAX_IMAGE_PIXELS or 89_478_485
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    result = run_cli(["grade", EXAM / "exam.json", EXAM / "scan", "-o", tmp_path / "results", "--workers", "1"])
    assert "共 2 页（新评 2" in result.output, result.output
    assert Image.MAX_IMAGE_PIXELS == limit
