"""Benchmark: decoding one page per scan format, on the committed sample scans.

    python bench/formats.py [--repeat 5]

Re-encodes scans/2026-mock-03/{scan,photo}/*.jpg as PNG, HEIC, WebP, AVIF
and BMP (camera-like quality, as tests/test_scan_formats.py does) and prints,
per level and format, the file size and the milliseconds `load_page` takes
to decode a page to grayscale (best of --repeat), next to the JPEG the
sheets came as. Header-only work (`collect_pages`) is timed too.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pillow_heif  # noqa: E402
from PIL import Image  # noqa: E402

from papergen.grade.ingest import collect_pages, load_page  # noqa: E402

FORMATS = ("jpg", "png", "heic", "webp", "avif", "bmp")


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "heic":
        pillow_heif.from_pillow(image).save(buffer, quality=90, tile_size=512, thumbnails=[320], enc_params={"preset": "ultrafast"})
    elif fmt == "avif":
        image.save(buffer, format="AVIF", quality=90, speed=8)
    elif fmt in ("webp", "png", "bmp"):
        image.save(buffer, format=fmt.upper(), **({"quality": 90} if fmt == "webp" else {}))
    return buffer.getvalue()


def best_ms(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'level':6} {'format':6} {'size':>9} {'pixels':>11} {'collect':>9} {'decode':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for level in ("scan", "photo"):
            source = sorted((ROOT / "scans" / "2026-mock-03" / level).glob("*.jpg"))[0]
            for fmt in FORMATS:
                path = Path(tmp) / f"{level}.{fmt}"
                if fmt == "jpg":
                    path.write_bytes(source.read_bytes())
                else:
                    with Image.open(source) as image:
                        path.write_bytes(encode(image, fmt))
                jobs, problems = collect_pages([path])
                assert jobs and not problems, problems
                collect = best_ms(lambda: collect_pages([path]), args.repeat)
                decode = best_ms(lambda: load_page(jobs[0]), args.repeat)
                shape = load_page(jobs[0]).shape
                print(
                    f"{level:6} {fmt:6} {path.stat().st_size / 1024:7.0f} KB {shape[1]:>5}×{shape[0]:<5} "
                    f"{collect:6.1f} ms {decode:6.1f} ms"
                )


if __name__ == "__main__":
    main()
