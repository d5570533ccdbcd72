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

from papergen.bank.lint import cue_pairs
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


def partners_of(banks: Sequence[Bank]) -> dict[str, set[str]]:
    """Question id → the ids it must not share a paper with (``bank.lint.cue_pairs``)."""
    partners: dict[str, set[str]] = {}
    for pair in cue_pairs(banks):
        a, b = sorted(pair)
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    return partners


def _draw(
    candidates: list[Question], k: int, rng: random.Random, partners: dict[str, set[str]], order: list[Question] | None = None
) -> list[Question]:
    """Up to ``k`` candidates, no two of them partners.

    Without a pair inside ``candidates`` this is ``rng.sample`` (so banks
    without cues give the same exams as before); otherwise candidates are
    taken in a random order (or ``order``), skipping the partners of those
    already taken.
    """
    ids = {q.id for q in candidates}
    if not any(partners.get(q.id, set()) & ids for q in candidates):
        return order[:k] if order is not None else rng.sample(candidates, k)
    taken: list[Question] = []
    blocked: set[str] = set()
    for question in order if order is not None else rng.sample(candidates, len(candidates)):
        if len(taken) == k:
            break
        if question.id in blocked:
            continue
        taken.append(question)
        blocked |= partners.get(question.id, set())
    return taken


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
    partners = partners_of(banks)
    used: set[str] = set()
    blocked: set[str] = set()  # partners of the questions chosen so far
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
            drawn = _draw([q for q in matches if q.id not in blocked], needed, rng, partners)
            if len(drawn) < needed:
                raise _cue_shortage(plan, f"知识点“{prefix}”", needed, len(drawn), blueprint.path, line)
            for question in drawn:
                chosen.append((question, f"quota:{prefix}"))
                taken.add(question.id)
                blocked |= partners.get(question.id, set())
        free_needed = plan.count - len(chosen)
        rest = [q for q in pool if q.id not in taken]
        if len(rest) < free_needed:
            raise BlueprintError(
                f"{plan.title}：需要 {plan.count} 道{TYPE_LABELS_ZH[plan.type]}题，题库中符合条件的只有 "
                f"{len(chosen) + len(rest)} 道（难度 {plan.difficulty.min}–{plan.difficulty.max}，"
                f"已去掉排除的和前面大题用过的题）",
                path=blueprint.path, line=plan.line,
            )
        rest = [q for q in rest if q.id not in blocked]
        if focus is None:
            drawn = _draw(rest, free_needed, rng, partners)
            reasons = ["free"] * len(drawn)
        else:
            # The free part leans toward the group's weak topics.
            weighted = [focus.weight(q.topic) for q in rest]
            ranked = _weighted_sample(rest, len(rest), [w for w, _ in weighted], rng)
            drawn = _draw(rest, free_needed, rng, partners, order=ranked)
            reasons = [weighted[rest.index(q)][1] for q in drawn]
        if len(drawn) < free_needed:
            raise _cue_shortage(plan, "", plan.count, len(chosen) + len(drawn), blueprint.path, plan.line)
        for question, reason in zip(drawn, reasons):
            chosen.append((question, reason))
            taken.add(question.id)
            blocked |= partners.get(question.id, set())
        if plan.difficulty.mean is not None:
            chosen = _steer_mean(chosen, [q for q in pool if q.id not in blocked or q.id in taken],
                                 plan.difficulty.mean, rng, partners)
            blocked = set().union(*(partners.get(q, set()) for q in used | {q.id for q, _ in chosen}))
        used.update(q.id for q, _ in chosen)
        chosen.sort(key=lambda item: order[item[0].id])
        result.append(SelectedSection(plan, [Chosen(q, bank_of[q.id], reason) for q, reason in chosen]))
    return result


def _cue_shortage(plan: SectionPlan, what: str, needed: int, got: int, path, line) -> BlueprintError:
    return BlueprintError(
        f"{plan.title}：{what}需要 {needed} 道{TYPE_LABELS_ZH[plan.type]}题，去掉与已选的题互相提示的题后只能选出 {got} 道",
        path=path, line=line,
        hint="互相提示的题不能同卷：运行 papergen bank lint --select cross-cue,duplicate-fact 查看并修改这些题，或减少题量",
    )


def _steer_mean(
    chosen: list[tuple[Question, str]], pool: list[Question], target: float, rng: random.Random,
    partners: dict[str, set[str]] | None = None,
) -> list[tuple[Question, str]]:
    """Swap questions (within their quota group) until the mean difficulty is near ``target``.

    A swap never brings in a partner of a question that stays (``partners``).
    """
    partners = partners or {}
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
                and not (partners.get(q.id, set()) & (in_use - {question.id}))
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
