"""The exam manifest (``exam.json``): the one record of what was printed.

Written by ``build``; read by ``sheets``, by exposure control (``exclude``)
and by the grader, which takes everything from it — question order,
option permutations, keys in both letterings, points, scoring rules,
topics and the answer-sheet geometry — and re-derives nothing.
``README.md`` documents the format; ``MANIFEST_VERSION`` changes whenever
its meaning does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__, atomic, inputs
from .exceptions import InputFileError
from .scoring import ScoringRule
from .sheet_layout import SheetGeometry
from .variants import Variant, VariantItem

MANIFEST_FORMAT = "papergen-exam"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ManifestQuestion:
    id: str
    bank: str
    section: int
    type: str
    topic: str
    difficulty: int
    options: int
    answer: str  # bank letters
    points: float
    reason: str  # why it was chosen: "quota:组织覆盖" | "free" | …


@dataclass(frozen=True)
class ManifestSection:
    title: str
    type: str
    count: int
    points: float
    scoring: ScoringRule
    rule_note: str
    mean_difficulty: float


@dataclass(frozen=True)
class Manifest:
    exam: str
    title: str
    seed: int
    minutes: int | None
    instructions: str
    banks: list[dict[str, str]]  # {"id", "title", "file", "sha256"}
    sections: list[ManifestSection]
    questions: dict[str, ManifestQuestion]
    variants: list[Variant]
    sheet: SheetGeometry
    blueprint: dict[str, str]  # {"file", "sha256"}

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(name)

    @property
    def total_points(self) -> float:
        return sum(q.points for q in self.questions.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "generator": f"papergen {__version__}",
            "exam": self.exam,
            "title": self.title,
            "seed": self.seed,
            "minutes": self.minutes,
            "instructions": self.instructions,
            "blueprint": self.blueprint,
            "banks": self.banks,
            "total_points": self.total_points,
            "sections": [
                {
                    "title": s.title, "type": s.type, "count": s.count, "points": s.points,
                    "scoring": s.scoring.to_json(), "rule_note": s.rule_note,
                    "mean_difficulty": round(s.mean_difficulty, 3),
                }
                for s in self.sections
            ],
            "questions": {
                q.id: {
                    "bank": q.bank, "section": q.section, "type": q.type, "topic": q.topic,
                    "difficulty": q.difficulty, "options": q.options, "answer": q.answer,
                    "points": q.points, "reason": q.reason,
                }
                for q in self.questions.values()
            },
            "variants": [
                {
                    "name": v.name,
                    "items": [
                        {
                            "number": i.number, "id": i.id, "bank": i.bank, "section": i.section,
                            "permutation": list(i.permutation), "key": i.key, "bank_key": i.bank_key,
                        }
                        for i in v.items
                    ],
                }
                for v in self.variants
            ],
            "sheet": self.sheet.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Manifest":
        return cls(
            exam=data["exam"],
            title=data["title"],
            seed=data["seed"],
            minutes=data.get("minutes"),
            instructions=data.get("instructions", ""),
            banks=data["banks"],
            blueprint=data.get("blueprint", {}),
            sections=[
                ManifestSection(
                    s["title"], s["type"], s["count"], float(s["points"]), ScoringRule.from_json(s["scoring"]),
                    s["rule_note"], float(s["mean_difficulty"]),
                )
                for s in data["sections"]
            ],
            questions={
                qid: ManifestQuestion(
                    qid, q["bank"], q["section"], q["type"], q["topic"], q["difficulty"], q["options"],
                    q["answer"], float(q["points"]), q["reason"],
                )
                for qid, q in data["questions"].items()
            },
            variants=[
                Variant(
                    v["name"],
                    tuple(
                        VariantItem(
                            i["number"], i["section"], i["id"], i["bank"], tuple(i["permutation"]), i["key"], i["bank_key"]
                        )
                        for i in v["items"]
                    ),
                )
                for v in data["variants"]
            ],
            sheet=SheetGeometry.from_json(data["sheet"]),
        )


def manifest_text(manifest: Manifest) -> str:
    return json.dumps(manifest.to_json(), ensure_ascii=False, indent=1) + "\n"


def write_manifest(manifest: Manifest, path: str | Path) -> None:
    atomic.write_text(path, manifest_text(manifest))


def read_manifest(path: str | Path) -> Manifest:
    """Read ``exam.json``; a file that is not a papergen manifest is an ``InputFileError``."""
    text = inputs.decode_text(inputs.read_bytes(path), path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}）", path=path, line=exc.lineno) from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise InputFileError("这不是 papergen 生成的考试清单 exam.json", path=path)
    if data.get("version") != MANIFEST_VERSION:
        raise InputFileError(
            f"考试清单版本为 {data.get('version')}，本版 papergen 读取版本 {MANIFEST_VERSION}",
            path=path, hint="用生成它的 papergen 版本处理，或重新组卷",
        )
    try:
        return Manifest.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputFileError(f"考试清单内容不完整：缺少或写错了 {exc}", path=path) from None


def question_ids(path: str | Path) -> set[str]:
    """The bank question ids an earlier exam used (for ``exclude``)."""
    return set(read_manifest(path).questions)
