"""The sample exam's paper and key as a Chinese centre prints them, checked without eyes.

Built once from the bundled bank and blueprint; the PDFs are read back with
pypdfium2 (text, character boxes), the DOCX files are laid out by LibreOffice
where it is installed.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from papergen.exam.manifest import read_manifest
from papergen.render import docx as render_docx
from papergen.render import pdf as render_pdf
from papergen.render.build import build_exam
from papergen.render.cjk import CANNOT_END, CANNOT_START
from papergen.render.paper import (
    ANSWER_BLANK_EM,
    END_OF_PAPER,
    Paper,
    paper_for_variant,
    quick_key_per_row,
)
from papergen.report.feedback import exam_questions
from tests.conftest import ROOT
from tests.test_render_pdf import make_paper

BLUEPRINT = ROOT / "blueprints" / "2026-mock-03.yaml"
BANK = ROOT / "banks" / "xinjiuye-dangjian.yaml"
#: A number and what it counts, as the bank writes them ("培训10余次", "入职6个月", "2026年").
COUNTED = re.compile(r"\d+[余多几个]?[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def exam(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("layout")
    (root / "banks").mkdir()
    shutil.copy(BANK, root / "banks" / BANK.name)
    (root / "blueprint.yaml").write_text(
        BLUEPRINT.read_text(encoding="utf-8").replace("../banks/", "banks/"), encoding="utf-8"
    )
    build_exam(root / "blueprint.yaml", root / "exam")
    return root / "exam"


@pytest.fixture(scope="module")
def paper(exam: Path) -> Paper:
    manifest = read_manifest(exam / "exam.json")
    return paper_for_variant(manifest, exam_questions(manifest), "A")


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pages(path: Path) -> list[list[str]]:
    """Each page's printed lines (pdfium's reading order), blank lines dropped."""
    pdf = pdfium.PdfDocument(str(path))
    try:
        return [[line for line in page.get_textpage().get_text_range().splitlines() if line.strip()] for page in pdf]
    finally:
        pdf.close()


def char_boxes(path: Path) -> list[list[tuple[str, tuple[float, float, float, float]]]]:
    """Each page's characters with their boxes (left, bottom, right, top), in pt."""
    pdf = pdfium.PdfDocument(str(path))
    try:
        result = []
        for page in pdf:
            textpage = page.get_textpage()
            result.append([(textpage.get_text_range(i, 1), textpage.get_charbox(i)) for i in range(textpage.count_chars())])
        return result
    finally:
        pdf.close()


def check_line_breaking(lines: list[str]) -> None:
    """No printed line starts with a closing mark or ends with an opening one."""
    for line in lines:
        text = line.strip()
        assert text[0] not in CANNOT_START, line
        assert text[-1] not in CANNOT_END, line


# --- the PDF paper -------------------------------------------------------------


def test_the_paper_ends_with_the_end_mark(exam: Path) -> None:
    printed = pages(exam / "paper-A.pdf")
    mark = squeeze(END_OF_PAPER)
    assert [squeeze("".join(lines)).count(mark) for lines in printed] == [0] * (len(printed) - 1) + [1]
    # Centred, and after the last question.
    last = char_boxes(exam / "paper-A.pdf")[-1]
    text = "".join(ch for ch, _ in last)
    index = text.index("试卷结束")
    left, right = last[index][1][0], last[index + 3][1][2]
    assert abs((left + right) / 2 - render_pdf.PAGE_WIDTH / 2) < 3
    assert text.rindex("．") < index


def test_answer_blanks_keep_their_width(exam: Path, paper: Paper) -> None:
    with_blank = [q for q in paper.questions if "（\u3000" in q.stem]
    assert with_blank, "the sample bank has fill-in brackets"
    widths = []
    for page in char_boxes(exam / "paper-A.pdf"):
        for i, (ch, box) in enumerate(page):
            if ch != "（":
                continue
            j = i + 1
            while j < len(page) and page[j][0].isspace():
                j += 1
            if j > i + 1 and j < len(page) and page[j][0] == "）":
                assert abs(page[j][1][1] - box[1]) < 1, "a blank split over two lines"
                widths.append(page[j][1][0] - box[2])  # from the end of "（" to the start of "）"
    assert len(widths) == len(with_blank)
    em = render_pdf.BODY_SIZE
    assert min(widths) >= (ANSWER_BLANK_EM - 0.3) * em, widths


@pytest.mark.parametrize("name", ["paper-A.pdf", "key-A.pdf"])
def test_no_text_outside_the_frame(exam: Path, name: str) -> None:
    left, right = render_pdf.MARGIN_LEFT - 0.5, render_pdf.PAGE_WIDTH - render_pdf.MARGIN_RIGHT + 0.5
    bottom, top = render_pdf.FOOTER_BASELINE - 4, render_pdf.PAGE_HEIGHT - render_pdf.MARGIN_TOP + 1
    for number, page in enumerate(char_boxes(exam / name), start=1):
        for ch, (x0, y0, x1, y1) in page:
            if ch.isspace() or x1 <= x0:
                continue
            assert left <= x0 and x1 <= right, (number, ch, x0, x1)
            if y1 < render_pdf.HEADER_RULE_Y:  # body text, not the running header
                assert y0 >= bottom and y1 <= top, (number, ch, y0, y1)


@pytest.mark.parametrize("name", ["paper-A.pdf", "key-A.pdf"])
def test_lines_follow_chinese_line_breaking(exam: Path, name: str, paper: Paper) -> None:
    printed = pages(exam / name)
    for lines in printed:
        check_line_breaking(lines)
    if name.startswith("paper"):
        flat = [squeeze(line) for lines in printed for line in lines]
        for question in paper.questions:
            for run in COUNTED.findall(question.stem + "".join(question.options)):
                assert any(run in line for line in flat), run


# --- the PDF key ---------------------------------------------------------------


def quick_key_lines(paper: Paper) -> list[str]:
    lines = []
    for section in paper.sections:
        lines.append(section.title)
        questions = section.questions
        per_row = quick_key_per_row(paper)
        for start in range(0, len(questions), per_row):
            chunk = questions[start : start + per_row]
            lines.append("题号" + "".join(str(q.number) for q in chunk))
            lines.append("答案" + "".join(q.key for q in chunk))
    return lines


def test_the_key_starts_with_the_quick_answer_table(exam: Path, paper: Paper) -> None:
    first = [squeeze(line) for line in pages(exam / "key-A.pdf")[0]]
    start = first.index("答案速查")
    assert first[start + 1 : start + 1 + len(quick_key_lines(paper))] == quick_key_lines(paper)
    detailed = next(i for i, line in enumerate(first) if line.startswith(paper.sections[0].title + "（"))
    assert detailed > start


# --- the DOCX files through LibreOffice -------------------------------------------


@pytest.fixture(scope="module")
def libreoffice(exam: Path, tmp_path_factory) -> Path:
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    out = tmp_path_factory.mktemp("lo")
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{out / 'profile'}", "--headless", "--convert-to", "pdf",
         "--outdir", str(out), str(exam / "paper-A.docx"), str(exam / "key-A.docx")],
        check=True, capture_output=True, timeout=180,
    )
    return out


def test_libreoffice_pages_are_sane(exam: Path, libreoffice: Path) -> None:
    for name in ("paper-A", "key-A"):
        in_word = len(pages(libreoffice / f"{name}.pdf"))
        in_pdf = len(pages(exam / f"{name}.pdf"))
        assert in_pdf - 1 <= in_word <= in_pdf + 2, name


def test_libreoffice_keeps_the_key_title_and_headings_whole(libreoffice: Path, paper: Paper) -> None:
    printed = pages(libreoffice / "key-A.pdf")
    first = [squeeze(line) for line in printed[0]]
    assert "参考答案及解析（A卷）" in first  # its own line, not "…解" / "析（A 卷）"
    assert "答案速查" in first
    heads = [squeeze(line) for lines in printed for line in lines if squeeze(line).startswith("题号答案")]
    assert heads and set(heads) == {"题号答案分值知识点解析"}
    body = [squeeze(line) for lines in printed for line in lines]
    start = body.index("答案速查")
    assert body[start + 1 : start + 1 + len(quick_key_lines(paper))] == quick_key_lines(paper)


def test_libreoffice_sets_options_without_breaking_them(libreoffice: Path, paper: Paper) -> None:
    printed = pages(libreoffice / "paper-A.pdf")
    lines = [squeeze(line) for page in printed for line in page]
    checked = 0
    for question in paper.questions:
        if render_docx.option_columns(question.options, render_docx.TEXT_WIDTH_EM) == 1:
            continue
        for index, text in enumerate(question.options):
            option = squeeze(render_docx.option_label(index) + text)
            assert any(option in line for line in lines), option
            checked += 1
    assert checked > 50


def test_libreoffice_follows_chinese_line_breaking(libreoffice: Path) -> None:
    paper = pages(libreoffice / "paper-A.pdf")
    for lines in paper + pages(libreoffice / "key-A.pdf"):
        check_line_breaking(lines)
    assert squeeze(END_OF_PAPER) in squeeze("".join(paper[-1]))


def test_long_answers_get_wider_quick_key_columns(tmp_path: Path) -> None:
    """Six-letter answers fit their 答案速查 cell unbroken, in the PDF and through LibreOffice."""
    base = make_paper(singles=3, multiples=9)
    wide = dataclasses.replace(
        base,
        sections=[
            dataclasses.replace(section, questions=[
                dataclasses.replace(q, options=[f"选项{k}" for k in range(6)], key="ABCDEF" if q.type == "multiple" else "C")
                for q in section.questions
            ])
            for section in base.sections
        ],
    )
    assert quick_key_per_row(wide) == 5
    render_pdf.render_key_pdf(wide, tmp_path / "key.pdf")
    render_docx.render_key_docx(wide, tmp_path / "key.docx")
    expected = quick_key_lines(wide)
    assert "答案" + "ABCDEF" * 5 in expected
    first = [squeeze(line) for line in pages(tmp_path / "key.pdf")[0]]
    assert first[first.index("答案速查") + 1 :][: len(expected)] == expected
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless", "--convert-to", "pdf",
         "--outdir", str(tmp_path / "lo"), str(tmp_path / "key.docx")],
        check=True, capture_output=True, timeout=180,
    )
    first = [squeeze(line) for line in pages(tmp_path / "lo" / "key.pdf")[0]]
    assert first[first.index("答案速查") + 1 :][: len(expected)] == expected
