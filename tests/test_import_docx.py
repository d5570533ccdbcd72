"""Word files: paragraphs, soft line breaks, tables, and Word's automatic list numbering."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn

from papergen import importer
from papergen.exceptions import InputFileError, InputRejected


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


def test_truncated_docx_is_a_clear_input_error(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("1．题：")
    data = save(document)
    path = tmp_path / "cut.docx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError) as info:
        importer.import_file(path, bank_id="c")
    assert str(path) in str(info.value) and "损坏" in info.value.message


def test_zip_bomb_posing_as_docx_is_refused(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (300 * 1024 * 1024))
    assert path.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(InputRejected) as info:
        importer.import_file(path, bank_id="b")
    assert "zip" in info.value.message and str(path) in str(info.value)


def test_xml_part_with_an_entity_declaration_is_not_expanded(tmp_path: Path) -> None:
    # python-docx parses with lxml with entity resolution off: the entity
    # stays unexpanded and the file is either read without it or refused.
    document = docx.Document()
    document.add_paragraph("1．题：")
    data = save(document)
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "word/document.xml":
                content = content.replace(
                    b"<w:document", b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><w:document', 1
                ).replace("1．题：".encode(), b"&xxe;")
            archive.writestr(item, content)
    path = tmp_path / "xxe.docx"
    path.write_bytes(out.getvalue())
    try:
        report = importer.import_file(path, bank_id="x")
    except InputFileError:
        return
    text = "".join(q.stem for q in report.bank.questions)
    assert "root:" not in text
