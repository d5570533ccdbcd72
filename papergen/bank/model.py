"""The question-bank data model: ``Bank``, ``Question``, ``Option``, ``Problem``.

These are plain data: no I/O, no parsing. Everything else (the YAML reader,
importers, exporters, and later exam building) exchanges these objects, so the
field names here are the bank format's contract (see README, "Bank format").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from papergen.core.errors import format_location

#: Option letters in order. A question has 2..8 options, A..H.
LETTERS = "ABCDEFGH"
MIN_OPTIONS = 2
MAX_OPTIONS = len(LETTERS)
QUESTION_TYPES = ("single", "multiple")
TYPE_LABELS_ZH = {"single": "单选", "multiple": "多选"}
DIFFICULTIES = range(1, 6)
DEFAULT_DIFFICULTY = 3
UNCLASSIFIED_TOPIC = "未分类"


@dataclass(frozen=True)
class Option:
    """One answer option. ``pin`` keeps its place when options are shuffled."""

    text: str
    pin: bool = False

    def to_yaml(self) -> Any:
        return {"text": self.text, "pin": True} if self.pin else self.text


@dataclass
class Question:
    """One question as stored in a bank.

    ``answer`` holds the correct option letters in option order ("A", "ACD").
    ``line`` is where the question was read from (not part of the format).
    """

    id: str
    type: str
    stem: str
    options: list[Option]
    answer: str
    explanation: str = ""
    topic: str = UNCLASSIFIED_TOPIC
    difficulty: int = DEFAULT_DIFFICULTY
    tags: list[str] = field(default_factory=list)
    source: str = ""
    line: int | None = field(default=None, compare=False, repr=False)

    @property
    def answer_indices(self) -> list[int]:
        return [LETTERS.index(letter) for letter in self.answer]

    @property
    def topic_path(self) -> list[str]:
        """The topic split into its levels: ``"a/b"`` → ``["a", "b"]``."""
        return [part for part in self.topic.split("/") if part]

    def to_yaml(self) -> dict[str, Any]:
        """The question as the bank file writes it, keys in schema order."""
        return {
            "id": self.id,
            "type": self.type,
            "stem": self.stem,
            "options": [option.to_yaml() for option in self.options],
            "answer": self.answer,
            "explanation": self.explanation,
            "topic": self.topic,
            "difficulty": self.difficulty,
            "tags": list(self.tags),
            "source": self.source,
        }


@dataclass
class Bank:
    """A question bank: one file, one id."""

    id: str
    title: str
    questions: list[Question]
    path: str | None = field(default=None, compare=False, repr=False)

    def to_yaml(self) -> dict[str, Any]:
        return {
            "bank": self.id,
            "title": self.title,
            "questions": [question.to_yaml() for question in self.questions],
        }


@dataclass(frozen=True)
class Problem:
    """One finding about an input: where it is, how bad, and what is wrong.

    ``code`` is a stable English slug (for scripts and tests); ``message`` is
    the Chinese explanation shown to people.
    """

    severity: str  # "error" | "warning"
    code: str
    message: str
    path: str | None = None
    line: int | None = None
    where: str | None = None  # replaces line for non-text places ("工作表 题库 第 7 行")

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def location(self) -> str:
        return format_location(self.path, self.line, self.where)

    def format(self) -> str:
        label = "错误" if self.is_error else "警告"
        loc = self.location()
        prefix = f"{loc}: " if loc else ""
        return f"{prefix}{label} [{self.code}] {self.message}"


class HasProblems:
    """For reports holding ``problems``: the errors and the warnings among them."""

    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]


def normalize_answer(letters: str) -> str:
    """Upper-case, de-duplicated letters in option order: ``"c, a"`` → ``"AC"``.

    Characters that are not option letters are dropped; callers check the
    result against the question's options.
    """
    wanted = {ch for ch in letters.upper() if ch in LETTERS}
    return "".join(letter for letter in LETTERS if letter in wanted)
