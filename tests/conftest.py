"""Shared test helpers: tiny banks written inline, the seed folder, a sample Bank."""

from __future__ import annotations

from pathlib import Path

import pytest

from papergen.bank.model import Bank, Option, Question

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


# -- the small exam shared by the hostile-input matrix and the fault tests ---------------

MATRIX_BLUEPRINT = FIXTURES / "exam" / "matrix.yaml"
#: Who is in ``small_results``: 准考证号 → (试卷类型, questions answered against the key).
SMALL_STUDENTS = {"2026030001": ("A", "all"), "2026030002": ("B", "one wrong"), "2026030003": ("A", "two blank")}


@pytest.fixture(scope="session")
def sample_exam_json(tmp_path_factory) -> Path:
    """``blueprints/2026-mock-03.yaml`` (the demo's exam, 45 questions, four variants) built once: its exam.json.

    Read-only: tests that change the exam folder build their own.
    """
    from papergen.render.build import build_exam

    out = tmp_path_factory.mktemp("sample-exam") / "exam"
    build_exam(ROOT / "blueprints" / "2026-mock-03.yaml", out)
    return out / "exam.json"


@pytest.fixture(scope="session")
def small_exam(tmp_path_factory) -> Path:
    """``tests/fixtures/exam/matrix.yaml`` built once: 8 questions, variants A/B, a two-page sheet."""
    from papergen.render.build import build_exam

    out = tmp_path_factory.mktemp("small-exam") / "exam"
    build_exam(MATRIX_BLUEPRINT, out)
    return out


@pytest.fixture(scope="session")
def other_exam(tmp_path_factory) -> Path:
    """The same small exam under another exam id (matrix-09): its sheets belong to another exam."""
    from papergen.render.build import build_exam

    folder = tmp_path_factory.mktemp("other-exam")
    text = MATRIX_BLUEPRINT.read_text(encoding="utf-8").replace("exam: matrix-01", "exam: matrix-09")
    text = text.replace("../../../banks/", f"{ROOT}/banks/").replace("tall-rows.yaml", str(MATRIX_BLUEPRINT.parent / "tall-rows.yaml"))
    (folder / "other.yaml").write_text(text, encoding="utf-8")
    build_exam(folder / "other.yaml", folder / "exam")
    return folder / "exam"


def small_sheet_pages(exam_dir: Path, student_id: str, variant: str, how: str = "all") -> list:
    """Both pages of one student's hand-filled sheet (150 dpi grayscale arrays)."""
    from papergen.exam.manifest import read_manifest
    from tests.sheetfill import filled_sheet, key_answers

    manifest = read_manifest(exam_dir / "exam.json")
    answers = key_answers(manifest, variant)
    if how == "one wrong":
        answers[1] = next(letter for letter in "ABCD" if letter != answers[1])
    elif how == "two blank":
        del answers[2], answers[7]
    return [
        filled_sheet(exam_dir, manifest, student_id=student_id, variant=variant, answers=answers, page=page)
        for page in range(1, manifest.sheet.pages + 1)
    ]


@pytest.fixture(scope="session")
def small_scans(small_exam, tmp_path_factory) -> Path:
    """JPEG scans of ``SMALL_STUDENTS``, one file per page."""
    import cv2

    folder = tmp_path_factory.mktemp("small-scans")
    for student_id, (variant, how) in SMALL_STUDENTS.items():
        for page, image in enumerate(small_sheet_pages(small_exam, student_id, variant, how), start=1):
            cv2.imwrite(str(folder / f"{student_id}-{page}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return folder


@pytest.fixture(scope="session")
def small_results(small_exam, small_scans, tmp_path_factory) -> Path:
    """``small_scans`` graded into a results folder (treat as read-only; copy it to change it)."""
    from papergen.grade.pipeline import grade

    results = tmp_path_factory.mktemp("small-results") / "results"
    summary = grade(small_exam / "exam.json", [small_scans], results, workers=1)
    assert summary.read == 2 * len(SMALL_STUDENTS) and summary.errors == 0, summary
    return results


@pytest.fixture(scope="session")
def small_pile(small_exam, tmp_path_factory):
    """16 simulated 150 dpi pages (8 students) of ``small_exam``, and the store of grading them in one go.

    ``expected`` is ``tests.matrix.store_dump`` of that uninterrupted run:
    what any interrupted-and-resumed grading of the pile must end with.
    """
    from types import SimpleNamespace

    from papergen.grade.pipeline import grade
    from papergen.sim.run import simulate
    from tests.matrix import store_dump

    base = tmp_path_factory.mktemp("small-pile")
    simulate(small_exam / "exam.json", 8, base / "scans", seed=11, degrade="scan", dpi=150)
    clean = grade(small_exam / "exam.json", [base / "scans"], base / "clean", workers=1)
    assert clean.pages_total == 16 and clean.errors == 0
    return SimpleNamespace(exam=small_exam, scans=base / "scans", expected=store_dump(base / "clean"), exit_code=clean.exit_code)
