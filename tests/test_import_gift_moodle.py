"""`papergen bank import` on GIFT and Moodle XML files: what is imported, refused and said."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from papergen.cli import cli
from papergen.core import inputs
from papergen.core.errors import ExitCode
from tests.conftest import FIXTURES


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def imported(path: Path) -> dict:
    return {q["id"]: q for q in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]}


def test_course_bank_with_right_answers_after_tilde(tmp_path):
    out = tmp_path / "course.yaml"
    result = run("bank", "import", FIXTURES / "gift" / "course_bank.gift", "-o", out)
    assert result.exit_code == ExitCode.import_incomplete, result.output
    assert "（GIFT）：找到 9 题，导入 8 题，跳过 1 题" in result.output
    assert "答案块之后还有一个 {…}：Moodle 只读第一个答案块" in result.output
    assert "选项 A 为空" not in result.output and "type 改为" not in result.output
    assert "2 道判断题（GIFT 的 {T}/{F}）按单选题导入，选项为 A 正确 / B 错误" in result.output
    assert "这是简答题/论述题（GIFT 的 {} 题" in result.output
    questions = imported(out)
    assert {qid: (q["type"], q["answer"]) for qid, q in questions.items()} == {
        "P1": ("single", "A"), "P2": ("single", "B"), "P3": ("single", "B"),
        "P4": ("single", "A"), "P5": ("single", "B"), "P6": ("multiple", "AB"), "P8": ("single", "B"), "P9": ("single", "A"),
    }
    assert questions["P4"]["options"] == ["正确", "错误"]
    assert questions["P1"]["topic"] == "三新党建"  # "Por defecto en 党建课程" is Moodle's default category, no topic
    assert questions["P1"]["explanation"] == "二十大报告把新就业群体与“两新”并提。"


def test_moodles_own_gift_examples(tmp_path):
    out = tmp_path / "examples.yaml"
    result = run("bank", "import", FIXTURES / "gift" / "moodle_examples.gift", "-o", out)
    assert result.exit_code == ExitCode.import_incomplete
    assert "（GIFT）：找到 43 题，导入 23 题，跳过 20 题" in result.output
    assert "type 改为" not in result.output
    for reason in ("数值题（GIFT 的 {#…} 题）", "匹配题（GIFT 的 {=… -> …} 题）", "填空/简答题（答案块只有 = 答案"):
        assert reason in result.output
    assert "部分分值，papergen 没有部分得分，按错误选项导入" in result.output
    assert len(imported(out)) == 23


def test_a_file_of_only_true_false_and_essay_is_gift(tmp_path):
    source = FIXTURES / "gift" / "true_false_only.gift"
    assert inputs.sniff_kind(source.read_bytes(), source) == inputs.KIND_GIFT
    out = tmp_path / "tf.yaml"
    result = run("bank", "import", source, "-o", out)
    assert "（GIFT）：找到 3 题，导入 2 题，跳过 1 题" in result.output
    assert "没有找到任何题目" not in result.output
    assert {qid: q["answer"] for qid, q in imported(out).items()} == {"J1": "A", "J2": "B"}


@pytest.mark.parametrize(
    "text",
    [
        "::Q1:: 太阳从东方升起。{T}\n",
        "太阳从东方升起。{TRUE}\n\n地球是平的。{FALSE#不是。}\n",
        "请论述。{}\n",
        "::数值::二十大在哪一年召开？{#2022}\n",
        "::Q1::题目\n{\nFALSE#反馈\n####总反馈}\n",
    ],
)
def test_sniff_gift_without_choice_answers(text):
    assert inputs.sniff_kind(text.encode(), "x.txt") == inputs.KIND_GIFT


@pytest.mark.parametrize(
    "text",
    [
        "1．下列代码正确的是 {}\nA．int main() {}\nB．void f() {}\n【答案】A\n",
        "1．题干\nA．一\nB．二\n答案：A\n",
    ],
)
def test_sniff_chinese_text_with_braces_stays_text(text):
    assert inputs.sniff_kind(text.encode(), "x.txt") == inputs.KIND_TEXT


def test_partial_credit_and_two_full_marks_through_the_cli(tmp_path):
    source = tmp_path / "weights.gift"
    source.write_text(
        "::W1::两个正确{~%50%甲 ~%50%乙 ~%-100%丙}\n\n"
        "::W2::部分得分{=甲 ~%50%乙 ~丙}\n\n"
        "::W3::两个满分{=甲 =乙 ~丙}\n\n"
        "::W4::没有正确答案{~甲 ~%-50%乙}\n",
        encoding="utf-8",
    )
    out = tmp_path / "w.yaml"
    result = run("bank", "import", source, "-o", out)
    assert "导入 2 题，跳过 2 题" in result.output
    assert "满分答案有 2 个" in result.output and "没有正确答案" in result.output
    assert "type 改为" not in result.output
    assert {qid: (q["type"], q["answer"]) for qid, q in imported(out).items()} == {"W1": ("multiple", "AB"), "W2": ("single", "A")}


def test_moodle_xml_bad_idnumber_and_media_through_the_cli(tmp_path):
    source = tmp_path / "bank.xml"
    source.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="category"><category><text>$course$/top/Por defecto en Historia/Tema 1</text></category></question>
  <question type="multichoice">
    <name><text>看图</text></name>
    <questiontext format="html"><text><![CDATA[<p>看图：<img src="@@PLUGINFILE@@/a.png"></p>]]></text>
      <file name="a.png" path="/" encoding="base64">iVBORw0KGgo=</file></questiontext>
    <idnumber>Tema 1 / #3</idnumber>
    <single>true</single>
    <answer fraction="100"><text>甲</text></answer><answer fraction="0"><text>乙</text></answer>
  </question>
</quiz>
""",
        encoding="utf-8",
    )
    out = tmp_path / "m.yaml"
    result = run("bank", "import", source, "-o", out)
    assert result.exit_code == 0, result.output
    assert "导入 1 题，跳过 0 题" in result.output
    assert "题目“看图”的 idnumber “Tema 1 / #3” 不能作为 papergen 编号" in result.output
    assert "题目“看图”含有附带的文件（图片等）、图片" in result.output
    [question] = imported(out).values()
    assert (question["id"], question["topic"]) == ("m-001", "Tema 1")
    assert question["source"] == "bank.xml（Moodle idnumber：Tema 1 / #3）"
