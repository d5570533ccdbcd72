"""Packaging: every imported library is declared, and the bundled data travels with the package.

A missing dependency or an undeclared data file does not show in an editable
checkout (the library happens to be installed, the file happens to be on disk);
it shows on a fresh machine after ``pip install papergen-….whl``. These tests
read the source and pyproject.toml so the gap is caught here; ``.ci/run``
additionally builds the wheel, installs it into a new virtual environment and
runs ``papergen demo`` from it.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.metadata
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from papergen import data
from papergen.render import fonts
from papergen.sheet.layout import load_layout

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; 3.10 runs the rest of the suite

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "papergen"
DATA = PACKAGE / "data"

#: Import name → distribution on PyPI, for every third-party import papergen has.
#: A new import fails test_every_imported_library_is_declared until it is added here
#: and its distribution to pyproject.toml.
DISTRIBUTION_OF = {
    "click": "click",
    "cv2": "opencv-python-headless",
    "dask": "dask",  # optional: papergen[dask]
    "distributed": "distributed",  # optional: papergen[dask]
    "defusedxml": "defusedxml",
    "docx": "python-docx",
    "flask": "Flask",
    "fontTools": "fonttools",
    "numpy": "numpy",
    "openpyxl": "openpyxl",
    "PIL": "Pillow",
    "pillow_heif": "pillow-heif",
    "pypdfium2": "pypdfium2",
    "reportlab": "reportlab",
    "werkzeug": "Werkzeug",
    "yaml": "PyYAML",
    # not imported but read with importlib.resources (papergen.render.fonts.FONT_PACKAGE)
    "justmytype_intl_cjk": "justmytype-intl-cjk",
}


def normalized(distribution: str) -> str:
    """PEP 503 name: ``python_docx``, ``Python.Docx`` and ``python-docx`` are one project."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, f"pyproject.toml: cannot read the project name in {requirement!r}"
    return normalized(match.group(1))


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def declared() -> tuple[set[str], set[str]]:
    """(required distributions, distributions of any optional extra), normalized."""
    project = pyproject()["project"]
    required = {requirement_name(r) for r in project["dependencies"]}
    optional = {requirement_name(r) for extra in project.get("optional-dependencies", {}).values() for r in extra}
    return required, optional


@dataclass(frozen=True)
class Import:
    name: str  # top-level import name: cv2, PIL, yaml
    where: str  # papergen/grade/ingest.py:17
    guarded: bool  # inside try/except ImportError, so it may come from an extra


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names)


def imports_in(source: str, filename: str) -> list[Import]:
    """Every absolute import of a module outside the standard library and papergen."""
    found: list[Import] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
            for child in node.body:
                visit(child, True)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, guarded)
            return
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        for module in modules:
            top = module.split(".")[0]
            if top not in sys.stdlib_module_names and top != "papergen":
                found.append(Import(top, f"{filename}:{node.lineno}", guarded))
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(ast.parse(source, filename), False)
    return found


def package_imports() -> list[Import]:
    return [
        imp
        for path in sorted(PACKAGE.rglob("*.py"))
        for imp in imports_in(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    ]


# --- the import scanner on hand-made sources --------------------------------------------------
def test_imports_in_finds_third_party_imports_at_any_depth_and_marks_guarded_ones():
    source = (
        "import os, numpy as np\n"
        "from PIL import Image\n"
        "from papergen.core import errors\n"
        "from . import sibling\n"
        "def f():\n"
        "    import cv2.aruco\n"
        "    try:\n"
        "        import pillow_heif\n"
        "    except (ValueError, ImportError):\n"
        "        import yaml\n"
    )
    found = [(i.name, i.where, i.guarded) for i in imports_in(source, "m.py")]
    assert found == [
        ("numpy", "m.py:1", False),
        ("PIL", "m.py:2", False),
        ("cv2", "m.py:6", False),
        ("pillow_heif", "m.py:8", True),
        ("yaml", "m.py:10", False),  # the fallback in the handler is not itself guarded
    ]


def test_requirement_names_are_normalized():
    assert requirement_name("Pillow>=11.3") == "pillow"
    assert requirement_name("python_docx >= 1.1") == "python-docx"
    assert requirement_name("justmytype.intl-cjk[extra]; python_version>'3'") == "justmytype-intl-cjk"


# --- the package itself -------------------------------------------------------------------
def test_every_imported_library_is_declared():
    required, optional = declared()
    problems = []
    for imp in package_imports():
        distribution = DISTRIBUTION_OF.get(imp.name)
        if distribution is None:
            problems.append(f"{imp.where}: import {imp.name}: add it to DISTRIBUTION_OF and pyproject.toml")
        elif normalized(distribution) not in required and not (imp.guarded and normalized(distribution) in optional):
            problems.append(f"{imp.where}: import {imp.name}: {distribution} is not in pyproject.toml dependencies")
    assert not problems, "\n".join(problems)


def test_font_package_read_as_a_resource_is_declared():
    required, _ = declared()
    assert normalized(DISTRIBUTION_OF[fonts.FONT_PACKAGE]) in required


def test_distribution_map_agrees_with_the_installed_metadata():
    # The map is hand-written; the installed distributions say which one really provides each name.
    provided_by = importlib.metadata.packages_distributions()
    wrong = {
        name: (dist, provided_by.get(name))
        for name, dist in DISTRIBUTION_OF.items()
        if name in provided_by and normalized(dist) not in {normalized(d) for d in provided_by[name]}
    }
    assert not wrong, wrong


def test_no_declared_dependency_is_unused():
    required, _ = declared()
    used = {normalized(DISTRIBUTION_OF[i.name]) for i in package_imports() if i.name in DISTRIBUTION_OF}
    used.add(normalized(DISTRIBUTION_OF[fonts.FONT_PACKAGE]))
    assert required - used == set()


# --- bundled data -------------------------------------------------------------------------
def data_files() -> list[str]:
    return sorted(
        p.relative_to(DATA).as_posix()
        for p in DATA.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    )


def test_every_bundled_file_is_declared_package_data():
    # setuptools only puts files matching these globs into the wheel; an editable
    # checkout would never notice a missing one.
    globs = pyproject()["tool"]["setuptools"]["package-data"]["papergen.data"]
    undeclared = [f for f in data_files() if not any(fnmatch.fnmatchcase(f, g) for g in globs)]
    assert data_files() and not undeclared, undeclared


def test_bundled_files_have_one_copy_linked_from_the_checkout_folders():
    # The top-level banks/ and layouts/ (README examples) link into papergen/data.
    for name in data_files():
        top = ROOT / name  # banks/xinjiuye-dangjian.yaml, layouts/a4-standard.yaml
        assert top.is_symlink(), f"{top.relative_to(ROOT)} should be a link to papergen/data/{name}"
        assert top.resolve() == (DATA / name).resolve()


def test_data_module_finds_the_bundled_files():
    assert data.demo_bank().is_file() and data.demo_bank().parent.parent == data.layout_folder().parent
    assert data.layout_names() == ["a4-standard"]
    assert data.bundled_layout("a4-standard").is_file()


def test_layout_by_name_or_by_path(tmp_path):
    by_name = load_layout("a4-standard")
    copy = tmp_path / "my-layout.yaml"
    copy.write_text(data.bundled_layout("a4-standard").read_text(encoding="utf-8"), encoding="utf-8")
    assert load_layout(str(copy)) == by_name


def test_unknown_layout_name_says_where_the_bundled_ones_are():
    from papergen.core.errors import BlueprintError

    with pytest.raises(BlueprintError) as caught:
        load_layout("a3-huge")
    assert "找不到答题卡版式 a3-huge" in caught.value.message and str(data.layout_folder()) in caught.value.hint
