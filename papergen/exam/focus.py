"""What a remedial paper should weigh: the plan ``selection`` follows.

A ``FocusPlan`` is computed from earlier results by ``papergen.report.focus``;
this module only holds the plan and the remedial paper's identity, so that
building an exam never loads the results store or the workbook code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Weight of a topic with no errors, so that it is still drawn sometimes.
BASE_WEIGHT = 0.05


@dataclass(frozen=True)
class FocusPlan:
    group: str  # how the group is described in messages and the manifest
    error_rates: dict[str, float]  # topic path prefix → error rate
    seen: frozenset[str]  # bank question ids the group has had
    exams: tuple[str, ...] = ()  # the exam ids of the results it was made from

    def weight(self, topic: str) -> tuple[float, str]:
        """Draw weight for a question of ``topic`` and the reason to record.

        The most specific level of the topic path that has data decides.
        """
        parts = topic.split("/")
        for depth in range(len(parts), 0, -1):
            prefix = "/".join(parts[:depth])
            if prefix in self.error_rates:
                rate = self.error_rates[prefix]
                return BASE_WEIGHT + rate, f"focus:{prefix}（{self.group}错误率 {rate:.0%}）"
        return BASE_WEIGHT, f"focus:{topic}（{self.group}无作答记录）"


#: What a remedial paper's title gets, after the original title.
REMEDIAL_TITLE_SUFFIX = "（巩固卷）"


def remedial_identity(exam: str, title: str, plan: FocusPlan) -> tuple[str, str]:
    """The exam id and title of a remedial paper built from ``exam``'s blueprint.

    A remedial paper is another exam: its sheets must never be graded as the
    original's. It gets ``<exam>-R<n>``, one past the highest ``-R<n>`` of the
    same exam among the results it was made from (``2026-mock-03-R1``, then
    ``-R2`` from results that include R1), and the title with "（巩固卷）".
    """
    base = re.sub(r"-R\d+$", "", exam)
    rounds = [int(m.group(1)) for e in (exam, *plan.exams) if (m := re.fullmatch(re.escape(base) + r"-R(\d+)", e))]
    suffix = f"-R{max(rounds, default=0) + 1}"
    new_exam = base[: 40 - len(suffix)] + suffix
    new_title = title if title.endswith(REMEDIAL_TITLE_SUFFIX) else title + REMEDIAL_TITLE_SUFFIX
    return new_exam, new_title
