"""GIFT (Moodle's plain-text quiz format): read and write choice questions.

Reading
    As Moodle's ``qformat_gift`` reads (question/format/gift/format.php):
    questions are separated by blank lines; ``// …`` lines are comments;
    ``$CATEGORY: path`` sets the topic of the questions after it (path rules
    as in ``moodle.category_topic``). ``::title::`` is the id when a papergen
    comment comes with the question, or when the title looks like an id
    (ASCII letters, digits, ``-_.``, at least one digit: ``Q12``,
    ``xjy-001``); otherwise it is a human title and ignored. Moodle's own
    ``// [id:…] [tag:…]`` comment syntax is read too. Escapes (a backslash before
    ``~ = # { } :``, ``\\\\`` and ``\\n``) are undone; ``[html]`` text is reduced to plain text
    like Moodle XML's; per-answer ``#feedback`` is dropped; the text after
    the last ``####`` is the explanation. Text after the answer block (a
    "missing word" question) joins the stem with ``（ ）`` where the block was.

    The answer block's type is Moodle's: empty → essay, ``#…`` → numerical,
    any ``~`` → multiple choice, ``=`` with ``->`` → matching, ``T``/``TRUE``/
    ``F``/``FALSE`` → true/false, anything else → short answer. For multiple
    choice Moodle splits at every ``~`` and ``=``; a blank answer is dropped,
    so ``{~=right ~wrong}`` is ``{=right ~wrong}``. ``=`` is full credit,
    ``~%n%`` a weight (after ``=`` Moodle reads no weight: ``=%50%x`` is the
    text "%50%x", and papergen warns).

    Mapping (decided for papergen, which has no partial credit):
    - a block with ``=`` is Moodle's radio-button question: papergen
      ``single`` whose key is the one full-credit answer; partially credited
      options become wrong options (warning); two or more full-credit answers
      are refused (papergen's single choice has one key);
    - a block without ``=`` is Moodle's checkbox question: papergen
      ``multiple`` whose key is every option with a positive weight; zero and
      negative weights are wrong options; with one positive option it is
      imported as ``single`` (warning); with none it is refused;
    - true/false is a two-option single choice 正确/错误 (one warning per
      file names them);
    - essay, numerical, short answer (including a missing-word block with
      only ``=`` answers) and matching are refused one by one as
      ``unsupported-question-type`` with a reason in GIFT's terms; other
      unreadable blocks are ``gift-syntax``/``gift-answer`` errors. Each
      refusal is one error at the question's line, so it is one skipped
      question.

    ``ReadResult.found`` counts the blank-line blocks with an answer part (an
    unescaped ``{`` or ``}``); a block without one is Moodle's "description",
    no question, and goes to ``ReadResult.stray``.

Writing
    A leading ``// papergen-bank: {"bank": …, "title": …}`` comment holds
    the bank; each topic run gets ``$CATEGORY: $course$/top/<bank id>/<topic>``;
    each question has a ``// papergen: {"difficulty", "source", "tags",
    "pin"}`` JSON comment directly above it (in the same blank-line-separated
    block, which is what the reader requires), then ``::id::stem{…}`` with
    one answer per line. Multiple choice is written with weights
    (``~%50%a ~%-100%b``) so it reads back as multiple even in Moodle.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from papergen.bank.formats import RawRecord, ReadResult
from papergen.bank.formats.moodle import category_topic, fraction_text, html_to_text
from papergen.bank.model import LETTERS, Bank, Problem, Question, normalize_answer
from papergen.core.inputs import decode_text

BANK_COMMENT = "// papergen-bank:"
META_COMMENT = "// papergen:"
MISSING_WORD = "（ ）"
_LOOKS_LIKE_ID = re.compile(r"^(?=.*\d)[A-Za-z0-9_.\-]{1,64}$")
_WEIGHT = re.compile(r"^\s*%(-?\d+\.?\d*)%")
_FORMAT = re.compile(r"^\s*\[(html|plain|moodle|markdown)\]")
_ESCAPE = re.compile(r"\\(.)", re.S)


def unescape(text: str) -> str:
    """Undo GIFT escapes: ``\\~ \\= \\# \\{ \\} \\: \\\\`` and ``\\n`` (others kept)."""
    return _ESCAPE.sub(lambda m: "\n" if m[1] == "n" else m[1] if m[1] in "~=#{}:\\" else m[0], text)


def escape(text: str) -> str:
    """Escape GIFT's special characters; newlines become ``\\n``.

    Text that starts like a format marker (``[html]…``) gets ``[plain]`` in
    front, so the marker-looking part stays text.
    """
    text = re.sub(r"([\\~=#{}:])", r"\\\1", text.replace("\r\n", "\n").replace("\r", "\n"))
    return ("[plain]" if _FORMAT.match(text) else "") + text.replace("\n", "\\n")


def _find(text: str, target: str, start: int = 0) -> int:
    """Index of the first unescaped ``target`` at or after ``start``, or -1."""
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text.startswith(target, i):
            return i
        else:
            i += 1
    return -1


def _split_unescaped(text: str, markers: str) -> list[tuple[str, str]]:
    """Split at unescaped marker characters: ``"a~b=c"`` → ``[("", "a"), ("~", "b"), ("=", "c")]``."""
    pieces, marker, begin, i = [], "", 0, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in markers:
            pieces.append((marker, text[begin:i]))
            marker, begin = text[i], i + 1
        i += 1
    pieces.append((marker, text[begin:]))
    return pieces


def _plain(raw: str, fmt: str) -> str:
    """Text of one GIFT piece: format marker honoured, escapes undone."""
    match = _FORMAT.match(raw)
    if match:
        fmt, raw = match[1], raw[match.end() :]
    text = unescape(raw)
    return html_to_text(text) if fmt == "html" else text.strip()


# ---------------------------------------------------------------------------
# Reading


@dataclass
class _Block:
    """One blank-line-separated chunk: its question lines and its comments."""

    lines: list[tuple[int, str]] = field(default_factory=list)
    meta: dict | None = None
    moodle_id: str | None = None
    moodle_tags: list[str] = field(default_factory=list)


def read(data: bytes, path: str) -> ReadResult:
    """Read a GIFT file; see the module docstring for what is understood."""
    text = decode_text(data, path)
    result = ReadResult(found=0)
    state: dict = {"topic": None, "root": None}
    block = _Block()
    # Not str.splitlines(): it also breaks at U+2028, \x0c … which are text here.
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text) + [""], start=1):
        stripped = line.strip()
        if not stripped:
            if block.lines:
                _question(block, state, path, result)
            block = _Block()
        elif stripped.startswith(BANK_COMMENT) and not result.records:
            head = _json(stripped[len(BANK_COMMENT) :], path, number, result)
            result.bank_id, result.title = head.get("bank"), head.get("title")
            state["root"] = [result.bank_id] if result.bank_id else None
        elif stripped.startswith(META_COMMENT):
            block.meta = _json(stripped[len(META_COMMENT) :], path, number, result)
        elif stripped.startswith("//"):
            for key, value in re.findall(r"\[(id|tag):([^\]]*)\]", stripped):
                if key == "id":
                    block.moodle_id = value.strip() or None
                elif value.strip():
                    block.moodle_tags.append(value.strip())
        elif stripped.startswith("$CATEGORY:") and not block.lines:
            state["topic"], course = category_topic(stripped[len("$CATEGORY:") :], state["root"])
            if course and result.title is None:
                result.title = course
        else:
            block.lines.append((number, line))
    if lines := state.get("true_false"):
        shown = "、".join(map(str, lines[:10])) + ("……" if len(lines) > 10 else "")
        message = f"{len(lines)} 道判断题（GIFT 的 {{T}}/{{F}}）按单选题导入，选项为 A 正确 / B 错误（第 {shown} 行）"
        result.problems.append(Problem("warning", "gift-true-false", message, path, lines[0]))
    return result


def _json(raw: str, path: str, line: int, result: ReadResult) -> dict:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested thousands deep
        value = None
    if not isinstance(value, dict):
        message = "papergen 注释不是有效的 JSON 对象，已忽略"
        result.problems.append(Problem("warning", "bad-papergen-comment", message, path, line))
        return {}
    return value


def _question(block: _Block, state: dict, path: str, result: ReadResult) -> None:
    line = block.lines[0][0]
    text = "\n".join(raw for _, raw in block.lines).strip()
    title = None
    if text.startswith("::") and (end := _find(text, "::", 2)) >= 0:
        title, text = unescape(text[2:end]).strip(), text[end + 2 :]
    open_at = _find(text, "{")
    if open_at < 0 and _find(text, "}") < 0:
        # Moodle's "description": text shown between questions, not a question.
        result.stray.append((line, _excerpt(block)))
        return
    result.found = (result.found or 0) + 1
    match = _FORMAT.match(text.lstrip())
    fmt = match[1] if match else "moodle"
    close_at = _find(text, "}", open_at + 1) if open_at >= 0 else -1

    def problem(code: str, message: str) -> None:
        label = f"题目“{title}”：" if title else ""
        result.problems.append(Problem("error", code, label + message, path, line))

    if open_at < 0 or close_at < 0:
        missing = "左花括号 {" if open_at < 0 else "右花括号 }"
        return problem("gift-syntax", f"答案块缺少{missing}（若题干里有花括号，请写成 \\{{ 和 \\}}）")
    if _find(text, "{", close_at + 1) >= 0:
        label = f"题目“{title}”：" if title else ""
        message = "答案块之后还有一个 {…}：Moodle 只读第一个答案块，后面的按题干文字原样保留，请拆成两道题"
        result.problems.append(Problem("warning", "gift-second-answer-block", label + message, path, line))
    stem = _plain(text[:open_at], fmt)
    after = _plain(text[close_at + 1 :], fmt)
    if after:
        stem = f"{stem}{MISSING_WORD}{after}"
    body = text[open_at + 1 : close_at]
    feedback_at = _rfind(body, "####")  # Moodle takes the last ####
    explanation = _plain(body[feedback_at + 4 :], fmt) if feedback_at >= 0 else ""
    body = body[:feedback_at] if feedback_at >= 0 else body
    notes: list[str] = []
    fields = _answers(body.strip(), fmt, notes)
    if isinstance(fields, str):
        return problem("unsupported-question-type" if fields.startswith(_NOT_CHOICE) else "gift-answer", fields)
    for note in notes:
        label = f"题目“{title}”：" if title else ""
        result.problems.append(Problem("warning", "gift-answer-weights", label + note, path, line))
    if fields.pop("true_false", False):
        state.setdefault("true_false", []).append(line)
    meta = block.meta or {}
    difficulty = meta.get("difficulty")
    fields.update(
        id=_question_id(block, title),
        stem=stem,
        explanation=explanation,
        topic=state["topic"],
        difficulty=difficulty if isinstance(difficulty, int) else None,
        tags=list(meta["tags"]) if isinstance(meta.get("tags"), list) else block.moodle_tags,
        source=meta.get("source"),
    )
    pinned = {LETTERS.index(letter) for letter in normalize_answer(str(meta.get("pin", "")))}
    fields["options"] = [{"text": t, "pin": True} if i in pinned else t for i, t in enumerate(fields["options"])]
    result.records.append(RawRecord(fields, line))


def _excerpt(block: _Block) -> str:
    text = " ".join(raw.strip() for _, raw in block.lines)
    return text if len(text) <= 40 else text[:40] + "…"


def _rfind(text: str, target: str) -> int:
    """Index of the last unescaped ``target``, or -1."""
    found, at = -1, _find(text, target)
    while at >= 0:
        found, at = at, _find(text, target, at + 1)
    return found


def _question_id(block: _Block, title: str | None) -> str | None:
    """papergen writes the id as the title; Moodle as ``[id:…]``; else guess."""
    if block.meta is not None:
        return title
    if block.moodle_id:
        return block.moodle_id
    return title if title and _LOOKS_LIKE_ID.match(title) else None


#: Every refusal of a question that is not a choice question starts so
#: (``unsupported-question-type``); other refusals are ``gift-answer``.
_NOT_CHOICE = "这是"
_ESSAY = "这是简答题/论述题（GIFT 的 {} 题，没有答案），无法作为选择题导入，已跳过"
_NUMERICAL = "这是数值题（GIFT 的 {#…} 题），无法作为选择题导入，已跳过"
_MATCHING = "这是匹配题（GIFT 的 {=… -> …} 题），无法作为选择题导入，已跳过"
_SHORT = "这是填空/简答题（答案块只有 = 答案、没有 ~ 错误选项），无法作为选择题导入，已跳过"


def _answers(body: str, fmt: str, notes: list[str]) -> dict | str:
    """Options and answer of a choice block, or why the block is not one.

    The question type is told as Moodle's ``qformat_gift::readquestion``
    tells it: empty → essay, ``#…`` → numerical, any ``~`` → multiple
    choice, ``=`` with ``->`` → matching, ``T``/``TRUE``/``F``/``FALSE`` →
    true/false, anything else → short answer. ``notes`` gets what the
    mapping to papergen changed (partial credit, a one-answer checkbox
    question), each said as a warning.
    """
    if not body:
        return _ESSAY
    if body.startswith("#"):
        return _NUMERICAL
    pieces = _split_unescaped(body, "~=")
    if not any(marker == "~" for marker, _ in pieces):
        if any(marker == "=" for marker, _ in pieces) and "->" in body:
            return _MATCHING
        cut = _find(body, "#")
        if (body[:cut] if cut > 0 else body).strip() in ("T", "TRUE", "F", "FALSE"):
            right = "A" if body.startswith("T") else "B"
            return {"type": "single", "options": ["正确", "错误"], "answer": right, "true_false": True}
        return _SHORT
    # Multiple choice. Moodle reads "=" anywhere as a radio-button question
    # (single) and splits at every "~" and "=": the text before the first
    # marker is an answer too, and a blank answer ("~=right", "~ ~b") is
    # dropped when Moodle saves the question.
    single = any(marker == "=" for marker, _ in pieces)
    answers: list[tuple[str, float]] = []
    for marker, raw in pieces:
        raw = raw.strip()
        weight = 100.0 if marker == "=" else 0.0
        if marker != "=" and (match := _WEIGHT.match(raw)):
            weight, raw = float(match[1]), raw[match.end() :]
        cut = _find(raw, "#")
        text = _plain(raw[:cut] if cut >= 0 else raw, fmt)
        if not text:
            if weight > 0:
                return f"第 {len(answers) + 1} 个答案是得分答案（= 或正分值），但没有文字"
            continue
        if marker == "=" and _WEIGHT.match(text):
            notes.append(f"正确答案“{text[:20]}”以 %分值% 开头：Moodle 在 = 后不读分值，这几个字符按选项文字保留")
        answers.append((text, weight))
    if len(answers) < 2:
        return "选择题至少要有两个选项（GIFT 答案块里的 = 和 ~ 答案），这道题只有 " + str(len(answers)) + " 个"
    if len(answers) > len(LETTERS):
        return f"有 {len(answers)} 个选项，papergen 的选择题最多 {len(LETTERS)} 个选项（A–{LETTERS[-1]}）"
    options = [text for text, _ in answers]
    letters = lambda keep: "".join(LETTERS[i] for i, (_, w) in enumerate(answers) if keep(w))  # noqa: E731
    if single:
        full, partial = letters(lambda w: w >= 100), letters(lambda w: 0 < w < 100)
        if len(full) != 1:
            return (f"答案块里有 =（Moodle 按单选题读），但满分答案有 {len(full)} 个（{'、'.join(full) or '无'}）；"
                    "papergen 的单选题只能有一个正确答案，"
                    "多选题请不写 =，而给每个正确选项写 ~%50% 这样的正分值、错误选项写 ~%-100%")
        if partial:
            notes.append(f"单选题中选项 {'、'.join(partial)} 有部分分值，papergen 没有部分得分，按错误选项导入（正确答案 {full}）")
        return {"type": "single", "options": options, "answer": full}
    key = letters(lambda w: w > 0)
    if not key:
        return "答案块里没有正确答案：没有 = 答案，~ 答案也都没有正分值（如 ~%50%）"
    if len(key) == 1:
        notes.append(f"多选（复选框）题只有一个得分选项 {key}，按单选题导入")
        return {"type": "single", "options": options, "answer": key}
    return {"type": "multiple", "options": options, "answer": key}


# ---------------------------------------------------------------------------
# Writing


def _write_question(question: Question) -> list[str]:
    meta = {"difficulty": question.difficulty, "source": question.source, "tags": list(question.tags)}
    pinned = "".join(LETTERS[i] for i, option in enumerate(question.options) if option.pin)
    if pinned:
        meta["pin"] = pinned
    lines = [META_COMMENT + " " + json.dumps(meta, ensure_ascii=False), f"::{escape(question.id)}::{escape(question.stem)}{{"]
    correct = set(question.answer)
    for letter, option in zip(LETTERS, question.options):
        text = escape(option.text)
        if question.type == "single":
            # A wrong option whose text starts like a weight ("%50%…") gets an
            # explicit %0% so the reader does not take its text for a weight.
            prefix = "=" if letter in correct else ("~%0%" if _WEIGHT.match(text) else "~")
        else:
            prefix = f"~%{fraction_text(max(len(correct), 1))}%" if letter in correct else "~%-100%"
        lines.append(f"\t{prefix}{text}")
    if question.explanation:
        lines.append(f"\t####{escape(question.explanation)}")
    return lines + ["}", ""]


def write(bank: Bank) -> bytes:
    """The bank as GIFT (UTF-8); see the module docstring for the layout."""
    head = json.dumps({"bank": bank.id, "title": bank.title}, ensure_ascii=False)
    lines = [f"{BANK_COMMENT} {head}", ""]
    topic = None
    for question in bank.questions:
        if question.topic != topic:
            topic = question.topic
            segments = [bank.id, *question.topic_path]
            lines += ["$CATEGORY: $course$/top/" + "/".join(s.replace("/", "//") for s in segments), ""]
        lines += _write_question(question)
    return "\n".join(lines).encode("utf-8")
