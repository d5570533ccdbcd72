"""Every reason code the grader can produce has a Chinese name (``grade.reasons``).

Reason codes are hyphenated slugs (``multiple-marks``) plus a few one-word
ones; the scan below reads every hyphenated string literal in the grading
package, so a new code added anywhere there fails this test until it is named.
"""

import re
from pathlib import Path

import papergen.grade
from papergen.grade.reasons import REASON_LABELS, reason_label

HYPHENATED = re.compile(r"\"([a-z]+(?:-[a-z]+)+)\"")
NOT_REASONS = {"page-error", "file-error", "read-only"}  # review-row kinds and an SQLite message fragment
ONE_WORD_REASONS = {"faint", "truncated", "unreadable", "encrypted"}


def produced_slugs() -> set[str]:
    folder = Path(papergen.grade.__file__).parent
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        if path.name != "reasons.py":
            found.update(HYPHENATED.findall(path.read_text(encoding="utf-8")))
    return (found - NOT_REASONS) | ONE_WORD_REASONS


def test_the_scan_finds_the_codes_it_should():
    # if the pattern stopped matching, the next test would pass for nothing
    slugs = produced_slugs()
    assert {"multiple-marks", "duplicate-id", "not-a-sheet", "blank-page", "too-large", "variant-unknown"} <= slugs
    assert len(slugs) >= 30


def test_every_code_the_grader_produces_has_a_chinese_name():
    missing = sorted(produced_slugs() - REASON_LABELS.keys())
    assert not missing, f"reason codes without a Chinese name in grade/reasons.py: {missing}"


def test_labels_are_chinese_and_unknown_codes_stay_visible():
    for slug, label in REASON_LABELS.items():
        assert re.search(r"[\u4e00-\u9fff]", label), slug
    assert reason_label("faint") == "填涂过浅/不完整"
    assert reason_label("some-new-code") == "some-new-code"
