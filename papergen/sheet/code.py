"""The text carried by an answer sheet's QR code.

``PG1;E=<exam>;B=<build>;P=<page>/<pages>;L=<layout>`` identifies the exam,
the build that printed the sheet (the manifest's fingerprint), the page and
the layout; personalised sheets add ``S=<准考证号>``, ``V=<variant>`` and
``N=<name>``. Everything here is read from a scan, so it is data to check,
not to trust: the grader validates each value before using it. The sheet renderer encodes it; the grader decodes it. Values
never contain ``;`` or ``=`` (exam ids cannot, names have them removed).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

PREFIX = "PG1"


@dataclass(frozen=True)
class SheetCode:
    exam: str
    page: int
    pages: int
    layout: str
    build: str | None = None
    student: str | None = None
    variant: str | None = None
    name: str | None = None

    def encode(self) -> str:
        parts = [PREFIX, f"E={self.exam}"]
        if self.build:
            parts.append(f"B={self.build}")
        parts += [f"P={self.page}/{self.pages}", f"L={self.layout}"]
        if self.student:
            parts.append(f"S={_clean(self.student)}")
        if self.variant:
            parts.append(f"V={self.variant}")
        if self.name:
            parts.append(f"N={_clean(self.name)}")
        return ";".join(parts)

    @classmethod
    def decode(cls, text: str) -> "SheetCode":
        """Parse a QR text; ``ValueError`` if it is not a papergen sheet code."""
        parts = text.split(";")
        if not parts or parts[0] != PREFIX:
            raise ValueError("not a papergen answer-sheet code")
        fields = dict(part.split("=", 1) for part in parts[1:] if "=" in part)
        try:
            page, pages = (int(v) for v in fields["P"].split("/"))
            return cls(
                exam=fields["E"], page=page, pages=pages, layout=fields["L"], build=fields.get("B"),
                student=fields.get("S"), variant=fields.get("V"), name=fields.get("N"),
            )
        except (KeyError, ValueError):
            raise ValueError(f"incomplete papergen sheet code: {text!r}") from None


def printable(value: str, limit: int = 24) -> str:
    """A value read from a scan, safe to show: no control or format characters, at most ``limit`` characters.

    QR codes can be forged; their text must never reach a terminal (escape
    sequences), a file name or a message as it is.
    """
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else "?" for ch in value)
    return text if len(text) <= limit else text[:limit] + "…"


def _clean(value: str) -> str:
    return value.replace(";", " ").replace("=", " ").strip()
