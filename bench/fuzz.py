"""Fuzz campaign: importers, bank validator and scan decoder (prints a summary; not a test).

    nice -n 19 python bench/fuzz.py --minutes 10 --target all
    nice -n 19 python bench/fuzz.py --minutes 3 --target text,gift --seed 7
    python bench/fuzz.py --replay /tmp/fuzz-findings/text/<finding>/input.txt --target text
    python bench/fuzz.py --minimize /tmp/fuzz-findings/text/<finding>/input.txt --target text

A seeded mutational loop over real inputs (no coverage feedback, so no extra
tooling): the sample bank exported to every format papergen reads (text,
DOCX, XLSX, Moodle XML, GIFT, Aiken), the test fixtures and ../shared/seeds,
and answer-sheet scans (the committed ones plus a few fresh ``simulate``
sheets as PNG, PDF and TIFF). Each input is a random stack of mutations:
byte flips, truncation, chunk duplication and splicing, inserted unicode,
control characters and huge numbers, format tokens; line shuffles and
deleted answer lines for text formats; XML edits inside re-zipped DOCX/XLSX
members; cell-level edits of rebuilt workbooks and documents; header fields
of JPEG/PNG/TIFF/PDF; image-level damage; and a forged QR payload pasted over
the sheet's own code.

Oracle. An importer may succeed or raise one of papergen's own errors
(``papergen.core.errors``); what it imports must then be a bank that papergen
itself reads back without errors. ``bank validate`` must report, not crash,
and a clean bank must survive a write/read round trip. For scans, ingest and
``grading.process_page`` (called in-process, serially) must return a page
record; a bad page is an error/flag row, never an exception. Anything else is
a finding: any other exception, an input running over ``--timeout`` seconds
(``signal.setitimer``; inputs stuck inside C code are caught by a
``faulthandler`` watchdog that ends the worker), a crash of the worker, or
its memory passing ``--mem-mb``.

The fuzzing runs in one worker process at a time; the parent only waits,
restarts the worker after a hang or crash, and prints the table. Findings
are kept under ``--findings`` (default /tmp/fuzz-findings/<target>/<key>/:
the smallest input seen, its traceback and a count), one folder per
(exception type, innermost papergen frame).
"""

from __future__ import annotations

import argparse
import faulthandler
import hashlib
import io
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PACKAGE_DIR = str(ROOT / "papergen")

TARGETS = ("text", "docx", "xlsx", "moodle", "gift", "aiken", "bank", "scan")
EXTENSIONS = {
    "text": ".txt", "docx": ".docx", "xlsx": ".xlsx", "moodle": ".xml", "gift": ".gift",
    "aiken": ".txt", "bank": ".yaml", "scan": ".bin",
}
SAMPLE_BANK = ROOT / "banks" / "xinjiuye-dangjian.yaml"
COMMITTED_SCANS = ROOT / "scans" / "2026-mock-03"
SHARED_SEEDS = ROOT.parent / "shared" / "seeds"
SCAN_PAGES_PER_INPUT = 3  # a fuzzed PDF/TIFF may claim many pages; grade the first few
#: Generated text inputs are cut to at most this size: stacked duplications can
#: otherwise grow without bound. Big enough to find slow (quadratic) paths,
#: below the 20 MB input limit so they still reach the readers.
MAX_GENERATED_BYTES = 8 * 1024 * 1024


class InputTimeout(BaseException):
    """Raised by the interval timer; a BaseException so ``except Exception`` in papergen cannot swallow it."""


class InvariantBroken(Exception):
    """The call returned, but what it returned is wrong (e.g. an imported bank that does not read back)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------
# Seeds


def prepare_seeds(folder: Path, targets: list[str]) -> None:
    """Build the seed inputs once (cached in ``folder``)."""
    from papergen.bank import files as bankfile
    from papergen.bank import importer

    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / ".complete"
    if not marker.exists():
        (bank,) = bankfile.load_banks([SAMPLE_BANK])
        exports = folder / "exports"
        exports.mkdir(exist_ok=True)
        for fmt, name in (("xlsx", "bank.xlsx"), ("moodle", "bank.xml"), ("gift", "bank.gift"),
                          ("aiken", "bank.aiken.txt"), ("text", "bank.txt")):
            importer.export_bank(bank, exports / name, fmt)
        _make_docx_seeds(folder / "docx", exports / "bank.txt")
        marker.write_text("ok")
    if "scan" in targets and not (folder / "scans" / ".complete").exists():
        _make_scan_seeds(folder / "scans")


def _make_docx_seeds(folder: Path, text_export: Path) -> None:
    import docx

    folder.mkdir(exist_ok=True)
    sources = [text_export] + sorted(SHARED_SEEDS.glob("*.txt"))[:3]
    for index, source in enumerate(sources):
        lines = source.read_text(encoding="utf-8").splitlines()[:400]
        document = docx.Document()
        for line in lines:
            document.add_paragraph(line)
        document.save(folder / f"seed-{index}.docx")
    # Word's automatic numbering and a table: the paths docx.py adds to cntext.
    document = docx.Document()
    _add_numbering(document, 90, [("decimal", 1), ("upperLetter", 1)])
    lines = text_export.read_text(encoding="utf-8").splitlines()[:120]
    table = None
    for line in lines:
        question = re.match(r"^\d+．(.*)$", line)
        option = re.match(r"^[A-H]．(.*)$", line)
        if question:
            _numbered(document, question.group(1), 0, 90)
        elif option:
            _numbered(document, option.group(1), 1, 90)
        elif line.startswith("【解析】") and table is None:
            table = document.add_table(rows=1, cols=1)
            table.cell(0, 0).paragraphs[0].text = line
        else:
            document.add_paragraph(line)
    document.save(folder / "seed-numbered.docx")


def _add_numbering(document, num_id: int, levels: list[tuple[str, str | int]], ilvls: list[str] | None = None) -> None:
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    numbering = document.part.numbering_part.element
    body = "".join(
        f'<w:lvl w:ilvl="{ilvls[i] if ilvls else i}"><w:start w:val="{start}"/><w:numFmt w:val="{fmt}"/>'
        f'<w:lvlText w:val="%{i + 1}."/></w:lvl>'
        for i, (fmt, start) in enumerate(levels)
    )
    numbering.insert(0, parse_xml(f'<w:abstractNum {nsdecls("w")} w:abstractNumId="{num_id}">{body}</w:abstractNum>'))
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="{num_id}"><w:abstractNumId w:val="{num_id}"/></w:num>'))


def _numbered(document, text: str, level: int | str, num_id: int | str):
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    paragraph = document.add_paragraph(text)
    paragraph._p.get_or_add_pPr().append(
        parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>')
    )
    return paragraph


def _make_scan_seeds(folder: Path) -> None:
    from PIL import Image

    from papergen.sim.run import simulate

    exam_json = COMMITTED_SCANS / "exam.json"
    folder.mkdir(parents=True, exist_ok=True)
    simulate(exam_json, 2, folder / "png-clean", seed=11, degrade="none", fmt="png", dpi=150)
    simulate(exam_json, 2, folder / "pdf", seed=12, degrade="scan", fmt="pdf", dpi=150)
    simulate(exam_json, 2, folder / "jpg-harsh", seed=13, degrade="harsh", fmt="jpg", dpi=120)
    pages = [Image.open(p).convert("L") for p in sorted((folder / "png-clean").glob("*.png"))]
    (folder / "tiff").mkdir(exist_ok=True)
    pages[0].save(folder / "tiff" / "two-pages.tif", save_all=True, append_images=pages[1:], compression="tiff_lzw")
    pages[0].point(lambda v: 255 if v > 150 else 0).convert("1").save(folder / "tiff" / "bilevel.tif", compression="group4")
    (folder / ".complete").write_text("ok")


def text_seeds(target: str, folder: Path) -> list[str]:
    exports = folder / "exports"
    files: list[Path] = []
    if target == "text":
        files = [exports / "bank.txt", *sorted((ROOT / "tests" / "fixtures" / "text").glob("*.txt")),
                 *sorted(SHARED_SEEDS.glob("*.txt"))]
    elif target == "gift":
        files = [exports / "bank.gift", *sorted((ROOT / "tests" / "fixtures" / "gift").glob("*.gift"))]
    elif target == "moodle":
        files = [exports / "bank.xml", *sorted((ROOT / "tests" / "fixtures" / "moodle").glob("*.xml"))]
    elif target == "aiken":
        files = [exports / "bank.aiken.txt"]
    elif target == "bank":
        files = [SAMPLE_BANK]
    elif target == "docx":  # semantic DOCX inputs are built from text lines
        files = [exports / "bank.txt", *sorted(SHARED_SEEDS.glob("*.txt"))]
    return [path.read_text(encoding="utf-8") for path in files if path.exists()]


# ---------------------------------------------------------------------------
# Mutation vocabulary

UNICODE = [
    "\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\x1c", "\x1e", "\x1b", "\x7f", "\x01", "\u200b", "\u200d", "\u202e",
    "\ufeff", "\u3000", "\xa0", "²", "³", "¹", "①", "⑴", "Ⅻ", "٣", "۵", "߃", "𐩀", "𝟓", "５", "Ａ", "ａ", "Ｚ",
    "😀", "\U0010ffff", "\ufffd", "e\u0301", "İ", "ß", "ﬁ", "\\", "{", "}", "[", "]", "<", ">", "&", "%", "#", "~",
    "=", ":", "：", "、", "．", "/", "//", "'", '"', "|", "- ", "? ", "*", "!", "@", "`", "\t", "\r", "\n", "\r\n",
]
NUMBERS = [
    "0", "-1", "00", "1e309", "-1e309", "99999999999999999999", "9" * 5000, "1" * 400, "NaN", "nan", "inf", "-0",
    "0x10", "0o17", "1_0", "4294967296", "18446744073709551616", "３", "²", "٣", "1.5", "0.0", "2.", ".5", "1e3",
]
TOKENS = {
    "text": [
        "1．", "2、", "3.", "【练习-1】", "【例2】", "第3题", "（1）", "(12)", "A．", "B、", "C.", "(C)", "（D）", "Ｅ．", "H．", "I．",
        "【答案】", "【答案】A", "【答案】A、C", "答案：", "答案：Z", "正确答案：B", "参考答案", "参考答案及解析", "【参考答案】",
        "1．A 2．C 4．ABC", "1-A", "99999999999999999999．A", "【解析】", "解析：", "【解析】：", "详解", "（多选）", "【多选题】",
        "（单选）", "（不定项）", "一、单项选择题", "二、多项选择题", "三、判断题", "四、简答题", "【知识点】", "【知识点】/a//b/",
        "【考点】", "【难度】", "【难度】0", "【难度】难", "【难度】9" + "9" * 4400, "【难度】²", "【难度】𐩀", "【难度】٣",
        "【编号】", "【编号】a b", "【编号】" + "x" * 80, "【标签】", "【标签】、、", "【来源】", "本文链接", "http://x.cn/a",
        "www.x.cn", "上一篇", "（编辑：张）", "第" + "9" * 5000 + "题", "9" * 5000 + "．题干", "【练习-" + "9" * 5000 + "】",
    ],
    "gift": [
        "::", "::Q1::", "::题目::", "{", "}", "{}", "=", "~", "~%50%", "~%-100%", "~%abc%", "%", "####", "#", "\\", "\\n",
        "$CATEGORY: ", "$CATEGORY: $course$/top/", "$CATEGORY: $course$/top/Default for 课程", "$CATEGORY: //",
        "// papergen: ", '// papergen: {"difficulty": 3}', '// papergen: {"difficulty": true}',
        '// papergen: {"difficulty": 99999999999999999999}', '// papergen: {"pin": "ZZ"}', '// papergen: {"pin": 5}',
        '// papergen: {"tags": [1, null]}', '// papergen: {"tags": "ab"}', '// papergen: {"source": 5}',
        "// papergen: " + "[" * 3000, '// papergen-bank: {"bank": 1}', '// papergen-bank: {"bank": "a b", "title": []}',
        '// papergen-bank: {"title": "  "}', "// papergen-bank: " + "{\"a\":" * 2000, "// [id:x] [tag:y]", "// [id:]",
        "[html]", "[markdown]", "[plain]", "{T}", "{F}", "{TRUE#fb}", "{#1:2}", "{=a ~b}", "{=a =b}", "{~a ~b}",
        "{=a -> b}", "{=<p>x</p> ~<script>y}",
    ],
    "aiken": [
        "A. ", "B) ", "C. x", "ANSWER: A", "ANSWER: Z", "ANSWER:", "ANSWER: AB", "answer：b", "ANSWER: 1", "Z. x", "I) y",
        "一、单项选择题", "A.x", "ANSWER: " + "A" * 5000,
    ],
    "moodle": [
        '<question type="multichoice">', '<question type="truefalse">', '<question type="category">',
        '<question type="essay">', '<question>', "</question>", '<answer fraction="100">', '<answer fraction="abc">',
        '<answer fraction="1e309">', '<answer fraction="nan">', '<answer fraction="-0">', "</answer>",
        "<single>false</single>", "<single>maybe</single>", "<text>", "</text>", "<![CDATA[", "]]>", "&amp;", "&#0;",
        "&#1;", "&#x110000;", "&nbsp;", "&lt;", "<!DOCTYPE quiz>", "<!ENTITY a 'b'>",
        "<tags><tag><text>papergen:pin=Z</text></tag></tags>", "<tags><tag><text>papergen:pin=</text></tag></tags>",
        "<tags><tag><text>papergen:difficulty=²</text></tag></tags>",
        "<tags><tag><text>papergen:difficulty=𐩀</text></tag></tags>",
        "<tags><tag><text>papergen:difficulty=" + "9" * 5000 + "</text></tag></tags>",
        "<tags><tag><text>papergen:source=</text></tag></tags>", "<tags><tag><text></text></tag></tags>",
        "<idnumber>papergen-bank:</idnumber>", "<idnumber>papergen-bank:a b</idnumber>", "<idnumber> </idnumber>",
        "<category><text>$course$/top/Default for X</text></category>", "<category><text>//</text></category>",
        "<category><text></text></category>", "<info format=\"html\"><text> </text></info>", 'format="html"',
        'format="markdown"', "<img src=x>", "<script>", "</script>", "<br>", "<p>", "</p>", "<?xml version='1.0'?>",
        '<?xml version="1.0" encoding="GBK"?>', '<?xml version="1.0" encoding="UTF-16"?>', "<quiz>", "</quiz>",
    ],
    "bank": [
        "{", "}", "[", "]", "? ", "- ", ": ", "&a ", "*a", "!!str ", "!x ", "---", "...", "%YAML 1.1", "%TAG ! x",
        "2001-13-01", "2001-02-30", "2001-12-14t21:59:43.10-05:00", "2001-12-14 99:99:99", "1979-01-01", ".nan", ".inf",
        "-.inf", "0x1F", "0o17", "0b101", "1_000", "~", "null", "yes", "no", "on", "off", "<<: ", "'", '"', "|", ">",
        "|-", "# ", "=", "0:0:0", "190:20:30", "1e999", "- - - - - x", "[" * 2000, "{a: " * 2000, "- " * 500 + "x",
        "? [a]", "? {a: b}", "\t", "  ", "id: ", "type: single", "type: 单选", "answer: AA", "answer: [A]",
        "difficulty: true", "difficulty: 3.0", "options: {a: b}", "options:\n    - {text: x, pin: yes}", "tags: a",
        "bank: [a]", "title: {a: b}", "questions: {}",
    ],
}
TOKENS["docx"] = TOKENS["text"]
BOUNDARY_INTS = [0, 1, 2, 7, 8, 9, 10, 255, 256, 32767, 32768, 65535, 65536, 2**31 - 1, 2**32 - 1]


def _pick(rng: random.Random, items):
    return items[rng.randrange(len(items))]


def _interesting_text(rng: random.Random, target: str) -> str:
    roll = rng.random()
    if roll < 0.4:
        return _pick(rng, TOKENS.get(target, TOKENS["text"]))
    if roll < 0.7:
        return "".join(_pick(rng, UNICODE) for _ in range(rng.randint(1, 4)))
    if roll < 0.9:
        return _pick(rng, NUMBERS)
    return _pick(rng, UNICODE) * rng.choice((50, 1000, 20000))


# --- bytes ----------------------------------------------------------------


def mutate_bytes(rng: random.Random, data: bytes, others: list[bytes], head_bias: bool = False) -> bytes:
    """One generic byte-level mutation."""
    buf = bytearray(data)
    if not buf:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))

    def position() -> int:
        if head_bias and rng.random() < 0.6:
            return rng.randrange(min(len(buf), 2048))
        return rng.randrange(len(buf))

    op = rng.randrange(9)
    if op == 0:  # bit flips
        for _ in range(rng.randint(1, 8)):
            buf[position()] ^= 1 << rng.randrange(8)
    elif op == 1:  # interesting bytes
        for _ in range(rng.randint(1, 4)):
            at = position()
            value = _pick(rng, [b"\x00", b"\xff", b"\x80", b"\x7f", b"\xc0\x80", b"\xef\xbb\xbf", b"\r", b"\n", b"\xed\xa0\x80"])
            buf[at : at + len(value)] = value
    elif op == 2:  # truncate
        del buf[rng.randrange(len(buf)) :]
    elif op == 3:  # delete a chunk
        at = position()
        del buf[at : at + rng.randint(1, max(1, len(buf) // 8))]
    elif op == 4:  # duplicate a chunk
        at = position()
        chunk = buf[at : at + rng.randint(1, 4096)]
        where = position()
        buf[where:where] = chunk * rng.randint(1, 20)
    elif op == 5:  # insert random bytes
        at = position()
        buf[at:at] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 32)))
    elif op == 6 and others:  # splice with another seed
        other = _pick(rng, others)
        cut, cut2 = rng.randrange(len(buf) + 1), rng.randrange(len(other) + 1)
        buf = buf[:cut] + bytearray(other[cut2:])
    elif op == 7:  # overwrite a 1/2/4-byte integer with a boundary value
        at = position()
        width = _pick(rng, [1, 2, 4])
        value = _pick(rng, BOUNDARY_INTS) % (1 << (8 * width))
        buf[at : at + width] = value.to_bytes(width, _pick(rng, ["big", "little"]))
    else:  # swap two chunks
        a, b = sorted((position(), position()))
        size = rng.randint(1, 256)
        if a + size <= b:
            buf[a : a + size], buf[b : b + size] = buf[b : b + size], buf[a : a + size]
    return bytes(buf)


# --- text formats -----------------------------------------------------------

ANSWER_LINE = re.compile(r"(答案|ANSWER|####|fraction=\"[1-9]|^\s*=|参考答案|answer:)", re.I)


def excerpt(rng: random.Random, text: str, target: str) -> str:
    """A random stretch of a seed, whole units only (questions, blocks, lines)."""
    if rng.random() < 0.1:
        return text
    if target == "moodle":
        parts = re.split(r"(?=\n\s*<question\b)", text)
        head, body = parts[0], parts[1:]
        if not body:
            return text
        start = rng.randrange(len(body))
        chosen = body[start : start + rng.randint(1, 12)]
        tail = "" if chosen[-1].rstrip().endswith("</quiz>") else "\n</quiz>\n"
        return head + "".join(chosen) + tail
    if target == "bank":
        parts = re.split(r"(?=\n  - id:)", text)
        head, body = parts[0], parts[1:]
        chosen = rng.sample(body, min(len(body), rng.randint(1, 8))) if body else []
        return head + "".join(chosen) + "\n"
    lines = text.split("\n")
    if target == "gift" and rng.random() < 0.5:
        keep = lines[:2]
    else:
        keep = []
    start = rng.randrange(len(lines))
    return "\n".join(keep + lines[start : start + rng.randint(3, 120)])


def mutate_text(rng: random.Random, text: str, target: str, others: list[str]) -> str:
    """One structure-aware mutation of a text-like input."""
    lines = text.split("\n")
    op = rng.randrange(14)
    if op == 0 and len(lines) > 1:  # shuffle a window of lines
        a = rng.randrange(len(lines))
        window = lines[a : a + rng.randint(2, 12)]
        rng.shuffle(window)
        lines[a : a + len(window)] = window
    elif op == 1:  # delete lines
        for _ in range(rng.randint(1, 5)):
            if lines:
                del lines[rng.randrange(len(lines))]
    elif op == 2:  # delete the answer lines
        answer_lines = [i for i, line in enumerate(lines) if ANSWER_LINE.search(line)]
        for i in reversed(rng.sample(answer_lines, min(len(answer_lines), rng.randint(1, 6)))):
            del lines[i]
    elif op == 3 and lines:  # duplicate a line (sometimes many times), within the size cap
        i = rng.randrange(len(lines))
        times = min(_pick(rng, [1, 2, 10, 2000]), MAX_GENERATED_BYTES // (len(lines[i]) + 1))
        lines[i:i] = [lines[i]] * times
    elif op == 4 and lines:  # insert a token at a line start
        i = rng.randrange(len(lines) + 1)
        lines.insert(i, _interesting_text(rng, target) + (_pick(rng, lines) if rng.random() < 0.5 else ""))
    elif op == 5 and lines:  # insert something inside a line
        i = rng.randrange(len(lines))
        at = rng.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:at] + _interesting_text(rng, target) + lines[i][at:]
    elif op == 6:  # replace a number with a huge/odd one
        matches = list(re.finditer(r"\d+", text))
        if matches:
            m = _pick(rng, matches)
            return text[: m.start()] + _pick(rng, NUMBERS) + text[m.end() :]
    elif op == 7 and lines:  # change indentation / blank lines
        i = rng.randrange(len(lines))
        lines[i] = _pick(rng, ["", " ", "  ", "    ", "\t", "\u3000"]) + lines[i].lstrip() if rng.random() < 0.7 else ""
    elif op == 8 and others:  # splice lines from another seed
        other = _pick(rng, others).split("\n")
        a = rng.randrange(len(other))
        i = rng.randrange(len(lines) + 1)
        lines[i:i] = other[a : a + rng.randint(1, 30)]
    elif op == 9:  # line endings
        return text.replace("\n", _pick(rng, ["\r\n", "\r", "\u2028", "\x85", "\n\n", "\x0c"]))
    elif op == 10 and lines:  # swap a character class: full-width / half-width, letters
        i = rng.randrange(len(lines))
        table = _pick(rng, [str.maketrans("ABCD", "ＡＢＣＤ"), str.maketrans("．、", ".,"), str.maketrans("ABCDEFGH", "abcdefgh"),
                            str.maketrans("0123456789", "０１２３４５６７８９"), str.maketrans("【】", "[]")])
        lines[i] = lines[i].translate(table)
    elif op == 11 and lines:  # truncate a line
        i = rng.randrange(len(lines))
        lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
    elif op == 12:  # deep nesting (YAML, JSON comments, XML), balanced so parsers get past it
        depth = _pick(rng, [50, 500, 3000])
        opener, closer = _pick(rng, [("[", "]"), ("{a: ", "}"), ("<p>", "</p>"), ("<b>", "</b>"), ('{"a":', "}"),
                                     ("[", ""), ("- ", "")])
        nested = opener * depth + "1" + closer * depth
        i = rng.randrange(len(lines) + 1)
        if lines and rng.random() < 0.5:  # as the value of an existing line
            i = min(i, len(lines) - 1)
            lines[i] = lines[i] + (" " if target == "bank" else "") + nested
        else:
            lines.insert(i, nested)
    else:  # regex-free token substitution of a random word
        words = list(re.finditer(r"[\w\u4e00-\u9fff]+", text))
        if words:
            m = _pick(rng, words)
            return text[: m.start()] + _interesting_text(rng, target) + text[m.end() :]
    return "\n".join(lines)


def mutate_xml(rng: random.Random, text: str, target: str) -> str:
    """One XML-aware mutation: attribute values, elements, text content."""
    op = rng.randrange(6)
    if op == 0:
        attrs = list(re.finditer(r'([\w:]+)="([^"]*)"', text))
        if attrs:
            m = _pick(rng, attrs)
            value = _pick(rng, ["", "-1", "0", "1", "9", "10", "99", "abc", "1e309", "nan", "A", "Z", "true", "2",
                                "decimal", "upperLetter", "lowerLetter", "bullet", "upperRoman", "chineseCounting",
                                "99999999999999999999", "s", "b", "e", "n", "str", "inlineStr", "d"])
            return text[: m.start(2)] + value + text[m.end(2) :]
    elif op == 1:
        elements = list(re.finditer(r"<([\w:]+)\b[^<>]*?(?:/>|>[^<]*</\1>)", text))
        if elements:
            m = _pick(rng, elements)
            if rng.random() < 0.5:
                return text[: m.start()] + text[m.end() :]
            return text[: m.end()] + m.group(0) * rng.randint(1, 30) + text[m.end() :]
    elif op == 2:
        contents = list(re.finditer(r">([^<>]{1,200})<", text))
        if contents:
            m = _pick(rng, contents)
            new = _interesting_text(rng, target)
            new = new.replace("&", "&amp;").replace("<", "&lt;") if rng.random() < 0.8 else new
            return text[: m.start(1)] + new + text[m.end(1) :]
    elif op == 3:
        starts = [m.start() for m in re.finditer(r"<", text)]
        if starts:
            at = _pick(rng, starts)
            return text[:at] + _pick(rng, TOKENS.get(target, TOKENS["moodle"])) + text[at:]
    elif op == 4:
        return text[: rng.randrange(len(text) + 1)]
    return mutate_text(rng, text, target, [])


# --- zip containers ---------------------------------------------------------


def rezip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def mutate_zip_members(rng: random.Random, data: bytes, target: str, preferred: list[str]) -> bytes:
    members = unzip(data)
    for _ in range(rng.randint(1, 3)):
        names = [n for n in members if n in preferred] if rng.random() < 0.8 else list(members)
        names = names or list(members)
        name = _pick(rng, names)
        op = rng.random()
        if op < 0.08:
            del members[name]
        elif op < 0.15:
            members[name] = mutate_bytes(rng, members[name], [])
        else:
            text = members[name].decode("utf-8", "replace")
            members[name] = mutate_xml(rng, text, target).encode("utf-8")
    if rng.random() < 0.05:
        members["extra/" + str(rng.randrange(100)) + ".xml"] = b"<x/>" * rng.randint(1, 10000)
    return rezip(members)


DOCX_PARTS = ["word/document.xml", "word/numbering.xml", "word/styles.xml", "[Content_Types].xml",
              "word/_rels/document.xml.rels", "_rels/.rels"]
XLSX_PARTS = ["xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml", "xl/sharedStrings.xml", "xl/workbook.xml",
              "xl/styles.xml", "[Content_Types].xml", "xl/_rels/workbook.xml.rels"]


def build_docx(rng: random.Random, lines: list[str]) -> bytes:
    """A DOCX built from (mutated) text lines: soft breaks, tables and auto numbering at random."""
    import docx

    document = docx.Document()
    num_ids: list[str] = []
    if rng.random() < 0.6:
        for k in range(rng.randint(1, 3)):
            fmts = ["decimal", "upperLetter", "lowerLetter", "decimalFullWidth", "bullet", "upperRoman", "", "x"]
            levels = [(_pick(rng, fmts[:3]) if rng.random() < 0.8 else _pick(rng, fmts),
                       _pick(rng, [1, 1, 1, 0, 5, 27, -3, "x", "", 99999999999])) for _ in range(rng.randint(1, 3))]
            ilvls = None
            if rng.random() < 0.2:
                ilvls = [_pick(rng, ["0", "1", "8", "9", "10", "-1", "x", "", "99999999999"]) for _ in levels]
            _add_numbering(document, 90 + k, levels, ilvls)
            num_ids.append(str(90 + k))
    table_cell = None
    previous = None
    for line in lines:
        roll = rng.random()
        if roll < 0.1 and previous is not None:  # soft line break inside the previous paragraph
            previous.add_run().add_break()
            previous.add_run(line)
            continue
        if roll < 0.15:
            table = document.add_table(rows=rng.randint(1, 2), cols=rng.randint(1, 3))
            table_cell = table.cell(0, 0)
            table_cell.paragraphs[0].text = line
            previous = table_cell.paragraphs[0]
            continue
        if roll < 0.2 and table_cell is not None:
            previous = table_cell.add_paragraph(line)
            continue
        if num_ids and roll < 0.5:
            stripped = re.sub(r"^(?:\d+|[A-H])[．.、]", "", line)
            level = _pick(rng, ["0", "1", "0", "1", "2", "8", "9", "-1", "x", "99999999999"]) if rng.random() < 0.2 else (
                "0" if stripped != line and line[0].isdigit() else "1")
            num_id = _pick(rng, num_ids) if rng.random() < 0.9 else _pick(rng, ["0", "7", "x", "-1"])
            previous = _numbered(document, stripped, level, num_id)
            continue
        previous = document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def xlsx_rows(data: bytes) -> tuple[list[list], list[list]]:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data))
    sheets = [[list(row) for row in sheet.iter_rows(values_only=True)] for sheet in workbook.worksheets]
    return sheets[0], sheets[1] if len(sheets) > 1 else []


def _cell_value(rng: random.Random, target: str):
    import datetime

    roll = rng.randrange(10)
    if roll == 0:
        return _pick(rng, [0, 1, 3, 5, 6, -1, 10**20, 2**63, 1.5, 3.0, 1e308, -0.0, float("nan"), float("inf")])
    if roll == 1:
        return _pick(rng, [True, False, None])
    if roll == 2:
        return _pick(rng, [datetime.date(2026, 3, 1), datetime.datetime(1900, 1, 1, 12, 30), datetime.time(3, 0),
                           datetime.timedelta(days=3)])
    if roll == 3:
        return _pick(rng, ["A", "AB", "a c", "A、C", "Ａ", "ABCDEFGHI", "Z", "单选", "多选题", "判断", "中等", "6", "3.0",
                           "3.5", "=1/0", "=A1", "+A", "@x", "-", "  ", "#N/A"])
    return _interesting_text(rng, target)


def build_xlsx(rng: random.Random, rows: list[list], info: list[list]) -> bytes:
    """A workbook rebuilt from (mutated) rows of the exported bank."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    header, body = rows[0][:], [row[:] for row in rows[1:]]
    start = rng.randrange(len(body))
    body = body[start : start + rng.randint(1, 25)]
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(8)
        if op <= 2 and body:
            row = _pick(rng, body)
            row[rng.randrange(len(row))] = _cell_value(rng, "xlsx")
        elif op == 3:
            header[rng.randrange(len(header))] = _pick(rng, [
                None, "", "选项Ａ", "Option A", "答案（必填）", "*题干", "题干", "A", "I", "选项I", "固定选项", "pin", "编号",
                "难度", "标签", " 知识点 ", "unknown", 5, _interesting_text(rng, "xlsx")])
        elif op == 4:
            a, b = rng.randrange(len(header)), rng.randrange(len(header))
            for row in [header, *body]:
                row[a], row[b] = row[b], row[a]
        elif op == 5 and body:
            column = rng.randrange(len(header))
            for row in body:
                row[column] = None
        elif op == 6:
            body = [[None] * len(header) for _ in range(rng.randint(0, 3))] + body
        elif op == 7 and body:
            body.insert(rng.randrange(len(body)), _pick(rng, body)[:])
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _pick(rng, ["题库", "题库", "Sheet1", "题库信息", "x" * 31, "题 库"])
    for _ in range(rng.choice([0, 0, 0, 1, 4, 9, 11])):
        sheet.append([_pick(rng, ["标题", None, "题干", "答案"])])
    for row in [header, *body]:
        clean = []
        for value in row:
            if isinstance(value, str) and ILLEGAL_CHARACTERS_RE.search(value):
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
            clean.append(value)
        sheet.append(clean)
    if rng.random() < 0.2 and sheet.max_row > 1:
        top = rng.randint(1, sheet.max_row)
        left = rng.randint(1, sheet.max_column)
        sheet.merge_cells(start_row=top, start_column=left, end_row=min(sheet.max_row, top + rng.randint(0, 3)),
                          end_column=min(sheet.max_column, left + rng.randint(0, 2)))
    if rng.random() < 0.7:
        extra = workbook.create_sheet("题库信息")
        for key, value in info:
            if rng.random() < 0.3:
                value = _cell_value(rng, "xlsx")
                if isinstance(value, str):
                    value = ILLEGAL_CHARACTERS_RE.sub("", value)
            extra.append([key, value])
    if rng.random() < 0.1:
        workbook.create_sheet("空表")
        workbook.move_sheet("空表", offset=-len(workbook.sheetnames))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- scans -------------------------------------------------------------------


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    import zlib

    return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")


def mutate_scan_header(rng: random.Random, data: bytes) -> bytes:
    """Edit the fields a decoder trusts: sizes, depths, page trees."""
    buf = bytearray(data)
    if data.startswith(b"\xff\xd8"):
        sofs = [m.start() for m in re.finditer(rb"\xff[\xc0-\xc3\xc5-\xc7\xc9-\xcb\xcd-\xcf]", data[:65536])]
        if sofs:
            at = _pick(rng, sofs)
            field_at = at + 5 + _pick(rng, [0, 2])  # height, width
            buf[field_at : field_at + 2] = _pick(rng, [0, 1, 2, 3, 255, 65535, 40000, 9000]).to_bytes(2, "big")
            if rng.random() < 0.3:
                buf[at + 4] = _pick(rng, [0, 1, 12, 16, 255])  # precision
            if rng.random() < 0.3:
                buf[at + 9] = _pick(rng, [0, 2, 3, 4, 255])  # components
        return bytes(buf)
    if data.startswith(b"\x89PNG"):
        ihdr = bytearray(data[16:29])
        which = rng.randrange(4)
        if which == 0:
            ihdr[0:4] = _pick(rng, [0, 1, 3, 60000, 2**31 - 1, 20000]).to_bytes(4, "big")
        elif which == 1:
            ihdr[4:8] = _pick(rng, [0, 1, 3, 60000, 2**31 - 1, 20000]).to_bytes(4, "big")
        elif which == 2:
            ihdr[8] = _pick(rng, [1, 2, 4, 8, 16, 3, 0])  # bit depth
        else:
            ihdr[9] = _pick(rng, [0, 2, 3, 4, 6, 1, 7])  # colour type
        return data[:8] + png_chunk(b"IHDR", bytes(ihdr)) + data[33:]
    if data.startswith((b"II*\x00", b"MM\x00*")):
        order = "little" if data.startswith(b"II") else "big"
        ifd = int.from_bytes(data[4:8], order)
        if ifd + 2 <= len(data):
            count = int.from_bytes(data[ifd : ifd + 2], order)
            if count and ifd + 2 + 12 * count <= len(data):
                entry = ifd + 2 + 12 * rng.randrange(count)
                if rng.random() < 0.5:
                    buf[entry + 8 : entry + 12] = _pick(rng, BOUNDARY_INTS).to_bytes(4, order)
                else:
                    buf[entry + 4 : entry + 8] = _pick(rng, BOUNDARY_INTS).to_bytes(4, order)
        return bytes(buf)
    if b"%PDF" in data[:1024]:
        text = data
        fields = list(re.finditer(rb"/(MediaBox|CropBox)\s*\[([^\]]*)\]", text))
        roll = rng.randrange(4)
        if roll == 0 and fields:
            m = _pick(rng, fields)
            box = _pick(rng, [b"0 0 0 0", b"0 0 1e9 1", b"0 0 1 1e9", b"0 0 -595 -842", b"0 0 99999999 99999999",
                              b"0 0 595", b"a b c d", b"0 0 1 1", b"0 0 14400 14400"])
            return text[: m.start(2)] + box + text[m.end(2) :]
        if roll == 1:
            m = list(re.finditer(rb"/Count\s+(\d+)", text))
            if m:
                m1 = _pick(rng, m)
                return text[: m1.start(1)] + _pick(rng, [b"0", b"-1", b"99999", b"2001", b"1"]) + text[m1.end(1) :]
        if roll == 2:
            m = list(re.finditer(rb"/Type\s*/Page\b", text))
            if m:
                at = _pick(rng, m).end()
                return text[:at] + _pick(rng, [b" /Rotate 90", b" /Rotate 45", b" /Rotate -270", b" /UserUnit 1000"]) + text[at:]
        m = list(re.finditer(rb"/(Width|Height|BitsPerComponent|Length)\s+(\d+)", text))
        if m:
            m1 = _pick(rng, m)
            return text[: m1.start(2)] + str(_pick(rng, BOUNDARY_INTS)).encode() + text[m1.end(2) :]
    return mutate_bytes(rng, data, [], head_bias=True)


def fix_end_marker(data: bytes) -> bytes:
    """Truncated images are refused by their end marker; restore it to reach the decoder."""
    if data.startswith(b"\xff\xd8") and not data.endswith(b"\xff\xd9"):
        return data + b"\xff\xd9"
    if data.startswith(b"\x89PNG") and b"IEND" not in data[-16:]:
        return data + png_chunk(b"IEND", b"")
    return data


@dataclass
class ScanSeeds:
    files: list[bytes]
    images: list  # grayscale numpy arrays (decoded seeds, some reduced)
    qr_bases: list  # (gray image, (x0, y0, x1, y1) of its QR, payload)
    layout: str = "a4"


def load_scan_seeds(folder: Path) -> ScanSeeds:
    import cv2
    import numpy as np

    paths = sorted(COMMITTED_SCANS.rglob("*.jpg")) + sorted((folder / "scans").rglob("*.*"))
    paths = [p for p in paths if p.suffix.lower() in (".jpg", ".png", ".pdf", ".tif")]
    files = [p.read_bytes() for p in paths]
    images = []
    for path in paths:
        if path.suffix.lower() in (".jpg", ".png"):
            gray = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_GRAYSCALE)
            if gray is not None and max(gray.shape) > 2400:
                gray = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            images.append(gray)
    qr_bases = []
    detector = cv2.QRCodeDetector()
    for path in sorted((folder / "scans" / "png-clean").glob("*.png")):
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        payload, points, _ = detector.detectAndDecode(gray)
        if payload and points is not None:
            xs, ys = points[0][:, 0], points[0][:, 1]
            qr_bases.append((gray, (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())), payload))
    return ScanSeeds(files, images, qr_bases)


def forged_payload(rng: random.Random, payload: str) -> str:
    fields = dict(part.split("=", 1) for part in payload.split(";")[1:] if "=" in part)
    key = _pick(rng, ["P", "V", "S", "E", "L", "N", "extra", "prefix", "P", "V"])
    if key == "P":
        fields["P"] = _pick(rng, ["0/1", "2/1", "1/0", "-1/1", "99999/1", "1/99999", "1/2", "2/2", "a/b", "1", "1/1/1",
                                  "9" * 30 + "/1", "", "١/1", "1 /1"])
    elif key == "V":
        fields["V"] = _pick(rng, ["A", "B", "D", "E", "Z", "a", "AB", "甲", " ", "V=A"])
    elif key == "S":
        fields["S"] = _pick(rng, ["2026030001", "", "x" * 200, "０１２３４５６７８９", "123", "-1"])
    elif key == "E":
        fields["E"] = _pick(rng, ["2026-mock-02", "", "2026-MOCK-03", "x"])
    elif key == "L":
        fields["L"] = _pick(rng, ["", "a3", "x" * 50, "../../etc"])
    elif key == "N":
        fields["N"] = _pick(rng, ["张三", "", "\u202e", "x" * 300])
    elif key == "extra":
        fields[_pick(rng, ["X", "P2", ""])] = "1"
    else:
        return _pick(rng, ["PG2;" + payload[4:], "PG1", "PG1;", "PG1;E", "", payload.lower()])
    return "PG1;" + ";".join(f"{k}={v}" for k, v in fields.items())


def paste_qr(image, box: tuple[int, int, int, int], payload: str):
    import cv2
    import numpy as np

    from papergen.render.sheet import qr_modules

    modules = np.array(qr_modules(payload), dtype=bool)
    x0, y0, x1, y1 = box
    size = min(x1 - x0, y1 - y0)
    out = image.copy()
    margin = max(2, size // 12)
    out[max(0, y0 - margin) : y1 + margin, max(0, x0 - margin) : x1 + margin] = 255
    tile = np.where(modules, 0, 255).astype(np.uint8)
    tile = cv2.resize(tile, (size, size), interpolation=cv2.INTER_NEAREST)
    out[y0 : y0 + size, x0 : x0 + size] = tile
    return out


def mutate_image(rng: random.Random, image):
    """Damage the picture itself, not the file: sizes, crops, fills, noise, fake squares."""
    import cv2
    import numpy as np

    h, w = image.shape
    op = rng.randrange(14)
    if op == 0:
        size = _pick(rng, [(1, 1), (1, 50), (50, 1), (3, 3), (16, 16), (40, 30), (200, 10), (10, 3000), (6000, 8)])
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    if op == 1:
        x0, y0 = rng.randrange(w), rng.randrange(h)
        return image[y0 : y0 + rng.randint(1, h), x0 : x0 + rng.randint(1, w)].copy()
    if op == 2:
        return np.full((h, w), _pick(rng, [0, 255, 128, 1]), np.uint8)
    if op == 3:
        return 255 - image
    if op == 4:
        noise = np.random.default_rng(rng.randrange(2**32)).integers(0, 256, (h, w), dtype=np.uint8)
        return noise if rng.random() < 0.3 else cv2.addWeighted(image, 0.5, noise, 0.5, 0)
    if op == 5:
        angle = rng.uniform(-180, 180)
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, rng.uniform(0.3, 1.2))
        return cv2.warpAffine(image, matrix, (w, h), borderValue=255)
    if op == 6:
        out = image.copy()
        for _ in range(rng.randint(1, 40)):  # fake fiducials
            s = rng.randint(3, 80)
            x, y = rng.randrange(w), rng.randrange(h)
            out[y : y + s, x : x + s] = 0
        return out
    if op == 7:
        return np.hstack([image, image]) if rng.random() < 0.5 else np.vstack([image, image])
    if op == 8:
        scale = _pick(rng, [0.05, 0.1, 0.2, 0.3, 2.0])
        return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if op == 9:
        return np.where(image > rng.randint(1, 254), 255, 0).astype(np.uint8)
    if op == 10:
        out = image.copy()
        for _ in range(rng.randint(1, 30)):
            cv2.line(out, (rng.randrange(w), rng.randrange(h)), (rng.randrange(w), rng.randrange(h)), 0, rng.randint(1, 30))
        return out
    if op == 11:
        return cv2.flip(image, _pick(rng, [-1, 0, 1]))
    if op == 12:
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = (src + np.float32([[rng.uniform(-0.4, 0.4) * w, rng.uniform(-0.4, 0.4) * h] for _ in range(4)])).astype(np.float32)
        return cv2.warpPerspective(image, cv2.getPerspectiveTransform(src, dst), (w, h), borderValue=255)
    out = image.copy()
    y, x = rng.randrange(h), rng.randrange(w)
    out[y : y + rng.randint(1, h), x : x + rng.randint(1, w)] = _pick(rng, [0, 255, 200])
    return out


def encode_image(rng: random.Random, image) -> bytes:
    import cv2
    from PIL import Image

    kind = rng.randrange(6)
    if kind <= 1:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(5, 95)])
        return data.tobytes()
    if kind == 2:
        ok, data = cv2.imencode(".png", image)
        return data.tobytes()
    picture = Image.fromarray(image)
    buffer = io.BytesIO()
    if kind == 3:
        picture.save(buffer, format="TIFF", compression=_pick(rng, ["tiff_lzw", "raw", "tiff_deflate"]))
    elif kind == 4:
        picture.convert("1").save(buffer, format="TIFF", compression="group4")
    else:
        picture.save(buffer, format="PDF", resolution=_pick(rng, [150.0, 72.0, 10.0, 600.0]))
    return buffer.getvalue()


# ---------------------------------------------------------------------------
# Targets


@dataclass
class Harness:
    target: str
    seed_dir: Path
    rng: random.Random
    texts: list[str] = field(default_factory=list)
    blobs: list[bytes] = field(default_factory=list)
    xlsx_seed: tuple | None = None
    scans: ScanSeeds | None = None
    manifest: object = None

    def setup(self) -> None:
        t = self.target
        if t in ("text", "gift", "moodle", "aiken", "bank", "docx"):
            self.texts = text_seeds(t, self.seed_dir)
        if t == "docx":
            self.blobs = [p.read_bytes() for p in sorted((self.seed_dir / "docx").glob("*.docx"))]
        if t == "xlsx":
            data = (self.seed_dir / "exports" / "bank.xlsx").read_bytes()
            self.blobs = [data]
            self.xlsx_seed = xlsx_rows(data)
        if t == "scan":
            from papergen.exam.manifest import read_manifest

            self.scans = load_scan_seeds(self.seed_dir)
            self.manifest = read_manifest(COMMITTED_SCANS / "exam.json")

    # -- making inputs --------------------------------------------------------

    def make_input(self) -> bytes:
        rng, t = self.rng, self.target
        if t in ("text", "gift", "moodle", "aiken", "bank"):
            text = excerpt(rng, _pick(rng, self.texts), t)
            for _ in range(rng.choice([1, 1, 2, 3, 5])):
                text = mutate_xml(rng, text, t) if t == "moodle" and rng.random() < 0.5 else mutate_text(rng, text, t, self.texts)
                text = text[:MAX_GENERATED_BYTES]
            data = text.encode("utf-8", "surrogatepass")
            if rng.random() < 0.15:
                data = mutate_bytes(rng, data, [s.encode() for s in self.texts[:2]])
            if rng.random() < 0.05:
                data = b"\xef\xbb\xbf" + data
            return data[: rng.randint(1, MAX_GENERATED_BYTES)] if len(data) > MAX_GENERATED_BYTES else data
        if t == "docx":
            roll = rng.random()
            if roll < 0.5:
                lines = excerpt(rng, _pick(rng, self.texts), "text")
                for _ in range(rng.choice([0, 1, 2, 3])):
                    lines = mutate_text(rng, lines, "text", self.texts)
                lines = lines.replace("\x00", "")
                lines = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", "", lines)
                return build_docx(rng, lines.split("\n")[:300])
            if roll < 0.92:
                return mutate_zip_members(rng, _pick(rng, self.blobs), t, DOCX_PARTS)
            return mutate_bytes(rng, _pick(rng, self.blobs), self.blobs)
        if t == "xlsx":
            roll = rng.random()
            if roll < 0.55:
                return build_xlsx(rng, *self.xlsx_seed)
            base = self.blobs[0] if rng.random() < 0.5 else build_xlsx(rng, *self.xlsx_seed)
            if roll < 0.93:
                return mutate_zip_members(rng, base, t, XLSX_PARTS)
            return mutate_bytes(rng, base, self.blobs)
        if t == "scan":
            seeds = self.scans
            roll = rng.random()
            if roll < 0.3:
                data = _pick(rng, seeds.files)
                for _ in range(rng.randint(1, 3)):
                    data = mutate_bytes(rng, data, seeds.files, head_bias=True)
                return fix_end_marker(data) if rng.random() < 0.7 else data
            if roll < 0.45:
                return fix_end_marker(mutate_scan_header(rng, _pick(rng, seeds.files)))
            if roll < 0.75 or not seeds.qr_bases:
                image = _pick(rng, seeds.images)
                for _ in range(rng.randint(1, 3)):
                    image = mutate_image(rng, image)
                    if image.size == 0:
                        image = _pick(rng, seeds.images)
                return encode_image(rng, image)
            gray, box, payload = _pick(rng, seeds.qr_bases)
            image = paste_qr(gray, box, forged_payload(rng, payload))
            if rng.random() < 0.3:
                image = mutate_image(rng, image)
            return encode_image(rng, image) if image.size else encode_image(rng, gray)
        raise ValueError(t)

    # -- running one input ------------------------------------------------------

    def run(self, path: Path) -> str:
        """Run the target on ``path``; returns "ok" or "refused" (a papergen error), else raises."""
        from papergen.bank.importer import ImportAccountingError
        from papergen.core.errors import PapergenError

        try:
            if self.target == "scan":
                self.run_scan(path)
            elif self.target == "bank":
                self.run_bank(path)
            else:
                self.run_import(path)
        except ImportAccountingError:
            raise  # the import's count did not add up: a papergen bug, a finding, never a refusal
        except PapergenError:
            return "refused"
        return "ok"

    def run_import(self, path: Path) -> None:
        from papergen.bank import importer

        report = importer.import_file(path, bank_id="fuzz")
        roundtrip(report.bank, what="导入结果")

    def run_bank(self, path: Path) -> None:
        from papergen.bank.files import validate_paths

        report = validate_paths([path])
        for problem in report.problems:
            if not (problem.code and problem.message):
                raise InvariantBroken("empty-problem", f"problem without code/message: {problem!r}")
        if report.banks and not report.errors:
            roundtrip(report.banks[0], what="干净的题库")

    def run_scan(self, path: Path) -> None:
        from papergen.grade import ingest as scan_ingest
        from papergen.grade import pipeline as grading

        jobs, _problems = scan_ingest.collect_pages([path])
        for job in jobs[:SCAN_PAGES_PER_INPUT]:
            for record in grading.process_page(job, self.manifest):  # one record per sheet on the page
                if record.status not in ("read", "rejected", "not-a-sheet", "blank-page", "error"):
                    raise InvariantBroken("page-status", f"unknown page status {record.status!r}")
                # process_page turns a reader exception into the page's error so the batch goes on;
                # for the fuzzer that is still a bug to find (replay with read_sheets for the traceback)
                if any(flag[1] == "reader-error" for flag in record.flags):
                    raise InvariantBroken("reader-error", record.message)


def _short(value, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit // 2] + " … " + text[-limit // 2 :]


def roundtrip(bank, what: str) -> None:
    """What papergen writes as a bank must read back, without errors, as the same bank."""
    from papergen.bank.files import dump_bank
    from papergen.bank.validate import bank_from_document
    from papergen.core import located_yaml

    text = dump_bank(bank)
    doc = located_yaml.parse(text, "roundtrip.yaml")
    back, problems = bank_from_document(doc, "roundtrip.yaml")
    errors = [p for p in problems if p.is_error]
    if errors:
        raise InvariantBroken(errors[0].code, f"{what}写成 YAML 后不能通过校验：{errors[0].format()}")
    if back is None or len(back.questions) != len(bank.questions):
        raise InvariantBroken("roundtrip-lost-questions", f"{what}写成 YAML 再读回后题数变了")
    for before, after in zip(bank.questions, back.questions):
        a, b = before.to_yaml(), after.to_yaml()
        changed = [key for key in a if a[key] != b[key]]
        if changed:
            raise InvariantBroken(f"roundtrip-changed-{changed[0]}",
                                  f"{what}写成 YAML 再读回后题目 {before.id} 的 {changed[0]} 变了：{_short(a[changed[0]])} → {_short(b[changed[0]])}")


# ---------------------------------------------------------------------------
# Findings


def innermost_frame(tb) -> str:
    """``papergen/x.py:function:line`` of the deepest papergen frame (else the deepest frame)."""
    frames = [frame for frame in traceback.extract_tb(tb) if frame.name != "_timeout"]
    chosen = None
    for frame in frames:
        if frame.filename.startswith(PACKAGE_DIR):
            chosen = frame
    chosen = chosen or (frames[-1] if frames else None)
    if chosen is None:
        return "?"
    name = os.path.relpath(chosen.filename, ROOT) if chosen.filename.startswith(str(ROOT)) else Path(chosen.filename).name
    return f"{name}:{chosen.name}:{chosen.lineno}"


def frame_from_dump(text: str) -> str:
    """The innermost papergen frame in a faulthandler dump (most recent call first)."""
    for match in re.finditer(r'File "([^"]+)", line (\d+) in (\S+)', text):
        filename, line, name = match.groups()
        if filename.startswith(PACKAGE_DIR):
            return f"{os.path.relpath(filename, ROOT)}:{name}:{line}"
    match = re.search(r'File "([^"]+)", line (\d+) in (\S+)', text)
    return f"{Path(match.group(1)).name}:{match.group(3)}:{match.group(2)}" if match else "?"


def finding_slug(kind: str, frame: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{kind}-{frame.replace('papergen/', '')}")[:90]
    return f"{readable}-{hashlib.sha1(f'{kind}|{frame}'.encode()).hexdigest()[:8]}"


def record_finding(findings: Path, target: str, kind: str, frame: str, message: str, trace: str,
                   data: bytes, ext: str) -> tuple[str, bool]:
    """Save (or count) a finding; keeps the smallest input. Returns (slug, new)."""
    slug = finding_slug(kind, frame)
    folder = findings / target / slug
    info_path = folder / "info.json"
    new = not info_path.exists()
    folder.mkdir(parents=True, exist_ok=True)
    info = json.loads(info_path.read_text()) if not new else {
        "target": target, "type": kind, "frame": frame, "count": 0, "first_seen": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    info["count"] += 1
    info["last_seen"] = time.strftime("%Y-%m-%d %H:%M:%S")
    inputs = list(folder.glob("input*"))
    if new or not inputs or len(data) < inputs[0].stat().st_size:
        for old in inputs:
            old.unlink()
        (folder / f"input{ext}").write_bytes(data)
        (folder / "traceback.txt").write_text(trace, encoding="utf-8")
        info["message"] = message[:300]
        info["size"] = len(data)
    info_path.write_text(json.dumps(info, ensure_ascii=False, indent=1), encoding="utf-8")
    return slug, new


def scan_ext(data: bytes) -> str:
    if data.startswith(b"\xff\xd8"):
        return ".jpg"
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return ".tif"
    if b"%PDF" in data[:1024]:
        return ".pdf"
    return ".bin"


def classify(exc: BaseException) -> tuple[str, str, str]:
    """(kind, frame, message) of an exception from a target."""
    if isinstance(exc, InvariantBroken):
        return "InvariantBroken", f"{exc.code}", str(exc)
    kind = type(exc).__name__
    if type(exc).__module__ not in ("builtins", "__main__"):
        kind = f"{type(exc).__module__}.{kind}"
    return kind, innermost_frame(exc.__traceback__), f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------
# Worker


def _timeout(signum, frame):  # noqa: ARG001
    raise InputTimeout()


def reset_peak_memory() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) so the next reading covers one input only."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_memory_mb(since_reset: bool) -> float:
    """Peak RSS in MB: since the last reset when that worked, else over the process's life."""
    if since_reset:
        try:
            with open("/proc/self/status") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(args: argparse.Namespace) -> int:
    target = args.target
    work = Path(args.findings) / ".work" / target
    work.mkdir(parents=True, exist_ok=True)
    mem = args.mem_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    crash_log = open(work / "faulthandler.txt", "w")  # noqa: SIM115 - must stay open for faulthandler
    faulthandler.enable(file=crash_log)
    import warnings

    import cv2

    warnings.simplefilter("ignore")  # openpyxl warns about every odd part it meets
    cv2.setNumThreads(1)  # one core: the machine is shared
    rng = random.Random(args.rng_seed)
    harness = Harness(target, Path(args.seeds), rng)
    harness.setup()
    signal.signal(signal.SIGALRM, _timeout)
    stats = {"runs": 0, "ok": 0, "refused": 0, "generator_errors": 0, "findings": {}, "new": [], "seconds": 0.0, "done": False}
    stats_path = Path(args.stats)
    started = time.monotonic()
    last_write = last_print = 0.0
    peak_warned = False
    ext = EXTENSIONS[target]

    def save_stats() -> None:
        stats["seconds"] = time.monotonic() - started
        tmp = stats_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stats))
        os.replace(tmp, stats_path)

    while time.time() < args.until:
        try:
            data = harness.make_input()
        except Exception:  # a generator that produced nothing usable (e.g. openpyxl refused a value): try again
            stats["generator_errors"] += 1
            continue
        input_ext = scan_ext(data) if target == "scan" else ext
        path = work / f"current{input_ext}"
        for old in work.glob("current.*"):
            if old != path and old.suffix != ".name":
                old.unlink()
        path.write_bytes(data)
        (work / "current.name").write_text(path.name)
        since_reset = reset_peak_memory()  # measure the target, not the generator
        faulthandler.dump_traceback_later(args.timeout * 2 + 5, exit=True, file=crash_log)
        signal.setitimer(signal.ITIMER_REAL, args.timeout)
        outcome = None
        try:
            try:
                outcome = harness.run(path)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                faulthandler.cancel_dump_traceback_later()
        except InputTimeout as exc:
            kind, frame, message = "Timeout", innermost_frame(exc.__traceback__), f"超过 {args.timeout} 秒"
            trace = "".join(traceback.format_exception(exc))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - anything else is what we are looking for
            kind, frame, message = classify(exc)
            trace = "".join(traceback.format_exception(exc))
        stats["runs"] += 1
        if outcome is not None:
            stats[outcome] += 1
        else:
            slug, new = record_finding(Path(args.findings), target, kind, frame, message, trace, data, input_ext)
            stats["findings"][slug] = stats["findings"].get(slug, 0) + 1
            if new:
                stats["new"].append(slug)
                print(f"[{target}] 新发现 new finding: {kind} @ {frame}: {message[:120]}", file=sys.stderr, flush=True)
        peak_mb = peak_memory_mb(since_reset)
        if peak_mb > args.mem_warn_mb and not peak_warned:
            peak_warned = True
            slug, new = record_finding(Path(args.findings), target, "MemoryPeak", target,
                                       f"工作进程峰值内存 {peak_mb:.0f} MB（{len(data)} 字节的输入）", "", data, input_ext)
            stats["findings"][slug] = stats["findings"].get(slug, 0) + 1
            if new:
                stats["new"].append(slug)
            save_stats()
            return 75  # restart me: ru_maxrss cannot go down
        now = time.monotonic()
        if now - last_write > 1:
            save_stats()
            last_write = now
        if now - last_print > 30:
            print(f"[{target}] {stats['runs']} 个输入 inputs, {len(stats['findings'])} 类发现 findings, "
                  f"{stats['generator_errors']} 次生成失败 generator errors", file=sys.stderr, flush=True)
            last_print = now
    stats["done"] = True
    save_stats()
    return 0


# ---------------------------------------------------------------------------
# Supervisor


@dataclass
class TargetResult:
    target: str
    runs: int = 0
    seconds: float = 0.0
    findings: dict[str, int] = field(default_factory=dict)
    new: set[str] = field(default_factory=set)
    restarts: int = 0


def supervise(target: str, seconds: float, args: argparse.Namespace) -> TargetResult:
    result = TargetResult(target)
    findings = Path(args.findings)
    work = findings / ".work" / target
    work.mkdir(parents=True, exist_ok=True)
    deadline = time.time() + seconds
    started = time.monotonic()
    generation = 0
    while time.time() < deadline - 1:
        stats_path = work / "stats.json"
        stats_path.unlink(missing_ok=True)
        (work / "faulthandler.txt").unlink(missing_ok=True)
        command = [
            sys.executable, __file__, "--worker", "--target", target, "--until", str(deadline),
            "--rng-seed", str(args.seed * 1000 + TARGETS.index(target) * 100 + generation), "--findings", str(findings),
            "--seeds", str(args.seeds), "--stats", str(stats_path), "--timeout", str(args.timeout),
            "--mem-mb", str(args.mem_mb), "--mem-warn-mb", str(args.mem_warn_mb),
        ]
        process = subprocess.Popen(command, cwd=ROOT)
        try:
            code = process.wait(timeout=max(5.0, deadline - time.time()) + args.timeout * 3 + 60)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        stats = json.loads(stats_path.read_text()) if stats_path.exists() else {"runs": 0, "findings": {}, "new": []}
        result.runs += stats["runs"]
        for slug, count in stats["findings"].items():
            result.findings[slug] = result.findings.get(slug, 0) + count
        result.new.update(stats["new"])
        if code in (0, 75) and (code == 75 or stats.get("done")):
            if code == 75:
                result.restarts += 1
                generation += 1
                continue
            break
        # The worker died: a hang past the watchdog, a crash in C code, or the kernel's OOM killer.
        result.restarts += 1
        generation += 1
        dump = (work / "faulthandler.txt").read_text(errors="replace") if (work / "faulthandler.txt").exists() else ""
        name = (work / "current.name").read_text().strip() if (work / "current.name").exists() else ""
        current = work / name if name else None
        if current is None or not current.exists():
            print(f"[{target}] 工作进程退出（{code}），没有找到当时的输入", file=sys.stderr)
            if stats["runs"] == 0:
                print(f"[{target}] 工作进程无法启动，停止这个目标 worker cannot start, giving up", file=sys.stderr)
                break
            continue
        if "Timeout (" in dump:
            kind, message = "Hang", f"超过 {args.timeout * 2 + 5} 秒仍未结束（卡在 C 代码或未响应定时器）"
        elif code < 0:
            kind, message = f"Crash-{signal.Signals(-code).name}", f"工作进程被信号 {signal.Signals(-code).name} 结束"
        else:
            kind, message = "Crash", f"工作进程异常退出，退出码 {code}"
        frame = frame_from_dump(dump)
        data = current.read_bytes()
        slug, new = record_finding(findings, target, kind, frame, message, dump, data, current.suffix)
        result.findings[slug] = result.findings.get(slug, 0) + 1
        if new:
            result.new.add(slug)
        result.runs += 1
        print(f"[{target}] {kind} @ {frame}，重启工作进程 restarting worker", file=sys.stderr, flush=True)
    result.seconds = time.monotonic() - started
    return result


def describe(findings: Path, target: str, slug: str) -> str:
    info_path = findings / target / slug / "info.json"
    if not info_path.exists():
        return slug
    info = json.loads(info_path.read_text())
    message = re.sub(r"\s+", " ", info.get("message", ""))[:110]
    return f"{info['type']} @ {info['frame']}: {message}"


def print_summary(results: list[TargetResult], findings: Path) -> None:
    print()
    print(f"{'目标 target':<14}{'输入 inputs':>12}{'输入/秒 inputs/s':>18}{'发现 unique':>14}{'其中新的 new':>14}{'用时 s':>9}")
    print("-" * 81)
    for r in results:
        rate = r.runs / r.seconds if r.seconds else 0.0
        print(f"{r.target:<14}{r.runs:>12}{rate:>18.1f}{len(r.findings):>14}{len(r.new):>14}{r.seconds:>9.0f}")
    print("-" * 81)
    total = sum(r.runs for r in results)
    print(f"{'合计 total':<14}{total:>12}{'':>18}{sum(len(r.findings) for r in results):>14}")
    for r in results:
        for slug, count in sorted(r.findings.items()):
            mark = "新 " if slug in r.new else "   "
            print(f"  {mark}[{r.target}] ×{count}: {describe(findings, r.target, slug)}")
            print(f"       {findings / r.target / slug}")
    if not any(r.findings for r in results):
        print("没有发现问题。 No findings.")


# ---------------------------------------------------------------------------
# Replay and minimize


def replay(args: argparse.Namespace, path: Path, quiet: bool = False) -> tuple[str, str]:
    """Run one input in-process; returns (outcome or kind, frame)."""
    harness = Harness(args.target, Path(args.seeds), random.Random(0))
    if args.target == "scan":
        from papergen.exam.manifest import read_manifest

        harness.manifest = read_manifest(COMMITTED_SCANS / "exam.json")
    signal.signal(signal.SIGALRM, _timeout)
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    try:
        outcome = harness.run(path)
        result = (outcome, "")
    except InputTimeout as exc:
        result = ("Timeout", innermost_frame(exc.__traceback__))
        if not quiet:
            traceback.print_exc()
    except Exception as exc:  # noqa: BLE001
        kind, frame, _ = classify(exc)
        result = (kind, frame)
        if not quiet:
            traceback.print_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return result


def minimize(args: argparse.Namespace, source: Path) -> Path:
    """Shrink a text input while it still gives the same (kind, frame): lines first, then characters."""
    wanted = replay(args, source, quiet=True)
    if wanted[0] in ("ok", "refused"):
        raise SystemExit(f"{source}：没有重现 does not reproduce ({wanted[0]})")
    work = Path(tempfile.mkdtemp(prefix="fuzz-min-"))
    probe = work / f"probe{source.suffix}"
    deadline = time.monotonic() + 120

    def still_fails(candidate: bytes) -> bool:
        probe.write_bytes(candidate)
        return replay(args, probe, quiet=True) == wanted

    data = source.read_bytes()
    for unit in (b"\n", None):
        pieces = data.split(b"\n") if unit else [bytes([b]) for b in data]
        joiner = b"\n" if unit else b""
        chunk = max(1, len(pieces) // 2)
        while chunk >= 1 and time.monotonic() < deadline:
            i, shrunk = 0, False
            while i < len(pieces) and time.monotonic() < deadline:
                candidate = pieces[:i] + pieces[i + chunk :]
                if candidate and still_fails(joiner.join(candidate)):
                    pieces, shrunk = candidate, True
                else:
                    i += chunk
            if not shrunk:
                chunk //= 2
        data = joiner.join(pieces)
        if len(data) > 20000:  # character-level is too slow for big inputs
            break
    out = source.with_name(source.stem + ".min" + source.suffix)
    out.write_bytes(data)
    shutil.rmtree(work, ignore_errors=True)
    print(f"{wanted[0]} @ {wanted[1]}：{source.stat().st_size} → {len(data)} 字节 bytes → {out}")
    return out


# ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description="papergen 模糊测试 fuzz campaign (see module docstring)")
    parser.add_argument("--minutes", type=float, default=5.0, help="总时长（分钟），各目标平分 total budget, split evenly")
    parser.add_argument("--target", default="all", help="all 或逗号分隔：" + ",".join(TARGETS))
    parser.add_argument("--seed", type=int, default=1, help="随机种子 random seed (same seed, same inputs)")
    parser.add_argument("--findings", default="/tmp/fuzz-findings", help="发现保存位置 where findings are kept")
    parser.add_argument("--seeds", default="/tmp/fuzz-seeds", help="种子输入缓存 seed input cache")
    parser.add_argument("--timeout", type=float, default=15.0, help="单个输入的时限（秒） per-input timeout")
    parser.add_argument("--mem-mb", type=int, default=4096, help="工作进程地址空间上限 worker RLIMIT_AS")
    parser.add_argument("--mem-warn-mb", type=int, default=2000, help="峰值内存超过此值记为发现 peak RSS finding")
    parser.add_argument("--replay", type=Path, help="只运行这个输入并打印结果 run one input")
    parser.add_argument("--minimize", type=Path, help="缩小这个（文本类）输入 shrink a text input")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--rng-seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    targets = list(TARGETS) if args.target == "all" else [t.strip() for t in args.target.split(",")]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        parser.error(f"未知目标 unknown target: {', '.join(unknown)}")
    if args.replay or args.minimize:
        if len(targets) != 1:
            parser.error("--replay/--minimize 需要一个 --target")
        args.target = targets[0]
        if args.replay:
            outcome = replay(args, args.replay)
            print(f"{args.replay}: {outcome[0]} {outcome[1]}")
            return 0 if outcome[0] in ("ok", "refused") else 1
        minimize(args, args.minimize)
        return 0
    print(f"准备种子输入 preparing seeds in {args.seeds} …", file=sys.stderr, flush=True)
    prepare_seeds(Path(args.seeds), targets)
    share = args.minutes * 60 / len(targets)
    results = []
    for target in targets:
        print(f"[{target}] 运行 {share:.0f} 秒 running for {share:.0f} s", file=sys.stderr, flush=True)
        results.append(supervise(target, share, args))
    print_summary(results, Path(args.findings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
