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
