"""Chinese exam-prep text (the 【练习】…【答案】…【解析】 form) and its variants.

Reads what training centres paste from web pages and Word files:

- numbering ``1．`` ``1、`` ``1.`` ``（1）`` ``【练习-1】`` ``【例1】`` ``第1题``, also before a
  stem that starts with digits (``2．2023年……``);
- options ``A.`` ``A．`` ``A、`` ``Ａ．`` ``(A)`` ``（A）``, one per line or several on a
  line separated by spaces or ideographic spaces;
- answers ``【答案】ABC`` ``答案：A`` ``正确答案：B`` ``【答案】A、C``, or a key block
  at the end (``参考答案`` then ``1．A 2．C 4．ABC``);
- explanations ``【解析】`` / ``解析：``; optional ``【知识点】`` ``【难度】`` ``【编号】``
  ``【标签】`` ``【来源】`` lines (written by ``write`` so a text round trip keeps them);
- the type from ``（多选）``/``【多选题】`` in the stem, from a section heading
  (``一、单项选择题``), or else from the number of answer letters.

A numbered paragraph is only a question if options follow it: exam-prep
material is full of numbered prose headings ("3.完善激励机制"), which are
passed over. A line with a web address or page furniture ("本文链接", "上一篇")
ends the question before it, so page footers do not leak into a 解析.

Stems that start with digits ("2．2023年2月……", "3．3.5%的……") are everywhere
in 公基 questions. A number right after the separator is therefore still stem
text; whether such a line ("2．2023年", but also "3.5%" inside a 解析) opens a
question is decided from what follows it (options) and, before a question's
options, from the numbering sequence. Numbered lines inside a 解析
("1.坚持党的领导" "（2）……") stay in the 解析 unless options or an answer follow.

The reader checks its own work: ``question_groups`` finds, independently of
the reader's state machine, every numbered line that options follow; each
must have become a record or a problem at its line. One that did not was
swallowed by the question before it (or dropped), and both are reported, so
a count of "跳过 0 题" can be trusted.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from papergen.bank.formats import RawRecord, ReadResult
from papergen.bank.model import LETTERS, Bank, Problem, normalize_answer

_L = "A-HＡ-Ｈ"  # option letters, half- and full-width
_D = "0-9０-９"

SECTION = re.compile(r"^[一二三四五六七八九十]+\s*[、.．]\s*(?P<title>.*)$")
_SECTION_SINGLE = re.compile(r"单项选择|单选")
_SECTION_MULTIPLE = re.compile(r"多项选择|多选|不定项")
_SECTION_OTHER = re.compile(r"判断|填空|简答|问答|论述|案例分析|材料分析|写作|计算")

QUESTION_STARTS = (
    re.compile(rf"^【\s*(?:练习|例题|例|真题|试题|习题|题)\s*[-－—]?\s*(?P<num>[{_D}]+)\s*】\s*(?P<rest>.*)$"),
    re.compile(rf"^第\s*(?P<num>[{_D}]+)\s*题\s*[.．、:：]?\s*(?P<rest>.*)$"),
    re.compile(rf"^(?P<num>[{_D}]+)\s*[.．、]\s*(?![{_D}])(?P<rest>.*)$"),
    re.compile(rf"^[（(]\s*(?P<num>[{_D}]+)\s*[）)]\s*(?P<rest>.*)$"),
)
# A number and separator followed by more digits: "2．2023年……" (question 2)
# or "3.5%……" (a decimal). Which one it is depends on the lines around it.
DIGIT_START = re.compile(rf"^(?P<num>[{_D}]+)\s*[.．、]\s*(?P<rest>[{_D}].*)$")
# An option marker: "A." "A．" "A、" "A:" "(A)" "（A）". Inside a line it must
# follow white space, so "B超" or "1.5A." in running text is not split.
_MARKER = rf"(?:[（(]\s*[{_L}]\s*[）)]\s*[.．、]?|[{_L}]\s*[.．、:：])"
OPTION_START = re.compile(rf"^{_MARKER}")
INLINE_MARKER = re.compile(rf"(?:(?<=[\s\u3000])|^){_MARKER}")
ANSWER = re.compile(
    rf"^[【\[]?\s*(?:正确答案|参考答案|答案)\s*[】\]]?\s*[:：]?\s*"
    rf"(?P<letters>[{_L}](?:[\s,，、;；和及]*[{_L}])*)(?![A-Za-z])\s*(?P<rest>.*)$"
)
KEY_BLOCK = re.compile(r"^[【\[]?\s*(?:参考答案|答案|标准答案)(?:及解析|与解析|和解析)?\s*[】\]]?\s*[:：]?\s*$")
KEY_ENTRY = re.compile(rf"(?P<num>[{_D}]+)\s*[.．、:：\-]?\s*(?P<letters>[{_L}](?:[、,，]?[{_L}])*)(?![A-Za-z])")
EXPLANATION = re.compile(r"^(?:[【\[]\s*(?:答案解析|解析|详解|点拨)\s*[】\]]|(?:答案解析|解析)\s*[:：])\s*[:：]?\s*(?P<text>.*)$")
INLINE_EXPLANATION = re.compile(r"[【\[]\s*(?:答案解析|解析|详解)\s*[】\]]\s*[:：]?\s*(?P<text>.*)$")
META = re.compile(r"^【\s*(?P<key>知识点|考点|难度|编号|标签|来源)\s*】\s*[:：]?\s*(?P<value>.*)$")
TYPE_MARK = re.compile(r"[（(【\[]\s*(?P<kind>多选题?|多项选择题?|不定项(?:选择题?)?|单选题?|单项选择题?)\s*[）)】\]]")
#: Page furniture a web page or Word template puts between or after questions:
#: such a line ends the question before it. A web address alone does not: a
#: 解析 may cite its source ("详见 http://www.gov.cn/……"), and the lines after it
#: are still the 解析.
BOILERPLATE = re.compile(
    r"^(?:本文链接|原文链接|原文地址|文章来源|本文来源|转载|本站|以上是|更多(?:资讯|内容|信息|试题|真题)"
    r"|[（(]\s*编辑|上一篇|下一篇|责任编辑|版权所有|扫码|关注(?:微信|公众号))"
)
URL = re.compile(r"https?://|www\.")

_META_FIELDS = {"知识点": "topic", "考点": "topic", "难度": "difficulty", "编号": "id", "标签": "tags", "来源": "source"}


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


@dataclass
class _Block:
    """A question being read."""

    line: int
    number: int | None
    section_type: str | None
    stem: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    answer: str | None = None
    answer_line: int | None = None
    explanation: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    state: str = "stem"  # stem | options | answer | explanation
    last: int = 0  # the last line read into this question
    errors: list[Problem] = field(default_factory=list)  # why it cannot be trusted


@dataclass
class _Reader:
    path: str
    unit: str  # how a place is named in messages: "行" or "段"
    lines: list[tuple[str, int]] = field(default_factory=list)  # stripped text, place
    result: ReadResult = field(default_factory=ReadResult)
    blocks: list[_Block] = field(default_factory=list)
    block: _Block | None = None
    section_type: str | None = None
    unsupported_section: tuple[str, int] | None = None
    key: list[tuple[int, str, int]] = field(default_factory=list)  # (number, letters, line)
    key_explanations: dict[int, list[str]] = field(default_factory=dict)
    in_key: bool = False
    loose: list[tuple[int, str]] = field(default_factory=list)  # text read into no question: ReadResult.stray
    next_signal: list[tuple[str | None, int]] = field(default_factory=list)  # see index_signals

    def where(self, line: int) -> str | None:
        return None if self.unit == "行" else f"第 {line} {self.unit}"

    def problem(self, code: str, message: str, line: int) -> None:
        self.result.problems.append(Problem("error", code, message, self.path, line, self.where(line)))

    def block_error(self, block: _Block, code: str, message: str, line: int) -> None:
        """A problem that makes ``block`` untrustworthy: it is kept (ids stay tied to position) but skipped."""
        block.errors.append(Problem("error", code, message, self.path, line, self.where(line)))

    # -- line dispatch -----------------------------------------------------

    def feed(self, index: int) -> None:
        text, line = self.lines[index]
        if not text:
            return
        if BOILERPLATE.search(text) or (URL.search(text) and not self.in_explanation()):
            self.finish()
            self.in_key = False
            self.loose.append((line, text))
            return
        if self.in_key and self.read_key_line(text, line):
            return
        section = SECTION.match(text)
        if section and not QUESTION_STARTS[2].match(text) and self.section(section.group("title"), line):
            return
        if KEY_BLOCK.match(text) and self.blocks_or_block():
            self.finish()
            self.in_key = True
            return
        numbered = _numbered(text)
        if numbered is not None and self.opens_question(index, *numbered):
            number, rest, _ = numbered
            self.start(number, rest, line)
            return
        block = self.block
        if block is None:
            if _opens_options(text):
                # Options with no question number before them: a question the
                # source forgot to number, after a finished one. Not guessed.
                self.problem("options-without-number", f"第 {line} {self.unit}的选项前面没有题号（或题号那一行含网址等页面文字而被略过），这道题没有读入；请给它加上题号", line)
            self.loose.append((line, text))
            return  # prose between questions
        previous_last, block.last = block.last, line
        if self.option_line(text):
            return
        answer = ANSWER.match(text)
        if answer:
            letters = normalize_answer(_nfkc(answer.group("letters")))
            if block.answer is not None and block.answer != letters:
                # Two different keys in one question: a second question ran
                # into this one, or the source contradicts itself. Either way
                # neither key can be trusted.
                self.block_error(
                    block, "conflicting-answers",
                    f"{self.label(block)}有两个不同的答案：第 {block.answer_line} {self.unit}是 {block.answer}，"
                    f"第 {line} {self.unit}是 {letters}", line,
                )
            block.answer = letters
            block.answer_line = line
            block.state = "answer"
            rest = INLINE_EXPLANATION.search(answer.group("rest"))
            if rest:
                block.explanation.append(rest.group("text"))
                block.state = "explanation"
            return
        explanation = EXPLANATION.match(text)
        if explanation:
            block.explanation.append(explanation.group("text"))
            block.state = "explanation"
            return
        meta = META.match(text)
        if meta:
            block.meta[_META_FIELDS[meta.group("key")]] = meta.group("value").strip()
            return
        if block.state == "stem":
            block.stem.append(text)
        elif block.state == "options":
            block.options[-1] = _join(block.options[-1], text)
        elif block.state == "explanation":
            block.explanation.append(text)
        else:
            block.last = previous_last  # this line is not part of the question
            self.finish()  # prose after an answer line ends the question
            self.loose.append((line, text))

    def in_explanation(self) -> bool:
        return self.block is not None and self.block.state == "explanation"

    def opens_question(self, index: int, number: int | None, rest: str, digit_start: bool) -> bool:
        """Whether a numbered line begins a question or is text of the current one.

        A question has options, so a plainly numbered line ("3．以下……") followed
        by options always begins one; so does one between questions or before
        a question's options, as numbered prose ("3.完善激励机制") always has.
        Inside a 解析 it is an enumeration ("1.…" "（2）…") unless options or an
        answer follow it (a question whose options are a picture).

        "2．2023年……" begins a question only when options follow and its number
        is the next one: "1.5万名……" in a 解析 or "3.2万人……" in a stem followed
        by options is text, because the question after it has the number that
        comes next. With no question before it (first in the file or after a
        section heading) options following it are enough.
        """
        block = self.block
        follows = self.what_follows(index, rest)
        if digit_start:
            if follows != "options":
                return False
            if block is None or block.number is None:
                return True
            if number != block.number + 1:
                return False
            if not block.options and block.answer is None:
                # "1．……" without options, then "2．2023年……" with options: most
                # likely a numbered heading and then a question, but it could be
                # a stem line starting "2.3万"; say which reading was taken.
                text, line = self.lines[index]
                self.result.problems.append(Problem(
                    "warning", "digit-start-read-as-question",
                    f"“{text[:24]}”按第 {number} 题读入；它前面第 {block.line} {self.unit}的“{block.number}．”没有选项，"
                    f"未当作题目。如果这一行其实是上一题题干的一部分，请把它与上一行合并",
                    self.path, line, self.where(line),
                ))
            return True
        if block is not None and block.state == "explanation":
            return self.next_question_in_explanation(index, number, follows)
        return True

    def next_question_in_explanation(self, index: int, number: int | None, follows: str | None) -> bool:
        """Whether a numbered line inside a 解析 is the next question rather than a point of the 解析.

        A 解析 enumerates its points ("1．坚持……" "（2）……" "①……"), sometimes
        with a line that looks like an option after one ("A．说法错误"). Such a
        line begins a question only when options or an answer follow it and
        its number is the next question's; a number further on (an excerpt
        that skips questions) needs the whole shape of a question after it,
        options and then an answer. A number at or below the current
        question's is always a point of the 解析.
        """
        if follows not in ("options", "answer"):
            return False
        block = self.block
        if number is None or block is None or block.number is None:
            return True
        if number == block.number + 1:
            return True
        if number <= block.number or follows != "options":
            return False
        kind, at = self.next_signal[index]
        while kind == "options" and at < len(self.lines):
            kind, at = self.next_signal[at]
        return kind == "answer"

    def what_follows(self, index: int, rest: str) -> str | None:
        """"options" or "answer" when that comes next after the numbered line at ``index``.

        Stem text and digit-start lines ("1.5万人……") are looked past; the next
        plainly numbered line, a 解析, meta or key line ends the search.
        """
        if _split_inline_options(rest)[1]:
            return "options"
        kind, at = self.next_signal[index]
        return kind if at - index <= LOOKAHEAD_LINES else None

    def index_signals(self) -> None:
        """For every line, the next line that decides ``what_follows`` (one pass from the end)."""
        following: tuple[str | None, int] = (None, len(self.lines) + LOOKAHEAD_LINES + 1)
        signals: list[tuple[str | None, int]] = [following] * len(self.lines)
        for index in range(len(self.lines) - 1, -1, -1):
            signals[index] = following
            signal = _signal(self.lines[index][0])
            if signal != "pass":
                following = (signal, index)
        self.next_signal = signals

    def label(self, block: _Block) -> str:
        if block.number is None:
            return f"第 {block.line} {self.unit}的题"
        return f"第 {block.number} 题"

    def blocks_or_block(self) -> bool:
        return bool(self.blocks or self.block)

    def section(self, title: str, line: int) -> bool:
        kind = None
        if _SECTION_MULTIPLE.search(title):
            kind = "multiple"
        elif _SECTION_SINGLE.search(title):
            kind = "single"
        elif _SECTION_OTHER.search(title):
            kind = "other"
        if kind is None:
            return False
        self.finish()
        self.in_key = False
        self.section_type = None if kind == "other" else kind
        self.unsupported_section = (title.strip(), line) if kind == "other" else None
        return True

    def start(self, number: int | None, rest: str, line: int) -> None:
        self.finish()
        self.in_key = False
        self.block = _Block(line=line, number=number, section_type=self.section_type, last=line)
        if rest:
            first, inline = _split_inline_options(rest)
            if first:
                self.block.stem.append(first)
            if inline:
                self.block.options.extend(inline)
                self.block.state = "options"

    def option_line(self, text: str) -> bool:
        block = self.block
        assert block is not None
        if block.state not in ("stem", "options") or not OPTION_START.match(text):
            return False
        leading, options = _split_inline_options(text, expected=len(block.options))
        if leading or not options:
            return False
        block.options.extend(options)
        block.state = "options"
        return True

    def read_key_line(self, text: str, line: int) -> bool:
        explanation = EXPLANATION.match(text)
        if explanation and self.key:
            self.key_explanations.setdefault(len(self.key) - 1, []).append(explanation.group("text"))
            return True
        entries = list(KEY_ENTRY.finditer(text))
        if not entries or entries[0].start() != 0:
            if self.key and (len(self.key) - 1) in self.key_explanations:
                self.key_explanations[len(self.key) - 1].append(text)
                return True
            return False
        for entry in entries:
            number = _number(entry.group("num"))
            if number is None:
                digits = entry.group("num")
                self.problem("key-without-question", f"参考答案里的题号 {digits[:8]}…有 {len(digits)} 位，不是题号，已忽略", line)
                continue
            self.key.append((number, normalize_answer(_nfkc(entry.group("letters"))), line))
        tail = INLINE_EXPLANATION.search(text)
        if tail:
            self.key_explanations.setdefault(len(self.key) - 1, []).append(tail.group("text"))
        return True

    def finish(self) -> None:
        block, self.block = self.block, None
        if block is None:
            return
        if not block.options:
            if block.answer is not None:
                self.problem("no-options", f"{self.label(block)}有答案行但没有找到选项（A．…）", block.line)
            self.loose.extend((place, text) for text, place in self.lines if block.line <= place <= block.last and text)
            return  # numbered prose, not a question
        if self.unsupported_section is not None:
            title, heading_line = self.unsupported_section
            self.problem("unsupported-section", f"“{title}”（第 {heading_line} {self.unit}）不是选择题，{self.label(block)}已跳过", block.line)
            return
        self.blocks.append(block)

    # -- output --------------------------------------------------------------

    def records(self, source: str) -> None:
        self.finish()
        self.apply_key()
        for block in self.blocks:
            # A question without an answer still becomes a record (answer ""),
            # so the importer reports it and ids stay tied to source position.
            stem = "\n".join(block.stem)
            kind = None
            mark = TYPE_MARK.search(stem)
            if mark:
                kind = "multiple" if re.search("多|不定项", mark.group("kind")) else "single"
                stem = (stem[: mark.start()] + stem[mark.end() :]).strip()
            kind = kind or block.section_type
            fields = {
                "id": block.meta.get("id"),
                "type": kind,
                "stem": stem,
                "options": block.options,
                "answer": block.answer or "",
                "explanation": "\n".join(part for part in block.explanation if part),
                "topic": block.meta.get("topic"),
                "difficulty": _difficulty(block.meta.get("difficulty")),
                "tags": [t for t in re.split(r"[、,，;；\s]+", block.meta.get("tags", "")) if t],
                "source": block.meta.get("source") or source,
            }
            self.result.records.append(RawRecord(fields, block.line, self.where(block.line), list(block.errors)))
        self.account()
        # Questions by the text's own boundaries: numbered lines that options
        # follow, plus a numbered answer without options and options without a
        # number (each a question the source has, readable or not).
        self.result.found = len(question_groups(self.lines)) + sum(
            1 for p in self.result.problems if p.code in ("no-options", "options-without-number")
        )
        self.result.stray = self.stray()

    def stray(self) -> list[tuple[int, str]]:
        """Runs of lines read into no question, one entry per run (its first line and an excerpt).

        Those between the first and the last question, and anywhere those that
        look like an option or a key; after the last question also a numbered
        line (a question whose options were lost must not vanish unsaid). A
        title and introduction before the first question, and other text after
        the last (a key block is read, not loose), are the document's own.
        """
        if not self.blocks:
            return []
        first, last = self.blocks[0].line, self.blocks[-1].line
        out: list[tuple[int, str]] = []
        previous: int | None = None
        position = {place: index for index, (_, place) in enumerate(self.lines)}
        for line, text in sorted(set(self.loose)):
            if first < line < last or _opens_options(text) or ANSWER.match(text) or (line > last and _numbered(text)):
                follows_previous = previous is not None and position[line] == position[previous] + 1
                if not (out and follows_previous):
                    out.append((line, text[:40]))
                previous = line
        return out

    def account(self) -> None:
        """Every question-like group of lines must have become a record or a problem.

        ``question_groups`` looks at the lines without the reader's state, so a
        question the reader merged into the one before it (or dropped) shows
        up here. The lost question is reported at its line and the record that
        swallowed it is not imported: its stem, options and key may belong to
        either question.
        """
        available: dict[int, int] = {}
        for record in self.result.records:
            available[record.line] = available.get(record.line, 0) + 1
        for problem in self.result.problems:
            if problem.is_error and problem.line is not None:
                available[problem.line] = available.get(problem.line, 0) + 1
        spans = [(block.line, block.last, record) for block, record in zip(self.blocks, self.result.records)]
        for places in question_groups(self.lines):
            hit = next((place for place in places if available.get(place, 0) > 0), None)
            if hit is not None:
                available[hit] -= 1
                continue
            line = places[-1]
            host = next((record for first, last, record in spans if first <= line <= last), None)
            unit = self.unit
            if host is None:
                self.problem("lost-question", f"第 {line} {unit}像是一道题（题号后有选项），但没有读成题目，已跳过；请检查这一行的题号和格式", line)
                continue
            self.problem(
                "merged-question",
                f"第 {line} {unit}像是一道题（题号后有选项），却被读进了第 {host.line} {unit}开始的题里",
                line,
            )
            host.errors.append(Problem(
                "error", "merged-question",
                f"这道题里混进了第 {line} {unit}的另一道题，题干、选项和答案无法确定归属，已跳过",
                self.path, host.line, self.where(host.line),
            ))

    def apply_key(self) -> None:
        # The k-th key entry numbered n answers the k-th question numbered n,
        # so papers whose sections restart numbering still map one to one.
        by_number: dict[int, list[_Block]] = {}
        for block in self.blocks:
            if block.number is not None:
                by_number.setdefault(block.number, []).append(block)
        used: dict[int, int] = {}
        for index, (number, letters, line) in enumerate(self.key):
            candidates = by_number.get(number, [])
            k = used.get(number, 0)
            used[number] = k + 1
            if k >= len(candidates):
                self.problem("key-without-question", f"参考答案里的第 {number} 题找不到对应的题目", line)
                continue
            block = candidates[k]
            if block.answer and block.answer != letters:
                self.block_error(
                    block, "conflicting-answers", f"第 {number} 题题后答案是 {block.answer}，参考答案却是 {letters}", line
                )
                block.answer = ""  # neither can be trusted: imported as unanswered, so skipped
                continue
            block.answer = block.answer or letters
            if index in self.key_explanations and not block.explanation:
                block.explanation = self.key_explanations[index]


#: How far ahead a numbered line looks for its options: a 材料题 stem can run to many lines.
LOOKAHEAD_LINES = 80


def _numbered(text: str) -> tuple[int | None, str, bool] | None:
    """``(number, rest, digit_start)`` when ``text`` starts with a question number.

    ``digit_start`` is true for "2．2023年……" (the number's separator is
    followed by digits), which may as well be stem or 解析 text ("3.5%……").
    """
    for pattern in QUESTION_STARTS:
        start = pattern.match(text)
        if start:
            return _number(start.group("num")), start.group("rest"), False
    start = DIGIT_START.match(text)
    if start:
        return _number(start.group("num")), start.group("rest"), True
    return None


def _signal(text: str) -> str | None:
    """What a line tells a numbered line above it: "options", "answer", None (stop) or "pass"."""
    if not text:
        return "pass"
    if _opens_options(text):
        return "options"
    if ANSWER.match(text):
        return "answer"
    numbered = _numbered(text)
    if numbered is not None:
        return "pass" if numbered[2] else None  # a digit start may still be stem text
    if BOILERPLATE.search(text) or URL.search(text) or KEY_BLOCK.match(text) or EXPLANATION.match(text) or META.match(text):
        return None
    if SECTION.match(text):
        return None
    return "pass"


@functools.lru_cache(maxsize=1024)
def _opens_options(text: str) -> bool:
    """Whether ``text`` is an option line starting with A (looked at again by each look-ahead)."""
    if not OPTION_START.match(text):
        return False
    leading, options = _split_inline_options(text)
    return not leading and bool(options)


def question_groups(lines: list[tuple[str, int]]) -> list[list[int]]:
    """The places of each run of numbered lines that options follow.

    This is what a question looks like in any exam file: one or more numbered
    lines (a number, or a stem line that happens to start like one, "2.5万……"),
    then an "A．" option. It does not depend on how the reader tells stem
    text from question numbers, so each group must end up as one record or
    one problem; ``_Reader.account`` checks that.

    Inside a 解析 a numbered line whose number is not past the last question's
    ("1．A 项错误" after question 3) is a point of the 解析, whatever follows it.
    """
    groups: list[list[int]] = []
    pending: list[tuple[int, int | None]] = []
    last_number: int | None = None  # of the last group, until a section heading or key restarts numbering
    explaining = False
    for text, place in lines:
        if not text:
            continue
        if BOILERPLATE.search(text) or URL.search(text):
            pending = []  # page furniture is never a question, whatever it starts with
            continue
        if (SECTION.match(text) and not QUESTION_STARTS[2].match(text)) or KEY_BLOCK.match(text):
            pending, last_number, explaining = [], None, False
            continue
        if EXPLANATION.match(text):
            pending, explaining = [], True
            continue
        numbered = _numbered(text)
        if numbered is not None:
            number = numbered[0]
            if explaining and not pending and number is not None and last_number is not None and number <= last_number:
                continue  # a point of the 解析
            pending.append((place, number))
            if _split_inline_options(numbered[1])[1]:
                last_number, explaining = _group_number(pending, last_number), False
                groups.append([at for at, _ in pending])
                pending = []
            continue
        if not pending:
            continue
        if _opens_options(text):
            last_number, explaining = _group_number(pending, last_number), False
            groups.append([at for at, _ in pending])
            pending = []
            continue
        if ANSWER.match(text):
            pending = []  # numbered prose or an answer without options
    return groups


def _group_number(pending: list[tuple[int, int | None]], last_number: int | None) -> int | None:
    """The question number of a run of numbered lines that options follow.

    The next number after the last question's when the run holds it (a 解析
    line "3.5%……" of question 1 can stand before "2．……"), else the first.
    """
    if last_number is not None:
        for _, number in pending:
            if number == last_number + 1:
                return number
    return pending[0][1]


def _join(left: str, right: str) -> str:
    if left and right and left[-1].isascii() and left[-1].isalnum() and right[0].isascii() and right[0].isalnum():
        return f"{left} {right}"
    return left + right


#: Question numbers longer than this are not numbers anyone counts with (and
#: int() refuses more than 4300 digits): such a question keeps no number.
MAX_NUMBER_DIGITS = 9


def _number(digits: str) -> int | None:
    digits = _nfkc(digits)
    return int(digits) if len(digits) <= MAX_NUMBER_DIGITS else None


def _split_inline_options(text: str, expected: int = 0) -> tuple[str, list[str]]:
    """Split "甲 A.x B.y" into ("甲", ["x", "y"]) when the letters run in order.

    ``expected`` is how many options the question already has: the first
    marker must be the next letter. Markers out of sequence are plain text.
    """
    markers = []
    want = expected
    for match in INLINE_MARKER.finditer(text):
        letter = _nfkc(re.sub(r"[^A-HＡ-Ｈ]", "", match.group(0)))
        if want < len(LETTERS) and letter == LETTERS[want]:
            markers.append(match)
            want += 1
    if not markers:
        return text.strip(), []
    leading = text[: markers[0].start()].strip()
    options = []
    for index, match in enumerate(markers):
        end = markers[index + 1].start() if index + 1 < len(markers) else len(text)
        options.append(text[match.end() : end].strip(" \t\u3000"))
    return leading, options


def _difficulty(value: str | None) -> int | None:
    if not value:
        return None
    value = _nfkc(value).strip()
    words = {"易": 1, "容易": 1, "较易": 2, "中": 3, "中等": 3, "较难": 4, "难": 5}
    if value in words:
        return words[value]
    # Anything else goes to the validator as text, which reports it with the line.
    # (isdigit() would pass "𐩀" and other digits int() refuses.)
    return int(value) if value.isdecimal() and len(value) <= 3 else value  # type: ignore[return-value]


def read_lines(lines: Iterable[tuple[str, int]], path: str, unit: str = "行") -> ReadResult:
    """Read questions from ``(text, place)`` pairs.

    ``place`` is the line number (text files) or paragraph number (DOCX,
    with ``unit="段"``), used in records and problems.
    """
    reader = _Reader(path=path, unit=unit)
    reader.lines = [(text.strip(" \t\u3000\u00a0\ufeff"), place) for text, place in lines]
    reader.index_signals()
    for index in range(len(reader.lines)):
        reader.feed(index)
    reader.records(Path(path).name)
    return reader.result


def read(data: bytes, path: str) -> ReadResult:
    """Read a UTF-8 text file (see module docstring for the forms accepted)."""
    from papergen.core.inputs import decode_text

    text = decode_text(data, path)
    return read_lines(((line, number) for number, line in enumerate(text.splitlines(), start=1)), path)


def write(bank: Bank) -> bytes:
    """The bank as exam-prep text, single-choice section first.

    Meta lines (【知识点】【难度】【编号】【标签】【来源】) keep every field
    except pinned options, so the text reads back into the same questions.
    """
    out: list[str] = [bank.title, ""]
    sections = (("single", "一、单项选择题"), ("multiple", "二、多项选择题"))
    number = 0
    for kind, heading in sections:
        questions = [q for q in bank.questions if q.type == kind]
        if not questions:
            continue
        out += [heading, ""]
        for question in questions:
            number += 1
            out.append(f"{number}．{question.stem}")
            out += [f"{LETTERS[i]}．{option.text}" for i, option in enumerate(question.options)]
            out.append(f"【答案】{question.answer}")
            if question.explanation:
                # The reader drops one colon after 【解析】 (people write both
                # forms), so writing one keeps an explanation that starts with "：".
                out.append(f"【解析】：{question.explanation}")
            out.append(f"【知识点】{question.topic}")
            out.append(f"【难度】{question.difficulty}")
            out.append(f"【编号】{question.id}")
            if question.tags:
                out.append(f"【标签】{'、'.join(question.tags)}")
            if question.source:
                out.append(f"【来源】{question.source}")
            out.append("")
    return "\n".join(out).encode("utf-8")
