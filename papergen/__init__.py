"""papergen: randomized Chinese mock exams from question banks, and grading of scanned answer sheets.

The library lives in one subpackage per stage of the data flow (see
ARCHITECTURE.md): ``core`` → ``bank`` → ``sheet`` → ``exam`` → ``render`` /
``grade`` → ``sim`` / ``report``. The most used bank entry points are
re-exported here, loaded on first use so that importing one stage (a grading
worker, say) does not load the bank importers.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Bank": "papergen.bank.model",
    "Option": "papergen.bank.model",
    "Problem": "papergen.bank.model",
    "Question": "papergen.bank.model",
    "dump_bank": "papergen.bank.files",
    "load_banks": "papergen.bank.files",
    "read_bank": "papergen.bank.files",
    "validate_paths": "papergen.bank.files",
    "write_bank": "papergen.bank.files",
    "export_bank": "papergen.bank.importer",
    "import_file": "papergen.bank.importer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'papergen' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
