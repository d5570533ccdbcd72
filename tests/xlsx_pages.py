"""How a workbook prints: LibreOffice's PDF of each worksheet, page by page.

LibreOffice exports every visible sheet into one PDF. To count the pages of
one worksheet, ``sheet_pdfs`` writes a copy of the workbook in which every
other sheet is hidden (an edit of ``xl/workbook.xml`` inside the zip, so
charts and print settings stay exactly as written — loading and saving with
openpyxl would drop the charts) and converts all the copies in one
LibreOffice run. Used by the tests and by hand::

    python -m tests.xlsx_pages report.xlsx      # pages per sheet
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from openpyxl import load_workbook


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _only_sheet(source: Path, target: Path, keep: int) -> None:
    """Copy ``source`` with every sheet but the ``keep``-th (0-based) hidden, and that one active."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/workbook.xml":
                text = data.decode("utf-8")
                count = iter(range(10**6))

                def hide(match: re.Match) -> str:
                    tag = re.sub(r'\sstate="[^"]*"', "", match.group(0))
                    return tag if next(count) == keep else tag.replace("<sheet ", '<sheet state="hidden" ', 1)

                text = re.sub(r"<sheet\s[^>]*/>", hide, text)
                text = re.sub(r'activeTab="\d+"', f'activeTab="{keep}"', text)
                if "activeTab=" not in text:
                    text = text.replace("<workbookView", f'<workbookView activeTab="{keep}"', 1)
                text = re.sub(r'firstSheet="\d+"', f'firstSheet="{keep}"', text)
                data = text.encode("utf-8")
            zout.writestr(item, data)


def sheet_pdfs(workbook: Path, folder: Path) -> dict[str, Path]:
    """One PDF per worksheet of ``workbook`` (LibreOffice), keyed by sheet title."""
    names = load_workbook(workbook, read_only=True).sheetnames
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for k in range(len(names)):
        copy = folder / f"{workbook.stem}-sheet{k + 1}.xlsx"
        _only_sheet(workbook, copy, k)
        copies.append(copy)
    profile = Path(tempfile.mkdtemp(prefix="lo-xlsx-pages-"))
    try:
        subprocess.run(
            [soffice(), f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
             "--outdir", str(folder), *map(str, copies)],
            capture_output=True, text=True, timeout=300, check=False,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return {name: copy.with_suffix(".pdf") for name, copy in zip(names, copies)}


def page_texts(pdf: Path) -> list[str]:
    """The text of each page of ``pdf`` (pdftotext, form feed between pages)."""
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = out.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def pages_per_sheet(workbook: Path, folder: Path) -> dict[str, list[str]]:
    """Each worksheet's printed pages, as text."""
    return {name: page_texts(pdf) for name, pdf in sheet_pdfs(workbook, folder).items()}


if __name__ == "__main__":
    for path in sys.argv[1:]:
        book = Path(path)
        with tempfile.TemporaryDirectory() as scratch:
            for name, pages in pages_per_sheet(book, Path(scratch)).items():
                print(f"{book.name}\t{name}\t{len(pages)} pages")
