"""Chinese line breaking (render/cjk.py): hand-made paragraphs wrapped at forced widths."""

from __future__ import annotations

import pytest
from reportlab.lib.textsplit import ALL_CANNOT_END, ALL_CANNOT_START
from reportlab.platypus import Paragraph

from papergen.render import pdf as render_pdf
from papergen.render.cjk import CANNOT_END, CANNOT_START, CJKParagraph, break_allowed

#: Texts from the sample bank with every case the issue names: a number and
#: what it counts ("10余次", "2026年", "6个月"), "“1+4”方案", "80%", closing
#: quotes and marks after a run of ideographs, book-title marks.
TEXTS = [
    "某区结合全国交通安全日、国际志愿者日等节点，围绕交通安全、自护教育等开展专题宣传和培训10余次，联合的部门是：",
    "为着力解决新就业群体“子女看护难”问题，整合群团组织和社会专业机构资源，提供“假期托管+兴趣课程”等普惠性服务。",
    "该市制定《市加强新业态新就业群体党建工作“1+4”实施方案》，分行业分领域细化工作方案，2026年完成率达到80%。",
    "为提高发展党员工作水平，该建议提出做好入职6个月以上相对稳定的新就业群体教育培养（见第3条）。",
    "习近平总书记指出：“越是情况复杂、基础薄弱的地方，越要健全党的组织、做好党的工作。”……这是“三新”领域的要求！",
]
#: Runs that must never be split across lines.
UNBROKEN = ["10余次", "2026年", "“1+4”", "80%", "6个月", "第3条", "……"]
#: Forced widths, pt: from five characters of body text (10.5 pt) to a full line. Narrower,
#: "作。”……" (five characters none of which may start a line) cannot be set by the rules at all.
WIDTHS = range(56, 420, 7)
#: Below this a run that must stay whole ("10余次，") may not fit a line at all (then it is cut).
WHOLE_RUNS_FROM = 70


def wrapped_lines(text: str, width: float) -> list[str]:
    paragraph = CJKParagraph(text, render_pdf.styles().body)
    paragraph.wrap(width, 10_000)
    return ["".join(word.text for word in line.words) for line in paragraph.blPara.lines]


def test_reportlab_lacks_the_chinese_rules_we_add() -> None:
    """What reportlab's own lists miss (the reason cjk.py exists); if a reportlab upgrade adds them, this says so."""
    assert not set("，；：？！”’》〉…") & set(ALL_CANNOT_START)
    assert set("，；：？！”’》〉…") <= CANNOT_START
    assert set(ALL_CANNOT_START) <= CANNOT_START and set(ALL_CANNOT_END) <= CANNOT_END
    assert set("（“‘《〈【「『") <= CANNOT_END


def test_reportlab_alone_breaks_the_rules() -> None:
    """The unpatched Paragraph starts a line with ” and splits "10|余次" at these widths."""
    style = render_pdf.styles().body

    def plain(text: str, width: float) -> list[str]:
        paragraph = Paragraph(text, style)
        paragraph.wrap(width, 10_000)
        lines = paragraph.blPara.lines
        return ["".join(line[1]) if isinstance(line, tuple) else "".join(w.text for w in line.words) for line in lines]

    assert any(line.startswith("”") for line in plain(TEXTS[1], 255))
    assert any(line.endswith("10") for line in plain(TEXTS[0], 234))


@pytest.mark.parametrize("text", TEXTS)
def test_no_rule_is_broken_at_any_width(text: str) -> None:
    for width in WIDTHS:
        lines = wrapped_lines(text, width)
        assert "".join(lines) == text, width  # nothing lost, nothing added (no joiners, no spaces)
        for line in lines[1:]:
            assert line[0] not in CANNOT_START, (width, lines)
        for line in lines[:-1]:
            assert line[-1] not in CANNOT_END, (width, lines)
        boundaries, position = set(), 0
        for line in lines[:-1]:
            position += len(line)
            boundaries.add(position)
        for run in UNBROKEN if width >= WHOLE_RUNS_FROM else []:
            start = text.find(run)
            while start >= 0:
                assert not any(start < b < start + len(run) for b in boundaries), (run, width, lines)
                start = text.find(run, start + 1)


@pytest.mark.parametrize("text", TEXTS)
def test_lines_stay_within_their_width(text: str) -> None:
    style = render_pdf.styles().body
    for width in WIDTHS:
        paragraph = CJKParagraph(text, style)
        paragraph.wrap(width, 10_000)
        for line in paragraph.blPara.lines:
            assert line.currentWidth <= width + 0.01, (width, line)


def test_the_issue_cases_at_the_widths_reportlab_got_wrong() -> None:
    assert wrapped_lines(TEXTS[0], 234)[-1] == "10余次，联合的部门是："
    assert not any(line.startswith("”") for line in wrapped_lines(TEXTS[1], 255))


@pytest.mark.parametrize(
    "before, after, before_that, allowed",
    [
        ("训", "1", "培", True),
        ("0", "余", "1", False),
        ("余", "次", "0", False),
        ("余", "次", "剩", True),
        ("6", "年", "2", False),
        ("作", "“", "工", True),
        ("“", "1", "作", False),
        ("4", "”", "+", False),
        ("”", "实", "4", True),
        ("难", "”", "护", False),
        ("程", "，", "课", False),
        ("入", "（", "职", True),
        ("（", "\u00a0", "入", False),
        ("0", "%", "8", False),
        ("第", "3", "见", False),
        ("…", "…", "。", False),
        ("a", " ", "", False),
        (" ", "b", "a", True),
    ],
)
def test_break_allowed(before: str, after: str, before_that: str, allowed: bool) -> None:
    assert break_allowed(before, after, before_that) is allowed


def test_markup_and_font_changes_keep_the_rules() -> None:
    """Several frags (bold, colour) wrap by the same rules: a font change is no break opportunity of its own."""
    text = "你的答案：<font color='#C00000'><b>ABD</b></font>，正确答案：<b>“1+4”</b>方案共10余次。" * 3
    style = render_pdf.styles().body
    for width in WIDTHS:
        paragraph = CJKParagraph(text, style)
        paragraph.wrap(width, 10_000)
        lines = ["".join(word.text for word in line.words) for line in paragraph.blPara.lines]
        for line in lines[1:]:
            assert line and line[0] not in CANNOT_START, (width, lines)
        assert "".join(lines) == "你的答案：ABD，正确答案：“1+4”方案共10余次。" * 3


def test_line_breaks_in_markup_are_kept() -> None:
    lines = wrapped_lines("第一行<br/>第二行", 300)
    assert lines == ["第一行", "第二行"]


def test_a_paragraph_split_across_pages_gets_no_stray_spaces() -> None:
    style = render_pdf.styles().body
    paragraph = CJKParagraph(TEXTS[0] * 4, style)
    paragraph.wrap(150, 10_000)
    first, rest = paragraph.split(150, style.leading * 3)
    rest.wrap(150, 10_000)
    text = "".join("".join(w.text for w in line.words) for part in (first, rest) for line in part.blPara.lines)
    assert text == TEXTS[0] * 4
