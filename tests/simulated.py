"""Simulated sheets graded and compared with their truth: the accuracy bench's loop, small enough for a test."""

from __future__ import annotations

from pathlib import Path

from papergen.grade.pipeline import grade
from papergen.sim import run as sim
from papergen.sim.evaluation import Accuracy, evaluate


def graded_simulation(exam_json: Path, folder: Path, count: int, *, seed: int, degrade: str, **options) -> Accuracy:
    """``count`` sheets simulated at ``degrade`` into ``folder/scans`` (truth.csv beside them; ``options`` go to
    ``simulate``), graded in one process into ``folder/results``, and the grading compared with the truth."""
    scans = folder / "scans"
    sim.simulate(exam_json, count, scans, seed=seed, degrade=degrade, **options)
    grade(exam_json, [scans], folder / "results", workers=1)
    return evaluate(folder / "results", scans / "truth.csv")
