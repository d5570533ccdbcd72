"""Bank validation: build ``Bank`` objects from parsed YAML and list every problem.

``bank_from_document`` checks one file; ``check_banks`` checks several banks
against each other (ids shared across banks, duplicate questions). Both only
*report* ``Problem`` objects, each with its file and line; deciding what to
do about them (print, exit non-zero, refuse to build) is the caller's job.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from papergen.bank.model import (
    DIFFICULTIES,
    LETTERS,
    MAX_OPTIONS,
    MIN_OPTIONS,
    QUESTION_TYPES,
    Bank,
    Option,
    Problem,
    Question,
)
from papergen.bank.similarity import find_similar, normalize
from papergen.core.located_yaml import YList, YMap

ID_PATTERN = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{1,64}$")
BANK_KEYS = ("bank", "title", "questions")
REQUIRED_KEYS = ("id", "type", "stem", "options", "answer", "topic", "difficulty")
OPTIONAL_KEYS = ("explanation", "tags", "source")
QUESTION_KEYS = REQUIRED_KEYS + OPTIONAL_KEYS
TYPE_ALIASES = {"单选": "single", "单选题": "single", "多选": "multiple", "多选题": "multiple"}
#: Two questions whose stem-plus-options trigram sets overlap this much are
#: reported as near-duplicates.
NEAR_DUPLICATE_JACCARD = 0.8


class _Collector:
    """Accumulates problems for one file."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def error(self, code: str, message: str, line: int | None) -> None:
        self.problems.append(Problem("error", code, message, self.path, line))

    def warning(self, code: str, message: str, line: int | None) -> None:
        self.problems.append(Problem("warning", code, message, self.path, line))


def bank_from_document(doc: Any, path: str | None) -> tuple[Bank | None, list[Problem]]:
    """Check a parsed bank document and build the ``Bank``.

    Parameters
    ----------
    doc
        What ``located_yaml.parse`` returned for the file.
    path
        The file name, used in every problem.

    Returns
    -------
    bank, problems
        ``bank`` holds the questions that passed their checks (``None`` when
        the document is not a bank at all); ``problems`` lists every finding.
    """
    out = _Collector(path)
    if not isinstance(doc, YMap):
        out.error("not-a-bank", "文件顶层应为映射（bank:、title:、questions:），这不是题库文件", getattr(doc, "line", 1))
        return None, out.problems
    for key, line in doc.duplicates:
        out.error("duplicate-key", f"顶层字段 {key} 重复出现", line)
    for key in doc:
        if key not in BANK_KEYS:
            out.warning("unknown-field", f"未知的顶层字段 {key}{_did_you_mean(key, BANK_KEYS)}", doc.line_of(key))
    bank_id = doc.get("bank")
    if "bank" not in doc:
        out.error("missing-field", "缺少题库编号字段 bank", doc.line)
        bank_id = ""
    elif not isinstance(bank_id, str) or not ID_PATTERN.match(bank_id):
        out.error("bad-bank-id", f"题库编号 bank 应为不含空格的文本（字母、数字、汉字、- _ .），现在是 {bank_id!r}", doc.line_of("bank"))
        bank_id = str(bank_id)
    title = doc.get("title", "")
    if not isinstance(title, str) or not title.strip():
        out.error("missing-field" if "title" not in doc else "bad-title", "缺少题库标题 title（或标题为空）", doc.line_of("title"))
        title = str(title or "")
    raw_questions = doc.get("questions")
    if not isinstance(raw_questions, YList):
        out.error("missing-field" if "questions" not in doc else "bad-questions", "questions 应为题目列表", doc.line_of("questions"))
        return Bank(bank_id, title, [], path), out.problems

    items = [(raw, raw_questions.line_of(index)) for index, raw in enumerate(raw_questions)]
    questions = _questions_from_items(items, out)
    if not raw_questions:
        out.warning("empty-bank", "题库里没有题目", raw_questions.line)
    return Bank(bank_id, title, questions, path), out.problems


def questions_from_mappings(items: Sequence[tuple[Any, int]], path: str | None) -> tuple[list[Question], list[Problem]]:
    """Check question mappings (``YMap``) that did not come from a bank file.

    The importer uses this so imported questions meet exactly the bank rules.
    ``items`` pairs each mapping with the line it came from.
    """
    out = _Collector(path)
    return _questions_from_items(items, out), out.problems


def _questions_from_items(items: Sequence[tuple[Any, int]], out: _Collector) -> list[Question]:
    questions: list[Question] = []
    first_line_of_id: dict[str, int] = {}
    for raw, line in items:
        question = _question_from_mapping(raw, line, out)
        qid = raw.get("id") if isinstance(raw, YMap) else None
        if isinstance(qid, str):
            if qid in first_line_of_id:
                out.error(
                    "duplicate-id",
                    f"题目编号 {qid} 重复（第一次出现在第 {first_line_of_id[qid]} 行）",
                    raw.line_of("id"),
                )
                continue
            first_line_of_id[qid] = raw.line_of("id")
        if question is not None:
            questions.append(question)
    return questions


def _did_you_mean(key: Any, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(key), list(choices), n=1)
    return f"（是不是 {close[0]}？）" if close else ""


def _question_from_mapping(raw: Any, line: int, out: _Collector) -> Question | None:
    """Check one question mapping; return it when it has no errors."""
    if not isinstance(raw, YMap):
        out.error("bad-question", "题目应为映射（id:、type:、stem: ……）", line)
        return None
    # Only this question's own problems are looked at below: counting every
    # problem so far for each question made large imports quadratic.
    problems_before = len(out.problems)
    qid = raw.get("id")
    label = f"题目 {qid}：" if isinstance(qid, str) else ""

    def err(code: str, message: str, key: str | None = None) -> None:
        out.error(code, label + message, raw.line_of(key) if key else raw.line)

    def warn(code: str, message: str, key: str | None = None) -> None:
        out.warning(code, label + message, raw.line_of(key) if key else raw.line)

    for key, key_line in raw.duplicates:
        out.error("duplicate-key", f"{label}字段 {key} 在同一题里重复出现", key_line)
    for key in raw:
        if key not in QUESTION_KEYS:
            warn("unknown-field", f"未知字段 {key}{_did_you_mean(key, QUESTION_KEYS)}", key)
    for key in REQUIRED_KEYS:
        if key not in raw:
            err("missing-field", f"缺少必填字段 {key}")

    if "id" in raw and (not isinstance(qid, str) or not ID_PATTERN.match(qid)):
        err("bad-id", f"题目编号应为不含空格的文本（字母、数字、汉字、- _ .，最长 64），现在是 {qid!r}", "id")

    qtype = raw.get("type")
    if "type" in raw and qtype not in QUESTION_TYPES:
        # isinstance first: a list or mapping here cannot be looked up in a dict.
        suggestion = f"（应写作 {TYPE_ALIASES[qtype]}）" if isinstance(qtype, str) and qtype in TYPE_ALIASES else ""
        err("bad-type", f"题型 type 只能是 single 或 multiple，现在是 {qtype!r}{suggestion}", "type")

    stem = raw.get("stem")
    if "stem" in raw and (not isinstance(stem, str) or not stem.strip()):
        err("empty-stem", "题干 stem 为空或不是文本", "stem")

    options = _options(raw, err, out)

    answer = raw.get("answer")
    letters = ""
    if "answer" in raw:
        if answer is None or answer == "":
            err("missing-answer", "没有答案（未找到答案行，参考答案里也没有这一题）", "answer")
        elif not isinstance(answer, str) or not answer.strip():
            err("bad-answer", f"答案 answer 应为选项字母，如 A 或 ACD，现在是 {answer!r}", "answer")
        else:
            letters = answer.strip()
            if not re.fullmatch(r"[A-H]+", letters):
                err("bad-answer", f"答案 {letters!r} 只能由大写字母 A–H 组成，不加分隔符（如 ACD）", "answer")
                letters = ""
            elif len(set(letters)) != len(letters):
                err("bad-answer", f"答案 {letters} 中有重复字母", "answer")
                letters = ""
            else:
                letters = "".join(sorted(letters))
    option_count = len(raw["options"]) if isinstance(raw.get("options"), list) else 0
    if letters and MIN_OPTIONS <= option_count <= MAX_OPTIONS:
        beyond = [letter for letter in letters if LETTERS.index(letter) >= option_count]
        if beyond:
            err(
                "answer-out-of-range",
                f"答案字母 {''.join(beyond)} 超出选项范围（共 {option_count} 个选项，A–{LETTERS[option_count - 1]}）",
                "answer",
            )
    if letters and qtype == "single" and len(letters) != 1:
        err("single-multiple-answers", f"单选题只能有一个答案，现在是 {letters}（若为多选题，请把 type 改为 multiple）", "answer")
    if letters and qtype == "multiple" and len(letters) < 2:
        err("multiple-too-few", f"多选题至少要有两个正确答案，现在是 {letters}（若只有一个答案，请把 type 改为 single）", "answer")

    explanation = raw.get("explanation", "")
    if not isinstance(explanation, str):
        err("bad-explanation", "解析 explanation 应为文本", "explanation")
        explanation = ""
    elif not explanation.strip():
        warn("no-explanation", "没有解析（explanation），答案卷上将缺少解析", "explanation" if "explanation" in raw else None)

    topic = raw.get("topic")
    if "topic" in raw:
        if not isinstance(topic, str) or not topic.strip():
            err("bad-topic", "知识点 topic 应为非空文本，如 管理体制与工作机制/管理体制", "topic")
        elif any(not part.strip() for part in topic.split("/")) or topic != topic.strip():
            err("bad-topic", f"知识点 {topic!r} 的层级有空段（多余的 / 或首尾空格）", "topic")

    difficulty = raw.get("difficulty")
    if "difficulty" in raw and (
        isinstance(difficulty, bool) or not isinstance(difficulty, int) or difficulty not in DIFFICULTIES
    ):
        err("bad-difficulty", f"难度 difficulty 应为 1–5 的整数，现在是 {difficulty!r}", "difficulty")

    tags = raw.get("tags", [])
    if tags is None:
        tags = []
    if not isinstance(tags, list) or not all(isinstance(tag, str) and tag.strip() for tag in tags):
        err("bad-tags", f"标签 tags 应为文本列表，如 [二十大报告]，现在是 {tags!r}", "tags")
        tags = []

    source = raw.get("source", "")
    if source is None:
        source = ""
    if not isinstance(source, str):
        err("bad-source", "来源 source 应为文本", "source")
        source = ""

    mine = out.problems[problems_before:]
    if any(p.is_error for p in mine) or options is None:
        # A skipped question's warnings (no explanation…) would only be noise.
        out.problems[problems_before:] = [p for p in mine if p.is_error]
        return None
    return Question(
        id=qid,
        type=qtype,
        stem=stem.strip(),
        options=options,
        answer=letters,
        explanation=explanation.strip(),
        topic=topic,
        difficulty=difficulty,
        tags=[tag.strip() for tag in tags],
        source=source.strip(),
        line=raw.line,
    )


def _options(raw: YMap, err, out: _Collector) -> list[Option] | None:
    if "options" not in raw:
        return None
    items = raw["options"]
    if not isinstance(items, YList):
        err("bad-options", "选项 options 应为列表", "options")
        return None
    if not MIN_OPTIONS <= len(items) <= MAX_OPTIONS:
        err("option-count", f"应有 {MIN_OPTIONS}–{MAX_OPTIONS} 个选项，现在有 {len(items)} 个", "options")
        return None
    options: list[Option] = []
    seen: dict[str, str] = {}
    ok = True
    for index, item in enumerate(items):
        letter = LETTERS[index]
        item_line = items.line_of(index)
        pin = False
        if isinstance(item, YMap):
            extra = [key for key in item if key not in ("text", "pin")]
            if extra:
                out.error("bad-option", f"选项 {letter} 只能有 text 和 pin 两个字段，多了 {', '.join(map(str, extra))}", item_line)
                ok = False
            pin = item.get("pin", False)
            if not isinstance(pin, bool):
                out.error("bad-option", f"选项 {letter} 的 pin 应为 true 或 false", item_line)
                ok = False
            text = item.get("text")
        else:
            text = item
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            text = str(text)  # "options: [1, 2, 3]" is a fair way to write numbers
        if not isinstance(text, str) or not text.strip():
            out.error("empty-option", f"选项 {letter} 为空", item_line)
            ok = False
            continue
        key = re.sub(r"\s+", "", text)
        if key in seen:
            out.error("duplicate-option", f"选项 {letter} 与选项 {seen[key]} 重复：{text.strip()}", item_line)
            ok = False
        seen.setdefault(key, letter)
        options.append(Option(text.strip(), pin))
    return options if ok else None


# ---------------------------------------------------------------------------
# Checks across banks


def check_banks(banks: Sequence[Bank]) -> list[Problem]:
    """Problems that only show when banks are read together.

    Duplicate bank ids and question ids across files are errors (an exam that
    draws from both could not tell the questions apart). Duplicate and
    near-duplicate questions, within a bank or across banks, are warnings.
    """
    problems: list[Problem] = []
    bank_ids: dict[str, Bank] = {}
    for bank in banks:
        if bank.id in bank_ids and bank_ids[bank.id].path != bank.path:
            problems.append(
                Problem("error", "duplicate-bank-id", f"题库编号 {bank.id} 与 {bank_ids[bank.id].path} 重复", bank.path, 1)
            )
        bank_ids.setdefault(bank.id, bank)
    owner: dict[str, tuple[Bank, Question]] = {}
    for bank in banks:
        for question in bank.questions:
            if question.id in owner and owner[question.id][0] is not bank:
                first_bank, first = owner[question.id]
                problems.append(
                    Problem(
                        "error",
                        "duplicate-id-across-banks",
                        f"题目编号 {question.id} 在 {first_bank.path}:{first.line} 也出现过；组卷时无法区分",
                        bank.path,
                        question.line,
                    )
                )
            owner.setdefault(question.id, (bank, question))
    located = [(bank, question) for bank in banks for question in bank.questions]
    problems += _duplicate_stems(located)
    texts = [_comparable_text(question) for _, question in located]
    for i, j, score in find_similar(texts, NEAR_DUPLICATE_JACCARD):
        (bank_a, first), (bank_b, second) = located[i], located[j]
        exact = texts[i] == texts[j]
        problems.append(
            Problem(
                "warning",
                "duplicate-question" if exact else "near-duplicate",
                (f"题目 {second.id} 与 {first.id}（{bank_a.path}:{first.line}）"
                 + ("题干和选项完全相同" if exact else f"高度相似（相似度 {score:.0%}）")),
                bank_b.path,
                second.line,
            )
        )
    return problems


#: Identical stems shorter than this (after normalization) are generic
#: ("下列说法正确的是") and are not reported on their own.
MIN_DUPLICATE_STEM_CHARS = 12


def _duplicate_stems(located: list[tuple[Bank, Question]]) -> list[Problem]:
    problems = []
    first_with: dict[str, tuple[Bank, Question]] = {}
    for bank, question in located:
        key = normalize(question.stem)
        if len(key) < MIN_DUPLICATE_STEM_CHARS:
            continue
        if key in first_with:
            first_bank, first = first_with[key]
            problems.append(
                Problem(
                    "warning",
                    "duplicate-stem",
                    f"题目 {question.id} 的题干与 {first.id}（{first_bank.path}:{first.line}）完全相同",
                    bank.path,
                    question.line,
                )
            )
        else:
            first_with[key] = (bank, question)
    return problems


def _comparable_text(question: Question) -> str:
    # Stems alone repeat legitimately ("下列说法正确的是："), so a duplicate
    # question is judged on its stem together with its options (in any order).
    parts = [question.stem] + sorted(option.text for option in question.options)
    return "\n".join(parts)
