"""Item analysis for score reports: classical test theory on a score matrix.

Pure functions on numpy arrays; nothing here reads the store or formats text
beyond the Chinese item flags.

Conventions shared by every function:

- ``item_scores`` has shape (n_students, n_items) and holds the points each
  student earned on each item. ``NaN`` means "not scored" (a flagged
  question, or a sheet whose variant is unknown).
- A student's total is the row sum with ``NaN`` counted as 0, the same
  provisional total ``results.py`` shows for a sheet awaiting review.
- Per-item statistics ignore the students whose score on *that* item is
  ``NaN``. Reliability needs complete response vectors, so it drops every
  student with any ``NaN`` (listwise): counting a flagged answer as 0 would
  invent a wrong answer and bias every covariance.
- Reliability uses population variances (ddof=0) for items and totals alike.
  The ratio of two variances with the same ddof does not depend on ddof, so
  KR-20 on 0/1 items equals Cronbach's α exactly. (Some textbooks divide the
  items' ``p·q`` by the *sample* variance of the totals, which mixes the two
  and gives a slightly higher value.) The spread shown to people — ``sd`` in
  ``summary`` and the SD inside the SEM — is the sample SD (ddof=1).
- A statistic that is undefined for valid data (fewer than 2 students, no
  spread) is ``nan``; only invalid input raises, with a ``ValueError`` that
  names the parameter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from papergen.bank.model import LETTERS, MAX_OPTIONS, MIN_OPTIONS

#: Totals are compared after rounding to this many decimals, so sums that
#: differ only by floating-point rounding (thirds of a point under the
#: proportional rule) tie instead of ranking apart or changing histogram bar.
TOTAL_DECIMALS = 6

#: Share of students in each of the upper and lower groups (Kelley's 27 %).
DEFAULT_GROUP_FRACTION = 0.27

#: Difficulty index above which an item is flagged as too easy, below which too hard.
EASY_P = 0.9
HARD_P = 0.2

#: Names ``reliability_method`` returns (the names of the functions used).
KR20 = "kr20"
ALPHA = "alpha"


# ---------------------------------------------------------------- validation


def _numeric_array(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value)
    # Checked before converting: np.asarray(["1"], dtype=float) would quietly
    # accept strings, and an object array with None is not a NaN.
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers (NaN for missing), got dtype {array.dtype}")
    array = array.astype(float)
    if np.isinf(array).any():
        raise ValueError(f"{name} must not contain infinity (use NaN for a missing value)")
    return array


def _score_matrix(item_scores: Any) -> np.ndarray:
    scores = _numeric_array(item_scores, "item_scores")
    if scores.ndim != 2:
        raise ValueError(f"item_scores must be 2-D (n_students, n_items), got shape {scores.shape}")
    return scores


def _max_points(max_points: Any, scores: np.ndarray) -> np.ndarray:
    """``max_points`` as shape (n_items,); also checks no score exceeds it."""
    n_items = scores.shape[1]
    points = _numeric_array(max_points, "max_points")
    if points.ndim == 0:
        points = np.full(n_items, float(points))
    elif points.shape != (n_items,):
        raise ValueError(f"max_points must be a number or have shape ({n_items},), got shape {points.shape}")
    if not (np.isfinite(points) & (points > 0)).all():
        raise ValueError(f"max_points must be positive, got {points.tolist()}")
    # Negative scores are legitimate (negative marking); more than full marks is not.
    over = np.argwhere(scores > points)
    if over.size:
        student, item = over[0]
        raise ValueError(
            f"item_scores[{student}, {item}] = {scores[student, item]:g} exceeds max_points {points[item]:g}"
        )
    return points


def _totals(value: Any, name: str) -> np.ndarray:
    totals = _numeric_array(value, name)
    if totals.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_students,), got shape {totals.shape}")
    return totals


def _real(value: Any, name: str) -> float:
    """A real number (NaN allowed: it means "not computed")."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if math.isinf(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _count(value: Any, name: str, low: int, high: float = math.inf) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        bound = f"from {low} to {high}" if high != math.inf else f"at least {low}"
        raise ValueError(f"{name} must be a whole number {bound}, got {value!r}")
    return int(value)


# ---------------------------------------------------------------- helpers


def _column_means(scores: np.ndarray) -> np.ndarray:
    """Mean of each column ignoring NaN; NaN for a column with no value. Shape (n_items,)."""
    counts = (~np.isnan(scores)).sum(axis=0)
    sums = np.nansum(scores, axis=0)
    # np.nanmean would warn on an all-NaN column; an empty column is ordinary here.
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def _row_totals(scores: np.ndarray) -> np.ndarray:
    return np.nansum(scores, axis=1)


def _has_spread(values: np.ndarray) -> bool:
    # max != min rather than a variance threshold: exact for any scale of score.
    return values.size >= 2 and values.max() != values.min()


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r of two 1-D arrays of equal length; NaN when either has no spread."""
    if not (_has_spread(x) and _has_spread(y)):
        return math.nan
    dx = x - x.mean()
    dy = y - y.mean()
    r = (dx @ dy) / math.sqrt((dx @ dx) * (dy @ dy))
    return float(np.clip(r, -1.0, 1.0))  # rounding can step just past ±1


def _complete_rows(scores: np.ndarray) -> np.ndarray:
    return scores[~np.isnan(scores).any(axis=1)]


# ---------------------------------------------------------------- item statistics


def difficulty_index(item_scores: Any, max_points: Any) -> np.ndarray:
    """Classical difficulty index p: mean score over full marks, per item.

    For 0/1 items this is the proportion who answered correctly; higher p
    means an easier item.

    Parameters
    ----------
    item_scores : array_like, shape (n_students, n_items)
        Points earned; NaN (not scored) is left out of that item's mean.
    max_points : float or array_like, shape (n_items,)
        Full marks of each item (positive). No score may exceed it.

    Returns
    -------
    ndarray, shape (n_items,)
        p in [0, 1] when scores are in [0, max_points] (below 0 is possible
        under negative marking); NaN for an item nobody was scored on.
    """
    scores = _score_matrix(item_scores)
    points = _max_points(max_points, scores)
    return _column_means(scores) / points


def point_biserial(item_scores: Any, corrected: bool = True) -> np.ndarray:
    """Correlation of each item score with the total (item discrimination).

    For 0/1 items Pearson's r is the point-biserial correlation; for partial
    credit it is the item-total correlation, the same formula.

    Parameters
    ----------
    item_scores : array_like, shape (n_students, n_items)
        Points earned. Totals count NaN as 0; a student whose score on an
        item is NaN is left out of that item's correlation only.
    corrected : bool
        True: correlate with the rest score (total minus this item), the
        "item-rest" correlation, so the item is not correlated with itself —
        which matters on short tests. False: with the whole total.

    Returns
    -------
    ndarray, shape (n_items,)
        r in [-1, 1]; NaN when fewer than 2 students were scored on the item
        or the item or the (rest) total has no spread among them.
    """
    scores = _score_matrix(item_scores)
    if not isinstance(corrected, bool):
        raise ValueError(f"corrected must be True or False, got {corrected!r}")
    n_items = scores.shape[1]
    totals = _row_totals(scores)
    result = np.full(n_items, np.nan)
    for item in range(n_items):
        scored = ~np.isnan(scores[:, item])
        x = scores[scored, item]
        y = totals[scored] - x if corrected else totals[scored]
        # Rounded so totals equal on paper are equal here: a rest score that
        # differs only by rounding noise would otherwise count as spread.
        result[item] = _pearson(x, np.round(y, TOTAL_DECIMALS))
    return result


def upper_lower_discrimination(
    item_scores: Any, max_points: Any, fraction: float = DEFAULT_GROUP_FRACTION
) -> np.ndarray:
    """Discrimination index D = p(upper group) − p(lower group), per item.

    Students are ordered by total, highest first; ties keep their row order
    (a stable sort), so of two students with equal totals the earlier row
    counts as the higher. The upper group is the first ``round(fraction·n)``
    students of that order and the lower group the last as many, at least 1
    each and at most ``n // 2`` so the groups never overlap.

    Parameters
    ----------
    item_scores : array_like, shape (n_students, n_items)
        Points earned; totals count NaN as 0, and p within a group ignores
        NaN as in ``difficulty_index``.
    max_points : float or array_like, shape (n_items,)
        Full marks of each item.
    fraction : float
        Share of students in each group, in (0, 0.5].

    Returns
    -------
    ndarray, shape (n_items,)
        D in [-1, 1] for scores in [0, max_points]; all NaN when there are
        fewer than 2 students or every total is equal (no upper or lower
        group to speak of); NaN for an item with no score in a group.
    """
    scores = _score_matrix(item_scores)
    points = _max_points(max_points, scores)
    fraction = _real(fraction, "fraction")
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction!r}")
    groups = upper_lower_groups(_row_totals(scores), fraction)
    if groups is None:
        return np.full(scores.shape[1], np.nan)
    upper, lower = groups
    return _column_means(scores[upper]) / points - _column_means(scores[lower]) / points


def upper_lower_groups(
    total_scores: Any, fraction: float = DEFAULT_GROUP_FRACTION
) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows of the upper (高分段) and lower (低分段) groups by total.

    Students are ordered by total, highest first; ties keep their row order
    (a stable sort). Each group is ``round(fraction·n)`` students (half up),
    at least 1 and at most ``n // 2``, so the groups never overlap. This is
    the grouping of ``upper_lower_discrimination``; the report's per-question
    高分段/低分段 rates use it too, so their difference is that D.

    Parameters
    ----------
    total_scores : array_like, shape (n_students,)
        Each student's total; NaN counts as 0.
    fraction : float
        Share of students in each group, in (0, 0.5].

    Returns
    -------
    (upper, lower) : ndarray of int, each shape (group,)
        Row indices, best first in ``upper`` and worst last in ``lower``;
        ``None`` with fewer than 2 students or when every total is equal.
    """
    fraction = _real(fraction, "fraction")
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction!r}")
    totals = np.round(np.nan_to_num(_totals(total_scores, "total_scores"), nan=0.0), TOTAL_DECIMALS)
    if not _has_spread(totals):
        return None
    n_students = totals.size
    # Round half up (Python's round() goes to even): 27 % of 50 is 13.5 → 14.
    group = min(n_students // 2, max(1, math.floor(fraction * n_students + 0.5)))
    order = np.argsort(-totals, kind="stable")
    return order[:group], order[-group:]


# ---------------------------------------------------------------- reliability


def kr20(item_scores: Any) -> float:
    """Kuder–Richardson 20 for items scored 0/1.

    ``KR-20 = k/(k−1) · (1 − Σ p·q / σ²)`` with ``σ²`` the population
    variance (ddof=0) of the totals, matching ``p·q``, the population
    variance of a 0/1 item.

    Parameters
    ----------
    item_scores : array_like, shape (n_students, n_items)
        0 or 1 (or NaN). Students with any NaN are left out.

    Returns
    -------
    float
        At most 1 (can be negative); NaN with fewer than 2 items or 2
        complete students, or when every total is equal.
    """
    scores = _score_matrix(item_scores)
    observed = scores[~np.isnan(scores)]
    odd = observed[(observed != 0) & (observed != 1)]
    if odd.size:
        raise ValueError(
            f"item_scores must be 0 or 1 for kr20, found {odd[0]:g}; use cronbach_alpha for partial credit"
        )
    complete = _complete_rows(scores)
    n_items = complete.shape[1]
    totals = complete.sum(axis=1)
    if n_items < 2 or not _has_spread(totals):
        return math.nan
    p = complete.mean(axis=0)
    value = n_items / (n_items - 1) * (1 - (p * (1 - p)).sum() / totals.var())
    return float(min(value, 1.0))  # identical items give 1 up to rounding


def cronbach_alpha(item_scores: Any) -> float:
    """Cronbach's α: ``k/(k−1) · (1 − Σ σᵢ² / σ²_total)``, population variances.

    Parameters
    ----------
    item_scores : array_like, shape (n_students, n_items)
        Raw points (any scale). Students with any NaN are left out.

    Returns
    -------
    float
        At most 1 (can be negative); NaN with fewer than 2 items or 2
        complete students, or when every total is equal.
    """
    complete = _complete_rows(_score_matrix(item_scores))
    n_items = complete.shape[1]
    totals = complete.sum(axis=1)
    if n_items < 2 or not _has_spread(np.round(totals, TOTAL_DECIMALS)):
        return math.nan
    value = n_items / (n_items - 1) * (1 - complete.var(axis=0).sum() / totals.var())
    return float(min(value, 1.0))  # α ≤ 1 in exact arithmetic; rounding can overshoot


def reliability_method(item_scores: Any, max_points: Any) -> str:
    """Which coefficient ``reliability`` uses: ``KR20`` or ``ALPHA``.

    KR-20 when every item is dichotomous (each score 0 or that item's full
    marks) *and* all items have the same full marks. With unequal full marks
    KR-20 on score/max would measure the unweighted count of correct items,
    not the weighted total the report shows, so α on raw points is used.
    (When KR-20 is chosen the two give the same number; the name is for the
    report's label.)

    Parameters
    ----------
    item_scores : array_like, shape (n_students, n_items)
    max_points : float or array_like, shape (n_items,)
    """
    scores = _score_matrix(item_scores)
    points = _max_points(max_points, scores)
    observed = ~np.isnan(scores)
    dichotomous = ((scores == 0) | (scores == points) | ~observed).all()
    same_points = points.size == 0 or (points == points[0]).all()
    return KR20 if dichotomous and same_points else ALPHA


def reliability(item_scores: Any, max_points: Any) -> float:
    """Reliability of the total: KR-20 on score/max for right/wrong items, else α.

    See ``reliability_method`` for the choice and ``kr20``/``cronbach_alpha``
    for the formulas and for NaN handling.

    Parameters
    ----------
    item_scores : array_like, shape (n_students, n_items)
    max_points : float or array_like, shape (n_items,)

    Returns
    -------
    float
        At most 1; NaN when undefined.
    """
    scores = _score_matrix(item_scores)
    points = _max_points(max_points, scores)
    if reliability_method(scores, points) == KR20:
        return kr20(scores / points)
    return cronbach_alpha(scores)


def standard_error_of_measurement(total_scores: Any, reliability: float) -> float:
    """SEM = SD · √(1 − r): the typical distance of an observed total from the true score.

    Parameters
    ----------
    total_scores : array_like, shape (n_students,)
        NaN (no total) is left out.
    reliability : float
        At most 1; NaN allowed.

    Returns
    -------
    float
        In points, with the sample SD (ddof=1, the ``sd`` of ``summary``).
        NaN with fewer than 2 totals, a NaN reliability, or a negative one
        (a test that agrees with itself less than chance has no meaningful
        SEM — it would exceed the SD).
    """
    totals = _totals(total_scores, "total_scores")
    r = _real(reliability, "reliability")
    if r > 1:
        raise ValueError(f"reliability must be at most 1, got {r!r}")
    observed = totals[~np.isnan(totals)]
    if observed.size < 2 or math.isnan(r) or r < 0:
        return math.nan
    return float(observed.std(ddof=1) * math.sqrt(1 - r))


def summary(total_scores: Any) -> dict[str, float]:
    """Count, mean, median, sample SD (ddof=1), min and max of the totals.

    Parameters
    ----------
    total_scores : array_like, shape (n_students,)
        NaN (no total) is left out, and not counted in ``n``.

    Returns
    -------
    dict
        ``{"n": int, "mean", "median", "sd", "min", "max": float}``; ``sd``
        is NaN below 2 totals and everything but ``n`` is NaN with none.
    """
    totals = _totals(total_scores, "total_scores")
    observed = totals[~np.isnan(totals)]
    n = int(observed.size)
    if n == 0:
        return {"n": 0, "mean": math.nan, "median": math.nan, "sd": math.nan, "min": math.nan, "max": math.nan}
    return {
        "n": n,
        "mean": float(observed.mean()),
        "median": float(np.median(observed)),
        "sd": float(observed.std(ddof=1)) if n >= 2 else math.nan,
        "min": float(observed.min()),
        "max": float(observed.max()),
    }


# ---------------------------------------------------------------- options


# eq=False: the generated __eq__ would compare the counts arrays with ==,
# whose truth value is ambiguous.
@dataclass(frozen=True, eq=False)
class OptionTally:
    """How one item's answers spread over its options.

    ``counts`` has shape (n_options,): the students who marked each option
    (A first). A multiple-letter answer (多选) counts once for every letter
    it marks, so counts can add up to more than ``answered``.
    """

    counts: np.ndarray
    blank: int  # answered nothing
    multiple: int  # marked two or more options
    flagged: int  # could not be read (None), not in counts
    n: int  # all answers, blank and flagged included

    @property
    def answered(self) -> int:
        """Answers that marked at least one option."""
        return self.n - self.blank - self.flagged


def option_counts(choices: Iterable[str | None], n_options: int) -> OptionTally:
    """Tally the options marked on one item.

    Parameters
    ----------
    choices : iterable of str or None, length n_students
        Each student's marked letters in option order ("A", "AC"; bank
        letters, like the key), ``""`` for blank, ``None`` for a flagged
        (unreadable) answer.
    n_options : int
        Options on the item, 2..8; letters beyond it are an error.

    Returns
    -------
    OptionTally
    """
    if isinstance(choices, str):
        raise ValueError("choices must be a sequence of answers, one per student, not a single string")
    answers: dict[str | None, int] = {}
    for position, choice in enumerate(choices):
        if choice is not None and not isinstance(choice, str):
            raise ValueError(f"choices[{position}] must be option letters or None, got {choice!r}")
        answers[choice] = answers.get(choice, 0) + 1
    return tally_answers(answers, n_options)


def tally_answers(answers: Mapping[str | None, int], n_options: int) -> OptionTally:
    """``option_counts`` from how many students gave each distinct answer (``AnswerMatrix.counts``).

    Parameters
    ----------
    answers : mapping of str or None to int
        Each distinct answer (as in ``option_counts``'s ``choices``) and how
        many students gave it.
    n_options : int
        Options on the item, 2..8.
    """
    n_options = _count(n_options, "n_options", MIN_OPTIONS, MAX_OPTIONS)
    allowed = set(LETTERS[:n_options])
    counts = np.zeros(n_options, dtype=np.int64)
    blank = multiple = flagged = n = 0
    for choice, students in answers.items():
        n += students
        if choice is None:
            flagged += students
            continue
        letters = set(choice)
        if not letters <= allowed:
            raise ValueError(f"choices: {choice!r} has letters other than {''.join(sorted(allowed))}")
        if not letters:
            blank += students
        elif len(letters) > 1:
            multiple += students
        for letter in letters:
            counts[LETTERS.index(letter)] += students
    counts.setflags(write=False)
    return OptionTally(counts, blank, multiple, flagged, n)


@dataclass(frozen=True, eq=False)
class AnswerMatrix:
    """Every student's answer to every item, stored as codes into the table of distinct answers.

    ``codes[s, i]`` is student ``s``'s answer to item ``i`` as an index into
    ``texts`` (bank letters, ``""`` blank), or -1 for an answer that could
    not be read (``None``). An item has at most 2⁸ distinct answers, so
    100,000 students × 100 items are 20 MB of ``int16`` rather than ten
    million Python strings, and tallies are ``np.bincount`` over a column.
    """

    codes: np.ndarray  # (n_students, n_items) int16; -1 = not read
    texts: tuple[str, ...]

    UNREAD = -1

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[str | None]], n_items: int) -> AnswerMatrix:
        """From one list of answers per student (``str``, ``""`` blank, ``None`` unread)."""
        coder = AnswerCoder()
        codes = np.full((len(rows), n_items), cls.UNREAD, dtype=np.int16)
        for s, row in enumerate(rows):
            if len(row) != n_items:
                raise ValueError(f"choices[{s}] has {len(row)} answers, expected {n_items}")
            codes[s] = coder.encode(row)
        return coder.matrix(codes)

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape

    def __len__(self) -> int:
        return self.codes.shape[0]

    def __getitem__(self, row: int) -> list[str | None]:
        """One student's answers, item by item."""
        texts = self.texts
        return [texts[code] if code >= 0 else None for code in self.codes[row].tolist()]

    def take(self, rows: np.ndarray) -> AnswerMatrix:
        """The students ``rows`` (indices or a boolean mask) only."""
        return AnswerMatrix(self.codes[rows], self.texts)

    def counts(self, item: int, rows: np.ndarray | None = None) -> dict[str | None, int]:
        """How many of the students (``rows``; all by default) gave each distinct answer to ``item``."""
        column = self.codes[:, item] if rows is None else self.codes[rows, item]
        tally = np.bincount(column.astype(np.int64) + 1, minlength=len(self.texts) + 1)
        return {(self.texts[code - 1] if code else None): int(tally[code]) for code in np.flatnonzero(tally)}

    def is_blank(self) -> np.ndarray:
        """Boolean (n_students, n_items): answered nothing (``""``)."""
        if "" not in self.texts:
            return np.zeros(self.codes.shape, dtype=bool)
        return self.codes == self.texts.index("")


class AnswerCoder:
    """Builds an ``AnswerMatrix`` row by row: each distinct answer gets the next code."""

    def __init__(self) -> None:
        self._codes: dict[str | None, int] = {None: AnswerMatrix.UNREAD}

    def encode(self, answers: Iterable[str | None]) -> list[int]:
        answers = list(answers)
        codes = self._codes
        try:
            return [codes[answer] for answer in answers]  # the usual case: every answer seen before
        except KeyError:
            for answer in answers:
                if answer not in codes:
                    if not isinstance(answer, str):
                        raise ValueError(f"an answer must be option letters or None, got {answer!r}") from None
                    codes[answer] = len(codes) - 1
            return [codes[answer] for answer in answers]

    def matrix(self, codes: np.ndarray) -> AnswerMatrix:
        texts = [""] * (len(self._codes) - 1)
        for answer, code in self._codes.items():
            if answer is not None:
                texts[code] = answer
        return AnswerMatrix(codes, tuple(texts))


# ---------------------------------------------------------------- totals


def competition_ranks(totals: Any) -> np.ndarray:
    """"1224" ranks: the highest total is 1, ties share a rank, the next rank skips.

    A student's rank is 1 + the number of students with a strictly higher
    total. Totals are compared rounded to ``TOTAL_DECIMALS`` places.

    Parameters
    ----------
    totals : array_like, shape (n_students,)
        NaN means no total (absent, not graded).

    Returns
    -------
    ndarray of int64, shape (n_students,)
        Ranks from 1; 0 for a NaN total (0 is never a real rank, and it keeps
        the array integer).
    """
    values = _totals(totals, "totals")
    ranks = np.zeros(values.shape, dtype=np.int64)
    ranked = ~np.isnan(values)
    observed = np.round(values[ranked], TOTAL_DECIMALS)
    higher = observed.size - np.searchsorted(np.sort(observed), observed, side="right")
    ranks[ranked] = 1 + higher
    return ranks


def _bin_width(max_total: float, bins: int) -> float:
    raw = max_total / bins
    if raw <= 1:
        return 1.0  # bars narrower than a point would split scores apart for nothing
    if raw == int(raw):
        return raw  # 100 → 10, 150 → 15: the bins divide the full marks evenly
    scale = 10.0 ** math.floor(math.log10(raw))
    return next(step * scale for step in (1, 2, 5, 10) if step * scale >= raw)


def histogram(totals: Any, max_total: float, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Counts of totals in bars of a round width, from 0 to ``max_total``.

    The width is ``max_total / bins`` when that is a whole number (100 → 10,
    150 → 15); otherwise the next 1-2-5 number above it (37 → 5), and never
    less than 1 point. Edges are multiples of the width except the last,
    which is ``max_total`` itself, so the last bar may be narrower (37 with
    width 5: …, 30, 35, 37) and there may be fewer than ``bins`` bars. Bars
    are half-open [a, b) except the last, [a, max_total], which holds full
    marks (as ``np.histogram``). Negative totals (negative marking) get
    extra bars below 0 of the same width.

    Parameters
    ----------
    totals : array_like, shape (n_students,)
        NaN (no total) is left out; none may exceed ``max_total``.
    max_total : float
        Full marks of the paper, positive.
    bins : int
        The most bars wanted (at least 1).

    Returns
    -------
    edges : ndarray, shape (n_bars + 1,)
    counts : ndarray of int64, shape (n_bars,)
    """
    values = _totals(totals, "totals")
    max_total = _real(max_total, "max_total")
    if not max_total > 0:
        raise ValueError(f"max_total must be positive, got {max_total!r}")
    bins = _count(bins, "bins", 1)
    observed = np.round(values[~np.isnan(values)], TOTAL_DECIMALS)
    if observed.size and observed.max() > max_total:
        raise ValueError(f"totals must not exceed max_total {max_total:g}, found {observed.max():g}")
    width = _bin_width(max_total, bins)
    n_up = math.ceil(max_total / width - 1e-9)  # tolerance: 100/10 must not become 11 bars
    lowest = observed.min() if observed.size else 0.0
    n_down = math.ceil(-lowest / width) if lowest < 0 else 0
    edges = np.append(np.arange(-n_down, n_up) * width, max_total)
    counts, _ = np.histogram(observed, bins=edges)
    return edges, counts.astype(np.int64)


# ---------------------------------------------------------------- flags


def _key_indices(key_indices: Any, n_options: int) -> list[int]:
    if isinstance(key_indices, (str, bytes)) or not isinstance(key_indices, (Sequence, np.ndarray, set, frozenset)):
        raise ValueError(f"key_indices must be a sequence of option indices, got {key_indices!r}")
    key = sorted(key_indices)
    valid = all(
        not isinstance(i, bool) and isinstance(i, (int, np.integer)) and 0 <= i < n_options for i in key
    )
    if not key or not valid or len(set(key)) != len(key):
        raise ValueError(f"key_indices must be distinct option indices 0..{n_options - 1}, got {key_indices!r}")
    return [int(i) for i in key]


def item_flags(
    p: float, discrimination_corrected: float, option_tally: OptionTally, key_indices: Sequence[int]
) -> list[str]:
    """Plain-language (Chinese) reasons one item needs a teacher's look.

    Most serious first: negative discrimination, a distractor chosen more
    than the key (for a 多选 key, more than its least-chosen option), too
    easy (p > ``EASY_P``) or too hard (p < ``HARD_P``), distractors nobody
    chose. Option flags need at least one answer; NaN statistics raise no
    flag.

    Parameters
    ----------
    p : float
        Difficulty index of the item (``difficulty_index``).
    discrimination_corrected : float
        Item-rest correlation (``point_biserial(corrected=True)``).
    option_tally : OptionTally
        The item's answers (``option_counts``).
    key_indices : sequence of int
        Correct options, 0 = A, in the same letters as the tally.

    Returns
    -------
    list of str
        Empty when nothing stands out.
    """
    p = _real(p, "p")
    discrimination = _real(discrimination_corrected, "discrimination_corrected")
    if not isinstance(option_tally, OptionTally):
        raise ValueError(f"option_tally must be an OptionTally, got {type(option_tally).__name__}")
    counts = option_tally.counts
    key = _key_indices(key_indices, counts.size)
    distractors = [option for option in range(counts.size) if option not in key]
    answered = option_tally.answered > 0

    flags = []
    if discrimination < 0:
        flags.append("区分度为负：高分组反而答错更多，请检查答案或题干")
    if answered:
        weakest_key = min(counts[option] for option in key)
        for option in distractors:
            if counts[option] > weakest_key:
                flags.append(f"选项 {LETTERS[option]} 的选择人数多于正确答案，可能有歧义或答案有误")
    if p > EASY_P:
        flags.append(f"题目过易：得分率 {p:.0%}，几乎人人答对，区分不出水平")
    if p < HARD_P:
        flags.append(f"题目过难：得分率 {p:.0%}，请检查答案是否有误或内容是否已教")
    if answered:
        for option in distractors:
            if counts[option] == 0:
                flags.append(f"选项 {LETTERS[option]} 无人选择，干扰项无效")
    return flags


# ---------------------------------------------------------------- topics


@dataclass(frozen=True)
class TopicStats:
    """How a group did on one topic path prefix ("政策背景", "管理体制/工作机制")."""

    topic: str  # path prefix, levels joined by "/"
    level: int  # 1 = top level (the number of path parts)
    questions: int  # items under the topic (at any depth)
    attempts: int  # scored (student, item) pairs
    error_rate: float  # share of scored attempts without full marks; NaN when none was scored
    score_rate: float  # points earned / points possible over scored attempts; NaN when none was scored


def topic_statistics(item_scores: Any, topics: Sequence[str], max_points: Any) -> list[TopicStats]:
    """Error rate and score rate of every topic path prefix, over every student in ``item_scores``.

    Each item counts toward its topic and every prefix of it ("a/b/c" toward
    "a", "a/b" and "a/b/c"). Unscored answers (``NaN``) are left out of both
    rates rather than counted as wrong.

    Parameters
    ----------
    item_scores : array_like, shape (n_students, n_items)
        Points earned; the rows are the group (possibly none).
    topics : sequence of str, length n_items
        Each item's topic path.
    max_points : array_like, shape (n_items,)
        Full marks of each item.

    Returns
    -------
    list of TopicStats
        One per prefix, in order of first appearance (item by item, each
        item's prefixes from the top level down).
    """
    scores = _score_matrix(item_scores)
    points = _numeric_array(max_points, "max_points")
    if points.shape != (scores.shape[1],):
        raise ValueError(f"max_points must have shape ({scores.shape[1]},), got shape {points.shape}")
    if len(topics) != scores.shape[1]:
        raise ValueError(f"topics must have one entry per item ({scores.shape[1]}), got {len(topics)}")
    prefixes: dict[str, list[int]] = {}
    for item, topic in enumerate(topics):
        parts = topic.split("/")
        for level in range(1, len(parts) + 1):
            prefixes.setdefault("/".join(parts[:level]), []).append(item)
    out = []
    for topic, items in prefixes.items():
        block = scores[:, items]
        full = points[items]
        scored = ~np.isnan(block)
        attempts = int(scored.sum())
        if attempts:
            error_rate = float(((block < full) & scored).sum()) / attempts
            score_rate = float(np.nansum(block) / (scored * full).sum())
        else:
            error_rate = score_rate = math.nan
        out.append(TopicStats(topic, topic.count("/") + 1, len(items), attempts, error_rate, score_rate))
    return out


# ---------------------------------------------------------------- suspected key errors

#: Fewest students in the upper group (who answered the item) before its choices are compared with the key:
#: with fewer, one or two students decide the comparison. A class of 30 has an upper group of 8.
MIN_UPPER_GROUP = 8
#: Fewest students scored on an item before a negative point-biserial counts as evidence.
MIN_SCORED = 30
#: How far below zero the corrected point-biserial must be: around zero it is sampling noise
#: (its standard error is about 1/√n, 0.18 for 30 students); a wrong key gives −0.2 and below.
SUSPECT_RPB = -0.1


@dataclass(frozen=True)
class SuspectedKeyError:
    """An item whose key may be wrong: the strong students disagree with it.

    Letters are the bank's (the item statistics' letters, and ``papergen rekey
    --question``'s).
    """

    question_id: str
    numbers: dict[str, int]  # 题号 on each variant's paper
    key: str  # the key in force ("B", or "B 或 C" when several answers score)
    suspected: str | None  # the other answer the upper group chose most (the likely key); None: they chose none
    upper_group: int  # upper-group students whose answer was read (blank included)
    upper_key_share: float  # share of them who chose the key
    upper_suspected_share: float  # share who chose ``suspected`` (NaN when None)
    point_biserial: float  # corrected item-rest correlation (NaN when undefined)
    headline: str  # Chinese, one line: what the data say
    message: str  # Chinese: the headline, the 题号 to check and the ``papergen rekey`` command that would correct it


def suspected_key_errors(
    item_scores: Any,
    choices: AnswerMatrix | Sequence[Sequence[str | None]],
    keys: Sequence[Sequence[str]],
    question_ids: Sequence[str],
    numbers: Sequence[dict[str, int]] | None = None,
    *,
    fraction: float = DEFAULT_GROUP_FRACTION,
    min_group: int = MIN_UPPER_GROUP,
    min_scored: int = MIN_SCORED,
    rpb_below: float = SUSPECT_RPB,
) -> list[SuspectedKeyError]:
    """Items whose key the data contradict, in item order.

    An item is suspected when either

    - the upper group (``upper_lower_groups``: the top ``fraction`` by total)
      chose one other answer more often than the key, counted over the
      upper-group students whose answer was read (at least ``min_group`` of
      them; a blank counts as not choosing the key), or
    - its corrected point-biserial is below ``rpb_below`` with at least
      ``min_scored`` students scored on it.

    Answers are compared whole ("AC" is one answer on a 多选 item), so the
    suggestion is a complete key.

    Parameters
    ----------
    item_scores : array_like, shape (n_students, n_items)
        Points earned, NaN for not scored (as everywhere here).
    choices : AnswerMatrix, or sequence of sequences, shape (n_students, n_items)
        Each student's answer in bank letters, "" blank, None unread.
    keys : sequence, length n_items
        The answers that score on each item (one, or several after ``rekey
        --accept``); empty for a voided item, which is never suspected.
    question_ids : sequence of str, length n_items
    numbers : sequence of dict, length n_items, optional
        Each item's 题号 per variant, carried into the result and the message.

    Returns
    -------
    list of SuspectedKeyError
    """
    scores = _score_matrix(item_scores)
    n_students, n_items = scores.shape
    if not isinstance(choices, AnswerMatrix):
        if len(choices) != n_students or any(len(row) != n_items for row in choices):
            raise ValueError(f"choices must have shape ({n_students}, {n_items}) like item_scores")
        choices = AnswerMatrix.from_rows(choices, n_items)
    elif choices.shape != (n_students, n_items):
        raise ValueError(f"choices must have shape ({n_students}, {n_items}) like item_scores")
    if len(keys) != n_items or len(question_ids) != n_items or (numbers is not None and len(numbers) != n_items):
        raise ValueError(f"keys, question_ids and numbers must have one entry per item ({n_items})")
    min_group = _count(min_group, "min_group", 1)
    min_scored = _count(min_scored, "min_scored", 2)
    rpb_below = _real(rpb_below, "rpb_below")
    groups = upper_lower_groups(_row_totals(scores), fraction)
    upper = groups[0] if groups is not None else np.array([], dtype=int)
    rpb = point_biserial(scores, corrected=True)
    found = []
    for item in range(n_items):
        key = tuple(keys[item]) if not isinstance(keys[item], str) else (keys[item],)
        if not key:
            continue
        tally = choices.counts(item, upper)
        tally.pop(None, None)  # not read: neither the key nor another answer
        answered = sum(tally.values())
        on_key = sum(tally.get(k, 0) for k in key)
        others = sorted(((count, answer) for answer, count in tally.items() if answer and answer not in key), reverse=True)
        rival_count, rival = others[0] if others else (0, None)
        by_choice = answered >= min_group and rival_count > on_key
        scored = int((~np.isnan(scores[:, item])).sum())
        by_rpb = scored >= min_scored and not math.isnan(rpb[item]) and rpb[item] < rpb_below
        if not (by_choice or by_rpb):
            continue
        share = (lambda count: count / answered) if answered else (lambda count: math.nan)
        key_text = " 或 ".join(key)
        where = numbers[item] if numbers is not None else {}
        label = "/".join(f"{v}{n}" for v, n in where.items())
        parts = []
        if by_choice:
            parts.append(
                f"高分组（总分前 {fraction:.0%}）{answered} 人中 {rival_count} 人选 {rival}，"
                f"只有 {on_key} 人选答案 {key_text}（题库字母）"
            )
        if by_rpb:
            parts.append(f"区分度为负（{rpb[item]:.2f}）：总分高的考生反而更常答错")
        elif not math.isnan(rpb[item]):
            parts.append(f"区分度 {rpb[item]:.2f}")
        advice = f"答案可能有误，请核对题目{('（' + label + '）') if label else ''}"
        if rival is not None:
            advice += f"；若应为 {rival}：papergen rekey 成绩文件夹 --question {question_ids[item]} --key {rival}"
        found.append(
            SuspectedKeyError(
                question_id=question_ids[item], numbers=dict(where), key=key_text,
                suspected=rival, upper_group=answered,
                upper_key_share=share(on_key), upper_suspected_share=share(rival_count) if rival else math.nan,
                point_biserial=float(rpb[item]), headline="；".join(parts), message="；".join(parts) + "。" + advice,
            )
        )
    return found
