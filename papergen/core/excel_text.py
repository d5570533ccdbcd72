"""Writing user-supplied text into Excel cells so it stays text.

openpyxl stores a string that starts with "=" as a formula and strings like
"#N/A" as error values, and Excel itself treats text starting with = + - @
as the start of a formula when a cell is edited. Every cell holding text a
person typed (stems, names, classes) goes through ``put_text``: the value is
stored as an explicit string, so Excel shows it and never runs it.
"""

from __future__ import annotations

from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

EXCEL_CELL_MAX_CHARS = 32767
#: How a CSV field starts when Excel would run it as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def has_illegal(text: str) -> bool:
    """True when ``text`` holds characters an xlsx cell cannot store."""
    return bool(ILLEGAL_CHARACTERS_RE.search(text)) or len(text) > EXCEL_CELL_MAX_CHARS


def clean(text: str) -> str:
    """``text`` without characters an xlsx cell cannot store, cut to the cell limit."""
    return ILLEGAL_CHARACTERS_RE.sub("", text)[:EXCEL_CELL_MAX_CHARS]


def put_text(cell: Any, text: str) -> Any:
    """Store ``text`` in ``cell`` as a plain string (never a formula or error)."""
    cell.value = clean(text)
    cell.data_type = "s"
    return cell


def csv_text(text: str) -> str:
    """``text`` for a CSV field that Excel shows and never evaluates.

    A CSV has no cell types: Excel runs a field starting with = + - @ as a
    formula when the file is opened. Such a field gets a leading apostrophe,
    Excel's own mark for "this is text".
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text
