"""The accounting line every ``bank import`` ends with: 找到 N 题，导入 I 题，跳过 S 题，题外文字 T 处.

Every fixture under tests/fixtures/ (apart from exams and scans) is imported through the command,
and its line is held to counts established by reading the fixture, not by running papergen.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from papergen.bank import importer
from papergen.bank.formats import RawRecord, ReadResult, aiken
from papergen.bank.model import Problem
from papergen.cli import cli
from papergen.core import inputs
from papergen.core.errors import ExitCode
from tests.conftest import FIXTURES

#: fixture → (found, imported, skipped, stray), by reading each file.
EXPECTED = {
    # Aiken: every ANSWER line closes a question, and so does a run of options cut off before one.
    # forms: 5 questions (one without ANSWER line); the heading 一、单项选择题 is stray.
    "aiken/forms.aiken.txt": (5, 4, 1, 1),
    # Moodle's aikenformat_test.php: 2 questions imported; too few answers, options outside a
    # question, a question cut off by the next.
    "aiken/moodle_aiken_errors.txt": (5, 2, 3, 0),
    "aiken/moodle_questions.aiken.txt": (2, 2, 0, 0),
    # Numbered items 1–4; 3 has no answer. The title paragraph before item 1 is the file's title, which
    # the Chinese-text reader does not report (only text between questions, or option/answer-like lines).
    "docx/practice.docx": (4, 3, 1, 0),
    # GIFT: 9 blocks (// question: 101 … 109); the $CATEGORY block is not one, and neither is the
    # description 107 (no answer part: Moodle's "description", stray text). Imported: 101 (single),
    # 102 (50%/50%/-100%: the two halves are the key), 104 (true/false), 109 (missing word).
    # Skipped: essay, numerical, short answer, the block missing its }.
    "gift/moodle_export.gift": (8, 4, 4, 1),
    # Hand-made course bank: 9 blocks with an answer part; the essay is refused; the heading line
    # 以下各题考查党建工作机制。 stands in a block of its own.
    "gift/course_bank.gift": (9, 8, 1, 1),
    # Moodle's examples.txt: 43 blocks with an answer part; what Moodle would import as single or
    # multiple choice or true/false (23) is imported, matching/numerical/short answer/essay (20) refused
    # (per tests/test_gift_moodle_reference.py's model of qformat_gift).
    "gift/moodle_examples.gift": (43, 23, 20, 0),
    # Moodle's unit-test fixture: 9 questions, 5 choice or true/false, 4 of other types.
    "gift/moodle_questions.gift": (9, 5, 4, 0),
    # Two true/false questions and one essay.
    "gift/true_false_only.gift": (3, 2, 1, 0),
    # Moodle XML: 7 <question> elements, 2 of them categories; essay and short answer skipped.
    "moodle/moodle_export.xml": (5, 3, 2, 0),
    # Items 1–4, answers in the 参考答案 block, item 3 has none.
    "text/keyblock.txt": (4, 3, 1, 0),
    # Items 1–7 under two section headings; the title line before item 1 is not reported (as above).
    "text/variants.txt": (7, 7, 0, 0),
    # Two questions whose 解析 hold numbered points （1）(2)1.① and a URL line: nothing is cut or left over.
    "text/explanation-points.txt": (2, 2, 0, 0),
    # Markdown: six questions (1–3 numbered paragraphs and list items, 4–6 ### headings); 5 has a picture in its
    # stem and 6 stands under 三、判断题: both skipped.
    "markdown/cn-exam-shapes.md": (6, 4, 2, 0),
    # lydiahallie/javascript-questions (MIT): five ###### questions, all imported.
    "markdown/javascript-questions-zh_CN.md": (5, 5, 0, 0),
    # Three questions of the same repository in Markdown saved as .txt.
    "markdown/javascript-questions-zh-CN-excerpt.txt": (3, 3, 0, 0),
    # Rows 2–4 of sheet 题库; row 4 has no answer.
    "xlsx/practice.xlsx": (3, 2, 1, 0),
}
NOT_IMPORT_SOURCES = ("exam", "scans")
LINE = re.compile(r"：找到 (\d+) 题，导入 (\d+) 题，跳过 (\d+) 题(?:（[^）]*）)?，题外文字 (\d+) 处 → ")


def fixtures() -> list[str]:
    return sorted(
        path.relative_to(FIXTURES).as_posix()
        for path in FIXTURES.rglob("*")
        if path.is_file() and path.name != "README.md" and path.relative_to(FIXTURES).parts[0] not in NOT_IMPORT_SOURCES
    )


def run(*args) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_every_fixture_has_its_expected_counts():
    assert fixtures() == sorted(EXPECTED), "add the new fixture's counts (found, imported, skipped, stray) to EXPECTED"


def reader_counts(path: Path) -> bool:
    """Whether the fixture's reader counts its own questions (and so reports stray text)."""
    data = path.read_bytes()
    module = importer._format_module(importer.FORMAT_MODULES[inputs.sniff_kind(data, str(path))])
    return module.read(data, str(path)).found is not None


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_accounting_line(name: str, tmp_path: Path) -> None:
    found, imported, skipped, stray = EXPECTED[name]
    source, out = FIXTURES / name, tmp_path / "out.yaml"
    result = run("bank", "import", source, "-o", out)
    assert result.exit_code == (ExitCode.import_incomplete if skipped else ExitCode.ok), result.output
    lines = [m.groups() for m in LINE.finditer(result.output)]
    if not reader_counts(source):
        stray = 0  # a reader that does not count its own questions reports no stray text yet
    assert [tuple(map(int, groups)) for groups in lines] == [(found, imported, skipped, stray)], result.output
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert len(written["questions"]) == imported
    assert result.output.count("[stray-text]") == stray
    assert result.output.count(": 错误 [") >= skipped
    assert "None:" not in result.output


def test_stray_text_is_a_warning_with_its_line(tmp_path: Path) -> None:
    source = tmp_path / "q.txt"
    source.write_text("一、单项选择题\n\n题目\nA. 甲\nB. 乙\nANSWER: A\n", encoding="utf-8")
    result = run("bank", "import", source, "-o", tmp_path / "out.yaml")
    assert result.exit_code == 0, result.output
    assert f"{source}:1: 警告 [stray-text]" in result.output and "“一、单项选择题”" in result.output
    assert "找到 1 题，导入 1 题，跳过 0 题，题外文字 1 处" in result.output


def test_nothing_imported_writes_no_file(tmp_path: Path) -> None:
    source, out = tmp_path / "q.txt", tmp_path / "out.yaml"
    source.write_text("题目\nA. 甲\nANSWER: A\n", encoding="utf-8")
    result = run("bank", "import", source, "-o", out)
    assert result.exit_code == ExitCode.import_incomplete, result.output
    assert not out.exists()
    assert "找到 1 题，导入 0 题，跳过 1 题" in result.output
    assert f"没有一道题能导入，未写入 {out}" in result.output


def test_duplicate_warnings_name_the_source_line(tmp_path: Path) -> None:
    source = tmp_path / "q.txt"
    question = "新就业群体党建工作中，负责归口指导的部门是：\nA. 组织部门\nB. 社会工作部门\nANSWER: B\n"
    source.write_text(question + "\n" + question, encoding="utf-8")
    result = run("bank", "import", source, "-o", tmp_path / "out.yaml")
    assert "None" not in result.output
    assert f"{source}:6: 警告 [duplicate-stem]" in result.output and f"（{source}:1）" in result.output


def test_a_count_that_does_not_add_up_is_an_internal_error(tmp_path: Path, monkeypatch) -> None:
    source, out = tmp_path / "q.txt", tmp_path / "out.yaml"
    source.write_text("题目\nA. 甲\nB. 乙\nANSWER: A\n", encoding="utf-8")
    real = aiken.read

    def miscounting(data: bytes, path: str) -> ReadResult:
        result = real(data, path)
        result.found += 1  # a question the reader saw but neither imported nor reported
        return result

    monkeypatch.setattr(aiken, "read", miscounting)
    result = CliRunner().invoke(cli, ["bank", "import", str(source), "-o", str(out)])
    assert result.exit_code == ExitCode.unexpected, result.output
    assert "找到 2 题，导入 1 题，跳过 0 题" in result.output and "清点对不上" in result.output
    assert not out.exists()


def test_fallback_count_for_readers_that_do_not_count(monkeypatch) -> None:
    def reader(data: bytes, path: str) -> ReadResult:
        record = RawRecord({"type": "single", "stem": "题目", "options": ["甲", "乙"], "answer": "A"}, 3)
        lost = Problem("error", "missing-answer", "没有答案", path, 7)
        note = Problem("warning", "x", "只是提醒", path, 9)
        return ReadResult(records=[record], problems=[lost, note])

    monkeypatch.setattr(aiken, "read", reader)
    report = importer.import_file(FIXTURES / "aiken" / "moodle_questions.aiken.txt", bank_id="b")
    assert (report.found, report.imported, report.skipped) == (2, 1, 1)
