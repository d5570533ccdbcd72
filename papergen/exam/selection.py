"""Choosing the questions of each section, deterministically for a seed.

For every section: the pool is the banks' questions of the section's type
and difficulty range, minus excluded and already chosen questions. Topic
quotas are met first (a quota on ``组织覆盖`` accepts ``组织覆盖/行业统建``),
the rest is drawn freely, and when a difficulty mean is asked for, chosen
questions are swapped for others of the same quota group until the mean is
close. With a ``FocusPlan`` (remedial papers) the questions the group has seen are
excluded and free draws lean toward its weak topics. Every choice records
why it was made. The random stream is seeded
from the blueprint's seed and the section index only, so the same blueprint
and banks always give the same exam.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from papergen.bank.model import TYPE_LABELS_ZH, Bank, Question
from papergen.core.errors import BlueprintError
from papergen.exam.blueprint import Blueprint, SectionPlan

if TYPE_CHECKING:
    from papergen.exam.focus import FocusPlan

#: A difficulty mean within this distance of the target is good enough.
MEAN_TOLERANCE = 0.05
MAX_SWAPS = 2000


@dataclass(frozen=True)
class Chosen:
    question: Question
    bank: str  # bank id
    reason: str  # "quota:组织覆盖" | "free"


@dataclass(frozen=True)
class SelectedSection:
    plan: SectionPlan
    chosen: list[Chosen]  # in bank order

    @property
    def mean_difficulty(self) -> float:
        return sum(c.question.difficulty for c in self.chosen) / len(self.chosen)


def topic_matches(topic: str, prefix: str) -> bool:
    """``组织覆盖`` matches ``组织覆盖`` and ``组织覆盖/行业统建``, not ``组织覆盖率``."""
    return topic == prefix or topic.startswith(prefix + "/")


def _weighted_sample(items: list[Question], k: int, weights: list[float], rng: random.Random) -> list[Question]:
    """``k`` items without replacement, each with probability growing with its weight.

    Every item gets the key ``u ** (1 / w)`` for a uniform ``u``; the largest
    keys win (the Efraimidis–Spirakis method): one pass, deterministic for
    the random stream.
    """
    keyed = sorted(((rng.random() ** (1.0 / w), index) for index, w in enumerate(weights)), reverse=True)
    return [items[index] for _, index in keyed[:k]]


def select(
    blueprint: Blueprint,
    banks: Sequence[Bank],
    excluded: Iterable[str] = (),
    focus: "FocusPlan | None" = None,
) -> list[SelectedSection]:
    """Choose every section's questions.

    Raises
    ------
    BlueprintError
        A quota names a topic no bank has, or the pool cannot fill a quota or
        a section (the message says which, how many were needed and how many
        exist).
    """
    excluded = set(excluded) | (set(focus.seen) if focus else set())
    order: dict[str, int] = {}
    bank_of: dict[str, str] = {}
    everything: list[Question] = []
    for bank in banks:
        for question in bank.questions:
            order[question.id] = len(order)
            bank_of[question.id] = bank.id
            everything.append(question)
    all_topics = sorted({q.topic for q in everything})
    used: set[str] = set()
    result = []
    for index, plan in enumerate(blueprint.sections):
        rng = random.Random(f"{blueprint.seed}/section/{index}")
        pool = [
            q for q in everything
            if q.type == plan.type and plan.difficulty.min <= q.difficulty <= plan.difficulty.max
            and q.id not in excluded and q.id not in used
        ]
        chosen: list[tuple[Question, str]] = []
        taken: set[str] = set()
        for prefix, needed in plan.quotas.items():
            line = plan.quota_lines.get(prefix, plan.line)
            if not any(topic_matches(t, prefix) for t in all_topics):
                close = difflib.get_close_matches(prefix, all_topics, n=3, cutoff=0.4)
                hint = f"题库中相近的知识点：{'、'.join(close)}" if close else "用 papergen bank stats 查看题库的知识点"
                raise BlueprintError(f"{plan.title}：知识点“{prefix}”在题库中不存在", path=blueprint.path, line=line, hint=hint)
            matches = [q for q in pool if topic_matches(q.topic, prefix) and q.id not in taken]
            if len(matches) < needed:
                raise BlueprintError(
                    f"{plan.title}：知识点“{prefix}”需要 {needed} 道{TYPE_LABELS_ZH[plan.type]}题，"
                    f"只有 {len(matches)} 道可选（难度 {plan.difficulty.min}–{plan.difficulty.max}，"
                    f"已去掉排除的和前面大题用过的题）",
                    path=blueprint.path, line=line,
                )
            for question in rng.sample(matches, needed):
                chosen.append((question, f"quota:{prefix}"))
                taken.add(question.id)
        free_needed = plan.count - len(chosen)
        rest = [q for q in pool if q.id not in taken]
        if len(rest) < free_needed:
            raise BlueprintError(
                f"{plan.title}：需要 {plan.count} 道{TYPE_LABELS_ZH[plan.type]}题，题库中符合条件的只有 "
                f"{len(chosen) + len(rest)} 道（难度 {plan.difficulty.min}–{plan.difficulty.max}，"
                f"已去掉排除的和前面大题用过的题）",
                path=blueprint.path, line=plan.line,
            )
        if focus is None:
            for question in rng.sample(rest, free_needed):
                chosen.append((question, "free"))
                taken.add(question.id)
        else:
            # The free part leans toward the group's weak topics.
            weighted = [focus.weight(q.topic) for q in rest]
            for question in _weighted_sample(rest, free_needed, [w for w, _ in weighted], rng):
                chosen.append((question, weighted[rest.index(question)][1]))
                taken.add(question.id)
        if plan.difficulty.mean is not None:
            chosen = _steer_mean(chosen, pool, plan.difficulty.mean, rng)
        used.update(q.id for q, _ in chosen)
        chosen.sort(key=lambda item: order[item[0].id])
        result.append(SelectedSection(plan, [Chosen(q, bank_of[q.id], reason) for q, reason in chosen]))
    return result


def _steer_mean(
    chosen: list[tuple[Question, str]], pool: list[Question], target: float, rng: random.Random
) -> list[tuple[Question, str]]:
    """Swap questions (within their quota group) until the mean difficulty is near ``target``."""
    chosen = list(chosen)
    total = sum(q.difficulty for q, _ in chosen)
    n = len(chosen)
    in_use = {q.id for q, _ in chosen}
    for _ in range(MAX_SWAPS):
        error = total / n - target
        if abs(error) <= MEAN_TOLERANCE:
            break
        # Try positions in random order; take the first swap that helps most.
        improved = False
        for position in rng.sample(range(n), n):
            question, reason = chosen[position]
            prefix = reason.split(":", 1)[1] if reason.startswith("quota:") else None
            candidates = [
                q for q in pool
                if q.id not in in_use and (prefix is None or topic_matches(q.topic, prefix))
                and (q.difficulty - question.difficulty) * error < 0
            ]
            if not candidates:
                continue
            best = min(candidates, key=lambda q: (abs((total - question.difficulty + q.difficulty) / n - target), q.id))
            if abs((total - question.difficulty + best.difficulty) / n - target) >= abs(error):
                continue
            in_use.discard(question.id)
            in_use.add(best.id)
            total += best.difficulty - question.difficulty
            chosen[position] = (best, reason)
            improved = True
            break
        if not improved:
            break
    return chosen
