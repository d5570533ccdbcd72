"""Word (.docx) files in the exam-prep form: their paragraphs, read as text.

Each paragraph (and each paragraph inside a table cell, in document order)
is one line for ``cntext``; places are paragraph numbers ("第 12 段"). Word's
automatic list numbering is not part of the paragraph text, so decimal and
letter lists are numbered here the way Word displays them: a question list
("1." "2.") and option lists ("A." "B.") then read like typed numbering.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import docx
from docx.oxml.ns import qn

from papergen.bank.formats import ReadResult, cntext
from papergen.core.errors import InputFileError
from papergen.core.inputs import check_zip

_FORMATS = {"decimal": "decimal", "decimalFullWidth": "decimal", "upperLetter": "upper", "lowerLetter": "lower"}
#: Word list levels are 0–8.
_LEVELS = 9
_NUMBERING_PART = "自动编号定义（word/numbering.xml）"
_RESAVE_HINT = "用 Word/WPS 打开后另存为 .docx 再试"


def _integer(value: str | None, default: int, what: str, path: str, where: str) -> int:
    """An integer attribute of the numbering XML; anything else means the file is damaged."""
    if value is None:
        return default
    text = value.strip()
    if not re.fullmatch(r"-?[0-9]+", text):
        trouble = "不是整数"
    elif len(text.lstrip("-")) > 9:  # Word's numbers are 32-bit
        trouble = "超出范围"
    else:
        return int(text)
    raise InputFileError(f"Word 文件的自动编号已损坏：{what} 的值 {value[:20]!r} {trouble}", path=path, where=where, hint=_RESAVE_HINT)


class _ListNumbering:
    """Counts Word list items so auto-numbered paragraphs get their label."""

    def __init__(self, document: docx.document.Document, path: str) -> None:
        self.path = path
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
                ilvl = _integer(lvl.get(qn("w:ilvl")), 0, "列表级别 w:ilvl", path, _NUMBERING_PART)
                levels[ilvl] = (
                    fmt.get(qn("w:val")) if fmt is not None else "decimal",
                    _integer(start.get(qn("w:val")), 1, "起始编号 w:start", path, _NUMBERING_PART) if start is not None else 1,
                )
            abstract[node.get(qn("w:abstractNumId"))] = levels
        for num in numbering.findall(qn("w:num")):
            ref = num.find(qn("w:abstractNumId"))
            if ref is None:
                continue
            for ilvl, spec in abstract.get(ref.get(qn("w:val")), {}).items():
                self.formats[(num.get(qn("w:numId")), ilvl)] = spec

    def label(self, paragraph, number: int) -> str:
        """The label Word shows before paragraph ``number`` ("3．", "B．"), or ""."""
        where = f"第 {number} 段"
        try:  # python-docx parses these attributes on access and raises ValueError for non-integers
            ppr = paragraph._p.pPr
            numpr = ppr.numPr if ppr is not None else None
            if numpr is None or numpr.numId is None:
                return ""
            num_id = str(numpr.numId.val)
            ilvl = int(numpr.ilvl.val) if numpr.ilvl is not None else 0
        except ValueError:
            message = "Word 文件这一段的列表编号已损坏（w:numId 或 w:ilvl 不是整数）"
            raise InputFileError(message, path=self.path, where=where, hint=_RESAVE_HINT) from None
        if not 0 <= ilvl < _LEVELS:
            raise InputFileError(f"Word 文件这一段的列表级别 {ilvl} 超出 0–8", path=self.path, where=where, hint=_RESAVE_HINT)
        fmt, start = self.formats.get((num_id, ilvl), ("", 1))
        counters = self.counters.setdefault(num_id, [0] * _LEVELS)
        counters[ilvl] += 1
        for deeper in range(ilvl + 1, _LEVELS):
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
    if getattr(document.element, "body", None) is None:  # the root of word/document.xml is not <w:document>
        raise InputFileError("Word 文件的正文（word/document.xml）已损坏：找不到 <w:body>", path=path, hint=_RESAVE_HINT)
    numbering = _ListNumbering(document, path)

    def lines() -> Iterator[tuple[str, int]]:
        for number, paragraph in enumerate(_paragraphs(document), start=1):
            text = numbering.label(paragraph, number) + paragraph.text
            # A soft line break (Shift+Enter) separates lines within a paragraph.
            for part in text.split("\n"):
                yield part, number

    return cntext.read_lines(lines(), path, unit="段")
