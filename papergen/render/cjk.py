"""Chinese line breaking (禁则) for every reportlab paragraph papergen draws.

reportlab's ``wordWrap="CJK"`` (5.x: ``platypus.paragraph.cjkFragSplit`` and,
for one-font paragraphs, ``lib.textsplit.dumbSplit``) fills each line
character by character and, when a line overflows, does two things only:

- if the overflowing character is in ``textsplit.ALL_CANNOT_START`` it hangs
  it in the margin (past the frame's edge) instead of starting a line with it.
  That list has the ASCII marks and 、。」』】）, but not ，；：？！”’》〉…;
- if the overflowing character is below U+3000 (a digit, a Latin letter, but
  also “ ” … —) it moves the run it belongs to down whole.

``ALL_CANNOT_END`` is never consulted, so "（“‘《" can end a line; a number is
split from what it counts whenever the line runs out on the ideograph after it
("培训10|余次"); and a closing quote ” may start a line. A paragraph split
across pages also gets a stray space at the end of each of its lines.

``CJKParagraph`` breaks lines itself instead: a line may end only where
``break_allowed`` says so, which adds the missing rules, and never runs past
its width (a closing mark takes the character before it down to the next line
rather than hanging). Where no allowed break exists in an over-long run (a long
number or URL), it falls back to a character break. Papers, keys and feedback
PDFs all lay out their text with it.
"""

from __future__ import annotations

import unicodedata

from reportlab.lib.textsplit import ALL_CANNOT_END, ALL_CANNOT_START
from reportlab.platypus.paragraph import (
    Paragraph,
    ParaLines,
    _handleBulletWidth,
    _processed_frags,
    cjkU,
    makeCJKParaLine,
)
from reportlab.rl_config import _FUZZ

#: Marks that never start a line: reportlab's list plus the Chinese closing
#: punctuation it lacks (full-width ，；：？！．, closing quotes and book-title
#: marks, ellipsis, percent).
CANNOT_START = frozenset(ALL_CANNOT_START + "，．；：？！）」』”’》〉】〕〗〙］｝…‥%")
#: Marks that never end a line: reportlab's list plus the opening brackets it lacks.
CANNOT_END = frozenset(ALL_CANNOT_END + "（“‘《〈【〔〖〘［｛「『([{")
#: Spaces that must not become a line break (``&nbsp;`` in markup, the answer blanks).
NO_BREAK_SPACES = frozenset("\u00a0\u2007\u202f")
#: After "10余", "30多", "6个" the next ideograph still belongs to the number ("10余次", "6个月").
NUMBER_CONTINUES_AFTER = frozenset("余多几个")
#: "第" stays with the number that follows it ("第3").
ORDINAL_PREFIX = "第"


def _is_ideograph(ch: str) -> bool:
    return unicodedata.category(ch) == "Lo" and ord(ch) >= 0x2E80


def _is_word_char(ch: str) -> bool:
    """Digits, Latin letters and the symbols inside them ("1+4", "80%", "3.5", "——")."""
    return ord(ch) < 0x2E80 and not ch.isspace() and ch not in NO_BREAK_SPACES


def break_allowed(before: str, after: str, before_that: str = "") -> bool:
    """May a line end between ``before`` and ``after`` (single characters)?

    ``before_that`` is the character preceding ``before`` ("" if none): it
    tells "10余|次" (no) from "剩余|次" (yes).

    >>> break_allowed("训", "1"), break_allowed("0", "余"), break_allowed("难", "”")
    (True, False, False)
    """
    if after in CANNOT_START or before in CANNOT_END:
        return False
    if before in NO_BREAK_SPACES or after in NO_BREAK_SPACES or after.isspace():
        return False  # a space ends the line it follows, it never starts one
    if _is_word_char(before) and _is_word_char(after):
        return False  # "2026", "1+4", "80%", "AB", "……"
    if before.isdigit() and _is_ideograph(after):
        return False  # "2026年", "6个月", "10余"
    if before in NUMBER_CONTINUES_AFTER and before_that.isdigit() and _is_ideograph(after):
        return False  # "10余次", "6个月"
    if before == ORDINAL_PREFIX and after.isdigit():
        return False  # "第3题"
    return True


def break_positions(text: str) -> list[bool]:
    """``result[i]``: may a line start at ``text[i]``? (``result[0]`` is False.)"""
    allowed = [False] * len(text)
    for i in range(1, len(text)):
        allowed[i] = break_allowed(text[i - 1], text[i], text[i - 2] if i > 1 else "")
    return allowed


def _units(frags) -> list:
    """One ``cjkU`` per character (and one empty one per text-less frag), as reportlab's CJK splitter uses."""
    units = []
    for frag in frags:
        text = frag.text if hasattr(frag, "text") else "".join(getattr(frag, "words", []))
        if isinstance(text, bytes):
            text = text.decode("utf8")
        if text:
            units.extend(cjkU(ch, frag, "utf8") for ch in text)
        else:
            units.append(cjkU(text, frag, "utf8"))
    return units


def _unit_width(unit, max_width: float) -> float:
    width = unit.width
    if hasattr(width, "normalizedValue"):  # a percentage-wide inline image
        width._normalizer = max_width
        width = width.normalizedValue(max_width)
    return width


def _allowed_starts(units) -> list[bool]:
    """``break_positions`` over the visible characters; text-less units (font changes) are see-through."""
    visible = [i for i, unit in enumerate(units) if unit]
    text = "".join(units[i] for i in visible)
    allowed_visible = break_positions(text)
    allowed = [False] * len(units)
    # A break "before visible character k" is placed before any text-less
    # units that precede it, so a font change travels with its text.
    previous = -1
    for k, index in enumerate(visible):
        if allowed_visible[k]:
            allowed[previous + 1] = True
        previous = index
    return allowed


def _fallback_break(units, start: int, overflow: int) -> int:
    """Where to cut a run longer than the line that has no allowed break.

    The last place where at least the punctuation rules hold (no closing mark
    starts the next line, no opening mark ends this one); failing that, at
    the overflow.
    """
    for cut in range(overflow, start, -1):
        if units[cut] not in CANNOT_START and units[cut - 1] not in CANNOT_END:
            return cut
    return overflow


def split_lines(frags, max_widths: list[float], calc_bounds: bool) -> ParaLines:
    """Break ``frags`` into lines of at most ``max_widths[k]`` points, following ``break_allowed``."""
    units = _units(frags)
    allowed = _allowed_starts(units)
    lines = []
    start = 0
    used = 0.0

    def close(end: int, line_break: bool) -> None:
        nonlocal start, used
        max_width = max_widths[min(len(lines), len(max_widths) - 1)]
        width = sum(_unit_width(unit, max_width) for unit in units[start:end])
        trailing = end
        while trailing > start and units[trailing - 1].isspace():
            trailing -= 1
        inked = width - sum(_unit_width(unit, max_width) for unit in units[trailing:end])
        lines.append(makeCJKParaLine(units[start:end], max_width, inked, max_width - inked, line_break, calc_bounds))
        start, used = end, 0.0

    i = 0
    while i < len(units):
        unit = units[i]
        if hasattr(unit.frag, "lineBreak"):
            close(i + 1, True)
            i += 1
            continue
        max_width = max_widths[min(len(lines), len(max_widths) - 1)]
        width = _unit_width(unit, max_width)
        if used + width > max_width + _FUZZ and i > start and unit:
            cut = next((p for p in range(i, start, -1) if allowed[p]), None)
            close(cut if cut is not None else _fallback_break(units, start, i), False)
            i = start
            continue
        used += width
        i += 1
    if start < len(units) and used > 0:
        close(len(units), False)
    return ParaLines(kind=1, lines=lines)


def _split_lines_as_written(bl_para, start: int, stop: int) -> list:
    """The frags of lines ``start:stop``, without the space reportlab adds after each line.

    reportlab's ``_split_blParaHard`` appends " " to every line but the last
    (right for English, whose breaks ate a space); in Chinese it would put a
    stray space into the text on the next page.
    """
    frags = []
    for line in bl_para.lines[start:stop]:
        frags.extend(line.words)
    return frags


class CJKParagraph(Paragraph):
    """A reportlab ``Paragraph`` whose CJK line breaking follows Chinese rules (see the module doc).

    Use it with styles that have ``wordWrap="CJK"``.
    """

    def breakLinesCJK(self, maxWidths):  # noqa: N802, N803 (reportlab's names)
        if not isinstance(maxWidths, (list, tuple)):
            maxWidths = [maxWidths]
        self.height = 0
        _handleBulletWidth(self.bulletText, self.style, maxWidths)
        if hasattr(self, "blPara") and getattr(self, "_splitpara", 0):
            return self.blPara  # the first part of a split: its lines are already decided
        if not self.frags:
            return super().breakLinesCJK(maxWidths)
        auto_leading = getattr(self, "autoLeading", getattr(self.style, "autoLeading", ""))
        return split_lines(self.frags, list(maxWidths), auto_leading not in ("", "off"))

    def _get_split_blParaFunc(self):  # noqa: N802 (reportlab's name)
        if self.blPara.kind == 1 and not _processed_frags(self.frags):
            return _split_lines_as_written
        return super()._get_split_blParaFunc()


__all__ = ["CANNOT_END", "CANNOT_START", "CJKParagraph", "break_allowed", "break_positions", "split_lines"]
