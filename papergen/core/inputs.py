"""Reading input files safely and telling what they are by their content.

Every importer and the bank reader come through here, so size limits, zip-bomb
checks and encoding diagnosis happen once. The kind of a file is decided by
its bytes (zip members, XML root, text patterns); the one use of a name is a
``.md`` ending, which adds to the Markdown content rule (see
``_looks_like_markdown``).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from pathlib import Path

from papergen.core import limits
from papergen.core.errors import InputFileError, InputRejected

UTF8_BOM = b"\xef\xbb\xbf"
#: What zipfile raises, beyond BadZipFile, for a damaged archive or member:
#: bad deflate data (zlib.error), offsets before the start ("negative seek
#: value", ValueError), a member cut short (EOFError), an unknown compression
#: method (NotImplementedError), an encrypted member (RuntimeError).
_ZIP_DAMAGE = (zipfile.BadZipFile, zlib.error, ValueError, EOFError, NotImplementedError, RuntimeError, OSError)


def read_bytes(path: str | Path) -> bytes:
    """Read a whole input file, refusing missing, unreadable or oversized ones."""
    path = Path(path)
    limit = limits.current().max_input_bytes
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise InputFileError("是一个文件夹，不是文件", path=path)
        if size > limit:
            raise InputRejected(
                f"文件有 {size / 1024 / 1024:.1f} MB，超过输入文件上限 {limit / 1024 / 1024:.0f} MB",
                path=path,
                hint="确认文件无误后，可设置环境变量 PAPERGEN_MAX_INPUT_MB 提高上限",
            )
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise InputFileError("文件不存在", path=path) from None
    except PermissionError:
        raise InputFileError("没有读取权限", path=path) from None
    except IsADirectoryError:
        raise InputFileError("是一个文件夹，不是文件", path=path) from None
    except OSError as exc:
        raise InputFileError(f"无法读取：{exc.strerror or exc}", path=path) from None
    if len(data) > limit:  # grew while we read it
        raise InputRejected("文件超过输入文件上限", path=path)
    return data


def decode_text(data: bytes, path: str | Path) -> str:
    """Decode UTF-8 text (a BOM is accepted and dropped).

    Anything else is refused with a message that names the line of the first
    bad byte and, when the bytes read as GBK/GB18030 (what Chinese Windows
    tools write), says so and how to convert.
    """
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputFileError(
            "文件是 UTF-16 编码，papergen 只读 UTF-8",
            path=path,
            hint="用记事本“另存为”并选择 UTF-8 编码",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        hint = "请把文件另存为 UTF-8 编码"
        message = f"不是有效的 UTF-8 文本（第 {exc.start} 字节起）"
        if _looks_like_gb18030(data):
            message = "文件看起来是 GBK/GB18030 编码，不是 UTF-8"
            hint = f"用 iconv -f GBK -t UTF-8 转换后再试：iconv -f GBK -t UTF-8 {path} > 新文件"
        raise InputFileError(message, path=path, line=line, hint=hint) from None
    if "\x00" in text:
        raise InputFileError("文本里有空字符（NUL），这不是文本文件", path=path)
    return text


def _looks_like_gb18030(data: bytes) -> bool:
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    han = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return han >= 2


def check_zip(data: bytes, path: str | Path) -> zipfile.ZipFile:
    """Open a zip container (DOCX, XLSX) after checking it is whole and no bomb."""
    lim = limits.current()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except _ZIP_DAMAGE:
        raise InputFileError(
            "文件已损坏或不完整（zip 容器无法打开），可能下载或复制时被截断",
            path=path,
            hint="请重新导出或重新复制这个文件",
        ) from None
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > lim.max_zip_ratio and member.file_size > 1024 * 1024:
            raise InputRejected(
                f"压缩包成员 {member.filename} 的压缩比 {ratio:.0f}:1 异常（疑似 zip 炸弹），已拒绝",
                path=path,
                hint="如确属正常文件，可设置 PAPERGEN_MAX_ZIP_RATIO 提高上限",
            )
    if total > lim.max_unzipped_bytes:
        raise InputRejected(
            f"解压后共 {total / 1024 / 1024:.0f} MB，超过上限 {lim.max_unzipped_bytes / 1024 / 1024:.0f} MB（疑似 zip 炸弹）",
            path=path,
            hint="如确属正常文件，可设置 PAPERGEN_MAX_UNZIPPED_MB 提高上限",
        )
    for member in members:
        if member.filename.endswith((".xml", ".rels")) and _declares_dtd(archive, member):
            # Word, Excel and WPS never write a DTD; one here can only be an
            # entity attack (external entities, "billion laughs"), as in Moodle XML.
            raise InputRejected(
                f"压缩包成员 {member.filename} 含有 DTD 或实体声明（<!DOCTYPE …>/<!ENTITY …>），为安全起见拒绝读取",
                path=path,
                hint="用 Word/Excel/WPS 打开后重新另存再试",
            )
    try:
        bad = archive.testzip() if total < 64 * 1024 * 1024 else None
    except RuntimeError:  # testzip reads every member: an encrypted one needs a password
        raise InputFileError("压缩包成员已加密，papergen 无法读取", path=path, hint="请在 Word/Excel/WPS 中取消密码保护后另存") from None
    except _ZIP_DAMAGE as exc:
        raise InputFileError(
            f"文件已损坏（压缩数据无法解开：{exc}），可能下载或复制时出错", path=path, hint="请重新导出或重新复制这个文件"
        ) from None
    if bad is not None:
        raise InputFileError(f"压缩包成员 {bad} 已损坏", path=path)
    return archive


def _declares_dtd(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bool:
    """Whether an XML member's prolog (its first 4 KB) declares a DTD or entities."""
    try:
        with archive.open(member) as handle:
            head = handle.read(4096)
    except Exception:  # an unreadable member: testzip names it
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", "ignore").encode("utf-8")
    return b"<!DOCTYPE" in head or b"<!ENTITY" in head


# ---------------------------------------------------------------------------
# Triage by content

KIND_DOCX = "docx"
KIND_XLSX = "xlsx"
KIND_MOODLE = "moodle"
KIND_GIFT = "gift"
KIND_AIKEN = "aiken"
KIND_TEXT = "text"  # Chinese exam-prep text
KIND_BANK = "bank"  # a papergen YAML bank
KIND_MARKDOWN = "markdown"  # Markdown question files

_GIFT_ANSWER_BLOCK = re.compile(r"\{[^{}]*[=~][^{}]*\}", re.S)
#: GIFT's answer parts that hold no "=" or "~": true/false ({T} {TRUE} {F}
#: {FALSE}, with #feedback), essay ({}), numerical ({#…}).
_GIFT_OTHER_BLOCK = re.compile(r"\{\s*(?:(?:T|F|TRUE|FALSE)\s*(?:#[^{}]*)?|#[^{}]*)?\}")
#: Option lines of Chinese exam text ("A." "（B）" "Ｃ、"), which GIFT never has.
_OPTION_LINE = re.compile(r"^\s*[(（]?[A-HＡ-Ｈ][)）]?\s*[.．、:：)）]", re.M)
#: Moodle's key is the first letter after "ANSWER:", whatever follows it ("ANSWER: B - because", "ANSWER: A, C").
_AIKEN_ANSWER = re.compile(r"^[ \t]*ANSWER:[ \t]*[A-Z](?![a-z])", re.M)
_BANK_HEAD = re.compile(r"^(bank|questions)\s*:", re.M)


def sniff_kind(data: bytes, path: str | Path) -> str:
    """Tell which importer reads ``data``, from its bytes alone."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        archive = check_zip(data, path)
        names = set(archive.namelist())
        if "word/document.xml" in names:
            return KIND_DOCX
        if "xl/workbook.xml" in names:
            return KIND_XLSX
        raise InputFileError(
            "这是一个 zip 压缩包，但既不是 Word（.docx）也不是 Excel（.xlsx）文件", path=path
        )
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputFileError(
            "这是旧版 Office 文件（.doc/.xls），papergen 读取 .docx 和 .xlsx",
            path=path,
            hint="用 Word/Excel/WPS 另存为 .docx 或 .xlsx 后再导入",
        )
    if data.startswith(b"%PDF"):
        raise InputFileError("这是 PDF 文件，不能作为题库导入", path=path, hint="请提供 .txt、.docx、.xlsx 或 Moodle XML")
    text = decode_text(data, path)
    head = text.lstrip()[:2000]
    if head.startswith("<"):
        if "<quiz" in text[:200_000]:
            return KIND_MOODLE
        raise InputFileError("这是 XML/HTML 文件，但不是 Moodle XML（缺少 <quiz> 根元素）", path=path)
    if _BANK_HEAD.search(text[:5000]) and re.search(r"^\s*-\s*id\s*:", text, re.M):
        return KIND_BANK
    if _looks_like_markdown(text, path):
        return KIND_MARKDOWN
    # Aiken's "ANSWER: B" line is distinctive; Chinese text says 答案 instead.
    if _AIKEN_ANSWER.search(text) and not re.search(r"【答案】|答案[:：]", text):
        return KIND_AIKEN
    if _GIFT_ANSWER_BLOCK.search(text) and ("::" in text or re.search(r"^\s*\$CATEGORY:", text, re.M) or re.search(r"\{\s*[=~]", text)):
        return KIND_GIFT
    # A GIFT file of only true/false, essay or numerical questions: no line
    # is a lettered option, as every Chinese exam text has.
    if _GIFT_OTHER_BLOCK.search(text) and not _OPTION_LINE.search(text) and not re.search(r"【答案】|答案[:：]", text):
        return KIND_GIFT
    return KIND_TEXT


#: Markdown markup a question file uses: headings, list-item options, fenced
#: code, a bold key ("**答案**：B", "**答案：** B").
_MARKDOWN_MARKS = re.compile(
    r"^\s{0,3}#{1,6}\s+\S|^\s*[-*+]\s+[(（]?[A-H][.．:：、)）]|^\s{0,3}(?:```|~~~)|\*\*\s*(?:正确答案|参考答案|答案)",
    re.M,
)


def _looks_like_markdown(text: str, path: str | Path) -> bool:
    """A ``.md``/``.markdown`` file, or text with Markdown question markup on at least two lines.

    The file name is only a hint added to the content rule: a Markdown file is
    read as Markdown whatever its name, and a ``.md`` name on a GIFT or Aiken
    file is not enough to take it away from those readers (they are checked
    by content first only when the text has no Markdown markup at all).
    """
    marks = len(_MARKDOWN_MARKS.findall(text[:200_000]))
    if Path(path).suffix.lower() in (".md", ".markdown"):
        return marks >= 1 or not (_AIKEN_ANSWER.search(text) or _GIFT_ANSWER_BLOCK.search(text))
    return marks >= 2
