"""Aiken: Moodle's simplest quiz format, single choice only.

::

    新就业群体党建工作的管理体制是：
    A. 党委统一领导、组织部门牵头抓总
    B) 政府统一领导、人社部门牵头
    ANSWER: A

Reading
    The stem is every line before the first option (several lines are kept
    as several lines; a blank line may separate stem and options). Options are ``A. text`` or
    ``A) text`` (a space after the mark, as Moodle requires), in letter
    order; ``ANSWER: B`` ends the question. A question without an
    ``ANSWER`` line (the next stem or the end of the file comes first) is a
    ``missing-answer`` problem at the question's first line, and reading
    goes on with the next question. Text followed by a blank line and then
    more text instead of options (a heading like 一、单项选择题) is a
    ``stray-text`` warning and skipped. Aiken has no ids, explanations, topics,
    difficulty, tags, sources or pins: those fields come back ``None``/empty.

Writing
    ``write(bank)`` raises ``ValueError`` naming the multiple-choice
    questions, since Aiken cannot hold them; ``write(bank, skip_multiple=True)``
    leaves them out instead (``multiple_choice_ids`` tells which). Blank
    lines inside a stem are dropped and a line break inside an option becomes
    a space (Aiken options are one line). A stem line that would read back
    as an option or an ANSWER line cannot be written: ``ValueError``.
"""

from __future__ import annotations

import re

from papergen.bank.formats import RawRecord, ReadResult
from papergen.bank.model import Bank, Problem, normalize_answer
from papergen.core.inputs import decode_text

_OPTION = re.compile(r"^([A-Z])[.)][ \t]+(.*)$")
_ANSWER = re.compile(r"^ANSWER\s*[:：]\s*(.*)$", re.I)


class _Pending:
    """The question being read: stem lines, options, where it started."""

    def __init__(self) -> None:
        self.line: int | None = None
        self.stem: list[str] = []
        self.options: list[str] = []
        self.bad_letters = False
        self.after_blank = False  # a blank line followed the stem so far

    def __bool__(self) -> bool:
        return self.line is not None


def read(data: bytes, path: str) -> ReadResult:
    """Read an Aiken file; see the module docstring for the rules."""
    text = decode_text(data, path)
    result = ReadResult()
    current = _Pending()

    def problem(code: str, message: str, line: int | None) -> None:
        result.problems.append(Problem("error", code, message, path, line))

    def missing_answer() -> None:
        if current.options:
            problem("missing-answer", "这道题的选项后面没有 ANSWER 行（如 ANSWER: B），已跳过", current.line)
        else:  # a heading such as 一、单项选择题, or a question that lost its options
            message = "这段文字后面没有选项（A. …）和 ANSWER 行，不是 Aiken 题目，已忽略"
            result.problems.append(Problem("warning", "stray-text", message, path, current.line))

    # Not str.splitlines(): it also breaks at U+2028, \x0c … which are text here.
    for number, raw in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        line = raw.strip()
        if not line:
            current.after_blank = bool(current)
            continue
        answer, option = _ANSWER.match(line), _OPTION.match(line)
        if answer:
            letters = normalize_answer(answer[1])
            if not current.options:
                problem("missing-options", "ANSWER 行前面没有选项（A. …）", current.line or number)
            elif not letters:
                problem("bad-answer", f"ANSWER 行的 {answer[1]!r} 不是选项字母（应为 ANSWER: B 这样）", number)
            elif not current.bad_letters:
                fields = {
                    "id": None, "type": "single", "stem": "\n".join(current.stem), "options": current.options,
                    "answer": letters, "explanation": "", "topic": None, "difficulty": None, "tags": [], "source": None,
                }
                result.records.append(RawRecord(fields, current.line))
            current = _Pending()
        elif option:
            if not current:
                current.line = number
            expected = chr(ord("A") + len(current.options))
            if option[1] != expected and not current.bad_letters:
                current.bad_letters = True
                problem("bad-option-letter", f"选项字母应为 {expected}，却是 {option[1]}（选项须按 A、B、C… 顺序排列），本题已跳过", number)
            current.options.append(option[2].strip())
        else:
            # A new stem while the last question still waits for options or
            # its ANSWER (a blank line may sit between stem and options).
            if current.options or current.after_blank:
                missing_answer()
                current = _Pending()
            if not current:
                current.line = number
            current.stem.append(line)
    if current:
        missing_answer()
    return result


def multiple_choice_ids(bank: Bank) -> list[str]:
    """Ids of the questions Aiken cannot hold."""
    return [question.id for question in bank.questions if question.type != "single"]


def write(bank: Bank, *, skip_multiple: bool = False) -> bytes:
    """The bank's single-choice questions as Aiken (UTF-8).

    Raises
    ------
    ValueError
        When the bank has multiple-choice questions and ``skip_multiple`` is
        false, or when a stem line would read back as an option or answer.
    """
    multiple = multiple_choice_ids(bank)
    if multiple and not skip_multiple:
        raise ValueError(
            f"Aiken 格式只能表示单选题，题库中有 {len(multiple)} 道多选题无法导出：{', '.join(multiple)}"
            "（可改用 Moodle XML 或 GIFT，或选择跳过多选题）"
        )
    blocks, ambiguous = [], []
    for question in bank.questions:
        if question.type != "single":
            continue
        stem = [line.strip() for line in question.stem.splitlines() if line.strip()]
        if any(_OPTION.match(line) or _ANSWER.match(line) for line in stem):
            ambiguous.append(question.id)
        lines = stem[:]
        for index, option in enumerate(question.options):
            text = " ".join(part.strip() for part in option.text.splitlines() if part.strip())
            lines.append(f"{chr(ord('A') + index)}. {text}")
        lines.append(f"ANSWER: {question.answer}")
        blocks.append("\n".join(lines) + "\n")
    if ambiguous:
        raise ValueError(
            f"以下题目的题干中有一行以“A. ”“B) ”或“ANSWER:”开头，写成 Aiken 后会被误读为选项或答案：{', '.join(ambiguous)}"
        )
    return "\n".join(blocks).encode("utf-8")
