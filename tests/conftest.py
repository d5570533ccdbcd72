"""Shared test helpers: tiny banks written inline, the seed folder, a sample Bank."""

from __future__ import annotations

from pathlib import Path

import pytest

from papergen.model import Bank, Option, Question

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def marked_line(text: str, marker: str = "# <-") -> int:
    """1-based number of the line carrying ``marker`` (how tests state expected lines)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"no {marker!r} in text")


@pytest.fixture
def seed_dir() -> Path:
    if not SEEDS.is_dir():
        pytest.skip(f"seed documents not present at {SEEDS} (they live in the project's shared/ folder)")
    return SEEDS


def sample_bank() -> Bank:
    """A small bank that exercises every field and the awkward characters."""
    return Bank(
        id="sample",
        title="样例题库 <测试> & “引号”",
        questions=[
            Question(
                id="s-001",
                type="single",
                stem="新就业群体党建工作中，负责“归口指导”的是：",
                options=[Option("组织部门"), Option("社会工作部门"), Option("行业主管部门"), Option("属地街道社区")],
                answer="B",
                explanation="社会工作部门归口指导。\n组织部门牵头抓总。",
                topic="管理体制与工作机制/管理体制",
                difficulty=2,
                tags=["二十大报告", "体制"],
                source="000_d1ff516931108456.txt",
            ),
            Question(
                id="s-002",
                type="multiple",
                stem="下列符号应原样保留：<a> & {b} ~c =d #e :f \"g\" 'h'",
                options=[Option(f"选项{n}") for n in range(1, 8)] + [Option("以上都是", pin=True)],
                answer="ACDH",
                explanation="",
                topic="测试/特殊字符",
                difficulty=5,
                tags=[],
                source="",
            ),
            Question(
                id="s-003",
                type="single",
                stem="=1+1 是公式吗？",
                options=[Option("是"), Option("不是")],
                answer="B",
                explanation="以等号开头的文字也只是文字。",
                topic="测试",
                difficulty=1,
                tags=["公式"],
                source="manual",
            ),
        ],
    )
