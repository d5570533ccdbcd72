"""The house rules that keep the stages apart, checked on the code itself.

- Imports run one way (``.importlinter``: cli → demo → review → report | sim → grade | render → exam →
  sheet → bank → core); a backward import fails here and in CI.
- Building an exam never loads the results store or the workbook code (sqlite3, openpyxl).
- Grading never loads how an exam was planned (blueprint, selection) or the bank importers:
  a worker needs the manifest and the scan, nothing upstream of the manifest.

The module checks run a real build and a real grading in a fresh interpreter and look at
``sys.modules`` afterwards, so a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from importlinter.cli import lint_imports

from tests.conftest import ROOT

BLUEPRINT = ROOT / "blueprints" / "2026-mock-03.yaml"
SCANS = ROOT / "scans" / "2026-mock-03"


def _modules_after(code: str, cwd: Path) -> set[str]:
    """``sys.modules`` of a fresh interpreter after running ``code``."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _loaded(modules: set[str], names: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_imports_run_one_way_along_the_stages() -> None:
    assert lint_imports(config_filenames=(str(ROOT / ".importlinter"),), no_cache=True, no_logo=True) == 0


def test_building_an_exam_loads_no_store_and_no_workbook(tmp_path: Path) -> None:
    modules = _modules_after(
        "from papergen.render.build import build_exam\n"
        f"build_exam({str(BLUEPRINT)!r}, {str(tmp_path / 'exam')!r})\n",
        cwd=ROOT,
    )
    assert (tmp_path / "exam" / "exam.json").is_file()
    assert "papergen.render.pdf" in modules  # the build really rendered
    assert _loaded(modules, ["sqlite3", "openpyxl", "papergen.grade", "papergen.report", "papergen.sim"]) == []


def test_grading_loads_nothing_upstream_of_the_manifest(tmp_path: Path) -> None:
    modules = _modules_after(
        "from papergen.grade.pipeline import grade\n"
        f"grade({str(SCANS / 'exam.json')!r}, [{str(SCANS / 'scan')!r}], {str(tmp_path / 'results')!r}, workers=1)\n",
        cwd=ROOT,
    )
    assert "papergen.grade.reader" in modules  # the sheets were really read in this process
    upstream = ["papergen.exam.blueprint", "papergen.exam.selection", "papergen.exam.plan", "papergen.bank.importer",
                "papergen.bank.formats", "papergen.bank.validate", "papergen.render", "papergen.report", "openpyxl",
                "reportlab", "docx"]
    assert _loaded(modules, upstream) == []
