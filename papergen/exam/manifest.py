"""The exam manifest (``exam.json``): the one record of what was printed.

Written by ``build``; read by ``sheets``, by exposure control (``exclude``)
and by the grader, which takes everything from it — question order,
option permutations, keys in both letterings, points, scoring rules,
topics and the answer-sheet geometry — and re-derives nothing.
``README.md`` documents the format; ``MANIFEST_VERSION`` changes whenever
its meaning does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from papergen import __version__
from papergen.bank.model import LETTERS, MAX_OPTIONS, MIN_OPTIONS
from papergen.core import atomic, inputs
from papergen.core.errors import InputFileError
from papergen.exam.scoring import RULES, ScoringRule
from papergen.exam.variants import Variant, VariantItem, display_letters
from papergen.sheet.layout import SheetGeometry

MANIFEST_FORMAT = "papergen-exam"
#: 2: the build fingerprint (``build``) and the sheet's printed labels.
MANIFEST_VERSION = 2
#: Hex digits of the build fingerprint printed on sheets and carried in their QR code.
FINGERPRINT_LENGTH = 10


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
    build: str = ""  # fingerprint of what was printed (``build_fingerprint``); in every sheet's QR code

    def with_fingerprint(self) -> "Manifest":
        """This manifest with ``build`` set from its own printed content."""
        return replace(self, build=build_fingerprint(self.to_json()))

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
            "build": self.build,
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
            build=data.get("build", ""),
        )


def build_fingerprint(data: dict[str, Any]) -> str:
    """A short fingerprint of what a build printed, from a manifest's JSON form.

    It covers what a candidate's sheet and paper were printed with: the exam
    id, every variant's question order and option permutations, the option
    counts, and the whole sheet geometry. It leaves out the keys, points and
    scoring rules on purpose: they say how a sheet is scored, not which
    printing it came from, so a corrected key (same papers, same sheets) keeps
    the fingerprint, while another seed, ``build --focus`` or another layout
    changes it. Every sheet carries it in its QR code; the grader refuses a
    sheet whose fingerprint is not the manifest's.
    """
    printed = {
        "exam": data["exam"],
        "options": {qid: q["options"] for qid, q in sorted(data["questions"].items())},
        "variants": [
            [v["name"], [[i["number"], i["section"], i["id"], list(i["permutation"])] for i in v["items"]]]
            for v in data["variants"]
        ],
        "sheet": data["sheet"],
    }
    text = json.dumps(printed, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:FINGERPRINT_LENGTH]


def manifest_problems(data: dict[str, Any]) -> list[str]:
    """Every way a manifest's JSON contradicts itself, each naming its field.

    A hand-edited exam.json must never be scored from: a key changed in one
    place and not the other, a letter beyond the question's options, an
    unknown scoring rule, a question missing from a variant, or a sheet
    whose boxes no longer match the papers. Empty when consistent.
    """
    problems: list[str] = []
    sections = data["sections"]
    questions = data["questions"]
    for s_index, section in enumerate(sections):
        where = f"sections[{s_index}]"
        if section["type"] not in ("single", "multiple"):
            problems.append(f"{where}.type：题型 {section['type']!r} 应为 single 或 multiple")
        rule = section["scoring"]
        spec = RULES.get(rule.get("rule")) if isinstance(rule, dict) else None
        if spec is None:
            problems.append(f"{where}.scoring：未知的计分规则 {rule!r}（可用：{'、'.join(RULES)}）")
        else:
            params = {k for k in rule if k != "rule"}
            if section["type"] not in spec.types or params != set(spec.params):
                problems.append(f"{where}.scoring：计分规则 {rule['rule']} 的参数或适用题型不对（{rule!r}）")
            elif any(isinstance(rule[k], bool) or not isinstance(rule[k], (int, float)) or rule[k] < 0 for k in params):
                problems.append(f"{where}.scoring：计分规则的参数应为非负数（{rule!r}）")
        in_section = sum(1 for q in questions.values() if q["section"] == s_index)
        if section["count"] != in_section:
            problems.append(f"{where}.count：写的是 {section['count']} 题，questions 中属于这个大题的有 {in_section} 题")
    for qid, q in questions.items():
        where = f"questions[{qid}]"
        if not isinstance(q["section"], int) or not 0 <= q["section"] < len(sections):
            problems.append(f"{where}.section：大题序号 {q['section']!r} 不存在")
            continue
        if q["type"] != sections[q["section"]]["type"]:
            problems.append(f"{where}.type：题型 {q['type']} 与所在大题的题型 {sections[q['section']]['type']} 不一致")
        options = q["options"]
        if not isinstance(options, int) or not MIN_OPTIONS <= options <= MAX_OPTIONS:
            problems.append(f"{where}.options：选项数 {options!r} 应在 {MIN_OPTIONS}–{MAX_OPTIONS} 之间")
            continue
        problems += _answer_problems(f"{where}.answer", q["answer"], options, q["type"])
        if not isinstance(q["points"], (int, float)) or isinstance(q["points"], bool) or q["points"] <= 0:
            problems.append(f"{where}.points：分值 {q['points']!r} 应为正数")
    names = [v["name"] for v in data["variants"]]
    sheet_variants = data["sheet"]["header"]["variants"]
    if not names or len(set(names)) != len(names) or not set(names) <= set(sheet_variants):
        problems.append(f"variants：试卷类型 {names} 应互不相同，且都在答题卡的试卷类型 {sheet_variants} 中")
    sheet_rows = {row["number"]: row for row in data["sheet"]["questions"]}
    for v_index, variant in enumerate(data["variants"]):
        items = variant["items"]
        ids = [item["id"] for item in items]
        if sorted(ids) != sorted(questions) or len(set(ids)) != len(ids):
            missing = sorted(set(questions) - set(ids))
            extra = sorted({i for i in ids if i not in questions or ids.count(i) > 1})
            problems.append(f"variants[{v_index}].items：应恰好包含每道题一次（缺少 {missing or '无'}，多出或重复 {extra or '无'}）")
        for i_index, item in enumerate(items):
            where = f"variants[{v_index}].items[{i_index}]"
            if item["number"] != i_index + 1:
                problems.append(f"{where}.number：题号应为 {i_index + 1}，现在是 {item['number']!r}")
            q = questions.get(item["id"])
            if q is None or not isinstance(q["options"], int):
                continue
            if item["section"] != q["section"]:
                problems.append(f"{where}.section：与 questions[{item['id']}].section 不一致")
            permutation = list(item["permutation"])
            if sorted(permutation) != list(range(q["options"])):
                problems.append(f"{where}.permutation：{permutation} 不是 {q['options']} 个选项的一个排列")
                continue
            if item["bank_key"] != q["answer"]:
                problems.append(f"{where}.bank_key：为 {item['bank_key']!r}，但 questions[{item['id']}].answer 为 {q['answer']!r}")
            elif not _answer_problems("", q["answer"], q["options"], q["type"]):
                expected = display_letters(q["answer"], permutation)
                if item["key"] != expected:
                    problems.append(
                        f"{where}.key：为 {item['key']!r}，但按答案 {q['answer']} 和选项顺序应为 {expected!r}"
                    )
            row = sheet_rows.get(item["number"])
            if row is None or len(row["boxes"]) < q["options"] or row["section"] != item["section"]:
                problems.append(f"{where}：答题卡上第 {item['number']} 题的方框与这道题（{q['options']} 个选项）不符")
    if data.get("build") != build_fingerprint(data):
        problems.append(
            f"build：组卷指纹 {data.get('build')!r} 与清单内容不符（试卷顺序、选项顺序或答题卡几何在组卷后被改动过）"
        )
    return problems


def _answer_problems(where: str, answer: Any, options: int, qtype: str) -> list[str]:
    allowed = LETTERS[:options]
    if not isinstance(answer, str) or not answer or any(ch not in allowed for ch in answer):
        return [f"{where}：答案 {answer!r} 应由 {allowed[0]}–{allowed[-1]} 中的字母组成"]
    if "".join(sorted(set(answer))) != answer:
        return [f"{where}：答案 {answer!r} 的字母应按顺序且不重复"]
    if qtype == "single" and len(answer) != 1:
        return [f"{where}：单选题的答案只能有一个字母，现在是 {answer!r}"]
    if qtype == "multiple" and len(answer) < 2:
        return [f"{where}：多选题的答案至少两个字母，现在是 {answer!r}"]
    return []


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
        problems = manifest_problems(data)
        manifest = Manifest.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise InputFileError(f"考试清单内容不完整：缺少或写错了 {exc}", path=path) from None
    if problems:
        shown = "；".join(problems[:5]) + (f"；……共 {len(problems)} 处" if len(problems) > 5 else "")
        raise InputFileError(
            f"考试清单自相矛盾，不能据此评分：{shown}", path=path,
            hint="exam.json 不能手工修改；答案有误时请改题库后重新组卷（同一种子），或用原来的 exam.json",
        )
    return manifest


def question_ids(path: str | Path) -> set[str]:
    """The bank question ids an earlier exam used (for ``exclude``)."""
    return set(read_manifest(path).questions)
