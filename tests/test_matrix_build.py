"""Matrix: broken blueprints and output folders through `papergen build`.

Every case starts from ``tests/fixtures/exam/matrix.yaml`` (copied to
``{d}/bp.yaml`` with absolute paths) changed in one way, and an output folder
``{d}/out`` that already holds a complete earlier build of it. Whatever goes
wrong, that earlier build must survive byte for byte, with no temp file;
when the build succeeds every file under its final name must be complete.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from papergen.core.errors import ExitCode as X
from tests.conftest import MATRIX_BLUEPRINT, ROOT
from tests.matrix import Case, assert_nothing_lost, expand, ids, run_cli, snapshot
from tests.test_bank_validate import HEAD, question

SAMPLE_BANK = ROOT / "banks" / "xinjiuye-dangjian.yaml"
BASE = MATRIX_BLUEPRINT.read_text(encoding="utf-8")
BASE = BASE.replace("../../../banks/xinjiuye-dangjian.yaml", str(SAMPLE_BANK))
BASE = BASE.replace("layout: tall-rows.yaml", f"layout: {MATRIX_BLUEPRINT.parent / 'tall-rows.yaml'}")


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


def bp(*changes: tuple[str, str], encoding: str = "utf-8", extra: dict[str, str | bytes] | None = None):
    """The base blueprint with ``(old, new)`` replacements, plus extra files, written into the case folder."""
    text = BASE
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)

    def setup(d: Path, ctx=None) -> None:
        (d / "bp.yaml").write_bytes(text.replace("{d}", str(d)).encode(encoding))
        for name, data in (extra or {}).items():
            (d / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)

    setup.text = text
    return setup


def at(setup, needle: str) -> str:
    """``{d}/bp.yaml:LINE`` of the line holding ``needle`` in that blueprint."""
    return f"{{d}}/bp.yaml:{line_of(setup.text, needle)}"


quota = bp(("    count: 5\n    points: 1\n", "    count: 40\n    points: 1\n    topics: {组织覆盖: 40}\n"))
unknown_topic = bp(("    count: 5\n    points: 1\n", "    count: 5\n    points: 1\n    topics: {组织复盖: 2}\n"))
unknown_rule = bp(("    count: 3\n    points: 2\n", "    count: 3\n    points: 2\n    scoring: {majority: 1}\n"))
missing_bank = bp((str(SAMPLE_BANK), "{d}/nope.yaml"))
invalid_bank = bp((str(SAMPLE_BANK), "{d}/bad.yaml"), extra={"bad.yaml": HEAD + question(answer="answer: D")})
gbk_bank = bp((str(SAMPLE_BANK), "{d}/gbk.yaml"), extra={"gbk.yaml": SAMPLE_BANK.read_text(encoding="utf-8").encode("gbk", "replace")})
too_many_variants = bp(("variants: 2", "variants: 6"))
huge_section = bp(("    count: 3\n", "    count: 300\n"))
unknown_key = bp(("seed: 5\n", "seed: 5\nvarients: 2\n"))
missing_exclude = bp(("seed: 5\n", "seed: 5\nexclude: [{d}/old/exam.json]\n"))
custom_tag = bp(("title: 测试用小卷", "title: !!python/object:os.system 测试用小卷"))
alias = bp(("seed: 5\n", "seed: &s 5\nminutes: *s\n"))
yaml_syntax = bp(("title: 测试用小卷", "title: 测试: 用: 小卷"))
other_exam = bp(("exam: matrix-01", "exam: matrix-02"))
other_seed = bp(("seed: 5", "seed: 6"))
same = bp()

BUILD = ("build", "{d}/bp.yaml", "-o", "{d}/out")
EVERY_FILE = ("out/*",)

CASES = [
    # blueprints the banks cannot meet, or that are wrong
    Case("quota-unmet", quota, BUILD, X.blueprint_invalid, (at(quota, "topics:"), "“组织覆盖”需要 40 道单选题")),
    Case("unknown-topic", unknown_topic, BUILD, X.blueprint_invalid, (at(unknown_topic, "topics:"), "知识点“组织复盖”在题库中不存在")),
    Case("unknown-scoring-rule", unknown_rule, BUILD, X.blueprint_invalid, (at(unknown_rule, "majority"), "未知的计分规则")),
    Case("missing-bank", missing_bank, BUILD, X.blueprint_invalid, (at(missing_bank, "banks:"), "{d}/nope.yaml")),
    Case("invalid-bank", invalid_bank, BUILD, X.bank_invalid, ("{d}/bad.yaml:8", "answer-out-of-range")),
    Case("gbk-bank", gbk_bank, BUILD, X.input_file, ("{d}/gbk.yaml:", "GBK")),
    Case("too-many-variants", too_many_variants, BUILD, X.blueprint_invalid, (at(too_many_variants, "variants:"), "variants 应为 1–4")),
    Case("variants-option-out-of-range", same, (*BUILD, "--variants", "9"), X.usage, ("--variants",)),
    Case("section-larger-than-pool", huge_section, BUILD, X.blueprint_invalid, ("{d}/bp.yaml", "300")),
    Case("unknown-field", unknown_key, BUILD, X.blueprint_invalid, (at(unknown_key, "varients"), "是不是 variants")),
    Case("missing-exclude", missing_exclude, BUILD, X.blueprint_invalid, (at(missing_exclude, "exclude:"), "排除的考试清单文件不存在：{d}/old/exam.json")),
    Case("blueprint-custom-tag", custom_tag, BUILD, X.input_rejected, (at(custom_tag, "title:"), "标签")),
    Case("blueprint-alias", alias, BUILD, X.input_rejected, (at(alias, "seed:"), "锚点")),
    Case("blueprint-yaml-syntax", yaml_syntax, BUILD, X.input_file, (at(yaml_syntax, "title:"), "YAML")),
    Case("blueprint-gbk", bp(encoding="gbk"), BUILD, X.input_file, ("{d}/bp.yaml:", "GBK")),
    Case("blueprint-missing", None, BUILD, X.input_file, ("{d}/bp.yaml", "不存在")),
    # the output folder already holds an exam
    Case("other-exam-in-folder", other_exam, BUILD, X.output_error, ("{d}/out", "另一场考试（matrix-01）", "--force")),
    Case("changed-seed-in-folder", other_seed, BUILD, X.output_error, ("{d}/out", "题目、顺序或答案与这次不同", "--force")),
    Case("corrupt-exam-json-in-folder", bp(extra={"out/exam.json": '{"format": "papergen-exam", "versi'}), BUILD, X.output_error, ("{d}/out/exam.json", "无法读取", "--force")),
    Case("output-is-a-file", same, ("build", "{d}/bp.yaml", "-o", "{d}/out/exam.json"), X.usage, ("{d}/out/exam.json", "is a file")),
    # the very blueprint that made the folder: every byte stays the same (no file may change)
    Case("rebuild-identical", None, ("build", "{blueprint}", "-o", "{d}/out"), X.ok, ("与已有文件相同",)),
    Case("forced-rebuild", other_seed, (*BUILD, "--force", "--variants", "1"), X.ok, ("{d}/out/paper-A.pdf",), EVERY_FILE),
]


@pytest.fixture(scope="module")
def ctx(small_exam) -> SimpleNamespace:
    return SimpleNamespace(exam=small_exam)


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_build_matrix(case: Case, ctx, tmp_path: Path) -> None:
    d = tmp_path
    shutil.copytree(ctx.exam, d / "out")
    if case.setup:
        case.setup(d, ctx)
    before = snapshot(d)

    result = run_cli(expand(case.argv, d=d, blueprint=MATRIX_BLUEPRINT), env=case.env)

    assert result.exit_code == case.exit_code, result.output
    for fragment in expand(case.says, d=d):
        assert fragment in result.output, f"{fragment!r} not in:\n{result.output}"
    after = assert_nothing_lost(before, d, case.writes)
    if case.id == "forced-rebuild":
        manifest = json.loads(after["out/exam.json"])
        assert manifest["seed"] == 6 and [v["name"] for v in manifest["variants"]] == ["A"]
        assert sorted(n for n in after if n.startswith("out/")) == sorted(
            f"out/{name}" for name in ("exam.json", "sheet.pdf", "paper-A.pdf", "key-A.pdf", "paper-A.docx", "key-A.docx")
        )
