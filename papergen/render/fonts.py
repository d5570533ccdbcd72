"""Chinese fonts for the PDFs: Noto Sans SC from a PyPI package, instanced lazily.

No font file is committed and nothing is downloaded at run time: the
``justmytype-intl-cjk`` package ships Noto Sans SC, TC, JP and KR (SIL Open
Font License) as *variable* TrueType fonts whose default instance is the Thin
weight. reportlab embeds TrueType outlines but cannot pick a weight of a
variable font, so papergen makes the Regular (400) and Bold (700) faces itself.

Cutting a whole static weight with fontTools' instancer costs about 40 s of
CPU per weight (31 000 glyphs), which made the first run of papergen silent
for up to two minutes. A document uses a thousand or two of those glyphs, so
papergen now works per glyph instead:

* a **shell** font per face, made once (about a second): every table a PDF
  subset needs (cmap, the weight's advance widths from HVAR, names, OS/2,
  head, hhea, maxp, post) with empty outlines. reportlab lays text out from it.
* the **outlines** a document really uses, instanced when reportlab writes the
  font subset into the PDF (``_LazyTTFont.addObjects``), about 0.4 ms a glyph,
  and kept in a small per-face glyph file next to the shell so later runs
  reuse them.

Every glyph is instanced on its own from the source font, and every other
table comes unchanged from the shell, so a PDF's bytes depend only on the
text it contains, never on which glyphs happen to be cached already.

Characters Noto Sans SC lacks (rare CJK Extension B characters in names,
such as 𠮷) are looked up in Noto Sans TC, JP and KR from the same package
(``font_runs`` splits text into runs by coverage); whatever none of them has
is reported by ``uncovered`` so that callers can warn instead of printing a
box silently.

Files live in ``$PAPERGEN_FONT_CACHE``, else ``$XDG_CACHE_HOME/papergen/fonts``,
else ``~/.cache/papergen/fonts``.
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

from papergen.core import atomic
from papergen.core.errors import PapergenError
from papergen.core.interrupts import stop_if_lost

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

#: Bump when the way shells or glyphs are made changes: old cache files are
#: then ignored rather than mixed with new ones.
RECIPE = "lazy-2"


class FontUnavailable(PapergenError):
    exit_code = 1  # an installation problem, not the user's input


@dataclass(frozen=True)
class Face:
    """One weight of one source font, as reportlab knows it."""

    pdf_name: str  # reportlab name and PostScript name, e.g. NotoSansSC-Regular
    family: str
    resource: str  # path inside FONT_PACKAGE
    weight: int

    @property
    def style(self) -> str:
        return "Bold" if self.weight >= 700 else "Regular"


def _face(family: str, folder: str, weight: int) -> Face:
    stem = family.replace(" ", "")
    style = "Bold" if weight >= 700 else "Regular"
    return Face(f"{stem}-{style}", family, f"fonts/ofl/{folder}/{stem}[wght].ttf", weight)


MAIN_FACES = {BODY: _face(FAMILY, "notosanssc", 400), BOLD: _face(FAMILY, "notosanssc", 700)}
#: Where a character the main font lacks is looked for, in this order. Noto
#: Sans TC first: it has the most Extension B characters (1 707) and Chinese
#: glyph shapes; then JP (e.g. 𠮷) and KR. All from the same package.
FALLBACK_FAMILIES = (("Noto Sans TC", "notosanstc"), ("Noto Sans JP", "notosansjp"), ("Noto Sans KR", "notosanskr"))
FALLBACK_FACES = {
    weight: tuple(_face(family, folder, weight) for family, folder in FALLBACK_FAMILIES) for weight in (400, 700)
}


# --- where things are ---------------------------------------------------------
def _resource_path(resource: str) -> Path:
    try:
        path = Path(str(resources.files(FONT_PACKAGE) / resource))
    except ModuleNotFoundError:
        raise FontUnavailable(
            f"找不到字体包 {FONT_PACKAGE}",
            hint='重新安装 papergen：pip install -e ".[test]"（它依赖 justmytype-intl-cjk 提供的思源黑体/Noto Sans SC）',
        ) from None
    if not path.is_file():
        raise FontUnavailable(f"字体包 {FONT_PACKAGE} 中缺少 {resource}")
    return path


def variable_font_path() -> Path:
    return _resource_path(FONT_RESOURCE)


def cache_folder() -> Path:
    if os.environ.get("PAPERGEN_FONT_CACHE"):
        return Path(os.environ["PAPERGEN_FONT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "papergen" / "fonts"


@cache
def _source_tag(source: Path) -> str:
    """Names cache files after the source font's bytes, the fontTools version and the recipe.

    By content, not path: a second virtual environment with the same font
    package reuses the files (hashing 18 MB takes a few hundredths of a second).
    """
    import fontTools

    digest = hashlib.sha256()
    with open(source, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(f"|{fontTools.version}|{RECIPE}".encode())
    return digest.hexdigest()[:12]


def _shell_path(face: Face) -> Path:
    return cache_folder() / f"{face.pdf_name}-{_source_tag(_resource_path(face.resource))}.ttf"


def _glyphs_path(face: Face) -> Path:
    return cache_folder() / f"{face.pdf_name}-{_source_tag(_resource_path(face.resource))}.glyphs"


# --- progress ----------------------------------------------------------------
Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- shells ------------------------------------------------------------------
@cache
def _variable_font(resource: str):
    """The source variable font, opened lazily (glyphs are read on demand)."""
    from fontTools.ttLib import TTFont

    return TTFont(str(_resource_path(resource)), lazy=True)


@cache
def _glyph_set(resource: str, weight: int):
    return _variable_font(resource).getGlyphSet(location={"wght": weight})


def build_shell(face: Face, target: Path) -> Path:
    """Write ``face``'s shell font: the static weight's tables with empty outlines.

    Advance widths are the weight's (the variable font's HVAR at ``wght``);
    names, OS/2 weight class and style bits say Regular or Bold; head, hhea
    and maxp are the source's as they are (no recalculation, no timestamp),
    so the shell is the same file on every machine.
    """
    from fontTools.misc.roundTools import otRound
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.tables._g_l_y_f import Glyph

    source = _resource_path(face.resource)
    font = TTFont(str(source), recalcBBoxes=False, recalcTimestamp=False)
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet(location={"wght": face.weight})
    widths = [otRound(glyph_set[name].width) for name in order]
    for tag in ("gvar", "HVAR", "VVAR", "MVAR", "cvar", "fvar", "avar", "STAT", "GSUB", "GPOS", "GDEF", "BASE",
                "vhea", "vmtx", "DSIG"):
        if tag in font:
            del font[tag]
    glyf = font["glyf"]
    glyf.glyphs = {name: Glyph() for name in order}
    glyf.glyphOrder = order
    font["hmtx"].metrics = {name: (width, 0) for name, width in zip(order, widths)}
    font["post"].formatType = 3.0  # no glyph names: reportlab never reads them
    bold = face.weight >= 700
    font["OS/2"].usWeightClass = face.weight
    font["OS/2"].fsSelection = (font["OS/2"].fsSelection & ~0b1100001) | (1 << 5 if bold else 1 << 6)
    font["head"].macStyle = (font["head"].macStyle & ~1) | (1 if bold else 0)
    names = font["name"]
    names.names = [n for n in names.names if n.nameID in (0, 5, 7, 8, 9, 11, 12, 13, 14)]
    full = f"{face.family} {face.style}"
    for name_id, text in ((1, face.family), (2, face.style), (3, f"papergen;{face.pdf_name}"), (4, full),
                          (6, face.pdf_name)):
        names.setName(text, name_id, 3, 1, 0x409)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(target) as tmp:
        font.save(str(tmp))
    return target


def ensure_shells(faces: Iterable[Face], progress: Progress | None = _stderr, what: str = "中文字体") -> list[Path]:
    """The shell files of ``faces``, making the missing ones with a progress message.

    Making one takes about a second; the message is printed once, when at
    least one has to be made, with a step count and the time it took.
    """
    faces = list(faces)
    paths = [_shell_path(face) for face in faces]
    missing = [(face, path) for face, path in zip(faces, paths) if not path.is_file()]
    if not missing:
        return paths
    say = progress or (lambda message: None)
    start = time.perf_counter()
    say(f"首次使用：正在准备{what}（只需一次）…")
    for step, (face, path) in enumerate(missing, start=1):
        stop_if_lost()  # fontTools imports as it goes: a Ctrl-C can land in an import lock's callback
        build_shell(face, path)
        say(f"  {step}/{len(missing)} {face.family} {face.style}")
    say(f"{what}准备好了（用时 {time.perf_counter() - start:.1f} 秒），以后直接使用。")
    return paths


# --- glyphs ------------------------------------------------------------------
_MAGIC = b"PGGLYPH1"


def _read_glyph_file(path: Path) -> dict[int, bytes]:
    """Glyph id → compiled outline, from a glyph file (empty if missing or foreign)."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    if not data.startswith(_MAGIC):
        return {}
    glyphs: dict[int, bytes] = {}
    pos = len(_MAGIC)
    while pos + 6 <= len(data):
        gid, length = struct.unpack_from(">HI", data, pos)
        pos += 6
        if pos + length > len(data):
            break  # cannot happen with atomic writes; a short file just loses its tail
        glyphs[gid] = data[pos:pos + length]
        pos += length
    return glyphs


def _write_glyph_file(path: Path, glyphs: dict[int, bytes]) -> None:
    """Replace the glyph file in one rename.

    Not through ``atomic.write_bytes``: that syncs to disk, which for a cache
    rewritten after many documents costs more than it protects. A file left
    empty or short by a power cut is read as far as it is whole, and the
    rest is instanced again.
    """
    parts = [_MAGIC]
    for gid in sorted(glyphs):
        parts.append(struct.pack(">HI", gid, len(glyphs[gid])))
        parts.append(glyphs[gid])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(b"".join(parts))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def instance_glyph(face: Face, gid: int) -> bytes:
    """One glyph of ``face``'s weight as compiled TrueType outline bytes.

    Drawn through fontTools' variable glyph set (gvar deltas with IUP) into a
    TrueType pen; the Noto Sans CJK variable fonts have no composite glyphs,
    and any that appeared would be drawn decomposed.
    """
    from fontTools.pens.recordingPen import DecomposingRecordingPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    font = _variable_font(face.resource)
    glyph_set = _glyph_set(face.resource, face.weight)
    name = font.getGlyphName(gid)
    recording = DecomposingRecordingPen(glyph_set)
    glyph_set[name].draw(recording)
    pen = TTGlyphPen(None)
    recording.replay(pen)
    glyph = pen.glyph()
    if glyph.numberOfContours == 0:
        return b""
    return glyph.compile(font["glyf"])


class GlyphStore:
    """The instanced outlines of one face: in memory, and in its glyph file."""

    def __init__(self, face: Face) -> None:
        self.face = face
        self.path = _glyphs_path(face)
        self.glyphs = _read_glyph_file(self.path)

    def ensure(self, gids: Iterable[int]) -> bool:
        """Instance the glyphs not yet known; returns whether any were added."""
        new = {gid: instance_glyph(self.face, gid) for gid in sorted(set(gids)) if gid not in self.glyphs}
        if not new:
            return False
        self.glyphs.update(new)
        # Another papergen may have added glyphs meanwhile: keep both (a glyph's
        # bytes are the same whoever made them).
        on_disk = _read_glyph_file(self.path)
        if set(on_disk) - set(self.glyphs):
            self.glyphs = {**on_disk, **self.glyphs}
        try:
            _write_glyph_file(self.path, self.glyphs)
        except OSError:
            pass  # a read-only cache only costs time next run, never output
        return True


def _make_lazy_font_class():
    from reportlab.pdfbase.ttfonts import SUBSETN, TTFont

    class LazyTTFont(TTFont):
        """A reportlab TrueType font whose outlines are filled in when the PDF is written.

        reportlab lays text out from the shell's cmap and widths; only when it
        writes the font subsets (``addObjects``) does it read outlines, from
        the face's ``glyf`` data and ``glyphPos``. Here the glyphs of every
        character the document used are instanced first and put in place.
        """

        def __init__(self, face: Face, shell: Path) -> None:
            super().__init__(face.pdf_name, str(shell))
            self.store = GlyphStore(face)
            self._installed = -1  # how many stored glyphs the face data holds
            glyf = self.face.table["glyf"]
            self._glyf_offset, self._glyf_length = glyf["offset"], glyf["length"]

        def addObjects(self, doc):  # reportlab's name
            state = self.state.get(doc)
            subsets = [list(subset) for subset in state.subsets] if state is not None else []
            if subsets:
                to_glyph = self.face.charToGlyph
                self.store.ensure({to_glyph.get(code, 0) for subset in subsets for code in subset})
                if len(self.store.glyphs) != self._installed:
                    self._install()
            result = super().addObjects(doc)
            self._fix_to_unicode(doc, subsets)
            return result

        def _fix_to_unicode(self, doc, subsets) -> None:
            """Write characters beyond U+FFFF (𠮷) into ToUnicode as UTF-16 surrogate pairs.

            reportlab writes ``<%04X>``, five hex digits for them, which PDF
            readers cut to four: the text would copy and search as another
            character (𠮷 as ₻).
            """
            for n, subset in enumerate(subsets):
                wide = [(i, code) for i, code in enumerate(subset) if code > 0xFFFF]
                if not wide:
                    continue
                base = (b"".join((SUBSETN(n), b"+", self.face.name, self.face.subfontNameX))).decode("pdfdoc")
                stream = doc.idToObject.get("toUnicodeCMap:" + base)
                if stream is None:
                    continue
                content = stream.content
                for i, code in wide:
                    utf16 = chr(code).encode("utf-16-be").hex().upper()
                    # the line as reportlab wrote it ("<%02X> <%04X>")
                    content = content.replace(f"<{i:02X}> <{code:04X}>\n", f"<{i:02X}> <{utf16}>\n")
                stream.content = content

        def _install(self) -> None:
            """Put the stored outlines into the face's glyf data (others stay empty)."""
            import numpy as np

            face = self.face
            glyphs = self.store.glyphs
            gids = sorted(gid for gid, data in glyphs.items() if data)
            lengths = np.zeros(len(face.glyphPos), dtype=np.int64)
            lengths[np.asarray(gids, dtype=np.int64) + 1] = [len(glyphs[gid]) for gid in gids]
            glyf = b"".join(glyphs[gid] for gid in gids)
            for gid in gids:
                # lsb = xMin, kept unsigned as reportlab reads (and writes) it
                face.hmetrics[gid] = (face.hmetrics[gid][0], struct.unpack_from(">H", glyphs[gid], 2)[0])
            data = face._ttf_data
            start, old_length = self._glyf_offset, face.table["glyf"]["length"]
            face._ttf_data = data[:start] + glyf + data[start + old_length:]
            shift = len(glyf) - old_length
            for record in face.table.values():
                if record["offset"] > start:
                    record["offset"] += shift
            face.table["glyf"]["length"] = len(glyf)
            face.glyphPos = np.cumsum(lengths).tolist()
            self._installed = len(glyphs)

    return LazyTTFont


@lru_cache(maxsize=1)
def _lazy_font_class():
    return _make_lazy_font_class()


def _register(faces: Iterable[Face], progress: Progress | None, what: str) -> None:
    from reportlab.pdfbase import pdfmetrics

    faces = list(faces)
    shells = ensure_shells(faces, progress, what)
    lazy = _lazy_font_class()
    for face, shell in zip(faces, shells):
        if face.pdf_name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(lazy(face, shell))


@lru_cache(maxsize=1)
def register_pdf_fonts(progress: Progress | None = _stderr) -> tuple[str, str]:
    """Register the main fonts with reportlab; returns (body, bold) font names."""
    from reportlab.lib.fonts import addMapping

    _register(MAIN_FACES.values(), progress, "中文字体")
    addMapping(BODY, 0, 0, BODY)
    addMapping(BODY, 1, 0, BOLD)
    addMapping(BODY, 0, 1, BODY)
    addMapping(BODY, 1, 1, BOLD)
    return BODY, BOLD


# --- coverage and runs ---------------------------------------------------------
@cache
def _cmap(resource: str) -> frozenset[int]:
    return frozenset(_variable_font(resource).getBestCmap())


#: Characters that print nothing and need no glyph (reportlab would draw a box
#: for them): zero-width joiner/non-joiner, variation selectors.
_INVISIBLE = frozenset([0x200C, 0x200D, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)])


def _weight_of(font: str) -> int:
    return 700 if font == BOLD else 400


def _face_for(code: int, weight: int) -> Face | None:
    main = MAIN_FACES[BOLD if weight >= 700 else BODY]
    if code in _cmap(main.resource):
        return main
    for face in FALLBACK_FACES[weight]:
        if code in _cmap(face.resource):
            return face
    return None


def uncovered(text: str) -> list[str]:
    """The distinct characters of ``text`` that no font papergen has can print, in order."""
    missing: list[str] = []
    for char in text:
        code = ord(char)
        if code in _INVISIBLE or char in missing or char in "\n\r\t":
            continue
        if _face_for(code, 400) is None:
            missing.append(char)
    return missing


def font_runs(text: str, font: str = BODY) -> list[tuple[str, str]]:
    """Split ``text`` into (reportlab font name, text) runs by which font has each character.

    ``font`` is the main font the text is set in (``BODY`` or ``BOLD``).
    Characters it lacks go to the first fallback face of the same weight
    that has them (registered on first use); characters no font has stay in
    ``font`` (reportlab prints an empty box: callers warn with ``uncovered``)
    and invisible joiners/variation selectors are dropped.
    """
    weight = _weight_of(font)
    runs: list[tuple[str, str]] = []
    for char in text:
        code = ord(char)
        if code in _INVISIBLE:
            continue
        face = _face_for(code, weight)
        name = font if face is None or face in MAIN_FACES.values() else face.pdf_name
        if face is not None and name != font:
            _register_fallback(face)
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1] + char)
        else:
            runs.append((name, char))
    return runs


def _register_fallback(face: Face) -> None:
    from reportlab.pdfbase import pdfmetrics

    if face.pdf_name not in pdfmetrics.getRegisteredFontNames():
        _register([face], _stderr, "生僻字字体")


def markup_runs(text: str, font: str = BODY) -> str:
    """``text`` escaped for a reportlab Paragraph, with fallback runs in ``<font name=…>``."""
    from xml.sax.saxutils import escape

    return "".join(
        escape(part) if name == font else f'<font name="{name}">{escape(part)}</font>'
        for name, part in font_runs(text, font)
    )


def runs_width(text: str, font: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return sum(stringWidth(part, name, size) for name, part in font_runs(text, font))


def draw_runs(canvas, x: float, y: float, text: str, font: str, size: float, anchor: str = "left") -> None:
    """Draw ``text`` on a reportlab canvas at (x, y), switching fonts per run."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    runs = font_runs(text, font)
    if anchor != "left":
        width = sum(stringWidth(part, name, size) for name, part in runs)
        x -= width if anchor == "right" else width / 2
    for name, part in runs:
        canvas.setFont(name, size)
        canvas.drawString(x, y, part)
        x += stringWidth(part, name, size)
    canvas.setFont(font, size)


def person_warnings(place: str, name: str, klass: str) -> list[str]:
    """Warnings for a roster entry's name and class (``place``: "名单第 7 行"), one per field with a missing character."""
    found = (missing_text_warning(place, label, text) for label, text in (("姓名", name), ("班级", klass)))
    return [warning for warning in found if warning]


def missing_text_warning(place: str, field: str, text: str) -> str | None:
    """The Chinese warning for a text some of whose characters no font has, or None."""
    missing = uncovered(text)
    if not missing:
        return None
    return f"{place}：{field}“{text}”中的 {' '.join(missing)} 字体中没有，打印出来会是空框"
