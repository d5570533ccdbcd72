"""What a printed paper and its answer key show: the renderers' input.

``Paper`` is one variant as a candidate sees it: sections, numbered questions,
options in display order, and (for the key) the answer in the variant's own
letters. It is built from the exam manifest and the banks
(``paper_for_variant``) and handed unchanged to the PDF and DOCX
renderers, so both formats always print the same thing. Its stems carry
the answer blanks already normalized (``answer_blanks``), and the words
both formats share live here too (``END_OF_PAPER``, ``QUICK_KEY_TITLE``,
``quick_key_per_row``, ``quick_key_rows``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from papergen.bank.model import Question
from papergen.exam.manifest import Manifest


@dataclass(frozen=True)
class KeyCorrection:
    """A key changed after the exam was printed, as a re-rendered key file shows it.

    ``papergen rekey`` records the change in the results store; the key files
    re-rendered from it print the new key next to what the first printing said.
    """

    shown: str  # what the key is now, in the variant's letters: "C", "B 或 C", "作废"
    note: str  # how it differs from the printing: "更正，原 A", "全体得分", "不计分"


@dataclass(frozen=True)
class PaperQuestion:
    number: int  # as printed on the paper and the answer sheet
    id: str  # bank question id (printed on the key only)
    type: str  # "single" | "multiple"
    stem: str
    options: list[str]  # display order; option i is labelled LETTERS[i]
    key: str  # correct letters in display order, e.g. "BD"
    points: float
    explanation: str
    topic: str
    correction: KeyCorrection | None = None  # the key was corrected after printing (``papergen rekey``)


@dataclass(frozen=True)
class PaperSection:
    title: str  # "一、单项选择题"
    type: str
    points_each: float
    rule_note: str  # how it is scored, in words: "多选、少选、错选均不得分"
    questions: list[PaperQuestion] = field(default_factory=list)

    @property
    def total_points(self) -> float:
        return sum(q.points for q in self.questions)


@dataclass(frozen=True)
class Paper:
    exam_id: str
    title: str
    variant: str  # "A", "B", …
    minutes: int | None
    instructions: str
    sections: list[PaperSection]
    notice: str = ""  # printed under a key's title: the corrections made since it was first printed

    @property
    def questions(self) -> list[PaperQuestion]:
        return [q for section in self.sections for q in section.questions]

    @property
    def total_points(self) -> float:
        return sum(section.total_points for section in self.sections)


#: Width of a fill-in bracket's blank, in ems (ideographic spaces): room for "ABCD".
ANSWER_BLANK_EM = 4
# "（）", "（  ）", "（　　）", "(   )": a bracket holding nothing but spaces is
# where the candidate writes the answer. ASCII "()" with nothing inside is not
# (it could be code, "print()").
_ANSWER_BLANK = re.compile(r"（[ \t\u3000\u00a0]*）|\([ \t\u3000\u00a0]+\)")


def answer_blanks(text: str) -> str:
    """Every fill-in bracket of ``text`` with a blank of ideographic spaces, at least ``ANSWER_BLANK_EM`` wide.

    Banks write the blank however the author typed it ("（  ）" with two
    ASCII spaces is half an em wide); every rendering prints the same blank.
    A wider blank typed on purpose keeps its width (an ASCII space counts
    half an em).

    >>> answer_blanks("要创新（  ）。")
    '要创新（\u3000\u3000\u3000\u3000）。'
    """

    def blank(match: re.Match[str]) -> str:
        inside = match.group()[1:-1]
        typed = sum(1.0 if ch == "\u3000" else 0.5 for ch in inside)
        return match.group()[0] + "\u3000" * max(ANSWER_BLANK_EM, round(typed)) + match.group()[-1]

    return _ANSWER_BLANK.sub(blank, text)


def format_points(value: float) -> str:
    """1.0 → "1", 0.5 → "0.5": points as people write them."""
    return f"{value:g}"


def section_heading(section: PaperSection) -> str:
    """"一、单项选择题（共 30 题，每题 1 分，共 30 分）" — the same words on every rendering."""
    count = len(section.questions)
    total = format_points(section.total_points)
    if all(q.points == section.points_each for q in section.questions):
        return f"{section.title}（共 {count} 题，每题 {format_points(section.points_each)} 分，共 {total} 分）"
    return f"{section.title}（共 {count} 题，共 {total} 分）"


#: Printed centred under the last question of every paper, so a candidate knows nothing is missing.
END_OF_PAPER = "—— 试卷结束 ——"
#: Heading of the compact table of all answers at the top of a key.
QUICK_KEY_TITLE = "答案速查"
#: Answers per row of the 答案速查 table; ``QUICK_KEY_FEW_PER_ROW`` when an answer is
#: longer than ``QUICK_KEY_LONG_ANSWER`` letters ("ABCDEF" needs a wider column).
QUICK_KEY_PER_ROW = 10
QUICK_KEY_FEW_PER_ROW = 5
QUICK_KEY_LONG_ANSWER = 4


def quick_key_per_row(paper: Paper) -> int:
    """How many answers a row of ``paper``'s 答案速查 table holds (the same in PDF and DOCX)."""
    longest = max((len(key_text(q)) for q in paper.questions), default=0)
    return QUICK_KEY_PER_ROW if longest <= QUICK_KEY_LONG_ANSWER else QUICK_KEY_FEW_PER_ROW


def quick_key_rows(section: PaperSection, per_row: int) -> list[list[PaperQuestion]]:
    """``section``'s questions in rows of ``per_row``, for the 答案速查 table (题号 over 答案)."""
    questions = section.questions
    return [questions[start : start + per_row] for start in range(0, len(questions), per_row)]


def key_text(question: PaperQuestion) -> str:
    """The answer as a key prints it: "C", or "C（更正，原 A）" / "作废（全体得分）" once corrected."""
    if question.correction is None:
        return question.key
    return f"{question.correction.shown}（{question.correction.note}）"


def corrected_paper(paper: Paper, corrections: dict[str, KeyCorrection], notice: str) -> Paper:
    """``paper`` with the keys of ``corrections`` (bank id → correction) replaced, and ``notice`` under its title."""
    sections = [
        replace(section, questions=[replace(q, correction=corrections.get(q.id)) for q in section.questions])
        for section in paper.sections
    ]
    return replace(paper, sections=sections, notice=notice)


def key_title(paper: Paper) -> str:
    """"…参考答案及解析（A 卷）"."""
    return f"{paper.title}参考答案及解析（{paper.variant} 卷）"


def paper_for_variant(manifest: Manifest, questions: dict[str, Question], name: str) -> Paper:
    """The printed content of variant ``name``."""
    variant = manifest.variant(name)
    sections = []
    for index, section in enumerate(manifest.sections):
        items = []
        for item in variant.items:
            if item.section != index:
                continue
            q = questions[item.id]
            items.append(
                PaperQuestion(
                    number=item.number, id=q.id, type=q.type, stem=answer_blanks(q.stem),
                    options=[q.options[i].text for i in item.permutation], key=item.key,
                    points=section.points, explanation=q.explanation, topic=q.topic,
                )
            )
        sections.append(PaperSection(section.title, section.type, section.points, section.rule_note, items))
    return Paper(manifest.exam, manifest.title, name, manifest.minutes, manifest.instructions, sections)
