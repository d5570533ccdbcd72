"""Item analysis: hand-worked tables, numpy/scipy cross-checks, properties, degenerate and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from papergen.report.analysis import (
    ALPHA,
    KR20,
    OptionTally,
    TopicStats,
    competition_ranks,
    cronbach_alpha,
    difficulty_index,
    histogram,
    item_flags,
    kr20,
    option_counts,
    point_biserial,
    reliability,
    reliability_method,
    standard_error_of_measurement,
    summary,
    topic_statistics,
    upper_lower_discrimination,
)

nan = math.nan

# Six students, four right/wrong items (1 = right), used by several tests.
#            items 1  2  3  4    total
RIGHT_WRONG = np.array(
    [
        [1, 1, 1, 1],  # 4
        [1, 1, 1, 0],  # 3
        [1, 1, 0, 0],  # 2
        [1, 0, 1, 0],  # 2
        [0, 1, 0, 0],  # 1
        [0, 0, 0, 0],  # 0
    ],
    dtype=float,
)

# Four students, three items worth 2 points each (partial credit).
PARTIAL = np.array(
    [
        [2, 2, 1],  # 5
        [1, 2, 2],  # 5
        [1, 0, 1],  # 2
        [0, 0, 0],  # 0
    ],
    dtype=float,
)


def score_matrices(max_score: int = 3, min_side: int = 0) -> st.SearchStrategy[np.ndarray]:
    """Integer scores 0..max_score, as floats, shape (students, items)."""
    return hnp.arrays(
        float,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=min_side, max_side=8),
        elements=st.integers(0, max_score).map(float),
    )


# ---------------------------------------------------------------- difficulty_index


def test_difficulty_right_wrong_is_proportion_correct() -> None:
    # item 1: 4 of 6 right = 2/3; item 2: 4/6; item 3: 3/6; item 4: 1/6
    assert difficulty_index(RIGHT_WRONG, 1) == pytest.approx([2 / 3, 2 / 3, 1 / 2, 1 / 6])


def test_difficulty_partial_credit_ignores_nan_per_item() -> None:
    scores = np.array(
        [
            [2, 1, nan, nan],
            [1, 0, 3, nan],
            [0, 1, 1, nan],
            [1, nan, nan, nan],
        ]
    )
    # item 1: (2+1+0+1)/4 = 1 of 2 → 0.5
    # item 2: NaN left out, (1+0+1)/3 = 2/3 of 1 → 2/3
    # item 3: (3+1)/2 = 2 of 4 → 0.5
    # item 4: nobody scored → nan
    p = difficulty_index(scores, [2, 1, 4, 1])
    assert p[:3] == pytest.approx([0.5, 2 / 3, 0.5])
    assert math.isnan(p[3])


def test_difficulty_matches_nanmean() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 3, size=(30, 5)).astype(float)
    scores[rng.random(scores.shape) < 0.1] = nan
    assert difficulty_index(scores, 2.0) == pytest.approx(np.nanmean(scores, axis=0) / 2.0)


def test_difficulty_negative_marking_can_go_below_zero() -> None:
    # two students each lost 0.25 on a 1-point item: mean −0.25
    assert difficulty_index([[-0.25], [-0.25]], 1) == pytest.approx([-0.25])


def test_difficulty_no_students() -> None:
    p = difficulty_index(np.empty((0, 3)), 1)
    assert p.shape == (3,) and np.isnan(p).all()


@given(score_matrices())
def test_difficulty_is_a_proportion(scores: np.ndarray) -> None:
    p = difficulty_index(scores, 3)
    assert p.shape == (scores.shape[1],)
    observed = p[~np.isnan(p)]
    assert ((observed >= 0) & (observed <= 1)).all()


# ---------------------------------------------------------------- point_biserial


def test_point_biserial_by_hand() -> None:
    # Item 4 of RIGHT_WRONG: x = 1,0,0,0,0,0; totals y = 4,3,2,2,1,0.
    # Uncorrected: x̄ = 1/6, ȳ = 2.
    #   Σ(x−x̄)(y−ȳ) = Σxy − n·x̄·ȳ = 4 − 6·(1/6)·2 = 2
    #   Σ(x−x̄)² = 1 − 6·(1/36) = 5/6;  Σ(y−ȳ)² = 4+1+0+0+1+4 = 10
    #   r = 2 / √(5/6 · 10) = 2 / √(25/3) = 2√3/5 ≈ 0.6928
    # Corrected: rest = y − x = 3,3,2,2,1,0; mean 11/6.
    #   Σxy − n·x̄·ȳ = 3 − 11/6 = 7/6
    #   Σ(y−ȳ)² = 9+9+4+4+1+0 − 6·(11/6)² = 27 − 121/6 = 41/6
    #   r = (7/6) / √(5/6 · 41/6) = 7/√205 ≈ 0.4889
    assert point_biserial(RIGHT_WRONG, corrected=False)[3] == pytest.approx(2 * math.sqrt(3) / 5)
    assert point_biserial(RIGHT_WRONG)[3] == pytest.approx(7 / math.sqrt(205))


def test_point_biserial_negative_when_weak_students_get_it_right() -> None:
    # item 2 right only for the two weakest (by items 1, 3, 4): rest 3,3,0,0 vs x 0,0,1,1 → r = −1
    scores = np.array([[1, 0, 1, 1], [1, 0, 1, 1], [0, 1, 0, 0], [0, 1, 0, 0]], dtype=float)
    assert point_biserial(scores)[1] == pytest.approx(-1.0)


def test_point_biserial_matches_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(7)
    ability = rng.normal(size=40)
    scores = (ability[:, None] + rng.normal(size=(40, 6)) > 0).astype(float)
    totals = scores.sum(axis=1)
    for corrected in (False, True):
        r = point_biserial(scores, corrected=corrected)
        for item in range(scores.shape[1]):
            y = totals - scores[:, item] if corrected else totals
            assert r[item] == pytest.approx(stats.pearsonr(scores[:, item], y)[0])
            assert r[item] == pytest.approx(stats.pointbiserialr(scores[:, item], y)[0])


def test_point_biserial_partial_credit_matches_corrcoef() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, size=(25, 4)).astype(float)
    rest = scores.sum(axis=1) - scores[:, 2]
    assert point_biserial(scores)[2] == pytest.approx(np.corrcoef(scores[:, 2], rest)[0, 1])


def test_point_biserial_leaves_out_only_students_not_scored_on_that_item() -> None:
    scores = RIGHT_WRONG.copy()
    scores[5, 3] = nan  # student 6 not scored on item 4; the NaN counts as 0 in others' rests
    # Item 4: students 1–5 only, x = 1,0,0,0,0, rest = 3,3,2,2,1.
    expected = np.corrcoef([1, 0, 0, 0, 0], [3, 3, 2, 2, 1])[0, 1]
    r = point_biserial(scores)
    assert r[3] == pytest.approx(expected)
    # Item 1 keeps all six students: student 6's rest is 0 + 0 + 0 (NaN → 0).
    assert r[0] == pytest.approx(point_biserial(RIGHT_WRONG)[0])


def test_point_biserial_undefined_cases_are_nan() -> None:
    one_student = point_biserial([[1, 0, 1]])
    assert np.isnan(one_student).all()
    everyone_right = np.array([[1, 1], [1, 0], [1, 1]], dtype=float)
    assert math.isnan(point_biserial(everyone_right)[0])  # the item has no spread
    same_rest = np.array([[1, 1], [0, 1], [1, 1]], dtype=float)
    assert math.isnan(point_biserial(same_rest)[0])  # the rest score has no spread


def test_point_biserial_rest_equal_up_to_rounding_is_no_spread() -> None:
    # rests 0.1 + 0.2 and 0.3 differ in floating point but are the same score
    scores = np.array([[1, 0.1, 0.2], [0, 0.3, 0.0]])
    assert math.isnan(point_biserial(scores)[0])


@given(score_matrices(max_score=2))
def test_point_biserial_is_a_correlation(scores: np.ndarray) -> None:
    r = point_biserial(scores)
    observed = r[~np.isnan(r)]
    assert r.shape == (scores.shape[1],)
    assert ((observed >= -1) & (observed <= 1)).all()


# ---------------------------------------------------------------- upper_lower_discrimination


def test_upper_lower_by_hand() -> None:
    # 6 students × 27 % = 1.62 → 2 per group. Totals 4,3,2,2,1,0:
    # upper = students 1, 2; lower = students 5, 6.
    # item 1: upper 1,1 → 1;   lower 0,0 → 0   → D = 1
    # item 2: upper 1,1 → 1;   lower 1,0 → 0.5 → D = 0.5
    # item 3: upper 1,1 → 1;   lower 0,0 → 0   → D = 1
    # item 4: upper 1,0 → 0.5; lower 0,0 → 0   → D = 0.5
    assert upper_lower_discrimination(RIGHT_WRONG, 1) == pytest.approx([1, 0.5, 1, 0.5])


def test_upper_lower_uses_max_points() -> None:
    # PARTIAL with fraction 0.5: 2 per group. Totals 5,5,2,0 → upper rows 1,2, lower rows 3,4.
    # item 1: upper (2+1)/2 = 1.5 → 0.75; lower (1+0)/2 = 0.5 → 0.25; D = 0.5
    # item 2: upper (2+2)/2 = 2 → 1;      lower 0 → 0;                D = 1
    # item 3: upper (1+2)/2 = 1.5 → 0.75; lower (1+0)/2 → 0.25;       D = 0.5
    assert upper_lower_discrimination(PARTIAL, 2, fraction=0.5) == pytest.approx([0.5, 1, 0.5])


def test_upper_lower_ties_keep_row_order() -> None:
    # Totals 1, 1, 2, 0; fraction 0.5 → 2 per group. Highest first, ties in row order:
    # row 3 (2), row 1 (1), row 2 (1), row 4 (0) → upper rows 3, 1; lower rows 2, 4.
    scores = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=float)
    # item 1: upper 1,1 → 1; lower 0,0 → 0 → D = 1.  item 2: upper 1,0; lower 1,0 → D = 0
    assert upper_lower_discrimination(scores, 1, fraction=0.5) == pytest.approx([1, 0])
    # Swapping the tied rows swaps which of them is "higher".
    assert upper_lower_discrimination(scores[[1, 0, 2, 3]], 1, fraction=0.5) == pytest.approx([0, 1])


def test_upper_lower_group_size_rounds_half_up() -> None:
    # 50 students × 0.27 = 13.5 → 14 per group. Item 1 spreads the totals (0, 2, …, 98);
    # item 2 is right only for the student ranked 14th (row 36: totals 98…72 are rows 49…36),
    # so D(item 2) = 1/14 − 0 with groups of 14, and 0 with groups of 13.
    scores = np.zeros((50, 2))
    scores[:, 0] = np.arange(50) * 2
    scores[36, 1] = 1
    d = upper_lower_discrimination(scores, [98, 1])
    assert d[1] == pytest.approx(1 / 14)


def test_upper_lower_at_least_one_student_per_group() -> None:
    # 2 × 0.27 = 0.54 → rounds to 1
    assert upper_lower_discrimination([[1.0], [0.0]], 1) == pytest.approx([1.0])


def test_upper_lower_undefined_cases_are_nan() -> None:
    assert np.isnan(upper_lower_discrimination([[1.0, 0.0]], 1)).all()  # one student
    assert np.isnan(upper_lower_discrimination([[1.0, 0.0], [0.0, 1.0]], 1)).all()  # equal totals


@given(score_matrices(), st.floats(0.05, 0.5))
def test_upper_lower_is_a_difference_of_proportions(scores: np.ndarray, fraction: float) -> None:
    d = upper_lower_discrimination(scores, 3, fraction=fraction)
    observed = d[~np.isnan(d)]
    assert ((observed >= -1) & (observed <= 1)).all()


# ---------------------------------------------------------------- reliability


def test_kr20_by_hand() -> None:
    # RIGHT_WRONG: k = 4, p = 4/6, 4/6, 3/6, 1/6
    # p·q = 2/9, 2/9, 1/4, 5/36 → Σ = (8 + 8 + 9 + 5)/36 = 5/6
    # totals 4,3,2,2,1,0: mean 2, Σ(x−2)² = 10, population variance 10/6 = 5/3
    # KR-20 = 4/3 · (1 − (5/6)/(5/3)) = 4/3 · 1/2 = 2/3
    # (Dividing by the sample variance 10/5 = 2 instead would give 4/3 · (1 − 5/12) = 7/9.)
    assert kr20(RIGHT_WRONG) == pytest.approx(2 / 3)


def test_cronbach_alpha_by_hand() -> None:
    # PARTIAL: item variances (population): item 1 = 2,1,1,0 → mean 1, Σd² = 2 → 1/2
    #                                       item 2 = 2,2,0,0 → Σd² = 4 → 1
    #                                       item 3 = 1,2,1,0 → Σd² = 2 → 1/2;  Σ = 2
    # totals 5,5,2,0: mean 3, Σd² = 4+4+1+9 = 18 → 18/4 = 9/2
    # α = 3/2 · (1 − 2/(9/2)) = 3/2 · 5/9 = 5/6
    assert cronbach_alpha(PARTIAL) == pytest.approx(5 / 6)


def test_cronbach_alpha_matches_covariance_matrix_form() -> None:
    # α = k/(k−1) · (1 − trace(C)/ΣC), C the item covariance matrix (any ddof)
    rng = np.random.default_rng(11)
    ability = rng.normal(size=60)
    scores = np.clip(np.round(ability[:, None] + rng.normal(size=(60, 5)) + 2), 0, 4)
    cov = np.cov(scores, rowvar=False)
    k = scores.shape[1]
    assert cronbach_alpha(scores) == pytest.approx(k / (k - 1) * (1 - np.trace(cov) / cov.sum()))


def test_kr20_equals_alpha_on_right_wrong_items() -> None:
    assert kr20(RIGHT_WRONG) == pytest.approx(cronbach_alpha(RIGHT_WRONG))


def test_reliability_drops_students_with_any_nan() -> None:
    with_gap = np.vstack([RIGHT_WRONG, [1, nan, 0, 1]])
    assert kr20(with_gap) == pytest.approx(2 / 3)
    assert cronbach_alpha(np.vstack([PARTIAL, [nan, 1, 1]])) == pytest.approx(5 / 6)


@pytest.mark.parametrize("function", [kr20, cronbach_alpha])
def test_reliability_undefined_cases_are_nan(function) -> None:
    assert math.isnan(function(RIGHT_WRONG[:, :1]))  # one item: k/(k−1) undefined
    assert math.isnan(function(RIGHT_WRONG[:1]))  # one student
    assert math.isnan(function([[1.0, 0.0], [0.0, 1.0]]))  # equal totals
    assert math.isnan(function([[nan, 1.0], [1.0, nan]]))  # no complete student
    assert math.isnan(function(np.empty((0, 3))))


def test_kr20_rejects_partial_credit() -> None:
    with pytest.raises(ValueError, match="item_scores.*0 or 1"):
        kr20(PARTIAL)


def test_reliability_picks_kr20_for_right_wrong_items() -> None:
    # each item 0 or 2 of 2: KR-20 on score/2, the RIGHT_WRONG table → 2/3
    doubled = RIGHT_WRONG * 2
    assert reliability_method(doubled, 2) == KR20
    assert reliability(doubled, 2) == pytest.approx(2 / 3)


def test_reliability_picks_alpha_for_partial_credit() -> None:
    assert reliability_method(PARTIAL, 2) == ALPHA
    assert reliability(PARTIAL, 2) == pytest.approx(5 / 6)


def test_reliability_uses_alpha_on_raw_points_when_full_marks_differ() -> None:
    # right/wrong items worth 1, 1, 1, 3 points: the report's total weights item 4 by 3,
    # so α on raw points, not KR-20 on 0/1
    weighted = RIGHT_WRONG * [1, 1, 1, 3]
    assert reliability_method(weighted, [1, 1, 1, 3]) == ALPHA
    assert reliability(weighted, [1, 1, 1, 3]) == pytest.approx(cronbach_alpha(weighted))
    assert reliability(weighted, [1, 1, 1, 3]) != pytest.approx(kr20(RIGHT_WRONG))


@given(score_matrices(min_side=2))
def test_reliability_at_most_one(scores: np.ndarray) -> None:
    value = reliability(scores, 3)
    assert math.isnan(value) or value <= 1


@given(hnp.arrays(float, st.tuples(st.integers(2, 10), st.integers(2, 6)), elements=st.sampled_from([0.0, 1.0])))
def test_kr20_equals_alpha_property(scores: np.ndarray) -> None:
    a, b = kr20(scores), cronbach_alpha(scores)
    assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


def test_identical_items_give_reliability_one() -> None:
    column = np.array([[0.0], [1.0], [1.0], [0.0], [1.0]])
    assert cronbach_alpha(np.hstack([column] * 3)) == pytest.approx(1.0)


# ---------------------------------------------------------------- SEM and summary


def test_sem_by_hand() -> None:
    # totals 4,3,2,2,1,0: Σ(x−2)² = 10, sample SD = √(10/5) = √2
    # SEM = √2 · √(1 − 2/3) = √(2/3) ≈ 0.8165
    assert standard_error_of_measurement([4, 3, 2, 2, 1, 0, nan], 2 / 3) == pytest.approx(math.sqrt(2 / 3))


def test_sem_perfect_reliability_is_zero() -> None:
    assert standard_error_of_measurement([1, 2, 3], 1.0) == 0.0


def test_sem_undefined_cases_are_nan() -> None:
    assert math.isnan(standard_error_of_measurement([5.0], 0.8))  # one total
    assert math.isnan(standard_error_of_measurement([1, 2, 3], nan))
    assert math.isnan(standard_error_of_measurement([1, 2, 3], -0.2))  # negative reliability


def test_summary_by_hand() -> None:
    # totals 4,3,2,2,1,0 (NaN left out): mean 12/6 = 2, median (2+2)/2 = 2, sample SD √2
    result = summary([4, 3, 2, 2, 1, 0, nan])
    assert result == {"n": 6, "mean": 2.0, "median": 2.0, "sd": pytest.approx(math.sqrt(2)), "min": 0.0, "max": 4.0}
    assert isinstance(result["n"], int)


def test_summary_matches_numpy() -> None:
    totals = np.random.default_rng(5).uniform(0, 100, size=37)
    result = summary(totals)
    assert result["mean"] == pytest.approx(np.mean(totals))
    assert result["median"] == pytest.approx(np.median(totals))
    assert result["sd"] == pytest.approx(np.std(totals, ddof=1))


def test_summary_degenerate() -> None:
    one = summary([7.0])
    assert one["n"] == 1 and one["mean"] == 7.0 and math.isnan(one["sd"])
    none = summary([nan, nan])
    assert none["n"] == 0 and all(math.isnan(none[key]) for key in ("mean", "median", "sd", "min", "max"))


# ---------------------------------------------------------------- option_counts


def test_option_counts_by_hand() -> None:
    tally = option_counts(["A", "AC", "", None, "B", "C", "A"], 4)
    # A: "A", "AC", "A" = 3; B: 1; C: "AC", "C" = 2; D: 0
    assert tally.counts.tolist() == [3, 1, 2, 0]
    assert (tally.blank, tally.multiple, tally.flagged, tally.n) == (1, 1, 1, 7)
    assert tally.answered == 5


def test_option_counts_empty() -> None:
    tally = option_counts([], 3)
    assert tally.counts.tolist() == [0, 0, 0] and tally.n == 0 and tally.answered == 0


@pytest.mark.parametrize(
    "choices, n_options, name",
    [
        (["A", "E"], 4, "choices"),  # no option E on a 4-option item
        (["a"], 4, "choices"),  # letters are upper case, as in the bank
        ([1], 4, "choices"),
        ("AB", 4, "choices"),  # one string, not one answer per student
        (["A"], 1, "n_options"),
        (["A"], 9, "n_options"),
        (["A"], True, "n_options"),
    ],
)
def test_option_counts_rejects(choices, n_options, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        option_counts(choices, n_options)


# ---------------------------------------------------------------- competition_ranks


def test_competition_ranks_by_hand() -> None:
    # 90, 90 share 1st; 85, 85 share 3rd (2nd skipped); 70 is 5th; NaN gets 0
    ranks = competition_ranks([90, 85, 85, 70, nan, 90])
    assert ranks.tolist() == [1, 3, 3, 5, 0, 1]
    assert ranks.dtype.kind == "i"


def test_competition_ranks_tie_totals_equal_up_to_rounding() -> None:
    assert competition_ranks([0.1 + 0.2, 0.3, 0.2]).tolist() == [1, 1, 3]


def test_competition_ranks_match_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    totals = np.random.default_rng(2).integers(0, 20, size=50).astype(float)
    expected = stats.rankdata(-totals, method="min")
    assert competition_ranks(totals).tolist() == expected.astype(int).tolist()


totals_with_gaps = hnp.arrays(
    float, st.integers(0, 30), elements=st.one_of(st.integers(0, 10).map(lambda x: x / 2), st.just(nan))
)


@given(totals_with_gaps, st.randoms(use_true_random=False))
def test_competition_ranks_follow_the_students(totals: np.ndarray, random) -> None:
    order = list(range(totals.size))
    random.shuffle(order)
    assert competition_ranks(totals[order]).tolist() == competition_ranks(totals)[order].tolist()


@given(totals_with_gaps)
def test_competition_ranks_are_1224(totals: np.ndarray) -> None:
    ranks = competition_ranks(totals)
    scored = ~np.isnan(totals)
    assert (ranks[~scored] == 0).all()
    for total, rank in zip(totals[scored], ranks[scored]):
        assert rank == 1 + np.sum(totals[scored] > total)
    if scored.any():
        assert ranks[scored].min() == 1


# ---------------------------------------------------------------- histogram


def test_histogram_by_hand() -> None:
    # width 100/10 = 10; bars [0,10) [10,20) … [90,100]
    # 0, 9.5 → bar 1; 10 → bar 2; 55 → bar 6; 99, 100 → bar 10 (full marks in the last bar)
    edges, counts = histogram([0, 9.5, 10, 55, 100, 99, nan], 100)
    assert edges.tolist() == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert counts.tolist() == [2, 1, 0, 0, 0, 1, 0, 0, 0, 2]


def test_histogram_matches_numpy_on_even_bars() -> None:
    totals = np.random.default_rng(4).integers(0, 151, size=200).astype(float)
    edges, counts = histogram(totals, 150)
    assert edges.tolist() == list(range(0, 151, 15))  # 150/10 = 15 exactly
    assert counts.tolist() == np.histogram(totals, bins=10, range=(0, 150))[0].tolist()


def test_histogram_round_width_and_short_last_bar() -> None:
    # 37/10 = 3.7 → next 1-2-5 width is 5: 0, 5, …, 35 then 37
    edges, counts = histogram([36, 37, 4.5], 37)
    assert edges.tolist() == [0, 5, 10, 15, 20, 25, 30, 35, 37]
    assert counts.tolist() == [1, 0, 0, 0, 0, 0, 0, 2]


def test_histogram_width_at_least_one_point() -> None:
    # 5/10 = 0.5 → width 1: bars [0,1) [1,2) … [4,5]
    edges, counts = histogram([0, 1, 4.5, 5], 5, bins=10)
    assert edges.tolist() == [0, 1, 2, 3, 4, 5]
    assert counts.tolist() == [1, 1, 0, 0, 2]


def test_histogram_negative_totals_get_bars_below_zero() -> None:
    edges, counts = histogram([-0.5, -10.5, 3], 100)
    assert edges[:4].tolist() == [-20, -10, 0, 10] and edges[-1] == 100
    assert counts[:3].tolist() == [1, 1, 1]


def test_histogram_no_totals() -> None:
    edges, counts = histogram([nan], 50, bins=5)
    assert edges.tolist() == [0, 10, 20, 30, 40, 50] and counts.sum() == 0


@given(totals_with_gaps, st.integers(1, 12), st.sampled_from([5.0, 7.5, 10.0, 37.0]))
def test_histogram_counts_every_total_once(totals: np.ndarray, bins: int, max_total: float) -> None:
    totals = np.minimum(totals, max_total)
    edges, counts = histogram(totals, max_total, bins=bins)
    assert counts.sum() == np.count_nonzero(~np.isnan(totals))
    assert len(counts) <= bins
    assert edges[0] == 0 and edges[-1] == max_total
    assert (np.diff(edges) > 0).all()


@pytest.mark.parametrize(
    "totals, max_total, bins, name",
    [
        ([101], 100, 10, "totals"),
        ([[1, 2]], 100, 10, "totals"),
        ([1], 0, 10, "max_total"),
        ([1], nan, 10, "max_total"),
        ([1], 100, 0, "bins"),
        ([1], 100, 2.5, "bins"),
    ],
)
def test_histogram_rejects(totals, max_total, bins, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        histogram(totals, max_total, bins=bins)


# ---------------------------------------------------------------- item_flags


def tally(counts: list[int], blank: int = 0, flagged: int = 0) -> OptionTally:
    return OptionTally(np.array(counts), blank, 0, flagged, sum(counts) + blank + flagged)


def test_item_flags_good_item_has_none() -> None:
    assert item_flags(0.6, 0.4, tally([10, 3, 4, 3]), [0]) == []


def test_item_flags_negative_discrimination() -> None:
    flags = item_flags(0.6, -0.15, tally([10, 3, 4, 3]), [0])
    assert any("区分度为负" in flag for flag in flags)


def test_item_flags_too_easy_and_too_hard() -> None:
    assert any("过易" in flag for flag in item_flags(0.95, 0.3, tally([19, 1, 1, 1]), [0]))
    assert any("过难" in flag for flag in item_flags(0.15, 0.3, tally([3, 6, 6, 5]), [0]))
    # the limits themselves are not flagged: p > 0.9 and p < 0.2
    assert item_flags(0.9, 0.3, tally([18, 1, 1, 0]), [0]) == ["选项 D 无人选择，干扰项无效"]
    assert item_flags(0.2, 0.3, tally([4, 4, 4, 4]), [0]) == []


def test_item_flags_unused_distractor() -> None:
    flags = item_flags(0.6, 0.4, tally([12, 5, 0, 3]), [0])
    assert flags == ["选项 C 无人选择，干扰项无效"]


def test_item_flags_distractor_beats_key() -> None:
    flags = item_flags(0.3, 0.1, tally([6, 9, 3, 2]), [0])
    assert flags == ["选项 B 的选择人数多于正确答案，可能有歧义或答案有误"]


def test_item_flags_multiple_answer_key_uses_its_least_chosen_option() -> None:
    # key A, C; C chosen 4 times, distractor D 5 times → flag D; B (2) is fine
    flags = item_flags(0.5, 0.3, tally([12, 2, 4, 5]), [0, 2])
    assert flags == ["选项 D 的选择人数多于正确答案，可能有歧义或答案有误"]


def test_item_flags_order_most_serious_first() -> None:
    flags = item_flags(0.1, -0.2, tally([2, 15, 1, 0]), [0])
    prefixes = ["区分度为负", "选项 B 的选择人数多于正确答案", "题目过难", "选项 D 无人选择"]
    assert len(flags) == len(prefixes)
    assert all(flag.startswith(prefix) for flag, prefix in zip(flags, prefixes))


def test_item_flags_no_answers_no_option_flags_and_nan_no_flags() -> None:
    assert item_flags(nan, nan, tally([0, 0, 0, 0], blank=3, flagged=2), [1]) == []


def test_item_flags_from_option_counts() -> None:
    flags = item_flags(0.5, 0.2, option_counts(["A", "B", "A", "B", "B", ""], 3), [0])
    assert "选项 B 的选择人数多于正确答案，可能有歧义或答案有误" in flags
    assert "选项 C 无人选择，干扰项无效" in flags


@pytest.mark.parametrize(
    "args, name",
    [
        (("0.5", 0.2, tally([1, 1]), [0]), "p"),
        ((0.5, None, tally([1, 1]), [0]), "discrimination_corrected"),
        ((0.5, 0.2, [1, 1], [0]), "option_tally"),
        ((0.5, 0.2, tally([1, 1]), [2]), "key_indices"),
        ((0.5, 0.2, tally([1, 1]), []), "key_indices"),
        ((0.5, 0.2, tally([1, 1]), "A"), "key_indices"),
        ((0.5, 0.2, tally([1, 1]), [0, 0]), "key_indices"),
    ],
)
def test_item_flags_rejects(args, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        item_flags(*args)


# ---------------------------------------------------------------- shared validation


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: difficulty_index([1, 0, 1], 1), "item_scores"),  # 1-D
        (lambda: difficulty_index([["a", "b"]], 1), "item_scores"),
        (lambda: difficulty_index([[None, 1]], 1), "item_scores"),  # NaN, not None, marks a gap
        (lambda: difficulty_index([[math.inf, 1]], 1), "item_scores"),
        (lambda: difficulty_index([[2, 1]], 1), "item_scores"),  # more than full marks
        (lambda: difficulty_index([[1, 1]], [1, 1, 1]), "max_points"),
        (lambda: difficulty_index([[0, 0]], 0), "max_points"),
        (lambda: difficulty_index([[0, 0]], [1, -1]), "max_points"),
        (lambda: point_biserial([[1, 0]], corrected="yes"), "corrected"),
        (lambda: upper_lower_discrimination([[1, 0]], 1, fraction=0), "fraction"),
        (lambda: upper_lower_discrimination([[1, 0]], 1, fraction=0.6), "fraction"),
        (lambda: reliability([[3, 0]], 2), "item_scores"),
        (lambda: cronbach_alpha(np.zeros((2, 2, 2))), "item_scores"),
        (lambda: standard_error_of_measurement([1, 2], 1.5), "reliability"),
        (lambda: standard_error_of_measurement([[1, 2]], 0.5), "total_scores"),
        (lambda: summary("12"), "total_scores"),
        (lambda: competition_ranks([[1, 2]]), "totals"),
    ],
)
def test_invalid_input_names_the_parameter(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()


@settings(max_examples=50)
@given(score_matrices(min_side=1))
def test_functions_never_raise_on_valid_data(scores: np.ndarray) -> None:
    totals = np.nansum(scores, axis=1)
    difficulty_index(scores, 3)
    point_biserial(scores)
    upper_lower_discrimination(scores, 3)
    r = reliability(scores, 3)
    standard_error_of_measurement(totals, r)
    summary(totals)
    competition_ranks(totals)
    histogram(totals, 3 * scores.shape[1])


# Three items: "A/x" (2 points), "A/y" (1 point), "B" (4 points); NaN = not scored.
TOPICS = ["A/x", "A/y", "B"]
TOPIC_POINTS = [2, 1, 4]
TOPIC_SCORES = np.array(
    [
        [2, 1, 4],  # full marks everywhere
        [1, 0, nan],  # two short of full marks, item 3 under review
        [nan, 1, 0],
    ],
    dtype=float,
)


def test_topic_statistics_by_hand() -> None:
    stats = topic_statistics(TOPIC_SCORES, TOPICS, TOPIC_POINTS)
    # every prefix, in order of first appearance, parents before their children
    assert [(t.topic, t.level, t.questions) for t in stats] == [("A", 1, 2), ("A/x", 2, 1), ("A/y", 2, 1), ("B", 1, 1)]
    by_topic = {t.topic: t for t in stats}
    # A: 5 scored answers, 2 without full marks; 5 points of 7 possible
    assert by_topic["A"] == TopicStats("A", 1, 2, 5, pytest.approx(2 / 5), pytest.approx(5 / 7))
    assert by_topic["A/x"] == TopicStats("A/x", 2, 1, 2, 0.5, 0.75)
    assert by_topic["A/y"] == TopicStats("A/y", 2, 1, 3, pytest.approx(1 / 3), pytest.approx(2 / 3))
    assert by_topic["B"] == TopicStats("B", 1, 1, 2, 0.5, 0.5)


def test_topic_statistics_of_nobody_or_nothing_scored_are_nan() -> None:
    for scores in (TOPIC_SCORES[:0], TOPIC_SCORES[1:2, 2:3]):
        topics = TOPICS if scores.shape[1] == 3 else ["B"]
        points = TOPIC_POINTS if scores.shape[1] == 3 else [4]
        for t in topic_statistics(scores, topics, points):
            assert t.attempts == 0 and math.isnan(t.error_rate) and math.isnan(t.score_rate)


def test_topic_statistics_checks_its_input() -> None:
    with pytest.raises(ValueError, match="topics"):
        topic_statistics(TOPIC_SCORES, TOPICS[:2], TOPIC_POINTS)
    with pytest.raises(ValueError, match="max_points"):
        topic_statistics(TOPIC_SCORES, TOPICS, [2, 1])
    with pytest.raises(ValueError, match="item_scores"):
        topic_statistics(TOPIC_SCORES[0], TOPICS, TOPIC_POINTS)


# ---------------------------------------------------------------- AnswerMatrix


def test_answer_matrix_holds_the_answers_and_tallies_them_like_option_counts() -> None:
    from papergen.report.analysis import AnswerMatrix, tally_answers

    rows = [["A", "AC", None], ["", "B", "D"], ["A", None, "D"], ["C", "AC", ""]]
    answers = AnswerMatrix.from_rows(rows, 3)
    assert len(answers) == 4 and answers.shape == (4, 3)
    assert [answers[i] for i in range(4)] == rows
    assert answers.is_blank().tolist() == [[False, False, False], [True, False, False], [False] * 3, [False, False, True]]
    for item in range(3):
        column = [row[item] for row in rows]
        expected, counted = option_counts(column, 4), tally_answers(answers.counts(item), 4)
        assert counted.counts.tolist() == expected.counts.tolist()
        assert (counted.blank, counted.multiple, counted.flagged, counted.n) == (
            expected.blank, expected.multiple, expected.flagged, expected.n)
    assert answers.counts(0, np.array([0, 2])) == {"A": 2}
    assert answers.take(np.array([False, True, False, True]))[1] == ["C", "AC", ""]
    with pytest.raises(ValueError, match="choices"):
        tally_answers({"E": 1}, 4)
