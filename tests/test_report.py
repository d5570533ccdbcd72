"""`papergen report`: the Excel workbook, read back with openpyxl."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from papergen.cli import cli
from papergen.grade.pipeline import grade
from papergen.render.build import build_exam
from papergen.report import analysis as item_stats
from papergen.report.data import STATUS_ABSENT, STATUS_NO_SHEET, load_exam_results
from papergen.report.workbook import write_report
from papergen.sim.run import simulate
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("report")
    build_exam(ROOT / "blueprints" / "2026-mock-03.yaml", base / "exam")
    simulate(base / "exam" / "exam.json", 16, base / "scans", seed=3, degrade="none", dpi=150, absent=1, duplicate_ids=1)
    grade(base / "exam" / "exam.json", [base / "scans"], base / "results", workers=1)
    roster = base / "roster.csv"
    rows = ["准考证号,姓名,班级,座位号"]
    names = ["=HYPERLINK(\"x\")", "+王五", "-李四", "@赵六", "张三"]
    for n in range(1, 16):
        rows.append(f"20260300{n:02d},{names[n % len(names)] if n < 6 else '学生' + str(n)},{'一班' if n % 2 else '二班'},{n}")
    rows.append("2026039999,没来的人,一班,99")  # on the roster, no sheet
    roster.write_text("\n".join(rows), encoding="utf-8")
    return {"base": base, "results": base / "results", "roster": roster}


@pytest.fixture(scope="module")
def workbook(graded):
    out = graded["base"] / "report.xlsx"
    results = load_exam_results(graded["results"], graded["roster"])
    write_report(results, out)
    return load_workbook(out), results, out


def test_sheets_headers_and_layout(workbook) -> None:
    book, _, _ = workbook
    assert book.sheetnames == ["成绩", "题目分析", "知识点", "分数分布", "班级对比", "分数段", "小题得分率", "待复核", "审计"]
    scores = book["成绩"]
    # the roster gives classes, so the rank within the class follows the school rank
    assert [c.value for c in scores[1][:9]] == ["名次", "班级名次", "准考证号", "姓名", "班级", "试卷类型", "状态", "总分", "得分率"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes is not None, sheet.title
        assert sheet.auto_filter.ref, sheet.title
    assert book["知识点"]._charts and book["分数分布"]._charts


def test_user_text_is_never_a_formula(workbook) -> None:
    book, _, _ = workbook
    names = [row[3] for row in book["成绩"].iter_rows(min_row=2)]
    hostile = [cell for cell in names if cell.value and cell.value[0] in "=+-@"]
    assert {cell.value for cell in hostile} >= {'=HYPERLINK("x")', "+王五", "-李四", "@赵六"}
    assert all(cell.data_type == "s" for cell in hostile)


def test_roster_and_sheets_are_reconciled(workbook) -> None:
    book, results, _ = workbook
    rows = {r[2].value: r for r in book["成绩"].iter_rows(min_row=2)}
    assert rows["2026039999"][6].value == STATUS_NO_SHEET and rows["2026039999"][0].value is None
    assert rows["2026039999"][1].value is None  # no class rank either
    statuses = {r[6].value for r in rows.values()}
    assert STATUS_ABSENT in statuses
    # the simulated 16th student is not on the roster: listed, and said so
    assert rows["2026030016"][3].value == "（名单中没有）"


def test_ranks_follow_totals_and_ties_share_a_rank(workbook) -> None:
    book, results, _ = workbook
    ranked = [(r[0].value, r[7].value) for r in book["成绩"].iter_rows(min_row=2) if r[0].value]
    totals = np.array([t for _, t in ranked], float)
    assert [rank for rank, _ in ranked] == list(item_stats.competition_ranks(totals))
    assert len(ranked) == int(results.stats_rows.sum())


def test_class_ranks_rank_within_each_class(workbook) -> None:
    book, results, _ = workbook
    rows = [[c.value for c in r] for r in book["成绩"].iter_rows(min_row=2)]
    classes = {r[4] for r in rows if r[0] and r[4]}
    assert classes == {"一班", "二班"}
    assert all(r[1] is None for r in rows if not r[4])  # not on the roster: no class to rank in
    for klass in classes:
        members = [r for r in rows if r[4] == klass and r[0]]
        totals = np.array([r[7] for r in members], float)
        assert [r[1] for r in members] == list(item_stats.competition_ranks(totals)), klass
        assert min(r[1] for r in members) == 1
    assert all(r[1] is None for r in rows if not r[0])  # not ranked in school: not in class either


def test_without_classes_there_is_no_class_rank(graded, tmp_path: Path) -> None:
    out = tmp_path / "no-roster.xlsx"
    write_report(load_exam_results(graded["results"]), out)
    header = [c.value for c in load_workbook(out)["成绩"][1][:4]]
    assert header == ["名次", "准考证号", "姓名", "班级"]


def test_item_statistics_match_the_score_matrix(workbook) -> None:
    book, results, _ = workbook
    scores = results.scores[results.stats_rows]
    p = item_stats.difficulty_index(scores, results.max_points)
    items = list(book["题目分析"].iter_rows(min_row=2))
    assert len(items) == len(results.questions)
    # rows in the order of the first variant's paper; columns: A卷题号, B卷题号 …, 题目编号, …, 难度
    first = len(results.manifest.variants)
    for row, c in zip(items, results.paper_order()):
        assert row[first].value == results.questions[c].id
        if not np.isnan(p[c]):
            assert row[first + 6].value == pytest.approx(p[c])


def test_topic_error_rates_are_computed_from_scored_attempts(workbook) -> None:
    book, results, _ = workbook
    table = {t.topic: t for t in results.topic_statistics(results.stats_rows)}
    top = [row for row in book["知识点"].iter_rows(min_row=2) if row[1].value == 1]
    for row in top:
        topic = row[0].value
        assert row[4].value == pytest.approx(table[topic].error_rate)
    # hand check for one topic: share of scored attempts without full marks
    topic = top[0][0].value
    columns = [i for i, q in enumerate(results.questions) if q.topic.split("/")[0] == topic]
    block = results.scores[results.stats_rows][:, columns]
    scored = ~np.isnan(block)
    expected = ((block < results.max_points[columns]) & scored).sum() / scored.sum()
    assert top[0][4].value == pytest.approx(expected)


def test_review_sheet_lists_every_open_flag(workbook) -> None:
    book, results, _ = workbook
    assert book["待复核"].max_row - 1 == len(results.review) > 0


def test_english_headers_through_the_cli(graded, tmp_path: Path) -> None:
    out = tmp_path / "report-en.xlsx"
    result = CliRunner().invoke(cli, ["report", str(graded["results"]), "-o", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    assert book.sheetnames == ["Scores", "Items", "Topics", "Distribution", "Classes", "Score bands", "Item rates by class", "Review", "Audit"]
    assert book["Scores"]["A1"].value == "Rank"


def test_workbook_opens_in_libreoffice(workbook, tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    _, _, path = workbook
    result = subprocess.run(
        [soffice, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
        capture_output=True, text=True, timeout=180,
    )
    assert (tmp_path / "report.pdf").exists(), result.stderr


# -- 题号 per variant ---------------------------------------------------------------


def test_items_list_each_variants_paper_number(workbook) -> None:
    book, results, _ = workbook
    sheet = book["题目分析"]
    variants = [v.name for v in results.manifest.variants]
    assert len(variants) >= 2
    assert [c.value for c in sheet[1][: len(variants) + 1]] == [f"{v}卷题号" for v in variants] + ["题目编号"]
    numbers = results.paper_numbers()
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    for row in rows:
        assert row[: len(variants)] == [numbers[row[len(variants)]][v] for v in variants]
    assert [row[0] for row in rows] == list(range(1, len(rows) + 1))  # A卷第1题 first, in paper order


def test_score_columns_are_headed_by_paper_numbers(workbook) -> None:
    book, results, _ = workbook
    sheet = book["成绩"]
    header = [c.value for c in sheet[1]]
    first = header.index(results.manifest.sections[-1].title) + 1
    numbers = results.paper_numbers()
    variants = [v.name for v in results.manifest.variants]
    order = results.paper_order()
    assert header[-2:] == ["人工判定", "黑白扫描"]  # settled by hand, read from a 1-bit scan: after the questions
    header = header[:-2]
    assert len(header) - first == len(order)
    for label, c in zip(header[first:], order):
        qid = results.questions[c].id
        *paper_lines, bank_id = label.split("\n")
        assert bank_id == qid
        assert len(paper_lines) == math.ceil(len(variants) / 2)  # "A13/B17", then "C2/D40"
        shown = re.findall(r"([A-Z])(\d+)", "/".join(paper_lines))
        assert shown == [(v, str(numbers[qid][v])) for v in variants]
    # a teacher looking for "A卷第13题" finds it as the 13th question column
    assert header[first + 12].startswith("A13/")
    # and the scores under it are that question's
    student = next(i for i, s in enumerate(results.students) if s.in_stats)
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[2] == results.students[student].student_id)
    for offset, c in enumerate(order):
        expected = results.scores[student, c]
        assert (row[first + offset] is None) if np.isnan(expected) else row[first + offset] == expected


# -- 待复核 reasons ----------------------------------------------------------------


def test_review_reasons_are_shown_by_their_chinese_names(workbook, graded, tmp_path: Path) -> None:
    from papergen.grade.reasons import reason_label

    book, results, _ = workbook
    shown = [r[3] for r in book["待复核"].iter_rows(min_row=2, values_only=True)]
    assert shown == [reason_label(item.reason) for item in results.review]
    assert all(not name.isascii() for name in shown), shown  # no slug like "faint" reaches the teacher
    out = tmp_path / "en.xlsx"
    write_report(load_exam_results(graded["results"], graded["roster"]), out, lang="en")
    english = [r[3] for r in load_workbook(out)["Review"].iter_rows(min_row=2, values_only=True)]
    assert english == [item.reason for item in results.review]


# -- printing and charts -----------------------------------------------------------


def test_every_sheet_is_set_up_for_a4(workbook) -> None:
    book, _, _ = workbook
    for sheet in book.worksheets:
        assert int(sheet.page_setup.paperSize) == int(sheet.PAPERSIZE_A4), sheet.title
        assert sheet.oddHeader.center.text == "&A", sheet.title
        assert sheet.oddFooter.center.text == "第 &P 页 / 共 &N 页", sheet.title
    scores = book["成绩"]  # 16 students × 45 questions: too wide to shrink onto one page legibly
    assert scores.page_setup.orientation == "landscape"
    assert not scores.sheet_properties.pageSetUpPr.fitToPage and scores.page_setup.scale >= 70
    assert scores.print_title_cols == "$A:$E"  # 名次, 班级名次, 准考证号, 姓名, 班级 on every page
    assert scores.print_title_rows == "$1:$1"
    items = book["题目分析"]
    assert items.sheet_properties.pageSetUpPr.fitToPage and items.page_setup.fitToWidth == 1
    assert items.page_setup.fitToHeight == 0 and items.print_title_rows == "$1:$1"
    assert book["分数分布"].page_setup.orientation in ("portrait", "landscape")
    assert book["分数分布"].sheet_properties.pageSetUpPr.fitToPage


def _chart_cm(chart) -> tuple[float, float]:
    return chart.anchor.ext.width / 360000, chart.anchor.ext.height / 360000


def test_charts_are_sized_by_their_categories(workbook) -> None:
    from papergen.report.charts import BAR_CM, COLUMN_CM

    book, results, _ = workbook
    topics = book["知识点"]
    chart = topics._charts[0]
    n_topics = topics.max_row - 1
    width, height = _chart_cm(chart)
    assert height >= BAR_CM * n_topics
    assert chart.x_axis.tickLblSkip == 1  # every topic labelled
    assert chart.anchor._from.row >= n_topics + 1  # below the table, not over it
    histogram = book["分数分布"]._charts[0]
    bins = sum(1 for r in book["分数分布"].iter_rows(values_only=True) if isinstance(r[0], str) and r[0].startswith("["))
    assert bins >= 5
    assert _chart_cm(histogram)[0] >= COLUMN_CM * bins
    assert histogram.x_axis.tickLblSkip == 1


def test_english_print_labels(graded, tmp_path: Path) -> None:
    out = tmp_path / "en.xlsx"
    write_report(load_exam_results(graded["results"], graded["roster"]), out, lang="en")
    book = load_workbook(out)
    assert book["Scores"]["B1"].value == "Class rank"
    assert book["Items"]["A1"].value == "No. on paper A"
    assert all(sheet.oddFooter.center.text == "Page &P of &N" for sheet in book.worksheets)


def test_streamed_student_rows_read_back_as_the_cells_they_stand_for(graded, tmp_path: Path) -> None:
    """成绩's student rows are XML text papergen writes itself: openpyxl reads each back as the value and style meant."""
    results = load_exam_results(graded["results"], graded["roster"])
    awkward = [" 前后有空格 ", "a & b <c> \"d\"", "换\r行", "王\x07五", "", "Ünïcode 𠀀"]
    named = [student for student in results.students if student.on_roster and not student.duplicate]
    assert len(named) >= len(awkward)
    for student, name in zip(named, awkward):
        student.name = name
    out = tmp_path / "awkward.xlsx"
    write_report(results, out)
    sheet = load_workbook(out)["成绩"]
    header = [cell.value for cell in sheet[1]]
    name_column = header.index("姓名")
    by_id = {row[header.index("准考证号")].value: row for row in sheet.iter_rows(min_row=2)}
    for student, name in zip(named, awkward):
        cell = by_id[student.student_id][name_column]
        # a control character cannot be stored in xlsx and is dropped (as put_text does); "" reads back as empty
        assert (cell.value or "") == name.replace("\x07", ""), name
        assert cell.data_type == "s" or not name
    total_column = header.index("总分")
    first_question = header.index("得分率") + 1 + len(results.manifest.sections)
    for student in results.students:
        row = by_id[student.student_id]
        if student.has_sheet and not student.absent and not student.duplicate:
            assert row[total_column].value == pytest.approx(student.total)
            assert row[total_column].number_format == "0.##"
            marks = row[first_question:first_question + len(results.questions)]
            assert all(cell.fill.fgColor.rgb.endswith(("C6EFCE", "FCE4D6", "FFC7CE", "EDEDED", "FFEB9C")) for cell in marks)
            scored = [cell.value for cell in marks if cell.value is not None]
            order = results.paper_order()
            row_index = results.students.index(student)
            expected = [results.scores[row_index, c] for c in order if not math.isnan(results.scores[row_index, c])]
            assert scored == pytest.approx(expected)


def test_a_result_read_from_a_black_and_white_scan_is_marked_in_the_scores_sheet(tmp_path: Path) -> None:
    import cv2

    build_exam(ROOT / "blueprints" / "2026-mock-03.yaml", tmp_path / "exam")
    simulate(tmp_path / "exam" / "exam.json", 3, tmp_path / "scans", seed=5, degrade="none", dpi=150)
    grey = tmp_path / "scans" / "sheet-0002.jpg"
    page = cv2.imread(str(grey), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(grey.with_suffix(".png")), np.where(page < 128, 0, 255).astype(np.uint8))  # a scanner's 1-bit mode
    grey.unlink()
    grade(tmp_path / "exam" / "exam.json", [tmp_path / "scans"], tmp_path / "results", workers=1)
    results = load_exam_results(tmp_path / "results")
    write_report(results, tmp_path / "report.xlsx")
    sheet = load_workbook(tmp_path / "report.xlsx")["成绩"]
    header = [c.value for c in sheet[1]]
    column = header.index("黑白扫描")
    rows = {r[header.index("准考证号")].value: r[column] for r in sheet.iter_rows(min_row=2)}
    marked = {sid for sid, cell in rows.items() if cell.value}
    assert len(rows) == 3 and len(marked) == 1
    [sid] = marked
    assert rows[sid].value == "是" and rows[sid].fill.fgColor.rgb.endswith("F8CBAD")
    assert [s.black_and_white for s in results.students if s.student_id == sid] == [True]
