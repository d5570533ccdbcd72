"""Chinese fonts for the PDFs: Noto Sans SC, from a PyPI package, made static once.

No font file is committed and nothing is downloaded at run time: the
``justmytype-intl-cjk`` package ships Noto Sans SC (SIL Open Font License)
as a *variable* TrueType font whose default instance is the Thin weight.
reportlab embeds TrueType outlines but cannot pick a weight of a variable
font, so the Regular (400) and Bold (700) instances are cut once with
fontTools' instancer and cached in the user's cache folder
(``$PAPERGEN_FONT_CACHE``, else ``$XDG_CACHE_HOME/papergen/fonts``, else
``~/.cache/papergen/fonts``). The first build on a machine takes about
20 s for this; later ones reuse the files.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from . import atomic
from .exceptions import PapergenError
from .interrupts import WorkerPool

FONT_PACKAGE = "justmytype_intl_cjk"
FONT_RESOURCE = "fonts/ofl/notosanssc/NotoSansSC[wght].ttf"
FAMILY = "Noto Sans SC"
#: reportlab font names registered by ``register_pdf_fonts``.
BODY = "NotoSansSC-Regular"
BOLD = "NotoSansSC-Bold"
WEIGHTS = {BODY: 400, BOLD: 700}
#: What DOCX files ask Word for. DOCX cannot embed our font portably, so it
#: names the faces every Chinese Windows/WPS installation has (宋体 for body
#: text, 黑体 for headings, as exam papers customarily use); LibreOffice
#: substitutes its own CJK fonts for them.
DOCX_BODY_EAST_ASIA = "宋体"
DOCX_HEADING_EAST_ASIA = "黑体"
DOCX_LATIN = "Times New Roman"


class FontUnavailable(PapergenError):
    exit_code = 1  # an installation problem, not the user's input


@dataclass(frozen=True)
class FontFiles:
    regular: Path
    bold: Path


def variable_font_path() -> Path:
    try:
        path = Path(str(resources.files(FONT_PACKAGE) / FONT_RESOURCE))
    except ModuleNotFoundError:
        raise FontUnavailable(
            f"找不到字体包 {FONT_PACKAGE}",
            hint='重新安装 papergen：pip install -e ".[test]"（它依赖 justmytype-intl-cjk 提供的思源黑体/Noto Sans SC）',
        ) from None
    if not path.is_file():
        raise FontUnavailable(f"字体包 {FONT_PACKAGE} 中缺少 {FONT_RESOURCE}")
    return path


def cache_folder() -> Path:
    if os.environ.get("PAPERGEN_FONT_CACHE"):
        return Path(os.environ["PAPERGEN_FONT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "papergen" / "fonts"


def _source_tag(source: Path) -> str:
    stat = source.stat()
    import fontTools

    key = f"{source}|{stat.st_size}|{int(stat.st_mtime)}|{fontTools.version}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _make_instance(source: str, weight: int, target: str) -> str:
    """Cut one static weight out of the variable font (runs in a worker process)."""
    from fontTools.ttLib import TTFont
    from fontTools.varLib import instancer

    font = TTFont(source)
    static = instancer.instantiateVariableFont(font, {"wght": weight}, updateFontNames=True)
    with atomic.atomic_path(target) as tmp:
        static.save(str(tmp))
    return target


@lru_cache(maxsize=1)
def static_fonts() -> FontFiles:
    """Paths of the static Regular and Bold fonts, creating them if needed."""
    source = variable_font_path()
    folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    tag = _source_tag(source)
    targets = {name: folder / f"{name}-{tag}.ttf" for name in WEIGHTS}
    missing = [name for name, path in targets.items() if not path.is_file()]
    if len(missing) == 1:
        _make_instance(str(source), WEIGHTS[missing[0]], str(targets[missing[0]]))
    elif missing:
        # Two weights, two cores: cut them at the same time. WorkerPool: on
        # Ctrl-C the parent stops both workers at once (no 20 s wait, no tracebacks).
        with WorkerPool(2) as pool:
            jobs = [pool.submit(_make_instance, str(source), WEIGHTS[n], str(targets[n])) for n in missing]
            for job in jobs:
                job.result()
    return FontFiles(regular=targets[BODY], bold=targets[BOLD])


@lru_cache(maxsize=1)
def register_pdf_fonts() -> tuple[str, str]:
    """Register the fonts with reportlab; returns (body, bold) font names."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    files = static_fonts()
    pdfmetrics.registerFont(TTFont(BODY, str(files.regular)))
    pdfmetrics.registerFont(TTFont(BOLD, str(files.bold)))
    addMapping(BODY, 0, 0, BODY)
    addMapping(BODY, 1, 0, BOLD)
    addMapping(BODY, 0, 1, BODY)
    addMapping(BODY, 1, 1, BOLD)
    return BODY, BOLD
