"""Importing papergen changes nothing process-wide: a library's settings stay the caller's.

Each module is imported in a fresh interpreter (a test process has long
since imported them all), and the settings papergen used to change at import
are compared before and after: Pillow's decompression-bomb guard, OpenCV's
log level and thread count, the signal handlers, the multiprocessing start
method and the warning filters.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import papergen
from tests.conftest import ROOT

PROBE = r"""
import importlib, json, multiprocessing, signal, sys, warnings

def settings():
    import cv2
    from PIL import Image
    return {
        "PIL.Image.MAX_IMAGE_PIXELS": Image.MAX_IMAGE_PIXELS,
        "cv2 log level": cv2.utils.logging.getLogLevel(),
        "cv2 threads": cv2.getNumThreads(),
        "SIGINT": str(signal.getsignal(signal.SIGINT)),
        "SIGTERM": str(signal.getsignal(signal.SIGTERM)),
        "start method": multiprocessing.get_start_method(allow_none=True),
        "warning filters": len(warnings.filters),
    }

before = settings()
changed = {}
for name in sys.argv[1:]:
    importlib.import_module(name)
    now = settings()
    changed.update({key: [before[key], value] for key, value in now.items() if value != before[key] and key not in changed})
    if changed:
        changed["first changed by"] = name
        break
print(json.dumps(changed))
"""


def papergen_modules() -> list[str]:
    return sorted(
        info.name for info in pkgutil.walk_packages(papergen.__path__, prefix="papergen.") if not info.name.endswith("__main__")
    )


def test_importing_every_papergen_module_changes_no_process_wide_setting() -> None:
    modules = papergen_modules()
    assert "papergen.grade.ingest" in modules and "papergen.sim.run" in modules and "papergen.cli" in modules
    out = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {}


def test_decoding_pages_on_threads_puts_opencvs_log_level_and_stderr_back(tmp_path) -> None:
    """The decoders are muted only while they run, and the last of overlapping callers unmutes them."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    import cv2
    import numpy as np

    from papergen.grade.ingest import PageLoadError, collect_pages, load_page

    page = np.full((800, 600), 250, np.uint8)
    data = bytearray(cv2.imencode(".jpg", page)[1].tobytes())
    data[len(data) // 2:len(data) // 2 + 200] = bytes(200)  # damaged in the middle, end marker intact
    paths = []
    for n in range(8):
        paths.append(tmp_path / f"scan-{n}.jpg")
        paths[-1].write_bytes(bytes(data))
    jobs, _ = collect_pages(paths)

    def load(job):
        try:
            return load_page(job).shape
        except PageLoadError as exc:
            return exc.reason

    level = cv2.utils.logging.getLogLevel()
    stderr = os.fstat(2)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(load, jobs * 4))
    assert cv2.utils.logging.getLogLevel() == level
    assert (os.fstat(2).st_dev, os.fstat(2).st_ino) == (stderr.st_dev, stderr.st_ino)
