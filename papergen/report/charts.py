"""Chart sizes that follow the data, so Excel and LibreOffice show every label.

A chart axis with more labels than room silently drops every second one
(the 知识点 chart of 16 topics at 7.5 cm showed 8). Here each category gets
a fixed share of the chart — ``BAR_CM`` per bar of a horizontal bar chart,
``COLUMN_CM`` per column, ``LEGEND_ENTRY_CM`` per legend line — on top of
the room titles and axes take, the labels have a fixed font size, and the
axis is told to skip none (``tickLblSkip=1``).
"""

from __future__ import annotations

from openpyxl.chart.text import RichText
from openpyxl.drawing.text import CharacterProperties, Paragraph, ParagraphProperties

LABEL_POINTS = 9  # axis and legend labels
BAR_CM = 0.6  # per category of a horizontal bar chart (one 9 pt line and a gap)
COLUMN_CM = 1.5  # per category of a column chart with labels like "[48, 54)"
LEGEND_ENTRY_CM = 0.5  # per series in a legend at the right
TITLES_CM = 3.0  # chart title, axis title, value labels and padding, across the categories
MIN_HEIGHT_CM = 7.5
MIN_WIDTH_CM = 12.0


def _text(points: int) -> RichText:
    size = CharacterProperties(sz=points * 100)
    return RichText(p=[Paragraph(pPr=ParagraphProperties(defRPr=size), endParaRPr=size)])


def label_every_category(chart, points: int = LABEL_POINTS) -> None:
    """Category labels at ``points`` pt, none skipped; value labels the same size."""
    chart.x_axis.tickLblSkip = 1
    chart.x_axis.txPr = _text(points)
    chart.y_axis.txPr = _text(points)
    # openpyxl leaves the axes' "delete" unset, which some Excel versions read as hidden.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    if chart.legend is not None:
        chart.legend.txPr = _text(points)


def size_bar_chart(chart, categories: int, width_cm: float) -> None:
    """A horizontal bar chart (``type="bar"``): ``BAR_CM`` of height per category."""
    chart.height = max(MIN_HEIGHT_CM, TITLES_CM + BAR_CM * categories)
    chart.width = width_cm
    label_every_category(chart)


def size_column_chart(chart, categories: int, height_cm: float = 9.0) -> None:
    """A vertical column chart (a histogram): ``COLUMN_CM`` of width per category."""
    chart.width = max(MIN_WIDTH_CM, TITLES_CM + COLUMN_CM * categories)
    chart.height = height_cm
    label_every_category(chart)


def size_line_chart(chart, categories: int, series: int, *, category_cm: float = 2.5, legend_cm: float = 5.0) -> None:
    """A line chart with its legend at the right: wide enough for the categories, tall enough for the legend."""
    chart.width = max(MIN_WIDTH_CM + legend_cm, TITLES_CM + category_cm * categories + legend_cm)
    chart.height = max(MIN_HEIGHT_CM + 1.5, TITLES_CM + LEGEND_ENTRY_CM * series)
    label_every_category(chart)
