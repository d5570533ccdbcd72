"""Question formats papergen reads and writes, one module per format.

A reader turns file content into ``RawRecord`` objects: plain dicts with the
bank schema's keys (``type``, ``stem``, ``options``, ``answer``,
``explanation``, ``topic``, ``difficulty``, ``tags``, ``source``, optional
``id``) plus where each record came from. Readers do not validate: the
importer (``papergen.bank.importer``) runs every record through the same checks
as a bank file, so an imported question is held to exactly the bank rules.
A chunk a reader cannot make sense of at all becomes a ``Problem``.

A writer turns a ``Bank`` into bytes or text of its format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from papergen.bank.model import Problem


@dataclass
class RawRecord:
    """One question as read from a source, before validation.

    ``fields`` uses the bank schema's keys; ``options`` is a list of strings
    or ``{"text": ..., "pin": True}`` dicts; ``answer`` is letters ("AC").
    ``line`` is the 1-based line (text, XML), paragraph (DOCX) or row (XLSX)
    where the question starts; ``where`` overrides how that place is shown
    (e.g. "工作表 题库 第 7 行"). ``errors`` are the reader's reasons not to
    trust the record (two different keys, another question run into it): the
    importer skips such a record and reports them.
    """

    fields: dict[str, Any]
    line: int
    where: str | None = None
    errors: list[Problem] = field(default_factory=list)


@dataclass
class ReadResult:
    """What a reader found in one source."""

    records: list[RawRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    bank_id: str | None = None  # when the source names its bank (Moodle category)
    title: str | None = None
    #: Questions in the source by the format's own boundaries (a GIFT blank-line
    #: block, an Aiken ANSWER line, a numbered item, a Moodle <question>),
    #: counted apart from whether they could be read: the accounting line's
    #: "found". ``None``: the reader does not count them itself.
    found: int | None = None
    #: Text that belonged to no question, as (line, excerpt): each becomes a
    #: warning with its line, so nothing in a source is dropped unsaid.
    stray: list[tuple[int, str]] = field(default_factory=list)
