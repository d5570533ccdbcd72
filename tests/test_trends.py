"""`papergen analyze`: topic, class and student trends over several exams."""

from __future__ import annotations

import math
import shutil
import sqlite3
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.chart import LineChart

from papergen.cli import cli
from papergen.core.errors import ExitCode, InputFileError, OutputError
from papergen.grade.pipeline import grade
from papergen.render.build import build_exam
from papergen.report.data import load_exam_results
from papergen.report.trends import (
    ALL_STUDENTS,
    NO_CLASS,
    _topic_order,
    load_trends,
    student_topic_rates,
    write_trends,
)
from papergen.sim.run import simulate
from tests.conftest import ROOT

BLUEPRINT = ROOT / "blueprints" / "2026-mock-03.yaml"
# Simulated 准考证号 are built from the exam id's digits (2026-mock-03 → 202603xxxx),
# so the second exam keeps those digits for the same students to sit both.
SECOND_EXAM = "2026-mock-03b"
SIMULATION_SEED = 11
TRICKY_NAME = "=1+1"


def second_blueprint(folder: Path) -> Path:
    text = BLUEPRINT.read_text(encoding="utf-8")
    text = text.replace("../banks/", f"{ROOT / 'banks'}/")
    text = text.replace("exam: 2026-mock-03", f"exam: {SECOND_EXAM}").replace("seed: 20260306", "seed: 4242")
    text = text.replace("title: 2026年事业单位公共基础知识模拟卷（三）", "title: 2026年事业单位公共基础知识模拟卷（三）补考")
    path = folder / "second.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def sit(blueprint: Path, folder: Path, sheets: int, **options) -> Path:
    build_exam(blueprint, folder / "exam")
    simulate(folder / "exam" / "exam.json", sheets, folder / "scans", seed=SIMULATION_SEED, degrade="none", dpi=150,
             **options)
    grade(folder / "exam" / "exam.json", [folder / "scans"], folder / "results", workers=1)
    return folder / "results"


@pytest.fixture(scope="module")
def exams(tmp_path_factory) -> list[Path]:
    """Two sittings: 10 sheets, then 8 of the same students (one of them absent)."""
    root = tmp_path_factory.mktemp("trends")
    first = sit(BLUEPRINT, root / "first", 10)
    second = sit(second_blueprint(root), root / "second", 8, absent=1)
    return [first, second]


@pytest.fixture(scope="module")
def roster(exams) -> Path:
    """Two classes; student 10 is left off the roster (no class)."""
    lines = ["准考证号,姓名,班级,座位号"]
    for i in range(1, 10):
        name = TRICKY_NAME if i == 1 else f"学生{i}"
        lines.append(f"202603{i:04d},{name},{'一班' if i % 2 else '二班'},{i}")
    path = exams[0].parent.parent / "roster.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trends(exams, roster):
    return load_trends(exams, roster)


@pytest.fixture(scope="module")
def workbook(trends, tmp_path_factory):
    path = write_trends(trends, tmp_path_factory.mktemp("out") / "trends.xlsx")
    return path, load_workbook(path)


def header(sheet, row: int) -> list:
    return [sheet.cell(row=row, column=c).value for c in range(1, sheet.max_column + 1)]


def counted_ids(results) -> set[str]:
    return {s.student_id for s in results.students if s.in_stats}


# -- the workbook ----------------------------------------------------------------


def test_three_sheets_with_headers(trends, workbook) -> None:
    path, book = workbook
    assert book.sheetnames == ["知识点趋势", "班级", "学生"]
    topics, classes, students = book.worksheets
    n = len(trends.exams)
    assert topics["A1"].value is None or topics["A1"].value == ""
    assert topics.cell(row=1, column=3).value == "错误率" and topics.cell(row=1, column=3 + n).value == "题数"
    ids = ["2026-mock-03", SECOND_EXAM]
    assert header(topics, 2)[2:2 + 2 * n] == ids * 2
    titles = header(topics, 3)
    assert titles[:2] == ["知识点", "层级"] and titles[-1] == "最近－最早"
    assert titles[2].startswith("2026年事业单位") and titles[3].endswith("补考")
    assert header(classes, 1) == ["班级", "知识点", "层级", "考试次序", "考试", "题数", "作答人次", "错误率", "平均得分率"]
    labels = header(students, 2)
    assert labels[:7] == ["准考证号", "姓名", "班级", "参加次数", "首次考试", "最近考试", "总体"]
    assert labels[7:7 + len(trends.top_topics)] == trends.top_topics
    assert students.cell(row=1, column=7).value == "最近一次得分率"
    # every sheet: frozen header, autofilter on the header row, column widths, number formats
    for sheet, header_row in ((topics, 3), (classes, 1), (students, 2)):
        assert sheet.freeze_panes and int("".join(ch for ch in sheet.freeze_panes if ch.isdigit())) == header_row + 1
        assert sheet.auto_filter.ref.startswith("A") and sheet.auto_filter.ref.split(":")[0] == f"A{header_row}"
        assert sheet.column_dimensions["A"].width > 8
    assert topics.cell(row=4, column=3).number_format == "0.0%"
    assert classes.cell(row=2, column=8).number_format == "0.0%"


def test_english_headers(trends, tmp_path) -> None:
    book = load_workbook(write_trends(trends, tmp_path / "en.xlsx", lang="en"))
    assert book.sheetnames == ["Topic trends", "By class", "By student"]
    assert header(book["By class"], 1)[:3] == ["Class", "Topic", "Level"]
    assert header(book["By student"], 2)[:2] == ["Student ID", "Name"]


def test_topic_error_rates_equal_each_exams_topic_statistics(exams, trends, workbook) -> None:
    sheet = workbook[1]["知识点趋势"]
    row_of = {topic: r for r, topic in enumerate(trends.topics, start=4)}
    n = len(exams)
    for k, folder in enumerate(exams):
        results = load_exam_results(folder)
        direct = {t.topic: t for t in results.topic_statistics(results.stats_rows)}
        for topic in trends.topics:
            stat = trends.by_exam[topic][k]
            cell = sheet.cell(row=row_of[topic], column=3 + k).value
            count = sheet.cell(row=row_of[topic], column=3 + n + k).value
            if topic not in direct:
                assert stat is None and cell is None and count is None
                continue
            expected = direct[topic]
            assert (stat.questions, stat.attempts) == (expected.questions, expected.attempts)
            assert stat.error_rate == pytest.approx(expected.error_rate)
            assert stat.score_rate == pytest.approx(expected.score_rate)
            assert cell == pytest.approx(expected.error_rate) and count == expected.questions
    everything = {t.topic for f in exams for r in [load_exam_results(f)] for t in r.topic_statistics(r.stats_rows)}
    assert set(trends.topics) == everything


def test_subtopics_follow_their_parent() -> None:
    tables = [{"A": 1, "A/x": 1, "B": 1}, {"B": 1, "B/y": 1, "A": 1, "A/z": 1, "C": 1}]
    assert _topic_order(tables) == ["A", "A/x", "A/z", "B", "B/y", "C"]


def test_line_chart_of_top_level_topics(trends, workbook) -> None:
    path, book = workbook
    charts = book["知识点趋势"]._charts
    assert len(charts) == 1 and isinstance(charts[0], LineChart)
    assert len(charts[0].series) == len(trends.top_topics)
    with zipfile.ZipFile(path) as archive:
        xml = "".join(archive.read(n).decode("utf-8") for n in archive.namelist() if n.startswith("xl/charts/"))
    assert "<c:lineChart>" in xml or "lineChart" in xml


def test_student_sheet_colour_scales(workbook) -> None:
    sheet = workbook[1]["学生"]
    rules = [rule for entry in sheet.conditional_formatting for rule in entry.rules]
    assert len(rules) == 2 and all(rule.type == "colorScale" for rule in rules)
    colours = [c.rgb[-6:] for c in rules[0].colorScale.color]
    assert colours == ["F8696B", "FFEB84", "63BE7B"]  # red → yellow → green


def test_student_rows_are_the_students_counted(exams, trends, workbook) -> None:
    first, second = (load_exam_results(f) for f in exams)
    sheet = workbook[1]["学生"]
    ids = [sheet.cell(row=r, column=1).value for r in range(3, sheet.max_row + 1)]
    assert set(ids) == counted_ids(first) | counted_ids(second) and len(ids) == len(set(ids))
    by_id = {s.student_id: s for s in trends.students}
    for r, sid in enumerate(ids, start=3):
        sat = [k for k, res in enumerate((first, second)) if sid in counted_ids(res)]
        assert by_id[sid].sat == sat
        assert sheet.cell(row=r, column=4).value == len(sat)
        assert sheet.cell(row=r, column=6).value == trends.exams[sat[-1]].exam
    # one student absent from the second sitting, two never sat it
    assert sum(1 for s in trends.students if s.sat == [0]) == 3


def test_student_rates_and_changes(exams, trends) -> None:
    results = [load_exam_results(f) for f in exams]
    top = trends.top_topics
    both = [s for s in trends.students if s.sat == [0, 1]]
    assert both
    for student in both:
        rates = []
        for r in results:
            mask = np.array([s.student_id == student.student_id and s.in_stats for s in r.students])
            rates.append({t.topic: t.score_rate for t in r.topic_statistics(mask) if t.level == 1})
        for topic in top:
            latest, first = rates[1].get(topic, math.nan), rates[0].get(topic, math.nan)
            if math.isnan(latest):
                assert math.isnan(student.latest_rate(topic))
            else:
                assert student.latest_rate(topic) == pytest.approx(latest)
            if math.isnan(latest) or math.isnan(first):
                assert math.isnan(student.change(topic))
            else:
                assert student.change(topic) == pytest.approx(latest - first)
    # the vectorised per-student rates equal topic_statistics on a one-student group
    r = results[0]
    matrix = student_topic_rates(r, top)
    for i in np.flatnonzero(r.stats_rows)[:3]:
        mask = np.zeros(len(r.students), dtype=bool)
        mask[i] = True
        expected = {t.topic: t.score_rate for t in r.topic_statistics(mask)}
        assert matrix[i] == pytest.approx([expected[t] for t in top], nan_ok=True)


def test_classes_come_from_the_roster(exams, roster, trends, workbook) -> None:
    assert trends.groups == ["一班", "二班", NO_CLASS]
    sheet = workbook[1]["班级"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert {row[0] for row in rows} == {"一班", "二班", "（未分班）"}
    results = load_exam_results(exams[1], roster)
    klass = np.array([s.klass == "二班" for s in results.students])
    direct = {t.topic: t for t in results.topic_statistics(results.stats_rows & klass)}
    mine = {row[1]: row for row in rows if row[0] == "二班" and row[4] == SECOND_EXAM}
    assert set(mine) == set(direct)
    for topic, row in mine.items():
        assert (row[5], row[6]) == (direct[topic].questions, direct[topic].attempts)
        assert row[7] == pytest.approx(direct[topic].error_rate)


def test_without_roster_everyone_is_one_group(exams, tmp_path) -> None:
    trends = load_trends(exams)
    assert trends.groups == [ALL_STUDENTS]
    book = load_workbook(write_trends(trends, tmp_path / "t.xlsx"))
    assert {row[0].value for row in book["班级"].iter_rows(min_row=2)} == {"全体"}
    assert all(s.name == "" and s.klass == "" for s in trends.students)


def test_names_stay_text(workbook) -> None:
    sheet = workbook[1]["学生"]
    cells = [sheet.cell(row=r, column=2) for r in range(3, sheet.max_row + 1)]
    tricky = [c for c in cells if c.value == TRICKY_NAME]
    assert len(tricky) == 1 and tricky[0].data_type == "s"
    assert "（名单中没有）" in [c.value for c in cells]  # student 10 sat without being on the roster


# -- refusals ------------------------------------------------------------------


def with_other_bank(results_dir: Path, target: Path) -> Path:
    """A copy of a results folder whose manifest names another bank."""
    shutil.copytree(results_dir, target)
    db = sqlite3.connect(target / "results.sqlite")
    with db:
        (text,) = db.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()
        text = text.replace('"xinjiuye-dangjian"', '"other-bank"')
        db.execute("UPDATE meta SET value = ? WHERE key = 'manifest'", (text,))
    db.close()
    return target


def test_exams_sharing_no_bank_are_refused(exams, tmp_path) -> None:
    other = with_other_bank(exams[1], tmp_path / "other")
    assert load_exam_results(other).manifest.banks[0]["id"] == "other-bank"
    with pytest.raises(InputFileError) as caught:
        load_trends([exams[0], other])
    assert str(exams[0]) in caught.value.message and str(other) in caught.value.message
    result = CliRunner().invoke(cli, ["analyze", str(exams[0]), str(other), "-o", str(tmp_path / "t.xlsx")])
    assert result.exit_code == ExitCode.input_file and "题库" in result.output
    assert not (tmp_path / "t.xlsx").exists()


def test_missing_or_repeated_folders_are_named(exams, tmp_path) -> None:
    missing = tmp_path / "no-such-results"
    with pytest.raises(InputFileError) as caught:
        load_trends([exams[0], missing])
    assert caught.value.path == str(missing)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError) as caught:
        load_trends([exams[0], tmp_path / "empty"])
    assert caught.value.path == str(tmp_path / "empty")
    with pytest.raises(InputFileError, match="两次"):
        load_trends([exams[0], exams[0]])
    shutil.copytree(exams[0], tmp_path / "copy")
    with pytest.raises(InputFileError, match="2026-mock-03"):
        load_trends([exams[0], tmp_path / "copy"])


def test_unwritable_output_is_an_output_error(trends, tmp_path) -> None:
    with pytest.raises(OutputError):
        write_trends(trends, tmp_path / "missing-folder" / "t.xlsx")


# -- command line and PDF ------------------------------------------------------


def test_cli_analyze(exams, roster, tmp_path) -> None:
    out = tmp_path / "trends.xlsx"
    args = ["analyze", *map(str, exams), "-o", str(out), "--roster", str(roster), "--lang", "en"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "2 场考试" in result.output and out.exists()
    assert load_workbook(out).sheetnames == ["Topic trends", "By class", "By student"]


def test_libreoffice_converts_the_workbook_to_pdf(workbook, tmp_path) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not on PATH")
    path, _ = workbook
    # A private profile so a LibreOffice already running (or another test) does not interfere.
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(
        [soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(path)],
        check=True, capture_output=True, timeout=180,
    )
    pdf = tmp_path / "trends.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")


# -- printing ----------------------------------------------------------------------


def test_every_sheet_prints_on_a4_with_its_names_repeated(trends, workbook) -> None:
    _, book = workbook
    topics, classes, students = book.worksheets
    for sheet in book.worksheets:
        assert int(sheet.page_setup.paperSize) == 9, sheet.title  # A4
        assert sheet.oddHeader.center.text == "&A" and "&N" in sheet.oddFooter.center.text, sheet.title
        assert "2026-mock-03" in sheet.oddHeader.left.text, sheet.title
    # the topic table and its chart fit one landscape page together
    assert topics.page_setup.orientation == "landscape" and topics.sheet_properties.pageSetUpPr.fitToPage
    # long and narrow: portrait, one page wide, each class from the top of a page
    assert classes.page_setup.orientation == "portrait" and classes.page_setup.fitToWidth == 1
    class_starts = [r for r in range(3, classes.max_row + 1)
                    if classes.cell(row=r, column=1).value != classes.cell(row=r - 1, column=1).value]
    assert [b.id for b in classes.row_breaks.brk] == [r - 1 for r in class_starts] and class_starts
    assert classes.print_title_rows == "$1:$1"
    # wide: flows over pages with 准考证号, 姓名, 班级 and both header rows on each; the changes start a page
    assert not students.sheet_properties.pageSetUpPr.fitToPage
    assert students.print_title_cols == "$A:$C" and students.print_title_rows == "$1:$2"
    change_col = 7 + len(trends.top_topics) + 1
    assert [b.id for b in students.col_breaks.brk] == [change_col - 1]


def test_trend_chart_is_sized_by_exams_and_topics(trends, workbook) -> None:
    from papergen.report.charts import LEGEND_ENTRY_CM

    _, book = workbook
    chart = book["知识点趋势"]._charts[0]
    height_cm = chart.anchor.ext.height / 360000
    assert height_cm >= LEGEND_ENTRY_CM * len(trends.top_topics)  # every topic in the legend
    assert chart.x_axis.tickLblSkip == 1
