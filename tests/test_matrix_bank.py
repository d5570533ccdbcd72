"""Matrix: hostile banks and import sources through `papergen bank validate | stats | import | export`.

Each row: the input, the command, the documented exit code (README "退出码"),
what the message must say (the file, with its line, Word paragraph or Excel
sheet and row), and which files the command may write. Every case runs in a
folder that already holds an earlier import (``out/earlier.yaml``) and, for
import/export, an existing target: a failed command must leave both exactly
as they were and no temp file behind.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
from openpyxl import Workbook

from papergen.core.errors import ExitCode as X
from tests.matrix import Case, assert_nothing_lost, expand, ids, run_cli, snapshot
from tests.test_bank_validate import GOOD, HEAD, question

BANK = HEAD + GOOD  # one valid question; its answer is on line 8
AFTER_BANK = BANK.count("\n") + 1  # the line just after it
TEXT_SOURCE = "1．负责归口指导的是：\nA．组织部门\nB．社会工作部门\n答案：B\n"
DIGIT_STEMS = "2．2023年2月，召开的会议是：\nA．二中全会\nB．三中全会\n答案：A\n3、10余次座谈会后：\nA．3.5%\nB．1949年10月1日\n答案：B\n"


# -- inputs ---------------------------------------------------------------------------


def write(name: str, data: str | bytes):
    def setup(d: Path, ctx=None) -> None:
        (d / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)

    return setup


def both(*setups):
    def setup(d: Path, ctx=None) -> None:
        for step in setups:
            step(d, ctx)

    return setup


def sparse(name: str, megabytes: int):
    def setup(d: Path, ctx=None) -> None:
        with open(d / name, "wb") as handle:
            handle.truncate(megabytes * 1024 * 1024)

    return setup


def docx_bytes(*paragraphs: str) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def xlsx_bytes(*rows, merge=()) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "题库"
    for row in rows:
        sheet.append(list(row))
    for cell_range in merge:
        sheet.merge_cells(cell_range)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


XLSX_HEADER = ["编号", "题型", "题干", "A", "B", "C", "D", "答案", "解析", "知识点", "难度"]
GOOD_XLSX = xlsx_bytes(XLSX_HEADER, *[[f"q{n}", "单选", f"第{n}题：", "a", "b", "c", "d", "ABCD"[n % 4], "", "", 1] for n in range(1, 5)])


def with_entity(kind: str):
    """A DOCX/XLSX whose main XML part declares an external entity and uses it."""
    name, member = ("q.docx", "word/document.xml") if kind == "docx" else ("q.xlsx", "xl/worksheets/sheet1.xml")
    doctype = b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'

    def setup(d: Path, ctx=None) -> None:
        data = docx_bytes("1．PLACEHOLDER", "A．甲", "B．乙", "答案：A") if kind == "docx" else GOOD_XLSX
        source = zipfile.ZipFile(io.BytesIO(data))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for item in source.infolist():
                content = source.read(item.filename)
                if item.filename == member:
                    head, _, rest = content.partition(b"?>") if content.startswith(b"<?xml") else (b"", b"", content)
                    content = head + (b"?>" if head else b"") + doctype + rest
                    content = content.replace(b"PLACEHOLDER", b"&xxe;").replace(b"<t>a</t>", b"<t>&xxe;</t>", 1)
                    assert b"&xxe;" in content
                archive.writestr(item, content)
        (d / name).write_bytes(out.getvalue())

    return setup


def zip_bomb(kind: str) -> bytes:
    """A small zip whose one member inflates 1000:1 (2 MB of zeros), posing as DOCX or XLSX."""
    member = "word/document.xml" if kind == "docx" else "xl/workbook.xml"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(member, b"\0" * (2 * 1024 * 1024))
    return buffer.getvalue()


def half(data: bytes) -> bytes:
    return data[: len(data) // 2]


MOODLE_OK = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n<question type="multichoice">\n'
    "<name><text>q1</text></name>\n<questiontext><text>负责归口指导的是：</text></questiontext>\n"
    "<single>true</single>\n"
    '<answer fraction="0"><text>组织部门</text></answer>\n<answer fraction="100"><text>社会工作部门</text></answer>\n'
    "</question>\n</quiz>\n"
)
XXE = b'<?xml version="1.0"?>\n<!DOCTYPE quiz [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<quiz><question type="multichoice"><questiontext><text>&x;</text></questiontext></question></quiz>'
LAUGHS = b'<?xml version="1.0"?>\n<!DOCTYPE quiz [\n<!ENTITY a "aaaaaaaaaa">\n<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">\n]>\n<quiz>&c;</quiz>'

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(12)
)
OTHER_BANK = HEAD.replace("demo", "other") + question(stem="stem: 完全不同的另一道题目：", options="options: [一, 二, 三]")


# -- the table ------------------------------------------------------------------------
V = ("bank", "validate")
IMPORT_TO = ("-o", "{d}/out/new.yaml")
EXISTING = ("-o", "{d}/out/earlier.yaml")  # import onto the earlier, hand-edited bank

CASES = [
    # bank files: encoding, unsafe YAML, size, content
    Case("bank-gbk", write("bank.yaml", BANK.encode("gbk")), (*V, "{d}/bank.yaml"), X.input_file, ("{d}/bank.yaml:2", "GBK", "iconv -f GBK -t UTF-8")),
    Case("bank-invalid-utf8", write("bank.yaml", BANK.encode() + b"  - id: \xff\xfe\n"), (*V, "{d}/bank.yaml"), X.input_file, (f"{{d}}/bank.yaml:{AFTER_BANK}", "不是有效的 UTF-8", "UTF-8 编码")),
    Case("bank-utf16", write("bank.yaml", BANK.encode("utf-16")), (*V, "{d}/bank.yaml"), X.input_file, ("{d}/bank.yaml", "UTF-16")),
    Case("bank-utf8-bom-accepted", write("bank.yaml", b"\xef\xbb\xbf" + BANK.encode()), (*V, "{d}/bank.yaml"), X.ok, ("1 道题通过；0 个错误",)),
    Case("bank-custom-tag", write("bank.yaml", HEAD + "  - !!python/object:os.system {id: x}\n"), (*V, "{d}/bank.yaml"), X.input_rejected, ("{d}/bank.yaml:4", "YAML 标签")),
    Case("bank-alias-bomb", write("bank.yaml", ALIAS_BOMB), (*V, "{d}/bank.yaml"), X.input_rejected, ("{d}/bank.yaml:1", "锚点/别名")),
    Case("bank-two-documents", write("bank.yaml", BANK + "---\nbank: second\n"), (*V, "{d}/bank.yaml"), X.input_rejected, (f"{{d}}/bank.yaml:{AFTER_BANK}", "一个 YAML 文档")),
    Case("bank-yaml-syntax", write("bank.yaml", HEAD + "  - id: x\n    stem: 题干: 含冒号: 未加引号\n"), (*V, "{d}/bank.yaml"), X.input_file, ("{d}/bank.yaml:5", "YAML")),
    Case("bank-50mb", sparse("bank.yaml", 50), (*V, "{d}/bank.yaml"), X.input_rejected, ("{d}/bank.yaml", "50.0 MB", "PAPERGEN_MAX_INPUT_MB")),
    # the same file with the limit raised is read, and refused for what it is (NUL bytes, not text)
    Case("bank-50mb-limit-raised", sparse("bank.yaml", 50), (*V, "{d}/bank.yaml"), X.input_file, ("{d}/bank.yaml", "空字符"), env={"PAPERGEN_MAX_INPUT_MB": "60"}),
    Case("bank-yaml-node-limit", write("bank.yaml", BANK), (*V, "{d}/bank.yaml"), X.input_rejected, ("{d}/bank.yaml", "PAPERGEN_MAX_YAML_NODES"), env={"PAPERGEN_MAX_YAML_NODES": "10"}),
    Case("bank-missing", None, (*V, "{d}/nope.yaml"), X.input_file, ("{d}/nope.yaml", "不存在")),
    Case("bank-answer-beyond-options", write("bank.yaml", HEAD + question(answer="answer: D")), (*V, "{d}/bank.yaml"), X.bank_invalid, ("{d}/bank.yaml:8: 错误 [answer-out-of-range]", "答案字母 D 超出选项范围")),
    Case("banks-duplicate-ids-across", both(write("a.yaml", BANK), write("b.yaml", OTHER_BANK)), (*V, "{d}/a.yaml", "{d}/b.yaml"), X.bank_invalid, ("{d}/b.yaml:4: 错误 [duplicate-id-across-banks]", "{d}/a.yaml")),
    # the other commands that read banks give the same code for the same file
    Case("stats-gbk", write("bank.yaml", BANK.encode("gbk")), ("bank", "stats", "{d}/bank.yaml"), X.input_file, ("{d}/bank.yaml:2", "GBK")),
    Case("stats-invalid", write("bank.yaml", HEAD + question(answer="answer: D")), ("bank", "stats", "{d}/bank.yaml"), X.bank_invalid, ("{d}/bank.yaml:8", "answer-out-of-range")),
    Case("export-alias-bomb", write("bank.yaml", ALIAS_BOMB), ("bank", "export", "{d}/bank.yaml", "-o", "{d}/out/bank.xlsx"), X.input_rejected, ("{d}/bank.yaml:1", "锚点")),
    Case("export-50mb", sparse("bank.yaml", 50), ("bank", "export", "{d}/bank.yaml", "-o", "{d}/out/bank.xlsx"), X.input_rejected, ("{d}/bank.yaml", "PAPERGEN_MAX_INPUT_MB")),
    Case("export-invalid", write("bank.yaml", HEAD + question(answer="answer: D")), ("bank", "export", "{d}/bank.yaml", "-o", "{d}/out/bank.xlsx"), X.bank_invalid, ("{d}/bank.yaml:8",)),
    Case("export-unknown-format", write("bank.yaml", BANK), ("bank", "export", "{d}/bank.yaml", "-o", "{d}/out/bank.pdf"), X.output_error, ("{d}/out/bank.pdf", "--format")),
    Case("export-ok", write("bank.yaml", BANK), ("bank", "export", "{d}/bank.yaml", "-o", "{d}/out/bank.xlsx"), X.ok, ("1 题 → {d}/out/bank.xlsx",), writes=("out/bank.xlsx",)),
    # import sources
    Case("import-gbk-text", write("q.txt", TEXT_SOURCE.encode("gbk")), ("bank", "import", "{d}/q.txt", *IMPORT_TO), X.input_file, ("{d}/q.txt:1", "GBK")),
    Case("import-50mb", sparse("q.txt", 50), ("bank", "import", "{d}/q.txt", *IMPORT_TO), X.input_rejected, ("{d}/q.txt", "PAPERGEN_MAX_INPUT_MB")),
    Case("import-empty", write("q.txt", b""), ("bank", "import", "{d}/q.txt", *IMPORT_TO), X.input_file, ("{d}/q.txt", "没有找到任何题目")),
    Case("import-prose-without-questions", write("q.txt", "通知\n各位老师：本周五下午开会。\n"), ("bank", "import", "{d}/q.txt", *IMPORT_TO), X.input_file, ("{d}/q.txt", "没有找到任何题目（按中文题目文本读取）")),
    Case("import-truncated-docx", write("q.docx", half(docx_bytes("1．题：", "A．甲", "B．乙", "答案：A"))), ("bank", "import", "{d}/q.docx", *IMPORT_TO), X.input_file, ("{d}/q.docx", "已损坏或不完整")),
    Case("import-truncated-xlsx", write("q.xlsx", half(GOOD_XLSX)), ("bank", "import", "{d}/q.xlsx", *IMPORT_TO), X.input_file, ("{d}/q.xlsx", "已损坏或不完整")),
    Case("import-zip-bomb-docx", write("q.docx", zip_bomb("docx")), ("bank", "import", "{d}/q.docx", *IMPORT_TO), X.input_rejected, ("{d}/q.docx", "word/document.xml", "zip 炸弹", "PAPERGEN_MAX_ZIP_RATIO")),
    Case("import-zip-bomb-xlsx", write("q.xlsx", zip_bomb("xlsx")), ("bank", "import", "{d}/q.xlsx", *IMPORT_TO), X.input_rejected, ("{d}/q.xlsx", "xl/workbook.xml", "zip 炸弹")),
    Case("import-unzipped-total-limit", write("q.xlsx", GOOD_XLSX), ("bank", "import", "{d}/q.xlsx", *IMPORT_TO), X.input_rejected, ("{d}/q.xlsx", "解压后", "PAPERGEN_MAX_UNZIPPED_MB"), env={"PAPERGEN_MAX_UNZIPPED_MB": "0.001"}),
    Case("import-legacy-doc", write("q.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512), ("bank", "import", "{d}/q.doc", *IMPORT_TO), X.input_file, ("{d}/q.doc", "旧版 Office")),
    Case("import-pdf", write("q.pdf", b"%PDF-1.4\n%%EOF\n"), ("bank", "import", "{d}/q.pdf", *IMPORT_TO), X.input_file, ("{d}/q.pdf", "PDF")),
    Case("import-moodle-malformed", write("q.xml", "<quiz>\n<question type=\"multichoice\">\n<name><text>x</name>\n</question>\n</quiz>"), ("bank", "import", "{d}/q.xml", *IMPORT_TO), X.input_file, ("{d}/q.xml:3", "标签不匹配")),
    Case("import-moodle-truncated", write("q.xml", MOODLE_OK[: len(MOODLE_OK) // 2]), ("bank", "import", "{d}/q.xml", *IMPORT_TO), X.input_file, ("{d}/q.xml:",)),
    Case("import-moodle-external-entity", write("q.xml", XXE), ("bank", "import", "{d}/q.xml", *IMPORT_TO), X.input_rejected, ("{d}/q.xml", "DTD")),
    Case("import-moodle-billion-laughs", write("q.xml", LAUGHS), ("bank", "import", "{d}/q.xml", *IMPORT_TO), X.input_rejected, ("{d}/q.xml", "DTD")),
    Case("import-docx-external-entity", with_entity("docx"), ("bank", "import", "{d}/q.docx", *IMPORT_TO), X.input_rejected, ("{d}/q.docx", "word/document.xml", "DTD")),
    Case("import-xlsx-external-entity", with_entity("xlsx"), ("bank", "import", "{d}/q.xlsx", *IMPORT_TO), X.input_rejected, ("{d}/q.xlsx", "xl/worksheets/sheet1.xml", "DTD")),
    Case("import-text-no-answer-line", write("q.txt", TEXT_SOURCE + "2．没有答案的题：\nA．甲\nB．乙\n"), ("bank", "import", "{d}/q.txt", *IMPORT_TO), X.import_incomplete, ("{d}/q.txt:5: 错误 [missing-answer]", "导入 1 题，跳过 1 题"), writes=("out/new.yaml",)),
    Case("import-docx-no-answer-line", write("q.docx", docx_bytes("1．题一：", "A．甲", "B．乙", "答案：A", "2．题二：", "A．甲", "B．乙")), ("bank", "import", "{d}/q.docx", *IMPORT_TO), X.import_incomplete, ("{d}/q.docx", "第 5 段", "missing-answer"), writes=("out/new.yaml",)),
    Case("import-xlsx-merged-cells", write("q.xlsx", xlsx_bytes(XLSX_HEADER, ["q1", "单选", "一", "a", "b", "c", "d", "A", "", "", 1], ["q2", "单选", "二", "a", "b", "c", "d", "B", "", "", 1], ["q3", "单选", "三", "a", "b", "c", "d", "C", "", "", 1], merge=["H3:H4"])), ("bank", "import", "{d}/q.xlsx", *IMPORT_TO), X.import_incomplete, ("{d}/q.xlsx", "工作表 题库 第 3 行", "merged-cells", "H3:H4"), writes=("out/new.yaml",)),
    Case("import-xlsx-missing-header", write("q.xlsx", xlsx_bytes(["题干", "A", "B", "C", "解析"], ["一", "a", "b", "c", ""])), ("bank", "import", "{d}/q.xlsx", *IMPORT_TO), X.input_file, ("{d}/q.xlsx", "答案")),
    Case("import-onto-edited-bank", write("q.txt", TEXT_SOURCE), ("bank", "import", "{d}/q.txt", *EXISTING), X.output_error, ("{d}/out/earlier.yaml", "--force")),
    # stems that start with a year right after the question number: every question is read
    Case("import-text-digit-stems", write("q.txt", TEXT_SOURCE + DIGIT_STEMS), ("bank", "import", "{d}/q.txt", *IMPORT_TO), X.ok, ("导入 3 题，跳过 0 题",), writes=("out/new.yaml",)),
    Case("import-docx-digit-stems", write("q.docx", docx_bytes(*(TEXT_SOURCE + DIGIT_STEMS).splitlines())), ("bank", "import", "{d}/q.docx", *IMPORT_TO), X.ok, ("导入 3 题，跳过 0 题",), writes=("out/new.yaml",)),
    # a question without its number runs into the one before: both keys are refused, the line named
    Case("import-text-merged-question", write("q.txt", TEXT_SOURCE + "【解析】略。\n下列说法正确的是：\nA．甲\nB．乙\n答案：A\n" + DIGIT_STEMS), ("bank", "import", "{d}/q.txt", *IMPORT_TO), X.import_incomplete, ("{d}/q.txt:9: 错误 [conflicting-answers]", "导入 2 题，跳过 1 题"), writes=("out/new.yaml",)),
    Case("import-text-unnumbered-question", write("q.txt", TEXT_SOURCE + "下列说法正确的是：\nA．甲\nB．乙\n答案：A\n" + DIGIT_STEMS), ("bank", "import", "{d}/q.txt", *IMPORT_TO), X.import_incomplete, ("{d}/q.txt:6: 错误 [options-without-number]", "导入 3 题，跳过 1 题"), writes=("out/new.yaml",)),
    Case("import-ok", write("q.txt", TEXT_SOURCE), ("bank", "import", "{d}/q.txt", *IMPORT_TO), X.ok, ("找到 1 题，导入 1 题，跳过 0 题，题外文字 0 处 → {d}/out/new.yaml",), writes=("out/new.yaml",)),
]




@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_bank_matrix(case: Case, tmp_path: Path) -> None:
    d = tmp_path
    (d / "out").mkdir()
    (d / "out" / "earlier.yaml").write_text(BANK.replace("负责归口指导的是：", "负责归口指导的是（手工改过）："), encoding="utf-8")
    (d / "out" / "bank.xlsx").write_bytes(GOOD_XLSX)  # an earlier export
    if case.setup:
        case.setup(d)
    before = snapshot(d)

    result = run_cli(expand(case.argv, d=d), env=case.env)

    assert result.exit_code == case.exit_code, result.output
    for fragment in expand(case.says, d=d):
        assert fragment in result.output, f"{fragment!r} not in:\n{result.output}"
    assert "root:" not in result.output  # no external entity was ever resolved
    after = assert_nothing_lost(before, d, case.writes)
    if case.exit_code in (X.ok, X.import_incomplete) and "out/new.yaml" in case.writes:
        assert run_cli(["bank", "validate", d / "out" / "new.yaml"]).exit_code == X.ok
        assert b"root:" not in after["out/new.yaml"]
