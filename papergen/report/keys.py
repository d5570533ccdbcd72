"""The answer key in force after corrections (``papergen rekey``), in the words the reports use.

Scoring itself reads ``grade.settle.key_book``; this module only says, for
the outputs (rekey's messages, report.xlsx's 题目分析 and 审计 sheets), which
answers score now and whether a recorded change is still the one in force.
"""

from __future__ import annotations

from collections.abc import Sequence

from papergen.bank.model import LETTERS
from papergen.exam.manifest import Manifest
from papergen.grade.settle import KeyInForce, key_book
from papergen.grade.store import KeyChange

#: What each action records (``key_changes.action``) and how people name it.
ACTIONS = {
    "key": "更正答案",
    "accept": "多个答案均可得分",
    "void-full": "作废（全体得分）",
    "void-drop": "作废（不计分）",
    "restore": "恢复印刷的答案",
}


def keys_in_force(manifest: Manifest, changes: Sequence[KeyChange]) -> dict[str, KeyInForce]:
    """The corrected questions' keys in force (bank id → ``settle.KeyInForce``), from every change, undone ones
    included: the active ones are ``settle.key_book``'s (what scoring uses)."""
    return key_book(manifest, [change for change in changes if change.state == "active"])


def answers_in_force(manifest: Manifest, question_id: str, key: KeyInForce | None) -> tuple[str, ...]:
    """The answers that score on a question (bank letters, as in the manifest); empty for a voided question."""
    if key is None:
        return (manifest.questions[question_id].answer,)
    if key.void is not None:
        return ()
    return tuple(sorted("".join(LETTERS[i] for i in sorted(answer)) for answer in key.keys))


def changes_in_force(manifest: Manifest, changes: Sequence[KeyChange]) -> set[int]:
    """Ids of the changes that set a key in force now (a restored question has none)."""
    return {key.change.id for key in keys_in_force(manifest, changes).values() if key.change is not None}


def change_state(change: KeyChange, in_force: set[int]) -> str:
    """A key change's state in words; ``in_force`` are the ids of ``changes_in_force``."""
    if change.id in in_force:
        return "有效"
    if change.state != "active":
        return "已撤销"
    return "已恢复印刷答案" if change.action == "restore" else "已被后来的更正取代"
