"""Output file names made from user input (roster names, classes), safe on every system.

Feedback PDFs (``准考证号-姓名.pdf``) and annotated sheets (per student, or
``班级.pdf``) are named from the roster, which anyone can type anything into:
a name must never point outside the output folder or be refused by Windows.
"""

from __future__ import annotations

import re
import unicodedata

#: Longest stretch of a name kept in a file name (characters); long enough for
#: any real name, short enough that "准考证号-姓名.pdf" stays far below the
#: 255-byte limit of common file systems.
NAME_CHARS_IN_FILENAME = 40
#: Characters Windows refuses in file names (``/`` and ``\\`` are also path
#: separators everywhere).
UNSAFE_FILENAME_CHARS = '<>:"/\\|?*'


def filename_part(text: str) -> str:
    """``text`` as part of one file name: no separators, ``..``, control or Windows-forbidden characters."""
    # NFKC first, so full-width look-alikes ("／", "．．") become the ASCII
    # characters they resemble and are caught below like the real ones.
    text = unicodedata.normalize("NFKC", text)
    text = "".join(
        "_" if ch in UNSAFE_FILENAME_CHARS or unicodedata.category(ch)[0] == "C" else ch for ch in text
    )
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\.{2,}", "_", text)  # no "..", whatever is around it
    text = re.sub(r"_{2,}", "_", text)
    # Windows drops trailing dots and spaces; leading ones hide files on Unix.
    return text.strip(" ._")


def safe_filename(student_id: str, name: str) -> str:
    """``"{准考证号}-{姓名}.pdf"``, safe as one file name on Linux, macOS and Windows.

    Path separators, ``..``, control characters and the characters Windows
    forbids (``<>:"/\\|?*``) are replaced, so the result is always a single
    name inside the output folder. A name that cleans to nothing leaves
    ``"{准考证号}.pdf"``.

    >>> safe_filename("2026030001", "../../evil")
    '2026030001-evil.pdf'
    """
    sid = filename_part(student_id) or "未知考号"
    clean_name = filename_part(name)[:NAME_CHARS_IN_FILENAME].rstrip(" ._")
    return f"{sid}-{clean_name}.pdf" if clean_name else f"{sid}.pdf"


def safe_stem(text: str, fallback: str) -> str:
    """``text`` cleaned like ``safe_filename`` cleans a name (at most 40 characters), or ``fallback`` when nothing is left."""
    return filename_part(text)[:NAME_CHARS_IN_FILENAME].rstrip(" ._") or fallback
