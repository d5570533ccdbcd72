"""Check (prints; not a test): a speed change leaves every reading bit-identical.

    python bench/reading_equality.py --save /tmp/readings-before [--keep /work/sim-keep-fax,/work/sim-keep-held]
    python bench/reading_equality.py --compare /tmp/readings-before [same options]

Reads every page of the kept hard-level scans (the folders ``bench/accuracy.py
--keep`` writes: ``<level>-<questions>-<sheets>-<seed>``, each graded with the
exam it was simulated from) and of fresh ``papergen simulate`` sets of the
sample exam (``--levels none,scan,photo,cut``), the way grading does
(``ingest.load_page``, ``reader.read_sheets``), and keeps, page by page:
every ``PageReading`` field, every frame registration found (homography,
squares, QR text), every alignment measured and every ``Measurements`` array.
``--save`` writes them; ``--compare`` reads the pages again and reports each
page whose record is not exactly equal (NaN equal to NaN), with the first
field that differs. A speed change lands only when this prints 0 differences.
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.accuracy import exam_blueprint  # noqa: E402
from papergen.exam.manifest import read_manifest  # noqa: E402
from papergen.grade import reader  # noqa: E402
from papergen.grade.ingest import collect_pages, load_page  # noqa: E402
from papergen.render.build import build_exam  # noqa: E402
from papergen.sim.run import simulate  # noqa: E402


def plain(value):
    """A value as nested builtins and arrays, comparable exactly (dataclasses as dicts of their fields)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name not in ("quarter", "_lists")}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return np.array(value)
    return value


def first_difference(a, b, where: str = "") -> str | None:
    """Where two plain records first differ ("" path for the whole), or None when exactly equal."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        same = a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        return None if same else f"{where} (array)"
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{where} keys {sorted(a.keys() ^ b.keys())}"
        for key in a:
            found = first_difference(a[key], b[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if type(a) is not type(b) or len(a) != len(b):
            return f"{where} length {len(a)} != {len(b)}"
        for index, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{where}[{index}]")
            if found:
                return found
        return None
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return None
    return None if (type(a) is type(b) and a == b) else f"{where}: {a!r} != {b!r}"


class Recorder:
    """Wraps the reader's steps to keep what each returned, for the page being read."""

    STEPS = ("register_all", "frame_alignment", "measure")

    def __init__(self) -> None:
        self.calls: list = []
        self.originals = {name: getattr(reader, name) for name in self.STEPS}

    def __enter__(self) -> Recorder:
        for name, original in self.originals.items():
            setattr(reader, name, self._wrapped(name, original))
        return self

    def __exit__(self, *exc) -> None:
        for name, original in self.originals.items():
            setattr(reader, name, original)

    def _wrapped(self, name, original):
        def step(*args, **kwargs):
            result = original(*args, **kwargs)
            self.calls.append((name, plain(result)))
            return result
        return step

    def page(self, job, manifest) -> dict:
        self.calls = []
        readings = reader.read_sheets(load_page(job), manifest)
        return {"readings": plain(readings), "steps": self.calls}


def sets(args, tmp: Path):
    """(name, exam.json, scans folder) for every set checked."""
    exams: dict[int, Path] = {}

    def exam(questions: int) -> Path:
        if questions not in exams:
            build_exam(exam_blueprint(questions, tmp), tmp / f"exam-{questions}")
            exams[questions] = tmp / f"exam-{questions}" / "exam.json"
        return exams[questions]

    for keep in filter(None, args.keep.split(",")):
        for folder in sorted(Path(keep).iterdir()):
            parts = folder.name.rsplit("-", 3)
            if len(parts) == 4 and folder.is_dir():
                yield f"{Path(keep).name}/{folder.name}", exam(int(parts[1])), folder
    for level in filter(None, args.levels.split(",")):
        scans = Path(args.scans) / f"{level}-45-{args.sheets}"
        if not (scans / "truth.csv").is_file():
            simulate(exam(45), args.sheets, scans, seed=args.seed, degrade=level)
        yield f"simulate/{level}", exam(45), scans


def main() -> None:
    parser = argparse.ArgumentParser()
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--save", help="write the records to this folder")
    action.add_argument("--compare", help="compare with the records in this folder")
    parser.add_argument("--keep", default="/work/sim-keep-fax,/work/sim-keep-held",
                        help="folders of kept scans (bench/accuracy.py --keep), comma-separated; '' for none")
    parser.add_argument("--levels", default="none,scan,photo,cut", help="papergen simulate levels of the sample exam")
    parser.add_argument("--sheets", type=int, default=40, help="sheets per simulated level")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--scans", default="/tmp/reading-equality-scans", help="where the simulated sets are kept")
    parser.add_argument("--only", default="", help="check only sets whose name contains this")
    args = parser.parse_args()
    folder = Path(args.save or args.compare)
    folder.mkdir(parents=True, exist_ok=True)
    pages = differing = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, Recorder() as recorder:
        for name, exam_json, scans in sets(args, Path(tmp)):
            if args.only not in name:
                continue
            manifest = read_manifest(exam_json)
            jobs, _ = collect_pages([scans])
            records = {Path(job.path).name + f"#{job.page}": recorder.page(job, manifest) for job in jobs}
            target = folder / (name.replace("/", "__") + ".pickle")
            pages += len(records)
            if args.save:
                target.write_bytes(pickle.dumps(records))
                print(f"{name}: {len(records)} pages saved", flush=True)
                continue
            saved = pickle.loads(target.read_bytes())
            wrong = [(page, first_difference(saved.get(page), record)) for page, record in records.items()]
            wrong = [(page, why) for page, why in wrong if why] + [(page, "missing") for page in saved.keys() - records.keys()]
            differing += len(wrong)
            print(f"{name}: {len(records)} pages, {len(wrong)} differ", flush=True)
            for page, why in wrong[:5]:
                print(f"    {page}: {why}")
    print(f"{pages} pages, {differing} differ ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
