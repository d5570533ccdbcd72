"""GIFT: lossless round trip, Moodle-written GIFT, escapes and non-choice questions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papergen.bank.formats import gift
from papergen.bank.model import Bank, Option, Question
from papergen.core.errors import InputFileError
from tests.conftest import FIXTURES, marked_line, sample_bank

PATH = "题库.gift"


def awkward_bank() -> Bank:
    """The shared sample plus texts that are hard for GIFT."""
    bank = sample_bank()
    bank.questions.append(
        Question(
            id="s-004",
            type="single",
            stem="::不是标题:: {不是答案} ~波浪 =等号 #井号 ####四个井号\n// 不是注释\n$CATEGORY: 不是类别",
            options=[Option("%50%不是权重"), Option("[html]<b>不是 HTML</b>"), Option("反斜杠 \\ 与字面 \\n")],
            answer="B",
            explanation="多行\n\n解析：“引号”、《书名》 {T}",
            topic="测试/GIFT",
            difficulty=4,
            tags=["含 空格 的标签", "{特殊}"],
            source="来源: a#b.txt",
        )
    )
    bank.questions.append(
        Question(
            id="题目五",
            type="multiple",
            stem="两个选项都对",
            options=[Option("甲", pin=True), Option("乙")],
            answer="AB",
            topic="测试",
        )
    )
    return bank


def test_round_trip_keeps_every_field_and_the_bank():
    bank = awkward_bank()
    result = gift.read(gift.write(bank), PATH)
    assert result.problems == []
    assert (result.bank_id, result.title) == (bank.id, bank.title)
    assert [record.fields["id"] for record in result.records] == [q.id for q in bank.questions]
    for question, record in zip(bank.questions, result.records):
        expected = question.to_yaml()
        assert {key: record.fields[key] for key in expected} == expected


def test_export_layout():
    text = gift.write(awkward_bank()).decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == '// papergen-bank: {"bank": "sample", "title": "样例题库 <测试> & “引号”"}'
    assert "$CATEGORY: $course$/top/sample/管理体制与工作机制/管理体制" in lines
    first = lines.index("::s-001::新就业群体党建工作中，负责“归口指导”的是：{")
    assert json.loads(lines[first - 1].removeprefix("// papergen:")) == {
        "difficulty": 2, "source": "000_d1ff516931108456.txt", "tags": ["二十大报告", "体制"],
    }
    assert lines[first + 1 : first + 7] == [
        "\t~组织部门", "\t=社会工作部门", "\t~行业主管部门", "\t~属地街道社区", "\t####社会工作部门归口指导。\\n组织部门牵头抓总。", "}",
    ]
    second = lines.index("::s-002::下列符号应原样保留：<a> & \\{b\\} \\~c \\=d \\#e \\:f \"g\" 'h'{")
    assert json.loads(lines[second - 1].removeprefix("// papergen:"))["pin"] == "H"
    assert lines[second + 1 : second + 3] == ["\t~%25%选项1", "\t~%-100%选项2"]
    awkward = next(line for line in lines if line.startswith("::s-004::"))
    assert "\\n// 不是注释\\n$CATEGORY\\: 不是类别" in awkward
    assert "\t~%0%%50%不是权重" in lines and "\t=[plain][html]<b>不是 HTML</b>" in lines


def test_record_lines_point_at_the_title_line():
    data = gift.write(awkward_bank())
    lines = data.decode("utf-8").splitlines()
    expected = [number for number, line in enumerate(lines, start=1) if line.startswith("::")]
    assert [record.line for record in gift.read(data, PATH).records] == expected


texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t~=#{}:\\%[]/$"),
    min_size=1,
    max_size=40,
).filter(lambda s: s == s.strip() and s)


@settings(max_examples=200, deadline=None)
@given(stem=texts, option=texts, explanation=texts, tag=texts, answer=st.sampled_from("AB"))
def test_any_text_round_trips(stem, option, explanation, tag, answer):
    question = Question("q1", "single", stem, [Option("另一项"), Option(option)], answer, explanation, topic="t", tags=[tag])
    fields = gift.read(gift.write(Bank("b", "t", [question])), PATH).records[0].fields
    assert (fields["stem"], fields["options"][1], fields["explanation"], fields["tags"]) == (stem, option, explanation, [tag])


# ---------------------------------------------------------------------------
# GIFT written by Moodle or by hand


def test_moodle_style_gift():
    data = (FIXTURES / "gift" / "moodle_export.gift").read_bytes()
    text = data.decode("utf-8")
    result = gift.read(data, "moodle_export.gift")
    assert (result.bank_id, result.title) == (None, "新就业群体")

    def line(title: str) -> int:
        return marked_line(text, f"::{title}::")

    first, second, judge, blank = result.records
    assert first.line == line("管理体制")
    assert first.fields == {
        "id": "xjy-101",
        "type": "single",
        "stem": "目前我国已初步形成的新就业群体党建工作管理体制是:",
        "options": ["党委统一领导、组织部门牵头抓总", "政府统一领导、人社部门牵头", "工会统一领导 & 协调"],
        "answer": "A",
        "explanation": "党委统一领导。\n组织部门牵头抓总。",
        "topic": "组织覆盖",
        "difficulty": None,
        "tags": ["二十大报告", "体制"],
        "source": None,
    }
    assert second.line == line("Q2")
    assert (second.fields["id"], second.fields["type"], second.fields["answer"]) == ("Q2", "multiple", "AB")
    assert second.fields["options"] == ["单独组建", "联合组建", "撤销组建"]
    assert second.fields["stem"] == "推进组织覆盖可以采取的方式有"
    assert judge.line == line("判断")
    assert (judge.fields["id"], judge.fields["options"], judge.fields["answer"]) == (None, ["正确", "错误"], "A")
    assert blank.line == line("Q9")
    assert blank.fields["stem"] == "快递员属于（ ）的一部分。"
    assert (blank.fields["options"], blank.fields["answer"]) == (["农民", "新就业群体", "个体户"], "B")

    found = [(p.severity, p.code, p.line) for p in result.problems]
    assert found == [
        ("error", "unsupported-question-type", line("论述")),
        ("error", "unsupported-question-type", line("数值")),
        ("error", "unsupported-question-type", line("简答")),
        ("error", "gift-syntax", line("Q8")),
        ("warning", "gift-true-false", line("判断")),
    ]
    assert all(p.path == "moodle_export.gift" for p in result.problems)
    assert "简答题/论述题（GIFT 的 {} 题" in result.problems[0].message and "论述" in result.problems[0].message
    assert "数值题" in result.problems[1].message
    assert "只有 = 答案" in result.problems[2].message
    assert "}" in result.problems[3].message
    assert "正确 / B 错误" in result.problems[4].message
    # The description (no answer block) is no question: text outside any question.
    assert result.stray == [(line("说明"), "::说明::以下各题考查组织覆盖。")]
    # Blocks with an answer part: 4 imported + 4 refused.
    assert result.found == 8
    assert not any("type 改为" in p.message for p in result.problems)


@pytest.mark.parametrize(
    "title, expected",
    [("xjy-001", "xjy-001"), ("Q12", "Q12"), ("管理体制", None), ("Question one", None), ("abc", None)],
)
def test_title_is_an_id_only_when_it_looks_like_one(title, expected):
    data = f"::{title}::题干{{=甲 ~乙}}\n".encode()
    assert gift.read(data, PATH).records[0].fields["id"] == expected


def test_plain_gift_without_titles_or_categories():
    data = "// 练习\n第一题 {=对 ~错}\n\n第二题\n分两行 {\n~%100%甲\n~%-50%乙 # 反馈\n}\n".encode()
    first, second = gift.read(data, PATH).records
    assert (first.line, first.fields["stem"], first.fields["topic"], first.fields["id"]) == (2, "第一题", None, None)
    # A checkbox question (no "=") with one scoring option: Moodle's "multi
    # tricky" case; papergen makes it a single choice and says so.
    assert (second.line, second.fields["stem"], second.fields["type"]) == (4, "第二题\n分两行", "single")
    assert (second.fields["options"], second.fields["answer"]) == (["甲", "乙"], "A")


def test_false_becomes_answer_b_and_escapes_are_undone():
    data = "::Q1::a\\{b\\}\\~c\\=d\\#e\\:f\\\\g\\nh {FALSE#反馈}\n".encode()
    fields = gift.read(data, PATH).records[0].fields
    assert fields["stem"] == "a{b}~c=d#e:f\\g\nh"
    assert (fields["options"], fields["answer"]) == (["正确", "错误"], "B")


def test_bad_papergen_comment_is_a_warning_and_the_question_is_kept():
    data = "// papergen: {not json\n::Q1::题 {=甲 ~乙}\n".encode()
    result = gift.read(data, PATH)
    assert [(p.severity, p.code, p.line) for p in result.problems] == [("warning", "bad-papergen-comment", 1)]
    assert result.records[0].fields["answer"] == "A"


def test_papergen_comment_only_applies_within_its_block():
    data = '// papergen: {"difficulty": 4}\n\n::Q1::题 {=甲 ~乙}\n'.encode()
    assert gift.read(data, PATH).records[0].fields["difficulty"] is None


def test_windows_line_ends_and_bom():
    data = "\ufeff::Q1::题\r\n{=甲\r\n~乙}\r\n\r\n::Q2::题二 {~a =b}".encode()
    records = gift.read(data, PATH).records
    assert [(r.line, r.fields["stem"], r.fields["answer"]) for r in records] == [(1, "题", "A"), (5, "题二", "B")]


def test_gbk_file_is_refused_with_a_hint():
    with pytest.raises(InputFileError) as caught:
        gift.read("::Q1::中文题干 {=甲 ~乙}".encode("gbk"), PATH)
    assert "GBK" in caught.value.message


# Found by bench/fuzz.py.


def test_papergen_comment_nested_thousands_deep_is_a_warning_not_a_crash():
    data = ("// papergen: " + "[" * 5000 + "\n::Q1::题 {=甲 ~乙}\n").encode()
    result = gift.read(data, PATH)
    assert [(p.code, p.line) for p in result.problems] == [("bad-papergen-comment", 1)]
    assert result.records[0].fields["answer"] == "A"


@pytest.mark.parametrize("head", ['{"bank": "a b", "title": "  "}', '{"bank": 7, "title": ["x"]}'])
def test_invalid_bank_id_or_title_in_the_header_is_not_written_into_the_bank(tmp_path, head):
    from papergen.bank import importer
    from papergen.bank.files import dump_bank
    from papergen.bank.validate import bank_from_document
    from papergen.core import located_yaml

    source = tmp_path / "题库.gift"
    source.write_text(f"// papergen-bank: {head}\n\n::Q1::题 {{=甲 ~乙}}\n", encoding="utf-8")
    report = importer.import_file(source, bank_id="fallback")
    assert (report.bank.id, report.bank.title) == ("fallback", "题库")
    assert [p.code for p in report.problems if p.code == "bad-source-bank-id"] == ["bad-source-bank-id"]
    _, problems = bank_from_document(located_yaml.parse(dump_bank(report.bank), "out.yaml"), "out.yaml")
    assert [p for p in problems if p.is_error] == []


_piece = st.sampled_from(["~", "=", "~=", "~%50%", "~%-100%", "=%50%", "#", "####", "->", "T", "FALSE", " ", "甲", "乙", "\\{", "{", "}", "\n", "::", "[html]"])


@settings(max_examples=300, deadline=None)
@given(blocks=st.lists(st.lists(_piece, max_size=12).map("".join), min_size=1, max_size=6))
def test_every_block_with_an_answer_part_is_one_record_or_one_error(blocks):
    """found = imported + refused; a block without an answer part is stray text: nothing is lost unsaid."""
    text = "\n\n".join("题" + block.replace("\n", "\n题") for block in blocks)
    result = gift.read(text.encode("utf-8"), PATH)
    errors = [p for p in result.problems if p.is_error]
    assert result.found == len(result.records) + len(errors)
    assert len({p.line for p in errors} | {r.line for r in result.records}) == result.found
    assert result.found + len(result.stray) == len(blocks)
    for record in result.records:
        fields = record.fields
        assert len(fields["options"]) >= 2 and all(fields["options"])
        assert (fields["type"] == "single") == (len(fields["answer"]) == 1)
