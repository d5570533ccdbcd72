"""Where the files papergen ships with live: answer-sheet layouts and the demo's bank.

They sit inside the package (``papergen/data/layouts/*.yaml``,
``papergen/data/banks/*.yaml``) and are declared as package data, so a wheel
carries them and ``pip install papergen-….whl`` works without a checkout.
Everything that needs one of them asks this module; nothing finds them
relative to ``__file__``. The ``banks/`` and ``layouts/`` folders at the top
of a checkout hold symbolic links to these files (one copy of each), so the
README's ``banks/xinjiuye-dangjian.yaml`` still works there.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from papergen.core.errors import PapergenError

LAYOUT_SUFFIX = ".yaml"
DEMO_BANK = "xinjiuye-dangjian.yaml"


def _root() -> Path:
    folder = resources.files(__name__)
    # pip always unpacks a wheel onto the file system; a zip import would give
    # a Traversable that the YAML readers (which take paths) cannot open.
    if not isinstance(folder, Path):
        raise PapergenError(f"papergen 的数据文件不在文件系统上（{folder}）", hint="用 pip 安装 papergen，不要从 zip 文件导入")
    return folder


def layout_folder() -> Path:
    """The folder of the bundled answer-sheet layouts (``NAME.yaml``)."""
    return _root() / "layouts"


def layout_names() -> list[str]:
    """Names of the bundled layouts, sorted: what ``layout: NAME`` accepts."""
    return sorted(p.name.removesuffix(LAYOUT_SUFFIX) for p in layout_folder().glob(f"*{LAYOUT_SUFFIX}"))


def bundled_layout(name: str) -> Path:
    """The path a bundled layout called ``name`` would have (it may not exist)."""
    return layout_folder() / f"{name}{LAYOUT_SUFFIX}"


def demo_bank() -> Path:
    """The bank ``papergen demo`` builds its exams from (187 questions)."""
    return _root() / "banks" / DEMO_BANK
