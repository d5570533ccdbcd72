"""Documented input limits, each overridable by an environment variable.

The limits protect a grader's machine from hostile or broken files (a 50 MB
"bank", a zip bomb posing as a DOCX). README.md lists them with their
variables; raise one by exporting the variable, e.g.
``PAPERGEN_MAX_INPUT_MB=200 papergen bank validate huge.yaml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"environment variable {name}={raw!r} must be positive")
    return value


@dataclass(frozen=True)
class Limits:
    max_input_bytes: int  # any single input file: bank, import source
    max_unzipped_bytes: int  # total uncompressed size of a DOCX/XLSX
    max_zip_ratio: float  # uncompressed/compressed size of any zip member
    max_yaml_nodes: int  # nodes in one YAML document
    max_scan_bytes: int  # one scan file (image, TIFF or PDF)
    max_pixels: int  # one decoded page image (decompression-bomb guard)
    max_pages: int  # pages in one scan file (TIFF/PDF)

    @classmethod
    def from_env(cls) -> "Limits":
        return cls(
            max_input_bytes=int(_env_number("PAPERGEN_MAX_INPUT_MB", 20) * 1024 * 1024),
            max_unzipped_bytes=int(_env_number("PAPERGEN_MAX_UNZIPPED_MB", 200) * 1024 * 1024),
            max_zip_ratio=_env_number("PAPERGEN_MAX_ZIP_RATIO", 200),
            max_yaml_nodes=int(_env_number("PAPERGEN_MAX_YAML_NODES", 2_000_000)),
            max_scan_bytes=int(_env_number("PAPERGEN_MAX_SCAN_MB", 500) * 1024 * 1024),
            max_pixels=int(_env_number("PAPERGEN_MAX_PIXELS_MP", 100) * 1_000_000),
            max_pages=int(_env_number("PAPERGEN_MAX_PAGES", 2000)),
        )


def current() -> Limits:
    """The limits in force now (read each call so tests can change the env)."""
    return Limits.from_env()
