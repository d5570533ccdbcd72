"""Fonts: rare characters in names (fallback fonts or a warning naming the row), the
one-time preparation's progress message, and PDFs that do not depend on the font cache."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner

from papergen.cli import cli
from papergen.grade.pipeline import grade
from papergen.render import fonts
from papergen.render.build import build_exam
from papergen.sim.run import simulate
from tests.conftest import ROOT

BLUEPRINT = ROOT / "blueprints" / "2026-mock-03.yaml"
BANK = ROOT / "banks" / "xinjiuye-dangjian.yaml"
JP = "NotoSansJP-Regular"
#: 𠮷 (U+20BB7) is in Noto Sans JP, not SC; 𪚥 (U+2A6A5) and 😀 are in no font papergen has.
RARE = [("𠮷田", "一班"), ("张𪚥", "二班"), ("王😀", "一班"), ("李四", "𠮷班")]


def pdf_text(path: Path) -> str:
    """The PDF's text without whitespace (a name drawn in two font runs may come back as two lines)."""
    pdf = pdfium.PdfDocument(str(path))
    try:
        return re.sub(r"\s", "", "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf))))
    finally:
        pdf.close()


def embedded_fonts(path: Path) -> set[str]:
    return {name.split(b"+", 1)[-1].decode() for name in re.findall(rb"/BaseFont /([^\s/>]+)", path.read_bytes())}


# --- the run splitter --------------------------------------------------------------
def test_plain_chinese_is_one_run_in_the_main_font() -> None:
    assert fonts.font_runs("张三 (一班)") == [(fonts.BODY, "张三 (一班)")]
    assert fonts.font_runs("张三", fonts.BOLD) == [(fonts.BOLD, "张三")]


def test_characters_the_main_font_lacks_go_to_a_fallback_of_the_same_weight() -> None:
    assert fonts.font_runs("𠮷田") == [(JP, "𠮷"), (fonts.BODY, "田")]
    assert fonts.font_runs("a𠮷𠮷b", fonts.BOLD) == [(fonts.BOLD, "a"), ("NotoSansJP-Bold", "𠮷𠮷"), (fonts.BOLD, "b")]
    assert fonts.font_runs("") == []


def test_uncovered_characters_stay_in_the_main_font_and_are_reported() -> None:
    assert fonts.font_runs("王😀") == [(fonts.BODY, "王😀")]
    assert fonts.uncovered("张𪚥😀𪚥𠮷") == ["𪚥", "😀"]
    assert fonts.uncovered("𠮷田 张三") == []


def test_joiners_and_variation_selectors_are_dropped_not_boxed() -> None:
    assert fonts.font_runs("张\u200d三\ufe0f") == [(fonts.BODY, "张三")]
    assert fonts.uncovered("张\u200d三\ufe0f") == []


def test_markup_runs_escapes_and_switches_fonts() -> None:
    assert fonts.markup_runs("<𠮷>&") == f'&lt;<font name="{JP}">𠮷</font>&gt;&amp;'


def test_warning_names_the_place_and_the_characters() -> None:
    assert fonts.missing_text_warning("名单第 7 行", "姓名", "张😀") == (
        "名单第 7 行：姓名“张😀”中的 😀 字体中没有，打印出来会是空框"
    )
    assert fonts.missing_text_warning("名单第 7 行", "姓名", "𠮷田") is None


# --- cold path -----------------------------------------------------------------------
def _python(code: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAPERGEN_FONT_CACHE": str(cache)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT, check=True)


def test_first_use_says_it_is_preparing_the_fonts_once(tmp_path) -> None:
    code = "from papergen.render import fonts; fonts.register_pdf_fonts()"
    first = _python(code, tmp_path / "cache")
    assert "首次使用：正在准备中文字体（只需一次）…" in first.stderr
    assert "1/2 Noto Sans SC Regular" in first.stderr and "2/2 Noto Sans SC Bold" in first.stderr
    assert "中文字体准备好了" in first.stderr
    again = _python(code, tmp_path / "cache")
    assert again.stderr == ""


def test_pdfs_do_not_depend_on_what_the_font_cache_holds(tmp_path) -> None:
    """A paper built with an empty cache and one built after thousands of other glyphs were cached are the same bytes."""
    build = f"from papergen.render.build import build_exam; build_exam({str(BLUEPRINT)!r}, {{out!r}})"
    _python(build.format(out=str(tmp_path / "cold")), tmp_path / "cache-cold")
    fill = ("from papergen.render import fonts\n"
            "for face in fonts.MAIN_FACES.values(): fonts.GlyphStore(face).ensure(range(0, 31000, 7))\n")
    _python(fill, tmp_path / "cache-full")
    _python(build.format(out=str(tmp_path / "warm")), tmp_path / "cache-full")
    pdfs = sorted(p.name for p in (tmp_path / "cold").glob("*.pdf"))
    assert pdfs
    for name in pdfs:
        assert (tmp_path / "cold" / name).read_bytes() == (tmp_path / "warm" / name).read_bytes(), name


# --- names through the commands --------------------------------------------------------
@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """An exam with four simulated sheets, graded, and a roster with rare characters in names."""
    root = tmp_path_factory.mktemp("rare-names")
    build_exam(BLUEPRINT, root / "exam")
    simulate(root / "exam" / "exam.json", len(RARE), root / "scans", seed=3, degrade="none", dpi=150,
             doubtful_rate=0.0)
    grade(root / "exam" / "exam.json", [root / "scans"], root / "results", workers=1)
    lines = ["准考证号,姓名,班级,座位号"]
    for k, (name, klass) in enumerate(RARE, start=1):
        lines.append(f"{2026030000 + k},{name},{klass},{k}")
    (root / "roster.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("警告：")]


def test_sheets_print_rare_names_or_warn_naming_the_row(graded) -> None:
    out = graded / "sheets.pdf"
    result = CliRunner().invoke(cli, ["sheets", str(graded / "exam" / "exam.json"), "--roster",
                                      str(graded / "roster.csv"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert _warnings(result.stderr) == [
        "警告：名单第 3 行：姓名“张𪚥”中的 𪚥 字体中没有，打印出来会是空框",
        "警告：名单第 4 行：姓名“王😀”中的 😀 字体中没有，打印出来会是空框",
    ]
    text = pdf_text(out)
    assert "𠮷田" in text and "李四𠮷班" in text  # printed, and copied back as the same characters
    assert {fonts.BODY, fonts.BOLD, JP} <= embedded_fonts(out)


def test_feedback_prints_rare_names_or_warns_naming_the_row(graded) -> None:
    outdir = graded / "feedback"
    result = CliRunner().invoke(cli, ["feedback", str(graded / "results"), "-o", str(outdir), "--roster",
                                      str(graded / "roster.csv")])
    assert result.exit_code == 0, result.output
    assert _warnings(result.stderr) == [
        "警告：名单第 3 行：姓名“张𪚥”中的 𪚥 字体中没有，打印出来会是空框",
        "警告：名单第 4 行：姓名“王😀”中的 😀 字体中没有，打印出来会是空框",
    ]
    first = next(outdir.glob("2026030001-*.pdf"))
    assert "𠮷田" in pdf_text(first)
    assert JP in embedded_fonts(first)
    fourth = next(outdir.glob("2026030004-*.pdf"))
    assert "𠮷班" in pdf_text(fourth)
