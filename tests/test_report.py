"""`papergen report`: the Excel workbook, read back with openpyxl."""

from __future__ import annotations

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
    assert book.sheetnames == ["成绩", "题目分析", "知识点", "分数分布", "班级对比", "分数段", "小题得分率", "待复核"]
    scores = book["成绩"]
    assert [c.value for c in scores[1][:8]] == ["名次", "准考证号", "姓名", "班级", "试卷类型", "状态", "总分", "得分率"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes is not None, sheet.title
        assert sheet.auto_filter.ref, sheet.title
    assert book["知识点"]._charts and book["分数分布"]._charts


def test_user_text_is_never_a_formula(workbook) -> None:
    book, _, _ = workbook
    names = [row[2] for row in book["成绩"].iter_rows(min_row=2)]
    hostile = [cell for cell in names if cell.value and cell.value[0] in "=+-@"]
    assert {cell.value for cell in hostile} >= {'=HYPERLINK("x")', "+王五", "-李四", "@赵六"}
    assert all(cell.data_type == "s" for cell in hostile)


def test_roster_and_sheets_are_reconciled(workbook) -> None:
    book, results, _ = workbook
    rows = {r[1].value: r for r in book["成绩"].iter_rows(min_row=2)}
    assert rows["2026039999"][5].value == STATUS_NO_SHEET and rows["2026039999"][0].value is None
    statuses = {r[5].value for r in rows.values()}
    assert STATUS_ABSENT in statuses
    # the simulated 16th student is not on the roster: listed, and said so
    assert rows["2026030016"][2].value == "（名单中没有）"


def test_ranks_follow_totals_and_ties_share_a_rank(workbook) -> None:
    book, results, _ = workbook
    ranked = [(r[0].value, r[6].value) for r in book["成绩"].iter_rows(min_row=2) if r[0].value]
    totals = np.array([t for _, t in ranked], float)
    assert [rank for rank, _ in ranked] == list(item_stats.competition_ranks(totals))
    assert len(ranked) == int(results.stats_rows.sum())


def test_item_statistics_match_the_score_matrix(workbook) -> None:
    book, results, _ = workbook
    scores = results.scores[results.stats_rows]
    p = item_stats.difficulty_index(scores, results.max_points)
    items = list(book["题目分析"].iter_rows(min_row=2))
    assert len(items) == len(results.questions)
    for c, row in enumerate(items):
        assert row[1].value == results.questions[c].id
        if not np.isnan(p[c]):
            assert row[7].value == pytest.approx(p[c])


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
    assert book.sheetnames == ["Scores", "Items", "Topics", "Distribution", "Classes", "Score bands", "Item rates by class", "Review"]
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
