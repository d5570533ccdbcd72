"""Aiken: reading as Moodle's qformat_aiken reads, the places papergen reads more (each with a warning),
the count of questions found and of stray text, writing, and the round trip through Moodle's rules.

``moodle_reads`` restates the rules of moodle/moodle question/format/aiken/format.php
(``qformat_aiken::readquestions``) so papergen's reader and writer can be held to them;
tests/fixtures/aiken/README.md says where the Moodle fixtures come from.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papergen.bank import importer
from papergen.bank.formats import aiken
from papergen.bank.model import Bank, Option, Question
from tests.conftest import FIXTURES, sample_bank

PATH = "题库.txt"
PHP_TRIM = " \t\n\r\0\x0b"  # PHP's trim() strips these and nothing else


def moodle_reads(text: str) -> list[dict]:
    """What Moodle's Aiken importer keeps: stem (one line), options, key index, ANSWER line.

    Its rules: lines shorter than 2 bytes are skipped; ``^[A-Z][).][ \\t]?`` is an
    option (text: the line from its third byte on, trimmed); ``^ANSWER:`` closes the
    question with the first character after the colon as key (A → 0), and a
    question with fewer than 2 options is dropped; any other line starts a new
    question, dropping one still open. An option or ANSWER line outside a
    question is dropped. (A key outside the options is refused later, when Moodle
    saves the question: here ``key`` is then out of range.)
    """
    questions, current = [], None
    for number, raw in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        line = raw.strip(PHP_TRIM)
        if len(line.encode("utf-8")) < 2:
            continue
        if re.match(r"[A-Z][).][ \t]?", line):
            if current is not None:
                current["options"].append(line[2:].strip(PHP_TRIM))
        elif line.startswith("ANSWER:"):
            if current is not None and len(current["options"]) >= 2:
                key = line[line.index(":") + 1:].strip(PHP_TRIM)[:1]
                current.update(key=ord(key) - ord("A") if key else -1, answer_line=number)
                questions.append(current)
            current = None
        else:
            current = {"stem": line, "options": []}
    return questions


def read_text(text: str):
    return aiken.read(text.encode("utf-8"), PATH)


def errors(result):
    return [(p.code, p.line) for r in result.records for p in r.errors]


def warnings(result):
    return [(p.code, p.line) for p in result.problems if not p.is_error]


def imported(result):
    return [r for r in result.records if not r.errors]


def test_moodle_error_fixture_reads_as_moodle_does():
    # moodle/moodle question/format/aiken/tests/aikenformat_test.php: two questions
    # ("A good question": Correct/Incorrect, key the first; "A second good question":
    # options without a space after the mark, key the second); errors at the question
    # with too few answers (ANSWER line 3), the options and ANSWER outside a question
    # (lines 5, 7) and the question cut off by the next one (line 18).
    text = (FIXTURES / "aiken" / "moodle_aiken_errors.txt").read_text(encoding="utf-8")
    result = read_text(text)
    assert [(r.fields["stem"], r.fields["options"], r.fields["answer"]) for r in imported(result)] == [
        ("A good question", ["Correct", "Incorrect"], "A"),
        ("A second good question", ["Incorrect (No space)", "Correct (No space)"], "B"),
    ]
    assert [(q["stem"], q["options"], "ABCDEFGH"[q["key"]]) for q in moodle_reads(text)] == [
        (r.fields["stem"], r.fields["options"], r.fields["answer"]) for r in imported(result)
    ]
    # Every ANSWER line closes a question (lines 3, 7, 12, 21), and so does the run of
    # options the stem at line 18 cuts off: 5 found, each one record, 3 refused.
    assert result.found == len(result.records) == 5
    assert errors(result) == [("missing-options", 1), ("missing-stem", 5), ("missing-answer", 14)]
    refused = [p.message for r in result.records for p in r.errors]
    assert "第 5 行“A) Question not started”" in refused[1] and "第 18 行已开始下一题" in refused[2]
    assert result.stray == [] and warnings(result) == []


def test_moodle_questions_fixture():
    # moodle/moodle question/format/aiken/tests/fixtures/questions.aiken.txt
    text = (FIXTURES / "aiken" / "moodle_questions.aiken.txt").read_text(encoding="utf-8")
    result = read_text(text)
    expected = [
        ("The Moodle project was started by:", ["Petr Skoda", "Martin Dougiamas", "Eloy Lafuente", "Tim Hunt"], "B"),
        ('Moodle\'s abilities include handling user input that includes <html class="cool"> & images:', ["True", "False"], "A"),
    ]
    assert [(r.fields["stem"], r.fields["options"], r.fields["answer"]) for r in result.records] == expected
    assert [(q["stem"], q["options"], "ABCD"[q["key"]]) for q in moodle_reads(text)] == expected
    assert (result.found, [r.line for r in result.records], result.problems, result.stray) == (2, [1, 8], [], [])


def test_forms_fixture_agrees_with_moodle_except_where_it_warns():
    text = (FIXTURES / "aiken" / "forms.aiken.txt").read_text(encoding="utf-8")
    result = read_text(text)
    assert (result.found, len(imported(result)), result.stray) == (5, 4, [(1, "一、单项选择题")])
    assert [(r.line, r.fields["type"], r.fields["answer"]) for r in imported(result)] == [
        (3, "single", "B"), (9, "single", "A"), (15, "multiple", "AB"), (25, "single", "B"),
    ]
    assert imported(result)[1].fields["stem"] == "下列说法中，\n正确的是："
    assert warnings(result) == [("aiken-answer-text", 7), ("aiken-multiline-stem", 9), ("aiken-multiple-key", 19)]
    assert errors(result) == [("missing-answer", 21)]
    # Moodle: the same four questions, the key the first letter, the stem the last line.
    moodle = moodle_reads(text)
    assert [(q["answer_line"], "ABC"[q["key"]], q["stem"]) for q in moodle] == [
        (7, "B", "新就业群体党建工作中，负责“归口指导”的是："), (13, "A", "正确的是："),
        (19, "A", "新就业群体党建工作的主要对象包括（多选）："), (28, "B", "最后一题"),
    ]
    for ours, theirs in zip(imported(result), moodle):
        assert ours.fields["options"] == theirs["options"]
        assert ours.fields["stem"].splitlines()[-1] == theirs["stem"]


@pytest.mark.parametrize(
    "answer, key, kind, warning",
    [
        ("ANSWER: B", "B", "single", None),
        ("ANSWER:B", "B", "single", None),
        ("ANSWER: B - because it is", "B", "single", "aiken-answer-text"),  # Moodle: B (was read as ABCE)
        ("ANSWER: B.", "B", "single", "aiken-answer-text"),
        ("ANSWER: A, C", "AC", "multiple", "aiken-multiple-key"),  # Moodle: single choice, key A
        ("ANSWER: CA", "AC", "multiple", "aiken-multiple-key"),
        ("ANSWER: A、C", "AC", "multiple", "aiken-multiple-key"),
        ("ANSWER: b", "B", "single", "aiken-answer-form"),  # Moodle: no correct answer, not imported
        ("answer: B", "B", "single", "aiken-answer-form"),  # Moodle: a new stem
        ("ANSWER：B", "B", "single", "aiken-answer-form"),
    ],
)
def test_answer_line(answer, key, kind, warning):
    result = read_text(f"题目\nA. 甲\nB. 乙\nC. 丙\n{answer}\n")
    (record,) = result.records
    assert (record.errors, record.fields["answer"], record.fields["type"]) == ([], key, kind)
    assert warnings(result) == ([(warning, 5)] if warning else [])
    assert result.found == 1


@pytest.mark.parametrize(
    "text, code, line",
    [
        ("题目\nA. 甲\nC. 乙\nANSWER: A\n", "bad-option-letter", 3),
        ("题目\nANSWER: A\n", "missing-options", 1),
        ("题目\nA. 甲\nANSWER: A\n", "missing-options", 1),
        ("题目\nA. 甲\nB. 乙\nANSWER: 甲\n", "bad-answer", 4),
        ("题目\nA. 甲\nB. 乙\nANSWER: C\n", "bad-answer", 4),
        ("题目\nA. 甲\nB. 乙\nANSWER:\n", "bad-answer", 4),
        ("ANSWER: A\n", "missing-stem", 1),
        # "A.I." is an option by Moodle's rule (no space needed): no stem, refused as Moodle refuses it.
        ("A.I. 是什么的缩写？\nA. 人工智能\nB. 自动识别\nANSWER: A\n", "missing-stem", 1),
    ],
)
def test_refused_questions_are_one_record_each_with_their_reason(text, code, line):
    result = read_text(text + "\n下一题\nA. 对\nB. 错\nANSWER: A\n")
    assert result.found == len(result.records) == 2
    assert errors(result) == [(code, line)]
    assert "本题已跳过" in result.records[0].errors[0].message
    assert [r.fields["stem"] for r in imported(result)] == ["下一题"]
    assert warnings(result) == []  # a refused question's lesser findings are not said


def test_option_mark_without_space_is_an_option_as_in_moodle():
    result = read_text("题目\nA)甲\nB.乙\nC)\tC 选项\nANSWER: C\n")
    assert result.records[0].fields["options"] == ["甲", "乙", "C 选项"]


def test_stray_text_blank_lines_and_short_lines():
    text = "一、单项选择题\n（共 2 题）\n\n题目\n\nA. 甲\nB. 乙\nANSWER: B\nx\n\n结尾的说明\n"
    result = read_text(text)
    assert [(r.line, r.fields["stem"], r.fields["answer"]) for r in result.records] == [(4, "题目", "B")]
    assert result.stray == [(1, "一、单项选择题 （共 2 题）"), (9, "x"), (11, "结尾的说明")]
    assert result.found == 1 and result.problems == []


def test_missing_answer_at_the_end_of_the_file():
    result = read_text("题目\nA. 甲\nB. 乙\n")
    assert errors(result) == [("missing-answer", 1)] and "文件已结束" in result.records[0].errors[0].message
    assert result.found == 1


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


ROUND_TRIP = Bank(
    "b",
    "t",
    [
        Question("q1", "single", "多行题干，\n\n第二行：<&>“引号”", [Option("甲"), Option("乙", pin=True)], "B", "解析会丢失"),
        Question("q2", "single", "八个选项", [Option(f"选项{n}") for n in range(8)], "H"),
        Question("q3", "single", "选项里换行", [Option("第一行\n第二行"), Option("ANSWER: 这只是选项")], "A"),
        Question("q4", "single", "请看：\nA. 这一行在题干中间", [Option("A)甲"), Option("乙")], "A"),
        Question("q5", "single", "Which is the\noddest number?", [Option("One"), Option("Two")], "A"),
    ],
)
ROUND_TRIP_STEMS = ["多行题干， 第二行：<&>“引号”", "八个选项", "选项里换行", "请看： A. 这一行在题干中间", "Which is the oddest number?"]


def test_write_puts_each_stem_on_one_line_joined_with_a_space():
    # Moodle's own export joins a stem's paragraphs with a space
    # (question/format/aiken/tests/qformat_aiken_export_test.php, test_export_multiline_question).
    text = aiken.write(ROUND_TRIP).decode("utf-8")
    assert text.split("\n\n")[4] == "Which is the oddest number?\nA. One\nB. Two\nANSWER: A\n"


def test_round_trip_through_papergen_and_through_moodles_rules_agree():
    data = aiken.write(ROUND_TRIP)
    expected = [
        (stem, [" ".join(o.text.split("\n")) for o in q.options], q.answer)
        for stem, q in zip(ROUND_TRIP_STEMS, ROUND_TRIP.questions)
    ]
    result = aiken.read(data, PATH)
    assert [(r.fields["stem"], r.fields["options"], r.fields["answer"]) for r in result.records] == expected
    assert result.problems == [] and result.stray == [] and result.found == 5
    moodle = moodle_reads(data.decode("utf-8"))
    assert [(q["stem"], q["options"], "ABCDEFGH"[q["key"]]) for q in moodle] == expected


@pytest.mark.parametrize("stem", ["A.I. 是什么的缩写？", "B)开头", "ANSWER: 像答案行", "?"])
def test_stem_that_would_read_as_an_option_or_answer_is_refused(stem):
    bank = Bank("b", "t", [Question("q1", "single", stem, [Option("甲"), Option("乙")], "A")])
    with pytest.raises(ValueError) as caught:
        aiken.write(bank)
    assert "q1" in str(caught.value)


def test_windows_line_ends_and_bom():
    result = aiken.read("\ufeff题\r\nA. 甲\r\nB. 乙\r\nANSWER: A\r\n".encode(), PATH)
    assert [(r.line, r.fields["stem"], r.fields["options"]) for r in result.records] == [(1, "题", ["甲", "乙"])]


# Lines in the forms Moodle reads (the lenient ones, which Moodle does not, are tested above).
LINES = [
    "题目一", "Stem two", "一、单项选择题", "A. 甲", "B) 乙", "C.丙", "D)", "B. 重复的 B", "A.I. 缩写", "ANSWER: A",
    "ANSWER: B", "ANSWER: C - 因为", "ANSWER: A, B", "ANSWER: Z", "ANSWER:", "", "", "x",
]


@given(st.lists(st.sampled_from(LINES), max_size=14))
@settings(max_examples=300, deadline=None)
def test_papergen_imports_what_moodle_imports_or_refuses_it_with_a_reason(lines):
    text = "\n".join(lines) + "\n"
    result = read_text(text)
    assert result.found == len(result.records)
    assert all(len(r.errors) <= 1 for r in result.records)
    ours = [
        (tuple(r.fields["options"]), r.fields["stem"].splitlines()[-1] if r.fields["stem"] else None, r.fields["answer"], r.errors)
        for r in result.records
    ]
    moodle = [q for q in moodle_reads(text) if 0 <= q["key"] < len(q["options"])]
    position = 0
    for question in moodle:
        wanted = (tuple(question["options"]), question["stem"])
        while position < len(ours) and ours[position][:2] != wanted:
            assert ours[position][3], f"papergen imports a question Moodle does not: {ours[position]}"
            position += 1
        assert position < len(ours), f"Moodle imports {wanted}, papergen has no such question"
        _, _, answer, refused = ours[position]
        assert refused or answer[0] == "ABCD"[question["key"]]  # "ANSWER: A, B": Moodle A, papergen AB (warned)
        position += 1
    assert all(refused for *_, refused in ours[position:]), "papergen imports a question Moodle does not"


@given(st.lists(st.sampled_from(LINES + ["answer：b", "ANSWER: b"]), max_size=14))
@settings(max_examples=100, deadline=None)
def test_the_import_accounting_holds_on_any_aiken_text(lines):
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "q.txt"
        source.write_text("ANSWER: A\n" + "\n".join(lines) + "\n", encoding="utf-8")  # sniffed as Aiken
        report = importer.import_file(source, bank_id="b")
    assert report.kind == "aiken"
    assert report.found == report.imported + report.skipped
