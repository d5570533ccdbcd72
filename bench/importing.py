"""Benchmark: the Chinese text importer on large and awkward sources (prints seconds).

    python bench/importing.py

The reader looks ahead from every numbered line to decide whether
"2．2023年……" opens a question, and then recounts the question-like lines
independently; both must stay linear in the size of the source. Inputs:
the sample bank's text export repeated 20 times (3,740 questions), 50,000
lines that start like "1.5万人……" (the worst case for the look-ahead), and
1,000 numbered headings each followed by 70 lines of prose. Target on a
2-core machine: each under 3 s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papergen.bank.files import load_banks  # noqa: E402
from papergen.bank.formats import cntext  # noqa: E402


def timed(name: str, data: bytes) -> None:
    start = time.perf_counter()
    result = cntext.read(data, "bench.txt")
    seconds = time.perf_counter() - start
    errors = sum(p.is_error for p in result.problems)
    print(f"{name:<28} {len(data) / 1e6:6.2f} MB  {len(result.records):6d} 题  {errors:5d} 个错误  {seconds:6.2f} s")


def main() -> None:
    (bank,) = load_banks([ROOT / "banks" / "xinjiuye-dangjian.yaml"])
    export = cntext.write(bank)
    timed("样例题库文本导出 ×20", b"\n".join([export] * 20))
    timed("50,000 行“1.5万人……”", "1．题：\nA．一\nB．二\n答案：A\n【解析】\n".encode() + "1.5万人参加培训。\n".encode() * 50_000)
    timed("1,000 个编号标题 + 70 行正文", ("3.完善激励机制\n" + "推动建立激励机制。\n" * 70).encode() * 1000)


if __name__ == "__main__":
    main()
