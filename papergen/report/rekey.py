"""``papergen rekey``: correct a key after the exam, re-score from the stored readings, re-render the keys.

A teacher names the question either by its bank id (``--question``, bank
letters) or as printed ("A 卷第 13 题", ``--paper``/``--number``, that
paper's letters, translated to the bank's through the variant's option
permutation). ``resolve_request`` turns the options into a ``KeyRequest``
and refuses, in Chinese, anything that does not fit the exam: an unknown
question or paper, a letter the question does not have, two answers on a
single-choice question, a change that changes nothing.

``change_key`` records the change in the results store through
``grade.settle.rekey`` (an append-only audit trail, like an override), then
reads every student's result again (``grade.results.student_results``
scores from the stored readings, overrides and key changes at read time,
so nothing is re-scanned) and says what moved: how many totals, by how
much, the new average. Which key is in force is ``grade.settle.key_book``'s
answer, said in the reports' words by ``report.keys``.

The exam folder is never silently out of date: ``printed_key_mismatches``
lists every printed key file and 题号 that no longer says what is scored,
and ``render_corrected_keys`` renders the key files (PDF and DOCX) again
with the corrections marked, leaving the question papers, the answer sheet
and ``exam.json`` as printed. (``exam.json`` must stay: the store checks it
is the manifest it was graded with, and the corrections live in the store.)

This module sits in ``report``: it needs the grading store (``grade``) and
the renderers (``render``), which are one layer below, and the bank check
of ``report.feedback.exam_questions``.
"""

from __future__ import annotations

import difflib
import getpass
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from papergen.bank.model import LETTERS
from papergen.core.errors import DecisionInvalid, InputFileError
from papergen.exam.manifest import Manifest, ManifestQuestion, read_manifest
from papergen.exam.variants import bank_letters, display_letters
from papergen.grade.results import student_results
from papergen.grade.settle import KeyInForce, rekey, score_marked
from papergen.grade.store import (
    KeyChange,
    deciding_store,
    key_changes,
    manifest_from_store,
)
from papergen.report.keys import (
    ACTIONS,
    VOID_SHOWN,
    answers_in_force,
    change_state,
    changes_in_force,
    key_corrections,
    keys_in_force,
    shown_key,
)

#: The environment variable naming the grader when ``--grader`` is not given.
GRADER_VARIABLE = "PAPERGEN_GRADER"


class RekeyRefused(DecisionInvalid):
    """A key change that does not fit the exam (unknown question, letter, paper); nothing was recorded (exit 13)."""


@dataclass(frozen=True)
class KeyRequest:
    """One key change, resolved against the exam: in bank letters, by bank id."""

    question_id: str
    action: str  # key | accept | void-full | void-drop | restore
    answers: tuple[str, ...]  # bank letters: one for key, two or more for accept, none otherwise
    named_as: str  # how the teacher named the question: "A 卷第 13 题" or "题目 xjy-017"
    typed: str = ""  # the answers as the teacher gave them, with the letters they were in: "C（A 卷字母）"


def default_grader() -> str:
    """$PAPERGEN_GRADER, else the login name."""
    name = os.environ.get(GRADER_VARIABLE, "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "未署名"


# -- resolving what the teacher asked for ---------------------------------------------------


def _normalise_letters(text: str) -> str:
    return "".join(ch for ch in text.upper() if not ch.isspace() and ch not in ",，、")


def _question_by_paper(manifest: Manifest, paper: str, number: int) -> tuple[str, tuple[int, ...]]:
    names = [v.name for v in manifest.variants]
    paper = paper.strip().upper().removesuffix("卷")
    if paper not in names:
        raise RekeyRefused(f"本考试没有 {paper} 卷（有 {'、'.join(names)} 卷）")
    items = manifest.variant(paper).items
    if not 1 <= number <= len(items):
        raise RekeyRefused(f"{paper} 卷没有第 {number} 题（共 {len(items)} 题）")
    item = items[number - 1]
    return item.id, item.permutation


def _checked_letters(text: str, question: ManifestQuestion, shown_as: str) -> str:
    """One answer as typed → its letters in order, checked against the question's options and type."""
    letters = _normalise_letters(text)
    allowed = LETTERS[: question.options]
    wrong = [ch for ch in letters if ch not in allowed]
    if not letters:
        raise RekeyRefused(f"{shown_as}：答案不能为空（用 --void 作废这道题）")
    if wrong:
        raise RekeyRefused(f"{shown_as}只有 {allowed[0]}–{allowed[-1]} {question.options} 个选项，没有 {''.join(wrong)}")
    if len(set(letters)) != len(letters):
        raise RekeyRefused(f"{shown_as}：答案 {text} 中有重复的字母")
    ordered = "".join(sorted(letters))
    if question.type == "single" and len(ordered) != 1:
        raise RekeyRefused(
            f"{shown_as}是单选题，答案只能是一个字母，现在是 {ordered}",
            hint="几个答案都算对时用 --accept，例如 --accept B,C",
        )
    if question.type == "multiple" and len(ordered) < 2:
        raise RekeyRefused(f"{shown_as}是多选题，答案至少两个字母，现在是 {ordered}")
    return ordered


def resolve_request(
    manifest: Manifest,
    changes: Sequence[KeyChange],
    *,
    question: str | None = None,
    paper: str | None = None,
    number: int | None = None,
    key: str | None = None,
    void: str | None = None,
    accept: str | None = None,
    restore: bool = False,
) -> KeyRequest:
    """The options of ``papergen rekey`` as a checked ``KeyRequest``; ``RekeyRefused`` says what is wrong.

    ``key``/``accept`` are in bank letters with ``question`` and in the
    paper's printed letters with ``paper``/``number``; ``accept`` separates
    answers with commas ("B,C", or "AB,ABC" on a 多选 question).
    """
    if (question is None) == (paper is None and number is None):
        raise RekeyRefused("指定一道题：--question 题目编号，或 --paper 试卷类型 加 --number 题号（二选一）")
    if question is None and (paper is None or number is None):
        raise RekeyRefused("--paper 和 --number 要一起给出，例如 --paper A --number 13")
    chosen = [name for name, given in (("--key", key), ("--void", void), ("--accept", accept), ("--restore", restore))
              if given not in (None, False)]
    if len(chosen) != 1:
        raise RekeyRefused(
            "给出一种改动：--key、--void、--accept 或 --restore（只能一种）"
            + (f"；现在给了 {'、'.join(chosen)}" if chosen else "")
        )
    if question is not None:
        question_id = question.strip()
        if question_id not in manifest.questions:
            close = difflib.get_close_matches(question_id, list(manifest.questions), n=3)
            raise RekeyRefused(
                f"本考试没有题目 {question_id}" + (f"（是不是 {'、'.join(close)}？）" if close else ""),
                hint="题目编号见答案文件的“题目编号”列或 report.xlsx 的“题目分析”；也可以用 --paper A --number 13",
            )
        permutation = None
        named_as = f"题目 {question_id}"
    else:
        question_id, permutation = _question_by_paper(manifest, paper, number)
        named_as = f"{paper.strip().upper().removesuffix('卷')} 卷第 {number} 题"
    entry = manifest.questions[question_id]
    shown_as = f"{named_as}（{question_id}）" if permutation is not None else named_as
    in_force = keys_in_force(manifest, changes).get(question_id)

    def to_bank(letters: str) -> str:
        return bank_letters(letters, permutation) if permutation is not None else letters

    if restore:
        if in_force is None:
            raise RekeyRefused(f"{shown_as}没有更正过，用的就是印刷的答案")
        return KeyRequest(question_id, "restore", (), named_as)
    if void is not None:
        if void not in ("full", "drop"):
            raise RekeyRefused(f"--void 只能是 full（全体得分）或 drop（不计分），不是 {void}")
        action = f"void-{void}"
        if in_force is not None and in_force.void == void:
            raise RekeyRefused(f"{shown_as}已经{ACTIONS[action]}，没有改动")
        return KeyRequest(question_id, action, (), named_as)
    if key is not None:
        answers: tuple[str, ...] = (to_bank(_checked_letters(key, entry, shown_as)),)
        action = "key"
    else:
        typed = [part for part in accept.replace("，", ",").replace("、", ",").split(",") if part.strip()]
        answers = tuple(sorted(dict.fromkeys(to_bank(_checked_letters(part, entry, shown_as)) for part in typed)))
        if len(answers) < 2:
            raise RekeyRefused(f"--accept 要给出至少两个都算对的答案，用逗号分开，例如 --accept B,C（现在是 {accept}）")
        action = "accept"
    if permutation is not None:
        on_paper = sorted(display_letters(a, permutation) for a in answers)
        typed = f"{_bank_words(on_paper)}（{named_as.split(' ')[0]} 卷的字母，题库中为 {_bank_words(answers)}）"
    else:
        typed = f"{_bank_words(answers)}（题库的字母）"
    if set(answers_in_force(manifest, question_id, in_force)) == set(answers):  # a voided question: empty, never equal
        raise RekeyRefused(f"{shown_as}的答案已经是 {typed}，没有改动")
    return KeyRequest(question_id, action, answers, named_as, typed)


def _bank_words(answers: Sequence[str]) -> str:
    return " 或 ".join(answers)


# -- what a change means on each printed key --------------------------------------------------


@dataclass(frozen=True)
class KeyMismatch:
    """One printed key that no longer says what is scored: a 题号 on one variant's key files."""

    variant: str
    number: int
    question_id: str
    printed: str  # the variant's letters, as the key was printed
    now: str  # "C", "B 或 C", "作废"
    note: str  # "更正，原 A", "全体得分", "不计分"
    files: tuple[str, ...]  # key-A.pdf, key-A.docx

    def message(self, exam_dir: str | Path | None = None) -> str:
        """"exam/key-A.pdf、key-A.docx 第 13 题 印的是 A，现在是 C"."""
        prefix = f"{exam_dir}/" if exam_dir is not None else ""
        where = "、".join([prefix + self.files[0], *self.files[1:]])
        now = self.now if self.now != VOID_SHOWN else f"{self.now}（{self.note}）"
        return f"{where} 第 {self.number} 题 印的是 {self.printed}，现在是 {now}（题目 {self.question_id}）"


def printed_key_mismatches(manifest: Manifest, changes: Sequence[KeyChange]) -> list[KeyMismatch]:
    """Every 题号 of every variant whose printed key no longer says what is scored, by variant and number."""
    from papergen.render.build import key_files

    in_force = keys_in_force(manifest, changes)
    mismatches = []
    for variant in manifest.variants:
        for item in variant.items:
            change = in_force.get(item.id)
            if change is None:
                continue
            now, note = shown_key(change, item.permutation, item.key)
            mismatches.append(
                KeyMismatch(variant.name, item.number, item.id, item.key, now, note, tuple(key_files(variant.name)))
            )
    return mismatches


def correction_notice(manifest: Manifest, changes: Sequence[KeyChange], variant: str) -> str:
    """The sentence under a re-rendered key's title: which 题号 changed, when and by whom."""
    in_force = keys_in_force(manifest, changes)
    if not in_force:
        return ""
    parts = []
    for item in manifest.variant(variant).items:
        change = in_force.get(item.id)
        if change is None:
            continue
        now, note = shown_key(change, item.permutation, item.key)
        said = f"{now}（{note}）" if now == VOID_SHOWN else f"原 {item.key}，现 {now}"
        parts.append(f"第 {item.number} 题 {said}")
    latest = max((c for c in changes if c.state == "active"), key=lambda c: c.id)
    return f"本答案在考试后作了更正：{'；'.join(parts)}。最近一次更正：{_when(latest.at)}，{latest.grader}。"


def _when(at: str) -> str:
    """"2026-12-06T08:56:32Z" → "2026-12-06 08:56 UTC"."""
    return at[:16].replace("T", " ") + " UTC" if at.endswith("Z") else at


def render_corrected_keys(exam_dir: str | Path, manifest: Manifest, changes: Sequence[KeyChange]) -> list[Path]:
    """Render every variant's key files (PDF, DOCX) in ``exam_dir`` again with the corrections marked.

    ``exam_dir`` must hold the exam the store was graded with (same exam id
    and build fingerprint), and the banks it was built from must be
    unchanged (``report.feedback.exam_questions``). The question papers,
    the sheet and ``exam.json`` stay as printed. With no correction in force
    the keys are rendered as first printed.
    """
    from papergen.render.build import MANIFEST_NAME, write_keys
    from papergen.render.paper import corrected_paper, paper_for_variant
    from papergen.report.feedback import exam_questions

    exam_dir = Path(exam_dir)
    built = read_manifest(exam_dir / MANIFEST_NAME)
    if built.exam != manifest.exam or built.build != manifest.build:
        raise InputFileError(
            f"这个考试文件夹是考试 {built.exam}（组卷指纹 {built.build}），不是这个成绩库的考试 "
            f"{manifest.exam}（组卷指纹 {manifest.build}）；没有重新生成答案",
            path=exam_dir, hint="给出组卷时的输出文件夹（有 exam.json、key-A.pdf 的那个）",
        )
    questions = exam_questions(manifest)
    papers = []
    for variant in manifest.variants:
        paper = paper_for_variant(manifest, questions, variant.name)
        corrections = key_corrections(manifest, changes, variant.name)
        papers.append(corrected_paper(paper, corrections, correction_notice(manifest, changes, variant.name)))
    return write_keys(exam_dir, papers)


# -- recording a change and saying what it did ------------------------------------------------


@dataclass(frozen=True)
class RekeyOutcome:
    """What one key change did to the results."""

    change_id: int
    request: KeyRequest
    students: int  # results compared (every sheet's row)
    changed: int  # rows whose total changed
    gained: int
    lost: int
    min_delta: float  # 0 when nothing changed
    max_delta: float
    mean_before: float  # over the students in the statistics; NaN with none
    mean_after: float
    full_before: float
    full_after: float
    seconds: float  # recording the change plus re-scoring every student (one ``student_results`` pass)
    mismatches: list[KeyMismatch]


def _full_marks(manifest: Manifest, changes: Sequence[KeyChange]) -> float:
    dropped = {qid for qid, key in keys_in_force(manifest, changes).items() if key.void == "drop"}
    return sum(q.points for q in manifest.questions.values() if q.id not in dropped)


def _mean(totals: list[float]) -> float:
    return sum(totals) / len(totals) if totals else math.nan


def _score_before(manifest: Manifest, question_id: str, choice: str | None, key: KeyInForce | None) -> float:
    """One student's points on the changed question under the key in force before the change.

    As ``settle`` scores it: the options marked under that key, and an
    unsettled (flagged) mark nothing, unless the question was voided for everyone.
    """
    if choice is None:
        voided = key is not None and key.void == "full"
        return manifest.questions[question_id].points if voided else 0.0
    marked = frozenset(LETTERS.index(letter) for letter in choice)
    return score_marked(manifest, question_id, marked, key) or 0.0


def change_key(results_dir: str | Path, request: KeyRequest, *, grader: str, reason: str = "") -> RekeyOutcome:
    """Record ``request`` in the store of ``results_dir`` and re-score every student from the stored readings.

    One full pass of ``student_results`` after the change (what every output
    reads); a student's total before it differs only by the changed
    question, scored again under the earlier key (``settle.score_marked``),
    so the comparison costs no second pass.
    """
    if not grader.strip():
        raise RekeyRefused("阅卷人不能为空（--grader 或环境变量 PAPERGEN_GRADER）")
    question_id = request.question_id
    with deciding_store(results_dir) as db:
        manifest = Manifest.from_json(json.loads(manifest_from_store(db)))
        earlier = key_changes(db, active_only=False)
        key_before = keys_in_force(manifest, earlier).get(question_id)
        start = time.perf_counter()
        change_id = rekey(
            db, manifest, question_id, action=request.action, answers=request.answers,
            grader=grader.strip(), reason=reason.strip(),
        )
        after = student_results(db, manifest)
        seconds = time.perf_counter() - start
        changes = key_changes(db, active_only=False)
    deltas, totals_before, totals_after = [], [], []
    for result in after:
        if result.shown_total is None:
            continue  # 缺考: no total before or after
        delta = 0.0
        if question_id in result.choices:
            delta = result.scores.get(question_id, 0.0) - _score_before(
                manifest, question_id, result.choices[question_id], key_before)
        deltas.append(delta)
        if result.in_stats:
            totals_before.append(result.total - delta)
            totals_after.append(result.total)
    moved = [d for d in deltas if abs(d) > 1e-9]
    return RekeyOutcome(
        change_id=change_id, request=request, students=len(after), changed=len(moved),
        gained=sum(d > 0 for d in moved), lost=sum(d < 0 for d in moved),
        min_delta=min(moved, default=0.0), max_delta=max(moved, default=0.0),
        mean_before=_mean(totals_before), mean_after=_mean(totals_after),
        full_before=_full_marks(manifest, earlier), full_after=_full_marks(manifest, changes), seconds=seconds,
        mismatches=printed_key_mismatches(manifest, changes),
    )


def _points(value: float) -> str:
    return f"{value:+.4g}" if value else "0"


def outcome_lines(outcome: RekeyOutcome, exam_dir: str | Path | None = None) -> list[str]:
    """What ``papergen rekey`` prints after a change."""
    request = outcome.request
    said = ACTIONS[request.action] + (f" → {request.typed}" if request.answers else "")
    named = request.named_as if request.named_as.endswith(request.question_id) else f"{request.named_as}（{request.question_id}）"
    lines = [f"已记录（第 {outcome.change_id} 号更正）：{named} {said}"]
    lines.append(
        f"成绩已按存储的读卡结果重算，用时 {outcome.seconds:.2f} 秒：{outcome.students} 份成绩中 {outcome.changed} 份总分变化"
        + (f"（{outcome.gained} 份升高，{outcome.lost} 份降低；变化 {_points(outcome.min_delta)} 至 {_points(outcome.max_delta)} 分）"
           if outcome.changed else "")
    )
    if not math.isnan(outcome.mean_after):
        lines.append(f"平均分 {outcome.mean_before:.2f} → {outcome.mean_after:.2f}（计入统计的考生）")
    if outcome.full_after != outcome.full_before:
        lines.append(f"满分 {outcome.full_before:g} → {outcome.full_after:g}")
    lines += mismatch_lines(outcome.mismatches, exam_dir)
    return lines


def mismatch_lines(mismatches: Sequence[KeyMismatch], exam_dir: str | Path | None = None) -> list[str]:
    if not mismatches:
        return ["考试文件夹中印的答案与现在的评分一致。"]
    lines = [f"考试文件夹中 {len(mismatches)} 处印的答案与现在的评分不符："]
    lines += [f"  {m.message(exam_dir)}" for m in mismatches]
    if exam_dir is None:
        lines.append("用 --render-keys 考试文件夹 重新生成答案文件（PDF、DOCX，标出更正；试卷不动）。")
    return lines


def list_lines(changes: Sequence[KeyChange], manifest: Manifest) -> list[str]:
    """``papergen rekey --list``: every key change, in force or not, oldest first."""
    if not changes:
        return ["没有更正过答案。"]
    in_force = changes_in_force(manifest, changes)
    numbers: dict[str, list[str]] = {}
    for variant in manifest.variants:
        for item in variant.items:
            numbers.setdefault(item.id, []).append(f"{variant.name}{item.number}")
    rows = [["编号", "时间", "阅卷人", "题目（各卷题号）", "改动（题库字母）", "状态", "原因"]]
    for change in sorted(changes, key=lambda c: c.id):
        state = change_state(change, in_force)
        what = ACTIONS[change.action] + (f" {_bank_words(change.answers)}" if change.answers else "")
        what += f"（原 {change.old}）" if change.old else ""
        rows.append([
            str(change.id), _when(change.at), change.grader,
            f"{change.question_id}（{'/'.join(numbers.get(change.question_id, []))}）", what, state, change.reason,
        ])
    return _table(rows)


def _table(rows: list[list[str]]) -> list[str]:
    """Rows as aligned terminal columns (Chinese characters are two columns wide); nothing raw from the store."""
    from papergen.bank.stats import display_width
    from papergen.grade.results import terminal_text

    rows = [[terminal_text(cell) for cell in row] for row in rows]
    widths = [max(display_width(row[k]) for row in rows) for k in range(len(rows[0]) - 1)]
    return [
        "  ".join([cell + " " * (widths[k] - display_width(cell)) for k, cell in enumerate(row[:-1])] + [row[-1]]).rstrip()
        for row in rows
    ]
