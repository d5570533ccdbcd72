"""The Chinese exam-prep text importer: every variant the issue lists, and the seed file."""

from __future__ import annotations

from pathlib import Path

import pytest

from papergen.bank import importer
from papergen.bank.formats import cntext
from tests.conftest import FIXTURES, sample_bank


def read_text(text: str, path: str = "t.txt"):
    return cntext.read(text.encode("utf-8"), path)


def test_variants_fixture_reads_every_form() -> None:
    report = importer.import_file(FIXTURES / "text" / "variants.txt", bank_id="v")
    got = [(q.id, q.type, q.line, q.answer, len(q.options)) for q in report.bank.questions]
    assert got == [
        ("v-001", "single", 5, "D", 4),  # 1．  答案：  解析：
        ("v-002", "single", 13, "A", 4),  # 2、  options on one line with ideographic spaces, 正确答案：
        ("v-003", "single", 17, "B", 4),  # 3.   (A) markers, 【答案】【解析】
        ("v-004", "single", 25, "A", 4),  # 【练习-4】 full-width Ａ．, 【答案】Ａ
        ("v-005", "multiple", 34, "ABC", 4),  # section heading 二、多项选择题, A、 markers, 【答案】A、B、C
        ("v-006", "multiple", 39, "AB", 3),  # （多选） in the stem, （A） markers
        ("v-007", "multiple", 45, "ACE", 5),  # 【多选题】, five options on one line
    ]
    questions = {q.id: q for q in report.bank.questions}
    assert questions["v-002"].stem == "下列属于“三新”党建的是（  ）。"
    assert [o.text for o in questions["v-002"].options] == ["新经济组织", "新文艺组织", "新媒体组织", "新消费组织"]
    assert questions["v-006"].stem == "新就业群体党建工作机制包括："  # the （多选） mark is removed
    assert questions["v-007"].stem == "下列说法正确的有："
    assert questions["v-001"].explanation == "暖新驿站针对的是进门难、停车难、用餐难、休息难。"
    assert questions["v-003"].explanation.startswith("二十大报告提出")
    assert report.skipped == 0 and report.errors == []


def test_answer_key_block_at_the_end() -> None:
    report = importer.import_file(FIXTURES / "text" / "keyblock.txt", bank_id="k")
    got = [(q.id, q.type, q.answer, q.explanation) for q in report.bank.questions]
    assert got == [
        ("k-001", "single", "A", ""),
        ("k-002", "single", "C", ""),
        ("k-004", "multiple", "ABC", "第四题的解析。"),  # type from the number of answer letters
    ]
    (error,) = report.errors
    assert (error.code, error.line) == ("missing-answer", 11)
    assert report.skipped == 1


def test_seed_practice_questions(seed_dir: Path) -> None:
    (seed,) = seed_dir.glob("000_*.txt")
    report = importer.import_file(seed, bank_id="seed", topic="练习")
    assert report.errors == [] and report.skipped == 0
    got = [(q.type, q.answer, len(q.options)) for q in report.bank.questions]
    assert got == [("single", "A", 4), ("single", "B", 4), ("single", "B", 4), ("multiple", "ABC", 4)]
    first, _, third, fourth = report.bank.questions
    assert first.stem.startswith("目前我国已初步形成的新就业群体党建工作管理体制")
    assert first.options[0].text.startswith("党委统一领导、组织部门牵头抓总")
    assert third.options[1].text == "暖新驿站"
    assert not fourth.stem.startswith("（多选）") and "多选" not in fourth.stem
    # the 解析 keeps its second paragraph but not the page footer after it
    assert first.explanation.endswith("A项正确,因此,选择A选项。")
    assert "本文链接" not in fourth.explanation and "http" not in fourth.explanation
    assert {q.source for q in report.bank.questions} == {seed.name}
    assert {q.topic for q in report.bank.questions} == {"练习"}


def test_numbered_prose_without_options_is_not_a_question() -> None:
    result = read_text("一、管理体制\n1.完善激励机制\n推动建立激励机制。\n2.加强培训\n线上线下相结合。\n")
    assert result.records == [] and result.problems == []


def test_letters_inside_text_are_not_option_markers() -> None:
    result = read_text("1．关于B超检查和A.I.的说法：\nA．甲方B超 B．乙\n答案：B\n")
    (record,) = result.records
    assert record.fields["stem"] == "关于B超检查和A.I.的说法："
    assert record.fields["options"] == ["甲方B超", "乙"]


def test_option_text_continues_on_the_next_line() -> None:
    result = read_text("1．题干：\nA．第一行\n接着写\nB．二\n答案：A\n")
    assert result.records[0].fields["options"] == ["第一行接着写", "二"]


def test_answer_and_explanation_on_one_line() -> None:
    result = read_text("1．题干：\nA．一\nB．二\n【答案】B【解析】因为二。\n")
    fields = result.records[0].fields
    assert (fields["answer"], fields["explanation"]) == ("B", "因为二。")


def test_conflicting_inline_answer_and_key_block_is_not_guessed() -> None:
    report_text = "1．题干：\nA．一\nB．二\n答案：A\n\n参考答案\n1．B\n"
    result = read_text(report_text)
    (record,) = result.records
    (problem,) = record.errors  # the record is kept (ids stay tied to position) but not trusted
    assert problem.code == "conflicting-answers" and problem.line == 7
    assert record.fields["answer"] == ""
    assert result.problems == []


def test_conflicting_key_skips_one_question_not_two(tmp_path: Path) -> None:
    source = tmp_path / "q.txt"
    source.write_text("1．题干：\nA．一\nB．二\n答案：A\n\n参考答案\n1．B\n", encoding="utf-8")
    report = importer.import_file(source, bank_id="x")
    assert report.bank.questions == []
    assert [(s.line, s.reason) for s in report.skipped_questions] == [(1, "第 1 题题后答案是 A，参考答案却是 B")]
    assert [(p.code, p.line) for p in report.errors] == [("conflicting-answers", 7)]


def test_true_false_section_is_reported_not_silently_dropped() -> None:
    text = "一、判断题\n1．题干一\nA．对\nB．错\n答案：A\n二、单项选择题\n2．题干二\nA．一\nB．二\n答案：B\n"
    result = read_text(text)
    assert [p.code for p in result.problems] == ["unsupported-section"]
    assert result.problems[0].line == 2
    assert [r.fields["stem"] for r in result.records] == ["题干二"]


def test_answer_line_without_options_is_reported() -> None:
    result = read_text("1．只有题干\n答案：A\n")
    (problem,) = result.problems
    assert (problem.code, problem.line) == ("no-options", 1)


def test_question_with_no_answer_is_skipped_with_its_line(tmp_path: Path) -> None:
    source = tmp_path / "q.txt"
    source.write_text("说明文字\n\n1．有答案：\nA．一\nB．二\n答案：A\n\n2．没答案：\nA．一\nB．二\n", encoding="utf-8")
    report = importer.import_file(source, bank_id="x")
    assert [q.id for q in report.bank.questions] == ["x-001"]
    assert [(p.code, p.line) for p in report.errors] == [("missing-answer", 8)]


def test_single_section_with_two_letters_is_an_error_not_a_guess(tmp_path: Path) -> None:
    source = tmp_path / "q.txt"
    source.write_text("一、单项选择题\n1．题干：\nA．一\nB．二\nC．三\n答案：AB\n", encoding="utf-8")
    report = importer.import_file(source, bank_id="x")
    assert report.bank.questions == []
    assert [(p.code, p.line) for p in report.errors] == [("single-multiple-answers", 2)]


def test_eight_options_and_meta_lines() -> None:
    text = "1．题干：\n" + "".join(f"{chr(65 + i)}．选项{i}\n" for i in range(8)) + (
        "答案：AH\n【知识点】组织覆盖/行业统建\n【难度】较难\n【编号】abc-9\n【标签】二十大、数字\n【来源】001.txt\n"
    )
    (record,) = read_text(text).records
    fields = record.fields
    assert len(fields["options"]) == 8 and fields["answer"] == "AH"
    assert (fields["topic"], fields["difficulty"], fields["id"]) == ("组织覆盖/行业统建", 4, "abc-9")
    assert (fields["tags"], fields["source"]) == (["二十大", "数字"], "001.txt")


def test_text_export_reads_back_to_the_same_questions(tmp_path: Path) -> None:
    bank = sample_bank()
    out = tmp_path / "bank.txt"
    importer.export_bank(bank, out, "text")
    report = importer.import_file(out, bank_id=bank.id, title=bank.title)
    assert report.errors == []
    expected = {q.id: q for q in bank.questions}
    for question in report.bank.questions:
        original = expected[question.id]
        # pins are the one thing plain text cannot carry
        assert [o.text for o in question.options] == [o.text for o in original.options]
        for name in ("type", "stem", "answer", "explanation", "topic", "difficulty", "tags"):
            assert getattr(question, name) == getattr(original, name), name
        assert question.source == (original.source or out.name)


# Found by bench/fuzz.py: numbers int() refuses (over 4300 digits, or digits like "𐩀").


def test_absurdly_long_question_number_is_read_without_a_number() -> None:
    long_number = "9" * 5000
    result = read_text(f"1．题干一\nA．一\nB．二\n答案：A\n{long_number}．题干二\nA．一\nB．二\n答案：B\n")
    assert [(r.line, r.fields["stem"], r.fields["answer"]) for r in result.records] == [(1, "题干一", "A"), (5, "题干二", "B")]


def test_absurdly_long_number_in_the_answer_key_is_a_problem_at_its_line() -> None:
    result = read_text(f"1．题干\nA．一\nB．二\n\n参考答案\n1．B {'9' * 5000}．A\n")
    assert result.records[0].fields["answer"] == "B"
    assert [(p.code, p.line) for p in result.problems] == [("key-without-question", 6)]


@pytest.mark.parametrize("value", ["𐩀", "9" * 4400, "٣٣٣٣"])
def test_unreadable_difficulty_is_a_validation_error_at_the_question(tmp_path: Path, value: str) -> None:
    source = tmp_path / "d.txt"
    source.write_text(f"1．题干\nA．一\nB．二\n答案：A\n【难度】{value}\n", encoding="utf-8")
    report = importer.import_file(source, bank_id="d")
    assert [(p.code, p.line) for p in report.errors] == [("bad-difficulty", 1)]
    assert report.bank.questions == [] and report.skipped == 1


# Stems that start with digits (issue "No silent wrong result"): years, amounts and
# percentages open 公基 questions all the time, and the number right after a question
# number's separator is stem text, never a new question or part of the one before.

DIGIT_STEMS = ["2023年2月，召开的会议是：", "10余次座谈会后：", "3.5%的快递员：", "1949年10月1日成立的是：", "２０２３年召开的是："]


@pytest.mark.parametrize("separator", ["．", "、", ".", " . "])
@pytest.mark.parametrize("stem", DIGIT_STEMS)
def test_a_stem_starting_with_digits_after_an_answered_question(separator: str, stem: str) -> None:
    text = (
        f"1{separator}第一题：\nA．一\nB．二\n答案：A\n【解析】解析一。\n"
        f"2{separator}{stem}\nA．甲\nB．乙\nC．丙\n答案：C\n【解析】解析二。\n"
        f"3{separator}第三题：\nA．一\nB．二\n答案：B\n"
    )
    result = read_text(text)
    assert [(r.line, r.fields["stem"], r.fields["answer"], r.fields["explanation"]) for r in result.records] == [
        (1, "第一题：", "A", "解析一。"),
        (6, stem, "C", "解析二。"),
        (12, "第三题：", "B", ""),
    ]
    assert result.problems == [] and all(not r.errors for r in result.records)


def test_a_digit_stem_right_after_the_options_of_a_question_answered_in_a_key() -> None:
    text = "1．第一题：\nA．一\nB．二\n2．2023年召开的是：\nA．甲\nB．乙\n\n参考答案\n1．A 2．B\n"
    result = read_text(text)
    assert [(r.fields["stem"], r.fields["options"], r.fields["answer"]) for r in result.records] == [
        ("第一题：", ["一", "二"], "A"),
        ("2023年召开的是：", ["甲", "乙"], "B"),
    ]


def test_a_digit_stem_first_in_a_section_is_read() -> None:
    text = (
        "一、单项选择题\n1．2023年召开的是：\nA．甲\nB．乙\n答案：A\n"
        "二、多项选择题\n2．2024年座谈会提出：\nA．甲\nB．乙\nC．丙\n答案：AB\n"
    )
    result = read_text(text)
    assert [(r.line, r.fields["type"], r.fields["stem"]) for r in result.records] == [
        (2, "single", "2023年召开的是："),
        (7, "multiple", "2024年座谈会提出："),
    ]


def test_inline_options_after_a_digit_stem() -> None:
    result = read_text("1．题一：\nA．一 B．二\n答案：A\n2．2023年召开的是： A．甲 B．乙\n答案：B\n")
    assert [(r.fields["stem"], r.fields["options"], r.fields["answer"]) for r in result.records] == [
        ("题一：", ["一", "二"], "A"),
        ("2023年召开的是：", ["甲", "乙"], "B"),
    ]


def test_numbered_and_digit_lines_inside_an_explanation_stay_in_it() -> None:
    text = (
        "1．题一：\nA．一\nB．二\n答案：A\n【解析】要点有三：\n1．坚持党的领导\n2.5万名快递员参加\n（3）共建共治共享\n"
        "2023年起推广。\n2．题二：\nA．一\nB．二\n答案：B\n"
    )
    result = read_text(text)
    first, second = result.records
    assert first.fields["explanation"] == "要点有三：\n1．坚持党的领导\n2.5万名快递员参加\n（3）共建共治共享\n2023年起推广。"
    assert (second.line, second.fields["stem"], second.fields["answer"]) == (10, "题二：", "B")
    assert result.problems == []


def test_option_and_stem_lines_starting_with_digits_continue_them() -> None:
    text = "5．某市数据：\n3.2万人参加培训，占比：\nA．成立于\n1949年10月1日\nB．二\n答案：A\n"
    (record,) = read_text(text).records
    assert record.fields["stem"] == "某市数据：\n3.2万人参加培训，占比："
    assert record.fields["options"] == ["成立于1949年10月1日", "二"]


def test_a_digit_line_after_numbered_prose_is_read_as_the_next_question_and_said_so() -> None:
    result = read_text("1．完善激励机制\n2．2023年召开的是：\nA．甲\nB．乙\n答案：A\n")
    (record,) = result.records
    assert (record.line, record.fields["stem"]) == (2, "2023年召开的是：")
    (warning,) = result.problems
    assert (warning.severity, warning.code, warning.line) == ("warning", "digit-start-read-as-question", 2)


def test_an_unnumbered_question_running_into_the_one_before_is_skipped_not_merged(tmp_path: Path) -> None:
    source = tmp_path / "q.txt"
    source.write_text(
        "1．题一：\nA．一\nB．二\n答案：A\n【解析】解析一。\n下列说法正确的是：\nA．甲\nB．乙\n答案：B\n"
        "2．题二：\nA．一\nB．二\n答案：B\n",
        encoding="utf-8",
    )
    report = importer.import_file(source, bank_id="x")
    assert [q.stem for q in report.bank.questions] == ["题二："]
    assert [(s.line, s.reason) for s in report.skipped_questions] == [(1, "第 1 题有两个不同的答案：第 4 行是 A，第 9 行是 B")]
    assert [(p.code, p.line) for p in report.errors] == [("conflicting-answers", 9)]


def test_question_groups_are_numbered_lines_followed_by_options() -> None:
    lines = [(text, n) for n, text in enumerate(
        ["1．完善激励机制", "说明", "2．2023年召开的是：", "2.5万人", "A．甲 B．乙", "答案：A", "【解析】", "1．坚持", "3．题 A．一 B．二", "4．只有答案", "答案：A"],
        start=1,
    )]
    # "1．坚持" comes after a 【解析】 and is not past question 1's number: a point of the 解析.
    assert cntext.question_groups(lines) == [[1, 3, 4], [9]]


def test_a_question_the_reader_cannot_separate_is_reported_with_the_one_it_ran_into(tmp_path: Path) -> None:
    # A 材料题 whose material runs past the reader's look-ahead, right after a
    # 解析: the reader takes "2．" for an enumeration in the 解析 and reads on.
    # The accounting sees a numbered line with options that became nothing and
    # skips both questions with their lines, instead of importing a mix of two.
    material = "".join(f"材料第{i}段。\n" for i in range(cntext.LOOKAHEAD_LINES + 5))
    source = tmp_path / "q.txt"
    source.write_text(f"1．题一：\nA．一\nB．二\n答案：A\n【解析】解析一。\n2．阅读材料：\n{material}A．甲\nB．乙\n", encoding="utf-8")
    report = importer.import_file(source, bank_id="x")
    assert report.bank.questions == []
    assert [(s.line, s.reason) for s in report.skipped_questions] == [
        (1, "这道题里混进了第 6 行的另一道题，题干、选项和答案无法确定归属，已跳过"),
        (6, "第 6 行像是一道题（题号后有选项），却被读进了第 1 行开始的题里"),
    ]


def test_options_without_a_question_number_are_reported_not_dropped() -> None:
    result = read_text("1．题一：\nA．一\nB．二\n答案：A\n下列说法正确的是：\nA．甲\nB．乙\n答案：B\n2．2023年召开的是：\nA．一\nB．二\n答案：B\n")
    assert [(r.line, r.fields["answer"]) for r in result.records] == [(1, "A"), (9, "B")]
    assert [(p.code, p.line) for p in result.problems] == [("options-without-number", 6)]


def test_numbered_points_and_web_addresses_inside_an_explanation_stay_in_it(tmp_path: Path) -> None:
    report = importer.import_file(FIXTURES / "text" / "explanation-points.txt", bank_id="e")
    first, second = report.bank.questions
    assert first.explanation == (
        "本题考查新就业群体党建工作的要点：\n（1）坚持党的领导；\n(2)坚持以人民为中心；\n1.完善激励机制\n"
        "2. A项正确，B、C、D项与政策相反。\n①共建共治；②共享。\n详见 http://www.gov.cn/zhengce/ 的原文。\n以上三点缺一不可。"
    )
    # Page furniture after the last 解析 still ends it.
    assert second.explanation == "新增的是新就业群体。"
    assert report.skipped == 0 and report.errors == []
    result = cntext.read((FIXTURES / "text" / "explanation-points.txt").read_bytes(), "e.txt")
    assert result.found == 2


def test_an_option_like_line_after_a_point_of_the_explanation_stays_in_it() -> None:
    text = "1．题一：\nA．一\nB．二\n答案：A\n【解析】\n1. A项正确。\nA．这一项说得对\n2．题二：\nA．一\nB．二\n答案：B\n"
    result = read_text(text)
    first, second = result.records
    assert first.fields["explanation"] == "1. A项正确。\nA．这一项说得对"
    assert (second.line, second.fields["answer"], first.errors, result.problems) == (8, "B", [], [])


def test_a_numbered_line_with_a_skipped_number_opens_a_question_only_with_options_and_a_key() -> None:
    # An excerpt that skips from question 3 to question 7.
    text = "3．题三：\nA．一\nB．二\n答案：A\n【解析】\n7．题七：\nA．一\nB．二\n答案：B\n"
    assert [(r.line, r.fields["answer"]) for r in read_text(text).records] == [(1, "A"), (6, "B")]


def test_explanations_come_through_whole_from_docx_paragraphs() -> None:
    lines = (FIXTURES / "text" / "explanation-points.txt").read_text(encoding="utf-8").splitlines()
    result = cntext.read_lines(((line, n) for n, line in enumerate(lines, start=1)), "e.docx", unit="段")
    assert result.records[0].fields["explanation"].endswith("以上三点缺一不可。")


def test_text_read_into_no_question_is_stray_with_its_line() -> None:
    # A 解析 written without its 【解析】 mark, after the key: not part of the question, and not dropped unsaid.
    text = "标题\n1．题一：\nA．一\nB．二\n答案：A\n这道题考查的是基本概念。\n还有一行。\n2．题二：\nA．一\nB．二\n答案：B\n"
    result = read_text(text)
    assert [r.fields["explanation"] for r in result.records] == ["", ""]
    assert (result.found, result.stray) == (2, [(6, "这道题考查的是基本概念。")])


def test_fixtures_have_no_stray_text() -> None:
    for name in ("variants.txt", "keyblock.txt", "explanation-points.txt"):
        result = cntext.read((FIXTURES / "text" / name).read_bytes(), name)
        assert result.stray == [], name
    assert cntext.read((FIXTURES / "text" / "variants.txt").read_bytes(), "v.txt").found == 7
    assert cntext.read((FIXTURES / "text" / "keyblock.txt").read_bytes(), "k.txt").found == 4


def test_a_number_in_an_explanation_does_not_hide_the_next_questions(tmp_path: Path) -> None:
    """Question 1's 解析 has a line "3.5%……" before question 2: the count of questions in the source must
    still see question 3 (it once took 3 as the last number, read the real 3 as a 解析 point, and the
    import stopped on its own accounting check)."""
    source = tmp_path / "q.txt"
    source.write_text(
        "1．2023年的比例为：\nA．一成\nB．两成\n【答案】A\n【解析】说明如下\n3.5%的数字来自调查\n\n"
        "2．2024年的比例为：\nA．三成\nB．四成\n【答案】B\n【解析】同上\n\n"
        "3．2025年的比例为：\nA．五成\nB．六成\n【答案】A\n【解析】见报告\n",
        encoding="utf-8",
    )
    report = importer.import_file(source, bank_id="t")
    assert [q.answer for q in report.bank.questions] == ["A", "B", "A"]
    assert report.found == 3 and report.skipped == 0
    assert "3.5%的数字来自调查" in report.bank.questions[0].explanation


def test_a_last_question_without_options_is_reported_not_lost(tmp_path: Path) -> None:
    """Question 3 lost its options (a page cut off): it cannot be imported, and the import must say so."""
    source = tmp_path / "q.txt"
    source.write_text(
        "1．题一是：\nA．甲\nB．乙\n【答案】A\n\n2．题二是：\nA．丙\nB．丁\n【答案】B\n\n3．题三的选项丢了，下列说法正确的是：\n",
        encoding="utf-8",
    )
    report = importer.import_file(source, bank_id="t")
    assert len(report.bank.questions) == 2
    assert [(line, text[:2]) for line, text in report.stray] == [(11, "3．")]
    assert "题外文字 1 处" in report.accounting()
