"""Aiken: reading (with its problems and their lines), writing, and the round trip."""

from __future__ import annotations

import pytest

from papergen.bank.formats import aiken
from papergen.bank.model import Bank, Option, Question
from tests.conftest import marked_line, sample_bank

PATH = "题库.txt"


def read_text(text: str):
    return aiken.read(text.encode("utf-8"), PATH)


def test_reads_questions_with_both_option_styles_and_multi_line_stems():
    text = """\
新就业群体党建工作的管理体制是：
A. 党委统一领导、组织部门牵头抓总
B. 政府统一领导、人社部门牵头
ANSWER: A
下列说法中，
正确的是（ ）
A) 甲
B) 乙
C) 丙
ANSWER: C

最后一题
A. 是
B. 否
answer:b
"""
    first, second, third = read_text(text).records
    assert first.line == 1 and second.line == 5 and third.line == 12
    assert first.fields == {
        "id": None,
        "type": "single",
        "stem": "新就业群体党建工作的管理体制是：",
        "options": ["党委统一领导、组织部门牵头抓总", "政府统一领导、人社部门牵头"],
        "answer": "A",
        "explanation": "",
        "topic": None,
        "difficulty": None,
        "tags": [],
        "source": None,
    }
    assert second.fields["stem"] == "下列说法中，\n正确的是（ ）"
    assert (second.fields["options"], second.fields["answer"]) == (["甲", "乙", "丙"], "C")
    assert third.fields["answer"] == "B"


def test_missing_answer_is_reported_at_the_question_and_reading_goes_on():
    text = """\
第一题没有答案行   # <-
A. 甲
B. 乙

第二题
A. 丙
B. 丁
ANSWER: B
第三题也没有       # <- 3
A. 戊
B. 己
"""
    text = text.replace("   # <-\n", "\n").replace("       # <- 3\n", "\n")
    result = read_text(text)
    assert [r.fields["stem"] for r in result.records] == ["第二题"]
    assert result.records[0].line == 5
    assert [(p.severity, p.code, p.line) for p in result.problems] == [
        ("error", "missing-answer", 1),
        ("error", "missing-answer", 9),
    ]
    assert "ANSWER" in result.problems[0].message and result.problems[0].path == PATH


@pytest.mark.parametrize(
    "text, code",
    [
        ("题目\nA. 甲\nC. 乙       # <-\nANSWER: A\n", "bad-option-letter"),
        ("题目       # <-\nANSWER: A\n", "missing-options"),
        ("题目\nA. 甲\nB. 乙\nANSWER: 甲       # <-\n", "bad-answer"),
        ("一、单项选择题       # <-\n", "stray-text"),
    ],
)
def test_malformed_questions_are_problems_with_lines(text, code):
    line = marked_line(text)
    text = text.replace("       # <-", "")
    result = read_text(text + "\n下一题\nA. 对\nB. 错\nANSWER: A\n")
    assert [(p.code, p.line) for p in result.problems] == [(code, line)]
    assert result.problems[0].severity == ("warning" if code == "stray-text" else "error")
    assert [r.fields["stem"] for r in result.records] == ["下一题"]


def test_blank_line_between_stem_and_options_is_fine_and_trailing_text_is_stray():
    result = read_text("题目\n\nA. 甲\nB. 乙\nANSWER: B\n\n结尾的说明\n")
    assert [(r.line, r.fields["stem"], r.fields["answer"]) for r in result.records] == [(1, "题目", "B")]
    assert [(p.severity, p.code, p.line) for p in result.problems] == [("warning", "stray-text", 7)]


def test_option_mark_needs_a_space_so_abbreviations_stay_in_the_stem():
    fields = read_text("A.I. 是什么的缩写？\nA. 人工智能\nB. 自动识别\nANSWER: A\n").records[0].fields
    assert fields["stem"] == "A.I. 是什么的缩写？"
    assert fields["options"] == ["人工智能", "自动识别"]


def test_write_refuses_multiple_choice_unless_told_to_skip():
    bank = sample_bank()
    with pytest.raises(ValueError) as caught:
        aiken.write(bank)
    assert "s-002" in str(caught.value) and "多选" in str(caught.value)
    assert aiken.multiple_choice_ids(bank) == ["s-002"]
    text = aiken.write(bank, skip_multiple=True).decode("utf-8")
    assert text == (
        "新就业群体党建工作中，负责“归口指导”的是：\n"
        "A. 组织部门\nB. 社会工作部门\nC. 行业主管部门\nD. 属地街道社区\nANSWER: B\n"
        "\n"
        "=1+1 是公式吗？\nA. 是\nB. 不是\nANSWER: B\n"
    )


def test_round_trip_keeps_what_aiken_can_hold():
    bank = Bank(
        "b",
        "t",
        [
            Question("q1", "single", "多行题干，\n\n第二行：<&>“引号”", [Option("甲"), Option("乙", pin=True)], "B", "解析会丢失"),
            Question("q2", "single", "八个选项", [Option(f"选项{n}") for n in range(8)], "H"),
            Question("q3", "single", "选项里换行", [Option("第一行\n第二行"), Option("ANSWER: 这只是选项")], "A"),
        ],
    )
    records = aiken.read(aiken.write(bank), PATH).records
    assert [(r.fields["stem"], r.fields["options"], r.fields["answer"], r.fields["type"]) for r in records] == [
        ("多行题干，\n第二行：<&>“引号”", ["甲", "乙"], "B", "single"),
        ("八个选项", [f"选项{n}" for n in range(8)], "H", "single"),
        ("选项里换行", ["第一行 第二行", "ANSWER: 这只是选项"], "A", "single"),
    ]


def test_stem_line_that_would_read_as_an_option_is_refused():
    bank = Bank("b", "t", [Question("q1", "single", "请看：\nA. 这一行像选项", [Option("甲"), Option("乙")], "A")])
    with pytest.raises(ValueError) as caught:
        aiken.write(bank)
    assert "q1" in str(caught.value)


def test_windows_line_ends_and_bom():
    records = aiken.read("\ufeff题\r\nA. 甲\r\nB. 乙\r\nANSWER: A\r\n".encode(), PATH).records
    assert [(r.line, r.fields["stem"], r.fields["options"]) for r in records] == [(1, "题", ["甲", "乙"])]
