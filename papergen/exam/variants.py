"""Variants: the same questions in a different order, options permuted.

Variant ``v`` shuffles the questions within each section and the options
within each question (pinned options keep their place) with a random stream
seeded from the exam seed and ``v`` alone. With ``shuffle: false`` variant A
keeps the bank order of questions and options. Every item records the
permutation and the key both in the variant's letters and in the bank's, so
the grader maps a mark back to the bank option without re-deriving anything.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from papergen.bank.model import LETTERS, Question

if TYPE_CHECKING:  # the manifest (read by every grading worker) needs the variant types, not the selection code
    from papergen.exam.selection import SelectedSection

VARIANT_NAMES = "ABCD"


@dataclass(frozen=True)
class VariantItem:
    number: int  # printed number, 1-based, continuous across sections
    section: int
    id: str  # bank question id
    bank: str
    permutation: tuple[int, ...]  # display position i shows bank option permutation[i]
    key: str  # correct letters in display order
    bank_key: str  # correct letters in bank order

    def bank_option(self, display_index: int) -> int:
        return self.permutation[display_index]


@dataclass(frozen=True)
class Variant:
    name: str
    items: tuple[VariantItem, ...]


def permute_options(question: Question, rng: random.Random) -> tuple[int, ...]:
    """A permutation of the option indices that leaves pinned options in place."""
    free = [i for i, option in enumerate(question.options) if not option.pin]
    shuffled = free[:]
    rng.shuffle(shuffled)
    permutation = list(range(len(question.options)))
    for slot, original in zip(free, shuffled):
        permutation[slot] = original
    return tuple(permutation)


def display_letters(bank_letters: str, permutation: Sequence[int]) -> str:
    """Bank option letters → the letters printed on a variant, in display order.

    Display position ``i`` shows bank option ``permutation[i]``.

    >>> display_letters("AC", (2, 0, 1, 3))
    'AB'
    """
    wanted = {LETTERS.index(letter) for letter in bank_letters}
    return "".join(LETTERS[position] for position, bank in enumerate(permutation) if bank in wanted)


def bank_letters(shown_letters: str, permutation: Sequence[int]) -> str:
    """The letters printed on a variant → the bank's letters, in bank order (the inverse of ``display_letters``).

    >>> bank_letters("AB", (2, 0, 1, 3))
    'AC'
    """
    wanted = {permutation[LETTERS.index(letter)] for letter in shown_letters}
    return "".join(LETTERS[index] for index in sorted(wanted))


def key_in_display_letters(question: Question, permutation: Sequence[int]) -> str:
    return display_letters(question.answer, permutation)


def make_variants(sections: Sequence[SelectedSection], count: int, seed: int, shuffle: bool = True) -> list[Variant]:
    """``count`` variants (A, B, …) of the selected sections."""
    variants = []
    for v in range(count):
        rng = random.Random(f"{seed}/variant/{v}")
        keep_order = not shuffle and v == 0
        items = []
        number = 0
        for s_index, section in enumerate(sections):
            chosen = list(section.chosen)
            if not keep_order:
                rng.shuffle(chosen)
            for pick in chosen:
                number += 1
                question = pick.question
                if keep_order:
                    permutation = tuple(range(len(question.options)))
                else:
                    permutation = permute_options(question, rng)
                items.append(
                    VariantItem(
                        number=number,
                        section=s_index,
                        id=question.id,
                        bank=pick.bank,
                        permutation=permutation,
                        key=key_in_display_letters(question, permutation),
                        bank_key=question.answer,
                    )
                )
        variants.append(Variant(VARIANT_NAMES[v], tuple(items)))
    return variants
