"""Reading and writing bank files (YAML, UTF-8).

``read_bank`` is the one way into a bank: limits, encoding, safe YAML with
line numbers, then ``validate.bank_from_document``. ``load_banks`` is what
commands that *use* banks call: it refuses banks with errors. ``dump_bank``
writes the format back in schema order, readable by people.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from papergen.bank.model import Bank, HasProblems, Problem
from papergen.bank.validate import bank_from_document, check_banks
from papergen.core import atomic, inputs, located_yaml
from papergen.core.errors import (
    BankInvalid,
    InputFileError,
    InputRejected,
    PapergenError,
)


def read_bank(path: str | Path) -> tuple[Bank | None, list[Problem]]:
    """Read one bank file and check it.

    Raises ``InputFileError``/``InputRejected`` when the file cannot be read
    as YAML at all; everything else comes back as ``Problem`` objects.
    """
    data = inputs.read_bytes(path)
    text = inputs.decode_text(data, path)
    doc = located_yaml.parse(text, path)
    return bank_from_document(doc, str(path))


@dataclass
class ValidationReport(HasProblems):
    banks: list[Bank] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def failure(self, message: str, *, hint: str | None = None) -> PapergenError:
        """The error to raise when the check failed.

        A file refused for safety (exit 7) or not readable at all (exit 3)
        outranks invalid content (exit 4): a script sees the same code for a
        GBK or oversized bank whichever command read it.
        """
        codes = {p.code for p in self.errors}
        if "rejected-input" in codes:
            return InputRejected(message)
        if "unreadable-file" in codes:
            return InputFileError(message)
        return BankInvalid(message, hint=hint)


def validate_paths(paths: Iterable[str | Path]) -> ValidationReport:
    """Check every bank and the banks against each other.

    A file that cannot be read becomes an error problem and the others are
    still checked, so one run shows everything that needs fixing.
    """
    report = ValidationReport()
    for path in paths:
        try:
            bank, problems = read_bank(path)
        except PapergenError as exc:
            code = "rejected-input" if isinstance(exc, InputRejected) else "unreadable-file"
            report.problems.append(Problem("error", code, _with_hint(exc), exc.path or str(path), exc.line, exc.where))
            continue
        report.problems.extend(sorted(problems, key=lambda p: p.line or 0))
        if bank is not None:
            report.banks.append(bank)
    report.problems.extend(check_banks(report.banks))
    return report


def _with_hint(exc: PapergenError) -> str:
    return f"{exc.message}（{exc.hint}）" if exc.hint else exc.message


def load_banks(paths: Sequence[str | Path]) -> list[Bank]:
    """The banks, or an error listing every problem if any has one.

    ``BankInvalid`` for invalid content; ``InputRejected``/``InputFileError``
    when a file was refused or could not be read (``ValidationReport.failure``).
    """
    report = validate_paths(paths)
    if report.errors:
        listing = "\n".join(problem.format() for problem in report.errors[:50])
        more = len(report.errors) - 50
        if more > 0:
            listing += f"\n……另有 {more} 个错误"
        raise report.failure(f"题库有 {len(report.errors)} 个错误：\n{listing}", hint="先运行 papergen bank validate 修正题库")
    return report.banks


# ---------------------------------------------------------------------------
# Writing


class _FlowList(list):
    """A list written inline: ``tags: [二十大报告, 暖新驿站]``."""


class _FlowMap(dict):
    """A mapping written inline: ``{text: 以上都是, pin: true}``."""


class _BankDumper(yaml.SafeDumper):
    # Indent list items under their key, as people write YAML by hand.
    def increase_indent(self, flow: bool = False, indentless: bool = False):  # noqa: D401
        return super().increase_indent(flow, False)


#: Line breaks YAML knows besides \n. PyYAML writes them unescaped in plain,
#: quoted and block scalars, and reading back turns them into "\n" or " ";
#: only double quotes escape them (\N \L \P).
_OTHER_LINE_BREAKS = ("\x85", "\u2028", "\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    if any(ch in value for ch in _OTHER_LINE_BREAKS):
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BankDumper.add_representer(str, _represent_str)
_BankDumper.add_representer(
    _FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)
_BankDumper.add_representer(
    _FlowMap, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v.items(), flow_style=True)
)


def dump_bank(bank: Bank) -> str:
    """The bank as YAML text in schema order."""
    doc = bank.to_yaml()
    for question in doc["questions"]:
        question["tags"] = _FlowList(question["tags"])
        question["options"] = [_FlowMap(o) if isinstance(o, dict) else o for o in question["options"]]
    return yaml.dump(
        doc,
        Dumper=_BankDumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=10_000,
        indent=2,
    )


def write_bank(bank: Bank, path: str | Path) -> None:
    """Atomically write ``bank`` to ``path``."""
    atomic.write_text(path, dump_bank(bank))
