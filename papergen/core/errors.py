"""Error classes: each carries its exit code and a fix-it hint.

Library code raises these; ``cli.py`` turns them into a message on stderr and
the exit code below. The table is the contract documented in README.md, so a
script driving papergen can tell "the bank is wrong" from "the disk is full".
"""

from __future__ import annotations

import signal
from enum import IntEnum
from pathlib import Path


def format_location(path: str | None, line: int | None, where: str | None) -> str:
    """``file:line`` (or ``file:where`` for pages, paragraphs and rows) for messages."""
    if path is None:
        return ""
    if where:
        return f"{path}:{where}"
    if line is not None:
        return f"{path}:{line}"
    return path


class ExitCode(IntEnum):
    """Process exit codes. Never renumber: scripts depend on them."""

    ok = 0
    unexpected = 1  # a bug in papergen: please report it with the traceback
    usage = 2  # bad command line (Click's own code)
    input_file = 3  # input missing, unreadable, or not in a format papergen reads
    bank_invalid = 4  # a bank failed validation
    import_incomplete = 5  # import wrote what it could but skipped some questions
    output_error = 6  # an output could not be written (permissions, disk full, refused overwrite)
    input_rejected = 7  # input refused for safety: over a size limit, zip bomb, unsafe YAML
    blueprint_invalid = 8  # a blueprint is wrong or cannot be met by the banks (quota, topic, rule)
    busy = 9  # another papergen process is using the same results folder
    graded_with_review = 10  # grading finished; some sheets or marks need a person
    graded_with_errors = 11  # grading finished; some files or pages could not be read at all
    lint_findings = 12  # bank lint found item-writing flaws at error level (or any, with --strict)
    decision_invalid = 13  # a review decision or key correction was refused (a letter the question lacks, a bad 准考证号…)
    interrupted = 130  # Ctrl-C (SIGINT)
    terminated = 143  # SIGTERM (kill, a service manager, a job's time limit)


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) or SIGTERM, raised by the command line's signal handler.

    A ``BaseException`` like ``KeyboardInterrupt``, so ``except Exception``
    never swallows it and clean-up in ``finally`` blocks still runs; but not
    a ``KeyboardInterrupt``, which Click would report as "Aborted!" with
    exit 1.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.notes: list[str] = []  # what the interrupted command wants said before "已中断。"
        super().__init__(signum)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.terminated if self.signum == signal.SIGTERM else ExitCode.interrupted

    @property
    def message(self) -> str:
        return "已中断（收到 SIGTERM）。" if self.exit_code == ExitCode.terminated else "已中断。"


class PapergenError(Exception):
    """Base class: a message that names the place, an exit code and a hint."""

    exit_code: ExitCode = ExitCode.unexpected
    hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        where: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        # ``where`` replaces ``line`` for places that are not text lines,
        # e.g. "工作表 题库 第 7 行" in a workbook or "第 3 段" in a DOCX.
        self.where = where
        if hint is not None:
            self.hint = hint
        super().__init__(self.location_message())

    def location(self) -> str:
        return format_location(self.path, self.line, self.where)

    def location_message(self) -> str:
        loc = self.location()
        return f"{loc}: {self.message}" if loc else self.message


class InputFileError(PapergenError):
    """An input file is missing, unreadable, corrupt or of an unknown kind."""

    exit_code = ExitCode.input_file


class InputRejected(PapergenError):
    """An input was refused on purpose: size limits, zip bombs, unsafe YAML."""

    exit_code = ExitCode.input_rejected


class BankInvalid(PapergenError):
    """One or more banks failed validation; the problems were already listed."""

    exit_code = ExitCode.bank_invalid


class LintFindings(PapergenError):
    """``bank lint`` found flawed questions; the findings were already listed."""

    exit_code = ExitCode.lint_findings


class ImportIncomplete(PapergenError):
    """The importer wrote the questions it could read but skipped others."""

    exit_code = ExitCode.import_incomplete


class OutputError(PapergenError):
    """An output could not be written; nothing was left half-written."""

    exit_code = ExitCode.output_error


class BlueprintError(PapergenError):
    """A blueprint is malformed, or the banks cannot satisfy it."""

    exit_code = ExitCode.blueprint_invalid


class StoreBusy(PapergenError):
    """Another process holds the results folder."""

    exit_code = ExitCode.busy


class DecisionInvalid(PapergenError):
    """A person's decision (review, ``rekey``, ``--apply``) that cannot be recorded; nothing was recorded for it."""

    exit_code = ExitCode.decision_invalid


class StoreMismatch(PapergenError):
    """The results folder belongs to another exam (or another manifest)."""

    exit_code = ExitCode.output_error
