"""The `papergen bank …` commands: output, exit codes, and safe re-runs."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from papergen.bank.model import Bank
from papergen.cli import cli
from papergen.core.errors import ExitCode
from tests.conftest import FIXTURES, ROOT

SAMPLE_BANK = ROOT / "banks" / "xinjiuye-dangjian.yaml"


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_validate_the_shipped_bank_is_clean() -> None:
    result = run("bank", "validate", SAMPLE_BANK, "--strict")
    assert result.exit_code == 0, result.output
    assert "0 个错误，0 个警告" in result.output


def test_warnings_pass_unless_strict(tmp_path: Path) -> None:
    bank = tmp_path / "warn.yaml"
    bank.write_text(
        "bank: w\ntitle: 题库\nquestions:\n  - id: q1\n    type: single\n    stem: 题：\n"
        "    options: [一, 二]\n    answer: A\n    topic: t\n    difficulty: 1\n",
        encoding="utf-8",
    )
    assert run("bank", "validate", bank).exit_code == 0
    assert run("bank", "validate", "--strict", bank).exit_code == 4


def test_stats_prints_topics_types_and_difficulties() -> None:
    result = run("bank", "stats", SAMPLE_BANK)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[2].split() == ["知识点", "单选", "多选", "难度1", "难度2", "难度3", "难度4", "难度5", "合计"]
    total = lines[-1].split()
    assert total[0] == "合计" and int(total[1]) >= 50 and int(total[2]) >= 30
    assert int(total[-1]) == int(total[1]) + int(total[2]) == sum(map(int, total[3:8]))


def test_stats_csv_sums_children_into_parents(tmp_path: Path) -> None:
    bank = tmp_path / "b.yaml"
    questions = ""
    for n, (topic, qtype, answer, difficulty) in enumerate(
        [("甲/一", "single", "A", 1), ("甲/二", "multiple", "AB", 5), ("乙", "single", "B", 3)]
    ):
        questions += (
            f"  - id: q{n}\n    type: {qtype}\n    stem: 第{n}题题干内容各不相同{n * 7}：\n"
            f"    options: [选项一{n}, 选项二{n}, 选项三{n}]\n    answer: {answer}\n    explanation: 解析{n}\n"
            f"    topic: {topic}\n    difficulty: {difficulty}\n"
        )
    bank.write_text("bank: b\ntitle: 小题库\nquestions:\n" + questions, encoding="utf-8")
    result = run("bank", "stats", "--format", "csv", bank)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "知识点,单选,多选,难度1,难度2,难度3,难度4,难度5,合计",
        "甲,1,1,1,0,0,0,1,2",
        "甲/一,1,0,1,0,0,0,0,1",
        "甲/二,0,1,0,0,0,0,1,1",
        "乙,1,0,0,0,1,0,0,1",
        "合计,2,1,1,0,1,0,1,3",
    ]


def test_stats_refuses_an_invalid_bank(tmp_path: Path) -> None:
    bank = tmp_path / "bad.yaml"
    bank.write_text("bank: b\ntitle: t\nquestions:\n  - id: q1\n", encoding="utf-8")
    result = run("bank", "stats", bank)
    assert result.exit_code == 4 and "missing-field" in result.output


def test_import_skips_what_it_cannot_read_and_exits_5(tmp_path: Path) -> None:
    out = tmp_path / "imported.yaml"
    result = run("bank", "import", FIXTURES / "text" / "keyblock.txt", "-o", out, "--topic", "练习", "--id-prefix", "kb")
    assert result.exit_code == ExitCode.import_incomplete == 5
    assert "keyblock.txt:11: 错误 [missing-answer]" in result.output
    assert "导入 3 题，跳过 1 题" in result.output
    check = run("bank", "validate", out)
    assert check.exit_code == 0, check.output
    text = out.read_text(encoding="utf-8")
    assert "id: kb-001" in text and "id: kb-004" in text and "topic: 练习" in text


def test_import_rerun_is_idempotent_and_never_clobbers_an_edited_bank(tmp_path: Path) -> None:
    out = tmp_path / "v.yaml"
    source = FIXTURES / "text" / "variants.txt"
    assert run("bank", "import", source, "-o", out).exit_code == 0
    first = out.read_bytes()
    again = run("bank", "import", source, "-o", out)
    assert again.exit_code == 0 and "内容未变" in again.output and out.read_bytes() == first
    out.write_text(first.decode("utf-8").replace("进门难", "进门很难"), encoding="utf-8")
    edited = out.read_bytes()
    refused = run("bank", "import", source, "-o", out)
    assert refused.exit_code == ExitCode.output_error and "--force" in refused.output
    assert out.read_bytes() == edited
    assert run("bank", "import", source, "-o", out, "--force").exit_code == 0
    assert out.read_bytes() == first


def test_export_text_then_import_round_trips(tmp_path: Path) -> None:
    out = tmp_path / "bank.txt"
    result = run("bank", "export", SAMPLE_BANK, "-o", out)
    assert result.exit_code == 0, result.output
    back = tmp_path / "back.yaml"
    imported = run("bank", "import", out, "-o", back, "--bank-id", "xinjiuye-dangjian")
    assert imported.exit_code == 0, imported.output
    assert run("bank", "validate", back).exit_code == 0


def test_python_dash_m_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "papergen", "bank", "validate", str(SAMPLE_BANK)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "道题通过" in result.stdout


@pytest.mark.parametrize("suffix", [".xlsx", ".xml", ".gift"])
def test_lossless_round_trip_through_each_format(tmp_path: Path, suffix: str) -> None:
    """bank → format → bank through the real commands keeps every field."""
    from papergen.bank import files as bankfile

    exported = tmp_path / f"bank{suffix}"
    assert run("bank", "export", SAMPLE_BANK, "-o", exported).exit_code == 0
    back = tmp_path / "back.yaml"
    result = run("bank", "import", exported, "-o", back)
    assert result.exit_code == 0, result.output
    (original,) = bankfile.load_banks([SAMPLE_BANK])
    (reread,) = bankfile.load_banks([back])
    assert (reread.id, reread.title) == (original.id, original.title)
    assert [q.to_yaml() for q in reread.questions] == [q.to_yaml() for q in original.questions]


def test_aiken_export_says_what_it_left_out(tmp_path: Path) -> None:
    out = tmp_path / "bank.txt"
    result = run("bank", "export", SAMPLE_BANK, "-o", out, "--format", "aiken")
    assert result.exit_code == 0 and "多选题" in result.output
    back = tmp_path / "back.yaml"
    assert run("bank", "import", out, "-o", back, "--topic", "新就业").exit_code == 0
    from papergen.bank import files as bankfile

    (reread,) = bankfile.load_banks([back])
    (original,) = bankfile.load_banks([SAMPLE_BANK])
    singles = [q for q in original.questions if q.type == "single"]
    assert [(q.stem, [o.text for o in q.options], q.answer) for q in reread.questions] == [
        (q.stem, [o.text for o in q.options], q.answer) for q in singles
    ]


def test_default_bank_id_from_an_output_name_with_spaces(tmp_path: Path) -> None:
    out = tmp_path / "练习 题库(2).yaml"
    result = run("bank", "import", FIXTURES / "text" / "variants.txt", "-o", out)
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "id: 练习-题库-2" in text and "练习-题库-2-001" in text


@pytest.mark.parametrize("depth", [60, 2000])
def test_deep_nesting_is_refused_for_safety_whatever_pyyaml_version(tmp_path: Path, depth: int) -> None:
    """PyYAML 6.0.4 stops deep nesting in its own scanner; the contract (exit 7, the line) must not change with it."""
    path = tmp_path / "deep.yaml"
    path.write_text("bank: deep\nquestions: " + "[" * depth + "]" * depth + "\n", encoding="utf-8")
    result = run("bank", "validate", str(path))
    assert result.exit_code == ExitCode.input_rejected, result.output
    assert f"{path}:2:" in result.output and "嵌套超过" in result.output
def _questions(bank) -> Counter:
    return Counter((q.type, q.stem, tuple(o.text for o in q.options), q.answer) for q in bank.questions)


@pytest.mark.parametrize("fmt", ["xlsx", "moodle", "gift", "aiken", "text"])
def test_every_sample_question_comes_back_through_each_export_format(tmp_path: Path, fmt: str) -> None:
    """export → import through the commands returns every question (Aiken: every single choice).

    The text export used to come back with 183 of 187: stems starting with a
    year ("6．2023年2月……") were merged into the question before them.
    """
    from papergen.bank import files as bankfile

    exported = tmp_path / f"bank.{fmt}"
    assert run("bank", "export", SAMPLE_BANK, "-o", exported, "--format", fmt).exit_code == 0
    back = tmp_path / "back.yaml"
    imported = run("bank", "import", exported, "-o", back, "--topic", "新就业")
    assert imported.exit_code == 0, imported.output
    (original,) = bankfile.load_banks([SAMPLE_BANK])
    expected = [q for q in original.questions if fmt != "aiken" or q.type == "single"]
    assert f"导入 {len(expected)} 题，跳过 0 题" in imported.output
    (reread,) = bankfile.load_banks([back])
    assert _questions(reread) == _questions(Bank("x", "x", expected))


def test_yaml_export_is_the_bank_itself(tmp_path: Path) -> None:
    """A YAML export needs no import: it validates as it is (import says so and points to validate)."""
    from papergen.bank import files as bankfile

    exported = tmp_path / "bank.yaml"
    assert run("bank", "export", SAMPLE_BANK, "-o", exported, "--format", "yaml").exit_code == 0
    assert run("bank", "validate", exported).exit_code == 0
    (original,) = bankfile.load_banks([SAMPLE_BANK])
    (reread,) = bankfile.load_banks([exported])
    assert [q.to_yaml() for q in reread.questions] == [q.to_yaml() for q in original.questions]
    refused = run("bank", "import", exported, "-o", tmp_path / "back.yaml")
    assert refused.exit_code == ExitCode.input_file and "bank validate" in refused.output


def test_every_sample_question_comes_back_through_a_word_file(tmp_path: Path) -> None:
    """papergen exports no Word banks; a Word file holding the text export (one paragraph per line) reads back whole."""
    import docx

    from papergen.bank import files as bankfile

    text = tmp_path / "bank.txt"
    assert run("bank", "export", SAMPLE_BANK, "-o", text).exit_code == 0
    document = docx.Document()
    for line in text.read_text(encoding="utf-8").splitlines():
        document.add_paragraph(line)
    word = tmp_path / "bank.docx"
    document.save(word)
    back = tmp_path / "back.yaml"
    imported = run("bank", "import", word, "-o", back)
    assert imported.exit_code == 0, imported.output
    assert "导入 187 题，跳过 0 题" in imported.output
    (original,) = bankfile.load_banks([SAMPLE_BANK])
    (reread,) = bankfile.load_banks([back])
    by_id = lambda bank: sorted((q.to_yaml() for q in bank.questions), key=lambda q: q["id"])  # noqa: E731
    assert by_id(reread) == by_id(original)


def test_a_merged_question_exits_5_naming_both_lines(tmp_path: Path) -> None:
    source = tmp_path / "q.txt"
    source.write_text(
        "1．题一：\nA．一\nB．二\n答案：A\n【解析】解析一。\n下列说法正确的是：\nA．甲\nB．乙\n答案：B\n"
        "2．2023年召开的是：\nA．一\nB．二\n答案：B\n",
        encoding="utf-8",
    )
    result = run("bank", "import", source, "-o", tmp_path / "out.yaml")
    assert result.exit_code == ExitCode.import_incomplete
    assert f"{source}:9: 错误 [conflicting-answers] 第 1 题有两个不同的答案：第 4 行是 A，第 9 行是 B" in result.output
    assert "导入 1 题，跳过 1 题" in result.output
