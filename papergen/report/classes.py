"""What a Chinese 阅卷 report tells teachers about classes: 三率一分, 分数段, class against the whole.

Pure computations on ``ExamResults``: the workbook only lays them out. A
*group* is 全体 (every student in the statistics) or one class from the
roster; students outside the statistics (缺考, duplicated 准考证号, no
sheet) are in no group. Unscored (flagged) answers are left out of every
rate, as everywhere in the report.

- ``group_summaries``: per group the count, mean, spread, the three rates of
  "三率一分" (优秀率, 及格率, 低分率 at ``RATE_LINES`` of full marks), the
  超均率 ((group mean − whole mean) / whole mean), the class's place by mean
  (ties share a place), and the score rate of every section and topic.
- ``score_bands``: how many of each group fall in each 分数段, highest band
  first, with running totals from the top (累计), on the same bands as the
  分数分布 sheet's histogram.
- ``question_rates``: each question's score rate (小题得分率) per group and in
  the 高分段 and 低分段 (the top and bottom 27 % by total, the grouping of the
  item analysis's D, so 高低差 equals that D), in paper order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from papergen.report import analysis
from papergen.report.data import ExamResults

WHOLE = "全体"

#: Lines of "三率": 优秀 at or above 80 % of full marks, 及格 at or above
#: 60 %, 低分 below 40 % — the most common convention in Chinese school
#: reports (some regions use 85 % / 60 % / 30 %).
RATE_LINES = {"excellent": 0.8, "pass": 0.6, "low": 0.4}


@dataclass(frozen=True, eq=False)
class Group:
    name: str  # 全体 or the class name from the roster
    rows: np.ndarray  # bool mask over ``ExamResults.students``
    whole: bool = False


@dataclass(frozen=True)
class GroupSummary:
    name: str
    n: int
    mean: float
    sd: float
    max: float
    min: float
    excellent_rate: float  # share at or above RATE_LINES["excellent"] × full marks
    pass_rate: float
    low_rate: float  # share below RATE_LINES["low"] × full marks
    above_mean: float  # 超均率: (mean − whole mean) / whole mean; 0 for the whole, NaN when undefined
    place: int  # place by mean among the classes (ties share); 0 for the whole or a class with no student
    section_rates: tuple[float, ...]  # score rate per manifest section
    topic_rates: dict[str, float]  # score rate per topic path prefix (as ``TopicStats.topic``)


@dataclass(frozen=True)
class BandCounts:
    low: float
    high: float
    closed: bool  # the top band includes ``high`` (full marks)
    counts: tuple[int, ...]  # per group, in the order of the groups passed in
    running: tuple[int, ...]  # counts of this band and every band above it

    @property
    def label(self) -> str:
        """"48～54": each band holds its lower end, not its upper one, except the top band (full marks)."""
        return f"{self.low:g}～{self.high:g}"


@dataclass(frozen=True)
class QuestionRates:
    column: int  # index into ``ExamResults.questions``
    numbers: dict[str, int]  # 题号 per variant
    rates: tuple[float, ...]  # score rate per group, in the order of the groups passed in
    upper: float  # score rate in the 高分段
    lower: float  # score rate in the 低分段

    @property
    def gap(self) -> float:
        """高低差: upper − lower, the item analysis's discrimination D."""
        return self.upper - self.lower


def class_groups(results: ExamResults) -> list[Group]:
    """全体 first, then one group per class that has a student in the statistics, by name."""
    in_stats = results.stats_rows
    groups = [Group(WHOLE, in_stats, whole=True)]
    for name in sorted({s.klass for s in results.students if s.in_stats and s.klass}):
        groups.append(Group(name, in_stats & np.array([s.klass == name for s in results.students], dtype=bool)))
    return groups


def _totals(results: ExamResults) -> np.ndarray:
    return np.array([s.total if s.in_stats else np.nan for s in results.students], dtype=float)


def full_marks(results: ExamResults) -> float:
    return float(results.max_points.sum())


def _share(mask: np.ndarray, n: int) -> float:
    return float(mask.sum()) / n if n else math.nan


def group_summaries(results: ExamResults, groups: list[Group]) -> list[GroupSummary]:
    """One ``GroupSummary`` per group, in the order given (``class_groups`` puts 全体 first)."""
    totals = _totals(results)
    full = full_marks(results)
    sections = [results.manifest.sections[q.section].title for q in results.questions]
    section_titles = [s.title for s in results.manifest.sections]
    whole_mean = analysis.summary(totals[results.stats_rows])["mean"]
    means = np.array([analysis.summary(totals[g.rows])["mean"] if not g.whole else np.nan for g in groups])
    places = analysis.competition_ranks(means)  # NaN (the whole, an empty class) → 0
    out = []
    for group, place in zip(groups, places):
        values = totals[group.rows]
        info = analysis.summary(values)
        n = info["n"]
        section_stats = {
            t.topic: t.score_rate
            for t in analysis.topic_statistics(results.scores[group.rows], sections, results.max_points)
        }
        topic_rates = {t.topic: t.score_rate for t in results.topic_statistics(group.rows)}
        if group.whole:
            above = 0.0
        elif n and whole_mean and not math.isnan(whole_mean):
            above = (info["mean"] - whole_mean) / whole_mean
        else:
            above = math.nan
        out.append(
            GroupSummary(
                name=group.name, n=n, mean=info["mean"], sd=info["sd"], max=info["max"], min=info["min"],
                excellent_rate=_share(values >= RATE_LINES["excellent"] * full - 1e-9, n),
                pass_rate=_share(values >= RATE_LINES["pass"] * full - 1e-9, n),
                low_rate=_share(values < RATE_LINES["low"] * full - 1e-9, n),
                above_mean=above, place=0 if group.whole else int(place),
                section_rates=tuple(section_stats.get(title, math.nan) for title in section_titles),
                topic_rates=topic_rates,
            )
        )
    return out


def score_bands(results: ExamResults, groups: list[Group]) -> list[BandCounts]:
    """分数段 counts per group, highest band first, on the histogram's bands (``analysis.histogram``)."""
    totals = _totals(results)
    full = full_marks(results)
    if full <= 0:
        return []
    edges, _ = analysis.histogram(totals[results.stats_rows], full)
    per_group = [analysis.histogram(totals[g.rows], full)[1] if g.rows.any() else np.zeros(len(edges) - 1, int)
                 for g in groups]
    if any(len(c) != len(edges) - 1 for c in per_group):
        # a class alone can reach below 0 (negative marking) only if the whole does too,
        # so the bands agree; this guards the assumption rather than mislabel a count
        raise ValueError("score bands of a class differ from the whole's")
    bands = []
    running = np.zeros(len(groups), dtype=np.int64)
    for k in reversed(range(len(edges) - 1)):
        counts = np.array([int(c[k]) for c in per_group], dtype=np.int64)
        running = running + counts
        bands.append(BandCounts(float(edges[k]), float(edges[k + 1]), k == len(edges) - 2,
                                tuple(int(c) for c in counts), tuple(int(r) for r in running)))
    return bands


def question_rates(results: ExamResults, groups: list[Group]) -> list[QuestionRates]:
    """小题得分率 per group and in the 高分段/低分段, one entry per question in the first variant's paper order."""
    points = results.max_points
    in_stats = np.flatnonzero(results.stats_rows)
    # totals as the item analysis computes them (unscored answers count 0), so 高低差 is its D
    split = analysis.upper_lower_groups(np.nansum(results.scores[in_stats], axis=1)) if in_stats.size else None
    upper = lower = np.full(len(results.questions), np.nan)
    if split is not None:
        upper = analysis.difficulty_index(results.scores[in_stats[split[0]]], points)
        lower = analysis.difficulty_index(results.scores[in_stats[split[1]]], points)
    per_group = [
        analysis.difficulty_index(results.scores[g.rows], points) if g.rows.any() else np.full(len(points), np.nan)
        for g in groups
    ]
    numbers = results.paper_numbers()
    return [
        QuestionRates(
            column=c, numbers=numbers[results.questions[c].id],
            rates=tuple(float(rates[c]) for rates in per_group), upper=float(upper[c]), lower=float(lower[c]),
        )
        for c in results.paper_order()
    ]
