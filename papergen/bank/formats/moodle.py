"""Moodle XML: read and write ``<quiz>`` files (lossless for papergen's own).

Reading: ``multichoice`` gives a record (``<single>`` the type; the key is the
one full-credit answer of a single question, or every answer with ``fraction``
> 0 of a multiple one, as GIFT's weights map, see ``_choice``), ``truefalse`` a two-option single 正确/错误; other
types (essay, shortanswer, matching, cloze …) are ``unsupported-question-type``
problems at their ``<question>`` line. ``format="html"`` text becomes plain
text (``html_to_text``), other formats are kept. The id is ``<idnumber>``
(``<name>`` is a human title in real exports) when it is a valid papergen id;
another idnumber does not cost the question: it gets an id by position and
the idnumber is kept in ``source`` (``bank.xml（Moodle idnumber：…）``), with
a ``bad-source-id`` warning. Media papergen cannot keep (``<file>``
attachments, ``<img>``/``<audio>``/``<video>``…, ``@@PLUGINFILE@@`` links)
gives a ``media-dropped`` warning naming the question. ``ReadResult.found``
counts the ``<question>`` elements that are questions (not categories, not
descriptions: a ``description`` is text between questions and goes to
``ReadResult.stray``).

Topics: a category path loses its context (``$course$`` …) and ``top``. Below
papergen's bank category (``<idnumber>papergen-bank:<id></idnumber>``, title
in ``<info>``) the rest is the topic. In a real Moodle export a leading default
category (``Default for <课程>`` in any of Moodle's language packs: zh_cn
``默认 <课程>``, es ``Por defecto en …``, fr ``Défaut pour …``, de ``Standard
für …``, zh_tw ``<课程>的預設`` …; or a bare ``默认``/``Default``/``top``) is
dropped and its course name taken as title; the bank id stays ``None``; a question outside any
category, or in the default one itself, has topic ``None``.

Writing: the bank category ``$course$/top/<bank id>`` first, then
``$course$/top/<bank id>/<topic>`` before each run of same-topic questions
(order is kept, so a topic may repeat). Difficulty, source and pins travel as
tags ``papergen:difficulty=N``, ``papergen:source=…``, ``papergen:pin=<letters>``
(Moodle itself cuts tags at 50 characters, so a long source would not survive
a trip *through* Moodle).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import PurePath
from xml.etree.ElementTree import Element, ParseError, TreeBuilder
from xml.parsers import expat
from xml.sax.saxutils import escape as xml_escape

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser

from papergen.bank.formats import RawRecord, ReadResult
from papergen.bank.model import LETTERS, Bank, Problem, Question, normalize_answer
from papergen.bank.validate import ID_PATTERN
from papergen.core.errors import InputFileError, InputRejected

BANK_MARKER = "papergen-bank:"
MACHINE_TAG = "papergen:"
#: Moodle's default category ("defaultfor" in its language packs: en, es,
#: fr, de, it, pt, nl, pl, sv, ar, zh_cn, zh_tw), course name in group 1 or 2.
_DEFAULT_CATEGORY = re.compile(
    r"^(?:(?:Default for|Default per|Por defecto en|Por defecto para|Par défaut pour|Défaut pour|Standard für"
    r"|Standaard voor|Domyślnie dla|Categoria predefinida de|Förinställt standardvärde för|افتراضي لـ|默认|預設)\s*(.+)"
    r"|(.+?)\s*的(?:默认|預設|预设)(?:类别|類別)?)$"
)
#: A default category that names no course: "Default", "默认", "Top" …
_BARE_DEFAULT = re.compile(r"^(?:Default|Defaults|默认|默认类别|預設|Por defecto|Défaut|Par défaut|Standard|top|Top)$")
#: Media Moodle keeps beside the text; papergen reads text only.
_MEDIA = re.compile(r"<(img|audio|video|object|embed|iframe|svg)\b|@@PLUGINFILE@@", re.I)
_MEDIA_ZH = {"img": "图片", "svg": "图片", "audio": "音频", "video": "视频"}
_CONTEXT = re.compile(r"^\$[a-z]+\$$")
_ERROR_ZH = {  # expat's messages, for the common cases
    expat.errors.XML_ERROR_TAG_MISMATCH: "开始标签和结束标签不匹配",
    expat.errors.XML_ERROR_INVALID_TOKEN: "有不合 XML 规则的字符或写法",
    expat.errors.XML_ERROR_NO_ELEMENTS: "文件为空或在元素中途结束（可能被截断）",
    expat.errors.XML_ERROR_UNCLOSED_TOKEN: "标签没有写完（可能被截断）",
    expat.errors.XML_ERROR_UNDEFINED_ENTITY: "用了 XML 未定义的实体（如 &nbsp;；HTML 应放在 <![CDATA[…]]> 里）",
}


# --- HTML text ---------------------------------------------------------------
_BLOCK_TAGS = {"p", "div", "li", "ul", "ol", "tr", "table", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6"}
_SOFT_SPACE = "\x00"  # whitespace that held a raw newline; XML text never holds NUL
_BLOCK_EDGE = "\x01"  # the edge of a block element; likewise impossible in XML


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0  # inside <script>/<style>

    def handle_starttag(self, tag: str, attrs: list, step: int = 1) -> None:
        if tag == "br" and step > 0:
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append(_BLOCK_EDGE)
        elif tag in ("script", "style"):
            self.hidden = max(0, self.hidden + step)

    def handle_endtag(self, tag: str) -> None:  # a block edge again; leaves <script>
        self.handle_starttag(tag, [], step=-1)

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            # A newline in HTML source is only a space (and nothing at all
            # next to a line break); other spaces are kept as written, so
            # text papergen wrote comes back exactly.
            self.parts.append(re.sub(r"[ \t]*[\r\n][ \t\r\n]*", _SOFT_SPACE, data))


def html_to_text(markup: str) -> str:
    """Plain text of Moodle HTML: tags dropped, entities decoded.

    ``<br>`` is a line break; paragraphs and other blocks start a new line
    (a paragraph holding only ``<br>`` gives a blank line).
    """
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    text = "".join(extractor.parts)
    text = re.sub(f"{_SOFT_SPACE}*([{_BLOCK_EDGE}\n]){_SOFT_SPACE}*", r"\1", text)
    text = re.sub(f"\n?{_BLOCK_EDGE}+", "\n", text)
    return text.replace(_SOFT_SPACE, " ").strip()


def text_to_html(text: str) -> str:
    """The inverse of ``html_to_text`` for plain text: escaped, ``\\n`` → ``<br>``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return html.escape(text, quote=False).replace("\n", "<br>")


# --- Categories ---------------------------------------------------------------
def category_segments(path: str) -> list[str]:
    """``$course$/top/a//b/c`` → ``["a/b", "c"]`` (context and ``top`` dropped)."""
    parts = [part.replace("//", "/").strip() for part in re.split(r"(?<!/)/(?!/)", path.strip())]
    if parts and _CONTEXT.match(parts[0]):
        parts = parts[1:]
    if parts and parts[0] == "top":
        parts = parts[1:]
    return [part for part in parts if part]


def category_topic(path: str, root: list[str] | None) -> tuple[str | None, str | None]:
    """The topic a category path stands for, and the course name it names.

    ``root`` is papergen's bank category (its segments) when the file has
    one; otherwise a leading default category is dropped and its course
    name returned. The topic is ``None`` when nothing is left.
    """
    segments = category_segments(path)
    course = None
    if root is not None and segments[: len(root)] == root:
        segments = segments[len(root) :]
    elif segments and (match := _DEFAULT_CATEGORY.match(segments[0])):
        course = (match.group(1) or match.group(2)).strip()
        segments = segments[1:]
    elif segments and _BARE_DEFAULT.match(segments[0]):
        segments = segments[1:]
    return ("/".join(segments) or None), course


def fraction_text(correct_count: int) -> str:
    """Moodle's grade for each of ``correct_count`` right answers: 50, 33.33333 …"""
    return f"{100 / correct_count:.5f}".rstrip("0").rstrip(".")


# --- Reading ---------------------------------------------------------------
class _LineTreeBuilder(TreeBuilder):
    """A TreeBuilder that notes the line each ``<question>`` starts on."""

    def __init__(self) -> None:
        super().__init__()
        self.parser: DefusedXMLParser  # set right after the parser is made
        self.lines: dict[int, int] = {}

    def start(self, tag, attrs):  # noqa: ANN001 - TreeBuilder's signature
        element = super().start(tag, attrs)
        if tag == "question":
            self.lines[id(element)] = self.parser.parser.CurrentLineNumber
        return element


def _parse(data: bytes, path: str) -> tuple[Element, dict[int, int]]:
    builder = _LineTreeBuilder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True)
    builder.parser = parser
    try:
        parser.feed(data)
        root = parser.close()
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden):
        raise InputRejected("文件含有 DTD 或实体声明（<!DOCTYPE …>/<!ENTITY …>），为安全起见拒绝读取",
                            path=path, line=parser.parser.CurrentLineNumber,
                            hint="Moodle 导出的 XML 不含 DTD；请删去 <!DOCTYPE …> 部分或重新从 Moodle 导出") from None
    except ValueError:  # expat refuses multi-byte encodings such as GBK outright
        raise InputFileError("XML 声明的编码不受支持（如 GBK），papergen 只读 UTF-8 的 Moodle XML",
                             path=path, line=1, hint="把文件另存为 UTF-8，并把首行改为 encoding=\"UTF-8\"") from None
    except LookupError as exc:  # an encoding name Python does not know: encoding="UTF8X"
        raise InputFileError(f"XML 声明的编码名称无法识别（{exc}），papergen 只读 UTF-8 的 Moodle XML",
                             path=path, line=1, hint="把首行改为 encoding=\"UTF-8\"（文件也须是 UTF-8）") from None
    except ParseError as exc:
        line = exc.position[0] if exc.position else None
        reason = _ERROR_ZH.get(expat.ErrorString(exc.code), expat.ErrorString(exc.code))
        raise InputFileError(f"XML 格式错误：{reason}", path=path, line=line,
                             hint="请用 Moodle 重新导出，或修正该行") from None
    if root.tag != "quiz":
        raise InputFileError(f"根元素是 <{root.tag}>，不是 Moodle XML 的 <quiz>", path=path, line=1)
    return root, builder.lines


def _text(element: Element | None) -> str:
    """The text of a Moodle text field (``<x format="…"><text>…</text></x>``)."""
    if element is None:
        return ""
    raw = element.findtext("text") or ""
    return html_to_text(raw) if element.get("format") == "html" else raw.strip()


def read(data: bytes, path: str) -> ReadResult:
    """Read a Moodle XML export; see the module docstring for the rules."""
    root, lines = _parse(data, path)
    result = ReadResult(found=0)
    bank_root: list[str] | None = None
    topic: str | None = None
    for element in root.findall("question"):
        line = lines.get(id(element), 1)
        kind = element.get("type", "")
        if kind == "category":
            category = element.findtext("category/text") or ""
            marker = (element.findtext("idnumber") or "").strip()
            if marker.startswith(BANK_MARKER) and bank_root is None:
                bank_root = category_segments(category)
                result.bank_id = marker[len(BANK_MARKER) :] or None
                result.title = _text(element.find("info")) or None
                topic = None
                continue
            topic, course = category_topic(category, bank_root)
            if course and result.title is None:
                result.title = course
        elif kind in ("multichoice", "truefalse"):
            result.found += 1
            name = _text(element.find("name"))
            label = f"题目“{name}”" if name else "这道题"

            def warn(code: str, message: str, line: int = line) -> None:
                result.problems.append(Problem("warning", code, message, path, line))

            fields = _choice(element, warn)
            fields.update(id=None, topic=topic)
            fields["stem"] = _text(element.find("questiontext"))
            fields["explanation"] = _text(element.find("generalfeedback"))
            _apply_tags(element, fields, warn)
            idnumber = (element.findtext("idnumber") or "").strip()
            if idnumber and ID_PATTERN.match(idnumber):
                fields["id"] = idnumber
            elif idnumber:
                # Not a papergen id (spaces, "#", too long …): the question
                # gets an id by its position; the idnumber is kept in source.
                fields["source"] = fields["source"] or f"{PurePath(path).name}（Moodle idnumber：{idnumber[:80]}）"
                warn("bad-source-id", f"{label}的 idnumber “{idnumber[:40]}” 不能作为 papergen 编号"
                     "（只能用字母、数字、汉字、- _ .，最长 64 个字符），已自动编号，原 idnumber 记在 source 中")
            if media := _media(element):
                warn("media-dropped", f"{label}含有{media}，papergen 只导入文字，{media}已略去；请核对题干和选项在没有它们时是否完整")
            refused = fields.pop("refused", None)
            errors = [Problem("error", "moodle-answer", f"{label}：{refused}", path, line)] if refused else []
            result.records.append(RawRecord(fields, line, errors=errors))
        elif kind == "description":
            # Text shown between questions (Moodle's "description"): no question.
            shown = _text(element.find("questiontext")) or _text(element.find("name"))
            result.stray.append((line, shown if len(shown) <= 40 else shown[:40] + "…"))
        else:
            result.found += 1
            name = _text(element.find("name"))
            message = f"题型 {kind or '（未注明）'} 不是选择题，papergen 只导入单选和多选题；已跳过“{name}”"
            result.problems.append(Problem("error", "unsupported-question-type", message, path, line))
    return result


def _media(element: Element) -> str:
    """What media a question holds ("图片、音频"), or "" when none."""
    kinds: list[str] = []
    if element.find(".//file") is not None:
        kinds.append("附带的文件（图片等）")
    text = "\n".join(element.itertext())
    for match in _MEDIA.finditer(text):
        kind = _MEDIA_ZH.get((match[1] or "").lower(), "嵌入的媒体") if match[1] else ""
        if kind and kind not in kinds:
            kinds.append(kind)
    if not kinds and "@@PLUGINFILE@@" in text:
        kinds.append("文件引用（@@PLUGINFILE@@）")
    return "、".join(kinds)


def _choice(element: Element, warn: Callable[[str, str], None]) -> dict:
    """Type, options and answer of a multichoice (or truefalse) question.

    Fractions map as in GIFT (papergen has no partial credit): a ``<single>``
    question's key is its one full-credit answer (partial credit becomes a
    wrong option, with a warning); a multiple-response question's key is
    every answer with a positive fraction, and with only one it is imported
    as single choice (warning). A key that cannot be told is ``refused``.
    """
    options, fractions = [], []
    for index, answer in enumerate(element.findall("answer")):
        options.append(_text(answer))
        try:
            fraction = float(answer.get("fraction", "0"))
        except ValueError:
            warn("bad-fraction", f"第 {index + 1} 个答案的得分 fraction={answer.get('fraction')!r} 不是数字，按 0 分处理")
            fraction = 0.0
        fractions.append(fraction)

    def letters(keep: Callable[[float], bool]) -> str:
        return "".join(LETTERS[i] for i, f in enumerate(fractions[: len(LETTERS)]) if keep(f))

    correct = letters(lambda f: f > 0)
    if element.get("type") == "truefalse":
        right = {options[LETTERS.index(letter)].lower() for letter in correct}
        answer = "A" if "true" in right else "B" if "false" in right else ""
        return {"type": "single", "options": ["正确", "错误"], "answer": answer}
    single = (element.findtext("single") or "true").strip().lower() in ("true", "1")
    if single and len(correct) > 1:
        full = letters(lambda f: f >= 99.99)
        if len(full) != 1:
            return {"type": "single", "options": options, "answer": correct,
                    "refused": f"单选题（<single>true</single>）有 {len(full)} 个满分答案、{len(correct)} 个得分答案"
                               f"（{'、'.join(correct)}），papergen 的单选题只能有一个正确答案"}
        partial = "、".join(letter for letter in correct if letter not in full)
        warn("partial-credit", f"单选题中选项 {partial} 有部分分值，papergen 没有部分得分，按错误选项导入（正确答案 {full}）")
        correct = full
    elif not single and len(correct) == 1:
        warn("partial-credit", f"多选（复选框）题只有一个得分选项 {correct}，按单选题导入")
        single = True
    return {"type": "single" if single else "multiple", "options": options, "answer": correct}


def _apply_tags(element: Element, fields: dict, warn: Callable[[str, str], None]) -> None:
    """Fill tags, and difficulty/source/pins from papergen's machine tags."""
    fields.update(tags=[], difficulty=None, source=None)
    for raw in element.findall("tags/tag/text"):
        tag = (raw.text or "").strip()
        key, _, value = tag[len(MACHINE_TAG) :].partition("=")
        if not tag.startswith(MACHINE_TAG) or key not in ("difficulty", "source", "pin"):
            if tag:
                fields["tags"].append(tag)
        elif key == "difficulty":
            if value.strip().isdecimal() and len(value.strip()) <= 3:  # isdigit() passes "²", which int() refuses
                fields["difficulty"] = int(value)
            else:
                warn("bad-machine-tag", f"标签 {tag} 中的难度不是整数，已忽略")
        elif key == "source":
            fields["source"] = value
        else:
            pinned = {LETTERS.index(letter) for letter in normalize_answer(value)}
            fields["options"] = [{"text": t, "pin": True} if i in pinned else t for i, t in enumerate(fields["options"])]


# --- Writing ---------------------------------------------------------------
def _field(name: str, text: str, fmt: str = "html") -> str:
    body = f"<![CDATA[{text_to_html(text)}]]>" if fmt == "html" and text else xml_escape(text)
    return f'<{name} format="{fmt}"><text>{body}</text></{name}>'


def _category(path_segments: list[str], info: str = "", idnumber: str = "") -> str:
    path = "/".join(["$course$", "top"] + [segment.replace("/", "//") for segment in path_segments])
    return (f'  <question type="category">\n    <category><text>{xml_escape(path)}</text></category>\n'
            f"    {_field('info', info, 'plain_text')}\n    <idnumber>{xml_escape(idnumber)}</idnumber>\n  </question>\n")


def _question(question: Question) -> str:
    single = question.type == "single"
    correct = set(question.answer)
    right = "100" if single else fraction_text(max(len(correct), 1))
    wrong = "0" if single else "-100"
    pinned = "".join(LETTERS[i] for i, option in enumerate(question.options) if option.pin)
    lines = [
        '  <question type="multichoice">',
        f"    <name><text>{xml_escape(question.id)}</text></name>",
        f"    {_field('questiontext', question.stem)}",
        f"    {_field('generalfeedback', question.explanation)}",
        "    <defaultgrade>1</defaultgrade><penalty>0.3333333</penalty><hidden>0</hidden>",
        f"    <idnumber>{xml_escape(question.id)}</idnumber>",
        f"    <single>{'true' if single else 'false'}</single>",
        f"    <shuffleanswers>{0 if pinned else 1}</shuffleanswers>",
        "    <answernumbering>ABCD</answernumbering>",
    ]
    for letter, option in zip(LETTERS, question.options):
        fraction = right if letter in correct else wrong
        text = text_to_html(option.text)
        lines.append(f'    <answer fraction="{fraction}" format="html"><text><![CDATA[{text}]]></text>'
                     '<feedback format="html"><text></text></feedback></answer>')
    tags = [*question.tags, f"{MACHINE_TAG}difficulty={question.difficulty}", f"{MACHINE_TAG}source={question.source}"]
    if pinned:
        tags.append(f"{MACHINE_TAG}pin={pinned}")
    lines.append("    <tags>" + "".join(f"<tag><text>{xml_escape(tag)}</text></tag>" for tag in tags) + "</tags>")
    lines.append("  </question>")
    return "\n".join(lines) + "\n"


def write(bank: Bank) -> bytes:
    """The bank as Moodle XML (UTF-8); see the module docstring for the layout."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n']
    out.append(_category([bank.id], bank.title, BANK_MARKER + bank.id))
    topic = None
    for question in bank.questions:
        if question.topic != topic:
            topic = question.topic
            out.append(_category([bank.id, *question.topic_path]))
        out.append(_question(question))
    out.append("</quiz>\n")
    return "".join(out).encode("utf-8")
