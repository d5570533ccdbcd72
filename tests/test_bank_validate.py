"""Deliberately broken banks: each gives its own problem code at the right line."""

from __future__ import annotations

from pathlib import Path

import pytest

from papergen.bank import files as bankfile
from papergen.bank.files import validate_paths
from tests.conftest import marked_line

HEAD = """bank: demo
title: 演示题库
questions:
"""

GOOD = """  - id: q-001
    type: single
    stem: 负责归口指导的是：
    options: [组织部门, 社会工作部门, 行业主管部门]
    answer: B
    explanation: 社会工作部门归口指导。
    topic: 管理体制与工作机制/管理体制
    difficulty: 2
    tags: [体制]
    source: 000.txt
"""


def question(**changes: str) -> str:
    """GOOD with some lines replaced: key → replacement line(s) (None drops the key)."""
    lines = []
    for line in GOOD.splitlines():
        key = line.strip().lstrip("- ").split(":")[0]
        if key in changes:
            if changes[key] is not None:
                prefix = "  - " if line.lstrip().startswith("- ") else "    "
                lines.append(prefix + changes[key])
            elif line.lstrip().startswith("- "):
                raise ValueError("cannot drop the first key")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


CASES = {
    "missing-field": HEAD + question(stem=None).replace("  - id: q-001", "  - id: q-001  # <-"),
    "duplicate-id": HEAD + GOOD + question(stem="stem: 另一道题：").replace("  - id: q-001", "  - id: q-001  # <-"),
    "answer-out-of-range": HEAD + question(answer="answer: D  # <-"),
    "single-multiple-answers": HEAD + question(answer="answer: AB  # <-"),
    "multiple-too-few": HEAD + question(type="type: multiple", answer="answer: B  # <-"),
    "empty-option": HEAD + question(options="options:\n      - 甲\n      - ''  # <-\n      - 丙"),
    "duplicate-option": HEAD + question(options="options:\n      - 甲\n      - 乙\n      - 甲  # <-"),
    "option-count": HEAD + question(options="options: [只有一个]  # <-", answer="answer: A"),
    "bad-type": HEAD + question(type="type: 单选  # <-"),
    "bad-difficulty": HEAD + question(difficulty="difficulty: 6  # <-"),
    "bad-topic": HEAD + question(topic="topic: 管理体制//体制  # <-"),
    "bad-answer": HEAD + question(answer="answer: a,c  # <-"),
    "missing-answer": HEAD + question(answer="answer: ''  # <-"),
    "bad-id": HEAD + question(id="id: 带 空格  # <-"),
    "bad-tags": HEAD + question(tags="tags: 体制  # <-"),
    "bad-option": HEAD + question(options="options:\n      - 甲\n      - {text: 乙, pin: yes please}  # <-\n      - 丙"),
    "duplicate-key": HEAD + question(source="source: 000.txt\n    answer: C  # <-"),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_broken_bank_reports_its_error_at_its_line(tmp_path: Path, code: str) -> None:
    text = CASES[code]
    path = tmp_path / "bank.yaml"
    path.write_text(text, encoding="utf-8")
    report = validate_paths([path])
    found = [(p.code, p.line) for p in report.errors]
    assert (code, marked_line(text)) in found, report.problems
    # the broken question never reaches the bank
    assert report.banks[0].questions == [] or code == "duplicate-id"


def test_good_bank_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text(HEAD + GOOD, encoding="utf-8")
    report = validate_paths([path])
    assert report.problems == []
    (bank,) = report.banks
    q = bank.questions[0]
    assert (q.id, q.type, q.answer, q.difficulty, q.tags, q.line) == ("q-001", "single", "B", 2, ["体制"], 4)
    assert [o.text for o in q.options] == ["组织部门", "社会工作部门", "行业主管部门"]


def test_every_problem_in_a_file_is_listed_not_just_the_first(tmp_path: Path) -> None:
    text = HEAD + question(answer="answer: E") + question(id="id: q-002", difficulty="difficulty: 0", stem="stem: 第二题：")
    path = tmp_path / "bank.yaml"
    path.write_text(text, encoding="utf-8")
    codes = sorted(p.code for p in validate_paths([path]).errors)
    assert codes == ["answer-out-of-range", "bad-difficulty"]


def test_unknown_field_is_a_warning_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text(HEAD + question(source="source: x\n    explantion: 拼错了"), encoding="utf-8")
    report = validate_paths([path])
    assert report.errors == []
    (warning,) = [p for p in report.warnings if p.code == "unknown-field"]
    assert "explanation" in warning.message and warning.line == 14


def test_pinned_option_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text(HEAD + question(options="options:\n      - 甲\n      - 乙\n      - {text: 以上都是, pin: true}"), encoding="utf-8")
    (bank,) = validate_paths([path]).banks
    assert [o.pin for o in bank.questions[0].options] == [False, False, True]


# -- across banks -----------------------------------------------------------


def _two_banks(tmp_path: Path, second: str) -> list[Path]:
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text(HEAD + GOOD, encoding="utf-8")
    b.write_text(second, encoding="utf-8")
    return [a, b]


def test_same_bank_id_in_two_files_is_an_error(tmp_path: Path) -> None:
    paths = _two_banks(tmp_path, HEAD + question(id="id: z-1", stem="stem: 完全不同的另一道题目：", options="options: [一, 二, 三]"))
    assert [p.code for p in validate_paths(paths).errors] == ["duplicate-bank-id"]


def test_exact_and_near_duplicate_questions_across_banks_are_warnings(tmp_path: Path) -> None:
    exact = question(id="id: z-1")
    near = question(id="id: z-2", options="options: [组织部门, 社会工作部门, 各行业主管部门]")
    paths = _two_banks(tmp_path, HEAD.replace("demo", "other") + exact + near)
    report = validate_paths(paths)
    assert report.errors == []
    codes = {(p.code, p.path, p.line) for p in report.warnings}
    assert ("duplicate-question", str(paths[1]), 4) in codes
    assert ("near-duplicate", str(paths[1]), 14) in codes


def test_generic_short_stems_with_different_options_are_not_duplicates(tmp_path: Path) -> None:
    a = question(stem="stem: 下列说法正确的是：", options="options: [暖新驿站由多方共建, 快递员不属于新就业群体, 党建与服务无关]")
    b = question(id="id: q-002", stem="stem: 下列说法正确的是：", options="options: [行业党委覆盖重点行业, 网约车司机属于传统就业, 流动党员无需管理]")
    path = tmp_path / "bank.yaml"
    path.write_text(HEAD + a + b, encoding="utf-8")
    assert validate_paths([path]).problems == []


# -- unreadable and unsafe files ---------------------------------------------


def test_the_size_limit_can_be_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text(HEAD + GOOD, encoding="utf-8")
    monkeypatch.setenv("PAPERGEN_MAX_INPUT_MB", "0.0001")
    assert validate_paths([path]).problems[0].code == "rejected-input"
    monkeypatch.setenv("PAPERGEN_MAX_INPUT_MB", "1")
    assert validate_paths([path]).problems == []


def test_missing_file_is_reported_and_other_files_still_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(HEAD + GOOD, encoding="utf-8")
    report = validate_paths([tmp_path / "missing.yaml", good])
    assert [p.code for p in report.problems] == ["unreadable-file"]
    assert len(report.banks) == 1


def test_load_banks_refuses_banks_with_errors(tmp_path: Path) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text(HEAD + question(answer="answer: Z"), encoding="utf-8")
    with pytest.raises(bankfile.BankInvalid) as info:
        bankfile.load_banks([path])
    assert f"{path}:8" in str(info.value)


def test_dump_then_read_gives_the_same_bank(tmp_path: Path) -> None:
    from tests.conftest import sample_bank

    bank = sample_bank()
    path = tmp_path / "sample.yaml"
    bankfile.write_bank(bank, path)
    read, problems = bankfile.read_bank(path)
    assert [p for p in problems if p.is_error] == []
    assert read == bank


# Found by bench/fuzz.py.


@pytest.mark.parametrize(
    "value, code",
    [
        ("2026-02-30", "unreadable-file"),  # YAML takes it for a date that does not exist
        ("2001-12-14 25:00:00", "unreadable-file"),
        ("9" * 5000, "unreadable-file"),  # an integer int() refuses to build
        ("[" * 2000 + "]" * 2000, "rejected-input"),  # nesting that would exhaust recursion
    ],
)
def test_values_yaml_cannot_build_are_problems_at_their_line(tmp_path: Path, value: str, code: str) -> None:
    path = tmp_path / "bank.yaml"
    text = HEAD + question(difficulty=f"difficulty: {value}  # <-")
    path.write_text(text, encoding="utf-8")
    report = validate_paths([path])
    assert [(p.code, p.line) for p in report.errors] == [(code, marked_line(text))]


def test_other_line_breaks_survive_writing_and_reading(tmp_path: Path) -> None:
    from tests.conftest import sample_bank

    bank = sample_bank()
    first = bank.questions[0]
    # Inside the text (ends are stripped by validation, as any white space).
    first.stem = "上一行\x85下一行\u2028再下一行\u2029末行"
    first.explanation = "多行\n解析\x85末尾"
    first.tags = ["标\x85签"]
    path = tmp_path / "nel.yaml"
    bankfile.write_bank(bank, path)
    read, problems = bankfile.read_bank(path)
    assert [p for p in problems if p.is_error] == []
    assert read == bank


def test_checking_many_questions_is_linear_in_their_number(monkeypatch: pytest.MonkeyPatch) -> None:
    from papergen.bank.model import Problem
    from papergen.bank.validate import questions_from_mappings
    from papergen.core.located_yaml import located

    looked_at = 0
    is_error = Problem.is_error

    def counting(self: Problem) -> bool:
        nonlocal looked_at
        looked_at += 1
        return is_error.fget(self)

    monkeypatch.setattr(Problem, "is_error", property(counting))
    n = 400
    records = [
        {"id": f"q-{i}", "type": "single", "stem": f"题干{i}", "options": ["甲", "乙"], "answer": "A", "topic": "t", "difficulty": 3}
        for i in range(n)
    ]
    questions, problems = questions_from_mappings([(located(r, i + 1), i + 1) for i, r in enumerate(records)], "many.txt")
    assert len(questions) == n and [p.code for p in problems] == ["no-explanation"] * n
    assert looked_at < 5 * n  # was about n * n: every problem so far was recounted for each question


@pytest.mark.parametrize("value", ["[single]", "{single: 1}", "\n      - single"])
def test_type_that_is_a_list_or_mapping_is_a_bad_type(tmp_path: Path, value: str) -> None:
    path = tmp_path / "bank.yaml"
    text = HEAD + question(type=f"type: {value}  # <-" if not value.startswith("\n") else f"type:  # <-{value}")
    path.write_text(text, encoding="utf-8")
    assert [(p.code, p.line) for p in validate_paths([path]).errors] == [("bad-type", marked_line(text))]
