"""STAND-IN for the lead's issue 13 step 2 (settle.rekey, results scored on key changes).

Only what report/rekey.py and its tests need, coded against /work/tools/api13.md.
Deleted when main's "Settle:" commit is merged.
"""

from __future__ import annotations

from collections.abc import Sequence

from papergen.bank.model import LETTERS
from papergen.exam.manifest import Manifest
from papergen.grade import results as real_results
from papergen.grade.store import insert_key_change, key_changes


def rekey(db, manifest: Manifest, question_id: str, *, action: str, answers: Sequence[str] = (), grader: str,
          reason: str = "") -> int:
    in_force = {c.question_id: c for c in key_changes(db)}.get(question_id)
    old = " 或 ".join(in_force.answers) or in_force.action if in_force else manifest.questions[question_id].answer
    return insert_key_change(db, grader=grader, question_id=question_id, action=action, answers=answers, old=old,
                             reason=reason)


def student_results(db, manifest: Manifest):
    results = real_results.student_results(db, manifest)
    latest = {c.question_id: c for c in key_changes(db)}
    latest = {q: c for q, c in latest.items() if c.action != "restore"}
    for result in results:
        if result.absent or result.variant is None:
            continue
        for qid, change in latest.items():
            question = manifest.questions[qid]
            rule = manifest.sections[question.section].scoring
            old = result.scores.get(qid)
            choice = result.choices.get(qid)
            if change.action == "void-drop":
                new = None
            elif change.action == "void-full":
                new = question.points
            elif choice is None:
                continue
            else:
                marked = frozenset(LETTERS.index(x) for x in choice)
                new = max(rule.score(marked, frozenset(LETTERS.index(x) for x in a), question.points) for a in change.answers)
            delta = (new or 0.0) - (old or 0.0)
            result.total += delta
            result.sections[question.section] += delta
            if new is None:
                result.scores.pop(qid, None)
            else:
                result.scores[qid] = new
    return results
