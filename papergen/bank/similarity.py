"""Near-duplicate detection over short texts (question stems and options).

Texts are compared as sets of character trigrams after dropping whitespace
and punctuation; the score is their Jaccard index. Chinese has no spaces, so
character n-grams are the natural unit. Candidate pairs come from an inverted
index over trigrams, skipping trigrams so common that they say nothing
("下列说"), which keeps large banks far from the all-pairs cost.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

#: A trigram shared by more texts than this is not used to propose pairs.
COMMON_GRAM_LIMIT = 200


def normalize(text: str) -> str:
    """Lower-case NFKC text without whitespace, punctuation or symbols."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PZSC")


def trigrams(text: str) -> frozenset[str]:
    """Character trigrams of the normalized text (a part shorter than 3: itself).

    Lines are taken separately, so texts made of parts ("stem\noption…")
    compare the same whatever order the parts come in.
    """
    grams: set[str] = set()
    for part in text.split("\n"):
        norm = normalize(part)
        if len(norm) < 3:
            if norm:
                grams.add(norm)
            continue
        grams.update(norm[i : i + 3] for i in range(len(norm) - 2))
    return frozenset(grams)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Overlap coefficient: shared trigrams over the smaller set (1.0 when one text holds the other)."""
    if not a or not b:
        return 1.0 if a == b else 0.0
    return len(a & b) / min(len(a), len(b))


def find_similar(
    texts: Sequence[str],
    threshold: float,
    measure: Callable[[frozenset[str], frozenset[str]], float] = jaccard,
    vocabulary: int | None = None,
) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, score)`` with ``i < j`` whose trigram score ≥ ``threshold``.

    Parameters
    ----------
    texts
        The texts to compare.
    threshold
        In (0, 1]; 1.0 finds texts equal after normalization (with ``jaccard``).
    measure
        ``jaccard`` (the default) or ``overlap``.
    vocabulary
        When given, a trigram found in more than this many texts is the
        collection's common vocabulary and is left out of every text before
        scoring (a pair that shares only such trigrams scores 0).
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    grams = [trigrams(text) for text in texts]
    if vocabulary is not None:
        frequency = Counter(gram for gram_set in grams for gram in gram_set)
        grams = [frozenset(g for g in gram_set if frequency[g] <= vocabulary) for gram_set in grams]
    postings: dict[str, list[int]] = defaultdict(list)
    for index, gram_set in enumerate(grams):
        for gram in gram_set:
            postings[gram].append(index)
    candidates: set[tuple[int, int]] = set()
    for members in postings.values():
        if len(members) < 2 or len(members) > COMMON_GRAM_LIMIT:
            continue
        for position, i in enumerate(members):
            for j in members[position + 1 :]:
                candidates.add((i, j))
    pairs = []
    for i, j in sorted(candidates):
        if vocabulary is not None and not (grams[i] and grams[j]):
            continue
        score = measure(grams[i], grams[j])
        if score >= threshold:
            pairs.append((i, j, score))
    return pairs
