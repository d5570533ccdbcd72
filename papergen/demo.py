"""``papergen demo``: the whole product once, on the bundled bank.

Builds a two-variant mock exam from the bundled bank (``papergen.data.demo_bank``),
simulates a class of 60 scanning their answer sheets (scanner-level
degradation, a few doubtful marks, one absent student, one the invigilator
marked 违纪, one duplicated 准考证号), grades them, writes the Excel report and per-student feedback
PDFs, then holds a second sitting (new questions, same students) so that
``trends.xlsx`` has two exams to compare. Every step is the same library
call the individual commands make. Re-running reuses what is already there.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from papergen.core import atomic
from papergen.data import demo_bank
from papergen.grade.pipeline import grade
from papergen.render.build import build_exam
from papergen.report.data import load_exam_results
from papergen.report.workbook import write_report
from papergen.sim.run import simulate

STUDENTS = 60
SEED = 20260306

BLUEPRINT = """exam: {exam}
title: {title}
banks: [{bank}]
variants: 2
seed: {seed}
minutes: 60
sections:
  - title: 一、单项选择题
    type: single
    count: 30
    points: 1
    topics: {{管理体制与工作机制: 4, 组织覆盖: 4, 关爱服务与阵地: 3, 地方实践案例: 5}}
    difficulty: {{min: 1, max: 4, mean: 2.5}}
  - title: 二、多项选择题
    type: multiple
    count: 15
    points: 2
    scoring: all_or_nothing
{exclude}"""

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
         "秀兰", "霞", "平", "刚", "桂英", "浩然", "子涵", "欣怡", "梓轩", "雨桐", "宇航", "思远"]


@dataclass
class DemoResult:
    outdir: Path
    files: list[tuple[str, Path]] = field(default_factory=list)  # (what, where)
    seconds: float = 0.0
    review_items: int = 0


def write_roster(path: Path, student_ids: list[str], seed: int = SEED) -> Path:
    """A class list for the simulated students: names, two classes, seats."""
    rng = random.Random(seed)
    lines = ["准考证号,姓名,班级,座位号"]
    for seat, sid in enumerate(student_ids, start=1):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        lines.append(f"{sid},{name},{'一班' if seat % 2 else '二班'},{seat}")
    atomic.write_bytes(path, ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8"))
    return path


def _sitting(outdir: Path, exam: str, title: str, seed: int, exclude: Path | None, say) -> tuple[Path, Path, Path]:
    folder = outdir / exam
    folder.mkdir(parents=True, exist_ok=True)
    blueprint = folder / "blueprint.yaml"
    # Paths in a blueprint are read from the blueprint's own folder.
    excluded = Path(os.path.relpath(exclude.resolve(), folder.resolve())).as_posix() if exclude else None
    text = BLUEPRINT.format(
        exam=exam, title=title, bank=demo_bank(), seed=seed, exclude=f"exclude: [{excluded}]\n" if excluded else ""
    )
    atomic.write_text(blueprint, text)
    say(f"组卷 {exam} …")
    build_exam(blueprint, folder / "exam", force=True)
    exam_json = folder / "exam" / "exam.json"
    say(f"模拟 {STUDENTS} 名考生的扫描答题卡 …")
    simulate(exam_json, STUDENTS, folder / "scans", seed=SEED, degrade="scan", absent=1, duplicate_ids=1, violations=1)
    say("阅卷 …")
    results = folder / "results"
    return exam_json, folder / "scans", results


def run_demo(outdir: str | Path = "papergen-demo", progress: Callable[[str], None] | None = None) -> DemoResult:
    """Run the demo into ``outdir``; returns what was made."""
    from papergen.report.feedback import write_feedback
    from papergen.report.trends import load_trends, write_trends

    say = progress or (lambda message: None)
    start = time.perf_counter()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    result = DemoResult(outdir)

    first_json, first_scans, first_results = _sitting(outdir, "2026-mock-03", "2026年事业单位公共基础知识模拟卷（三）", SEED, None, say)
    summary = grade(first_json, [first_scans], first_results)
    result.review_items = len(summary.review)
    ids = sorted({line.split(",")[3] for line in (first_scans / "truth.csv").read_text(encoding="utf-8-sig").splitlines()[1:]})
    roster = write_roster(outdir / "名单.csv", ids)
    say("成绩报表 …")
    report = outdir / "report.xlsx"
    results = load_exam_results(first_results, roster)
    write_report(results, report)
    say("个人反馈 …")
    feedback = write_feedback(results, outdir / "feedback")

    second_json, second_scans, second_results = _sitting(
        outdir, "2026-mock-03b", "2026年事业单位公共基础知识模拟卷（三）第二次测验", SEED + 1, first_json, say
    )
    grade(second_json, [second_scans], second_results)
    say("趋势分析 …")
    trends = outdir / "trends.xlsx"
    write_trends(load_trends([first_results, second_results], roster), trends)

    result.files = [
        ("试卷与答案（第一次）", first_json.parent),
        ("扫描答题卡（模拟）", first_scans),
        ("成绩库", first_results / "results.sqlite"),
        ("考生名单", roster),
        ("成绩报表", report),
        (f"个人反馈（{len(feedback.files)} 份）", outdir / "feedback"),
        ("第二次考试", second_json.parent.parent),
        ("趋势分析", trends),
    ]
    result.seconds = time.perf_counter() - start
    return result
