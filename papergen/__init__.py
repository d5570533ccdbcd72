"""papergen: randomized Chinese mock exams from question banks, and grading of scanned answer sheets.

The library API lives in the modules along the data flow (see ARCHITECTURE.md);
the most used entry points are re-exported here.
"""

__version__ = "0.1.0"

from papergen.bank.files import dump_bank, load_banks, read_bank, validate_paths, write_bank  # noqa: E402
from papergen.bank.importer import export_bank, import_file  # noqa: E402
from papergen.bank.model import Bank, Option, Problem, Question  # noqa: E402

__all__ = [
    "Bank",
    "Option",
    "Problem",
    "Question",
    "dump_bank",
    "export_bank",
    "import_file",
    "load_banks",
    "read_bank",
    "validate_paths",
    "write_bank",
]
