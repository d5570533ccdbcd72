"""How a report worksheet prints on A4: orientation, scale, repeated titles, header and footer.

Every sheet of ``report.xlsx`` and ``trends.xlsx`` goes through
``setup_print`` once its columns, rows and charts are in place. The rule,
from the sheet's measured width (its columns, and any chart beside them):

1. it fits the width of an A4 page as it is: portrait, or landscape if only
   that fits — printed at 100 %;
2. it fits a landscape page scaled to no less than ``MIN_FIT_SCALE`` (70 %,
   about 8 pt for Excel's 11 pt text, still read without effort): scaled to
   one page wide;
3. wider still (a 成绩 sheet with 45 question columns): landscape at
   ``FLOW_SCALE`` (80 %, about 9 pt), the columns flowing over several pages, with the
   key columns (名次, 准考证号, 姓名 …) repeated at the left of every page
   and pages numbered across before down, so a student's row is read on
   consecutive sheets of paper.

Header rows repeat on every page; the page header names the exam and the
sheet, the footer counts "第 N 页 / 共 M 页" (over the sheet when one sheet
is printed, over the workbook when all are, as Excel and LibreOffice count).
A chart placed below a table that would straddle a page break gets a
manual break before it so it prints whole.

Widths are estimated the way Excel converts them (7 px per character of
the default font plus 5 px padding, 96 px per inch); LibreOffice's export
is close (wider by about a fifth where Calibri is substituted by DejaVu
Sans, as on a bare Linux box: fitted sheets then shrink a little more,
flowing ones take a page more). ``tests/test_print_setup.py`` checks real
LibreOffice page counts.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

from openpyxl.styles import Border, Side
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.utils.cell import coordinate_from_string
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

A4_INCHES = (8.27, 11.69)  # portrait width, height
MARGINS = PageMargins(left=0.5, right=0.5, top=0.75, bottom=0.75, header=0.3, footer=0.3)
#: The smallest scale a sheet is shrunk to so that it fits one page wide (percent).
MIN_FIT_SCALE = 70
#: The scale of a sheet too wide for that, whose columns flow over several pages (percent).
FLOW_SCALE = 80
DEFAULT_COLUMN_WIDTH = 8.43  # characters: Excel's default when a column has no width set
DEFAULT_ROW_POINTS = 15.0
LINE_POINTS = 14.5  # one line of 11 pt text in a wrapped cell
PIXELS_PER_INCH = 96
POINTS_PER_INCH = 72
CM_PER_INCH = 2.54
_THIN = Side(style="thin", color="808080")
BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
PAGE_FOOTER = {"zh": "第 &P 页 / 共 &N 页", "en": "Page &P of &N"}


@dataclass(frozen=True)
class PrintLayout:
    """What ``setup_print`` chose for a sheet (also handy in tests)."""

    landscape: bool
    fit_to_width: bool  # False: columns flow over several pages at ``scale``
    scale: int  # percent the printed sheet is scaled to (the scale fitting implies, when fitting)
    content_inches: float  # width of the columns and charts at 100 %


def column_inches(width: float) -> float:
    """Printed width of a column ``width`` characters wide (Excel: 7 px per character + 5 px padding)."""
    return (math.floor(width * 7 + 5)) / PIXELS_PER_INCH


def printable_inches(landscape: bool) -> tuple[float, float]:
    """Width and height inside the margins of an A4 page."""
    short, long = A4_INCHES
    width, height = (long, short) if landscape else (short, long)
    return width - MARGINS.left - MARGINS.right, height - MARGINS.top - MARGINS.bottom


def _column_width(sheet, column: int) -> float:
    letter = get_column_letter(column)
    if letter in sheet.column_dimensions and sheet.column_dimensions[letter].width:
        return sheet.column_dimensions[letter].width
    return sheet.sheet_format.defaultColWidth or DEFAULT_COLUMN_WIDTH


def _columns_inches(sheet, first: int, last: int) -> float:
    return sum(column_inches(_column_width(sheet, c)) for c in range(first, last + 1))


def _row_inches(sheet, first: int, last: int) -> float:
    points = 0.0
    for row in range(first, last + 1):
        height = sheet.row_dimensions[row].height if row in sheet.row_dimensions else None
        points += height or DEFAULT_ROW_POINTS
    return points / POINTS_PER_INCH


def _chart_anchor(chart) -> tuple[int, int]:
    """(column, row) of a chart's top-left cell, as given to ``add_chart``."""
    letters, row = coordinate_from_string(chart.anchor)
    return column_index_from_string(letters), row


def content_inches(sheet) -> float:
    """Width the sheet prints at 100 %: its used columns, or further right where a chart ends.

    A streamed (write-only) sheet is set up before its rows exist: its
    columns are the ones given a width.
    """
    columns = getattr(sheet, "max_column", None) or max(
        (column_index_from_string(letter) for letter in sheet.column_dimensions), default=1
    )
    width = _columns_inches(sheet, 1, columns)
    for chart in sheet._charts:
        column, _ = _chart_anchor(chart)
        width = max(width, _columns_inches(sheet, 1, column - 1) + chart.width / CM_PER_INCH)
    return width


def choose_layout(content: float, landscape: bool | None = None) -> PrintLayout:
    """Orientation and scale for content ``content`` inches wide (the rule in the module docstring)."""
    orientations = [False, True] if landscape is None else [landscape]
    for wide in orientations:
        if content <= printable_inches(wide)[0]:
            return PrintLayout(wide, True, 100, content)
    wide = orientations[-1]
    scale = math.floor(100 * printable_inches(wide)[0] / content)
    if scale >= MIN_FIT_SCALE:
        return PrintLayout(wide, True, scale, content)
    return PrintLayout(wide, False, FLOW_SCALE, content)


def wrapped_lines(text: str, width: float) -> int:
    """Lines ``text`` takes in a wrapped cell ``width`` characters wide (CJK characters count double)."""
    lines = 0
    for part in str(text).split("\n"):
        units = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in part)
        lines += max(1, math.ceil(units / max(1.0, width - 1.5)))
    return lines


def fit_row_height(sheet, row: int, points_per_line: float = LINE_POINTS) -> None:
    """Make ``row`` tall enough for its wrapped text cells.

    Set explicitly, since LibreOffice keeps a row without a height one line
    tall whatever its wrapped cells hold.
    """
    lines = max(
        (
            wrapped_lines(cell.value, _column_width(sheet, cell.column))
            for cell in sheet[row]
            if isinstance(cell.value, str) and cell.alignment.wrap_text  # numbers and unwrapped text keep one line
        ),
        default=1,
    )
    sheet.row_dimensions[row].height = points_per_line * lines + 3


def box_cells(sheet, first_row: int, last_row: int, columns: int, first_column: int = 1) -> None:
    """Thin borders round every cell of a table, for a sheet printed without the grid (``gridlines=False``)."""
    for row in sheet.iter_rows(min_row=first_row, max_row=last_row, min_col=first_column, max_col=columns):
        for cell in row:
            cell.border = BOX


def _header_text(text: str) -> str:
    return text.replace("&", "&&")  # "&" starts a code (&P, &N …) in Excel headers


def setup_print(
    sheet,
    *,
    header_rows: tuple[int, int] | None = (1, 1),
    key_columns: int = 0,
    landscape: bool | None = None,
    title: str | None = None,
    lang: str = "zh",
    gridlines: bool = True,
) -> PrintLayout:
    """Make ``sheet`` print legibly on A4 and return the layout chosen.

    Call it last, once columns have their widths and charts are anchored.

    Parameters
    ----------
    header_rows
        First and last row of the table's header, repeated on every page
        (``None``: a sheet of several small tables, nothing to repeat).
    key_columns
        How many columns from A identify a row (名次, 准考证号, 姓名 …):
        repeated at the left of every page when the columns flow over pages.
    landscape
        Force an orientation; ``None`` chooses by width.
    title
        Shown at the left of the page header (the exam's title); the sheet
        name is in the centre, the page count in the footer.
    gridlines
        Print the cell grid (a table of numbers is read along its lines on
        paper). Turn it off on a sheet with a chart, whose grid would print
        around the chart too, and give its tables borders instead.
    """
    layout = choose_layout(content_inches(sheet), landscape)
    setup = sheet.page_setup
    setup.paperSize = Worksheet.PAPERSIZE_A4
    setup.orientation = "landscape" if layout.landscape else "portrait"
    # Page numbers are left to the application: printing one sheet counts its
    # pages from 1, printing the whole workbook (or LibreOffice's PDF export)
    # counts on through the sheets, so "共 N 页" always matches "第 N 页".
    sheet.page_margins = PageMargins(**{k: getattr(MARGINS, k) for k in ("left", "right", "top", "bottom", "header", "footer")})
    sheet.print_options.gridLines = gridlines
    if layout.fit_to_width:
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        setup.fitToWidth = 1
        setup.fitToHeight = 0  # as many pages tall as the rows need
        sheet.print_options.horizontalCentered = True
    else:
        sheet.sheet_properties.pageSetUpPr.fitToPage = False
        setup.scale = layout.scale
        setup.pageOrder = "overThenDown"
        if key_columns:
            sheet.print_title_cols = f"A:{get_column_letter(key_columns)}"
    chart_after_table = _keep_charts_whole(sheet, layout, header_rows)
    if header_rows is not None and not chart_after_table:
        sheet.print_title_rows = f"{header_rows[0]}:{header_rows[1]}"
    if title:
        sheet.oddHeader.left.text = _header_text(title)
        sheet.oddHeader.left.size = 9
    sheet.oddHeader.center.text = "&A"  # the sheet's name
    sheet.oddHeader.center.size = 9
    sheet.oddFooter.center.text = PAGE_FOOTER[lang]
    sheet.oddFooter.center.size = 9
    return layout


def _keep_charts_whole(sheet, layout: PrintLayout, header_rows: tuple[int, int] | None) -> bool:
    """A manual page break above a chart that would otherwise straddle a page's end.

    Row heights are estimated generously (15 pt where none is set), so the
    break may come a little early; never late. Pages after the first lose
    the repeated header rows' height. True when a table that fits its first
    page is followed by a chart on the next: header rows repeated over the
    chart would head nothing, so the caller leaves them out.
    """
    alone = False
    width, height = printable_inches(layout.landscape)
    scale = min(1.0, width / layout.content_inches) if layout.fit_to_width else layout.scale / 100
    first_page = height / scale
    titles = _row_inches(sheet, header_rows[0], header_rows[1]) if header_rows else 0.0
    later_pages = first_page - titles

    def page_of(y: float) -> int:
        return 0 if y < first_page else 1 + int((y - first_page) // later_pages)

    for chart in sheet._charts:
        _, row = _chart_anchor(chart)
        top = _row_inches(sheet, 1, row - 1)
        bottom = top + chart.height / CM_PER_INCH
        if row > 1 and page_of(top) != page_of(bottom):
            sheet.row_breaks.append(Break(id=row - 1))
            alone = alone or page_of(top) == 0
    return alone
