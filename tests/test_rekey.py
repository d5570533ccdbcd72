"""``papergen rekey``: key corrections re-score the stored readings, name the printed keys that no longer
match, and re-render the key files with the corrections marked (papers untouched)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner

from papergen.cli import cli
from papergen.core.errors import ExitCode, InputFileError
from papergen.exam.manifest import Manifest, read_manifest
from papergen.exam.variants import bank_letters, display_letters
from papergen.grade.results import student_results
from papergen.grade.store import key_changes, manifest_from_store, reading_store
from papergen.report import rekey
from papergen.report.data import load_exam_results
from papergen.report.feedback import (
    _printed_paper,
    exam_questions,
    feedback_pdf,
    missed_questions,
)
from papergen.report.keys import keys_in_force
from tests.conftest import SMALL_STUDENTS

WRONG_ON_B1 = "2026030002"  # "one wrong": question 1 of paper B answered with another letter than the key


@pytest.fixture
def graded(small_exam, small_results, tmp_path) -> Path:
    """A private copy of the small graded results (3 students) to change keys in."""
    target = tmp_path / "results"
    shutil.copytree(small_results, target)
    return target


@pytest.fixture
def exam_copy(small_exam, tmp_path) -> Path:
    target = tmp_path / "exam"
    shutil.copytree(small_exam, target)
    return target


def manifest_of(results_dir: Path) -> Manifest:
    with reading_store(results_dir) as db:
        return Manifest.from_json(json.loads(manifest_from_store(db)))


def totals(results_dir: Path) -> dict[str, float]:
    with reading_store(results_dir) as db:
        return {r.student_id: r.total for r in student_results(db, manifest_of(results_dir))}


def changes_of(results_dir: Path):
    with reading_store(results_dir) as db:
        return key_changes(db, active_only=False)


def chosen_on_b1(manifest: Manifest) -> str:
    key = manifest.variant("B").items[0].key
    return next(letter for letter in "ABCD" if letter != key)  # what tests.conftest's "one wrong" student marked


def run(*argv, env=None):
    return CliRunner().invoke(cli, [str(a) for a in argv], env={"PAPERGEN_GRADER": "王老师", **(env or {})})


# -- naming the question and the change -------------------------------------------------------


def test_a_paper_and_number_are_translated_to_the_bank_through_the_permutation(small_exam):
    manifest = read_manifest(small_exam / "exam.json")
    item = manifest.variant("B").items[2]
    shown = next(letter for letter in "ABCD" if letter != item.key)
    request = rekey.resolve_request(manifest, [], paper="B", number=3, key=shown.lower())
    assert request.question_id == item.id and request.action == "key"
    assert request.answers == (bank_letters(shown, item.permutation),)
    assert display_letters(request.answers[0], item.permutation) == shown
    by_id = rekey.resolve_request(manifest, [], question=item.id, key=request.answers[0])
    assert by_id.answers == request.answers


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"question": "nope", "key": "A"}, "本考试没有题目 nope"),
        ({"paper": "E", "number": 1, "key": "A"}, "本考试没有 E 卷"),
        ({"paper": "A", "number": 99, "key": "A"}, "A 卷没有第 99 题（共 8 题）"),
        ({"paper": "A", "number": 1, "key": "Z"}, "没有 Z"),
        ({"paper": "A", "number": 1, "key": "AB"}, "单选题，答案只能是一个字母"),
        ({"paper": "A", "number": 8, "key": "A"}, "多选题，答案至少两个字母"),
        ({"paper": "A", "number": 1, "key": "A", "void": "full"}, "只能一种"),
        ({"paper": "A", "number": 1}, "给出一种改动"),
        ({"paper": "A", "key": "A"}, "--paper 和 --number 要一起给出"),
        ({"question": "x", "paper": "A", "number": 1, "key": "A"}, "二选一"),
        ({"paper": "A", "number": 1, "accept": "B"}, "至少两个"),
        ({"paper": "A", "number": 1, "restore": True}, "没有更正过"),
        ({"paper": "A", "number": 1, "void": "half"}, "只能是 full"),
    ],
)
def test_a_change_that_does_not_fit_the_exam_is_refused_in_chinese(small_exam, options, message):
    manifest = read_manifest(small_exam / "exam.json")
    with pytest.raises(rekey.RekeyRefused, match=message) as caught:
        rekey.resolve_request(manifest, [], **options)
    assert caught.value.exit_code == ExitCode.decision_invalid


def test_the_key_already_in_force_is_no_change(small_exam):
    manifest = read_manifest(small_exam / "exam.json")
    item = manifest.variant("A").items[0]
    with pytest.raises(rekey.RekeyRefused, match="没有改动"):
        rekey.resolve_request(manifest, [], paper="A", number=1, key=item.key)


# -- re-scoring from the stored readings ----------------------------------------------------------


def test_a_new_key_rescores_every_student_and_report_and_feedback_agree(graded):
    manifest = manifest_of(graded)
    before = totals(graded)
    item = manifest.variant("B").items[0]
    request = rekey.resolve_request(manifest, [], paper="B", number=1, key=chosen_on_b1(manifest))
    outcome = rekey.change_key(graded, request, grader="王老师", reason="答案印错")
    after = totals(graded)
    assert after[WRONG_ON_B1] == before[WRONG_ON_B1] + 1  # chose the new key: gains the question's point
    for sid, (variant, _) in SMALL_STUDENTS.items():
        if variant == "A":  # they marked the printed key there (or left it blank): lose it or stay
            assert after[sid] in (before[sid] - 1, before[sid])
    assert outcome.changed == sum(after[s] != before[s] for s in before)
    assert outcome.max_delta == 1 and outcome.gained >= 1
    assert outcome.mean_before == pytest.approx(sum(before.values()) / 3)
    assert outcome.mean_after == pytest.approx(sum(after.values()) / 3)
    change = changes_of(graded)[-1]
    assert (change.question_id, change.action, change.answers, change.grader, change.reason) == (
        item.id, "key", request.answers, "王老师", "答案印错")
    # report.xlsx and feedback read the same results; feedback's 错题本 shows the corrected key
    results = load_exam_results(graded)
    row = next(i for i, s in enumerate(results.students) if s.student_id == WRONG_ON_B1)
    assert results.students[row].total == after[WRONG_ON_B1]
    bank = exam_questions(results.manifest)
    assert any(after[sid] < before[sid] for sid, (v, _) in SMALL_STUDENTS.items() if v == "A")
    assert item.id not in {m.printed.id for m in missed_questions(results, row, _printed_paper(results, bank, "B"))}
    for sid, (variant, _) in SMALL_STUDENTS.items():
        if variant == "A" and after[sid] < before[sid]:  # had the printed key: now missed, with the key in force shown
            row = next(i for i, s in enumerate(results.students) if s.student_id == sid)
            missed = {m.printed.id: m for m in missed_questions(results, row, _printed_paper(results, bank, "A"))}
            on_a = next(i for i in manifest.variant("A").items if i.id == item.id)
            correction = missed[item.id].printed.correction
            assert correction.shown == display_letters(request.answers[0], on_a.permutation)
            assert correction.note == f"更正，原 {on_a.key}"
            pdf = feedback_pdf(results, row, _printed_paper(results, bank, "A"))
            assert f"{correction.shown}（更正，原 {on_a.key}）" in pdf_bytes_text(pdf)


def test_void_full_gives_everyone_who_sat_full_marks_and_void_drop_removes_the_question(graded):
    manifest = manifest_of(graded)
    item = manifest.variant("B").items[0]
    before = totals(graded)
    rekey.change_key(graded, rekey.resolve_request(manifest, [], question=item.id, void="full"), grader="t")
    full = totals(graded)
    assert full[WRONG_ON_B1] == before[WRONG_ON_B1] + 1
    assert all(full[s] >= before[s] for s in before)
    outcome = rekey.change_key(
        graded, rekey.resolve_request(manifest, changes_of(graded), question=item.id, void="drop"), grader="t")
    dropped = totals(graded)
    assert dropped[WRONG_ON_B1] == before[WRONG_ON_B1]
    moved = [dropped[s] - full[s] for s in full if dropped[s] != full[s]]  # from "everyone full" to "not counted"
    assert (outcome.changed, outcome.min_delta, outcome.max_delta) == (len(moved), min(moved), max(moved))
    assert outcome.full_after == outcome.full_before - manifest.questions[item.id].points


def test_accepting_several_answers_counts_the_best_and_restore_brings_back_the_printed_key(graded):
    manifest = manifest_of(graded)
    item = manifest.variant("B").items[0]
    before = totals(graded)
    both = f"{item.key},{chosen_on_b1(manifest)}"
    rekey.change_key(graded, rekey.resolve_request(manifest, [], paper="B", number=1, accept=both), grader="t")
    accepted = totals(graded)
    assert accepted[WRONG_ON_B1] == before[WRONG_ON_B1] + 1
    assert all(accepted[s] >= before[s] for s in before)  # nobody who had the printed key loses it
    rekey.change_key(graded, rekey.resolve_request(manifest, changes_of(graded), question=item.id, restore=True), grader="t")
    assert totals(graded) == before
    assert keys_in_force(manifest, changes_of(graded)) == {}


# -- the exam folder -------------------------------------------------------------------------------


def test_the_printed_keys_that_no_longer_match_are_named_by_file_and_number(graded):
    manifest = manifest_of(graded)
    item = manifest.variant("B").items[0]
    rekey.change_key(graded, rekey.resolve_request(manifest, [], paper="B", number=1, key=chosen_on_b1(manifest)),
                     grader="t")
    mismatches = rekey.printed_key_mismatches(manifest, changes_of(graded))
    assert {(m.variant, m.number) for m in mismatches} == {
        (v.name, i.number) for v in manifest.variants for i in v.items if i.id == item.id}
    on_b = next(m for m in mismatches if m.variant == "B")
    assert on_b.message("exam") == (
        f"exam/key-B.pdf、key-B.docx 第 1 题 印的是 {item.key}，现在是 {chosen_on_b1(manifest)}（题目 {item.id}）")


def pdf_bytes_text(data: bytes) -> str:
    document = pdfium.PdfDocument(data)
    try:
        return "".join(document[i].get_textpage().get_text_range() for i in range(len(document))).replace("\r\n", "")
    finally:
        document.close()


def pdf_text(path: Path) -> str:
    document = pdfium.PdfDocument(str(path))
    try:
        return "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    finally:
        document.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_render_keys_marks_corrections_and_leaves_the_papers_alone(graded, exam_copy):
    manifest = manifest_of(graded)
    untouched = {p.name: digest(p) for p in exam_copy.iterdir() if not p.name.startswith("key-")}
    keys_before = {p.name: digest(p) for p in exam_copy.glob("key-*")}
    item = manifest.variant("B").items[0]
    rekey.change_key(graded, rekey.resolve_request(manifest, [], paper="B", number=1, key=chosen_on_b1(manifest)),
                     grader="王老师")
    dropped = manifest.variant("A").items[1]
    rekey.change_key(graded, rekey.resolve_request(manifest, changes_of(graded), paper="A", number=2, void="drop"),
                     grader="王老师")
    written = rekey.render_corrected_keys(exam_copy, manifest, changes_of(graded))
    assert sorted(p.name for p in written) == sorted(keys_before)
    assert {p.name: digest(p) for p in exam_copy.iterdir() if not p.name.startswith("key-")} == untouched
    assert all(digest(exam_copy / name) != old for name, old in keys_before.items())
    text_b = pdf_text(exam_copy / "key-B.pdf")
    assert f"更正，原 {item.key}" in text_b and "本答案在考试后作了更正" in text_b
    text_a = pdf_text(exam_copy / "key-A.pdf")
    assert "作废" in text_a and "不计分" in text_a and f"第 {dropped.number} 题 作废" in text_a
    import docx

    document = docx.Document(str(exam_copy / "key-B.docx"))
    cells = " ".join(c.text for t in document.tables for r in t.rows for c in r.cells)
    assert f"更正，原 {item.key}" in cells


def test_render_keys_refuses_another_exams_folder(graded, other_exam):
    with pytest.raises(InputFileError, match="不是这个成绩库的考试"):
        rekey.render_corrected_keys(other_exam, manifest_of(graded), [])


# -- the command line ------------------------------------------------------------------------------


def test_the_command_prints_what_changed_lists_changes_and_uses_documented_exit_codes(graded, exam_copy):
    manifest = manifest_of(graded)
    new = chosen_on_b1(manifest)
    result = run("rekey", graded, "--paper", "B", "--number", 1, "--key", new, "--reason", "印错")
    assert result.exit_code == 0, result.output
    assert "已记录（第 1 号更正）：B 卷第 1 题" in result.output
    assert "份总分变化" in result.output and "平均分" in result.output
    assert f"key-B.pdf、key-B.docx 第 1 题 印的是 {manifest.variant('B').items[0].key}，现在是 {new}" in result.output
    assert run("rekey", graded, "--paper", "B", "--number", 1, "--key", new).exit_code == ExitCode.decision_invalid
    assert run("rekey", graded, "--paper", "Q", "--number", 1, "--key", "A").exit_code == ExitCode.decision_invalid
    assert run("rekey", graded).exit_code == ExitCode.usage
    assert run("rekey", graded.parent / "nowhere", "--list").exit_code == ExitCode.input_file
    listed = run("rekey", graded, "--list")
    assert listed.exit_code == 0 and "王老师" in listed.output and "有效" in listed.output and "印错" in listed.output
    rendered = run("rekey", graded, "--render-keys", exam_copy)
    assert rendered.exit_code == 0 and "已重新生成 4 个答案文件" in rendered.output
    restored = run("rekey", graded, "--paper", "B", "--number", 1, "--restore", "--grader", "李老师")
    assert restored.exit_code == 0 and "印的答案与现在的评分一致" in restored.output
    listed = run("rekey", graded, "--list").output
    assert "李老师" in listed and "已被后来的更正取代" in listed


def test_the_summary_of_one_pass_equals_comparing_two_full_passes(small_exam, tmp_path, monkeypatch):
    """``change_key`` scores only the changed question under the earlier key; every kind of change, on sheets
    with flagged marks and absent candidates, gives what comparing two ``student_results`` passes gives."""
    import dataclasses

    from papergen.sim.graded import answering_cohort, write_graded_store

    monkeypatch.chdir(tmp_path)
    manifest = read_manifest(small_exam / "exam.json")
    sheets = answering_cohort(manifest, 40, seed=9, doubtful_rate=0.15)
    sheets[3] = dataclasses.replace(sheets[3], absent=True, answers={})
    write_graded_store(tmp_path / "results", manifest, sheets)
    item = manifest.variant("A").items[2]
    others = [x for x in "ABCD" if x != item.key]
    steps = [dict(key=others[0]), dict(accept=f"{item.key},{others[1]}"), dict(void="full"), dict(void="drop"),
             dict(key=others[1]), dict(restore=True)]
    for options in steps:
        before = totals(tmp_path / "results")
        request = rekey.resolve_request(manifest, changes_of(tmp_path / "results"), paper="A", number=3, **options)
        outcome = rekey.change_key(tmp_path / "results", request, grader="t")
        after = totals(tmp_path / "results")
        moved = [after[s] - before[s] for s in after if abs(after[s] - before[s]) > 1e-9]
        assert (outcome.changed, outcome.min_delta, outcome.max_delta) == (
            len(moved), min(moved, default=0.0), max(moved, default=0.0)), options
