"""Scores per student, read back from the grading store.

A student's sheet is every read page carrying their 准考证号 (one page on
most exams). Totals only add questions that were scored; a sheet with any
unscored (flagged) question, or any open flag, is marked as needing review
and its total is provisional — never presented as final.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from dataclasses import asdict, dataclass, field

from .manifest import Manifest


@dataclass
class StudentResult:
    student_id: str  # 准考证号, or "?file#page" for a sheet with no readable number
    variant: str | None
    absent: bool
    total: float
    sections: list[float]
    answered: int
    unscored: int  # questions flagged or on a sheet without a variant
    flags: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.absent and not self.flags:
            return "缺考"
        return "待复核" if (self.flags or self.unscored) else "已评"


def student_results(db: sqlite3.Connection, manifest: Manifest) -> list[StudentResult]:
    pages = db.execute(
        "SELECT file_hash, page, path, student_id, variant, absent FROM pages WHERE status = 'read' "
        "ORDER BY student_id, path, page"
    ).fetchall()
    results: dict[str, StudentResult] = {}
    sheet_flags: dict[str, list[str]] = {}
    duplicated: set[str] = set()
    for sid, reason, message in db.execute("SELECT student_id, reason, message FROM sheet_flags"):
        sheet_flags.setdefault(sid, []).append(message)
        if reason == "duplicate-id":
            duplicated.add(sid)
    for file_hash, page, path, sid, variant, absent in pages:
        # A 准考证号 on two sheets: each page keeps its own row, as in the report;
        # adding them up would give one total (over full marks) to two sheets.
        key = f"{sid}@{path}#{page}" if sid in duplicated else sid or f"?{path}#{page}"
        result = results.setdefault(
            key, StudentResult(sid or key, variant, bool(absent), 0.0, [0.0] * len(manifest.sections), 0, 0, list(sheet_flags.get(sid, [])))
        )
        result.pages.append(f"{path}#{page}")
        result.absent = result.absent or bool(absent)
        for number, section, outcome, score in db.execute(
            "SELECT number, section, outcome, score FROM marks WHERE file_hash = ? AND page = ?", (file_hash, page)
        ):
            if score is None:
                if not absent:
                    result.unscored += 1
                continue
            result.total += score
            result.sections[section] += score
            result.answered += outcome == "answer"
        result.flags += [
            (f"第 {n} 题：" if n else "") + message
            for n, message in db.execute(
                "SELECT number, message FROM flags WHERE file_hash = ? AND page = ? AND resolved = 0 ORDER BY number",
                (file_hash, page),
            )
        ]
    return sorted(results.values(), key=lambda r: (r.student_id, r.pages))


HEADERS = ["准考证号", "试卷类型", "状态", "总分"]


def _row(result: StudentResult, manifest: Manifest) -> list[str]:
    total = f"{result.total:g}" + ("*" if result.status == "待复核" else "")
    return [result.student_id, result.variant or "", result.status, total] + [f"{s:g}" for s in result.sections] + [
        "；".join(result.flags)
    ]


def format_results(results: list[StudentResult], manifest: Manifest, fmt: str) -> str:
    headers = HEADERS + [s.title for s in manifest.sections] + ["待复核原因"]
    if fmt == "json":
        return json.dumps([dict(asdict(r), status=r.status) for r in results], ensure_ascii=False, indent=1)
    rows = [_row(r, manifest) for r in results]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        return buffer.getvalue()
    from .stats import display_width

    widths = [max(display_width(str(r[i])) for r in rows + [headers]) for i in range(len(headers) - 1)]
    lines = []
    for cells in [headers] + rows:
        padded = [c + " " * (widths[i] - display_width(c)) for i, c in enumerate(cells[:-1])]
        lines.append("  ".join(padded + [cells[-1]]).rstrip())
    lines.append(f"共 {len(results)} 份；带 * 的总分为暂定（有待复核的题）")
    return "\n".join(lines)
