"""Markdown question files: real and hand-made fixtures through the CLI, boundaries, markup, images, stray text."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from papergen.bank import importer
from papergen.bank.formats import markdown
from papergen.cli import cli
from papergen.core import inputs
from papergen.core.errors import ExitCode
from tests.conftest import FIXTURES

JS = FIXTURES / "markdown" / "javascript-questions-zh_CN.md"
SHAPES = FIXTURES / "markdown" / "cn-exam-shapes.md"


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def imported(path: Path) -> dict:
    return {q["id"]: q for q in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]}


def read_md(text: str, path: str = "q.md"):
    return markdown.read(text.encode("utf-8"), path)


def test_real_heading_per_question_file_imports_every_question_with_its_key_and_whole_explanation(tmp_path: Path) -> None:
    out = tmp_path / "js.yaml"
    result = run("bank", "import", JS, "-o", out)
    assert result.exit_code == ExitCode.ok, result.output
    assert "（Markdown）：找到 5 题，导入 5 题，跳过 0 题" in result.output
    questions = imported(out)
    assert [(q["answer"], len(q["options"])) for q in questions.values()] == [("D", 4), ("C", 3), ("A", 4), ("D", 4), ("C", 4)]
    first = questions["js-001"]
    # The code block is part of the stem; code spans lose their backticks.
    assert first["stem"].startswith("输出是什么？\nfunction sayHi() {\n  console.log(name)")
    assert first["options"][0] == "Lydia 和 undefined"
    assert first["explanation"].startswith("在函数内部，我们首先通过 var 关键字声明了 name 变量。")
    assert first["explanation"].endswith("JavaScript 将会抛出一个 ReferenceError 错误。")  # both paragraphs, <i> tags stripped
    assert "初始化" in first["explanation"] and "<i>" not in first["explanation"]
    # "*遍历结束后*" is emphasis next to Chinese text: the asterisks go.
    assert "回调会在遍历结束后才执行" in questions["js-002"]["explanation"]
    # The numbered steps inside the last explanation stay in it, to its last line.
    assert questions["js-005"]["explanation"] == (
        "一元后自增运算符 ++：\n1. 返回值（返回 0）\n2. 值自增（number 现在是 1）\n"
        "一元前自增运算符 ++：\n1. 值自增（number 现在是 2）\n2. 返回值（返回 2）\n结果是 0 2 2."
    )
    # The two explanation images are reported at their lines, not silently dropped.
    assert "第 99 行解析的图片没有导入" in result.output and "第 122 行解析的图片没有导入" in result.output
    # The folded-answer label ("答案" in <summary>) is not text of any question.
    assert all("答案" not in option for q in questions.values() for option in q["options"])


def test_real_file_counts_by_its_headings() -> None:
    result = markdown.read(JS.read_bytes(), str(JS))
    assert result.found == 5 and len(result.records) == 5
    assert result.stray == []  # the title and introduction are the document's own
    assert [p.code for p in result.problems] == ["image-dropped", "image-dropped"]


def test_chinese_exam_shapes(tmp_path: Path) -> None:
    out = tmp_path / "cn.yaml"
    result = run("bank", "import", SHAPES, "-o", out)
    assert result.exit_code == ExitCode.import_incomplete, result.output
    assert "导入 4 题，跳过 2 题" in result.output
    questions = imported(out)
    got = [(q["type"], q["stem"], q["answer"]) for q in questions.values()]
    assert got == [
        ("single", "暖新驿站主要为新就业群体解决的问题不包括：", "D"),  # numbered list item, nested "- A." options, **不包括** unbolded
        ("single", "“两新”党建拓展为“三新”党建，新增的是（  ）。", "A"),  # "2、", "A、" lines, **答案：** A
        ("single", "党的哪次会议提出加强新就业群体党的建设？", "B"),  # **3.** with the options on the same line
        ("multiple", "新就业群体包括：", "ABC"),  # ### heading under "## 二、多项选择题", key in a blockquote
    ]
    second = questions["cn-002"]
    # "**解析**" on its own line, numbered points and a web address: all kept.
    assert second["explanation"] == (
        "1. 二十大报告提出加强新经济组织、新社会组织、新就业群体党的建设。\n2. 新增的是新就业群体。\n参见 https://www.gov.cn/ 的报告全文。"
    )
    assert "图片" in result.output and ":48: 错误 [image-in-question]" in result.output
    assert ":59: 错误 [unsupported-section] “三、判断题”（第 57 行）不是选择题" in result.output


def test_chinese_exam_shapes_found_counts_every_question() -> None:
    result = markdown.read(SHAPES.read_bytes(), str(SHAPES))
    assert result.found == 6  # 4 imported + the picture question + the 判断题
    assert result.stray == []


def test_a_file_of_many_heading_questions_is_counted_not_phantom() -> None:
    text = "# 题库\n\n" + "".join(
        f"### 第{n}题 下列说法正确的是：\n\n- A. 甲{n}\n- B. 乙{n}\n\n**答案**：{'AB'[n % 2]}\n\n**解析**：第{n}题的解析。\n\n---\n\n"
        for n in range(1, 51)
    )
    result = read_md(text)
    assert result.found == 50 and len(result.records) == 50 and result.problems == []
    assert result.records[49].fields["explanation"] == "第50题的解析。"


def test_numbered_points_in_an_explanation_stay_unless_they_are_the_next_question() -> None:
    text = (
        "1. 题一：\n\nA. 一\nB. 二\n\n答案：A\n\n解析：要点：\n1. 坚持\n2. A. 说法错误\n（3）共享\n\n"
        "2. 题二：\n\nA. 一\nB. 二\n\n答案：B\n"
    )
    result = read_md(text)
    first, second = result.records
    assert first.fields["explanation"] == "要点：\n1. 坚持\n2. A. 说法错误\n（3）共享"
    assert (second.line, second.fields["stem"], second.fields["answer"]) == (13, "题二：", "B")
    assert result.found == 2


def test_an_unnumbered_question_between_questions_is_stray_with_its_line() -> None:
    text = (
        "### 1. 题一\n\n- A. 一\n- B. 二\n\n**答案**：A\n\n---\n\n下列说法正确的是：\n\n- A. 甲\n- B. 乙\n\n"
        "### 2. 题二\n\n- A. 一\n- B. 二\n\n**答案**：B\n"
    )
    result = read_md(text)
    assert [r.fields["answer"] for r in result.records] == ["A", "B"]
    assert [line for line, _ in result.stray] == [10, 12]  # the stem paragraph, then the options list
    assert result.stray[0][1] == "下列说法正确的是："


def test_inline_markup_is_reduced_to_text() -> None:
    assert markdown._inline("**加粗**与*强调*、`code_span` 和 [链接](http://x) snake_case_name 2*3*4 A\\. x") == (
        "加粗与强调、code_span 和 链接 snake_case_name 2*3*4 A. x"
    )


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("q.md", "1. 题\nA. 一\nB. 二\n答案：A\n", inputs.KIND_MARKDOWN),  # the name says Markdown
        ("q.txt", "### 1. 题\n- A. 一\n- B. 二\n**答案**：A\n", inputs.KIND_MARKDOWN),  # the markup says it
        ("q.txt", "1．题\nA．一\nB．二\n【答案】A\n", inputs.KIND_TEXT),  # plain Chinese text stays text
        ("q.md", "Question?\nA) one\nB) two\nANSWER: A\n", inputs.KIND_AIKEN),  # no Markdown at all: content wins
    ],
)
def test_sniff_kind_routes_markdown(name: str, content: str, kind: str) -> None:
    assert inputs.sniff_kind(content.encode("utf-8"), name) == kind


def test_markdown_in_a_txt_file_is_read_as_markdown(tmp_path: Path) -> None:
    source = FIXTURES / "markdown" / "javascript-questions-zh-CN-excerpt.txt"
    out = tmp_path / "ex.yaml"
    result = run("bank", "import", source, "-o", out)
    assert result.exit_code == ExitCode.ok, result.output
    assert "（Markdown）：找到 3 题，导入 3 题，跳过 0 题" in result.output
    questions = list(imported(out).values())
    assert [(q["answer"], q["options"]) for q in questions[:2]] == [("B", ["对", "错"]), ("A", ["对", "错", "看情况"])]
    last = questions[2]["explanation"]
    assert last.startswith("我们有一个 setTimeout 函数") and last.endswith("bar 被调用，打印 \"Second\"，然后它被栈弹出。")
    assert "将 callback 推送到 WebAPI 后" in last and "名为 queue 的地方" in last  # _emphasis_ stripped
    assert result.output.count("[image-dropped]") == 5


def test_a_numbered_heading_keeps_a_numbered_list_in_its_stem() -> None:
    text = "## 一、多项选择题\n\n### 1. 下列做法中：\n\n1. 设立驿站\n2. 提供饮水\n\n符合要求的是：\n\n- A. 1\n- B. 2\n\n**答案**：AB\n"
    (record,) = read_md(text).records
    assert record.fields["stem"] == "下列做法中：\n1. 设立驿站\n2. 提供饮水\n符合要求的是："
    assert (record.fields["type"], record.fields["answer"]) == ("multiple", "AB")


def test_a_plain_heading_over_numbered_questions_is_a_title() -> None:
    text = "## 练习\n\n1. 题一\n\n- A. 一\n- B. 二\n\n答案：A\n\n2. 题二\n\n- A. 一\n- B. 二\n\n答案：B\n"
    result = read_md(text)
    assert [(r.line, r.fields["stem"], r.fields["answer"]) for r in result.records] == [(3, "题一", "A"), (10, "题二", "B")]
    assert result.found == 2


def test_a_last_heading_question_without_options_is_reported_not_lost(tmp_path: Path) -> None:
    source = tmp_path / "lost.md"
    source.write_text(
        "### 1. 题一是：\n- A. 甲\n- B. 乙\n\n**答案**：A\n\n### 2. 题二是：\n- A. 丙\n- B. 丁\n\n**答案**：B\n\n"
        "### 3. 题三的选项丢了，下列说法正确的是：\n",
        encoding="utf-8",
    )
    report = importer.import_file(source, bank_id="t")
    assert len(report.bank.questions) == 2
    assert [line for line, _ in report.stray] == [13]
    assert "题外文字 1 处" in report.accounting()
