"""PDF paper and answer key: read the files back and check what a reader sees."""

from __future__ import annotations

import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from papergen.bank.model import LETTERS
from papergen.render import pdf as render_pdf
from papergen.render.paper import Paper, PaperQuestion, PaperSection

TITLE = "2024 年事业单位联考 <模拟> & 测试卷"


def expected_columns(number: int) -> int:
    return (4, 2, 1)[number % 3]


def option_texts(number: int, count: int) -> list[str]:
    """Options whose length cycles through short / medium / long by question
    (``expected_columns``).

    Every option names its question and letter, so a test can find it in
    the extracted text.
    """
    columns = expected_columns(number)
    texts = []
    for letter in LETTERS[:count]:
        mark = f"第{number}题{letter}项"
        if columns == 4:
            texts.append(mark)
        elif columns == 2:
            texts.append(f"{mark}：依法行政原则")
        else:
            texts.append(f"{mark}：坚持和加强党的全面领导，推进国家治理体系和治理能力现代化的内容")
    return texts


def make_question(number: int, qtype: str) -> PaperQuestion:
    count = 2 + number % 7  # 2..8 options
    stem = f"第{number}题：关于“基层治理”的说法，下列哪项正确 <a> & {{b}}？"
    if number % 4 == 0:
        stem += "材料如下：某街道推行网格化管理，" * 4 + "\n第二行：请据此作答。"
    key = "B" if qtype == "single" else "AB" + ("D" if count > 3 else "")
    return PaperQuestion(
        number=number,
        id=f"bank-{number:03d}",
        type=qtype,
        stem=stem,
        options=option_texts(number, count),
        key=key,
        points=1.0 if qtype == "single" else 2.0,
        explanation=f"第{number}题解析：依据《宪法》第{number}条。\n另见相关规定 & <注释>。" if number % 5 else "",
        topic="公共基础知识/法律" if qtype == "single" else "公共基础知识/政治",
    )


def make_paper(singles: int = 40, multiples: int = 20, variant: str = "B") -> Paper:
    numbers = iter(range(1, singles + multiples + 1))
    return Paper(
        exam_id="mock-2024",
        title=TITLE,
        variant=variant,
        minutes=120,
        instructions="1. 请在答题卡上作答。\n2. 考试结束后将试卷和答题卡一并交回。",
        sections=[
            PaperSection(
                title="一、单项选择题",
                type="single",
                points_each=1.0,
                rule_note="每题只有一个正确答案。",
                questions=[make_question(next(numbers), "single") for _ in range(singles)],
            ),
            PaperSection(
                title="二、多项选择题",
                type="multiple",
                points_each=2.0,
                rule_note="多选、少选、错选均不得分。",
                questions=[make_question(next(numbers), "multiple") for _ in range(multiples)],
            ),
        ],
    )


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def raw_page_texts(path: Path) -> list[str]:
    """Each page's extracted text as pdfium gives it: one line per printed line."""
    pdf = pdfium.PdfDocument(str(path))
    try:
        texts = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        pdf.close()


def page_texts(path: Path) -> list[str]:
    """Each page's extracted text, whitespace removed (wrapping inserts breaks)."""
    return [squeeze(text) for text in raw_page_texts(path)]


def page_of(texts: list[str], needle: str) -> int:
    hits = [index for index, text in enumerate(texts) if needle in text]
    assert len(hits) == 1, f"{needle!r} found on pages {hits}"
    return hits[0]


@pytest.fixture(scope="module")
def paper() -> Paper:
    return make_paper()


@pytest.fixture(scope="module")
def paper_pdf(paper: Paper, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("paper") / "试卷-B.pdf"
    return path, render_pdf.render_paper_pdf(paper, path)


@pytest.fixture(scope="module")
def key_pdf(paper: Paper, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("key") / "答案-B.pdf"
    return path, render_pdf.render_key_pdf(paper, path)


# --- option_columns ----------------------------------------------------------
@pytest.fixture(scope="module")
def body_font() -> str:
    return render_pdf.styles().body_font


@pytest.mark.parametrize(
    "options, expected",
    [
        (["甲", "乙", "丙", "丁"], 4),
        (["是", "否"], 4),
        (["依法行政原则与合理行政原则", "比例原则", "信赖保护原则", "程序正当"], 2),
        (["坚持和加强党的全面领导，推进国家治理体系和治理能力现代化", "短"], 1),
        (["第一行\n第二行", "短"], 1),
        ([], 1),
    ],
)
def test_option_columns_by_length(options: list[str], expected: int, body_font: str) -> None:
    assert render_pdf.option_columns(options, 480, body_font, 10.5) == expected


def test_option_columns_boundary_counts_label_and_gutter(body_font: str) -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    text = "四字选项"
    label = max(stringWidth(render_pdf.option_label(i), body_font, 10.5) for i in range(2))
    exact = 4 * (label + stringWidth(text, body_font, 10.5) + render_pdf.OPTION_GUTTER)
    assert render_pdf.option_columns([text, text], exact, body_font, 10.5) == 4
    assert render_pdf.option_columns([text, text], exact - 0.5, body_font, 10.5) == 2
    assert render_pdf.option_columns([text, text], exact / 2 - 0.5, body_font, 10.5) == 1


# --- the paper ---------------------------------------------------------------
def test_paper_page_count_is_the_files(paper_pdf: tuple[Path, int]) -> None:
    path, pages = paper_pdf
    assert pages > 3  # many questions: pages do break
    assert len(page_texts(path)) == pages


def test_every_stem_and_option_is_printed_verbatim(paper: Paper, paper_pdf: tuple[Path, int]) -> None:
    text = "".join(page_texts(paper_pdf[0]))
    for question in paper.questions:
        assert squeeze(f"{question.number}．{question.stem}") in text
        for letter, option in zip(LETTERS, question.options):
            assert squeeze(f"{letter}．{option}") in text


def test_options_are_set_in_columns_by_length(paper: Paper, paper_pdf: tuple[Path, int]) -> None:
    lines = [squeeze(line) for text in raw_page_texts(paper_pdf[0]) for line in text.splitlines()]
    for question in paper.questions:
        labelled = [squeeze(f"{letter}．{text}") for letter, text in zip(LETTERS, question.options)]
        first_line = next(line for line in lines if line.startswith(labelled[0]))
        on_first_line = min(expected_columns(question.number), len(labelled))
        assert first_line == "".join(labelled[:on_first_line]), question.number


def test_title_block_and_sections(paper: Paper, paper_pdf: tuple[Path, int]) -> None:
    first = page_texts(paper_pdf[0])[0]
    needles = ["试卷类型：B", "考试时间：120分钟", "满分：80分", "姓名：", "准考证号：", "注意事项", "请在答题卡上作答"]
    for needle in needles:
        assert needle in first
    text = "".join(page_texts(paper_pdf[0]))
    assert "一、单项选择题（共40题，每题1分，共40分）每题只有一个正确答案。" in text
    assert "二、多项选择题（共20题，每题2分，共40分）多选、少选、错选均不得分。" in text


def test_header_and_footer_on_every_page(paper_pdf: tuple[Path, int]) -> None:
    path, pages = paper_pdf
    texts = page_texts(path)
    for number, text in enumerate(texts, start=1):
        assert squeeze(TITLE) in text and "试卷类型B" in text
        assert f"第{number}页/共{pages}页" in text
    assert "第1页/共" in texts[0] and f"第{pages}页/共{pages}页" in texts[-1]


def test_no_question_is_split_across_pages(paper: Paper, paper_pdf: tuple[Path, int]) -> None:
    texts = page_texts(paper_pdf[0])
    for question in paper.questions:
        last = len(question.options) - 1
        stem_page = page_of(texts, squeeze(f"{question.number}．{question.stem[:8]}"))
        option_page = page_of(texts, squeeze(f"{LETTERS[last]}．{question.options[last]}"))
        assert stem_page == option_page, f"question {question.number} split"


def test_section_heading_stays_with_its_first_question(paper: Paper, paper_pdf: tuple[Path, int]) -> None:
    texts = page_texts(paper_pdf[0])
    second = paper.sections[1]
    first = second.questions[0]
    assert page_of(texts, "二、多项选择题") == page_of(texts, squeeze(f"{first.number}．{first.stem[:8]}"))


def embedded_font_names(path: Path) -> list[str]:
    return re.findall(rb"/BaseFont\s*/([^\s/<>\[\]]+)", path.read_bytes())


@pytest.mark.parametrize("which", ["paper_pdf", "key_pdf"])
def test_only_embedded_font_subsets(which: str, request: pytest.FixtureRequest) -> None:
    path, _ = request.getfixturevalue(which)
    raw = path.read_bytes()
    names = embedded_font_names(path)
    assert names, "no fonts found"
    for name in names:
        assert re.fullmatch(rb"[A-Z]{6}\+NotoSansSC-(Regular|Bold)", name), name
    # one embedded font program per font object, none left to the viewer
    assert raw.count(b"/FontFile2") == len(names)
    assert b"Helvetica" not in raw and b"/Type1" not in raw


# --- the answer key ----------------------------------------------------------
def test_key_lists_number_answer_points_and_explanation(paper: Paper, key_pdf: tuple[Path, int]) -> None:
    path, pages = key_pdf
    texts = page_texts(path)
    assert len(texts) == pages
    text = "".join(texts)
    assert f"{squeeze(TITLE)}参考答案及解析（B卷）" in texts[0]
    for question in paper.questions:
        row = squeeze(f"{question.number}{question.key}{question.points:g}{question.topic}{question.id}")
        assert row in text, question.number
        explanation = squeeze(question.explanation) or "（暂无解析）"
        assert f"解析：{explanation}" in text


def test_key_header_and_footer_on_every_page(key_pdf: tuple[Path, int]) -> None:
    path, pages = key_pdf
    for number, text in enumerate(page_texts(path), start=1):
        assert squeeze(TITLE) in text and "试卷类型B" in text
        assert f"第{number}页/共{pages}页" in text


def test_key_keeps_answer_and_explanation_together(paper: Paper, key_pdf: tuple[Path, int]) -> None:
    texts = page_texts(key_pdf[0])
    for question in paper.questions:
        if question.explanation:
            row = squeeze(f"{question.number}{question.key}{question.points:g}{question.topic}{question.id}")
            assert page_of(texts, row) == page_of(texts, squeeze(question.explanation)[:12])


# --- files -------------------------------------------------------------------
@pytest.mark.parametrize("render", [render_pdf.render_paper_pdf, render_pdf.render_key_pdf])
def test_same_paper_same_bytes(render, tmp_path: Path) -> None:
    paper = make_paper(12, 6)
    render(paper, tmp_path / "one.pdf")
    render(paper, tmp_path / "two.pdf")
    assert (tmp_path / "one.pdf").read_bytes() == (tmp_path / "two.pdf").read_bytes()


def test_variant_letter_changes_the_output(tmp_path: Path) -> None:
    render_pdf.render_paper_pdf(make_paper(4, 2, variant="A"), tmp_path / "a.pdf")
    render_pdf.render_paper_pdf(make_paper(4, 2, variant="C"), tmp_path / "c.pdf")
    assert "试卷类型C" in page_texts(tmp_path / "c.pdf")[0]
    assert "试卷类型：A" in page_texts(tmp_path / "a.pdf")[0]


@pytest.mark.parametrize("render", [render_pdf.render_paper_pdf, render_pdf.render_key_pdf])
def test_failure_mid_build_leaves_no_file(render, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = render_pdf._draw_footer

    def footer_failing_on_page_two(canvas, page_number):
        if page_number == 2:
            raise RuntimeError("renderer crashed")
        original(canvas, page_number)

    monkeypatch.setattr(render_pdf, "_draw_footer", footer_failing_on_page_two)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        render(make_paper(), tmp_path / "out.pdf")
    assert list(tmp_path.iterdir()) == []


def test_small_paper_without_minutes_or_instructions(tmp_path: Path) -> None:
    paper = make_paper(2, 0)
    paper = Paper(paper.exam_id, paper.title, "A", None, "", paper.sections + [PaperSection("三、空", "single", 1, "", [])])
    pages = render_pdf.render_paper_pdf(paper, tmp_path / "small.pdf")
    text = page_texts(tmp_path / "small.pdf")[0]
    assert pages == 1 and "第1页/共1页" in text
    assert "考试时间" not in text and "注意事项" not in text and "三、空" not in text


def test_markup_escapes_and_keeps_line_breaks() -> None:
    assert render_pdf.markup("a<b> & c\r\nd") == "a&lt;b&gt; &amp; c<br/>d"
