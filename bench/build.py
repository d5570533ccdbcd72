"""Benchmark: building exams and personalised sheets (prints seconds and peak memory).

    python bench/build.py

Builds 4 variants × 100 questions (PDF + DOCX papers and keys, the answer
sheet, exam.json) from the sample bank, then prints 1,000 personalised
sheets. Targets on a 2-core machine: the build under 5 s, the sheets under
10 s. The font cache is warmed first so its one-time ~20 s is not counted.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papergen.render import fonts
from papergen.render.build import build_exam  # noqa: E402
from papergen.render.personal import print_personal_sheets  # noqa: E402

BLUEPRINT = f"""exam: bench-100
title: 基准测试卷（100题）
banks: [{ROOT / 'banks' / 'xinjiuye-dangjian.yaml'}]
variants: 4
seed: 1
minutes: 90
sections:
  - title: 一、单项选择题
    type: single
    count: 70
    points: 1
  - title: 二、多项选择题
    type: multiple
    count: 30
    points: 2
"""


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    t = time.perf_counter()
    fonts.register_pdf_fonts()
    print(f"font cache warm-up: {time.perf_counter() - t:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        blueprint = tmp / "bench.yaml"
        blueprint.write_text(BLUEPRINT, encoding="utf-8")
        t = time.perf_counter()
        result = build_exam(blueprint, tmp / "exam")
        build_s = time.perf_counter() - t
        print(f"build 4 variants x 100 questions (PDF+DOCX+keys+sheet): {build_s:.2f} s  (target < 5 s)")
        for stage, seconds in result.seconds.items():
            print(f"    {stage:<12} {seconds:.2f} s")
        print(f"    peak memory so far: {peak_mb():.0f} MB")
        roster = tmp / "roster.csv"
        rows = ["准考证号,姓名,班级,座位号"] + [f"2026{n:06d},考生{n},{n % 20 + 1}班,{n + 1}" for n in range(1000)]
        roster.write_text("\n".join(rows), encoding="utf-8")
        t = time.perf_counter()
        sheets = print_personal_sheets(tmp / "exam" / "exam.json", roster, tmp / "sheets.pdf")
        sheets_s = time.perf_counter() - t
        print(f"{sheets.students} personalised sheets ({sheets.pages} pages): {sheets_s:.2f} s  (target < 10 s)")
        print(f"peak memory: {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
