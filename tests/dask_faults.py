"""Test-only faults for Dask workers, loaded with ``dask worker --preload tests/dask_faults.py``.

Nothing in papergen knows about this file. Loaded into a worker process, it
wraps ``papergen.grade.pipeline.process_page`` there (tasks name the function
by module and name, so the worker runs the wrapper):

- ``PAPERGEN_TEST_PAGE_SECONDS=0.4``: every page takes at least that long, so
  a test can kill a worker while it holds pages;
- ``PAPERGEN_TEST_EXIT_ON=sheet-0002.jpg``: a page of a file with that name
  ends its worker process at once (``os._exit``), every time — the page that
  kills every worker it is given.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import papergen.grade.pipeline as pipeline

# A worker may import a preload file twice (as a file and again by name): wrap once.
_original = getattr(pipeline, "_process_page_without_faults", pipeline.process_page)


def _faulty_process_page(job, manifest):
    if Path(job.path).name == os.environ.get("PAPERGEN_TEST_EXIT_ON"):
        os._exit(70)
    seconds = float(os.environ.get("PAPERGEN_TEST_PAGE_SECONDS", "0") or 0)
    start = time.monotonic()
    records = _original(job, manifest)
    time.sleep(max(0.0, seconds - (time.monotonic() - start)))
    return records


_faulty_process_page.__name__ = _faulty_process_page.__qualname__ = "process_page"
_faulty_process_page.__module__ = pipeline.__name__
pipeline._process_page_without_faults = _original
pipeline.process_page = _faulty_process_page
