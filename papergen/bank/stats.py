"""Bank statistics: question counts per topic × type × difficulty.

``topic_counts`` computes the table (every level of every topic path, so a
parent row sums its children); ``format_table`` lays it out for a terminal,
padding by display width because a Chinese character takes two columns.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from papergen.bank.model import DIFFICULTIES, Bank

TOTAL_LABEL = "合计"


@dataclass
class TopicCount:
    topic: str  # full path, "" for the grand total
    depth: int
    single: int = 0
    multiple: int = 0
    difficulty: list[int] = field(default_factory=lambda: [0] * len(DIFFICULTIES))

    @property
    def total(self) -> int:
        return self.single + self.multiple


def topic_counts(banks: Sequence[Bank]) -> list[TopicCount]:
    """One row per topic path prefix (sorted, parents before children), then the total."""
    rows: dict[str, TopicCount] = {}
    total = TopicCount(topic="", depth=0)
    for bank in banks:
        for question in bank.questions:
            parts = question.topic_path
            targets = [total]
            for depth in range(1, len(parts) + 1):
                key = "/".join(parts[:depth])
                targets.append(rows.setdefault(key, TopicCount(topic=key, depth=depth)))
            for row in targets:
                if question.type == "single":
                    row.single += 1
                else:
                    row.multiple += 1
                row.difficulty[question.difficulty - 1] += 1
    # Topics come out in the order the bank first uses them (which follows its
    # material), each parent directly followed by its children.
    order = {key: position for position, key in enumerate(rows)}

    def sort_key(key: str) -> list[int]:
        parts = key.split("/")
        return [order["/".join(parts[: depth + 1])] for depth in range(len(parts))]

    return [rows[key] for key in sorted(rows, key=sort_key)] + [total]


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(0, width - display_width(text))
    return gap + text if right else text + gap


HEADERS = ["知识点", "单选", "多选"] + [f"难度{d}" for d in DIFFICULTIES] + ["合计"]


def _cells(row: TopicCount) -> list[str]:
    return [str(row.single), str(row.multiple)] + [str(n) for n in row.difficulty] + [str(row.total)]


def format_table(rows: Sequence[TopicCount], banks: Sequence[Bank]) -> str:
    """A table a person can read: indented topic tree, counts right-aligned."""
    labels = []
    for row in rows:
        if not row.topic:
            labels.append(TOTAL_LABEL)
        else:
            labels.append("  " * (row.depth - 1) + row.topic.split("/")[-1])
    body = [[label] + _cells(row) for label, row in zip(labels, rows)]
    widths = [max(display_width(line[i]) for line in body + [HEADERS]) for i in range(len(HEADERS))]

    def render(cells: list[str]) -> str:
        return "  ".join(_pad(cell, widths[i], right=i > 0) for i, cell in enumerate(cells)).rstrip()

    rule = "-" * display_width(render(HEADERS))
    heading = "；".join(f"{bank.title}（{bank.id}，{len(bank.questions)} 题）" for bank in banks)
    lines = [heading, rule, render(HEADERS), rule]
    lines += [render(cells) for cells in body[:-1]]
    lines += [rule, render(body[-1])]
    return "\n".join(lines)


def format_csv(rows: Sequence[TopicCount]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADERS)
    for row in rows:
        writer.writerow([row.topic or TOTAL_LABEL] + _cells(row))
    return buffer.getvalue()


def format_json(rows: Sequence[TopicCount]) -> str:
    records = [dict(asdict(row), total=row.total) for row in rows]
    return json.dumps(records, ensure_ascii=False, indent=2)
