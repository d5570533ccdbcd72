"""Hand-made filled answer sheets for tests: the real sheet.pdf, boxes painted in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pypdfium2 as pdfium

from papergen.bank.model import LETTERS
from papergen.exam.manifest import Manifest


def blank_sheet(exam_dir: Path, dpi: int = 150, page: int = 1) -> np.ndarray:
    document = pdfium.PdfDocument(str(exam_dir / "sheet.pdf"))
    bitmap = document[page - 1].render(scale=dpi / 72, grayscale=True)
    image = np.array(bitmap.to_numpy()).reshape(bitmap.height, bitmap.width)
    document.close()
    return image


def paint(image: np.ndarray, manifest: Manifest, rect, dpi: int, value: int = 45, cover: float = 1.0) -> None:
    """Fill a frame-mm rectangle with grey ``value`` over ``cover`` of its width."""
    ox, oy = manifest.sheet.origin
    x, y, w, h = rect
    k = dpi / 25.4
    r0, r1 = int(round((oy + y) * k)), int(round((oy + y + h) * k))
    c0, c1 = int(round((ox + x) * k)), int(round((ox + x + w * cover) * k))
    image[r0:r1, c0:c1] = np.minimum(image[r0:r1, c0:c1], value)


def erase(image: np.ndarray, manifest: Manifest, rect, dpi: int = 150) -> None:
    """Paper white over a frame-mm rectangle (and 1 mm around it)."""
    ox, oy = manifest.sheet.origin
    x, y, w, h = rect
    k = dpi / 25.4
    image[int((oy + y - 1) * k) : int((oy + y + h + 1) * k), int((ox + x - 1) * k) : int((ox + x + w + 1) * k)] = 255


def filled_sheet(
    exam_dir: Path,
    manifest: Manifest,
    *,
    student_id: str | None,
    variant: str | None,
    answers: dict[int, str],
    absent: bool = False,
    violation: int | None = None,
    dpi: int = 150,
    page: int = 1,
) -> np.ndarray:
    """A sheet page with the given 准考证号, 试卷类型 and answers (number → letters).

    ``violation``: the grey the invigilator's 违纪 box is painted with (45 a
    firm mark, about 200 a faint one); None leaves it blank.
    """
    image = blank_sheet(exam_dir, dpi, page)
    header = manifest.sheet.header
    if student_id:
        for column, digit in enumerate(student_id):
            paint(image, manifest, header.id_grid[column][int(digit)], dpi)
    if variant:
        paint(image, manifest, header.variant_row[manifest.sheet.variants.index(variant)], dpi)
    if absent:
        paint(image, manifest, header.absent, dpi)
    if violation is not None:
        paint(image, manifest, header.violation, dpi, value=violation)
    boxes = {q.number: q.boxes for q in manifest.sheet.questions if q.page == page}
    for number, letters in answers.items():
        if number in boxes:
            for letter in letters:
                paint(image, manifest, boxes[number][LETTERS.index(letter)], dpi)
    return image


def key_answers(manifest: Manifest, variant: str) -> dict[int, str]:
    return {item.number: item.key for item in manifest.variant(variant).items}
