"""Class analyses (``report.classes``) on hand-made results with known answers, and their sheets in report.xlsx."""

import dataclasses
import json
import math

import numpy as np
import pytest
from openpyxl import load_workbook

from papergen.exam.manifest import Manifest
from papergen.report import analysis, classes
from papergen.report.data import ExamResults, StudentRow, load_exam_results
from papergen.report.workbook import write_report

# 8 questions of the small exam: 5 single (1 point), 3 multiple (2 points); full marks 11.
# Rows: (class, in_stats, scores in canonical order)
ROWS = [
    ("一班", True, [1, 1, 1, 1, 1, 2, 2, 2]),  # 11: 优秀
    ("一班", True, [1, 1, 1, 0, 0, 2, 2, 0]),  # 7: 及格 (≥ 6.6)
    ("一班", True, [0, 0, 1, 0, 0, 0, 2, 0]),  # 3: 低分 (< 4.4)
    ("二班", True, [1, 1, 1, 1, 1, 2, 0, 0]),  # 7
    ("二班", True, [1, 0, 0, 0, 1, 0, 2, 2]),  # 6: neither 及格 nor 低分
    ("二班", False, [0] * 8),  # 缺考: in no group
]


@pytest.fixture(scope="module")
def known(small_exam, tmp_path_factory) -> ExamResults:
    manifest = Manifest.from_json(json.loads((small_exam / "exam.json").read_text(encoding="utf-8")))
    questions = sorted(manifest.questions.values(), key=lambda q: q.section)
    assert [q.points for q in questions] == [1, 1, 1, 1, 1, 2, 2, 2]
    students, scores = [], []
    for k, (klass, in_stats, row) in enumerate(ROWS):
        students.append(StudentRow(
            f"{k:03d}", f"学生{k}", klass, "A", "已评分" if in_stats else "缺考", float(sum(row)),
            [float(sum(row[:5])), float(sum(row[5:]))], True, True, in_stats, absent=not in_stats,
        ))
        scores.append(row)
    return ExamResults(manifest, questions, students, np.array(scores, dtype=float), [[None] * 8 for _ in ROWS], [],
                       tmp_path_factory.mktemp("known"))


def test_groups_are_the_whole_then_each_class(known):
    groups = classes.class_groups(known)
    assert [g.name for g in groups] == ["全体", "一班", "二班"]
    assert [int(g.rows.sum()) for g in groups] == [5, 3, 2]  # the absent student is in none


def test_three_rates_one_mean_and_place(known):
    whole, one, two = classes.group_summaries(known, classes.class_groups(known))
    assert (whole.n, whole.mean) == (5, pytest.approx(34 / 5))
    assert (one.mean, two.mean) == (pytest.approx(7), pytest.approx(6.5))
    assert (one.place, two.place, whole.place) == (1, 2, 0)
    assert one.above_mean == pytest.approx((7 - 6.8) / 6.8) and whole.above_mean == 0
    # lines at 80 / 60 / 40 % of 11: 8.8, 6.6, 4.4
    assert (whole.excellent_rate, whole.pass_rate, whole.low_rate) == (pytest.approx(1 / 5), pytest.approx(3 / 5), pytest.approx(1 / 5))
    assert (two.excellent_rate, two.pass_rate, two.low_rate) == (0, pytest.approx(1 / 2), 0)
    # section score rates: 一班 single 9/15, multiple 12/18
    assert one.section_rates == (pytest.approx(9 / 15), pytest.approx(12 / 18))


def test_places_tie_and_rates_ignore_unscored_answers(known):
    students = [dataclasses.replace(s) for s in known.students]
    tied = ExamResults(known.manifest, known.questions, students, known.scores.copy(), known.choices, [], known.results_dir)
    tied.scores[4] = [1, 1, 1, 0, 0, 2, 2, 0]  # 二班 now 7 and 7: mean 7, as 一班
    students[4].total = 7.0
    tied.scores[0, 0] = np.nan  # a flagged answer: left out of the rate, not counted wrong
    summaries = classes.group_summaries(tied, classes.class_groups(tied))
    assert [s.place for s in summaries[1:]] == [1, 1]
    assert summaries[1].section_rates[0] == pytest.approx(8 / 14)


def test_score_bands_run_from_the_top(known):
    groups = classes.class_groups(known)
    bands = classes.score_bands(known, groups)
    edges, counts = analysis.histogram([11, 7, 3, 7, 6], 11)
    assert [b.counts[0] for b in bands] == list(counts[::-1])
    assert bands[0].high == 11 and bands[0].closed and not bands[1].closed
    assert [b.running[0] for b in bands][-1] == 5
    for band in bands:
        assert band.counts[0] == band.counts[1] + band.counts[2]  # the classes add up to the whole
    assert bands[0].label == "10～11"


def test_question_rates_per_class_and_upper_lower_is_the_item_analysis_d(known):
    groups = classes.class_groups(known)
    rates = classes.question_rates(known, groups)
    numbers = known.paper_numbers()
    assert [r.numbers["A"] for r in rates] == list(range(1, 9))  # variant A's paper order
    assert all(r.numbers == numbers[known.questions[r.column].id] for r in rates)
    in_stats = known.stats_rows
    d = analysis.upper_lower_discrimination(known.scores[in_stats], known.max_points)
    for r in rates:
        c = r.column
        assert r.rates[0] == pytest.approx(np.nanmean(known.scores[in_stats, c]) / known.max_points[c])
        assert r.rates[1] == pytest.approx(known.scores[:3, c].mean() / known.max_points[c])
        assert r.gap == pytest.approx(d[c])


def test_no_classes_gives_the_whole_only(known):
    plain = ExamResults(known.manifest, known.questions, [
        StudentRow(s.student_id, s.name, "", s.variant, s.status, s.total, s.sections, True, True, s.in_stats, absent=s.absent)
        for s in known.students
    ], known.scores, known.choices, [], known.results_dir)
    groups = classes.class_groups(plain)
    assert [g.name for g in groups] == ["全体"]
    assert classes.group_summaries(plain, groups)[0].place == 0
    assert math.isclose(classes.question_rates(plain, groups)[0].rates[0], classes.question_rates(known, classes.class_groups(known))[0].rates[0])


def test_the_workbook_has_the_class_sheets(small_results, tmp_path):
    results = load_exam_results(small_results)
    path = write_report(results, tmp_path / "r.xlsx").path
    book = load_workbook(path)
    assert {"班级对比", "分数段", "小题得分率"} <= set(book.sheetnames)
    rates = book["小题得分率"]
    headers = [c.value for c in rates[1]]
    assert headers[:3] == ["A卷题号", "B卷题号", "题目编号"] and headers[-3:] == ["高分段", "低分段", "高低差"]
    numbers = results.paper_numbers()
    for row in rates.iter_rows(min_row=2, max_row=1 + len(results.questions), values_only=True):
        assert numbers[row[2]] == {"A": row[0], "B": row[1]}
    assert [row[0] for row in rates.iter_rows(min_row=2, max_row=1 + len(results.questions), values_only=True)] == list(
        range(1, len(results.questions) + 1)
    )
    compare = book["班级对比"]
    assert compare["A2"].value == "全体"
    assert any("没有班级" in str(c.value) for c in compare["A"] if c.value)  # no roster here: said so
