"""Who answers what: a simulated cohort and the marks each student means to make.

A cohort answers the exam with a real topic pattern: per-student ability,
topics the whole cohort finds harder, harder questions (a logistic model,
``p_correct``). ``answer_sheet`` turns a student's choices into
``Response``s — the boxes to pencil and what kind of mark each gets — and
what a careful person reads from them, including the deliberately doubtful
cases (``two-marks``, ``faint``, ``tick``) that truth lists as ambiguous.

Every random draw comes from ``random_stream(seed, purpose, sheet, …)``: one
independent stream per purpose and sheet, so answers do not depend on the
degradation level and any sheet can be re-made alone, in any order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from papergen.bank.model import LETTERS
from papergen.core.errors import ExitCode, PapergenError
from papergen.exam.manifest import Manifest

#: Added to every student's logit: the cohort answers about 58 % of questions right.
COHORT_SHIFT = 0.4
#: Logit change per difficulty step away from 3 (the brief's model).
DIFFICULTY_SLOPE = 0.6
#: Spread of the cohort-wide per-topic offsets (some topics are harder for all).
TOPIC_SPREAD = 0.7
#: Spread of a student's own per-topic deviation around the cohort offset.
PERSONAL_TOPIC_SPREAD = 0.4
BLANK_RATE = 0.02
ERASURE_RATE = 0.03
#: Share of students who press lightly (still clearly marks).
LIGHT_HAND_RATE = 0.15
#: Share of anyone's marks pressed lightly (still clearly marks).
LIGHT_MARK_RATE = 0.05
#: Wrong multiple-choice answers: share that are a subset of the key (少选);
#: the rest contain a wrong option (错选).
PARTIAL_SHARE = 0.55
#: A student's pencil darkness (0 paper … 1 solid black): most press normally,
#: ``LIGHT_HAND_RATE`` of them lightly; a light mark (``marks``) is as dark
#: as a light hand's.
NORMAL_TONE = (0.78, 0.95)
LIGHT_TONE = (0.66, 0.75)

DOUBT_SINGLE = ("two-marks", "faint", "tick")
DOUBT_MULTIPLE = ("faint", "tick")

#: Random streams, one per purpose (with the sheet and page as further keys).
STREAM_COHORT, STREAM_ANSWERS, STREAM_PEN, STREAM_DEVICE, STREAM_VIOLATIONS, STREAM_MARKUP = range(6)


class SimulateOptionError(PapergenError):
    """The requested counts cannot be simulated (a command-line mistake)."""

    exit_code = ExitCode.usage


def random_stream(seed: int, *stream: int) -> np.random.Generator:
    """An independent random stream per purpose and sheet, so that answers do not
    depend on the degradation level and any sheet can be re-made alone."""
    return np.random.default_rng([seed % 2**63, *stream])


@dataclass(frozen=True)
class Student:
    sheet: int  # 1-based sheet number
    student_id: str  # what is bubbled (a duplicate reuses another sheet's)
    variant: str
    absent: bool
    ability: float
    topic_skill: dict[str, float]  # top-level topic → cohort offset + own deviation
    tone: float  # this student's pencil darkness
    violation: bool = False  # the invigilator marked 违纪 (the student still answers)


@dataclass(frozen=True)
class Response:
    """One question as drawn on the sheet and as truth records it."""

    number: int
    marks: tuple[tuple[int, str], ...]  # (box index, mark kind)
    letters: str  # what a careful human reads ("" when blank)
    doubt: str = ""  # "" or two-marks | faint | tick


def top_topic(topic: str) -> str:
    return topic.split("/", 1)[0].strip()


def student_ids(n: int, exam: str, digits: int) -> list[str]:
    """``n`` distinct 准考证号 of exactly ``digits`` digits: exam digits + serial.

    ``2026-mock-03`` with 10 digits gives 2026030001, 2026030002, …
    """
    serial = max(4, len(str(n)))
    if serial > digits:
        raise SimulateOptionError(f"准考证号只有 {digits} 位，编不出 {n} 个不同的号码")
    base = "".join(ch for ch in exam if ch.isdigit())[: digits - serial]
    base = base or "9"
    serial = digits - len(base)
    return [f"{base}{i:0{serial}d}" for i in range(1, n + 1)]


def make_cohort(
    manifest: Manifest, n: int, seed: int, *, absent: int = 0, duplicate_ids: int = 0, violations: int = 0
) -> list[Student]:
    """The students behind ``n`` sheets, with absences, duplicated ids and 违纪 marks placed at random.

    违纪 goes on sheets that are not absent and whose 准考证号 no other sheet
    carries, drawn from a stream of its own, so asking for it changes nobody
    else's sheet.
    """
    rng = random_stream(seed, STREAM_COHORT)
    topics = sorted({top_topic(q.topic) for q in manifest.questions.values()})
    offsets = dict(zip(topics, rng.normal(0.0, TOPIC_SPREAD, len(topics))))
    ids = student_ids(n, manifest.exam, manifest.sheet.id_digits)
    order = rng.permutation(n)
    absent_sheets = set(order[:absent].tolist())
    duplicate_sheets = order[absent:absent + duplicate_ids].tolist()
    originals = [i for i in range(n) if i not in absent_sheets and i not in duplicate_sheets]
    copied: set[int] = set()
    for i in duplicate_sheets:
        source = int(rng.choice(originals))
        ids[i] = ids[source]
        copied.add(source)
    names = [v.name for v in manifest.variants]
    # 违纪 on a sheet of its own 准考证号 (not one another sheet also carries), so it is this student's result
    own = [i for i in originals if i not in copied]
    marked = random_stream(seed, STREAM_VIOLATIONS).permutation(own)[:violations]
    violation_sheets = set(int(i) for i in marked)
    students = []
    for i in range(n):
        light = rng.random() < LIGHT_HAND_RATE
        tone = rng.uniform(*(LIGHT_TONE if light else NORMAL_TONE))
        own = rng.normal(0.0, PERSONAL_TOPIC_SPREAD, len(topics))
        students.append(Student(
            sheet=i + 1, student_id=ids[i], variant=names[i % len(names)], absent=i in absent_sheets,
            ability=float(rng.normal()), topic_skill={t: float(offsets[t] + d) for t, d in zip(topics, own)},
            tone=float(tone), violation=i in violation_sheets,
        ))
    return students


def p_correct(ability: float, topic_skill: float, difficulty: int) -> float:
    """Logistic chance of a correct answer."""
    logit = ability + topic_skill - (difficulty - 3) * DIFFICULTY_SLOPE + COHORT_SHIFT
    return 1.0 / (1.0 + math.exp(-logit))


def answer_sheet(manifest: Manifest, student: Student, seed: int, doubtful_rate: float) -> list[Response]:
    """What ``student`` writes for every question (empty when absent)."""
    if student.absent:
        return []
    rng = random_stream(seed, STREAM_ANSWERS, student.sheet)
    variant = manifest.variant(student.variant)
    responses = []
    for item in variant.items:
        q = manifest.questions[item.id]
        key = [LETTERS.index(ch) for ch in item.key]
        chance = p_correct(student.ability, student.topic_skill[top_topic(q.topic)], q.difficulty)
        chosen = _choose(rng, key, q.options, q.type == "multiple", chance)
        responses.append(_draw_response(rng, item.number, chosen, q.options, q.type == "multiple", doubtful_rate))
    return responses


def _choose(rng: np.random.Generator, key: list[int], options: int, multiple: bool, chance: float) -> list[int]:
    if rng.random() < BLANK_RATE:
        return []
    if rng.random() < chance:
        return sorted(key)
    wrong = [i for i in range(options) if i not in key]
    if not multiple:
        return [int(rng.choice(wrong))]
    if len(key) > 1 and (not wrong or rng.random() < PARTIAL_SHARE):
        size = int(rng.integers(1, len(key)))
        return sorted(rng.choice(key, size, replace=False).tolist())
    picked = set(key)
    if len(key) > 1 and rng.random() < 0.5:
        picked.discard(int(rng.choice(key)))  # swap one right option for a wrong one
    picked.add(int(rng.choice(wrong)))
    return sorted(picked)


def _letters(boxes: Sequence[int]) -> str:
    return "".join(LETTERS[i] for i in sorted(boxes))


def _draw_response(
    rng: np.random.Generator, number: int, chosen: list[int], options: int, multiple: bool, doubtful_rate: float
) -> Response:
    if rng.random() < doubtful_rate:
        doubt = str(rng.choice(DOUBT_MULTIPLE if multiple else DOUBT_SINGLE))
        drawn = list(chosen) or [int(rng.integers(options))]
        if doubt == "two-marks":
            drawn.append(int(rng.choice([i for i in range(options) if i not in drawn])))
            marks = tuple((i, "fill") for i in sorted(drawn))
        else:
            odd = int(rng.choice(drawn))
            marks = tuple((i, doubt if i == odd else "fill") for i in sorted(drawn))
        return Response(number, marks, _letters(drawn), doubt)
    marks = [(i, "light" if rng.random() < LIGHT_MARK_RATE else "fill") for i in chosen]
    unused = [i for i in range(options) if i not in chosen]
    if chosen and unused and rng.random() < ERASURE_RATE:
        marks.append((int(rng.choice(unused)), "residue"))  # changed their mind
    return Response(number, tuple(sorted(marks)), _letters(chosen))
