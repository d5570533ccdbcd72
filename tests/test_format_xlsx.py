"""The XLSX reader and writer: header finding, row rules, and a lossless round trip."""

from __future__ import annotations

import zipfile
from io import BytesIO

import pytest
from openpyxl import Workbook, load_workbook

from papergen.bank.formats import xlsx
from papergen.bank.model import Bank, Option, Question
from papergen.core.errors import InputFileError, OutputError

PATH = "题库.xlsx"
HEADER = ["编号", "题型", "题干", "A", "B", "C", "D", "答案", "解析", "知识点", "难度"]


def workbook_bytes(*rows, title="Sheet1", merge=(), extra_sheets=()):
    """A workbook whose first sheet holds ``rows`` (lists of cell values)."""
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    for cell_range in merge:
        sheet.merge_cells(cell_range)
    for name, sheet_rows in extra_sheets:
        other = book.create_sheet(name)
        for row in sheet_rows:
            other.append(list(row))
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def sample_bank() -> Bank:
    return Bank(
        id="xinjiuye-dangjian",
        title="新就业群体党建工作 <&>\"'",
        questions=[
            Question(
                id="xjy-001",
                type="single",
                stem="目前我国已初步形成的新就业群体党建工作管理体制是：",
                options=[Option("党委统一领导、组织部门牵头抓总"), Option("政府统一领导、人社部门牵头")],
                answer="A",
                explanation="第一行解析；\n第二行：“引号”《书名》",
                topic="管理体制与工作机制/管理体制",
                difficulty=2,
                tags=["二十大报告", "管理体制"],
                source="000_d1ff516931108456.txt",
            ),
            Question(
                id="xjy-002",
                type="multiple",
                stem="XML 与 GIFT 特殊字符 <a href=\"x\">&amp; ~=#{}: 'q'",
                options=[Option(f"选项{letter}，内容") for letter in "ABCDEFG"] + [Option("以上都是", pin=True)],
                answer="ACH",
                explanation="",
                topic="未分类",
                difficulty=5,
                tags=[],
                source="",
            ),
            Question(
                id="007",
                type="multiple",
                stem="=SUM(A1:A3)",
                options=[Option("+86 电话"), Option("-5 的绝对值"), Option("@所有人"), Option("#N/A")],
                answer="B",
                explanation="=1+1 不是公式",
                topic="公式/字符",
                difficulty=3,
                tags=["a b"],
                source="手工",
            ),
        ],
    )


# ---------------------------------------------------------------------------
# Round trip and writer layout


def test_round_trip_gives_back_every_field():
    bank = sample_bank()
    result = xlsx.read(xlsx.write(bank), PATH)
    assert result.problems == []
    assert (result.bank_id, result.title) == (bank.id, bank.title)
    assert [record.fields for record in result.records] == [question.to_yaml() for question in bank.questions]
    assert [record.line for record in result.records] == [2, 3, 4]
    assert result.records[1].where == "工作表 题库 第 3 行"


def test_writer_layout():
    book = load_workbook(BytesIO(xlsx.write(sample_bank())))
    assert book.sheetnames == ["题库", "题库信息"]
    sheet = book["题库"]
    header = [cell.value for cell in sheet[1]]
    assert header == ["编号", "题型", "题干", *"ABCDEFGH", "答案", "解析", "知识点", "难度", "标签", "来源", "固定选项"]
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:R4"
    assert sheet.column_dimensions["C"].width > sheet.column_dimensions["B"].width
    assert sheet["C2"].alignment.wrap_text
    assert [sheet.cell(row, 2).value for row in (2, 3)] == ["单选", "多选"]
    assert sheet["P2"].value == "二十大报告、管理体制"
    assert sheet["R3"].value == "H"
    assert sheet["O2"].value == 2
    info = book["题库信息"]
    assert [[c.value for c in row] for row in info.iter_rows()] == [["bank", "xinjiuye-dangjian"], ["title", sample_bank().title]]


def test_writer_uses_at_least_four_option_columns():
    bank = sample_bank()
    bank.questions = bank.questions[:1]
    sheet = load_workbook(BytesIO(xlsx.write(bank)))["题库"]
    assert [cell.value for cell in sheet[1]][3:8] == ["A", "B", "C", "D", "答案"]


def test_formula_looking_text_is_written_as_text():
    data = xlsx.write(sample_bank())
    with zipfile.ZipFile(BytesIO(data)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in xml and "<f " not in xml
    assert "=SUM(A1:A3)" in xml
    sheet = load_workbook(BytesIO(data))["题库"]
    assert (sheet["C4"].value, sheet["C4"].data_type) == ("=SUM(A1:A3)", "s")
    assert (sheet["G4"].value, sheet["G4"].data_type) == ("#N/A", "s")
    record = xlsx.read(data, PATH).records[2]
    assert record.fields["stem"] == "=SUM(A1:A3)"
    assert record.fields["options"] == ["+86 电话", "-5 的绝对值", "@所有人", "#N/A"]


def test_writing_is_idempotent():
    def cells(data):
        book = load_workbook(BytesIO(data))
        return {name: [[c.value for c in row] for row in book[name].iter_rows()] for name in book.sheetnames}

    assert cells(xlsx.write(sample_bank())) == cells(xlsx.write(sample_bank()))


def test_unwritable_control_character_is_refused():
    bank = sample_bank()
    bank.questions[0].stem = "坏字符\x0b在这里"
    with pytest.raises(OutputError, match="xjy-001.*题干"):
        xlsx.write(bank)


# ---------------------------------------------------------------------------
# Reading what people make


def test_english_headers_and_tolerant_header_text():
    data = workbook_bytes(
        [" ID ", "TYPE", "Stem", "Option A", "option b", "选项Ｃ", "选项 D", "Answer", "Explanation", "Topic",
         "Difficulty", "Tags", "Source", "Pinned"],
        ["q1", "Multiple", "题目一", "甲", "乙", "丙", "以上都是", "a, c", "因为", "政治/党建", "4", "甲；乙、丙,丁", "书", "d"],
    )
    result = xlsx.read(data, PATH)
    assert result.problems == []
    assert result.records[0].fields == {
        "id": "q1", "type": "multiple", "stem": "题目一",
        "options": ["甲", "乙", "丙", {"text": "以上都是", "pin": True}],
        "answer": "AC", "explanation": "因为", "topic": "政治/党建", "difficulty": 4,
        "tags": ["甲", "乙", "丙", "丁"], "source": "书",
    }
    assert (result.bank_id, result.title) == (None, None)


def test_title_rows_above_header_and_minimal_columns():
    data = workbook_bytes(
        ["2024 年党建知识题库"],
        [],
        ["*题干", "选项A", "选项B", "选项C", "答案（必填）"],
        ["第一题", "对的", "错的", None, "Ａ"],
        [None, None, None, None, None],
        ["第二题", 1.0, 2.5, "第一行\n第二行", "A、C"],
    )
    result = xlsx.read(data, "/tmp/机构题库.xlsx")
    assert result.problems == []
    assert [r.line for r in result.records] == [4, 6]
    assert result.records[0].where == "工作表 Sheet1 第 4 行"
    first, second = (r.fields for r in result.records)
    assert first == {
        "id": None, "type": None, "stem": "第一题", "options": ["对的", "错的"], "answer": "A",
        "explanation": "", "topic": None, "difficulty": None, "tags": [], "source": "机构题库.xlsx",
    }
    assert second["options"] == ["1", "2.5", "第一行\n第二行"]
    assert second["answer"] == "AC"


def test_merged_cells_are_reported_and_their_rows_skipped():
    data = workbook_bytes(
        ["党建题库"],
        HEADER,
        ["q1", "单选", "一", "a", "b", "c", "d", "A", "", "", 1],
        ["q2", "单选", "二", "a", "b", "c", "d", "B", "", "", 1],
        ["q3", "单选", "三", "a", "b", "c", "d", "C", "", "", 1],
        ["q4", "单选", "四", "a", "b", "c", "d", "D", "", "", 1],
        merge=["A1:K1", "J4:J5"],
    )
    result = xlsx.read(data, PATH)
    assert [r.fields["id"] for r in result.records] == ["q1", "q4"]
    [problem] = result.problems
    assert (problem.severity, problem.code, problem.line) == ("error", "merged-cells", 4)
    assert "J4:J5" in problem.message and "第 4–5 行" in problem.message
    assert problem.where == "工作表 Sheet1 第 4 行"


def test_missing_answer_header_is_an_input_file_error():
    data = workbook_bytes(["题干", "A", "B", "C", "解析"], ["一", "a", "b", "c", ""])
    with pytest.raises(InputFileError) as caught:
        xlsx.read(data, PATH)
    assert "答案" in caught.value.message and "题干" not in caught.value.message
    assert PATH in str(caught.value)


def test_no_header_at_all_names_every_required_column():
    with pytest.raises(InputFileError, match="题干、答案、至少两个选项列"):
        xlsx.read(workbook_bytes(["随便", "什么"]), PATH)


def test_truncated_and_non_zip_files_are_input_file_errors():
    data = xlsx.write(sample_bank())
    with pytest.raises(InputFileError):
        xlsx.read(data[: len(data) // 2], PATH)
    with pytest.raises(InputFileError):
        xlsx.read(b"not a workbook at all", PATH)


def test_zip_that_is_not_a_workbook_is_an_input_file_error():
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(InputFileError, match="Excel"):
        xlsx.read(buffer.getvalue(), PATH)


def test_first_sheet_with_a_header_is_read():
    data = workbook_bytes(["填写说明：每行一道题"], title="说明", extra_sheets=[("题目", [HEADER, ["q1", "", "一", "a", "b", "", "", "B"]])])
    result = xlsx.read(data, PATH)
    assert [r.where for r in result.records] == ["工作表 题目 第 2 行"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [(1, 1), (5.0, 5), ("3", 3), ("４", 4), ("易", 1), ("较易", 2), ("中", 3), ("中等", 3), ("较难", 4), ("难", 5), (None, None)],
)
def test_difficulty_values(cell, expected):
    data = workbook_bytes(HEADER, ["q1", "单选", "一", "a", "b", "", "", "A", "", "", cell])
    assert xlsx.read(data, PATH).records[0].fields["difficulty"] == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("单选", "single"), ("单选题", "single"), ("单项选择题", "single"), ("Single", "single"), ("多选", "multiple"),
     ("多选题", "multiple"), ("多项选择", "multiple"), ("不定项", "multiple"), ("multiple", "multiple"), (None, None)],
)
def test_type_values(cell, expected):
    data = workbook_bytes(HEADER, ["q1", cell, "一", "a", "b", "", "", "A"])
    assert xlsx.read(data, PATH).records[0].fields["type"] == expected


def test_bad_rows_are_problems_on_their_own_rows_and_others_are_read():
    data = workbook_bytes(
        HEADER,
        ["q1", "判断", "一", "对", "错", "", "", "A"],
        ["q2", "单选", "二", "a", "b", "", "", "A", "", "", 6],
        ["q3", "单选", "三", "a", "b", "", "", "A", "", "", "很难"],
        ["q4", "单选", "四", "a", None, "c", "", "A"],
        ["q5", "单选", "五", "a", "b", "", "", "正确"],
        [None] * 11,
        ["q6", "单选", "六", "a", "b", "", "", ""],
    )
    result = xlsx.read(data, PATH)
    assert [(p.code, p.line) for p in result.problems] == [
        ("bad-type", 2), ("bad-difficulty", 3), ("bad-difficulty", 4), ("option-gap", 5), ("bad-answer", 6),
    ]
    assert all(p.severity == "error" and p.where == f"工作表 Sheet1 第 {p.line} 行" for p in result.problems)
    assert "判断" in result.problems[0].message
    assert "选项 B" in result.problems[3].message and "C" in result.problems[3].message
    [record] = result.records
    assert (record.fields["id"], record.fields["answer"], record.line) == ("q6", "", 8)


def test_pinned_letter_outside_the_options_is_a_problem():
    data = workbook_bytes(HEADER + ["固定选项"], ["q1", "单选", "一", "a", "b", "", "", "A", "", "", 1, "D"])
    result = xlsx.read(data, PATH)
    assert [(p.code, p.line) for p in result.problems] == [("bad-pinned", 2)]
    assert result.records == []


def test_unknown_columns_are_a_warning_on_the_header_row():
    data = workbook_bytes(["序号"] + HEADER[1:] + ["备注", "答案"], [1, "单选", "一", "a", "b", "", "", "B", "", "", 1, "x", "C"])
    result = xlsx.read(data, PATH)
    [warning] = result.problems
    assert (warning.severity, warning.code, warning.line) == ("warning", "ignored-column", 1)
    assert "序号" in warning.message and "备注" in warning.message and "答案（重复）" in warning.message
    assert result.records[0].fields["answer"] == "B"
    assert result.records[0].fields["id"] is None


# Found by bench/fuzz.py: damage inside the zip that zipfile reports with other
# exceptions than BadZipFile, and a 题库信息 sheet naming an invalid bank id.


def _damaged(data: bytes, how: str) -> bytes:
    if how == "deflate":  # a member's compressed bytes replaced by an invalid deflate stream
        with zipfile.ZipFile(BytesIO(data)) as archive:
            info = archive.getinfo("xl/worksheets/sheet1.xml")
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        return data[:start] + b"\xff" * info.compress_size + data[start + info.compress_size :]
    # "negative seek": the end record says the central directory starts later than it does
    end = data.rindex(b"PK\x05\x06")
    offset = int.from_bytes(data[end + 16 : end + 20], "little") + 1000
    return data[: end + 16] + offset.to_bytes(4, "little") + data[end + 20 :]


@pytest.mark.parametrize("how", ["deflate", "offsets"])
def test_damaged_zip_members_are_input_file_errors(how):
    with pytest.raises(InputFileError) as caught:
        xlsx.read(_damaged(xlsx.write(sample_bank()), how), PATH)
    assert caught.value.path == PATH and "损坏" in caught.value.message


def test_invalid_bank_id_in_the_info_sheet_falls_back_to_the_given_one(tmp_path):
    from papergen.bank import importer

    data = workbook_bytes(HEADER, ["q1", "单选", "题", "甲", "乙", "", "", "A", "", "", ""],
                          extra_sheets=[("题库信息", [["bank", "3 days, 0:00:00"], ["title", "   "]])])
    source = tmp_path / "练习.xlsx"
    source.write_bytes(data)
    report = importer.import_file(source, bank_id="lx")
    assert (report.bank.id, report.bank.title) == ("lx", "练习")
    assert "bad-source-bank-id" in [p.code for p in report.problems]
