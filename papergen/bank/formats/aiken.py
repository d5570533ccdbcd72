"""Aiken: Moodle's simplest quiz format, single choice only.

::

    新就业群体党建工作的管理体制是：
    A. 党委统一领导、组织部门牵头抓总
    B) 政府统一领导、人社部门牵头
    ANSWER: A

The reference reader is Moodle's ``qformat_aiken`` (moodle/moodle,
question/format/aiken/format.php); papergen reads what it reads, and where
papergen reads more, it says so in a warning.

Reading (line by line, each line trimmed)
    * A line that starts with a capital letter and ``.`` or ``)`` is an
      option, with or without a space after the mark (``A)text`` too, as in
      Moodle; so is ``A.I. …``: a stem must not start that way). Options are
      taken in letter order A, B, C…; out of order, the question is refused.
    * A line starting ``ANSWER:`` closes the question. Its key is the first
      letter after the colon, as in Moodle: ``ANSWER: B - because`` is B, and
      the text after the letter is reported as not imported (Aiken has no
      explanation). Only letters (``ANSWER: A, C``, ``ANSWER: AC``) make a
      multiple-choice key: Moodle would import such a question as single
      choice with the first letter as key; papergen imports it as multiple
      choice, with a warning. ``answer:``, a full-width colon or a lower-case
      key letter are read too, each with a warning that Moodle does not.
    * Any other line starts a question's stem. A stem of several lines (no
      blank line between them) is kept with its line breaks, with a warning:
      Moodle keeps only the last line. A stem followed by a blank line and
      then another stem (a heading such as 一、单项选择题) is text that belongs
      to no question: ``ReadResult.stray``.
    * Lines shorter than two bytes are skipped, as Moodle does (into ``stray``).

Counting (``ReadResult.found``)
    Every ANSWER line closes one question, and so does a run of options the
    next stem or the end of the file cuts off before its ANSWER line. Each
    such question becomes exactly one ``RawRecord``; one that cannot be
    imported (no stem, fewer than two options, letters out of order, no
    ANSWER line, a key that is not an option) carries its reason in
    ``errors``, so ``found == len(records)`` and ids stay by position.
    Aiken has no ids, explanations, topics, difficulty, tags, sources or
    pins: those fields come back ``None``/empty.

Writing
    ``write(bank)`` raises ``ValueError`` naming the multiple-choice
    questions, since Aiken cannot hold them; ``write(bank, skip_multiple=True)``
    leaves them out instead (``multiple_choice_ids`` tells which). Moodle
    reads only one stem line, so a stem's lines are joined with one ordinary
    space (blank lines dropped) — not a full-width space, which would be
    wrong in Latin text and which normalisers turn into a space anyway; a
    line break inside an option becomes a space too. A stem that would read
    back as an option or an ANSWER line (``A. …``, ``A.I. …``) cannot be
    written: ``ValueError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from papergen.bank.formats import RawRecord, ReadResult
from papergen.bank.model import Bank, Problem
from papergen.core.inputs import decode_text

#: Moodle's option test: a capital, ``.`` or ``)``, optionally a space.
_OPTION = re.compile(r"^([A-Z])[.)][ \t]?(.*)$")
#: Moodle's ANSWER test is ``^ANSWER:``; papergen also reads the lenient forms
#: (told apart by ``_MOODLE_ANSWER``) and warns about them.
_ANSWER = re.compile(r"^ANSWER[ \t]*[:：][ \t]*(.*)$", re.I)
_MOODLE_ANSWER = re.compile(r"^ANSWER:")
#: A key of several letters and nothing else: ``AC``, ``A, C``, ``A、C``.
_MULTI_KEY = re.compile(r"[A-Z](?:[ \t,，、;；/]*[A-Z])+")
_EXCERPT = 40


@dataclass
class _Question:
    """The question being read: where it started, stem lines, options."""

    line: int | None = None
    stem: list[tuple[int, str]] = field(default_factory=list)
    options: list[tuple[int, str, str, str]] = field(default_factory=list)  # (line, letter, text, line as written)
    after_blank: bool = False  # a blank line followed the stem so far

    def __bool__(self) -> bool:
        return self.line is not None


def _excerpt(text: str) -> str:
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


def read(data: bytes, path: str) -> ReadResult:
    """Read an Aiken file; see the module docstring for the rules."""
    text = decode_text(data, path)
    result = ReadResult(found=0)
    current = _Question()

    def close(answer: tuple[int, str, str] | None, cut: int | None = None) -> None:
        """One question ends.

        ``answer``: its ANSWER line (number, text after the colon, the line
        as written); ``None`` when the stem at line ``cut`` (or the end of
        the file) comes first.
        """
        nonlocal current
        question, current = current, _Question()
        result.found += 1
        first = question.line if question else answer[0]
        errors: list[tuple[str, str, int]] = []  # (code, message, line)
        warnings: list[Problem] = []  # only said when the question is imported

        def warn(code: str, message: str, line: int) -> None:
            warnings.append(Problem("warning", code, message, path, line))

        if not question.stem:
            where = question.options[0] if question.options else None
            detail = f"第 {where[0]} 行“{_excerpt(where[3])}”按 Aiken 的规则是选项" if where else "ANSWER 行前面什么都没有"
            errors.append(("missing-stem", f"这道题没有题干（{detail}；Moodle 同样不导入，题干不能以“A.”“B)”这样开头）", first))
        if len(question.options) < 2:
            errors.append(("missing-options", f"这道题只有 {len(question.options)} 个选项（A. …），至少需要 2 个", first))
        for index, (number, letter, _, _) in enumerate(question.options):
            expected = chr(ord("A") + index)
            if letter != expected:
                errors.append(("bad-option-letter", f"第 {number} 行的选项字母应为 {expected}，却是 {letter}（选项须按 A、B、C… 顺序排列）", number))
                break
        key = ""
        if answer is None:
            after = f"第 {cut} 行已开始下一题" if cut else "文件已结束"
            errors.append(("missing-answer", f"这道题的选项后面没有 ANSWER 行（如 ANSWER: B），{after}", first))
        else:
            number, rest, written = answer
            if not _MOODLE_ANSWER.match(written):
                warn("aiken-answer-form", f"“{_excerpt(written)}”：Moodle 只认“ANSWER:”（大写、半角冒号），会把这一行读成新题的题干；papergen 按答案行读入", number)
            multi = _MULTI_KEY.fullmatch(rest)
            if multi and len(set(re.findall(r"[A-Z]", rest))) > 1:
                letters = sorted(set(re.findall(r"[A-Z]", rest)))
                key = "".join(letters)
                warn("aiken-multiple-key", f"Aiken 只有单选题，ANSWER 行却给了 {'、'.join(letters)}：Moodle 会只取 {rest[0]} 作答案、按单选题导入；papergen 按多选题导入", number)
            elif rest[:1].isascii() and rest[:1].isalpha():
                key = rest[0].upper()
                if rest[0].islower():
                    warn("aiken-answer-form", f"答案字母 {rest[0]} 是小写：Moodle 只认大写字母，不会导入这道题；papergen 按 {key} 读入", number)
                tail = rest[1:].strip()
                if tail:
                    warn("aiken-answer-text", f"ANSWER 行中答案 {key} 后面的“{_excerpt(tail)}”没有导入（Aiken 没有解析；Moodle 也只取第一个字母）", number)
            else:
                errors.append(("bad-answer", f"ANSWER 行的“{_excerpt(rest)}”不是选项字母（应为 ANSWER: B 这样）", number))
            beyond = [letter for letter in key if ord(letter) - ord("A") >= len(question.options)]
            if beyond and question.options:
                last = chr(ord("A") + len(question.options) - 1)
                errors.append(("bad-answer", f"答案 {''.join(beyond)} 不在选项 A–{last} 之中", number))
        if len(question.stem) > 1 and not errors:
            lines = f"第 {question.stem[0][0]}–{question.stem[-1][0]} 行"
            warn("aiken-multiline-stem", f"题干占 {len(question.stem)} 行（{lines}）：papergen 保留全部各行；Moodle 只把最后一行当题干（前面的行报错丢弃）", question.stem[0][0])
        fields = {
            "id": None, "type": "multiple" if len(key) > 1 else "single", "stem": "\n".join(t for _, t in question.stem),
            "options": [t for _, _, t, _ in question.options], "answer": key, "explanation": "", "topic": None,
            "difficulty": None, "tags": [], "source": None,
        }
        # One problem per refused question, with every reason, at the first reason's line.
        problems = [
            Problem("error", errors[0][0], "；".join(message for _, message, _ in errors) + "，本题已跳过", path, errors[0][2])
        ] if errors else []
        result.records.append(RawRecord(fields, first, errors=problems))
        if not problems:
            result.problems.extend(warnings)

    def stray() -> None:
        """The stem read so far belongs to no question."""
        nonlocal current
        result.stray.append((current.stem[0][0], _excerpt(" ".join(t for _, t in current.stem))))
        current = _Question()

    # Not str.splitlines(): it also breaks at U+2028, \x0c … which are text here.
    for number, raw in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        line = raw.strip()
        if not line:
            current.after_blank = bool(current)
            continue
        if len(line.encode("utf-8")) < 2:  # Moodle skips these
            result.stray.append((number, line))
            continue
        option, answer = _OPTION.match(line), _ANSWER.match(line)
        if option:
            if not current:
                current.line = number
            current.options.append((number, option[1], option[2].strip(), line))
        elif answer:
            close((number, answer[1].strip(), line))
        else:
            # A new stem while the last question still waits for its ANSWER
            # (a blank line may sit between stem and options).
            if current.options:
                close(None, number)
            elif current.after_blank:
                stray()
            if not current:
                current.line = number
            current.stem.append((number, line))
    if current.options:
        close(None)
    elif current:
        stray()
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
        stem = " ".join(line.strip() for line in question.stem.splitlines() if line.strip())
        if _OPTION.match(stem) or _ANSWER.match(stem) or len(stem.encode("utf-8")) < 2:
            ambiguous.append(question.id)
        lines = [stem]
        for index, option in enumerate(question.options):
            text = " ".join(part.strip() for part in option.text.splitlines() if part.strip())
            lines.append(f"{chr(ord('A') + index)}. {text}")
        lines.append(f"ANSWER: {question.answer}")
        blocks.append("\n".join(lines) + "\n")
    if ambiguous:
        raise ValueError(
            f"以下题目的题干以“A.”“B)”这样的字母加点或括号、或以“ANSWER:”开头，写成 Aiken 后会被读成选项或答案（Moodle 也一样）：{', '.join(ambiguous)}"
        )
    return "\n".join(blocks).encode("utf-8")
