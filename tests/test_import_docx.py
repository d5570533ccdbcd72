"""Word files: paragraphs, soft line breaks, tables, and Word's automatic list numbering."""

from __future__ import annotations

import io
from pathlib import Path

import docx
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from papergen.bank import importer


def save(document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def add_list_numbering(document, num_id: int = 90) -> None:
    """A list whose level 0 counts 1, 2, 3 and level 1 counts A, B, C."""
    numbering = document.part.numbering_part.element
    numbering.insert(
        0,
        parse_xml(
            f'<w:abstractNum {nsdecls("w")} w:abstractNumId="{num_id}">'
            '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/></w:lvl>'
            '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="upperLetter"/><w:lvlText w:val="%2."/></w:lvl>'
            "</w:abstractNum>"
        ),
    )
    numbering.append(
        parse_xml(f'<w:num {nsdecls("w")} w:numId="{num_id}"><w:abstractNumId w:val="{num_id}"/></w:num>')
    )


def numbered(document, text: str, level: int, num_id: int = 90):
    paragraph = document.add_paragraph(text)
    ppr = paragraph._p.get_or_add_pPr()
    ppr.append(
        parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>')
    )
    return paragraph


def test_typed_numbering_with_paragraph_places(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("模拟题", level=1)
    document.add_paragraph("一、单项选择题")
    document.add_paragraph("1．暖新驿站主要解决哪些问题？")
    document.add_paragraph("A．进门难　B．停车难")
    document.add_paragraph("C．用餐难　D．以上都是")
    document.add_paragraph("【答案】D")
    document.add_paragraph("【解析】暖新驿站解决进门难、停车难、用餐难、休息难。")
    document.add_paragraph("2．没有答案的题：")
    document.add_paragraph("A．一")
    document.add_paragraph("B．二")
    path = tmp_path / "bank.docx"
    path.write_bytes(save(document))
    report = importer.import_file(path, bank_id="w")
    (question,) = report.bank.questions
    assert question.type == "single" and question.answer == "D" and question.line == 3
    assert [o.text for o in question.options] == ["进门难", "停车难", "用餐难", "以上都是"]
    (error,) = report.errors
    assert error.code == "missing-answer" and error.location() == f"{path}:第 8 段"


def test_soft_line_breaks_split_a_paragraph(tmp_path: Path) -> None:
    document = docx.Document()
    paragraph = document.add_paragraph("1．题干：")
    for line in ("A．一", "B．二", "答案：B"):
        paragraph.add_run().add_break()
        paragraph.add_run(line)
    path = tmp_path / "soft.docx"
    path.write_bytes(save(document))
    (question,) = importer.import_file(path, bank_id="s").bank.questions
    assert ([o.text for o in question.options], question.answer) == (["一", "二"], "B")


def test_word_automatic_numbering_is_read_as_typed(tmp_path: Path) -> None:
    document = docx.Document()
    add_list_numbering(document)
    numbered(document, "第一题题干：", 0)
    numbered(document, "甲", 1)
    numbered(document, "乙", 1)
    document.add_paragraph("答案：B")
    numbered(document, "第二题题干：", 0)
    numbered(document, "丙", 1)
    numbered(document, "丁", 1)
    numbered(document, "戊", 1)
    document.add_paragraph("答案：AC")
    path = tmp_path / "auto.docx"
    path.write_bytes(save(document))
    report = importer.import_file(path, bank_id="a")
    got = [(q.stem, [o.text for o in q.options], q.answer, q.type) for q in report.bank.questions]
    assert got == [
        ("第一题题干：", ["甲", "乙"], "B", "single"),
        ("第二题题干：", ["丙", "丁", "戊"], "AC", "multiple"),
    ]


def test_stems_starting_with_digits_typed_and_auto_numbered(tmp_path: Path) -> None:
    """Word paragraphs go through the text reader: "2．2023年……" is question 2, whoever numbered it."""
    document = docx.Document()
    document.add_paragraph("一、单项选择题")
    document.add_paragraph("1．第一题：")
    document.add_paragraph("A．一")
    document.add_paragraph("B．二")
    document.add_paragraph("答案：A")
    document.add_paragraph("【解析】要点：")
    document.add_paragraph("1.5万名快递员参加。")  # a 解析 line, not question 1
    document.add_paragraph("2．2023年2月，召开的会议是：")
    document.add_paragraph("A．党的二十届二中全会　B．党的二十届三中全会")
    document.add_paragraph("答案：A")
    document.add_paragraph("3、10余次座谈会后：")
    document.add_paragraph("A．3.5%")
    document.add_paragraph("B．1949年10月1日")
    document.add_paragraph("答案：B")
    document.add_paragraph("二、多项选择题")
    add_list_numbering(document)
    numbered(document, "２０２４年座谈会提出：", 0)  # Word shows "1．２０２４年……"
    numbered(document, "2023年起推广", 1)
    numbered(document, "共建共治共享", 1)
    numbered(document, "关心关爱", 1)
    document.add_paragraph("答案：AB")
    path = tmp_path / "digits.docx"
    path.write_bytes(save(document))
    report = importer.import_file(path, bank_id="d")
    assert {p.code for p in report.problems} == {"no-explanation"} and report.skipped == 0
    got = [(q.line, q.type, q.stem, [o.text for o in q.options], q.answer) for q in report.bank.questions]
    assert got == [
        (2, "single", "第一题：", ["一", "二"], "A"),
        (8, "single", "2023年2月，召开的会议是：", ["党的二十届二中全会", "党的二十届三中全会"], "A"),
        (11, "single", "10余次座谈会后：", ["3.5%", "1949年10月1日"], "B"),
        (16, "multiple", "２０２４年座谈会提出：", ["2023年起推广", "共建共治共享", "关心关爱"], "AB"),
    ]
    assert report.bank.questions[0].explanation == "要点：\n1.5万名快递员参加。"


def test_questions_inside_a_table_are_read(tmp_path: Path) -> None:
    document = docx.Document()
    table = document.add_table(rows=1, cols=1)
    cell = table.cell(0, 0)
    cell.paragraphs[0].text = "1．表格里的题："
    for line in ("A．一", "B．二", "答案：A"):
        cell.add_paragraph(line)
    path = tmp_path / "table.docx"
    path.write_bytes(save(document))
    (question,) = importer.import_file(path, bank_id="t").bank.questions
    assert question.stem == "表格里的题：" and question.answer == "A"




# Found by bench/fuzz.py: damaged numbering definitions and list levels, and a
# document part without a body, are input-file errors naming the place.


def _import_error(tmp_path: Path, data: bytes):
    from papergen.core.errors import InputFileError

    path = tmp_path / "bad.docx"
    path.write_bytes(data)
    try:
        importer.import_file(path, bank_id="w")
    except InputFileError as exc:
        return exc
    raise AssertionError("no InputFileError")


def _numbering_with(level_xml: str):
    document = docx.Document()
    document.part.numbering_part.element.insert(
        0, parse_xml(f'<w:abstractNum {nsdecls("w")} w:abstractNumId="91">{level_xml}</w:abstractNum>')
    )
    document.part.numbering_part.element.append(
        parse_xml(f'<w:num {nsdecls("w")} w:numId="91"><w:abstractNumId w:val="91"/></w:num>')
    )
    document.add_paragraph("1．题干：")
    return document


def test_damaged_numbering_definition_names_the_numbering_part(tmp_path: Path) -> None:
    for level_xml, words in (
        ('<w:lvl w:ilvl="x"><w:numFmt w:val="decimal"/></w:lvl>', "不是整数"),
        ('<w:lvl w:ilvl="0"><w:start w:val="99999999999"/></w:lvl>', "超出范围"),
        ('<w:lvl w:ilvl="0"><w:start w:val=""/></w:lvl>', "不是整数"),
    ):
        error = _import_error(tmp_path, save(_numbering_with(level_xml)))
        assert error.where == "自动编号定义（word/numbering.xml）" and words in error.message


def test_damaged_list_level_of_a_paragraph_names_the_paragraph(tmp_path: Path) -> None:
    for level in ("9", "x"):
        document = docx.Document()
        add_list_numbering(document)
        numbered(document, "题干：", 0)
        paragraph = document.add_paragraph("A．一")
        paragraph._p.get_or_add_pPr().append(
            parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{level}"/><w:numId w:val="90"/></w:numPr>')
        )
        error = _import_error(tmp_path, save(document))
        assert error.where == "第 2 段" and "列表" in error.message


def test_document_part_without_a_body_is_an_input_file_error(tmp_path: Path) -> None:
    import zipfile

    document = docx.Document()
    document.add_paragraph("1．题干：")
    source = io.BytesIO(save(document))
    target = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            content = old.read(info)
            if info.filename == "word/document.xml":  # the root element is no longer <w:document>
                content = content.replace(b"<w:document ", b"<w:documentx ").replace(b"</w:document>", b"</w:documentx>")
            new.writestr(info, content)
    error = _import_error(tmp_path, target.getvalue())
    assert "w:body" in error.message and error.path == str(tmp_path / "bad.docx")
