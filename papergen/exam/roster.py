"""Class rosters: who sits the exam, read from CSV or Excel.

Columns (Chinese or English header, any order): 准考证号/student_id
(required), 姓名/name (required), 班级/class (optional), 考场号/room
(optional), 座位号/seat (optional). 考场号 and 座位号 are printed on
personalised answer sheets; the seat also orders the variant assignment. Every problem names the file and row; a roster with duplicate
准考证号 is refused, never silently merged.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from papergen.core import inputs
from papergen.core.errors import InputFileError

HEADERS = {
    **dict.fromkeys(("准考证号", "考号", "学号", "student_id", "id"), "student_id"),
    **dict.fromkeys(("姓名", "name"), "name"),
    **dict.fromkeys(("班级", "class"), "klass"),
    **dict.fromkeys(("座位号", "座号", "seat"), "seat"),
    **dict.fromkeys(("考场号", "考场", "room"), "room"),
}


class RosterError(InputFileError):
    """A roster that cannot be used as it is."""


@dataclass(frozen=True)
class Student:
    student_id: str
    name: str
    klass: str
    seat: int | None
    row: int  # where it was read (header is row 1)
    room: str = ""  # 考场号 as written in the roster ("" when it has none)


def _key(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text or "")).strip().lower().replace(" ", "")


def read_roster(path: str | Path, *, id_digits: int | None = None) -> list[Student]:
    """Read a roster; ``id_digits`` checks every 准考证号 has that many digits."""
    path = Path(path)
    data = inputs.read_bytes(path)
    sheet = ""  # an Excel roster's rows are named with their worksheet, as everywhere else
    if data.startswith(b"PK\x03\x04"):
        rows, sheet = _xlsx_rows(data, path)
    else:
        text = inputs.decode_text(data, path)
        rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise RosterError("名单是空的", path=path)

    def place(number: int) -> str:
        return f"工作表 {sheet} 第 {number} 行" if sheet else f"第 {number} 行"

    header = [HEADERS.get(_key(cell)) for cell in rows[0]]
    missing = [zh for zh, field in (("准考证号", "student_id"), ("姓名", "name")) if field not in header]
    if missing:
        raise RosterError(
            f"名单第 1 行缺少列：{'、'.join(missing)}（现有列：{'、'.join(str(c) for c in rows[0])}）",
            path=path, line=None if sheet else 1, where=place(1) if sheet else None,
            hint="表头需要 准考证号、姓名，可选 班级、考场号、座位号",
        )
    col = {field: header.index(field) for field in set(header) if field}
    students: list[Student] = []
    seen: dict[str, int] = {}
    problems: list[str] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(str(cell).strip() for cell in row):
            continue

        def cell(field: str) -> str:
            index = col.get(field)
            return str(row[index]).strip() if index is not None and index < len(row) and row[index] is not None else ""

        sid = unicodedata.normalize("NFKC", cell("student_id"))
        if sid.endswith(".0") and sid[:-2].isdigit():  # Excel stored the number as a float
            sid = sid[:-2]
        name = cell("name")
        if not sid or not re.fullmatch(r"\d+", sid):
            problems.append(f"{place(number)}：准考证号 {sid!r} 应全为数字")
            continue
        if id_digits is not None and len(sid) != id_digits:
            problems.append(f"{place(number)}：准考证号 {sid} 有 {len(sid)} 位，答题卡要求 {id_digits} 位")
            continue
        if not name:
            problems.append(f"{place(number)}：缺少姓名")
            continue
        if sid in seen:
            problems.append(f"{place(number)}：准考证号 {sid} 与第 {seen[sid]} 行重复")
            continue
        seen[sid] = number
        seat_text = cell("seat")
        seat = int(float(seat_text)) if re.fullmatch(r"\d+(\.0)?", seat_text) else None
        room = cell("room")
        if room.endswith(".0") and room[:-2].isdigit():  # Excel stored the number as a float
            room = room[:-2]
        students.append(Student(sid, name, cell("klass"), seat, number, room=room))
    if problems:
        listing = "；".join(problems[:20]) + (f"；……共 {len(problems)} 处" if len(problems) > 20 else "")
        raise RosterError(f"名单有 {len(problems)} 处问题：{listing}", path=path)
    return students


def _xlsx_rows(data: bytes, path: Path) -> tuple[list[list[object]], str]:
    """The first worksheet's rows, and its name."""
    from openpyxl import load_workbook

    inputs.check_zip(data, path)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on broken files
        raise RosterError(f"Excel 名单无法打开：{exc}", path=path) from None
    sheet = workbook.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    workbook.close()
    return rows, sheet.title


def assign_variants(students: list[Student], variants: tuple[str, ...]) -> list[tuple[Student, str]]:
    """Give each seat a variant so that neighbours differ: A, B, C, D, A, … by seat.

    Students are ordered by seat number when the roster has one (else by
    roster order), and consecutive seats get consecutive variants.
    """
    ordered = sorted(students, key=lambda s: (s.seat is None, s.seat or 0, s.row))
    return [(student, variants[i % len(variants)]) for i, student in enumerate(ordered)]
