"""Markdown question files: the question banks people keep in Git repositories and notes apps.

The shapes read:

- a heading per question (``### 1. ……``, ``###### 3. 输出是什么？``, ``### Q2``,
  ``### 场景 1``), or a numbered paragraph/list item per question (``1. ……``
  ``1、……`` ``**1.** ……`` ``**Q1**：……`` ``（1）……``);
- options as list items or lines: ``- A. ……`` ``* A: ……`` ``A、……`` ``(A) ……``
  ``A\\. ……``, or several on one line (``A. 甲  B. 乙``);
- the key: ``答案：B`` ``**答案**：B`` ``**答案：** B`` ``#### 答案: D`` ``【答案】B``
  ``> 正确答案：D``; text after the key on its line or below it is the 解析;
- the explanation: ``解析：`` ``**解析**：`` ``【解析】`` ``> 解析：``;
- section headings (``## 一、单项选择题`` ``## 多选题`` ``## 二、判断题``) give the
  type; a 判断/填空/简答 section's questions are reported, not imported;
- inline Markdown is reduced to its text: ``**bold**`` ``*em*`` ``_em_``,
  ``code spans``, ``[links](…)``, ``\\`` escapes, HTML tags (``<details>``,
  ``<summary>`` labels such as "答案" are dropped whole); a fenced code block
  stays as its lines (a question's code is part of its stem);
- images (``![…](…)``, ``<img>``) cannot be carried: in a stem or an option
  the question is skipped with the reason, in a 解析 the image is left out
  with a warning.

Question boundaries: a heading is a question when options or a key follow it
before the next heading (a heading over numbered questions is a title); a
numbered paragraph is a question when options or a key follow it before the
next one. Inside a 解析, a numbered line ("1. 返回值") is a point of the 解析
unless it carries the next question's number and options or a key follow
(the rule of ``cntext``). Under a heading question, numbered lines are text.

``found`` counts the questions by these boundaries; a numbered paragraph or
heading without options or key is prose. Text between questions that belongs
to none (and anywhere, text that looks like an option or a key) goes to
``stray`` with its line. The title and introduction before the first question
and closing prose after the last are the document's own and not reported,
except a numbered heading or paragraph after the last question (a question
whose options were lost must not vanish unsaid).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from papergen.bank.formats import RawRecord, ReadResult
from papergen.bank.formats.cntext import (
    _SECTION_MULTIPLE,
    _SECTION_OTHER,
    _SECTION_SINGLE,
    ANSWER,
    TYPE_MARK,
    _split_inline_options,
)
from papergen.bank.model import Problem, normalize_answer

_D = "0-9０-９"

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
BULLET = re.compile(r"^\s*[-*+]\s+")
QUOTE = re.compile(r"^\s{0,3}(?:>\s?)+")
IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|<img\b[^>]*>", re.I)
SUMMARY = re.compile(r"<summary\b[^>]*>.*?</summary>", re.I | re.S)
TAG = re.compile(r"</?[A-Za-z][^>]*>")
COMMENT = re.compile(r"<!--.*?-->")
LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")

#: A question number opening a paragraph or heading: "1." "1、" "1)" "（1）"
#: "Q1" "第1题" "题目 1". Digits right after "1." are a decimal ("10.1 选择题").
NUMBERED = (
    re.compile(rf"^(?:Q|q|第|题目|例题|例|练习|习题)\s*(?P<num>[{_D}]+)\s*题?\s*[.．、:：)）]?\s*(?P<rest>.*)$"),
    re.compile(rf"^(?P<num>[{_D}]+)\s*[.．、)）]\s*(?![{_D}])(?P<rest>.*)$"),
    re.compile(rf"^[（(]\s*(?P<num>[{_D}]+)\s*[）)]\s*(?P<rest>.*)$"),
)
#: A key line of any kind, letters or not ("答案：✔ 正确"): it makes a question.
ANY_ANSWER = re.compile(r"^[【\[]?\s*(?:正确答案|参考答案|答案)\s*[】\]]?\s*[:：]")
EXPLANATION = re.compile(
    r"^(?:[【\[]\s*(?:答案解析|解析|详解|点拨|分析)\s*[】\]]|(?:答案解析|解析|详解|解题过程|解题思路)\s*(?:[:：]|$))\s*[:：]?\s*(?P<text>.*)$"
)
#: A label with nothing after it ("答案" from a folded <details>, "查看答案"): not text.
LABEL = re.compile(r"^(?:查看|点击查看|点击展开)?\s*(?:参考答案|答案)(?:与解析|和解析|及解析)?\s*[:：]?$")
#: A section heading written as a plain line: "一、单项选择题".
SECTION_LINE = re.compile(r"^[一二三四五六七八九十]+\s*[、.．]")

#: How far a heading or numbered line looks for its options or key.
LOOKAHEAD_LINES = 120


@dataclass
class _Line:
    kind: str  # text | code | heading | rule | blank
    text: str
    line: int
    level: int = 0  # heading level
    images: int = 0  # images removed from this line


@dataclass
class _Block:
    line: int
    number: int | None
    by_heading: bool
    section_type: str | None
    unsupported: tuple[str, int] | None
    stem: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    answer: str | None = None
    answered: bool = False  # a key line, letters or not
    explanation: list[str] = field(default_factory=list)
    state: str = "stem"  # stem | options | explanation
    errors: list[Problem] = field(default_factory=list)
    lines: list[tuple[int, str]] = field(default_factory=list)  # what it consumed, for stray prose


def _number(digits: str) -> int | None:
    digits = unicodedata.normalize("NFKC", digits)
    return int(digits) if len(digits) <= 9 else None


def _inline(text: str) -> str:
    """Markdown inline markup reduced to text; code spans keep their content as is."""
    parts = []
    last = 0
    for match in CODE_SPAN.finditer(text):
        parts.append(_plain(text[last : match.start()]))
        parts.append(match.group(2).strip())
        last = match.end()
    parts.append(_plain(text[last:]))
    return "".join(parts).strip()


def _plain(text: str) -> str:
    text = LINK.sub(r"\1", text)
    text = TAG.sub("", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"\*\*|__", "", text)  # an unpaired one ("**答案：** B" split oddly)
    # Emphasis next to Chinese text ("在*遍历结束后*才") is emphasis; next to
    # ASCII letters or digits ("2*3*4", "snake_case_name") it is not.
    text = re.sub(r"(?<![A-Za-z0-9*])\*(?!\s)(.+?)(?<!\s)\*(?![A-Za-z0-9*])", r"\1", text)
    text = re.sub(r"(?<![A-Za-z0-9_])_(?!\s)(.+?)(?<!\s)_(?![A-Za-z0-9_])", r"\1", text)
    return ESCAPE.sub(r"\1", text)


def _lines(text: str) -> list[_Line]:
    """The file as typed lines: fenced code kept verbatim, everything else reduced to text."""
    out: list[_Line] = []
    fence: str | None = None
    text = SUMMARY.sub(lambda m: "\n" * m.group(0).count("\n"), text)  # "答案" / "点击展开" labels
    for number, raw in enumerate(text.splitlines(), start=1):
        if fence is not None:
            if raw.strip().startswith(fence):
                fence = None
                out.append(_Line("blank", "", number))
            else:
                out.append(_Line("code", raw.rstrip(), number))
            continue
        opening = FENCE.match(raw)
        if opening:
            fence = opening.group(1)[0] * 3
            out.append(_Line("blank", "", number))
            continue
        raw = COMMENT.sub("", raw)
        images = len(IMAGE.findall(raw))
        raw = IMAGE.sub("", raw)
        raw = QUOTE.sub("", raw)
        if RULE.match(raw):
            out.append(_Line("rule", "", number))
            continue
        heading = HEADING.match(raw)
        if heading:
            out.append(_Line("heading", _inline(heading.group(2)), number, level=len(heading.group(1)), images=images))
            continue
        body = _inline(BULLET.sub("", raw, count=1))
        out.append(_Line("text" if body else "blank", body, number, images=images))
    return out


def _numbered(text: str) -> tuple[int | None, str] | None:
    for pattern in NUMBERED:
        match = pattern.match(text)
        if match:
            return _number(match.group("num")), match.group("rest")
    return None


def _is_option_line(text: str) -> bool:
    leading, options = _split_inline_options(text)
    return not leading and bool(options)


def _section_kind(title: str) -> str | None:
    if _SECTION_MULTIPLE.search(title):
        return "multiple"
    if _SECTION_SINGLE.search(title):
        return "single"
    if _SECTION_OTHER.search(title):
        return "other"
    return None


@dataclass
class _Reader:
    path: str
    lines: list[_Line]
    result: ReadResult = field(default_factory=ReadResult)
    block: _Block | None = None
    blocks: list[_Block] = field(default_factory=list)
    section_type: str | None = None
    section_level: int = 0
    unsupported: tuple[str, int] | None = None
    loose: list[tuple[int, str]] = field(default_factory=list)  # text outside any question

    def problem(self, severity: str, code: str, message: str, line: int) -> None:
        self.result.problems.append(Problem(severity, code, message, self.path, line))

    # -- boundaries ------------------------------------------------------------

    def is_answer_heading(self, text: str) -> bool:
        return bool(ANY_ANSWER.match(text) or EXPLANATION.match(text))

    def follows(self, index: int, numbers_are_text: bool) -> tuple[str | None, bool]:
        """What comes first after line ``index``: "options", "answer" or None; and whether a key follows options.

        The search ends at the next heading. With ``numbers_are_text`` (a
        numbered heading: "### 1. ……") numbered lines below are its text;
        otherwise a numbered line before any option ends the search with
        None (a plain heading over numbered questions is a title, a numbered
        paragraph followed by another is prose), and one after the options
        ends it there.
        """
        first: str | None = None
        for line in self.lines[index + 1 : index + 1 + LOOKAHEAD_LINES]:
            if line.kind == "heading" and not self.is_answer_heading(line.text):
                break
            if line.kind not in ("text", "heading"):
                continue
            text = line.text
            if first is None and _is_option_line(text):
                first = "options"
                continue
            if ANY_ANSWER.match(text):
                return (first or "answer"), first == "options"
            if not numbers_are_text and _numbered(text) is not None:
                return first, False
        return first, False

    def heading_question(self, index: int) -> bool:
        line = self.lines[index]
        if _section_kind(line.text) is not None and _numbered(line.text) is None:
            return False  # "## 一、单项选择题" / "## 多选题"
        kind, _ = self.follows(index, numbers_are_text=_numbered(line.text) is not None)
        return kind is not None

    def numbered_question(self, index: int, number: int | None) -> bool:
        block = self.block
        kind, keyed = self.follows(index, numbers_are_text=False)
        if kind is None:
            return False
        if block is None or block.state != "explanation":
            return True
        if number is None or block.number is None or number == block.number + 1:
            return True
        return number > block.number and kind == "options" and keyed

    # -- reading ---------------------------------------------------------------

    def run(self) -> None:
        for index, line in enumerate(self.lines):
            self.feed(index, line)
        self.finish()

    def feed(self, index: int, line: _Line) -> None:
        block = self.block
        if line.images:
            self.image(line)
        if line.kind == "blank":
            return
        if line.kind == "rule":
            if block is not None and block.answered:
                self.finish()
            return
        if line.kind == "code":
            if block is None:
                self.loose.append((line.line, line.text))
            elif block.state == "explanation":
                block.explanation.append(line.text)
            else:
                block.stem.append(line.text)
            return
        text = line.text
        if line.kind == "heading" and not self.is_answer_heading(text):
            if self.heading_question(index):
                numbered = _numbered(text)
                number, rest = numbered if numbered else (None, text)
                self.start(line.line, number, rest, by_heading=True)
                return
            self.finish()
            if _numbered(text) is not None:
                self.loose.append((line.line, text))  # a numbered heading that is no question: stray if it matters
            kind = _section_kind(text) if _numbered(text) is None else None
            if kind is not None:
                self.section_type = None if kind == "other" else kind
                self.unsupported = (text, line.line) if kind == "other" else None
                self.section_level = line.level
            elif line.level <= self.section_level:
                self.section_type, self.unsupported, self.section_level = None, None, 0
            return
        if line.kind == "text" and block is None and _numbered(text) is None:
            kind = _section_kind(text) if SECTION_LINE.match(text) else None
            if kind is not None:
                self.section_type = None if kind == "other" else kind
                self.unsupported = (text, line.line) if kind == "other" else None
                return
        numbered = _numbered(text)
        if numbered is not None and (block is None or not block.by_heading):
            if self.numbered_question(index, numbered[0]):
                self.start(line.line, numbered[0], numbered[1], by_heading=False)
                return
            if block is not None and block.state != "explanation" and not block.options:
                # numbered prose ("3. 完善激励机制") before this question's options: not a question
                self.finish()
                block = None
        if block is None:
            self.loose.append((line.line, text))
            return
        block.lines.append((line.line, text))
        self.text(block, text, line.line)

    def text(self, block: _Block, text: str, line: int) -> None:
        if LABEL.match(text):
            return
        if block.state in ("stem", "options") and not block.answered:
            leading, options = _split_inline_options(text, expected=len(block.options))
            if options and not leading:
                block.options.extend(options)
                block.state = "options"
                return
        answer = ANSWER.match(text)
        if answer and not block.answered:
            block.answer = normalize_answer(_nfkc(answer.group("letters")))
            block.answered = True
            block.state = "explanation"
            rest = answer.group("rest").lstrip("。.，,；; ")
            explanation = EXPLANATION.match(rest)
            rest = explanation.group("text") if explanation else rest
            if rest:
                block.explanation.append(rest)
            return
        if ANY_ANSWER.match(text) and not block.answered:
            block.answered = True  # a key that is not letters ("答案：✔ 正确")
            block.state = "explanation"
            return
        explanation = EXPLANATION.match(text)
        if explanation:
            block.state = "explanation"
            if explanation.group("text"):
                block.explanation.append(explanation.group("text"))
            return
        if block.state == "stem":
            block.stem.append(text)
        elif block.state == "options":
            block.options[-1] = f"{block.options[-1]}{text}" if block.options[-1] else text
        else:
            block.explanation.append(text)

    def image(self, line: _Line) -> None:
        block = self.block
        if block is not None and block.state in ("stem", "options") and line.kind != "heading":
            block.errors.append(Problem(
                "error", "image-in-question",
                f"第 {line.line} 行的{'题干' if block.state == 'stem' else '选项'}里有图片，papergen 的题目不能带图片，这道题没有导入",
                self.path, block.line,
            ))
            return
        if block is not None and line.kind == "heading":
            block.errors.append(Problem(
                "error", "image-in-question", f"第 {line.line} 行的题目标题里有图片，papergen 的题目不能带图片，这道题没有导入",
                self.path, block.line,
            ))
            return
        where = "解析" if block is not None else "题目之外"
        self.problem("warning", "image-dropped", f"第 {line.line} 行{where}的图片没有导入（papergen 的题目和解析只有文字）", line.line)

    def start(self, line: int, number: int | None, rest: str, by_heading: bool) -> None:
        self.finish()
        block = _Block(line, number, by_heading, self.section_type, self.unsupported)
        self.block = block
        if rest:
            leading, options = _split_inline_options(rest)
            if leading:
                block.stem.append(leading)
            if options:
                block.options.extend(options)
                block.state = "options"

    def finish(self) -> None:
        block, self.block = self.block, None
        if block is None:
            return
        if not block.options and not block.answered:
            # a numbered paragraph or heading with neither options nor key: prose
            self.loose.append((block.line, "\n".join(block.stem) or "（空）"))
            self.loose.extend(block.lines)
            return
        self.blocks.append(block)

    # -- output --------------------------------------------------------------

    def records(self) -> None:
        source = Path(self.path).name
        found = 0
        for block in self.blocks:
            found += 1
            label = f"第 {block.line} 行的题目"
            if block.unsupported is not None:
                title, heading = block.unsupported
                self.problem("error", "unsupported-section", f"“{title}”（第 {heading} 行）不是选择题，{label}已跳过", block.line)
                continue
            if not block.options:
                self.problem("error", "no-options", f"{label}有答案但没有找到选项（A. …）", block.line)
                continue
            stem = "\n".join(block.stem).strip()
            kind = block.section_type
            mark = TYPE_MARK.search(stem)
            if mark:
                kind = "multiple" if re.search("多|不定项", mark.group("kind")) else "single"
                stem = (stem[: mark.start()] + stem[mark.end() :]).strip()
            fields = {
                "type": kind,
                "stem": stem,
                "options": block.options,
                "answer": block.answer or "",
                "explanation": "\n".join(block.explanation).strip(),
                "source": source,
            }
            self.result.records.append(RawRecord(fields, block.line, None, list(block.errors)))
        self.result.found = found
        self.result.stray = self.stray()

    def stray(self) -> list[tuple[int, str]]:
        """Paragraphs outside every question: between questions, or anywhere when they look like a question's part."""
        if not self.blocks:
            return []
        first, last = self.blocks[0].line, self.blocks[-1].line
        out: list[tuple[int, str]] = []
        previous = -2
        for line, text in sorted(self.loose):
            between = first < line < last
            part = _is_option_line(text) or bool(ANY_ANSWER.match(text))
            # after the last question, a numbered heading or paragraph: a question that lost its options
            lost = line > last and _numbered(text.lstrip("#").strip()) is not None
            if not (between or part or lost):
                continue
            if out and line == previous + 1:
                previous = line
                continue  # one entry per paragraph
            out.append((line, text[:40]))
            previous = line
        return out


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def read(data: bytes, path: str) -> ReadResult:
    """Read a UTF-8 Markdown file (see module docstring for the shapes accepted)."""
    from papergen.core.inputs import decode_text

    reader = _Reader(path=path, lines=_lines(decode_text(data, path)))
    reader.run()
    reader.records()
    return reader.result
