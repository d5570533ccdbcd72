"""Remedial papers: `papergen build --focus` leans toward a group's weak topics."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from papergen.cli import cli
from papergen.core.errors import BlueprintError
from papergen.exam.focus import BASE_WEIGHT, FocusPlan
from papergen.exam.manifest import read_manifest
from papergen.exam.selection import _weighted_sample
from papergen.grade.pipeline import grade
from papergen.render.build import build_exam
from papergen.report.data import load_exam_results
from papergen.report.focus import focus_plan
from papergen.sim.run import simulate
from tests.conftest import ROOT

BLUEPRINT = ROOT / "blueprints" / "2026-mock-03.yaml"


@pytest.fixture(scope="module")
def sitting(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("focus")
    build_exam(BLUEPRINT, base / "exam")
    simulate(base / "exam" / "exam.json", 12, base / "scans", seed=9, degrade="none", dpi=150)
    grade(base / "exam" / "exam.json", [base / "scans"], base / "results", workers=1)
    return base


def test_plan_uses_the_groups_error_rates_and_seen_questions(sitting: Path) -> None:
    plan = focus_plan([sitting / "results"])
    results = load_exam_results(sitting / "results")
    expected = {t.topic: t.error_rate for t in results.topic_statistics(results.stats_rows) if t.attempts}
    assert plan.error_rates == pytest.approx(expected)
    assert plan.seen == set(read_manifest(sitting / "exam" / "exam.json").questions)


def test_one_student_has_their_own_rates(sitting: Path) -> None:
    results = load_exam_results(sitting / "results")
    student = next(s for s in results.students if s.in_stats)
    plan = focus_plan([sitting / "results"], student=student.student_id)
    row = [s.student_id for s in results.students].index(student.student_id)
    mask = [i == row for i in range(len(results.students))]
    import numpy as np

    expected = {t.topic: t.error_rate for t in results.topic_statistics(np.array(mask)) if t.attempts}
    assert plan.error_rates == pytest.approx(expected)
    with pytest.raises(BlueprintError, match="找不到"):
        focus_plan([sitting / "results"], student="0000000000")
    with pytest.raises(BlueprintError, match="--roster"):
        focus_plan([sitting / "results"], klass="一班")


def test_weights_follow_error_rates() -> None:
    plan = FocusPlan("全体", {"甲": 0.8, "甲/子": 0.1, "乙": 0.0}, frozenset())
    assert plan.weight("甲/子/孙")[0] == pytest.approx(BASE_WEIGHT + 0.1)  # most specific level with data
    assert plan.weight("甲/其他")[0] == pytest.approx(BASE_WEIGHT + 0.8)
    assert plan.weight("乙")[0] == pytest.approx(BASE_WEIGHT)
    assert "错误率 80%" in plan.weight("甲")[1]


def test_weighted_sampling_is_deterministic_and_leans() -> None:
    items = list(range(10))
    weights = [5.0] * 5 + [0.05] * 5
    picks = Counter()
    for seed in range(400):
        chosen = _weighted_sample(items, 3, weights, random.Random(seed))
        assert len(set(chosen)) == 3
        picks.update(chosen)
    heavy = sum(picks[i] for i in range(5))
    assert heavy > 0.95 * sum(picks.values())
    assert _weighted_sample(items, 3, weights, random.Random(1)) == _weighted_sample(items, 3, weights, random.Random(1))


def test_remedial_build_never_repeats_and_records_why(sitting: Path, tmp_path: Path) -> None:
    out = tmp_path / "remedial"
    result = CliRunner().invoke(
        cli, ["build", str(BLUEPRINT), "-o", str(out), "--variants", "1", "--focus", str(sitting / "results")]
    )
    assert result.exit_code == 0, result.output
    manifest = read_manifest(out / "exam.json")
    seen = set(read_manifest(sitting / "exam" / "exam.json").questions)
    assert not seen & set(manifest.questions)
    reasons = [q.reason for q in manifest.questions.values()]
    assert all(r.startswith(("quota:", "focus:")) for r in reasons)
    assert any("错误率" in r for r in reasons)


def test_student_or_class_needs_focus(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["build", str(BLUEPRINT), "-o", str(tmp_path / "x"), "--student", "2026030001"])
    assert result.exit_code == 2 and "--focus" in result.output
