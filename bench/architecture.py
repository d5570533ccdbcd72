"""The house in figures: stages, imports per job, where SQL and pools live, the biggest functions.

    python bench/architecture.py

Prints what issue 11 measured, so the figures can be taken again after any change:
- modules per stage folder and their lines;
- what a fresh interpreter loads for a build (``render.build``), for grading
  (``grade.pipeline``) and for the command line (``cli``), papergen modules
  and the heavy libraries;
- every module that runs SQL (``.execute(``), that starts a pool
  (``ProcessPoolExecutor``, ``ThreadPoolExecutor``, ``multiprocessing``), or that
  changes a process-wide setting at import (``MAX_IMAGE_PIXELS``, ``setLogLevel``);
- the ten longest functions with their branch counts (if/for/while/try/with, boolean
  operators, conditional expressions, comprehension conditions).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "papergen"
HEAVY = ("openpyxl", "sqlite3", "cv2", "numpy", "reportlab", "docx", "PIL", "yaml", "fontTools")
BRANCHES = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.BoolOp, ast.IfExp, ast.comprehension, ast.Match)


def modules_loaded(statement: str) -> list[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def stage_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else "(top)"


def function_sizes(tree: ast.AST, where: str) -> list[tuple[int, int, str]]:
    sizes = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            branches = sum(isinstance(n, BRANCHES) for n in ast.walk(node))
            sizes.append((lines, branches, f"{where}:{node.lineno} {node.name}"))
    return sizes


def main() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    per_stage: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    sql, pools, settings, sizes = [], [], [], []
    for path in files:
        text = path.read_text(encoding="utf-8")
        rel = str(path.relative_to(ROOT))
        stage = stage_of(path)
        per_stage[stage] += text.count("\n")
        modules[stage] += path.name != "__init__.py" or bool(text.strip())
        if ".execute(" in text or ".executemany(" in text or ".executescript(" in text:
            sql.append(rel)
        if any(word in text for word in ("ProcessPoolExecutor(", "ThreadPoolExecutor(", "multiprocessing.Pool", "get_context(")):
            pools.append(rel)
        tree = ast.parse(text)
        for node in tree.body:  # module level only: what runs at import
            source = ast.unparse(node)
            if "MAX_IMAGE_PIXELS" in source and isinstance(node, (ast.Assign, ast.Expr)) or "setLogLevel" in source and isinstance(node, ast.Expr):
                settings.append(f"{rel}:{node.lineno} {source[:70]}")
        sizes += function_sizes(tree, rel)

    print(f"{sum(modules.values())} modules in {len(modules)} folders")
    for stage in sorted(per_stage):
        print(f"  {stage:<8} {modules[stage]:>3} modules {per_stage[stage]:>6} lines")
    for label, statement in (
        ("build (import papergen.render.build)", "import papergen.render.build"),
        ("grading (import papergen.grade.pipeline)", "import papergen.grade.pipeline"),
        ("command line (import papergen.cli)", "import papergen.cli"),
    ):
        loaded = modules_loaded(statement)
        ours = [m for m in loaded if m.startswith("papergen.") and not m.endswith("__main__")]
        heavy = [h for h in HEAVY if h in loaded]
        print(f"{label}: {len(ours)} papergen modules; libraries: {', '.join(heavy) or 'none'}")
        print("  " + " ".join(m.removeprefix("papergen.") for m in ours))
    print("modules that run SQL:", ", ".join(sql) or "none")
    print("modules that start a pool:", ", ".join(pools) or "none")
    print("process-wide settings changed at import:", "; ".join(settings) or "none")
    print("ten longest functions (lines, branches):")
    for lines, branches, where in sorted(sizes, reverse=True)[:10]:
        print(f"  {lines:>4} {branches:>3}  {where}")


if __name__ == "__main__":
    main()
