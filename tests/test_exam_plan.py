"""Blueprints, question selection, variants and sheet geometry."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papergen.bank import files as bankfile
from papergen.bank.model import LETTERS, Option, Question
from papergen.core.errors import BlueprintError
from papergen.exam.blueprint import load_blueprint
from papergen.exam.selection import select, topic_matches
from papergen.exam.variants import (
    key_in_display_letters,
    make_variants,
    permute_options,
)
from papergen.sheet.layout import SheetGeometry, compute_geometry, load_layout
from tests.conftest import ROOT

BANK = ROOT / "banks" / "xinjiuye-dangjian.yaml"


def write_blueprint(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "exam.yaml"
    path.write_text(f"exam: t-01\ntitle: 测试卷\nbanks: [{BANK}]\nseed: 7\n" + body, encoding="utf-8")
    return path


SECTIONS = """sections:
  - title: 一、单项选择题
    type: single
    count: 20
    points: 1
    topics: {组织覆盖: 3, 地方实践案例/常州: 4}
    difficulty: {min: 1, max: 4, mean: 2.5}
  - title: 二、多项选择题
    type: multiple
    count: 10
    points: 2
    scoring: {per_correct_option: 0.5}
"""


def plan(tmp_path: Path, body: str = SECTIONS, **overrides):
    blueprint = load_blueprint(write_blueprint(tmp_path, body)).with_overrides(**overrides)
    banks = bankfile.load_banks(blueprint.banks)
    return blueprint, banks, select(blueprint, banks)


def test_selection_meets_quotas_types_and_difficulty(tmp_path: Path) -> None:
    blueprint, _, sections = plan(tmp_path)
    single, multiple = sections
    assert len(single.chosen) == 20 and len(multiple.chosen) == 10
    assert {c.question.type for c in single.chosen} == {"single"}
    assert {c.question.type for c in multiple.chosen} == {"multiple"}
    reasons = Counter(c.reason for c in single.chosen)
    assert reasons["quota:组织覆盖"] == 3 and reasons["quota:地方实践案例/常州"] == 4
    for c in single.chosen:
        if c.reason.startswith("quota:"):
            assert topic_matches(c.question.topic, c.reason[6:])
        assert 1 <= c.question.difficulty <= 4
    assert abs(single.mean_difficulty - 2.5) <= 0.05
    ids = [c.question.id for s in sections for c in s.chosen]
    assert len(ids) == len(set(ids))


def test_selection_is_deterministic_for_a_seed_and_differs_across_seeds(tmp_path: Path) -> None:
    ids = lambda sections: [c.question.id for s in sections for c in s.chosen]  # noqa: E731
    first = ids(plan(tmp_path)[2])
    assert ids(plan(tmp_path)[2]) == first
    assert ids(plan(tmp_path, seed=8)[2]) != first


def test_impossible_quota_names_the_quota_and_the_counts(tmp_path: Path) -> None:
    body = SECTIONS.replace("{组织覆盖: 3, 地方实践案例/常州: 4}", "{组织覆盖: 30}")
    with pytest.raises(BlueprintError) as info:
        plan(tmp_path, body.replace("count: 20", "count: 40"))
    error = info.value
    assert "“组织覆盖”需要 30 道单选题，只有 9 道可选" in error.message
    assert error.line == 10 and error.path.endswith("exam.yaml")


def test_section_larger_than_the_pool(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as info:
        plan(tmp_path, SECTIONS.replace("count: 10", "count: 58"))
    assert "需要 58 道多选题，题库中符合条件的只有 57 道" in info.value.message


def test_unknown_topic_suggests_close_ones(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as info:
        plan(tmp_path, SECTIONS.replace("组织覆盖: 3", "组织覆: 3"))
    assert "“组织覆”在题库中不存在" in info.value.message and "组织覆盖" in info.value.hint


def test_exclusions_are_never_reused(tmp_path: Path) -> None:
    blueprint, banks, sections = plan(tmp_path)
    used = {c.question.id for s in sections for c in s.chosen}
    again = select(blueprint, banks, excluded=used)
    assert not used & {c.question.id for s in again for c in s.chosen}


@pytest.mark.parametrize(
    "body, needle, line",
    [
        (SECTIONS + "varients: 2\n", "未知字段 varients（是不是 variants？）", 17),
        (SECTIONS.replace("per_correct_option: 0.5", "majority: 1"), "未知的计分规则", 16),
        (SECTIONS.replace("count: 20", "count: 5"), "超过了本大题题数 5", 10),
        (SECTIONS.replace("type: single", "type: 判断"), "只能是 single 或 multiple", 7),
        (SECTIONS.replace("mean: 2.5", "mean: 4.5"), "difficulty.mean 应在 1–4 之间", 11),
        ("variants: 6\n" + SECTIONS, "variants 应为 1–4", 5),
    ],
)
def test_blueprint_errors_name_their_line(tmp_path: Path, body: str, needle: str, line: int) -> None:
    with pytest.raises(BlueprintError) as info:
        load_blueprint(write_blueprint(tmp_path, body))
    assert needle in info.value.message and info.value.line == line


def test_missing_bank_path_is_resolved_relative_to_the_blueprint(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "exam.yaml"
    path.parent.mkdir()
    path.write_text("exam: x\ntitle: t\nbanks:\n  - ../banks/none.yaml\n" + SECTIONS, encoding="utf-8")
    with pytest.raises(BlueprintError) as info:
        load_blueprint(path)
    assert "none.yaml" in info.value.message and str(tmp_path / "banks" / "none.yaml") in info.value.message
    assert info.value.line == 4


# -- variants ---------------------------------------------------------------


def _question(n_options: int, answer: str, pins: set[int] = frozenset()) -> Question:
    return Question(
        id="q", type="multiple" if len(answer) > 1 else "single", stem="题",
        options=[Option(f"选项{i}", pin=i in pins) for i in range(n_options)], answer=answer,
    )


@settings(max_examples=200)
@given(data=st.data())
def test_display_key_maps_back_to_the_bank_key(data) -> None:
    n = data.draw(st.integers(2, 8))
    answer = "".join(sorted(data.draw(st.sets(st.sampled_from(LETTERS[:n]), min_size=1))))
    pins = data.draw(st.sets(st.integers(0, n - 1)))
    question = _question(n, answer, pins)
    permutation = permute_options(question, random.Random(data.draw(st.integers())))
    assert sorted(permutation) == list(range(n))
    for pin in pins:
        assert permutation[pin] == pin  # pinned options keep their place
    key = key_in_display_letters(question, permutation)
    back = "".join(sorted(LETTERS[permutation[LETTERS.index(k)]] for k in key))
    assert back == answer
    assert len(key) == len(answer)


def test_variants_shuffle_within_sections_and_keep_numbering(tmp_path: Path) -> None:
    blueprint, _, sections = plan(tmp_path)
    variants = make_variants(sections, 4, blueprint.seed)
    assert [v.name for v in variants] == ["A", "B", "C", "D"]
    orders = [[item.id for item in v.items] for v in variants]
    assert len({tuple(o) for o in orders}) == 4
    for variant in variants:
        assert [i.number for i in variant.items] == list(range(1, 31))
        assert {i.section for i in variant.items[:20]} == {0} and {i.section for i in variant.items[20:]} == {1}
        assert sorted(i.id for i in variant.items) == sorted(orders[0])


def test_unshuffled_variant_a_keeps_bank_order(tmp_path: Path) -> None:
    blueprint, _, sections = plan(tmp_path)
    a, b = make_variants(sections, 2, blueprint.seed, shuffle=False)
    assert [i.id for i in a.items] == [c.question.id for s in sections for c in s.chosen]
    assert all(i.permutation == tuple(range(len(i.permutation))) and i.key == i.bank_key for i in a.items)
    assert [i.id for i in b.items] != [i.id for i in a.items]


# -- sheet geometry -----------------------------------------------------------


def _overlaps(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@pytest.mark.parametrize("shape, pages", [([(100, 5)], 1), ([(30, 4), (15, 5)], 1), ([(100, 4), (40, 5)], 2), ([(20, 8)], 1)])
def test_geometry_fits_the_frame_without_overlaps(shape, pages: int) -> None:
    layout = load_layout("a4-standard")
    geometry = compute_geometry(layout, shape, id_digits=10, variants=4)
    assert geometry.pages == pages
    w, h = geometry.frame_size
    header = geometry.header
    rects = [header.qr, header.absent, header.name_box, header.class_box, *header.variant_row, *header.id_write_in]
    rects += [r for column in header.id_grid for r in column]
    for page in range(1, pages + 1):
        page_rects = rects + [box for q in geometry.questions_on(page) for box in q.boxes]
        for x, y, bw, bh in page_rects:
            assert 0 < x and x + bw < w and 0 < y and y + bh < h
        for i, a in enumerate(page_rects):
            for b in page_rects[i + 1 :]:
                assert not _overlaps(a, b), (a, b)
    numbers = [q.number for q in geometry.questions]
    assert numbers == list(range(1, sum(c for c, _ in shape) + 1))
    assert [len(q.boxes) for q in geometry.questions] == [o for c, o in shape for _ in range(c)]


def test_geometry_survives_the_manifest_round_trip() -> None:
    geometry = compute_geometry(load_layout("a4-standard"), [(30, 4), (15, 5)], variants=2)
    back = SheetGeometry.from_json(geometry.to_json())
    assert back.to_json() == geometry.to_json()
    assert back.variants == ("A", "B") and back.id_digits == 10
