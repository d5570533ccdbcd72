"""Scoring rules: hand-worked tables and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from papergen.exam.scoring import RULES, ScoringRule, parse_rule, score_range

A, B, C, D = 0, 1, 2, 3


def s(*options: int) -> frozenset[int]:
    return frozenset(options)


@pytest.mark.parametrize(
    "rule, marked, key, expected",
    [
        # 单选
        (ScoringRule("correct_only"), s(B), s(B), 1.0),
        (ScoringRule("correct_only"), s(A), s(B), 0.0),
        (ScoringRule("correct_only"), s(), s(B), 0.0),
        (ScoringRule("negative", {"penalty": 0.25}), s(A), s(B), -0.25),
        (ScoringRule("negative", {"penalty": 0.25}), s(B), s(B), 1.0),
        (ScoringRule("negative", {"penalty": 0.25}), s(), s(B), 0.0),
        # 多选：多选、少选、错选均不得分
        (ScoringRule("all_or_nothing"), s(A, C), s(A, C), 1.0),
        (ScoringRule("all_or_nothing"), s(A), s(A, C), 0.0),
        (ScoringRule("all_or_nothing"), s(A, C, D), s(A, C), 0.0),
        # 少选每项 0.5 分，错选 0 分
        (ScoringRule("per_correct_option", {"per_option": 0.5}), s(A), s(A, C, D), 0.5),
        (ScoringRule("per_correct_option", {"per_option": 0.5}), s(A, C), s(A, C, D), 1.0),
        (ScoringRule("per_correct_option", {"per_option": 0.5}), s(A, C, D), s(A, C, D), 1.0),
        (ScoringRule("per_correct_option", {"per_option": 0.5}), s(A, B), s(A, C, D), 0.0),
        # 按比例
        (ScoringRule("proportional"), s(A), s(A, C, D), 1 / 3),
        (ScoringRule("proportional"), s(A, D), s(A, C, D), 2 / 3),
        (ScoringRule("proportional"), s(A, B), s(A, C, D), 0.0),
        (ScoringRule("proportional"), s(), s(A, C, D), 0.0),
    ],
)
def test_rules_by_hand(rule: ScoringRule, marked, key, expected: float) -> None:
    assert rule.score(marked, key, 1.0) == pytest.approx(expected)


def test_per_correct_option_never_exceeds_full_marks() -> None:
    rule = ScoringRule("per_correct_option", {"per_option": 1.5})
    assert rule.score(s(A, C), s(A, B, C, D), 2.0) == 2.0


@pytest.mark.parametrize(
    "value, qtype, expected",
    [
        (None, "single", ScoringRule("correct_only")),
        (None, "multiple", ScoringRule("all_or_nothing")),
        ("proportional", "multiple", ScoringRule("proportional")),
        ({"per_correct_option": 0.5}, "multiple", ScoringRule("per_correct_option", {"per_option": 0.5})),
        ({"negative": 0.25}, "single", ScoringRule("negative", {"penalty": 0.25})),
        ({"rule": "negative", "penalty": 1}, "single", ScoringRule("negative", {"penalty": 1.0})),
    ],
)
def test_parse_rule(value, qtype: str, expected: ScoringRule) -> None:
    assert parse_rule(value, qtype) == expected


@pytest.mark.parametrize(
    "value, qtype, needle",
    [
        ("majority", "multiple", "未知的计分规则"),
        ("all_or_nothing", "single", "不适用于单选"),
        ({"per_correct_option": -1}, "multiple", "非负数"),
        ({"rule": "negative"}, "single", "penalty"),
        (3, "single", "写法不对"),
    ],
)
def test_bad_rules_are_explained(value, qtype: str, needle: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_rule(value, qtype)
    assert needle in str(info.value)


def test_every_rule_has_a_note() -> None:
    for name, spec in RULES.items():
        params = {p: 0.5 for p in spec.params}
        assert ScoringRule(name, params).note()


option_sets = st.frozensets(st.integers(0, 7), max_size=8)


@given(
    name=st.sampled_from(sorted(RULES)),
    marked=option_sets,
    key=st.frozensets(st.integers(0, 7), min_size=1, max_size=8),
    points=st.floats(0.5, 10),
    amount=st.floats(0, 5),
)
def test_scores_stay_within_the_rule_range(name, marked, key, points, amount) -> None:
    spec = RULES[name]
    rule = ScoringRule(name, {p: amount for p in spec.params})
    low, high = score_range(rule, points)
    assert low - 1e-9 <= rule.score(marked, key, points) <= high + 1e-9
    assert rule.score(key, key, points) == points  # the key always earns full marks
