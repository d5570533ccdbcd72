"""Word paper and answer key: read back with python-docx and checked as XML."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph
from lxml import etree

from papergen.bank.model import LETTERS
from papergen.render import docx as render_docx
from papergen.render import fonts
from papergen.render.docx import (
    TEXT_WIDTH_EM,
    option_columns,
    render_key_docx,
    render_paper_docx,
)
from papergen.render.paper import Paper, PaperQuestion, PaperSection

SHORT_OPTIONS = ["党委", "政府", "人大", "政协"]
MEDIUM_OPTIONS = ["社会工作部门归口指导", "组织部门牵头抓总", "行业主管部门具体负责", "属地街道社区兜底"]
LONG_OPTIONS = [
    "坚持党建引领，把新就业群体党建工作纳入基层党建整体布局，统筹推进、一体落实",
    "以行业主管部门为主，单独制定工作方案，与属地党组织之间不作任何衔接",
    "主要依靠平台企业自行开展，党委和政府部门原则上不再介入具体工作",
    "待条件成熟后再行部署，现阶段以调研和宣传为主，暂不建立组织",
]


def make_question(number: int, qtype: str) -> PaperQuestion:
    """Question ``number``: option length and count cycle so every layout occurs."""
    kind = number % 3
    options = [SHORT_OPTIONS, MEDIUM_OPTIONS, LONG_OPTIONS][kind]
    count = 2 + number % 7  # 2..8 options
    options = [f"{options[i % 4]}{'' if i < 4 else i}" for i in range(count)]
    if qtype == "single":
        key = LETTERS[number % count]
    else:
        key = "".join(LETTERS[i] for i in range(count) if (i + number) % 2 == 0)
    return PaperQuestion(
        number=number,
        id=f"xjy-{number:03d}",
        type=qtype,
        stem=f"第{number}题：关于新就业群体党建工作，下列说法正确的是（“引号” & <尖括号>）：",
        options=options,
        key=key,
        points=1.0 if qtype == "single" else 2.0,
        explanation=f"解析{number}：依据相关文件。\n第二行说明。" if number % 5 else "",
        topic="管理体制与工作机制/管理体制",
    )


def make_paper(single: int = 40, multiple: int = 20, variant: str = "A") -> Paper:
    singles = [make_question(n, "single") for n in range(1, single + 1)]
    multiples = [make_question(n, "multiple") for n in range(single + 1, single + multiple + 1)]
    return Paper(
        exam_id="mock-1",
        title="2024 年新就业群体党建知识模拟考试",
        variant=variant,
        minutes=90,
        instructions="1. 本试卷共两大题。\n2. 请用 2B 铅笔在答题卡上作答。",
        sections=[
            PaperSection("一、单项选择题", "single", 1.0, "每题只有一个正确答案", singles),
            PaperSection("二、多项选择题", "multiple", 2.0, "多选、少选、错选均不得分", multiples),
        ],
    )


@pytest.fixture(scope="module")
def paper() -> Paper:
    return make_paper()


@pytest.fixture(scope="module")
def built(tmp_path_factory, paper) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("docx")
    paths = {"paper": folder / "paper-A.docx", "key": folder / "key-A.docx"}
    render_paper_docx(paper, paths["paper"])
    render_key_docx(paper, paths["key"])
    return paths


def block_texts(document) -> list[str]:
    """Every paragraph text of the body, including those inside table cells."""
    return [Paragraph(p, None).text for p in document.element.body.iter(qn("w:p"))]


def effective(paragraph, attribute: str):
    """A paragraph_format attribute, following the style chain like Word does."""
    value = getattr(paragraph.paragraph_format, attribute)
    style = paragraph.style
    while value is None and style is not None:
        value = getattr(style.paragraph_format, attribute)
        style = style.base_style
    return value


# ---------------------------------------------------------------- option layout


def test_option_columns_by_length():
    assert option_columns(SHORT_OPTIONS, TEXT_WIDTH_EM) == 4
    assert option_columns(MEDIUM_OPTIONS, TEXT_WIDTH_EM) == 2
    assert option_columns(LONG_OPTIONS, TEXT_WIDTH_EM) == 1


def test_option_columns_is_decided_by_the_widest_option():
    assert option_columns(["是", "否", "不确定", "坚持党建引领，统筹推进、一体落实各项工作要求"], TEXT_WIDTH_EM) == 1


def test_option_columns_width_thresholds():
    # "A．" is 1.5 em, the indent 2 em, the slack 1 em: 8 CJK characters need 12.5 em.
    assert render_docx.OPTION_SLACK_EM == 1.0
    assert option_columns(["一二三四五六七八"] * 4, 50) == 4
    assert option_columns(["一二三四五六七八"] * 4, 49.9) == 2
    assert option_columns(["一二三四五六七八"] * 4, 25) == 2
    assert option_columns(["一二三四五六七八"] * 4, 24.9) == 1


def test_ascii_counts_half_an_em():
    assert render_docx.display_em("abcd") == 2
    assert render_docx.display_em("中文") == 2
    assert render_docx.display_em("“”") == 2  # full width in Chinese fonts
    assert option_columns(["x" * 16] * 4, 46) == option_columns(["一" * 8] * 4, 46)


def test_option_columns_without_options():
    assert option_columns([], TEXT_WIDTH_EM) == 1


# ---------------------------------------------------------------- the paper


def test_every_stem_and_option_appears_with_its_number(built, paper):
    document = docx.Document(built["paper"])
    texts = block_texts(document)
    for question in paper.questions:
        assert texts.count(f"{question.number}．{question.stem}") == 1
        for i, option in enumerate(question.options):
            assert f"{LETTERS[i]}．{option}" in texts


def test_stems_use_the_question_style_and_numbers_run_in_order(built, paper):
    document = docx.Document(built["paper"])
    stems = [p for p in document.paragraphs if p.style.name == "试题题干"]
    assert [p.text.split("．", 1)[0] for p in stems] == [str(q.number) for q in paper.questions]
    # Numbers are text, not Word's list numbering (which could drift from the answer sheet).
    assert not any(p._p.pPr is not None and p._p.pPr.numPr is not None for p in stems)


def test_title_block_and_headings(built, paper):
    document = docx.Document(built["paper"])
    paragraphs = document.paragraphs
    assert paragraphs[0].style.name == "Title"
    assert paragraphs[0].text == paper.title
    texts = [p.text for p in paragraphs]
    assert "试卷类型：A" in texts
    assert "考试时间：90 分钟\u3000\u3000满分：80 分" in texts
    assert any(t.startswith("姓名：") and "准考证号：" in t for t in texts)
    assert "注意事项：" in texts and "2. 请用 2B 铅笔在答题卡上作答。" in texts
    headings = [p.text for p in paragraphs if p.style.name == "Heading 2"]
    assert headings == [
        "一、单项选择题（共 40 题，每题 1 分，共 40 分）",
        "二、多项选择题（共 20 题，每题 2 分，共 40 分）",
    ]
    assert "多选、少选、错选均不得分" in texts


def test_all_three_layouts_occur_and_match_option_columns(built, paper):
    document = docx.Document(built["paper"])
    tables = document.tables
    by_first_option = {}
    for table in tables:
        first = table.rows[0].cells[0].text
        by_first_option[first] = len(table.columns)
    seen = set()
    for question in paper.questions:
        columns = option_columns(question.options, TEXT_WIDTH_EM)
        seen.add(columns)
        first = f"A．{question.options[0]}"
        if columns == 1:
            assert first not in by_first_option
        else:
            assert by_first_option[first] == columns
    assert seen == {1, 2, 4}


def test_option_tables_are_borderless_styled_and_fixed(built):
    document = docx.Document(built["paper"])
    for table in document.tables:
        assert table.style.name == "试题选项表"
        tbl = table._tbl
        assert tbl.tblPr.find(qn("w:tblLayout")).get(qn("w:type")) == "fixed"
        for cell in table._cells:
            assert cell.paragraphs[0].style.name == "试题选项"
    style = document.styles["试题选项表"].element
    borders = style.find(qn("w:tblPr")).find(qn("w:tblBorders"))
    assert {b.get(qn("w:val")) for b in borders} == {"nil"}


def test_questions_are_kept_together(built):
    document = docx.Document(built["paper"])
    for p in document.paragraphs:
        if p.style.name == "试题题干":
            assert effective(p, "keep_with_next") is True
            assert effective(p, "keep_together") is True
    # One-column options: all but the last keep with the next line.
    paragraphs = document.paragraphs
    for i, p in enumerate(paragraphs):
        if p.style.name == "试题选项":
            following = paragraphs[i + 1] if i + 1 < len(paragraphs) else None
            is_last = following is None or following.style.name != "试题选项" or p._p.getnext() is not following._p
            assert bool(p.paragraph_format.keep_with_next) is (not is_last)
    # Tables: no row splits; all rows but the last keep with the next (the last
    # question's last row too: it keeps with the end mark).
    for t, table in enumerate(document.tables):
        rows = table.rows
        last_table = t == len(document.tables) - 1 and table._tbl.getnext().getnext().tag == qn("w:sectPr")
        for r, row in enumerate(rows):
            assert row._tr.trPr.find(qn("w:cantSplit")) is not None
            for cell in row.cells:
                keeps = bool(cell.paragraphs[0].paragraph_format.keep_with_next)
                assert keeps is (r < len(rows) - 1 or last_table)
        stem = table._tbl.getprevious()
        assert stem.tag == qn("w:p")
        assert Paragraph(stem, None).text[0].isdigit()


def test_page_is_a4_with_margins(built):
    section = docx.Document(built["paper"]).sections[0]
    assert round(section.page_width.cm, 2) == 21.0
    assert round(section.page_height.cm, 2) == 29.7
    assert section.left_margin.cm >= 1.5 and section.top_margin.cm >= 1.5


def test_east_asian_fonts_on_normal_and_headings(built):
    for path in built.values():
        styles = docx.Document(path).styles
        expected = {
            "Normal": fonts.DOCX_BODY_EAST_ASIA,
            "Title": fonts.DOCX_HEADING_EAST_ASIA,
            "Heading 2": fonts.DOCX_HEADING_EAST_ASIA,
            "试题题干": fonts.DOCX_BODY_EAST_ASIA,
            "试题选项": fonts.DOCX_BODY_EAST_ASIA,
        }
        for name, face in expected.items():
            rFonts = styles[name].element.rPr.rFonts
            assert rFonts.get(qn("w:eastAsia")) == face, name
            assert rFonts.get(qn("w:ascii")) == fonts.DOCX_LATIN
            assert rFonts.get(qn("w:eastAsiaTheme")) is None  # a theme font would win
        for name in ("Title", "Heading 2"):
            assert str(styles[name].font.color.rgb) == "000000"
            assert styles[name].element.rPr.find(qn("w:color")).get(qn("w:themeColor")) is None


def test_header_and_footer(built, paper):
    for path in built.values():
        section = docx.Document(path).sections[0]
        header = "\n".join(p.text for p in section.header.paragraphs)
        assert paper.title in header
        assert "试卷类型 A" in header
        footer = section.footer.paragraphs[0]
        instructions = [t.text.strip() for t in footer._p.iter(qn("w:instrText"))]
        assert [i.split()[0] for i in instructions] == ["PAGE", "NUMPAGES"]
        types = [f.get(qn("w:fldCharType")) for f in footer._p.iter(qn("w:fldChar"))]
        assert types == ["begin", "separate", "end"] * 2
        assert footer.text == "第 1 页 / 共 1 页"  # placeholder results until Word lays out


def test_core_properties(built, paper):
    props = docx.Document(built["paper"]).core_properties
    assert props.title == f"{paper.title}（A 卷）"
    assert props.author == "papergen"
    assert props.language == "zh-CN"
    assert props.created.year == 2000 and props.modified.year == 2000
    assert docx.Document(built["key"]).core_properties.title == render_docx.key_title(paper)


def test_builds_are_byte_identical(tmp_path, paper):
    first, second = tmp_path / "1.docx", tmp_path / "2.docx"
    render_paper_docx(paper, first)
    time.sleep(1.1)  # zip member times have two-second resolution; cross a boundary
    render_paper_docx(paper, second)
    assert first.read_bytes() == second.read_bytes()
    render_key_docx(paper, first)
    render_key_docx(paper, second)
    assert first.read_bytes() == second.read_bytes()


def test_variant_letter_follows_the_paper(tmp_path):
    path = tmp_path / "b.docx"
    render_paper_docx(make_paper(4, 2, variant="B"), path)
    document = docx.Document(path)
    assert "试卷类型：B" in [p.text for p in document.paragraphs]
    assert "试卷类型 B" in document.sections[0].header.paragraphs[0].text


# ---------------------------------------------------------------- the key


def test_key_has_a_row_for_every_question(built, paper):
    document = docx.Document(built["key"])
    assert document.paragraphs[0].style.name == "Title"
    # Too long for one line: broken after the exam title, not inside a word.
    assert document.paragraphs[0].text == "2024 年新就业群体党建知识模拟考试\n参考答案及解析（A 卷）"
    tables = document.tables
    assert len(tables) == len(paper.sections) + 1  # 答案速查 first
    for table, section in zip(tables[1:], paper.sections):
        assert table.style.name == "Table Grid"
        header = table.rows[0]
        assert [c.text for c in header.cells] == ["题号", "答案", "分值", "知识点", "解析"]
        assert header._tr.trPr.find(qn("w:tblHeader")) is not None
        rows = table.rows[1:]
        assert len(rows) == len(section.questions)
        for row, question in zip(rows, section.questions):
            number, key, points, topic, explanation = (c.text for c in row.cells)
            assert number == str(question.number)
            assert key == question.key
            assert points == ("1" if question.type == "single" else "2")
            assert topic.replace("\n", "") == question.topic
            assert f"题库编号：{question.id}" in explanation
            if question.explanation:
                assert explanation.startswith(question.explanation)
            id_paragraph = row.cells[4].paragraphs[-1]
            assert id_paragraph.style.name == "题库编号"
            assert id_paragraph.style.font.size.pt < 9


def test_key_headings(built):
    document = docx.Document(built["key"])
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 2"]
    assert [h.split("（")[0] for h in headings] == ["答案速查", "一、单项选择题", "二、多项选择题"]


# ---------------------------------------------------------------- validity


def check_package(path: Path) -> None:
    """What makes Word offer to repair a file: broken XML, empty tables, tables without grids."""
    with zipfile.ZipFile(path) as package:
        assert package.testzip() is None
        names = package.namelist()
        assert names[0] == "[Content_Types].xml"
        for name in names:
            if name.endswith((".xml", ".rels")):
                etree.fromstring(package.read(name))  # raises on malformed XML
        document = etree.fromstring(package.read("word/document.xml"))
        styles = etree.fromstring(package.read("word/styles.xml"))
        # Template leftovers: a blank-page thumbnail, and stale styles Word 2010 may prefer.
        assert not any(n.startswith("docProps/thumbnail") or "stylesWithEffects" in n for n in names)
    style_ids = {s.get(qn("w:styleId")) for s in styles.iter(qn("w:style"))}
    used = {e.get(qn("w:val")) for tag in ("w:pStyle", "w:tblStyle") for e in document.iter(qn(tag))}
    assert used <= style_ids, f"undefined styles: {used - style_ids}"
    body = document.find(qn("w:body"))
    assert body[-1].tag == qn("w:sectPr") and body[-2].tag == qn("w:p")
    for tbl in document.iter(qn("w:tbl")):
        rows = tbl.findall(qn("w:tr"))
        assert rows, "empty w:tbl"
        grid = tbl.find(qn("w:tblGrid"))
        assert grid is not None, "w:tbl without w:tblGrid"
        columns = len(grid.findall(qn("w:gridCol")))
        for tr in rows:
            cells = tr.findall(qn("w:tc"))
            spans = [tc.find(f"{qn('w:tcPr')}/{qn('w:gridSpan')}") for tc in cells]
            assert sum(1 if span is None else int(span.get(qn("w:val"))) for span in spans) == columns
            for tc in cells:
                assert tc[-1].tag == qn("w:p"), "a cell must end with a paragraph"


def test_packages_are_valid(built):
    for path in built.values():
        check_package(path)


def test_empty_section_is_left_out_and_files_stay_valid(tmp_path):
    paper = make_paper(1, 0)  # the multiple-choice section has no questions
    render_paper_docx(paper, tmp_path / "p.docx")
    render_key_docx(paper, tmp_path / "k.docx")
    check_package(tmp_path / "p.docx")
    check_package(tmp_path / "k.docx")
    key = docx.Document(tmp_path / "k.docx")
    assert len(key.tables) == 2  # 答案速查 and one section; an empty w:tbl would make Word repair the file
    headings = [p.text for p in docx.Document(tmp_path / "p.docx").paragraphs if p.style.name == "Heading 2"]
    assert headings == ["一、单项选择题（共 1 题，每题 1 分，共 1 分）"]


def test_document_defaults_name_chinese_fonts_not_theme_fonts(built):
    with zipfile.ZipFile(built["paper"]) as package:
        styles = etree.fromstring(package.read("word/styles.xml"))
    rPr = styles.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    rFonts = rPr.find(qn("w:rFonts"))
    assert rFonts.get(qn("w:eastAsia")) == fonts.DOCX_BODY_EAST_ASIA
    assert not [a for a in rFonts.attrib if a.endswith("Theme") or a.endswith("theme")]
    assert rPr.find(qn("w:lang")).get(qn("w:eastAsia")) == "zh-CN"


def test_control_characters_do_not_break_the_file(tmp_path):
    paper = make_paper(1, 0)
    question = paper.sections[0].questions[0]
    odd = PaperQuestion(**{**question.__dict__, "stem": "含\x0b控制\x01字符\r\n第二行"})
    paper = Paper(**{**paper.__dict__, "sections": [PaperSection("一、单项选择题", "single", 1.0, "", [odd])]})
    render_paper_docx(paper, tmp_path / "p.docx")
    assert "1．含控制字符\n第二行" in block_texts(docx.Document(tmp_path / "p.docx"))


def pdf_pages(docx_path: Path, folder: Path) -> list[list[str]]:
    """Convert with LibreOffice and return each page's text lines."""
    import pypdfium2

    subprocess.run(
        ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(folder), str(docx_path)],
        check=True,
        timeout=180,
        capture_output=True,
    )
    pdf_path = folder / (docx_path.stem + ".pdf")
    assert pdf_path.read_bytes().startswith(b"%PDF")
    pdf = pypdfium2.PdfDocument(str(pdf_path))
    pages = [[line.strip() for line in page.get_textpage().get_text_range().splitlines() if line.strip()] for page in pdf]
    pdf.close()
    return pages


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_lays_out_the_paper(built, tmp_path, paper):
    pages = pdf_pages(built["paper"], tmp_path)
    assert len(pages) >= 2  # 60 questions do not fit one page
    for number, lines in enumerate(pages, start=1):
        assert paper.title in lines[0] and "试卷类型 A" in lines[0]  # header
        assert lines[-1].replace(" ", "") == f"第{number}页/共{len(pages)}页"  # footer fields
        if number > 1:
            # A page starts with a question or a heading, never with a question's options.
            assert re.match(r"^(\d+．|[一二三四五六七八九十]+、)", lines[1]), lines[1]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_repeats_the_key_header_row(built, tmp_path):
    pages = pdf_pages(built["key"], tmp_path)
    assert len(pages) >= 2
    for lines in pages[1:]:
        body = lines[1]
        assert body.split() == ["题号", "答案", "分值", "知识点", "解析"] or re.match("^[一二三四五六七八九十]+、", body)


# ---------------------------------------------------------------- atomic output


def test_failure_mid_build_leaves_no_file(tmp_path, monkeypatch, paper):
    target = tmp_path / "paper.docx"
    real = render_docx._add_question
    calls = []

    def failing(document, styles, question):
        calls.append(question.number)
        if len(calls) == 10:
            raise RuntimeError("boom")
        real(document, styles, question)

    monkeypatch.setattr(render_docx, "_add_question", failing)
    with pytest.raises(RuntimeError):
        render_paper_docx(paper, target)
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_the_previous_file(tmp_path, monkeypatch, paper):
    target = tmp_path / "key.docx"
    target.write_bytes(b"previous")
    monkeypatch.setattr(render_docx, "_with_fixed_timestamps", lambda data: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        render_key_docx(paper, target)
    assert target.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [target]
