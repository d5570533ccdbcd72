"""Scoring rules: how many points a set of marked options earns.

Each rule is a named pure function ``rule(marked, key, points, **params)``
where ``marked`` and ``key`` are sets of option indices (bank order or
display order: the same for both) and ``points`` the question's full marks.
A blank answer is the empty set and always scores 0 (negative marking only
punishes wrong answers). ``ScoringRule`` is the serialisable form that goes
into blueprints and the exam manifest.

The rules are the ones Chinese exams use:

- ``correct_only`` — single choice: full marks for the key, else 0.
- ``negative`` — single choice with a penalty for a wrong answer
  (``penalty`` points, e.g. 0.25); blank scores 0.
- ``all_or_nothing`` — multiple choice: 多选、少选、错选均不得分.
- ``per_correct_option`` — multiple choice: any wrong option → 0; otherwise
  ``per_option`` points for each correct option marked, full marks when all
  are marked (少选每选对一项得 ``per_option`` 分).
- ``proportional`` — multiple choice: any wrong option → 0; otherwise
  ``points × marked/len(key)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Marked = frozenset[int]


def correct_only(marked: Marked, key: Marked, points: float) -> float:
    return points if marked and marked == key else 0.0


def negative(marked: Marked, key: Marked, points: float, penalty: float) -> float:
    if not marked:
        return 0.0
    return points if marked == key else -penalty


def all_or_nothing(marked: Marked, key: Marked, points: float) -> float:
    return points if marked and marked == key else 0.0


def per_correct_option(marked: Marked, key: Marked, points: float, per_option: float) -> float:
    if not marked or not marked <= key:
        return 0.0
    if marked == key:
        return points
    return min(points, per_option * len(marked))


def proportional(marked: Marked, key: Marked, points: float) -> float:
    if not marked or not marked <= key:
        return 0.0
    if marked == key:
        return points  # exactly: points * k / k can be off in the last bit
    return points * len(marked) / len(key)


@dataclass(frozen=True)
class RuleSpec:
    function: Callable[..., float]
    types: tuple[str, ...]  # question types the rule applies to
    params: tuple[str, ...]  # required parameters
    note: str  # printed under the section heading; {param} filled in


RULES: dict[str, RuleSpec] = {
    "correct_only": RuleSpec(correct_only, ("single", "multiple"), (), "选对得分，选错或不选不得分"),
    "negative": RuleSpec(negative, ("single",), ("penalty",), "选对得分，选错倒扣 {penalty} 分，不选不得分"),
    "all_or_nothing": RuleSpec(all_or_nothing, ("multiple",), (), "多选、少选、错选均不得分"),
    "per_correct_option": RuleSpec(
        per_correct_option, ("multiple",), ("per_option",), "全部选对得满分；少选时每选对一项得 {per_option} 分；错选不得分"
    ),
    "proportional": RuleSpec(proportional, ("multiple",), (), "全部选对得满分；少选按选对项数比例得分；错选不得分"),
}
DEFAULT_RULE = {"single": "correct_only", "multiple": "all_or_nothing"}


@dataclass(frozen=True)
class ScoringRule:
    """A rule name and its parameters, as written in blueprints and manifests."""

    name: str
    params: dict[str, float] = field(default_factory=dict)

    def score(self, marked: Marked, key: Marked, points: float) -> float:
        return RULES[self.name].function(frozenset(marked), frozenset(key), points, **self.params)

    def note(self) -> str:
        return RULES[self.name].note.format(**{k: f"{v:g}" for k, v in self.params.items()})

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.name, **self.params}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ScoringRule":
        params = {k: float(v) for k, v in data.items() if k != "rule"}
        return cls(data["rule"], params)


def parse_rule(value: Any, question_type: str) -> ScoringRule:
    """A rule from blueprint YAML: ``all_or_nothing``, ``{per_correct_option: 0.5}``,
    ``{negative: 0.25}`` or ``{rule: negative, penalty: 0.25}``; ``None`` → the default.

    Raises ``ValueError`` with a Chinese message naming the problem.
    """
    if value is None:
        return ScoringRule(DEFAULT_RULE[question_type])
    if isinstance(value, str):
        name, params = value, {}
    elif isinstance(value, dict) and "rule" in value:
        name = value["rule"]
        params = {k: v for k, v in value.items() if k != "rule"}
    elif isinstance(value, dict) and len(value) == 1:
        ((name, amount),) = value.items()
        spec = RULES.get(name)
        if spec is None or len(spec.params) != 1:
            raise ValueError(f"未知的计分规则 {name!r}（可用：{'、'.join(RULES)}）")
        params = {spec.params[0]: amount}
    else:
        raise ValueError(f"计分规则写法不对：{value!r}（如 all_or_nothing 或 {{per_correct_option: 0.5}}）")
    spec = RULES.get(name)
    if spec is None:
        raise ValueError(f"未知的计分规则 {name!r}（可用：{'、'.join(RULES)}）")
    if question_type not in spec.types:
        raise ValueError(f"计分规则 {name} 不适用于{'单选' if question_type == 'single' else '多选'}题")
    missing = [p for p in spec.params if p not in params]
    extra = [p for p in params if p not in spec.params]
    if missing or extra:
        raise ValueError(f"计分规则 {name} 需要参数 {', '.join(spec.params) or '（无）'}")
    clean = {}
    for key, amount in params.items():
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
            raise ValueError(f"计分规则 {name} 的参数 {key} 应为非负数，现在是 {amount!r}")
        clean[key] = float(amount)
    return ScoringRule(name, clean)


def score_range(rule: ScoringRule, points: float) -> tuple[float, float]:
    """Lowest and highest score a question can get under ``rule``."""
    low = -rule.params.get("penalty", 0.0) if rule.name == "negative" else 0.0
    return low, points
