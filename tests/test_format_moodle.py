"""Moodle XML: lossless round trip, a real-style Moodle export, safety and errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papergen.bank.formats import moodle
from papergen.bank.model import LETTERS, Bank, Option, Question
from papergen.core.errors import InputFileError, InputRejected
from tests.conftest import FIXTURES, sample_bank

PATH = "题库.xml"


def awkward_bank() -> Bank:
    """The shared sample plus texts that are hard for XML/HTML/CDATA."""
    bank = sample_bank()
    bank.questions.append(
        Question(
            id="s-004",
            type="single",
            stem="CDATA 结尾 ]]> 与实体 &amp; &nbsp; <br> 都是文字\n\n  缩进行\t制表符",
            options=[Option("<p>段落</p>"), Option("a  b（两个空格）"), Option("反斜杠 \\ 与 \\n")],
            answer="C",
            explanation="多行\n解析：“引号”、《书名》",
            topic="测试/XML",
            difficulty=4,
            tags=["<标签&>"],
            source="来源 \"quoted\" 'single'.txt",
        )
    )
    bank.questions.append(
        Question(
            id="s-005",
            type="multiple",
            stem="回到前一个知识点",
            options=[Option("甲", pin=True), Option("乙"), Option("丙")],
            answer="AB",
            topic="测试",
        )
    )
    return bank


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``needle``."""
    hits = [number for number, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


# ---------------------------------------------------------------------------
# Round trip


def test_round_trip_keeps_every_field_and_the_bank():
    bank = awkward_bank()
    result = moodle.read(moodle.write(bank), PATH)
    assert result.problems == []
    assert (result.bank_id, result.title) == (bank.id, bank.title)
    assert [record.fields["id"] for record in result.records] == [q.id for q in bank.questions]
    for question, record in zip(bank.questions, result.records):
        expected = question.to_yaml()
        assert {key: record.fields[key] for key in expected} == expected


def test_record_lines_point_at_each_question_element():
    data = moodle.write(awkward_bank())
    text = data.decode("utf-8")
    records = moodle.read(data, PATH).records
    assert [r.line for r in records] == [line_of(text, '<question type="multichoice">', n) for n in range(1, 6)]


def test_export_layout_categories_fractions_and_tags():
    text = moodle.write(awkward_bank()).decode("utf-8")
    categories = [line.strip() for line in text.splitlines() if "<category>" in line]
    assert categories == [
        "<category><text>$course$/top/sample</text></category>",
        "<category><text>$course$/top/sample/管理体制与工作机制/管理体制</text></category>",
        "<category><text>$course$/top/sample/测试/特殊字符</text></category>",
        "<category><text>$course$/top/sample/测试</text></category>",
        "<category><text>$course$/top/sample/测试/XML</text></category>",
        "<category><text>$course$/top/sample/测试</text></category>",  # order kept: 测试 again
    ]
    assert "<info format=\"plain_text\"><text>样例题库 &lt;测试&gt; &amp; “引号”</text></info>" in text
    assert "<idnumber>papergen-bank:sample</idnumber>" in text
    # s-002: four correct of eight, multiple choice, a pinned option
    s002 = text[text.index("<name><text>s-002</text></name>") :].split("</question>")[0]
    assert s002.count('fraction="25"') == 4 and s002.count('fraction="-100"') == 4
    assert "<single>false</single>" in s002 and "<shuffleanswers>0</shuffleanswers>" in s002
    assert "<tag><text>papergen:pin=H</text></tag>" in s002
    assert "<idnumber>s-002</idnumber>" in s002
    s001 = text[text.index("<name><text>s-001</text></name>") :].split("</question>")[0]
    assert s001.count('fraction="100"') == 1 and s001.count('fraction="0"') == 3
    assert "<shuffleanswers>1</shuffleanswers>" in s001 and "<answernumbering>ABCD</answernumbering>" in s001
    assert "<tag><text>papergen:difficulty=2</text></tag><tag><text>papergen:source=000_d1ff516931108456.txt</text></tag>" in s001
    assert "<![CDATA[社会工作部门归口指导。<br>组织部门牵头抓总。]]>" in s001


def test_three_correct_answers_use_moodles_fraction_value():
    bank = Bank("b", "t", [Question("q1", "multiple", "题", [Option(x) for x in "甲乙丙丁"], "ABD", topic="t")])
    text = moodle.write(bank).decode("utf-8")
    assert text.count('fraction="33.33333"') == 3
    assert moodle.read(text.encode(), PATH).records[0].fields["answer"] == "ABD"


texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn"), blacklist_characters="\x85") | st.sampled_from("\n\t<>&]"),
    min_size=1,
    max_size=40,
).filter(lambda s: s == s.strip() and s)


@settings(max_examples=150, deadline=None)
@given(stem=texts, option=texts, explanation=texts)
def test_any_text_round_trips(stem, option, explanation):
    question = Question("q1", "single", stem, [Option(option), Option("另一项")], "A", explanation, topic="t")
    record = moodle.read(moodle.write(Bank("b", "t", [question])), PATH).records[0]
    assert (record.fields["stem"], record.fields["options"][0], record.fields["explanation"]) == (stem, option, explanation)


# ---------------------------------------------------------------------------
# A file written by Moodle itself


def test_real_moodle_export():
    data = (FIXTURES / "moodle" / "moodle_export.xml").read_bytes()
    text = data.decode("utf-8")
    result = moodle.read(data, "moodle_export.xml")
    assert (result.bank_id, result.title) == (None, "新就业群体")

    first, second, judge = result.records
    assert first.line == line_of(text, '<question type="multichoice">', 1)
    assert first.fields == {
        "id": None,
        "type": "single",
        "stem": "目前我国已初步形成的新就业群体党建工作管理体制是：",
        "options": ["党委统一领导、组织部门牵头抓总", "政府统一领导、人社部门牵头", "工会统一领导<试行>"],
        "answer": "A",
        "explanation": "党委统一领导、组织部门牵头抓总。\n见《意见》第\xa02\xa0条 & 附件。",
        "topic": "组织覆盖",
        "difficulty": None,
        "tags": ["二十大报告"],
        "source": None,
    }
    assert second.line == line_of(text, '<question type="multichoice">', 2)
    assert second.fields["id"] == "kd-7"
    assert second.fields["type"] == "multiple"
    assert second.fields["stem"] == "推进新就业群体党的组织覆盖，\n可以采取的方式有："
    assert second.fields["options"] == ["单独组建", "撤销组建", "联合组建"]
    assert second.fields["answer"] == "AC"
    assert second.fields["topic"] == "组织覆盖/快递外卖"
    assert judge.line == line_of(text, '<question type="truefalse">')
    assert (judge.fields["options"], judge.fields["answer"], judge.fields["type"]) == (["正确", "错误"], "A", "single")
    assert judge.fields["stem"] == "新就业群体包括快递员。"

    found = [(p.severity, p.code, p.line) for p in result.problems]
    assert found == [
        ("warning", "media-dropped", line_of(text, '<question type="multichoice">', 2)),
        ("error", "unsupported-question-type", line_of(text, '<question type="essay">')),
        ("error", "unsupported-question-type", line_of(text, '<question type="shortanswer">')),
    ]
    assert "题目“覆盖方式”含有图片" in result.problems[0].message
    assert result.found == 5  # 3 choice questions, the essay and the short answer; categories are no questions
    essay = result.problems[1]
    assert "essay" in essay.message and "论述题" in essay.message and essay.path == "moodle_export.xml"


@pytest.mark.parametrize(
    "path, topic, course",
    [
        ("$course$/top/Default for 新就业群体/组织覆盖", "组织覆盖", "新就业群体"),
        ("$course$/top/默认 新就业群体/组织覆盖/外卖", "组织覆盖/外卖", "新就业群体"),
        # Moodle's "defaultfor" string in other language packs.
        ("$course$/top/Por defecto en Historia/Tema 1", "Tema 1", "Historia"),
        ("$course$/top/Défaut pour Histoire/Chapitre", "Chapitre", "Histoire"),
        ("$course$/top/Par défaut pour Histoire", None, "Histoire"),
        ("$course$/top/Standard für Geschichte/Kapitel 2", "Kapitel 2", "Geschichte"),
        ("$course$/top/默认新就业群体/组织覆盖", "组织覆盖", "新就业群体"),
        ("$course$/top/新就业群体的預設/組織", "組織", "新就业群体"),
        ("$course$/top/默认/组织覆盖", "组织覆盖", None),
        ("$course$/top/Default", None, None),
        ("$system$/top/top/第二章", "第二章", None),
        ("$course$/top/Default for 新就业群体", None, "新就业群体"),
        ("$module$/top/我的题库/第一章", "我的题库/第一章", None),
        ("$course$/top", None, None),
        ("第一章/a//b", "第一章/a/b", None),
    ],
)
def test_category_topic_without_papergen_root(path, topic, course):
    assert moodle.category_topic(path, None) == (topic, course)


def test_category_topic_below_papergen_root():
    assert moodle.category_topic("$course$/top/xjy/管理体制/体制", ["xjy"]) == ("管理体制/体制", None)


def test_questions_before_any_category_have_no_topic():
    data = b"""<quiz><question type="multichoice"><questiontext format="plain_text"><text>q</text></questiontext>
<answer fraction="100"><text>a</text></answer><answer fraction="0"><text>b</text></answer></question></quiz>"""
    fields = moodle.read(data, PATH).records[0].fields
    assert (fields["topic"], fields["type"], fields["options"], fields["answer"]) == (None, "single", ["a", "b"], "A")


def test_bad_machine_tag_and_fraction_are_warnings():
    data = """<quiz>
<question type="multichoice">
<questiontext format="plain_text"><text>q</text></questiontext>
<answer fraction="abc"><text>a</text></answer><answer fraction="100"><text>b</text></answer>
<tags><tag><text>papergen:difficulty=难</text></tag><tag><text>papergen:other=1</text></tag></tags>
</question></quiz>""".encode()
    result = moodle.read(data, PATH)
    assert [(p.code, p.line) for p in result.problems] == [("bad-fraction", 2), ("bad-machine-tag", 2)]
    assert result.records[0].fields["answer"] == "B"
    assert result.records[0].fields["difficulty"] is None
    assert result.records[0].fields["tags"] == ["papergen:other=1"]


# ---------------------------------------------------------------------------
# HTML to text


@pytest.mark.parametrize(
    "markup, text",
    [
        ("<p>甲</p><p>乙</p>", "甲\n乙"),
        ("<p>甲<br></p><p>乙</p>", "甲\n乙"),
        ("<p>甲</p>\n<p><br></p>\n<p>乙</p>", "甲\n\n乙"),
        ("一行\n  接着写", "一行 接着写"),
        ("a&lt;b&gt; &amp; &quot;c&quot; &#21457;", 'a<b> & "c" 发'),
        ("<ul><li>一</li><li>二</li></ul>", "一\n二"),
        ("x<style>p{color:red}</style>y<script>alert(1)</script>", "xy"),
        ("两  个空格", "两  个空格"),
    ],
)
def test_html_to_text(markup, text):
    assert moodle.html_to_text(markup) == text


# ---------------------------------------------------------------------------
# Unsafe and broken files


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?>\n<!DOCTYPE quiz [\n<!ENTITY a "aaaa">\n<!ENTITY b "&a;&a;&a;">\n]>\n<quiz>&b;</quiz>',
        b'<?xml version="1.0"?>\n<!DOCTYPE quiz SYSTEM "http://example.com/quiz.dtd">\n<quiz/>',
        b'<?xml version="1.0"?>\n<!DOCTYPE quiz [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<quiz>&x;</quiz>',
    ],
    ids=["billion-laughs", "external-dtd", "external-entity"],
)
def test_dtd_and_entities_are_rejected(data):
    with pytest.raises(InputRejected) as caught:
        moodle.read(data, "危险.xml")
    assert caught.value.path == "危险.xml"
    assert "DTD" in caught.value.message and "危险.xml" in str(caught.value)


def test_malformed_xml_names_file_and_line():
    data = "<quiz>\n<question type=\"multichoice\">\n<name><text>x</name>\n</question>\n</quiz>".encode()
    with pytest.raises(InputFileError) as caught:
        moodle.read(data, "坏.xml")
    assert (caught.value.path, caught.value.line) == ("坏.xml", 3)
    assert "标签不匹配" in caught.value.message


def test_truncated_and_empty_files():
    with pytest.raises(InputFileError) as caught:
        moodle.read(b"", PATH)
    assert "为空" in caught.value.message
    with pytest.raises(InputFileError) as caught:
        moodle.read(b"<quiz>\n<question type=\"category\">\n", PATH)
    assert caught.value.line == 3


def test_gbk_declared_xml_is_refused_with_a_hint():
    data = '<?xml version="1.0" encoding="GBK"?>\n<quiz/>'.encode("gbk")
    with pytest.raises(InputFileError) as caught:
        moodle.read(data, "gbk.xml")
    assert "UTF-8" in caught.value.message and caught.value.line == 1


def test_utf16_xml_is_read():
    data = '<?xml version="1.0" encoding="UTF-16"?>\n<quiz><question type="essay"/></quiz>'.encode("utf-16")
    assert [(p.code, p.line) for p in moodle.read(data, PATH).problems] == [("unsupported-question-type", 2)]


def test_other_root_element_is_not_moodle():
    with pytest.raises(InputFileError) as caught:
        moodle.read(b"<html><body/></html>", PATH)
    assert "<html>" in caught.value.message and "<quiz>" in caught.value.message


# Found by bench/fuzz.py.


def test_unknown_encoding_name_in_the_declaration_is_an_input_file_error():
    with pytest.raises(InputFileError) as caught:
        moodle.read(b'<?xml version="1.0" encoding="UTF8X"?>\n<quiz/>', PATH)
    assert "编码" in caught.value.message and caught.value.line == 1


@pytest.mark.parametrize("value", ["²", "𐩀", "9" * 5000])
def test_difficulty_tag_that_int_refuses_is_a_warning(value):
    data = f"""<quiz><question type="multichoice">
<answer fraction="100"><text>a</text></answer><answer fraction="0"><text>b</text></answer>
<tags><tag><text>papergen:difficulty={value}</text></tag></tags>
</question></quiz>""".encode()
    result = moodle.read(data, PATH)
    assert [p.code for p in result.problems] == ["bad-machine-tag"]
    assert result.records[0].fields["difficulty"] is None


# ---------------------------------------------------------------------------
# What Moodle exports that papergen cannot keep as is


def _multichoice(extra: str = "", idnumber: str = "", name: str = "题一", stem: str = "题干") -> str:
    return (f'<question type="multichoice"><name><text>{name}</text></name>'
            f'<questiontext format="html"><text><![CDATA[{stem}]]></text>{extra}</questiontext>'
            f"<idnumber>{idnumber}</idnumber><single>true</single>"
            '<answer fraction="100"><text>甲</text></answer><answer fraction="0"><text>乙</text></answer></question>')


def test_idnumber_that_is_no_papergen_id_keeps_the_question(tmp_path):
    data = ("<quiz>" + _multichoice(idnumber="Q 1 #a") + _multichoice(idnumber="ok-2", name="题二") + "</quiz>").encode()
    result = moodle.read(data, "bank.xml")
    first, second = result.records
    assert (first.fields["id"], first.fields["source"]) == (None, "bank.xml（Moodle idnumber：Q 1 #a）")
    assert (second.fields["id"], second.fields["source"]) == ("ok-2", None)
    [warning] = result.problems
    assert (warning.severity, warning.code, warning.line) == ("warning", "bad-source-id", first.line)
    assert "题目“题一”" in warning.message and "Q 1 #a" in warning.message

    from papergen.bank import importer

    source = tmp_path / "bank.xml"
    source.write_bytes(data)
    report = importer.import_file(source, bank_id="mb")
    assert [(q.id, q.source) for q in report.bank.questions] == [
        ("mb-001", "bank.xml（Moodle idnumber：Q 1 #a）"), ("ok-2", "bank.xml"),
    ]
    assert report.skipped == 0


@pytest.mark.parametrize(
    "extra, stem, said",
    [
        ('<file name="a.png" path="/" encoding="base64">iVBORw0KGgo=</file>', "看图作答", "附带的文件（图片等）"),
        ("", '<p>听录音 <audio controls src="@@PLUGINFILE@@/a.mp3"></audio></p>', "音频"),
        ("", '<p>见 <a href="@@PLUGINFILE@@/a.pdf">附件</a></p>', "文件引用（@@PLUGINFILE@@）"),
        ("", '<p><video src="v.mp4"></video><img src="b.png"></p>', "视频、图片"),
    ],
)
def test_dropped_media_is_always_named(extra, stem, said):
    data = ("<quiz>" + _multichoice(extra, stem=stem) + "</quiz>").encode()
    [warning] = moodle.read(data, PATH).problems
    assert (warning.severity, warning.code) == ("warning", "media-dropped")
    assert warning.message.startswith(f"题目“题一”含有{said}，")


def test_found_counts_questions_not_categories():
    category = '<question type="category"><category><text>$course$/top/Default for X</text></category></question>'
    essay = '<question type="essay"><name><text>论述</text></name><questiontext><text>q</text></questiontext></question>'
    description = '<question type="description"><name><text>说明</text></name><questiontext format="html"><text>以下各题考查组织覆盖。</text></questiontext></question>'
    data = f"<quiz>{category}{_multichoice()}{essay}\n{description}{category}</quiz>".encode()
    result = moodle.read(data, PATH)
    assert (result.found, len(result.records), [p.code for p in result.problems]) == (2, 1, ["unsupported-question-type"])
    assert result.stray == [(2, "以下各题考查组织覆盖。")]


def test_fractions_map_like_gift():
    def question(name: str, single: str, fractions: list[str]) -> str:
        answers = "".join(f'<answer fraction="{f}"><text>{LETTERS[i]}项</text></answer>' for i, f in enumerate(fractions))
        return (f'<question type="multichoice"><name><text>{name}</text></name><questiontext><text>题</text></questiontext>'
                f"<single>{single}</single>{answers}</question>")

    data = ("<quiz>" + question("部分分", "true", ["100", "50", "0"]) + question("两个满分", "true", ["100", "100", "0"])
            + question("一个得分", "false", ["100", "-50", "-50"]) + question("多选", "false", ["50", "50", "-100"]) + "</quiz>").encode()
    result = moodle.read(data, PATH)
    got = [(r.fields["type"], r.fields["answer"], [p.code for p in r.errors]) for r in result.records]
    assert got == [("single", "A", []), ("single", "AB", ["moodle-answer"]), ("single", "A", []), ("multiple", "AB", [])]
    assert [p.code for p in result.problems] == ["partial-credit", "partial-credit"]
    assert "题目“两个满分”：单选题（<single>true</single>）有 2 个满分答案" in result.records[1].errors[0].message
