"""What a printed paper and its answer key show: the renderers' input.

``Paper`` is one variant as a candidate sees it: sections, numbered questions,
options in display order, and (for the key) the answer in the variant's own
letters. It is built from the exam manifest and the banks
(``paper_for_variant``) and handed unchanged to the PDF and DOCX
renderers, so both formats always print the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from papergen.bank.model import Question
from papergen.exam.manifest import Manifest


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

    @property
    def questions(self) -> list[PaperQuestion]:
        return [q for section in self.sections for q in section.questions]

    @property
    def total_points(self) -> float:
        return sum(section.total_points for section in self.sections)


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
                    number=item.number, id=q.id, type=q.type, stem=q.stem,
                    options=[q.options[i].text for i in item.permutation], key=item.key,
                    points=section.points, explanation=q.explanation, topic=q.topic,
                )
            )
        sections.append(PaperSection(section.title, section.type, section.points, section.rule_note, items))
    return Paper(manifest.exam, manifest.title, name, manifest.minutes, manifest.instructions, sections)
