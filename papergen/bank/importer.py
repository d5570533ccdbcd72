"""Importing questions from other formats into a bank.

``import_file`` reads a source, tells its format by content
(``inputs.sniff_kind``), lets that format's reader produce raw records, and
holds every record to the bank rules (``validate.questions_from_mappings``).
Questions that fail are skipped and reported with their place in the source;
the rest become a ``Bank``. ``export_bank`` goes the other way.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from papergen.bank.files import dump_bank
from papergen.bank.formats import RawRecord, ReadResult
from papergen.bank.model import (
    DEFAULT_DIFFICULTY,
    UNCLASSIFIED_TOPIC,
    Bank,
    HasProblems,
    Problem,
    Question,
)
from papergen.bank.validate import ID_PATTERN, check_banks, questions_from_mappings
from papergen.core import atomic, inputs
from papergen.core.errors import ExitCode, InputFileError, OutputError, PapergenError
from papergen.core.located_yaml import located

#: Source kind → module in ``papergen.bank.formats`` with ``read``/``write``.
FORMAT_MODULES = {
    inputs.KIND_TEXT: "cntext",
    inputs.KIND_DOCX: "docx",
    inputs.KIND_XLSX: "xlsx",
    inputs.KIND_MOODLE: "moodle",
    inputs.KIND_GIFT: "gift",
    inputs.KIND_AIKEN: "aiken",
    inputs.KIND_MARKDOWN: "markdown",
}
FORMAT_NAMES_ZH = {
    inputs.KIND_TEXT: "中文题目文本",
    inputs.KIND_DOCX: "Word 文档",
    inputs.KIND_XLSX: "Excel 表格",
    inputs.KIND_MOODLE: "Moodle XML",
    inputs.KIND_GIFT: "GIFT",
    inputs.KIND_AIKEN: "Aiken",
    inputs.KIND_MARKDOWN: "Markdown",
    "yaml": "papergen 题库 YAML",
}
#: Export formats and the file endings that choose them.
EXPORT_SUFFIXES = {".xlsx": "xlsx", ".xml": "moodle", ".gift": "gift", ".txt": "text", ".yaml": "yaml", ".yml": "yaml"}
EXPORT_FORMATS = ("xlsx", "moodle", "gift", "aiken", "text", "yaml")


def _format_module(name: str):
    return importlib.import_module(f"papergen.bank.formats.{name}")


@dataclass(frozen=True)
class Skipped:
    """A question (or what looked like one) in the source that was not imported."""

    line: int | None
    where: str | None
    reason: str


class ImportAccountingError(PapergenError):
    """The import's own count does not add up: a bug in papergen, never a quiet number."""

    exit_code = ExitCode.unexpected


@dataclass
class ImportReport(HasProblems):
    """The outcome of one import: the bank plus everything worth saying.

    Every question the reader found is either in ``bank`` or in ``skipped``
    with its place and reason: ``found == imported + skipped`` is checked
    before the report is returned. ``stray`` is the text that belonged to no
    question, (line, excerpt), each also a warning in ``problems``.
    """

    bank: Bank
    kind: str
    records: int  # questions the reader recognised
    problems: list[Problem] = field(default_factory=list)
    skipped_questions: list[Skipped] = field(default_factory=list)
    found: int = 0  # questions in the source by the format's own boundaries
    stray: list[tuple[int, str]] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.skipped_questions)

    @property
    def imported(self) -> int:
        return len(self.bank.questions)

    def accounting(self) -> str:
        """找到 N 题，导入 I 题，跳过 S 题，题外文字 T 处: the line every import ends with."""
        skipped = f"跳过 {self.skipped} 题" + ("（原因见上方各“错误”行）" if self.skipped else "")
        return f"找到 {self.found} 题，导入 {self.imported} 题，{skipped}，题外文字 {len(self.stray)} 处"


def bank_id_from_name(path: str | Path) -> str:
    """A valid bank id from a file name: ``练习 题库(2).yaml`` → ``练习-题库-2``.

    The id also prefixes every question id, so characters an id may not hold
    (spaces, brackets, other scripts) become ``-`` rather than failing every question.
    """
    text = re.sub(r"[^A-Za-z0-9_.\-\u4e00-\u9fff]+", "-", Path(path).stem).strip("-.")[:64].strip("-.")
    return text if text and ID_PATTERN.match(text) else "bank"


def import_file(
    source: str | Path,
    *,
    bank_id: str,
    title: str | None = None,
    topic: str | None = None,
    id_prefix: str | None = None,
) -> ImportReport:
    """Read ``source`` (any supported format) into a ``Bank``.

    Parameters
    ----------
    bank_id
        Id of the new bank (used unless the source names its own).
    title
        Bank title; default: the source's own title, else its file name.
    topic
        知识点 for questions whose source gives none (default 未分类).
    id_prefix
        Questions without an id get ``{id_prefix}-{n:03d}``, ``n`` being the
        question's position in the source, so ids stay put when a skipped
        question is fixed and the file imported again. Default: ``bank_id``.
    """
    path = str(source)
    data = inputs.read_bytes(source)
    kind = inputs.sniff_kind(data, path)
    if kind == inputs.KIND_BANK:
        raise InputFileError(
            "这已经是 papergen 题库文件，无需导入", path=path, hint="用 papergen bank validate 检查它"
        )
    result = _format_module(FORMAT_MODULES[kind]).read(data, path)
    if not result.records and not any(p.is_error for p in result.problems):
        # An empty bank written with exit 0 would look like a successful import.
        raise InputFileError(
            f"没有找到任何题目（按{FORMAT_NAMES_ZH[kind]}读取）", path=path,
            hint="确认选对了文件：每道题需要题号、选项和答案",
        )
    prefix = id_prefix or bank_id
    explicit_ids = {r.fields.get("id") for r in result.records if r.fields.get("id")}
    width = max(3, len(str(len(result.records))))
    items = []
    trusted: list[tuple[RawRecord, str]] = []  # records to validate, with the id they were given
    untrusted: list[RawRecord] = []
    where_of_line: dict[int, str] = {}
    for position, record in enumerate(result.records, start=1):
        fields = dict(record.fields)
        if not fields.get("id"):
            candidate = f"{prefix}-{position:0{width}d}"
            while candidate in explicit_ids:  # never collide with ids the source carries
                candidate += "x"
            fields["id"] = candidate
        if record.where:
            where_of_line[record.line] = record.where
        if record.errors:
            # The reader already knows this record is not what the source
            # meant (two keys, a question merged into it): never validated
            # into the bank, only reported.
            untrusted.append(record)
            continue
        if not fields.get("type"):
            answer = fields.get("answer") or ""
            fields["type"] = "multiple" if len(answer) >= 2 else "single"
        fields["topic"] = fields.get("topic") or topic or UNCLASSIFIED_TOPIC
        if fields.get("difficulty") is None:
            fields["difficulty"] = DEFAULT_DIFFICULTY
        fields["source"] = fields.get("source") or Path(path).name
        fields.setdefault("tags", [])
        fields.setdefault("explanation", "")
        items.append((located(fields, record.line), record.line))
        trusted.append((record, fields["id"]))
    questions, problems = questions_from_mappings(items, path)
    problems = [
        dataclasses.replace(p, where=where_of_line.get(p.line, p.where)) if p.line in where_of_line else p
        for p in problems
    ]
    record_problems = [p for record in untrusted for p in record.errors]
    # A bank id or title carried by the source (Excel 题库信息, a GIFT or Moodle
    # header) is only used when it is valid: the written bank must pass validation.
    source_id, source_title = result.bank_id, result.title
    if source_id is not None and not (isinstance(source_id, str) and ID_PATTERN.match(source_id)):
        message = f"来源中的题库编号 {str(source_id)[:40]!r} 不是有效的编号（字母、数字、汉字、- _ .），改用 {bank_id}"
        problems.append(Problem("warning", "bad-source-bank-id", message, path, None))
        source_id = None
    if not (isinstance(source_title, str) and source_title.strip()):
        source_title = None
    # The bank's path is the source until it is written: the lines its
    # questions carry are the source's, and cross-question warnings
    # (duplicates) name "source:line" rather than "None:line".
    bank = Bank(source_id or bank_id, title or (source_title and source_title.strip()) or Path(path).stem, questions, path)
    stray_problems = _stray_warnings(result, path)
    all_problems = sorted(result.problems + record_problems + problems + stray_problems, key=lambda p: p.line or 0)
    all_problems += [
        dataclasses.replace(p, where=where_of_line[p.line]) if p.where is None and p.line in where_of_line else p
        for p in check_banks([bank])
    ]
    skipped = _skipped_questions(result, trusted, untrusted, questions, problems)
    report = ImportReport(
        bank=bank, kind=kind, records=len(result.records), problems=all_problems, skipped_questions=skipped,
        found=_found(result), stray=list(result.stray),
    )
    if report.found != report.imported + report.skipped:
        raise ImportAccountingError(
            f"导入的清点对不上：来源中找到 {report.found} 题，导入 {report.imported} 题，跳过 {report.skipped} 题"
            f"（按{FORMAT_NAMES_ZH[kind]}读取）。这是 papergen 的错误，结果不可信，未写入任何文件",
            path=path, hint="请把这个来源文件和这段信息报告给 papergen 的维护者",
        )
    return report


def _found(result: ReadResult) -> int:
    """Questions in the source: the reader's own count, else records plus question-level errors.

    A reader that does not count (``found is None``) reports every question
    it could not turn into a record as one error problem, which
    ``_skipped_questions`` counts as one skipped question; so the fallback
    is the same sum.
    """
    if result.found is not None:
        return result.found
    return len(result.records) + sum(1 for p in result.problems if p.is_error)


def _stray_warnings(result: ReadResult, path: str) -> list[Problem]:
    """A warning for every piece of text that belonged to no question (unless the reader gave one)."""
    told = {p.line for p in result.problems if p.code == "stray-text"}
    return [
        Problem("warning", "stray-text", f"这段文字不属于任何题目，未导入：“{excerpt}”", path, line)
        for line, excerpt in result.stray
        if line not in told
    ]


def _skipped_questions(
    result: ReadResult,
    trusted: list[tuple[RawRecord, str]],
    untrusted: list[RawRecord],
    questions: list[Question],
    problems: list[Problem],
) -> list[Skipped]:
    """One entry per question not imported, in source order.

    A reader error that is not about a record (a question without options,
    a 判断题 section, a key entry with no question, a question the reader
    lost) stands for a question of its own. A record is skipped when the
    reader distrusts it or it fails the bank rules; which ones passed is
    told by id (the validator keeps the first of duplicate ids, if valid).
    """
    entries = [Skipped(p.line, p.where, p.message) for p in result.problems if p.is_error]
    entries += [Skipped(r.line, r.where, "；".join(p.message for p in r.errors)) for r in untrusted]
    reasons: dict[int | None, list[str]] = {}
    for problem in problems:
        if problem.is_error:
            reasons.setdefault(problem.line, []).append(problem.message)
    imported = {q.id for q in questions}
    for record, qid in trusted:
        if qid in imported:
            imported.discard(qid)
            continue
        entries.append(Skipped(record.line, record.where, "；".join(reasons.get(record.line, [])) or "未通过题库校验"))
    return sorted(entries, key=lambda e: e.line or 0)


def write_bank_file(bank: Bank, path: str | Path, *, force: bool = False) -> bool:
    """Write ``bank`` as YAML; returns False when the file already held exactly this.

    An existing file with different content is only replaced with ``force``:
    a hand-edited bank must never be overwritten by a re-import by accident.
    """
    path = Path(path)
    bank.path = str(path)
    text = dump_bank(bank)
    if path.exists():
        try:
            current = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        if current == text:
            return False
        if not force:
            raise OutputError(
                "文件已存在且内容不同，未覆盖", path=path, hint="确认要替换它时加 --force，或换一个输出文件名"
            )
    atomic.write_text(path, text)
    return True


def export_format_for(path: str | Path, requested: str | None) -> str:
    """The export format: as requested, else from the output file's ending."""
    if requested:
        return requested
    suffix = Path(path).suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise OutputError(
            f"无法从扩展名 {suffix or '（无）'} 判断导出格式",
            path=path,
            hint="用 --format 指定：" + "、".join(EXPORT_FORMATS),
        )
    return EXPORT_SUFFIXES[suffix]


def export_bank(bank: Bank, path: str | Path, fmt: str) -> list[str]:
    """Write ``bank`` to ``path`` in format ``fmt`` (atomically).

    Returns the ids of questions the format cannot hold and that were left
    out (Aiken has no multiple choice); the caller tells the user.
    """
    left_out: list[str] = []
    if fmt == "yaml":
        data = dump_bank(bank).encode("utf-8")
    elif fmt == "aiken":
        aiken = _format_module("aiken")
        left_out = aiken.multiple_choice_ids(bank)
        data = aiken.write(bank, skip_multiple=True)
    elif fmt in ("xlsx", "moodle", "gift"):
        data = _format_module(fmt).write(bank)
    elif fmt == "text":
        data = _format_module("cntext").write(bank)
    else:
        raise OutputError(f"不支持的导出格式 {fmt}", path=path)
    atomic.write_bytes(path, data)
    return left_out
