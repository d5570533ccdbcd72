"""How report.xlsx and trends.xlsx print on A4: the layout rule, and LibreOffice's real pages.

The rule (``report.print_setup``) is checked on made-up sheets; the demo's
two workbooks are then converted with LibreOffice, one worksheet at a time,
and each sheet's page count and page text checked: 成绩 of 60 students × 45
questions takes a few pages with 准考证号 on every one (not one microscopic
page, not two dozen pages of bare columns), a chart prints on one page.
"""

from __future__ import annotations

import shutil

import pytest
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference

from papergen.report.print_setup import (
    FLOW_SCALE,
    MIN_FIT_SCALE,
    choose_layout,
    content_inches,
    printable_inches,
    setup_print,
    wrapped_lines,
)
from tests.xlsx_pages import pages_per_sheet, soffice


def sheet_with_columns(widths: list[float], rows: int = 5):
    sheet = Workbook().active
    for column, width in enumerate(widths, 1):
        sheet.column_dimensions[sheet.cell(row=1, column=column).column_letter].width = width
        for row in range(1, rows + 1):
            sheet.cell(row=row, column=column, value=row * column)
    return sheet


def test_narrow_prints_portrait_wide_landscape_at_full_size() -> None:
    portrait, landscape = printable_inches(False)[0], printable_inches(True)[0]
    narrow = choose_layout(portrait * 0.9)
    assert (narrow.landscape, narrow.fit_to_width, narrow.scale) == (False, True, 100)
    wide = choose_layout(portrait * 1.2)
    assert (wide.landscape, wide.fit_to_width, wide.scale) == (True, True, 100)
    assert wide.content_inches <= landscape


def test_shrunk_to_one_page_only_while_legible() -> None:
    landscape = printable_inches(True)[0]
    fits = choose_layout(landscape / 0.75)
    assert fits.landscape and fits.fit_to_width and MIN_FIT_SCALE <= fits.scale <= 75
    flows = choose_layout(landscape / 0.5)
    assert flows.landscape and not flows.fit_to_width and flows.scale == FLOW_SCALE


def test_forced_orientation_is_kept() -> None:
    assert not choose_layout(printable_inches(True)[0], landscape=False).landscape


def test_wrapped_lines_count_chinese_double() -> None:
    assert wrapped_lines("abc", 10) == 1
    assert wrapped_lines("管理体制与工作机制", 10) == 3  # 18 units in 8.5 a line
    assert wrapped_lines("A13/B17\nxjy-001", 9) == 2


def test_wide_sheet_flows_with_key_columns_and_header_repeated() -> None:
    sheet = sheet_with_columns([6, 12, 9, 9] + [6.5] * 50)
    layout = setup_print(sheet, header_rows=(1, 1), key_columns=4, title="模拟卷 & 补考")
    assert not layout.fit_to_width
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.scale == FLOW_SCALE
    assert not sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_cols == "$A:$D" and sheet.print_title_rows == "$1:$1"
    assert sheet.page_setup.pageOrder == "overThenDown"
    assert sheet.oddHeader.left.text == "模拟卷 && 补考"  # a lone "&" would start a header code
    assert sheet.oddFooter.center.text == "第 &P 页 / 共 &N 页"


def test_moderate_sheet_fits_one_page_wide() -> None:
    sheet = sheet_with_columns([10] * 16)
    layout = setup_print(sheet, header_rows=(1, 1), key_columns=2, lang="en")
    assert layout.fit_to_width and layout.scale >= MIN_FIT_SCALE
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
    assert sheet.print_title_cols is None  # nothing flows over, so nothing to repeat
    assert sheet.oddFooter.center.text == "Page &P of &N"


def test_a_chart_beside_the_table_counts_in_the_width() -> None:
    sheet = sheet_with_columns([10] * 4)
    alone = content_inches(sheet)
    chart = BarChart()
    chart.width = 20
    sheet.add_chart(chart, "F1")
    assert content_inches(sheet) > alone + 7


def test_a_chart_that_would_straddle_a_page_starts_the_next() -> None:
    sheet = sheet_with_columns([10] * 3, rows=30)
    chart = BarChart()
    chart.add_data(Reference(sheet, min_col=2, min_row=1, max_row=30), titles_from_data=True)
    chart.height, chart.width = 12, 15
    sheet.add_chart(chart, "A33")  # 32 rows ≈ 17 cm, then 12 cm of chart: past an A4 page
    setup_print(sheet, header_rows=(1, 1))
    assert [b.id for b in sheet.row_breaks.brk] == [32]
    assert sheet.print_title_rows is None  # the table fits its page; its header above the chart would head nothing
    short = sheet_with_columns([10] * 3, rows=5)
    short.add_chart(BarChart(), "A8")
    setup_print(short, header_rows=(1, 1))
    assert not short.row_breaks.brk and short.print_title_rows == "$1:$1"


# -- LibreOffice: the demo's workbooks, page by page ------------------------------------------


@pytest.fixture(scope="module")
def demo_pages(tmp_path_factory) -> dict[str, dict[str, list[str]]]:
    if soffice() is None or shutil.which("pdftotext") is None:
        pytest.skip("LibreOffice (soffice) or pdftotext is not installed")
    from papergen.demo import run_demo

    base = tmp_path_factory.mktemp("demo-print")
    result = run_demo(base / "demo")
    return {
        name: pages_per_sheet(result.outdir / name, base / name.replace(".", "-"))
        for name in ("report.xlsx", "trends.xlsx")
    }


def test_report_sheets_print_in_a_few_legible_pages(demo_pages) -> None:
    report = demo_pages["report.xlsx"]
    counts = {name: len(pages) for name, pages in report.items()}
    # 60 students × 45 questions: columns flow over a few pages, not one microscopic page
    assert 2 <= counts["成绩"] <= 12, counts
    assert counts["题目分析"] <= 3, counts  # 45 questions, one page wide
    assert counts["知识点"] == 1 and counts["分数分布"] == 1, counts  # table and chart on one page
    assert counts["待复核"] <= 3, counts
    assert counts["班级对比"] == 1 and counts["分数段"] == 1, counts
    assert counts["小题得分率"] <= 3, counts
    for name, pages in report.items():
        for number, text in enumerate(pages, 1):
            assert name in text, (name, number)  # the sheet's name heads every page
            assert "第" in text and "共" in text, (name, number)


def test_every_page_of_scores_carries_the_key_columns(demo_pages) -> None:
    scores = demo_pages["report.xlsx"]["成绩"]
    for number, text in enumerate(scores, 1):
        for label in ("名次", "班级名次", "准考证号", "姓名", "班级"):
            assert label in text, (label, number)
    first = scores[0]
    assert "A1/B" in first and "xjy-" in first  # question columns headed by the paper's 题号 and the bank id
    items = demo_pages["report.xlsx"]["题目分析"]
    assert all("A卷题号" in text and "题目编号" in text for text in items)
    assert all("A卷题号" in text and "高分段" in text for text in demo_pages["report.xlsx"]["小题得分率"])


def test_review_reasons_print_in_chinese(demo_pages) -> None:
    review = "".join(demo_pages["report.xlsx"]["待复核"])
    assert "填涂过浅" in review and "faint" not in review


def test_trends_print_in_a_few_pages_with_names_on_each(demo_pages) -> None:
    trends = demo_pages["trends.xlsx"]
    counts = {name: len(pages) for name, pages in trends.items()}
    assert sum(counts.values()) <= 14, counts  # was 24 pages of split columns
    assert counts["知识点趋势"] <= 2, counts
    assert counts["班级"] <= 4, counts  # a class a page
    for number, text in enumerate(trends["学生"], 1):
        assert "准考证号" in text and "姓名" in text, number
