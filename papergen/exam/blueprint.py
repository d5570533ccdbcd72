"""Blueprints: what an exam is made of, described once in YAML.

``load_blueprint`` reads and checks a blueprint, resolving its paths
relative to the blueprint file, and returns a ``Blueprint``. Every mistake
raises ``BlueprintError`` naming the file and line. Whether the banks can
satisfy it (quotas, topics) is checked by ``selection``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papergen.bank.model import QUESTION_TYPES
from papergen.core import inputs, located_yaml
from papergen.core.errors import BlueprintError
from papergen.core.located_yaml import YList, YMap
from papergen.exam.scoring import ScoringRule, parse_rule

EXAM_ID = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{1,40}$")
MAX_VARIANTS = 4  # the answer sheet's 试卷类型 row has A–D
TOP_KEYS = ("exam", "title", "banks", "variants", "seed", "minutes", "instructions", "sections", "exclude", "shuffle", "layout", "id_digits")
SECTION_KEYS = ("title", "type", "count", "points", "topics", "difficulty", "scoring")
DEFAULT_INSTRUCTIONS = (
    "1. 答题前，考生务必将自己的姓名、准考证号填写在答题卡上，并用2B铅笔填涂准考证号和试卷类型。\n"
    "2. 选择题答案必须用2B铅笔在答题卡上对应题号的方框内填涂，如需改动，用橡皮擦干净后再选涂其他答案。\n"
    "3. 考试结束后，将试卷和答题卡一并交回。"
)


@dataclass(frozen=True)
class DifficultyTarget:
    min: int = 1
    max: int = 5
    mean: float | None = None


@dataclass(frozen=True)
class SectionPlan:
    title: str
    type: str
    count: int
    points: float
    quotas: dict[str, int]  # topic prefix → questions, in the blueprint's order
    difficulty: DifficultyTarget
    scoring: ScoringRule
    line: int
    quota_lines: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Blueprint:
    path: Path
    exam: str
    title: str
    banks: list[Path]
    variants: int
    seed: int
    minutes: int | None
    instructions: str
    sections: list[SectionPlan]
    exclude: list[Path]
    shuffle: bool
    layout: str
    id_digits: int
    bank_lines: dict[str, int] = field(default_factory=dict)
    exclude_lines: dict[str, int] = field(default_factory=dict)

    def with_overrides(
        self, *, variants: int | None = None, seed: int | None = None, exam: str | None = None, title: str | None = None
    ) -> "Blueprint":
        from dataclasses import replace

        if variants is not None and not 1 <= variants <= MAX_VARIANTS:
            raise BlueprintError(f"试卷类型数 --variants 应为 1–{MAX_VARIANTS}，现在是 {variants}")
        if exam is not None and not EXAM_ID.match(exam):
            raise BlueprintError(f"考试编号 --exam 应为不含空格的文本（最长 40 字符），现在是 {exam!r}")
        if title is not None and not title.strip():
            raise BlueprintError("标题 --title 不能为空")
        return replace(
            self,
            variants=self.variants if variants is None else variants,
            seed=self.seed if seed is None else seed,
            exam=self.exam if exam is None else exam,
            title=self.title if title is None else title.strip(),
        )


def load_blueprint(path: str | Path) -> Blueprint:
    """Read and check a blueprint file."""
    path = Path(path)
    text = inputs.decode_text(inputs.read_bytes(path), path)
    doc = located_yaml.parse(text, path)
    if not isinstance(doc, YMap):
        raise BlueprintError("组卷方案顶层应为映射（exam:、title:、sections: ……）", path=path, line=1)

    def fail(message: str, key: Any = None, node: Any = None, hint: str | None = None) -> BlueprintError:
        where = node if node is not None else doc
        line = where.line_of(key) if key is not None and hasattr(where, "line_of") else getattr(where, "line", None)
        return BlueprintError(message, path=path, line=line, hint=hint)

    for key, line in doc.duplicates:
        raise BlueprintError(f"字段 {key} 重复出现", path=path, line=line)
    for key in doc:
        if key not in TOP_KEYS:
            raise fail(f"未知字段 {key}{_suggest(key, TOP_KEYS)}", key)
    for key in ("exam", "title", "banks", "sections"):
        if key not in doc:
            raise fail(f"缺少必填字段 {key}")
    exam = doc["exam"]
    if not isinstance(exam, str) or not EXAM_ID.match(exam):
        raise fail(f"考试编号 exam 应为不含空格的文本（最长 40 字符），现在是 {exam!r}", "exam")
    title = doc["title"]
    if not isinstance(title, str) or not title.strip():
        raise fail("标题 title 不能为空", "title")

    base = path.parent
    banks, bank_lines = _path_list(doc, "banks", path, fail, what="题库")
    exclude, exclude_lines = _path_list(doc, "exclude", path, fail, what="排除的考试清单") if "exclude" in doc else ([], {})
    variants = doc.get("variants", 1)
    if isinstance(variants, bool) or not isinstance(variants, int) or not 1 <= variants <= MAX_VARIANTS:
        raise fail(f"试卷类型数 variants 应为 1–{MAX_VARIANTS} 的整数（答题卡只有 A–D），现在是 {variants!r}", "variants")
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise fail(f"随机种子 seed 应为整数，现在是 {seed!r}", "seed")
    minutes = doc.get("minutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0):
        raise fail(f"考试时间 minutes 应为正整数，现在是 {minutes!r}", "minutes")
    instructions = doc.get("instructions", DEFAULT_INSTRUCTIONS)
    if not isinstance(instructions, str):
        raise fail("注意事项 instructions 应为文本", "instructions")
    shuffle = doc.get("shuffle", True)
    if not isinstance(shuffle, bool):
        raise fail("shuffle 应为 true 或 false", "shuffle")
    layout = doc.get("layout", "a4-standard")
    if not isinstance(layout, str):
        raise fail("答题卡版式 layout 应为版式名称或文件路径", "layout")
    if layout.endswith((".yaml", ".yml")):
        layout = str((base / layout).resolve())
    id_digits = doc.get("id_digits", 10)
    if isinstance(id_digits, bool) or not isinstance(id_digits, int) or not 4 <= id_digits <= 12:
        raise fail(f"准考证号位数 id_digits 应为 4–12，现在是 {id_digits!r}", "id_digits")

    raw_sections = doc["sections"]
    if not isinstance(raw_sections, YList) or not raw_sections:
        raise fail("sections 应为非空的大题列表", "sections")
    sections = [_section(raw, raw_sections.line_of(i), path) for i, raw in enumerate(raw_sections)]
    return Blueprint(
        path=path, exam=exam, title=title.strip(), banks=banks, variants=variants, seed=seed, minutes=minutes,
        instructions=instructions.strip(), sections=sections, exclude=exclude, shuffle=shuffle, layout=layout,
        id_digits=id_digits, bank_lines=bank_lines, exclude_lines=exclude_lines,
    )


def _suggest(key: Any, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(key), choices, n=1)
    return f"（是不是 {close[0]}？）" if close else ""


def _path_list(doc: YMap, key: str, blueprint_path: Path, fail, *, what: str):
    """Paths listed under ``key``, resolved against the blueprint's folder; all must exist."""
    base = blueprint_path.parent
    value = doc[key]
    if isinstance(value, str):
        items, lines = [value], [doc.line_of(key)]
    elif isinstance(value, YList) and all(isinstance(v, str) for v in value):
        items, lines = list(value), [value.line_of(i) for i in range(len(value))]
    else:
        raise fail(f"{key} 应为文件路径列表", key)
    paths, line_of = [], {}
    for item, line in zip(items, lines):
        resolved = (base / item).resolve()
        if not resolved.is_file():
            raise BlueprintError(
                f"{what}文件不存在：{item}（按组卷方案所在文件夹解析为 {resolved}）", path=blueprint_path, line=line
            )
        paths.append(resolved)
        line_of[str(resolved)] = line
    return paths, line_of


def _section(raw: Any, line: int, path: Path) -> SectionPlan:
    def fail(message: str, key: str | None = None) -> BlueprintError:
        at = raw.line_of(key) if key and isinstance(raw, YMap) else line
        return BlueprintError(message, path=path, line=at)

    if not isinstance(raw, YMap):
        raise fail("每个大题应为映射（title:、type:、count: ……）")
    for key in raw:
        if key not in SECTION_KEYS:
            raise fail(f"大题中的未知字段 {key}{_suggest(key, SECTION_KEYS)}", key)
    for key in ("title", "type", "count"):
        if key not in raw:
            raise fail(f"大题缺少必填字段 {key}")
    title = raw["title"]
    if not isinstance(title, str) or not title.strip():
        raise fail("大题标题 title 不能为空", "title")
    qtype = raw["type"]
    if qtype not in QUESTION_TYPES:
        raise fail(f"大题题型 type 只能是 single 或 multiple，现在是 {qtype!r}", "type")
    count = raw["count"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise fail(f"题数 count 应为正整数，现在是 {count!r}", "count")
    points = raw.get("points", 1)
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
        raise fail(f"每题分值 points 应为正数，现在是 {points!r}", "points")
    quotas: dict[str, int] = {}
    quota_lines: dict[str, int] = {}
    raw_topics = raw.get("topics") or {}
    if not isinstance(raw_topics, dict):
        raise fail("topics 应为 知识点: 题数 的映射，如 {组织覆盖: 5}", "topics")
    for topic, n in raw_topics.items():
        if not isinstance(topic, str) or not topic.strip("/ "):
            raise fail(f"知识点 {topic!r} 无效", "topics")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise fail(f"知识点“{topic}”的题数应为正整数，现在是 {n!r}", "topics")
        quotas[topic.strip("/ ")] = n
        quota_lines[topic.strip("/ ")] = raw_topics.line_of(topic) if isinstance(raw_topics, YMap) else line
    if sum(quotas.values()) > count:
        raise fail(f"各知识点题数之和 {sum(quotas.values())} 超过了本大题题数 {count}", "topics")
    difficulty = _difficulty(raw.get("difficulty"), fail)
    try:
        rule = parse_rule(raw.get("scoring"), qtype)
    except ValueError as exc:
        raise fail(str(exc), "scoring") from None
    return SectionPlan(
        title=title.strip(), type=qtype, count=count, points=float(points), quotas=quotas,
        difficulty=difficulty, scoring=rule, line=line, quota_lines=quota_lines,
    )


def _difficulty(value: Any, fail) -> DifficultyTarget:
    if value is None:
        return DifficultyTarget()
    if not isinstance(value, dict):
        raise fail("difficulty 应为 {min: 1, max: 4, mean: 2.5} 形式", "difficulty")
    extra = [k for k in value if k not in ("min", "max", "mean")]
    if extra:
        raise fail(f"difficulty 只能有 min、max、mean，多了 {', '.join(map(str, extra))}", "difficulty")
    low, high = value.get("min", 1), value.get("max", 5)
    mean = value.get("mean")
    for name, v in (("min", low), ("max", high)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 5:
            raise fail(f"difficulty.{name} 应为 1–5 的整数，现在是 {v!r}", "difficulty")
    if low > high:
        raise fail(f"difficulty.min（{low}）大于 max（{high}）", "difficulty")
    if mean is not None:
        if isinstance(mean, bool) or not isinstance(mean, (int, float)) or not low <= mean <= high:
            raise fail(f"difficulty.mean 应在 {low}–{high} 之间，现在是 {mean!r}", "difficulty")
        mean = float(mean)
    return DifficultyTarget(low, high, mean)
