"""An exam's plan: blueprint → banks → selection → variants → sheet geometry → manifest.

Everything about the exam except the printed files; ``render.build`` writes
those from the manifest this returns.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from papergen.bank.files import load_banks
from papergen.bank.model import Question
from papergen.core.errors import InputFileError, PapergenError
from papergen.exam.blueprint import Blueprint
from papergen.exam.focus import FocusPlan
from papergen.exam.manifest import (
    Manifest,
    ManifestQuestion,
    ManifestSection,
    question_ids,
)
from papergen.exam.selection import select
from papergen.exam.variants import make_variants
from papergen.sheet.layout import compute_geometry, load_layout


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def plan_exam(blueprint: Blueprint, focus: FocusPlan | None = None) -> tuple[Manifest, dict[str, Question]]:
    """Everything about the exam except the rendered files."""
    banks = load_banks(blueprint.banks)
    excluded: set[str] = set()
    for path in blueprint.exclude:
        try:
            excluded |= question_ids(path)
        except PapergenError as exc:
            line = blueprint.exclude_lines.get(str(path))
            raise InputFileError(f"排除清单无法读取（组卷方案第 {line} 行）：{exc.message}", path=path) from None
    sections = select(blueprint, banks, excluded, focus)
    variants = make_variants(sections, blueprint.variants, blueprint.seed, blueprint.shuffle)
    layout = load_layout(blueprint.layout)
    shape = [(len(s.chosen), max(len(c.question.options) for c in s.chosen)) for s in sections]
    geometry = compute_geometry(
        layout, shape, id_digits=blueprint.id_digits, variants=blueprint.variants,
        section_titles=[s.plan.title for s in sections],
    )
    questions = {}
    by_id: dict[str, Question] = {}
    for index, section in enumerate(sections):
        for pick in section.chosen:
            q = pick.question
            by_id[q.id] = q
            questions[q.id] = ManifestQuestion(
                q.id, pick.bank, index, q.type, q.topic, q.difficulty, len(q.options), q.answer,
                section.plan.points, pick.reason,
            )
    manifest = Manifest(
        exam=blueprint.exam,
        title=blueprint.title,
        seed=blueprint.seed,
        minutes=blueprint.minutes,
        instructions=blueprint.instructions,
        banks=[
            {"id": bank.id, "title": bank.title, "file": str(path), "sha256": _sha256(path)}
            for bank, path in zip(banks, blueprint.banks)
        ],
        blueprint={"file": str(blueprint.path.resolve()), "sha256": _sha256(blueprint.path)},
        sections=[
            ManifestSection(
                s.plan.title, s.plan.type, s.plan.count, s.plan.points, s.plan.scoring, s.plan.scoring.note(),
                s.mean_difficulty,
            )
            for s in sections
        ],
        questions=questions,
        variants=variants,
        sheet=geometry,
    )
    return manifest.with_fingerprint(), by_id
