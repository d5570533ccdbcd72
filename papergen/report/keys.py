"""The answer key in force after corrections (``papergen rekey``), in the words the reports use.

Scoring itself reads ``grade.settle.key_book``; this module only says, for
the outputs (rekey's messages, report.xlsx's 题目分析 and 审计 sheets), which
answers score now and whether a recorded change is still the one in force.
"""

from __future__ import annotations

from collections.abc import Sequence

from papergen.bank.model import LETTERS
from papergen.exam.manifest import Manifest
from papergen.exam.variants import display_letters
from papergen.grade.settle import KeyInForce, key_book
from papergen.grade.store import KeyChange
from papergen.render.paper import KeyCorrection

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


#: What a voided question's key shows.
VOID_SHOWN = "作废"


def shown_key(key: KeyInForce, permutation: Sequence[int], printed: str) -> tuple[str, str]:
    """A corrected key as one variant's key file shows it: (answer now, note)."""
    if key.void == "full":
        return VOID_SHOWN, "全体得分"
    if key.void == "drop":
        return VOID_SHOWN, "不计分"
    shown = " 或 ".join(sorted(display_letters("".join(LETTERS[i] for i in answer), permutation) for answer in key.keys))
    return shown, f"更正，原 {printed}"


def key_corrections(manifest: Manifest, changes: Sequence[KeyChange], variant: str) -> dict[str, KeyCorrection]:
    """What one variant's key shows now for each corrected question (bank id → correction): the re-rendered key
    files and the feedback PDFs print it."""
    in_force = keys_in_force(manifest, changes)
    return {
        item.id: KeyCorrection(*shown_key(in_force[item.id], item.permutation, item.key))
        for item in manifest.variant(variant).items if item.id in in_force
    }
