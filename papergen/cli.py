"""The ``papergen`` command line.

Each command only parses options, calls the library and reports; the work is
done in importable modules (``bank.files``, ``bank.importer``, ``bank.stats``…). Library
errors (``PapergenError``) become a Chinese message on stderr and the exit
code their class carries (README, "Exit codes").
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from papergen import __version__
from papergen.bank import importer, lint, stats
from papergen.bank.files import load_banks, validate_paths
from papergen.core import atomic
from papergen.core.errors import (
    ImportIncomplete,
    Interrupted,
    LintFindings,
    PapergenError,
)
from papergen.core.interrupts import stop_if_lost, stop_on_signals


class PapergenClickError(click.ClickException):
    """Carries a library error to Click with its exit code."""

    def __init__(self, error: PapergenError) -> None:
        super().__init__(error.location_message())
        self.error = error
        self.exit_code = int(error.exit_code)

    def show(self, file=None) -> None:  # noqa: D102 - Click API
        stream = file or sys.stderr
        click.echo(f"错误：{self.format_message()}", file=stream)
        if self.error.hint:
            click.echo(f"提示：{self.error.hint}", file=stream)


def reports_errors(command):
    """Turn ``PapergenError`` into a clean exit with its code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except PapergenError as exc:
            raise PapergenClickError(exc) from None

    return wrapper


bank_arguments = click.argument("banks", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="papergen")
def cli() -> None:
    """papergen：随机组卷（PDF/DOCX）、答题卡阅卷与成绩分析。

    Builds randomized mock exams from question banks and grades scanned
    answer sheets.
    """


@cli.group()
def bank() -> None:
    """题库：校验、统计、导入、导出。 Question banks."""


@bank.command("validate")
@bank_arguments
@click.option("--strict", is_flag=True, help="警告也视为失败（退出码 4）。 Treat warnings as failures.")
@click.option("-q", "--quiet", is_flag=True, help="只输出错误，不输出警告。 Print errors only.")
@reports_errors
def bank_validate(banks: tuple[Path, ...], strict: bool, quiet: bool) -> None:
    """校验题库文件，逐条列出问题（文件:行号）。

    Exit 0 only when no errors (and, with --strict, no warnings) were found.
    """
    report = validate_paths(banks)
    shown = report.errors if quiet else report.problems
    for problem in shown:
        click.echo(problem.format())
    questions = sum(len(b.questions) for b in report.banks)
    click.echo(f"{len(banks)} 个题库文件，{questions} 道题通过；{len(report.errors)} 个错误，{len(report.warnings)} 个警告")
    flaws = len(lint.lint_banks(report.banks).problems)
    if flaws and not quiet:
        click.echo(f"lint：{flaws} 条命题质量提示，运行 papergen bank lint 查看")
    if report.errors or (strict and report.warnings):
        raise report.failure("题库校验未通过")


@bank.command("stats")
@bank_arguments
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
    help="输出格式。 Output format.",
)
@reports_errors
def bank_stats(banks: tuple[Path, ...], fmt: str) -> None:
    """按知识点 × 题型 × 难度统计题量。 Counts per topic × type × difficulty."""
    loaded = load_banks(banks)
    rows = stats.topic_counts(loaded)
    if fmt == "csv":
        click.echo(stats.format_csv(rows), nl=False)
    elif fmt == "json":
        click.echo(stats.format_json(rows))
    else:
        click.echo(stats.format_table(rows, loaded))


@bank.command("lint")
@bank_arguments
@click.option("--select", help="只运行这些检查（代码，逗号分隔）。 Only these checks.")
@click.option("--ignore", help="跳过这些检查（代码，逗号分隔）。 Skip these checks.")
@click.option("--set", "overrides", multiple=True, metavar="NAME=VALUE",
              help="调整阈值，如 --set length_ratio=2（可多次给出）。 Change a threshold.")
@click.option("--strict", is_flag=True, help="警告也视为失败（退出码 12）。 Treat warnings as failures.")
@reports_errors
def bank_lint(banks: tuple[Path, ...], select, ignore, overrides, strict: bool) -> None:
    """检查命题缺陷：答案凭长度、措辞、位置或别的题就能猜出，题干依赖考生看不到的材料……

    Exit 0 when no finding is at error level (with --strict: no finding at all);
    12 otherwise.
    """
    try:
        chosen = lint.parse_codes(select)
        skipped = lint.parse_codes(ignore)
        settings = lint.LintSettings.with_overrides(overrides)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    loaded = load_banks(banks)
    report = lint.lint_banks(loaded, settings, select=chosen or None, ignore=skipped)
    for problem in report.problems:
        click.echo(problem.format())
    questions = sum(len(b.questions) for b in loaded)
    click.echo(f"{len(banks)} 个题库文件，{questions} 道题；{len(report.errors)} 个错误，{len(report.warnings)} 个警告"
               f"（{lint.format_counts(report)}）")
    if report.errors or (strict and report.warnings):
        raise LintFindings("命题质量检查未通过", hint="按上方各行修改题目；确属有意的检查可用 --ignore 代码 跳过")


@bank.command("import")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="输出的题库 YAML 文件。")
@click.option("--topic", help="来源未给出知识点的题目归入此知识点（默认“未分类”）。")
@click.option("--id-prefix", help="题目编号前缀（默认用题库编号），编号为 前缀-001 …")
@click.option("--bank-id", help="题库编号（默认取输出文件名）。")
@click.option("--title", help="题库标题（默认取来源的标题或文件名）。")
@click.option("--force", is_flag=True, help="覆盖内容不同的已有文件。 Replace an existing, different file.")
@reports_errors
def bank_import(source: Path, output: Path, topic, id_prefix, bank_id, title, force: bool) -> None:
    """从中文题目文本、Word、Excel、Moodle XML、GIFT 或 Aiken 导入题库。

    The format is detected from the file's content. Questions that cannot be
    read are listed with their line and skipped; the rest are written, and
    the command then exits with code 5 (nothing is written when no question
    could be imported). It ends with the accounting line: questions found,
    imported, skipped, and pieces of text that belonged to no question.
    """
    report = importer.import_file(
        source, bank_id=bank_id or importer.bank_id_from_name(output), title=title, topic=topic, id_prefix=id_prefix
    )
    for problem in report.problems:
        click.echo(problem.format(), err=True)
    kind = importer.FORMAT_NAMES_ZH.get(report.kind, report.kind)
    if not report.bank.questions:
        # An empty bank written with exit 5 would look like a partial success.
        click.echo(f"{source}（{kind}）：{report.accounting()} → 未写入 {output}", err=True)
        raise ImportIncomplete(f"没有一道题能导入，未写入 {output}", path=source)
    changed = importer.write_bank_file(report.bank, output, force=force)
    state = "已写入" if changed else "内容未变，已是最新"
    click.echo(f"{source}（{kind}）：{report.accounting()} → {output}（{state}）", err=True)
    if report.skipped:
        raise ImportIncomplete(f"有 {report.skipped} 道题未能导入，见上方列出的行号", path=source)


@bank.command("export")
@click.argument("bank_path", metavar="BANK", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="输出文件。")
@click.option(
    "--format", "fmt", type=click.Choice(importer.EXPORT_FORMATS),
    help="导出格式（默认按扩展名：.xlsx .xml .gift .txt .yaml）。",
)
@reports_errors
def bank_export(bank_path: Path, output: Path, fmt: str | None) -> None:
    """把题库导出为 Excel、Moodle XML、GIFT、Aiken 或中文文本。"""
    (loaded,) = load_banks([bank_path])
    fmt = importer.export_format_for(output, fmt)
    left_out = importer.export_bank(loaded, output, fmt)
    written = len(loaded.questions) - len(left_out)
    click.echo(f"{bank_path}：{written} 题 → {output}（{fmt}）", err=True)
    if left_out:
        click.echo(f"注意：{fmt} 格式只能保存单选题，已略去 {len(left_out)} 道多选题：{', '.join(left_out)}", err=True)


@cli.command("build")
@click.argument("blueprint", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False, path_type=Path), help="输出文件夹。")
@click.option("--variants", type=click.IntRange(1, 4), help="试卷类型数（覆盖方案中的 variants）。")
@click.option("--seed", type=int, help="随机种子（覆盖方案中的 seed）。")
@click.option("--exam", "exam_id", help="考试编号（覆盖方案中的 exam；补习卷默认为 原编号-R1）。")
@click.option("--title", help="标题（覆盖方案中的 title；补习卷默认在原标题后加“（巩固卷）”）。")
@click.option("--force", is_flag=True, help="覆盖输出文件夹中内容不同的考试。 Replace a different exam.")
@click.option("--focus", "focus_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="补习卷：按这些成绩文件夹中的错误率偏向薄弱知识点，且不重复已做过的题（可多次给出）。")
@click.option("--student", help="补习卷只针对这名考生（准考证号）。")
@click.option("--class", "klass", help="补习卷只针对这个班（需 --roster）。")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path), help="考生名单，用于 --class。")
@reports_errors
def build_command(
    blueprint: Path, outdir: Path, variants, seed, exam_id, title, force: bool, focus_dirs, student, klass, roster
) -> None:
    """按组卷方案生成试卷、答案（PDF、DOCX）、答题卡和考试清单 exam.json。"""
    from papergen.render.build import build_exam
    from papergen.report.focus import focus_plan

    if (student or klass) and not focus_dirs:
        raise click.UsageError("--student / --class 需要与 --focus 一起使用")
    focus = focus_plan(focus_dirs, student=student, klass=klass, roster=roster) if focus_dirs else None
    result = build_exam(blueprint, outdir, variants=variants, seed=seed, exam=exam_id, title=title, force=force, focus=focus,
                        progress=lambda message: click.echo(message, err=True))
    m = result.manifest
    counts = "，".join(f"{s.title} {s.count} 题" for s in m.sections)
    click.echo(f"考试 {m.exam}：{counts}，满分 {m.total_points:g} 分，试卷类型 {'、'.join(v.name for v in m.variants)}")
    for path in result.files:
        click.echo(f"  {path}")
    click.echo(f"用时 {result.seconds['total']:.1f} 秒" + ("（与已有文件相同）" if result.unchanged else ""), err=True)


@cli.command("sheets")
@click.argument("exam_json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--roster", required=True, type=click.Path(dir_okay=False, path_type=Path), help="考生名单（.csv 或 .xlsx）。")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="输出的 PDF。")
@reports_errors
def sheets_command(exam_json: Path, roster: Path, output: Path) -> None:
    """为名单中每位考生打印个人答题卡（姓名、准考证号、按座位分配的试卷类型）。"""
    from papergen.render.personal import print_personal_sheets

    result = print_personal_sheets(exam_json, roster, output)
    click.echo(f"{result.students} 名考生，共 {result.pages} 页 → {output}")
    click.echo(f"座位与试卷类型对照表 → {result.assignments}")
    for warning in result.warnings:
        click.echo(f"警告：{warning}", err=True)


class _Progress:
    """Pages done, pages/s, on one stderr line (only when stderr is a terminal)."""

    def __init__(self) -> None:
        import time

        self.clock = time.perf_counter
        self.start = self.clock()
        self.last = 0.0
        self.live = sys.stderr.isatty()
        self.done = 0
        self.total: int | None = None  # None until the pages to grade are known

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        now = self.clock()
        if not self.live or (now - self.last < 0.2 and done < total):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-6)
        width = 30
        filled = int(width * done / max(total, 1))
        click.echo(f"\r评阅 [{'#' * filled}{'.' * (width - filled)}] {done}/{total} 页  {rate:.1f} 页/秒", err=True, nl=done >= total)


@cli.command("grade")
@click.argument("exam_json", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("scans", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "results_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="结果文件夹（成绩库 results.sqlite）。")
@click.option("--workers", type=click.IntRange(1, 64), help="并行进程数（默认：全部 CPU 核）。1 = 单进程，便于调试。")
@click.option(
    "--dask", "dask_address", metavar="ADDRESS",
    help="在 Dask 集群上评阅：调度器地址 tcp://主机:8786，或 local（在本机启动，--workers 个进程）。需要 pip install \"papergen[dask]\"。",
)
@click.option("--ship-bytes", is_flag=True, help="与 --dask 同用：把扫描文件的内容随任务发给工作机（工作机不必能访问扫描文件夹）。")
@click.option("--watch", is_flag=True, help="持续监视给出的文件夹（扫描仪的输出文件夹），文件写完即评阅；Ctrl-C 结束。")
@click.option("--idle", type=click.FloatRange(min=0), metavar="SECONDS", help="与 --watch 同用：这么多秒没有新文件就结束。")
@click.option(
    "--settle", type=click.FloatRange(min=0), default=2.0, show_default=True, metavar="SECONDS",
    help="与 --watch 同用：文件大小和修改时间这么多秒不变才算写完。",
)
@reports_errors
def grade_command(
    exam_json: Path, scans: tuple[Path, ...], results_dir: Path, workers, dask_address, ship_bytes, watch, idle, settle
) -> None:
    """评阅扫描的答题卡（JPEG、PNG、TIFF、PDF，文件或文件夹）。

    Exit 0: all graded; 10: graded, some items need review; 11: some files
    or pages could not be read; 2: --dask without papergen[dask] installed,
    or a scheduler that does not answer.
    """
    from papergen.grade.pipeline import grade

    if ship_bytes and not dask_address:
        raise click.UsageError("--ship-bytes 只能与 --dask 一起使用")
    if workers and dask_address and dask_address.strip() != "local":
        raise click.UsageError("--workers 只用于本机评阅或 --dask local；集群的工作进程数由各台工作机的 dask worker 决定")
    if idle is not None and not watch:
        raise click.UsageError("--idle 只能与 --watch 一起使用")
    if watch:
        _watch_folders(exam_json, scans, results_dir, idle=idle, settle=settle, workers=workers,
                       dask=dask_address, ship_bytes=ship_bytes)
    progress = _Progress()
    try:
        summary = grade(
            exam_json, list(scans), results_dir, workers=workers, progress=progress,
            dask=dask_address, ship_bytes=ship_bytes,
        )
    except Interrupted as exc:
        if progress.total is not None:  # pages were being graded: say what is kept and how to finish
            exc.notes.append(
                f"评阅未完成：本次评完的 {progress.done} 页已存入成绩库，还有 {progress.total - progress.done} 页未评；"
                "重新运行同一命令会接着评其余页面。"
            )
        raise
    click.echo(
        f"共 {summary.pages_total} 页（新评 {summary.pages_new}，已评过 {summary.pages_skipped}）：读出 {summary.read} 页，"
        f"其中 {summary.flagged_pages} 页有待复核项；拒收 {summary.rejected} 页；无法读取 {summary.errors} 个；"
        f"用时 {summary.seconds:.1f} 秒"
    )
    if summary.black_and_white:
        click.echo(
            f"注意：{summary.black_and_white} 页是黑白（二值）扫描，很浅的填涂可能在扫描时已经丢失、无法看出；"
            "建议扫描仪设为灰度模式（200 dpi 以上）重新扫描这些页："
            + _listed(summary.black_and_white_pages, BLACK_AND_WHITE_LISTED)
        )
    if summary.notes:
        click.echo(f"页面说明（{len(summary.notes)} 页）：")
        for line in summary.notes[:NOTES_LISTED]:
            click.echo(f"  {terminal_line(line)}")
        if len(summary.notes) > NOTES_LISTED:
            click.echo(f"  ……另有 {len(summary.notes) - NOTES_LISTED} 页")
    if summary.ignored:
        click.echo(f"文件夹中不是扫描件的文件已略过：{'、'.join(Path(p).name for p in summary.ignored)}")
    if summary.replaced:
        click.echo(f"注意：{summary.replaced} 页是同名文件重新扫描的，已用新扫描替换较早的读取（较早的读取保留在成绩库的历史中，见 papergen results）")
    if summary.no_pages:
        click.echo("错误：给出的文件和文件夹中没有任何可评阅的扫描页（JPEG、PNG、TIFF、PDF 等）；请检查路径", err=True)
    if summary.review:
        click.echo(f"需要人工处理（{len(summary.review)} 项）：")
        for line in summary.review[:200]:
            click.echo(f"  {line}")
        if len(summary.review) > 200:
            click.echo(f"  ……另有 {len(summary.review) - 200} 项，见 papergen results")
    sys.exit(int(summary.exit_code))


#: Black-and-white pages named in ``grade``'s summary; more are counted (a batch of faxes must not flood the terminal).
BLACK_AND_WHITE_LISTED = 10
#: Page notes (a mirror image, a device's lines, a pushed contrast) shown in ``grade``'s summary; more are counted.
NOTES_LISTED = 10


def _listed(labels: list[str], most: int) -> str:
    """``labels`` joined for a summary line: the first ``most`` named, the rest counted."""
    named = "、".join(terminal_line(label) for label in labels[:most])
    return named + (f" 等（另有 {len(labels) - most} 页）" if len(labels) > most else "")


def _watch_folders(exam_json: Path, folders: tuple[Path, ...], results_dir: Path, *, idle, settle, **grading) -> None:
    """``grade --watch``: a summary line after every round; exits like ``grade`` (or 130 on Ctrl-C)."""
    import time

    from papergen.grade.watch import watch

    not_folders = [str(folder) for folder in folders if not folder.is_dir()]
    if not_folders:
        raise click.UsageError(f"--watch 监视的必须是文件夹：{'、'.join(not_folders)}")

    def on_round(totals, latest) -> None:
        if latest.pages_new:
            click.echo(
                f"[{time.strftime('%H:%M:%S')}] 新评 {latest.pages_new} 页（本次监视共 {totals.pages_new} 页）；"
                f"成绩库：读出 {latest.read} 页，待复核 {latest.flagged_pages} 页，拒收 {latest.rejected} 页，无法读取 {latest.errors} 个"
            )
        if latest.ignored:
            click.echo(f"  不是扫描件，已略过：{'、'.join(Path(p).name for p in latest.ignored)}")

    where = "、".join(str(folder) for folder in folders)
    click.echo(f"正在监视 {where}：文件大小和修改时间 {settle:g} 秒不变后评阅" + (f"，{idle:g} 秒没有新文件即结束" if idle is not None else "，按 Ctrl-C 结束"))
    progress = _Progress()
    try:
        totals = watch(exam_json, folders, results_dir, idle=idle, settle=settle, on_round=on_round, progress=progress, **grading)
    except Interrupted as exc:
        exc.notes.append("监视已停止：评完的页面都已存入成绩库；重新运行同一命令会接着评其余文件。")
        raise
    latest = totals.last
    if latest is None:
        click.echo(f"{idle:g} 秒内没有新文件，结束。")
        sys.exit(int(totals.exit_code))
    click.echo(
        f"{idle:g} 秒内没有新文件，结束：本次监视评阅 {totals.pages_new} 页（{totals.rounds} 轮）；成绩库共读出 {latest.read} 页，"
        f"待复核 {latest.flagged_pages} 页，拒收 {latest.rejected} 页，无法读取 {latest.errors} 个。"
        + ("查看待复核项：papergen results" if latest.review or latest.errors else "")
    )
    sys.exit(int(totals.exit_code))


@cli.command("results")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@reports_errors
def results_command(results_dir: Path, fmt: str) -> None:
    """打印成绩：每位考生的试卷类型、状态、总分和各大题得分。"""
    import json as json_module

    from papergen.exam.manifest import Manifest
    from papergen.grade.results import format_results, student_results
    from papergen.grade.store import (
        UNFINISHED_WARNING,
        grading_finished,
        manifest_from_store,
        reading_store,
        replaced_readings,
    )
    from papergen.report.audit import by_hand_line

    if fmt == "csv":
        _results_csv(results_dir)
        return
    with reading_store(results_dir) as db:
        manifest = Manifest.from_json(json_module.loads(manifest_from_store(db)))
        results = student_results(db, manifest)
        text = format_results(results, manifest, fmt, replaced_readings(db))
        finished = grading_finished(db)
    if fmt == "table":  # the table's last lines: what people settled, and an interrupted run
        text += "\n" + by_hand_line(results) + ("" if finished else "\n" + UNFINISHED_WARNING)
    if fmt != "table":  # the table says it in its last line; CSV and JSON stay clean for scripts
        warn_if_unfinished(finished)
    click.echo(text)


def _results_csv(results_dir: Path) -> None:
    """``results --format csv`` in constant memory: rows streamed from the store into a spool file, then printed.

    The spool (a temporary file) keeps "all or nothing": a total out of range
    stops the command before any row reaches the output.
    """
    import json as json_module
    import shutil
    import tempfile

    from papergen.exam.manifest import Manifest
    from papergen.grade.results import iter_student_results, write_results_csv
    from papergen.grade.store import (
        grading_finished,
        manifest_from_store,
        reading_store,
    )

    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
        with reading_store(results_dir) as db:
            manifest = Manifest.from_json(json_module.loads(manifest_from_store(db)))
            write_results_csv(iter_student_results(db, manifest), manifest, spool)
            finished = grading_finished(db)
        warn_if_unfinished(finished)
        spool.write("\n")  # as ``click.echo`` ends the text it prints
        spool.seek(0)
        shutil.copyfileobj(spool, sys.stdout, 1 << 20)
        sys.stdout.flush()


@cli.command("rekey")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--question", help="题目编号（题库中的编号，如 xjy-017）；答案用题库的字母。")
@click.option("--paper", help="试卷类型（A、B…），与 --number 一起用；答案用这份试卷上印的字母。")
@click.option("--number", type=click.IntRange(min=1), help="该试卷上的题号。")
@click.option("--key", help="新的答案（如 C；多选题如 ACD）。")
@click.option("--void", type=click.Choice(["full", "drop"]), help="作废：full 参考者全体得满分；drop 不计入总分和满分。")
@click.option("--accept", help="几个答案都算对，逗号分开（如 B,C）；取其中得分最高的。")
@click.option("--restore", is_flag=True, help="恢复印刷的答案（撤销这道题的更正）。")
@click.option("--reason", default="", help="原因（记入审计记录）。")
@click.option("--grader", help="阅卷人（默认：环境变量 PAPERGEN_GRADER，否则登录名）。")
@click.option("--list", "show_list", is_flag=True, help="列出所有答案更正（有效的和已撤销的）。")
@click.option("--render-keys", "exam_dir", type=click.Path(file_okay=False, path_type=Path),
              help="按现在的答案重新生成这个考试文件夹中的答案文件（PDF、DOCX），标出更正；试卷不动。")
@reports_errors
def rekey_command(results_dir: Path, question, paper, number, key, void, accept, restore: bool, reason: str, grader,
                  show_list: bool, exam_dir) -> None:
    """考后更正答案：改答案、作废、多个答案均可，不必重新扫描，成绩按存储的读卡结果重算。

    \b
    例：papergen rekey results --paper A --number 13 --key C --reason "答案印错"
        papergen rekey results --question xjy-017 --void full
        papergen rekey results --list
        papergen rekey results --render-keys exam

    Exit codes: 0 done; 2 nothing asked; 13 the change does not fit the exam
    (unknown question, paper or letter, or no change; nothing recorded); 3 no
    results store, or EXAM_DIR is not this exam or its banks changed; 6 the
    store or the key files could not be written (the earlier keys stay).
    """
    import json as json_module

    from papergen.exam.manifest import Manifest
    from papergen.grade.store import key_changes, manifest_from_store, reading_store
    from papergen.report import rekey

    with reading_store(results_dir) as db:
        manifest = Manifest.from_json(json_module.loads(manifest_from_store(db)))
        changes = key_changes(db, active_only=False)
    wants_change = any(v not in (None, False) for v in (question, paper, number, key, void, accept, restore))
    if not (wants_change or show_list or exam_dir):
        raise click.UsageError("没有要做的事：给出要更正的题（--question 或 --paper/--number）和改动，或 --list、--render-keys")
    if wants_change:
        request = rekey.resolve_request(
            manifest, changes, question=question, paper=paper, number=number, key=key, void=void, accept=accept,
            restore=restore,
        )
        outcome = rekey.change_key(results_dir, request, grader=grader or rekey.default_grader(), reason=reason)
        for line in rekey.outcome_lines(outcome, exam_dir):
            click.echo(line)
        with reading_store(results_dir) as db:
            changes = key_changes(db, active_only=False)
    if show_list:
        for line in rekey.list_lines(changes, manifest):
            click.echo(line)
        if not wants_change:
            for line in rekey.mismatch_lines(rekey.printed_key_mismatches(manifest, changes), exam_dir):
                click.echo(line)
    if exam_dir:
        written = rekey.render_corrected_keys(exam_dir, manifest, changes)
        click.echo(f"已重新生成 {len(written)} 个答案文件（试卷、答题卡和 exam.json 未改动）：")
        for path in written:
            click.echo(f"  {path}")


@cli.command("simulate")
@click.argument("exam_json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-n", "count", required=True, type=click.IntRange(min=1), help="答题卡张数。 Number of sheets.")
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False, path_type=Path), help="输出文件夹。")
@click.option("--seed", type=int, default=0, show_default=True, help="随机种子：相同种子得到相同的答题卡与 truth.csv。")
@click.option(
    "--degrade", type=click.Choice(["none", "scan", "photo", "harsh", "cut", "scan-messy", "copier", "fold", "fax",
                                    "phone-messy", "harsh-shadow", "app", "pen", "light-print", "tinted",
                                    "faded", "curled", "tilted", "turned"]),
    default="scan", show_default=True,
    help="退化程度：none 原图、scan 扫描仪、photo 手机拍照、harsh 传真式（含旋转、遮挡定位块）、"
         "cut 缺角（进纸歪斜或偏移使定位块被裁掉、复印缺边、角被贴纸或手指遮住、订书钉；truth.csv 的 journey 列记录经过）。"
         "以下各级用潦草的笔迹（涂得浅、涂不满、用力不均、涂出框外、擦不干净、细而轻的勾）："
         "scan-messy 扫描仪、copier 复印件（对比度高、墨粉斑点）、fold 折叠过的答题卡（折痕）、"
         "fax 传真（黑白 1 位、150–204 dpi）、phone-messy 手机拍照（JPEG 质量低至 45）、"
         "harsh-shadow 手机拍照且有一道阴影横过纸面、"
         "app 扫描 App（扫描全能王、微信“扫描文件”）从手机照片裁出、压平并“增强”的页面（纸色压白、黑场提高、锐化）、"
         "pen 评阅前有人用笔在答题区划过（老师批改的叉横过整行、整行被划掉；红、蓝、黑笔），再用扫描仪扫描"
         "（truth.csv 的 journey 列记录被划过的题号，如 pen:12,40）、"
         "light-print 墨粉不足或省墨打印、印得偏浅的答题卡（印刷只有正常的 45–75 % 深），再用扫描仪扫描、"
         "tinted 印在彩色纸上的答题卡（纸只有白纸七到九成亮），再用扫描仪扫描，一半用黑白模式、"
         "faded 整页褪色的答题卡（复印件再复印、传真纸褪色、扫描时调亮：印刷和铅笔都只剩五到八成深），再用扫描仪扫描，一半用黑白模式、"
         "curled 没有压平的答题卡（折过、拿在手上、垫在书上：纸面弯曲、一边翘起，填涂框比四角定位块推算的位置偏出至多约 2 mm）的手机照片、"
         "tilted 斜着拍的手机照片（纸面与镜头成 20–35°：远端变窄，远处的定位块被压扁）、"
         "turned 答题卡在画面里歪着的手机照片（纸歪放在桌上或手机没拿正：转了 10–40°）。",
)
@click.option("--format", "fmt", type=click.Choice(["jpg", "png", "pdf"]), default="jpg", show_default=True,
              help="输出格式：每页一张图片，或一个多页 scans.pdf。")
@click.option("--dpi", type=click.IntRange(50, 1200), help="分辨率（默认 300；给出时扫描与传真也用此分辨率）。")
@click.option("--absent", type=click.IntRange(min=0), default=0, show_default=True, help="缺考答题卡张数（监考填涂缺考标记）。")
@click.option("--duplicate-ids", type=click.IntRange(min=0), default=0, show_default=True,
              help="填涂了别人准考证号的答题卡张数。")
@click.option("--doubtful-rate", type=click.FloatRange(0, 1), default=0.01, show_default=True,
              help="每题故意涂得存疑（双涂、半涂、打勾）的概率。")
@click.option("--violations", type=click.IntRange(min=0), default=0, show_default=True,
              help="监考员标记违纪的答题卡张数（考生照常作答）。")
@reports_errors
def simulate_command(exam_json: Path, count: int, outdir: Path, seed: int, degrade: str, fmt: str, dpi,
                     absent: int, duplicate_ids: int, doubtful_rate: float, violations: int) -> None:
    """生成模拟填涂并扫描（或拍照）后的答题卡和标准答案 truth.csv，用于检验阅卷。

    The sheets are the exam's real sheet.pdf (found beside EXAM_JSON),
    pencilled by a simulated cohort and degraded like a scanner or phone.
    """
    from papergen.sim.run import simulate  # numpy/OpenCV load only for this command

    result = simulate(
        exam_json, count, outdir, seed=seed, degrade=degrade, fmt=fmt, dpi=dpi, absent=absent,
        duplicate_ids=duplicate_ids, doubtful_rate=doubtful_rate, violations=violations,
        progress=lambda message: click.echo(message, err=True),
    )
    click.echo(
        f"{result.sheets} 张答题卡（{result.pages} 页，缺考 {result.absent}，违纪 {result.violations}，"
        f"重复准考证号 {result.duplicate_ids}，"
        f"存疑 {result.ambiguous} 题）→ {result.outdir}"
    )
    click.echo(f"标准答案 → {result.truth}")
    click.echo(f"用时 {result.seconds:.1f} 秒", err=True)


def warn_if_unfinished(finished: bool) -> None:
    """Reports from a store whose last ``grade`` was interrupted say so first (they are incomplete)."""
    if not finished:
        from papergen.grade.store import UNFINISHED_WARNING

        click.echo(UNFINISHED_WARNING, err=True)


@cli.command("report")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="输出的 Excel 文件。")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path), help="考生名单（.csv 或 .xlsx），提供姓名和班级。")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="表头语言。")
@reports_errors
def report_command(results_dir: Path, output: Path, roster, lang: str) -> None:
    """成绩报表（Excel）：成绩、题目分析、知识点、分数分布、待复核。"""
    from papergen.report.data import load_exam_results
    from papergen.report.workbook import write_report

    results = load_exam_results(results_dir, roster)
    warn_if_unfinished(results.finished)
    summary = write_report(results, output, lang=lang)
    click.echo(f"{summary.students} 名考生（{summary.graded} 名计入统计），待复核 {summary.review_items} 项 → {output}")


@cli.command("demo")
@click.option("-o", "--output", "outdir", default="papergen-demo", show_default=True, type=click.Path(file_okay=False, path_type=Path), help="输出文件夹。")
@reports_errors
def demo_command(outdir: Path) -> None:
    """演示：用自带题库组卷、模拟 60 名考生的扫描答题卡、阅卷、出报表与个人反馈、对比两次考试。"""
    from papergen.demo import run_demo

    result = run_demo(outdir, progress=lambda message: click.echo(message, err=True))
    click.echo(f"演示完成，用时 {result.seconds:.0f} 秒，生成的文件在 {result.outdir}：")
    for what, where in result.files:
        click.echo(f"  {what}：{where}")
    results_dir = next((where for what, where in result.files if what == "成绩库"), None)
    click.echo(f"第一次考试有 {result.review_items} 项需要人工复核（见 report.xlsx 的“待复核”表）。")
    if results_dir is not None:
        click.echo(f"在浏览器中逐项处理：papergen review {Path(results_dir).parent}")


@cli.command("analyze")
@click.argument("results_dirs", metavar="RESULTS_DIR...", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="输出的 Excel 文件。")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path), help="考生名单（.csv 或 .xlsx），提供姓名和班级。")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="表头语言。")
@reports_errors
def analyze_command(results_dirs: tuple[Path, ...], output: Path, roster, lang: str) -> None:
    """多场考试的趋势分析（Excel）：知识点错误率走势、各班、各考生。

    RESULTS_DIR… are results folders of exams from the same bank(s), earliest first.
    """
    from papergen.report.trends import load_trends, write_trends

    trends = load_trends(list(results_dirs), roster)
    write_trends(trends, output, lang=lang)
    click.echo(f"{len(trends.exams)} 场考试，{len(trends.topics)} 个知识点，{len(trends.students)} 名考生 → {output}")


@cli.command("feedback")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False, path_type=Path), help="输出文件夹。")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path), help="考生名单（.csv 或 .xlsx），提供姓名和班级。")
@click.option("--rank", "show_rank", is_flag=True, help="在反馈中显示名次（默认不显示）。")
@click.option("--with-sheet", is_flag=True, help="在反馈末页附上考生批阅后的答题卡（同 papergen annotate）。")
@reports_errors
def feedback_command(results_dir: Path, outdir: Path, roster, show_rank: bool, with_sheet: bool) -> None:
    """每位考生一份成绩反馈 PDF：总分、各知识点得分率、错题本（按试卷题号顺序，附解析）。

    One PDF per student who sat the exam, named 准考证号-姓名.pdf; absent
    students and sheets awaiting review of their 准考证号 are listed, not written.
    No rank unless --rank is given. --with-sheet adds the student's annotated
    answer sheet as the last page; exit 3 when a scan could not be drawn
    (those PDFs are written without it).
    """
    from papergen.report.annotate import plan_annotations
    from papergen.report.data import load_exam_results
    from papergen.report.feedback import write_feedback

    results = load_exam_results(results_dir, roster)
    warn_if_unfinished(results.finished)
    sheets = plan_annotations(results_dir, roster).students if with_sheet else ()
    result = write_feedback(results, outdir, show_rank=show_rank, sheets=sheets)
    click.echo(f"{len(result.files)} 份成绩反馈 → {outdir}")
    for warning in result.warnings:
        click.echo(f"警告：{warning}", err=True)
    if result.skipped:
        click.echo(f"未生成（{len(result.skipped)} 人）：")
        for line in result.skipped:
            click.echo(f"  {line}")
    fail_on_missing_scans(result.sheets_unavailable, "无法附上答题卡", "这些反馈没有附上答题卡", "把扫描文件放回评阅时的位置后重新运行")


@cli.command("annotate")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False, path_type=Path), help="输出文件夹。")
@click.option("--by-class", is_flag=True, help="每个班一份 PDF（按名单的班级列；没有班级的归入“未分班”），默认每位考生一份。")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path), help="考生名单（.csv 或 .xlsx），提供姓名和班级。")
@reports_errors
def annotate_command(results_dir: Path, outdir: Path, by_class: bool, roster) -> None:
    """批阅后的答题卡 PDF，发还考生：绿框涂对、红框涂错、蓝框漏涂的正确答案、橙框人工改判，印有准考证号、姓名和总分。

    One PDF per student (准考证号-姓名.pdf), or per class with --by-class.
    Absent candidates get none. Exit 3 when some scan could not be drawn any
    more (moved or deleted): the others are written, the missing pages listed.
    """
    from papergen.report.annotate import write_annotated

    result = write_annotated(results_dir, outdir, roster=roster, by_class=by_class)
    click.echo(f"{result.students} 名考生的 {result.pages} 页答题卡，{len(result.files)} 个 PDF → {outdir}")
    if result.skipped:
        click.echo(f"未生成（{len(result.skipped)} 张）：")
        for line in result.skipped:
            click.echo(f"  {terminal_line(line)}")
    fail_on_missing_scans(result.unavailable, "无法显示", "这些页没有生成", "把扫描文件放回评阅时的位置后重新运行；其余的 PDF 已写好")


def fail_on_missing_scans(lines: list[str], label: str, consequence: str, hint: str) -> None:
    """List the scans that could not be drawn any more and exit 3 (everything else was written)."""
    if not lines:
        return
    from papergen.core.errors import InputFileError

    for line in lines:
        click.echo(f"  {label}：{terminal_line(line)}", err=True)
    raise InputFileError(f"{len(lines)} 页答题卡的扫描文件无法读取（已移动、删除或更换），{consequence}", hint=hint)


def terminal_line(text: str) -> str:
    """A line built from scan and roster text, safe to print (no control characters)."""
    from papergen.grade.results import terminal_text

    return terminal_text(text)


@cli.command("review")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="复核页面的监听地址；0.0.0.0 让局域网内的其他阅卷人也能打开（地址中带访问令牌）。")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="复核页面的端口（默认：自动选一个空闲端口）。")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path), help="考生名单（.csv 或 .xlsx），页面上按姓名或准考证号指定考生。")
@click.option("--no-browser", is_flag=True, help="不自动打开浏览器。")
@click.option("--export", "export_path", type=click.Path(dir_okay=False, path_type=Path),
              help="把待复核项导出为 Excel 复核表（含扫描截图和判定下拉框），离线填写。")
@click.option("--apply", "apply_path", type=click.Path(dir_okay=False, path_type=Path),
              help="应用填好的复核表：每行判定记为一条人工改判；有问题的行逐行列出（退出码 13），其余照常生效。")
@click.option("--grader", help="阅卷人姓名，记入每个决定（页面上不给则在页面填写；复核表中“阅卷人”为空的行用它）。")
@reports_errors
def review_command(results_dir: Path, host: str, port: int, roster, no_browser: bool, export_path, apply_path, grader) -> None:
    """人工复核：在浏览器中逐项复核；或导出离线复核表（--export）、应用填好的复核表（--apply）。

    Without --export/--apply: serves the review page (a free port on
    127.0.0.1, its URL with a token printed, the browser opened when there
    is a display) until Ctrl-C. Offline review: --export writes every open
    item with its scan crop and a decision drop-down; --apply records each
    filled row as an override (who, when, old and new value). Bad rows are
    named by sheet and row and left out (exit 13); the valid ones are
    recorded. Applying a file twice adds nothing.
    """
    from papergen.core.errors import DecisionInvalid

    if export_path is None and apply_path is None:
        from papergen.review.serve import serve  # Flask loads only for the page

        serve(results_dir, host=host, port=port, grader=grader, roster=roster, open_browser=not no_browser, say=click.echo)
        return
    from papergen.review.offline import apply_review, export_review

    if export_path is not None and apply_path is not None:
        raise click.UsageError("--export 和 --apply 只能给一个")
    if export_path is not None:
        summary = export_review(results_dir, export_path)
        click.echo(f"{summary.items} 项待复核 → {export_path}")
        for line in summary.without_image:
            click.echo(f"  注意：{terminal_line(line)}（该行没有扫描截图）", err=True)
        return
    result = apply_review(results_dir, apply_path, grader=grader)
    for line in result.applied:
        click.echo(f"  {terminal_line(line)}")
    click.echo(f"已记录 {len(result.applied)} 条判定；已应用过 {result.already} 行；未填写 {result.empty} 行")
    for line in result.problems:
        click.echo(f"  {terminal_line(line)}", err=True)
    if result.problems:
        raise DecisionInvalid(
            f"复核表中有 {len(result.problems)} 行未能应用（见上），其余各行已生效", path=apply_path,
            hint="改正这些行后再次运行 --apply；已生效的行不会重复记录",
        )


def main() -> None:
    """Console-script entry point.

    Click keeps its standalone mode (usage errors → 2, ``--help`` → 0,
    ``sys.exit(n)`` in a command → n); only Ctrl-C and SIGTERM are taken
    from it: they raise ``Interrupted``, which Click lets through, and end
    here with "已中断。" and 130 (143 for SIGTERM) instead of Click's
    "Aborted!" and 1.
    """
    stop_on_signals()
    try:
        try:
            cli.main(prog_name="papergen")  # standalone mode: exits by itself unless interrupted
        finally:
            stop_if_lost()  # a Ctrl-C the interpreter swallowed and no step raised again: still 130
        return
    except Interrupted as exc:
        atomic.remove_own_temps()
        if sys.stderr.isatty():
            click.echo("", err=True)  # end the line the terminal's ^C or the progress bar left open
        for note in exc.notes:
            click.echo(note, err=True)
        click.echo(exc.message, err=True)
        code = int(exc.exit_code)
    # Exit only once the exception is gone: its traceback holds the frames it
    # passed through, and whatever clean-up only their release runs (a temp
    # file of a ``with`` interrupted as it was entered) would never run if
    # sys.exit kept them alive until the interpreter stops.
    sys.exit(code)
