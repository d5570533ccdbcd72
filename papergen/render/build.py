"""``papergen build``: blueprint → selection → variants → manifest → printed files.

``build_exam`` is the whole first half of the product as one call. It checks
everything that can fail (blueprint, banks, quotas, the output folder)
before writing anything, renders every variant's paper and key (PDF and
DOCX), the answer sheet and ``exam.json`` into a hidden staging folder, and
only then moves them into place, ``exam.json`` last: a folder with an
``exam.json`` holds a complete build.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from papergen.core import atomic
from papergen.core.errors import OutputError, PapergenError
from papergen.exam.blueprint import load_blueprint
from papergen.exam.focus import FocusPlan, remedial_identity
from papergen.exam.manifest import Manifest, read_manifest, write_manifest
from papergen.exam.plan import plan_exam
from papergen.render.paper import Paper, paper_for_variant

MANIFEST_NAME = "exam.json"
SHEET_NAME = "sheet.pdf"
#: Hidden folder in the output folder where a build renders before moving files into place.
STAGING_PREFIX = ".papergen-build-"
_OUTPUT_PATTERN = re.compile(r"^(paper|key)-([A-Z])\.(pdf|docx)$")


@dataclass
class BuildResult:
    outdir: Path
    manifest: Manifest
    files: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    unchanged: bool = False  # the folder already held exactly this exam


def _comparable(manifest: Manifest) -> str:
    # What must not change under an exam that may already be printed.
    data = json.loads(json.dumps(manifest.to_json()))  # a deep copy: never edit the manifest itself
    data.pop("generator", None)
    for bank in data["banks"]:
        bank.pop("file", None)
    data.pop("blueprint", None)
    return repr(data)


def _check_outdir(outdir: Path, manifest: Manifest, force: bool) -> bool:
    """True when ``outdir`` already holds exactly this exam."""
    existing = outdir / MANIFEST_NAME
    if outdir.exists() and not outdir.is_dir():
        raise OutputError("输出位置已存在且不是文件夹", path=outdir)
    if not existing.exists():
        return False
    try:
        old = read_manifest(existing)
    except PapergenError:
        if force:
            return False
        raise OutputError("输出文件夹中的 exam.json 无法读取，未覆盖", path=existing, hint="确认后加 --force 覆盖") from None
    if old.exam != manifest.exam and not force:
        raise OutputError(
            f"输出文件夹里是另一场考试（{old.exam}），本次是 {manifest.exam}，未覆盖",
            path=outdir, hint="换一个输出文件夹，或确认后加 --force",
        )
    same = _comparable(old) == _comparable(manifest)
    if not same and not force:
        raise OutputError(
            f"输出文件夹里已有考试 {old.exam}，但题目、顺序或答案与这次不同（种子、题库或方案改过）；"
            "覆盖会让已印发的试卷与答案对不上，未覆盖",
            path=outdir, hint="换一个输出文件夹，或确认后加 --force",
        )
    return same


def build_exam(
    blueprint_path: str | Path,
    outdir: str | Path,
    *,
    variants: int | None = None,
    seed: int | None = None,
    exam: str | None = None,
    title: str | None = None,
    force: bool = False,
    focus: FocusPlan | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuildResult:
    """Build every file of an exam into ``outdir``.

    ``exam``/``title`` override the blueprint's; a remedial paper (``focus``)
    without them gets an id and title of its own (``focus.remedial_identity``).
    """
    from papergen.render.docx import render_key_docx, render_paper_docx
    from papergen.render.pdf import render_key_pdf, render_paper_pdf
    from papergen.render.sheet import render_sheets

    say = progress or (lambda message: None)
    outdir = Path(outdir)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    blueprint = load_blueprint(blueprint_path)
    if focus is not None:
        own_exam, own_title = remedial_identity(blueprint.exam, blueprint.title, focus)
        exam, title = exam or own_exam, title or own_title
    blueprint = blueprint.with_overrides(variants=variants, seed=seed, exam=exam, title=title)
    manifest, questions = plan_exam(blueprint, focus)
    timings["plan"] = time.perf_counter() - start
    unchanged = _check_outdir(outdir, manifest, force)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"无法创建输出文件夹：{exc.strerror}", path=outdir) from None
    # Every file is rendered into a staging folder first: a failure while
    # rendering (disk full, a crash) leaves the folder's earlier build whole.
    staging = _new_staging(outdir)
    names: list[str] = []
    try:
        try:
            for variant in manifest.variants:
                paper = paper_for_variant(manifest, questions, variant.name)
                t = time.perf_counter()
                key_pdf, key_docx = key_files(variant.name)
                for name, render in (
                    (f"paper-{variant.name}.pdf", render_paper_pdf), (key_pdf, render_key_pdf),
                    (f"paper-{variant.name}.docx", render_paper_docx), (key_docx, render_key_docx),
                ):
                    names.append(name)
                    render(paper, staging / name)
                timings[f"variant {variant.name}"] = time.perf_counter() - t
                say(f"试卷类型 {variant.name}：试卷与答案（PDF、DOCX）")
            t = time.perf_counter()
            names.append(SHEET_NAME)
            render_sheets(
                manifest.sheet, staging / SHEET_NAME, exam_id=manifest.exam, build=manifest.build, title=manifest.title
            )
            timings["sheet"] = time.perf_counter() - t
            names.append(MANIFEST_NAME)
            write_manifest(manifest, staging / MANIFEST_NAME)
        except OutputError as exc:  # name the file the user will look for, not its staging copy
            raise OutputError(exc.message, path=outdir / names[-1], hint=exc.hint or None) from None
        # All files or none; replacing another exam, its exam.json is withdrawn
        # first, so a kill among the moves never leaves it beside new papers.
        atomic.replace_all(
            [(staging / name, outdir / name) for name in names],  # exam.json is the last name
            withdraw=None if unchanged else outdir / MANIFEST_NAME,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _remove_stale(outdir, {v.name for v in manifest.variants})
    timings["total"] = time.perf_counter() - start
    return BuildResult(outdir, manifest, [outdir / name for name in names], timings, unchanged)


def key_files(variant: str) -> list[str]:
    """The names of the answer-key files ``build`` writes for one variant: PDF, then DOCX."""
    return [f"key-{variant}.pdf", f"key-{variant}.docx"]


def write_keys(outdir: str | Path, papers: list[Paper]) -> list[Path]:
    """Render the answer keys of ``papers`` (one per variant) again into ``outdir``: all of them or none.

    Used after a key correction (``papergen rekey --render-keys``): the keys
    are rendered into a staging folder and moved into place together, so a
    failure leaves the earlier keys whole. The question papers, the answer
    sheet and ``exam.json`` are not touched.
    """
    from papergen.render.docx import render_key_docx
    from papergen.render.pdf import render_key_pdf

    outdir = Path(outdir)
    staging = _new_staging(outdir)
    names: list[str] = []
    try:
        try:
            for paper in papers:
                pdf_name, docx_name = key_files(paper.variant)
                names.append(pdf_name)
                render_key_pdf(paper, staging / pdf_name)
                names.append(docx_name)
                render_key_docx(paper, staging / docx_name)
        except OutputError as exc:  # name the file the user will look for, not its staging copy
            raise OutputError(exc.message, path=outdir / names[-1], hint=exc.hint or None) from None
        atomic.replace_all([(staging / name, outdir / name) for name in names])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [outdir / name for name in names]


def _new_staging(outdir: Path) -> Path:
    """A fresh staging folder in ``outdir`` (abandoned ones of killed builds removed first)."""
    _remove_abandoned_staging(outdir)
    try:
        return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=outdir))
    except OSError as exc:
        raise atomic.output_error(outdir, exc) from None


def _remove_abandoned_staging(outdir: Path) -> None:
    """Staging folders left by a build that was killed (its process is gone)."""
    for entry in outdir.glob(f"{STAGING_PREFIX}*"):
        pid = entry.name[len(STAGING_PREFIX):].split("-")[0]
        if entry.is_dir() and pid.isdigit() and not atomic.process_alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _remove_stale(outdir: Path, variant_names: set[str]) -> None:
    # After a forced rebuild with fewer variants, old paper-D.* must not linger.
    for entry in outdir.iterdir():
        match = _OUTPUT_PATTERN.match(entry.name)
        if match and match.group(2) not in variant_names:
            try:
                entry.unlink()
            except OSError:
                pass
