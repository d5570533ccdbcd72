"""`papergen build` and `papergen sheets` end to end on the sample bank."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import docx
import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner

from papergen.bank.model import LETTERS
from papergen.cli import cli
from papergen.core.errors import ExitCode
from papergen.exam.manifest import read_manifest
from papergen.grade.registration import register
from papergen.sheet.code import SheetCode
from tests.conftest import ROOT

BLUEPRINT = ROOT / "blueprints" / "2026-mock-03.yaml"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build") / "exam"
    result = run("build", BLUEPRINT, "-o", out)
    assert result.exit_code == 0, result.output
    return out


def pdf_text(path: Path) -> list[str]:
    document = pdfium.PdfDocument(str(path))
    return [page.get_textpage().get_text_range() for page in document]


def test_build_writes_every_file(built: Path) -> None:
    names = sorted(p.name for p in built.iterdir())
    expected = ["exam.json", "sheet.pdf"] + [f"{k}-{v}.{e}" for k in ("key", "paper") for v in "ABCD" for e in ("docx", "pdf")]
    assert names == sorted(expected)
    assert not [p for p in built.iterdir() if p.name.startswith(".")]  # no temp files left


def test_manifest_records_what_the_grader_needs(built: Path) -> None:
    manifest = read_manifest(built / "exam.json")
    assert manifest.exam == "2026-mock-03" and manifest.seed == 20260306
    assert [len(v.items) for v in manifest.variants] == [45, 45, 45, 45]
    assert len(manifest.questions) == 45 and manifest.total_points == 60
    data = json.loads((built / "exam.json").read_text(encoding="utf-8"))
    assert len(data["banks"][0]["sha256"]) == 64
    assert data["sections"][1]["scoring"] == {"rule": "all_or_nothing"}
    boxes = {q["number"]: q["boxes"] for q in data["sheet"]["questions"]}
    assert len(boxes) == 45 and len(boxes[1]) == 4 and len(boxes[31]) >= 4
    for variant in manifest.variants:
        for item in variant.items:
            question = manifest.questions[item.id]
            # the variant key maps back to the bank key through the permutation
            back = "".join(sorted(LETTERS[item.permutation[LETTERS.index(k)]] for k in item.key))
            assert back == question.answer == item.bank_key


def test_key_pdf_agrees_with_the_manifest(built: Path) -> None:
    manifest = read_manifest(built / "exam.json")
    for variant in manifest.variants:
        text = "\n".join(pdf_text(built / f"key-{variant.name}.pdf"))
        rows = dict(re.findall(r"^(\d+) ([A-H]+) \d", text, re.M))
        assert rows == {str(i.number): i.key for i in variant.items}


def test_paper_pdf_prints_stems_in_variant_order(built: Path) -> None:
    from papergen.bank import files as bankfile

    (bank,) = bankfile.load_banks([ROOT / "banks" / "xinjiuye-dangjian.yaml"])
    stems = {q.id: re.sub(r"\s", "", q.stem) for q in bank.questions}
    manifest = read_manifest(built / "exam.json")
    text = re.sub(r"\s", "", "".join(pdf_text(built / "paper-B.pdf")))
    positions = [text.find(stems[item.id]) for item in manifest.variant("B").items]
    assert -1 not in positions
    assert positions == sorted(positions)


def test_docx_paper_has_every_question(built: Path) -> None:
    manifest = read_manifest(built / "exam.json")
    document = docx.Document(str(built / "paper-C.docx"))
    text = "\n".join(p.text for p in document.paragraphs)
    numbers = [int(n) for n in re.findall(r"^(\d+)．", text, re.M)]
    assert numbers == [i.number for i in manifest.variant("C").items]


def test_sheet_qr_names_the_exam(built: Path) -> None:
    page = pdfium.PdfDocument(str(built / "sheet.pdf"))[0]
    image = page.render(scale=200 / 72, grayscale=True).to_numpy()
    code = SheetCode.decode(register(image, read_manifest(built / "exam.json").sheet).qr_text or "")
    assert (code.exam, code.page, code.pages, code.student) == ("2026-mock-03", 1, 1, None)


def test_rebuild_is_idempotent(built: Path, tmp_path: Path) -> None:
    copy = tmp_path / "exam"
    shutil.copytree(built, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir() if p.suffix in (".pdf", ".json")}
    result = run("build", BLUEPRINT, "-o", copy)
    assert result.exit_code == 0
    after = {p.name: p.read_bytes() for p in copy.iterdir() if p.suffix in (".pdf", ".json")}
    assert after == before


def test_a_different_exam_is_never_overwritten_without_force(built: Path, tmp_path: Path) -> None:
    copy = tmp_path / "exam"
    shutil.copytree(built, copy)
    manifest_before = (copy / "exam.json").read_bytes()
    refused = run("build", BLUEPRINT, "-o", copy, "--seed", "1")
    assert refused.exit_code == ExitCode.output_error and "--force" in refused.output
    assert (copy / "exam.json").read_bytes() == manifest_before
    forced = run("build", BLUEPRINT, "-o", copy, "--seed", "1", "--variants", "2", "--force")
    assert forced.exit_code == 0, forced.output
    assert read_manifest(copy / "exam.json").seed == 1
    assert not (copy / "paper-C.pdf").exists() and not (copy / "key-D.docx").exists()


def test_impossible_quota_exits_8_and_writes_nothing(tmp_path: Path) -> None:
    blueprint = tmp_path / "bp.yaml"
    text = BLUEPRINT.read_text(encoding="utf-8").replace("../banks/", f"{ROOT}/banks/").replace("组织覆盖: 4", "组织覆盖: 14")
    blueprint.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = run("build", blueprint, "-o", out)
    assert result.exit_code == ExitCode.blueprint_invalid == 8
    assert "“组织覆盖”需要 14 道单选题" in result.output and f"{blueprint}:" in result.output
    assert not out.exists()


def test_exclusion_of_an_earlier_exam(built: Path, tmp_path: Path) -> None:
    blueprint = tmp_path / "next.yaml"
    text = BLUEPRINT.read_text(encoding="utf-8").replace("../banks/", f"{ROOT}/banks/")
    text = text.replace("exam: 2026-mock-03", "exam: 2026-mock-04")
    text = text.replace("count: 15", "count: 10").replace("{管理体制与工作机制: 4, 组织覆盖: 4, 关爱服务与阵地: 3, 地方实践案例: 5}", "{}")
    blueprint.write_text(text + f"exclude: [{built / 'exam.json'}]\n", encoding="utf-8")
    result = run("build", blueprint, "-o", tmp_path / "next")
    assert result.exit_code == 0, result.output
    first = set(read_manifest(built / "exam.json").questions)
    second = set(read_manifest(tmp_path / "next" / "exam.json").questions)
    assert not first & second


# -- personalised sheets ------------------------------------------------------


def write_roster(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_personal_sheets_carry_student_and_variant(built: Path, tmp_path: Path) -> None:
    roster = write_roster(
        tmp_path / "roster.csv",
        [["准考证号", "姓名", "班级", "座位号"]]
        + [[f"20260300{n:02d}", f"学生{n}", "一班" if n < 4 else "二班", str(6 - n)] for n in range(6)],
    )
    out = tmp_path / "sheets.pdf"
    result = run("sheets", built / "exam.json", "--roster", roster, "-o", out)
    assert result.exit_code == 0, result.output
    document = pdfium.PdfDocument(str(out))
    assert len(document) == 6
    # Read each code the way the grader does (frame, then the QR where the frame puts it): a bare
    # whole-page detectAndDecode at one resolution misses some codes, depending on their text
    # (which carries the build id, so on the bank's content).
    geometry = read_manifest(built / "exam.json").sheet
    codes = []
    for page in document:
        gray = page.render(scale=200 / 72, grayscale=True).to_numpy()
        codes.append(SheetCode.decode(register(gray, geometry).qr_text or ""))
    # ordered by seat: seat 1 is student 5, and neighbours get different variants
    assert [c.student for c in codes] == [f"20260300{n:02d}" for n in (5, 4, 3, 2, 1, 0)]
    assert [c.variant for c in codes] == ["A", "B", "C", "D", "A", "B"]
    assert codes[0].name == "学生5" and codes[0].exam == "2026-mock-03"
    assignments = (tmp_path / "sheets-座位与试卷类型.csv").read_text(encoding="utf-8-sig").splitlines()
    assert assignments[0] == "座位号,准考证号,姓名,班级,试卷类型" and assignments[1] == "1,2026030005,学生5,二班,A"


@pytest.mark.parametrize(
    "rows, needle",
    [
        ([["准考证号", "姓名"], ["2026030001", "甲"], ["2026030001", "乙"]], "与第 2 行重复"),
        ([["学号", "班级"], ["2026030001", "一班"]], "缺少列：姓名"),
        ([["准考证号", "姓名"], ["20260300", "甲"]], "有 8 位，答题卡要求 10 位"),
    ],
)
def test_bad_rosters_are_refused_with_the_row(built: Path, tmp_path: Path, rows, needle: str) -> None:
    roster = write_roster(tmp_path / "roster.csv", rows)
    out = tmp_path / "sheets.pdf"
    result = run("sheets", built / "exam.json", "--roster", roster, "-o", out)
    assert result.exit_code == ExitCode.input_file and needle in result.output
    assert not out.exists()
