"""Simulated pages as files: JPEG/PNG images or one scan-to-PDF, and ``truth.csv``.

``encode_image`` writes a delivered page the way a scanner or phone does
(its resolution in the file header), ``ScanPdfWriter`` streams pages into a
multi-page PDF as a copier's scan-to-PDF does, and ``truth_csv`` records
what a careful person reads on every delivered page. ``PageSink`` is where
the parent puts each finished page, in sheet order.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image

from papergen.core import atomic
from papergen.sheet.layout import SheetGeometry
from papergen.sim.cohort import Response, Student
from papergen.sim.journeys import Delivered

TRUTH_NAME = "truth.csv"
PDF_NAME = "scans.pdf"
#: Files a run writes (and a smaller rerun into the same folder removes).
OUTPUT_PATTERN = re.compile(r"^(sheet-\d{4,}(-\d+)?\.(jpg|png)|scans\.pdf)$")


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


@dataclass(frozen=True)
class StoredPage:
    """One delivered page, encoded and ready to store."""

    sheet_page: int
    rotation: int
    payload: bytes  # the image file (jpg/png) or the PDF image stream
    width: int
    height: int
    dpi: float
    colour: bool
    binary: bool
    journey: str = ""  # Delivered.journey
    erased: tuple[int, ...] = ()  # questions whose doubtful mark the device left no trace of (run.erased_by_device)


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
    violation: bool = False  # the invigilator marked 违纪 on this sheet
    journey: str = ""  # what befell the corner squares on the way ("cut:TL,TR;covered:BR"), journeys.journey_label
    erased: str = ""  # "8;29": doubtful marks a black-and-white device left no trace of (nothing a person sees)


def truth_csv(rows: Sequence[TruthRow], geometry: SheetGeometry) -> str:
    """The truth table as CSV text (header row; one row per delivered page).

    ``journey`` and ``erased`` are the last columns, after the questions, so
    that readers which take the columns by position still find them where they were.
    """
    numbers = [q.number for q in geometry.questions]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "page", "sheet_page", "student_id", "variant", "absent", "violation", "rotation",
                     "ambiguous", *map(str, numbers), "journey", "erased"])
    for row in rows:
        writer.writerow([row.file, row.page, row.sheet_page, row.student_id, row.variant, int(row.absent),
                         int(row.violation), row.rotation, row.ambiguous, *(row.answers.get(k, "") for k in numbers),
                         row.journey, row.erased])
    return buffer.getvalue()


def truth_row(
    name: str, index: int, page: int, student: Student, responses: Sequence[Response], geometry: SheetGeometry,
    rotation: int, journey: str = "", erased: Sequence[int] = (),
) -> TruthRow:
    on_page = {q.number for q in geometry.questions_on(page)}
    mine = [r for r in responses if r.number in on_page]
    return TruthRow(
        file=name, page=index, sheet_page=page, student_id=student.student_id,
        variant="" if student.absent else student.variant, absent=student.absent, rotation=rotation,
        ambiguous=";".join(f"{r.number}:{r.doubt}" for r in mine if r.doubt),
        answers={r.number: r.letters for r in mine}, violation=student.violation, journey=journey,
        erased=";".join(str(n) for n in erased if n in on_page),
    )


class PageSink:
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

    def add(self, page: StoredPage, sheet: int, sheet_pages: int) -> tuple[str, int]:
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


def remove_stale(outdir: Path, written: set[str]) -> None:
    # A smaller rerun into the same folder must not leave last run's sheets
    # beside the new truth.csv, where the grader would read them.
    for entry in outdir.iterdir():
        if OUTPUT_PATTERN.match(entry.name) and entry.name not in written:
            try:
                entry.unlink()
            except OSError:
                pass
