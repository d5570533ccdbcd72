"""Word (.docx) files in the exam-prep form: their paragraphs, read as text.

Each paragraph (and each paragraph inside a table cell, in document order)
is one line for ``cntext``; places are paragraph numbers ("第 12 段"). Word's
automatic list numbering is not part of the paragraph text, so decimal and
letter lists are numbered here the way Word displays them: a question list
("1." "2.") and option lists ("A." "B.") then read like typed numbering.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import docx
from docx.oxml.ns import qn

from ..exceptions import InputFileError
from ..inputs import check_zip
from . import ReadResult, cntext

_FORMATS = {"decimal": "decimal", "decimalFullWidth": "decimal", "upperLetter": "upper", "lowerLetter": "lower"}


class _ListNumbering:
    """Counts Word list items so auto-numbered paragraphs get their label."""

    def __init__(self, document: docx.document.Document) -> None:
        self.formats: dict[tuple[str, int], tuple[str, int]] = {}
        self.counters: dict[str, list[int]] = {}
        try:
            numbering = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        abstract: dict[str, dict[int, tuple[str, int]]] = {}
        for node in numbering.findall(qn("w:abstractNum")):
            levels = {}
            for lvl in node.findall(qn("w:lvl")):
                fmt = lvl.find(qn("w:numFmt"))
                start = lvl.find(qn("w:start"))
                levels[int(lvl.get(qn("w:ilvl"), "0"))] = (
                    fmt.get(qn("w:val")) if fmt is not None else "decimal",
                    int(start.get(qn("w:val"))) if start is not None else 1,
                )
            abstract[node.get(qn("w:abstractNumId"))] = levels
        for num in numbering.findall(qn("w:num")):
            ref = num.find(qn("w:abstractNumId"))
            if ref is None:
                continue
            for ilvl, spec in abstract.get(ref.get(qn("w:val")), {}).items():
                self.formats[(num.get(qn("w:numId")), ilvl)] = spec

    def label(self, paragraph) -> str:
        ppr = paragraph._p.pPr
        numpr = ppr.numPr if ppr is not None else None
        if numpr is None or numpr.numId is None:
            return ""
        num_id = str(numpr.numId.val)
        ilvl = int(numpr.ilvl.val) if numpr.ilvl is not None else 0
        fmt, start = self.formats.get((num_id, ilvl), ("", 1))
        counters = self.counters.setdefault(num_id, [0] * 9)
        counters[ilvl] += 1
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = 0
        value = start + counters[ilvl] - 1
        kind = _FORMATS.get(fmt)
        if kind == "decimal":
            return f"{value}．"
        if kind in ("upper", "lower") and 1 <= value <= 26:
            return f"{chr(ord('A') + value - 1)}．"
        return ""


def _paragraphs(document: docx.document.Document) -> Iterator:
    """Body paragraphs and table-cell paragraphs in document order."""
    body = document.element.body
    for child in body.iterchildren():
        if child.tag == qn("w:p"):
            yield docx.text.paragraph.Paragraph(child, document._body)
        elif child.tag == qn("w:tbl"):
            table = docx.table.Table(child, document._body)
            for row in table.rows:
                for cell in row.cells:
                    yield from cell.paragraphs


def read(data: bytes, path: str) -> ReadResult:
    """Read questions from a .docx file's paragraphs."""
    check_zip(data, path)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises assorted errors on broken parts
        raise InputFileError(f"Word 文件无法打开：{exc}", path=path, hint="用 Word/WPS 打开后另存为 .docx 再试") from None
    numbering = _ListNumbering(document)

    def lines() -> Iterator[tuple[str, int]]:
        for number, paragraph in enumerate(_paragraphs(document), start=1):
            text = numbering.label(paragraph) + paragraph.text
            # A soft line break (Shift+Enter) separates lines within a paragraph.
            for part in text.split("\n"):
                yield part, number

    return cntext.read_lines(lines(), path, unit="段")
