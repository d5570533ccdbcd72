"""Excel workbooks (.xlsx): one header row, then one question per row.

This is the sheet training centres keep. Columns are found by their header
(Chinese or English, any order, case and full-width characters ignored):
编号/id, 题型/type, 题干/stem, A..H (选项A, option A), 答案/answer,
解析/explanation, 知识点/topic, 难度/difficulty, 标签/tags, 来源/source and
固定选项/pinned (letters of options that keep their place when shuffled).
The header may sit below a few title rows. ``write`` produces the same
layout, plus a sheet 题库信息 holding the bank id and title, so a bank
survives a trip through Excel.
"""

from __future__ import annotations

import re
import unicodedata
from io import BytesIO
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from papergen.bank.formats import RawRecord, ReadResult
from papergen.bank.model import (
    LETTERS,
    MIN_OPTIONS,
    TYPE_LABELS_ZH,
    Bank,
    Problem,
    normalize_answer,
)
from papergen.core.errors import InputFileError, OutputError
from papergen.core.excel_text import EXCEL_CELL_MAX_CHARS, has_illegal, put_text
from papergen.core.inputs import check_zip

QUESTION_SHEET = "题库"
INFO_SHEET = "题库信息"
HEADER_SEARCH_ROWS = 10

#: Normalised header text (see ``_header_key``) → record field.
HEADER_FIELDS = {
    **dict.fromkeys(("编号", "题目编号", "试题编号", "id"), "id"),
    **dict.fromkeys(("题型", "题目类型", "试题类型", "type"), "type"),
    **dict.fromkeys(("题干", "题目", "stem", "question"), "stem"),
    **dict.fromkeys(("答案", "正确答案", "参考答案", "标准答案", "answer"), "answer"),
    **dict.fromkeys(("解析", "答案解析", "试题解析", "explanation"), "explanation"),
    **dict.fromkeys(("知识点", "考点", "topic"), "topic"),
    **dict.fromkeys(("难度", "difficulty"), "difficulty"),
    **dict.fromkeys(("标签", "tags", "tag"), "tags"),
    **dict.fromkeys(("来源", "出处", "source"), "source"),
    **dict.fromkeys(("固定选项", "pinned", "pin"), "pinned"),
}
_OPTION_HEADER = re.compile(r"^(?:选项|option)?([a-h])$")
#: Type cell text (normalised, a trailing 题 dropped) → question type.
TYPES = {
    **dict.fromkeys(("单选", "单项选择", "single"), "single"),
    **dict.fromkeys(("多选", "多项选择", "不定项", "不定项选择", "multiple"), "multiple"),
}
DIFFICULTY_WORDS = {"易": 1, "容易": 1, "较易": 2, "中": 3, "中等": 3, "较难": 4, "难": 5, "困难": 5}
_TAG_SEPARATORS = re.compile(r"[,，、;；]")
_LETTER_LIST = re.compile(r"[A-Ha-h\s,、;/]*[A-Ha-h][A-Ha-h\s,、;/]*")  # after NFKC: "A、C" "a c" "A,C"

#: Written layout: header → column width (options get ``OPTION_WIDTH``).
WIDTHS = {"编号": 14, "题型": 6, "题干": 60, "答案": 6, "解析": 40, "知识点": 24, "难度": 6, "标签": 16, "来源": 20, "固定选项": 10}
OPTION_WIDTH = 24
WRAPPED = {"题干", "解析"}  # plus the option columns


class _BadRow(Exception):
    """``(code, message)`` of a row that cannot be read: it becomes a Problem and is skipped."""


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _header_key(value: Any) -> str:
    # "  选项Ａ ", "*题干", "答案（必填）", "Option A" all name their column.
    return re.sub(r"\(.*?\)|\*|\s", "", _nfkc(_cell_text(value))).lower()


def _cell_text(value: Any) -> str:
    """A cell as text: 1.0 → "1", dates as ISO text, line breaks kept, ends stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):  # a date Excel recognised in what was meant as text
        return value.isoformat().replace("T00:00:00", "").replace("T", " ")
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def _columns(values: tuple[Any, ...]) -> tuple[dict[str, int], list[str]]:
    """Map field names (options: their letter) to column indexes; list ignored headers."""
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for index, value in enumerate(values):
        key = _header_key(value)
        if not key:
            continue
        option = _OPTION_HEADER.match(key)
        name = option.group(1).upper() if option else HEADER_FIELDS.get(key)
        if name is None or name in columns:
            ignored.append(_cell_text(value) + ("（重复）" if name else ""))
        else:
            columns[name] = index
    return columns, ignored


def _letters(text: str, what: str, code: str) -> str:
    if not text:
        return ""
    if not _LETTER_LIST.fullmatch(_nfkc(text)):
        raise _BadRow(code, f"{what}“{text}”无法识别：应为选项字母，如 A 或 ACD，这一行已跳过")
    return normalize_answer(_nfkc(text))


def _type(text: str) -> str | None:
    kind = TYPES.get(re.sub(r"\s", "", _nfkc(text)).lower().removesuffix("题"))
    if text and kind is None:
        raise _BadRow("bad-type", f"题型“{text}”不是单选或多选（papergen 只导入选择题），这一行已跳过")
    return kind


def _difficulty(text: str) -> int | None:
    if not text:
        return None
    key = _nfkc(text).strip()
    if key in DIFFICULTY_WORDS:
        return DIFFICULTY_WORDS[key]
    if not re.fullmatch(r"[1-5](?:\.0*)?", key):
        raise _BadRow("bad-difficulty", f"难度“{text}”无法识别：应为 1–5 的整数，或 易、较易、中等、较难、难，这一行已跳过")
    return int(key[0])


def _options(cells: dict[str, str]) -> list[Any]:
    present = [letter for letter in LETTERS if letter in cells]
    texts = [cells.get(letter, "") for letter in LETTERS[: LETTERS.index(present[-1]) + 1]]
    while texts and not texts[-1]:
        texts.pop()
    if "" in texts:
        gap, last = LETTERS[texts.index("")], LETTERS[len(texts) - 1]
        raise _BadRow("option-gap", f"选项 {gap} 是空的，后面的选项 {last} 却有内容：选项要从 A 起连续填写，这一行已跳过")
    pinned = _letters(cells.get("pinned", ""), "固定选项", "bad-pinned")
    if any(LETTERS.index(letter) >= len(texts) for letter in pinned):
        raise _BadRow("bad-pinned", f"固定选项“{cells['pinned']}”指向这一行没有的选项，这一行已跳过")
    return [{"text": text, "pin": True} if LETTERS[i] in pinned else text for i, text in enumerate(texts)]


def _fields(cells: dict[str, str], file_name: str) -> dict[str, Any]:
    return {
        "id": cells.get("id") or None,
        "type": _type(cells.get("type", "")),
        "stem": cells.get("stem", ""),
        "options": _options(cells),
        "answer": _letters(cells.get("answer", ""), "答案", "bad-answer"),
        "explanation": cells.get("explanation", ""),
        "topic": cells.get("topic") or None,
        "difficulty": _difficulty(cells.get("difficulty", "")),
        "tags": [tag.strip() for tag in _TAG_SEPARATORS.split(cells.get("tags", "")) if tag.strip()],
        # Like the text reader: a sheet without a 来源 column is its own source.
        "source": cells["source"] if "source" in cells else file_name,
    }


def read(data: bytes, path: str) -> ReadResult:
    """Read the first worksheet with a question header; see the module docstring."""
    check_zip(data, path)
    try:
        # Not read_only: that mode cannot see merged cells. data_only: formulas give their cached values.
        workbook = load_workbook(BytesIO(data), read_only=False, data_only=True)
    except Exception as exc:  # openpyxl raises anything from KeyError to XML errors on a broken file
        message = f"无法作为 Excel 工作簿打开（{type(exc).__name__}），文件可能已损坏或不是 .xlsx"
        raise InputFileError(message, path=path, hint="用 Excel/WPS 打开后重新另存为 .xlsx 再导入") from None
    best: dict[str, int] = {}
    for sheet in workbook.worksheets:
        if sheet.title == INFO_SHEET:
            continue
        for row, values in enumerate(sheet.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True), 1):
            columns, ignored = _columns(values)
            if "stem" in columns and "answer" in columns and sum(x in columns for x in LETTERS) >= MIN_OPTIONS:
                result = _read_sheet(sheet, row, columns, path)
                if ignored:
                    where = f"工作表 {sheet.title} 第 {row} 行"
                    message = f"表头中这些列 papergen 不认识或重复，已忽略：{'、'.join(ignored)}"
                    result.problems.insert(0, Problem("warning", "ignored-column", message, path, row, where))
                _read_info(workbook, result)
                return result
            best = max(best, columns, key=len)
    # Name what is missing from the row that came closest to a header.
    missing = [name for key, name in (("stem", "题干"), ("answer", "答案")) if key not in best]
    missing += ["至少两个选项列（A、B…）"] if sum(x in best for x in LETTERS) < MIN_OPTIONS else []
    message = f"在各工作表的前 {HEADER_SEARCH_ROWS} 行里找不到题目表头：缺少 {'、'.join(missing)} 列"
    hint = "表头行要有“题干”“答案”两列和 A、B、C… 选项列（英文 stem、answer、A、B 也可以）"
    raise InputFileError(message, path=path, hint=hint)


def _read_sheet(sheet: Any, header_row: int, columns: dict[str, int], path: str) -> ReadResult:
    result = ReadResult()

    def where(row: int) -> str:
        return f"工作表 {sheet.title} 第 {row} 行"

    skipped: set[int] = set()
    for merged in sorted(sheet.merged_cells.ranges, key=lambda r: (r.min_row, r.min_col)):
        if merged.max_row <= header_row:
            continue  # a merged title above the header is harmless
        first, last = max(merged.min_row, header_row + 1), merged.max_row
        rows = f"第 {first} 行" if first == last else f"第 {first}–{last} 行"
        message = f"合并单元格 {merged.coord} 覆盖{rows}：合并后只有左上角一格有内容，分不清每道题，这些行已跳过；请取消合并，把内容填到每一行"
        result.problems.append(Problem("error", "merged-cells", message, path, first, where(first)))
        skipped.update(range(first, last + 1))
    file_name = Path(path).name
    for row, values in enumerate(sheet.iter_rows(min_row=header_row + 1, values_only=True), header_row + 1):
        if row in skipped:
            continue
        cells = {name: _cell_text(values[i]) if i < len(values) else "" for name, i in columns.items()}
        if not any(cells.values()):
            continue
        try:
            result.records.append(RawRecord(_fields(cells, file_name), row, where(row)))
        except _BadRow as bad:
            result.problems.append(Problem("error", *bad.args, path, row, where(row)))
    result.problems.sort(key=lambda problem: problem.line or 0)
    return result


def _read_info(workbook: Any, result: ReadResult) -> None:
    """Bank id and title from the 题库信息 sheet that ``write`` adds."""
    if INFO_SHEET in workbook.sheetnames:
        rows = workbook[INFO_SHEET].iter_rows(min_col=1, max_col=2, values_only=True)
        info = {_cell_text(key).lower(): _cell_text(value) or None for key, value in rows}
        result.bank_id, result.title = info.get("bank"), info.get("title")


# ---------------------------------------------------------------------------
# Writing


def _put(sheet: Any, row: int, column: int, value: Any, owner: str) -> Any:
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, str) and value:
        if has_illegal(value):
            # A bank export must not lose text silently: refuse instead of cleaning.
            raise OutputError(f"{owner} 含有控制字符或超过 {EXCEL_CELL_MAX_CHARS} 个字符，Excel 单元格存不下，请先修改题库")
        put_text(cell, value)
    elif value != "":
        cell.value = value
    return cell


def write(bank: Bank) -> bytes:
    """The bank as a workbook: sheet 题库 (one question per row) and sheet 题库信息."""
    width = max([4, *(len(question.options) for question in bank.questions)])
    headers = ["编号", "题型", "题干", *LETTERS[:width], "答案", "解析", "知识点", "难度", "标签", "来源", "固定选项"]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = QUESTION_SHEET
    for column, header in enumerate(headers, 1):
        _put(sheet, 1, column, header, "表头").font = Font(bold=True)
        sheet.column_dimensions[get_column_letter(column)].width = WIDTHS.get(header, OPTION_WIDTH)
    wrapped, top = Alignment(wrap_text=True, vertical="top"), Alignment(vertical="top")
    for row, question in enumerate(bank.questions, 2):
        texts = [option.text for option in question.options]
        pinned = "".join(LETTERS[i] for i, option in enumerate(question.options) if option.pin)
        values = [question.id, TYPE_LABELS_ZH.get(question.type, question.type), question.stem, *texts]
        values += [""] * (width - len(texts))
        values += [question.answer, question.explanation, question.topic, question.difficulty]
        values += ["、".join(question.tags), question.source, pinned]
        for column, (header, value) in enumerate(zip(headers, values), 1):
            cell = _put(sheet, row, column, value, f"题目 {question.id} 的“{header}”")
            cell.alignment = wrapped if header in WRAPPED or header in LETTERS else top
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(bank.questions) + 1}"
    info = workbook.create_sheet(INFO_SHEET)
    for row, (key, value) in enumerate((("bank", bank.id), ("title", bank.title)), 1):
        _put(info, row, 1, key, "题库信息")
        _put(info, row, 2, value, "题库信息")
    info.column_dimensions["B"].width = 40
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
