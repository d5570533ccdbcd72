"""Suspected key errors: the strong students chose another answer than the key, or the item discriminates
backwards. A pure function over the score matrix, marked in report.xlsx's 题目分析 sheet."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from openpyxl import load_workbook

from papergen.exam.manifest import read_manifest
from papergen.report import analysis
from papergen.report.data import load_exam_results
from papergen.report.workbook import write_report
from papergen.sim.graded import SyntheticSheet, answering_cohort, write_graded_store


def cohort_matrix(students: int, items: int, seed: int = 1):
    """0/1 scores and letters of a cohort on single-choice items keyed "A" (abler students answer more right)."""
    rng = random.Random(seed)
    choices, scores = [], []
    for _ in range(students):
        ability = rng.gauss(0, 1)
        row_choice, row_score = [], []
        for item in range(items):
            right = rng.random() < 1 / (1 + math.exp((item % 3 - 1) * 0.5 - ability))
            row_choice.append("A" if right else rng.choice("BCD"))
            row_score.append(1.0 if right else 0.0)
        choices.append(row_choice)
        scores.append(row_score)
    return np.array(scores), choices


def test_a_right_key_is_not_suspected():
    scores, choices = cohort_matrix(60, 10)
    assert analysis.suspected_key_errors(scores, choices, [("A",)] * 10, [f"q{k}" for k in range(10)]) == []


def test_a_key_the_strong_students_all_contradict_is_suspected_with_the_answer_they_chose():
    scores, choices = cohort_matrix(60, 10)
    totals = scores.sum(axis=1)
    strong = totals >= np.median(totals)
    # item 4's key is printed "A", but it really is "C": the strong students chose C (and scored 0)
    for row in range(60):
        choices[row][4] = "C" if strong[row] else random.Random(row).choice("ABD")
        scores[row, 4] = 1.0 if choices[row][4] == "A" else 0.0
    found = analysis.suspected_key_errors(
        scores, choices, [("A",)] * 10, [f"q{k}" for k in range(10)], [{"A": k + 1, "B": 10 - k} for k in range(10)])
    assert [f.question_id for f in found] == ["q4"]
    error = found[0]
    assert error.suspected == "C" and error.key == "A" and error.numbers == {"A": 5, "B": 6}
    assert error.upper_suspected_share > 0.9 and error.upper_key_share == 0.0
    assert error.point_biserial < 0
    assert "高分组" in error.message and "选 C" in error.message and "--question q4 --key C" in error.message


def test_a_negative_point_biserial_needs_enough_students_and_a_small_group_proves_nothing():
    scores, choices = cohort_matrix(60, 6)
    scores[:, 2] = 1.0 - scores[:, 2]  # scored backwards: the weak get it "right"
    left_blank = [["A" if s else "" for s in row] for row in scores]  # no other answer to suggest: r_pb alone speaks
    found = analysis.suspected_key_errors(scores, left_blank, [("A",)] * 6, list("abcdef"))
    assert [f.question_id for f in found] == ["c"] and "区分度为负" in found[0].message
    assert found[0].suspected is None and "高分组" not in found[0].message
    few = slice(0, 12)  # upper group of 3: below MIN_UPPER_GROUP; 12 scored: below MIN_SCORED
    small = analysis.suspected_key_errors(scores[few], [["B"] * 6 for _ in range(12)], [("A",)] * 6, list("abcdef"))
    assert small == []


def test_a_voided_question_and_an_accepted_answer_are_not_suspected():
    scores, choices = cohort_matrix(60, 4)
    for row in range(60):
        choices[row][1] = "C" if scores[row].sum() >= 2 else "A"
    keys = [("A",), (), ("A",), ("A",)]
    assert analysis.suspected_key_errors(scores, choices, keys, list("abcd")) == []
    keys[1] = ("A", "C")
    assert analysis.suspected_key_errors(scores, choices, keys, list("abcd")) == []


def test_input_shapes_are_checked():
    with pytest.raises(ValueError, match="choices must have shape"):
        analysis.suspected_key_errors(np.zeros((2, 3)), [["A"] * 3], [("A",)] * 3, list("abc"))


def wrong_key_store(small_exam, tmp_path, *, wrong: bool):
    """60 sheets of the small exam; with ``wrong``, the answers to question 3 of paper A are swapped between its key
    and another option everywhere: as though the printed key were that other option's."""
    manifest = read_manifest(small_exam / "exam.json")
    target = manifest.variant("A").items[2]
    sheets = answering_cohort(manifest, 60, seed=3)
    if wrong:
        swapped = []
        for sheet in sheets:
            item = next(i for i in manifest.variant(sheet.variant).items if i.id == target.id)
            other = next(x for x in "ABCD" if x != item.key and item.permutation[ord(x) - 65] < 4)
            answers = dict(sheet.answers)
            mark = answers.get(item.number, "")
            answers[item.number] = {item.key: other, other: item.key}.get(mark, mark)
            swapped.append(SyntheticSheet(sheet.student_id, sheet.variant, answers))
        sheets = swapped
    write_graded_store(tmp_path / "results", manifest, sheets)
    return tmp_path / "results", target


@pytest.mark.parametrize("wrong", [True, False])
def test_report_marks_the_suspected_key_in_the_item_sheet(small_exam, tmp_path, wrong):
    results_dir, target = wrong_key_store(small_exam, tmp_path, wrong=wrong)
    results = load_exam_results(results_dir)
    suspected = results.suspected_key_errors()
    assert [e.question_id for e in suspected] == ([target.id] if wrong else [])
    write_report(results, tmp_path / "report.xlsx")
    sheet = load_workbook(tmp_path / "report.xlsx")["题目分析"]
    header = [c.value for c in sheet[1]]
    rows = {r[header.index("题目编号")].value: r for r in sheet.iter_rows(min_row=2)}
    for qid, row in rows.items():
        marked = row[header.index("答案")].comment is not None
        assert marked == (wrong and qid == target.id), qid
        look = row[header.index("需关注")].value or ""
        assert look.startswith("疑似答案错误：") == marked
        if marked:
            assert row[0].fill.fgColor.rgb.endswith("F8CBAD")
            assert "高分组" in row[header.index("答案")].comment.text
