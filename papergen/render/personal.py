"""``papergen sheets``: one personalised answer sheet per student.

Reads the exam manifest (for the sheet geometry and variants) and a roster,
assigns variants by seat so neighbours differ, prints each student's name,
class, 准考证号 (and 考场号/座位号 when the roster has them) on their sheet,
name and 准考证号 into its QR code, and writes a CSV of
the assignments beside the PDF for the invigilators.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from papergen.core import atomic
from papergen.core.excel_text import csv_text
from papergen.exam.manifest import read_manifest
from papergen.exam.roster import assign_variants, read_roster
from papergen.render import fonts
from papergen.render.sheet import Personal, render_sheets


@dataclass(frozen=True)
class SheetsResult:
    students: int
    pages: int
    assignments: Path
    #: One line per roster row whose name or class has characters no font can print.
    warnings: list[str] = field(default_factory=list)


def print_personal_sheets(exam_json: str | Path, roster: str | Path, output: str | Path) -> SheetsResult:
    manifest = read_manifest(exam_json)
    students = read_roster(roster, id_digits=manifest.sheet.id_digits)
    variants = tuple(v.name for v in manifest.variants)
    assigned = assign_variants(students, variants)
    people = [
        Personal(s.student_id, s.name, s.klass, variant, room=s.room, seat=str(s.seat) if s.seat is not None else "")
        for s, variant in assigned
    ]
    output = Path(output)
    assignments = output.with_name(output.stem + "-座位与试卷类型.csv")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    rooms = any(student.room for student in students)  # a 考场号 column only when the roster has 考场号
    writer.writerow((["考场号"] if rooms else []) + ["座位号", "准考证号", "姓名", "班级", "试卷类型"])
    for student, variant in assigned:
        writer.writerow(
            ([csv_text(student.room)] if rooms else [])
            + [student.seat or "", student.student_id, csv_text(student.name), csv_text(student.klass), variant]
        )
    # The sheets and the invigilators' list are replaced together or not at all.
    with atomic.atomic_paths(output, assignments) as (sheets_tmp, assignments_tmp):
        pages = render_sheets(
            manifest.sheet, sheets_tmp, exam_id=manifest.exam, build=manifest.build, title=manifest.title, people=people
        )
        # BOM so that Excel opens the Chinese CSV as UTF-8; names from the roster never become formulas.
        assignments_tmp.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    warnings = [w for s in students for w in fonts.person_warnings(f"名单第 {s.row} 行", s.name, s.klass)]
    return SheetsResult(len(people), pages, assignments, warnings)
