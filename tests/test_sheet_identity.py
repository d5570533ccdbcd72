"""No silent wrong result: which build printed a sheet, which scan is a page's, and what a scan may claim.

Each test drives the CLI the way a grader would and failed before the fix
it guards (another build's sheets were scored, a rescan was added to the
earlier page, the second sheet of a 2-up page vanished, a hand-edited
exam.json was trusted, a forged QR code reached the terminal and CSV…).
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest

from papergen.core.errors import ExitCode
from papergen.exam.manifest import read_manifest
from papergen.render.build import build_exam
from papergen.render.sheet import qr_modules
from tests.conftest import ROOT
from tests.matrix import run_cli
from tests.sheetfill import filled_sheet, key_answers

BLUEPRINT = """\
exam: ident-01
title: 身份测试卷
banks: [{bank}]
variants: 2
seed: {seed}
sections:
  - title: {single_title}
    type: single
    count: 10
    points: 2
    scoring: {{negative: 0.5}}
  - title: 二、多项选择题
    type: multiple
    count: 5
    points: 4
"""
DPI = 150


def write_blueprint(folder: Path, seed: int = 1, single_title: str = "一、单项选择题") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ident.yaml"
    path.write_text(
        BLUEPRINT.format(bank=ROOT / "banks" / "xinjiuye-dangjian.yaml", seed=seed, single_title=single_title),
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> tuple[Path, Path]:
    """The same exam id built twice with different seeds: two builds, two exam.json."""
    base = tmp_path_factory.mktemp("builds")
    first = build_exam(write_blueprint(base / "one", seed=1), base / "one" / "exam").outdir
    second = build_exam(write_blueprint(base / "two", seed=2), base / "two" / "exam").outdir
    return first, second


def sheet_image(exam: Path, student_id: str | None, variant: str | None = "A", answers=None, **options) -> np.ndarray:
    manifest = read_manifest(exam / "exam.json")
    if answers is None:
        answers = key_answers(manifest, variant or "A")
    return filled_sheet(exam, manifest, student_id=student_id, variant=variant, answers=answers, dpi=DPI, **options)


def save(image: np.ndarray, path: Path, quality: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return path


def results_json(results: Path) -> list[dict]:
    return json.loads(run_cli(["results", results, "--format", "json"]).output)


def grade(exam: Path, scans, results: Path):
    items = scans if isinstance(scans, list) else [scans]
    return run_cli(["grade", exam / "exam.json", *items, "-o", results, "--workers", "1"])


# -- which build printed the sheet --------------------------------------------------------


def test_every_sheet_carries_its_builds_fingerprint(builds) -> None:
    first, second = (read_manifest(b / "exam.json") for b in builds)
    assert first.exam == second.exam and first.build != second.build
    assert re.fullmatch(r"[0-9a-f]{10}", first.build)
    # the same blueprint and seed give the same build, so a rebuild keeps printed sheets valid
    again = build_exam(write_blueprint(builds[0].parent / "again", seed=1), builds[0].parent / "again" / "exam")
    assert again.manifest.build == first.build


def test_sheets_of_another_build_of_the_same_exam_are_refused(builds, tmp_path) -> None:
    first, second = builds
    scans = tmp_path / "scans"
    for k, sid in enumerate(("2026990001", "2026990002")):
        save(sheet_image(first, sid, "AB"[k]), scans / f"sheet-{k}.jpg")
    result = grade(second, scans, tmp_path / "results")
    assert result.exit_code == ExitCode.graded_with_review, result.output
    assert "读出 0 页" in result.output and "拒收 2 页" in result.output
    assert "另一次组卷" in result.output and read_manifest(second / "exam.json").build in result.output
    assert results_json(tmp_path / "results") == []  # nobody scored against a key they were not printed for
    # and graded with their own build, the same scans are fine
    assert grade(first, scans, tmp_path / "own").exit_code == ExitCode.ok


def test_a_remedial_build_is_another_exam_by_default(tmp_path) -> None:
    from papergen.exam.focus import FocusPlan

    plan = FocusPlan("全体", {}, frozenset(), ("ident-01",))
    blueprint = write_blueprint(tmp_path)
    built = build_exam(blueprint, tmp_path / "r1", focus=plan).manifest
    assert (built.exam, built.title) == ("ident-01-R1", "身份测试卷（巩固卷）")
    named = build_exam(blueprint, tmp_path / "named", focus=plan, exam="ident-01-一班", title="一班巩固").manifest
    assert (named.exam, named.title) == ("ident-01-一班", "一班巩固")


# -- a page is one physical sheet ---------------------------------------------------------


def test_a_rescan_under_the_same_name_replaces_the_earlier_reading(builds, tmp_path) -> None:
    exam = builds[0]
    manifest = read_manifest(exam / "exam.json")
    scans = tmp_path / "scans"
    answers = key_answers(manifest, "A")
    wrong = {**answers, 1: "B" if answers[1] != "B" else "C"}
    save(sheet_image(exam, "2026990004", answers=wrong), scans / "sheet-0004.jpg")
    save(sheet_image(exam, "2026990005", "B"), scans / "sheet-0005.jpg")
    assert grade(exam, scans, tmp_path / "results").exit_code == ExitCode.ok
    before = {r["student_id"]: r for r in results_json(tmp_path / "results")}
    assert before["2026990004"]["total"] == manifest.total_points - 2 - 0.5  # one wrong answer: −0.5, not +2
    # the sheet is rescanned (the teacher corrected nothing: a better scan) over the same file name
    save(sheet_image(exam, "2026990004"), scans / "sheet-0004.jpg", quality=75)
    result = grade(exam, scans, tmp_path / "results")
    assert result.exit_code == ExitCode.ok, result.output
    assert "重新扫描" in result.output
    after = {r["student_id"]: r for r in results_json(tmp_path / "results")}
    assert after["2026990004"]["total"] == manifest.total_points  # the new reading, never the sum of both
    assert len(after["2026990004"]["pages"]) == 1 and len(after["2026990004"]["replaced"]) == 1
    table = run_cli(["results", tmp_path / "results"]).output
    assert "替换了 1 页较早的读取" in table and "sheet-0004.jpg" in table
    db = sqlite3.connect(tmp_path / "results" / "results.sqlite")
    assert db.execute("SELECT why, student_id FROM history").fetchall() == [("rescanned", "2026990004")]
    db.close()


def test_two_sheets_on_one_page_are_both_read(builds, tmp_path) -> None:
    """A copier's 2-up mode: two A4 sheets side by side on one A3 page."""
    exam = builds[0]
    left, right = sheet_image(exam, "2026990011", "A"), sheet_image(exam, "2026990012", "B")
    page = np.hstack([left, np.full((left.shape[0], 40), 255, np.uint8), right])
    save(page, tmp_path / "scans" / "a3-2up.jpg")
    result = grade(exam, tmp_path / "scans", tmp_path / "results")
    assert result.exit_code == ExitCode.ok, result.output
    got = {r["student_id"]: (r["variant"], r["total"], r["status"]) for r in results_json(tmp_path / "results")}
    full = read_manifest(exam / "exam.json").total_points
    assert got == {"2026990011": ("A", full, "已评"), "2026990012": ("B", full, "已评")}
    pages = [p for r in results_json(tmp_path / "results") for p in r["pages"]]
    assert sorted(pages) == sorted(f"{tmp_path / 'scans' / 'a3-2up.jpg'} 第 1 页第 {k} 张答题卡" for k in (1, 2))


def test_a_second_sheet_whose_code_cannot_be_read_is_refused_not_dropped(builds, tmp_path) -> None:
    exam = builds[0]
    manifest = read_manifest(exam / "exam.json")
    left, right = sheet_image(exam, "2026990013", "A"), sheet_image(exam, "2026990014", "B")
    x, y, w, h = manifest.sheet.header.qr
    ox, oy = manifest.sheet.origin
    k = DPI / 25.4
    right[int((oy + y) * k) : int((oy + y + h) * k), int((ox + x) * k) : int((ox + x + w) * k)] = 255  # QR torn off
    save(np.hstack([left, right]), tmp_path / "scans" / "a3.jpg")
    result = grade(exam, tmp_path / "scans", tmp_path / "results")
    assert result.exit_code == ExitCode.graded_with_review
    assert "拒收 1 页" in result.output and "还有一张答题卡" in result.output
    assert [r["student_id"] for r in results_json(tmp_path / "results")] == ["2026990013"]


def test_totals_lie_within_the_exams_range_whatever_is_scanned(builds, tmp_path) -> None:
    """Every student's total stays in [min, max] through rescans, duplicates and re-runs (a property)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from papergen.exam.manifest import manifest_text
    from papergen.grade.pipeline import score_reading
    from papergen.grade.reader import PageReading, QuestionReading
    from papergen.grade.results import exam_score_range, student_results
    from papergen.grade.store import PageRecord, open_store

    manifest = read_manifest(builds[0] / "exam.json")
    low, high = exam_score_range(manifest)
    assert (low, high) == (-5.0, manifest.total_points)
    files = [str(tmp_path / f"scan-{k}.jpg") for k in range(4)]
    students = ["2026990021", "2026990022", None]
    reading = st.builds(
        lambda sid, variant, marks: (sid, variant, marks),
        st.sampled_from(students), st.sampled_from(["A", "B", None]),
        st.lists(st.sampled_from(["A", "B", "C", "D", "AB", "", "?"]), min_size=15, max_size=15),
    )
    # one step: (which file, a new version of it or the same, the sheet on it)
    steps = st.lists(st.tuples(st.sampled_from(range(len(files))), st.booleans(), reading), min_size=1, max_size=8)
    counter = iter(range(10**9))

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(steps)
    def check(scanned) -> None:
        results = tmp_path / f"r{next(counter)}"
        versions = {}
        with open_store(results, manifest_text(manifest), manifest.exam) as db:
            for file_index, new_version, (sid, variant, marks) in scanned:
                path = files[file_index]
                version = versions.get(path, 0) + (1 if new_version or path not in versions else 0)
                versions[path] = version
                file_hash = f"{file_index}-{version}"
                db.record_ingest([(path, file_hash, "jpeg", 1)], [], [path])
                if (file_hash, 1) in db.done_pages():
                    continue
                page = PageReading(status="read", sheet_page=1, student_id=sid, variant=variant)
                page.questions = [
                    QuestionReading(n, "flagged" if m == "?" else ("answer" if m else "blank"), m if m != "?" else "", "", 1.0, ())
                    for n, m in enumerate(marks, start=1)
                ]
                values = {"sheet_page": 1, "student_id": sid, "variant": variant, "absent": 0}
                db.write_page([PageRecord(file_hash, 1, path, "read", "", values, score_reading(page, manifest), [])])
            db.refresh_sheet_flags()
            for result in student_results(db.db, manifest):
                assert low <= result.total <= high, result

    check()


# -- exam.json is checked before any page is read -------------------------------------------


def edited_exam(source: Path, folder: Path, edit) -> Path:
    shutil.copytree(source, folder)
    data = json.loads((folder / "exam.json").read_text(encoding="utf-8"))
    edit(data)
    (folder / "exam.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


def _set_variant_key(data: dict) -> None:
    item = data["variants"][1]["items"][3]
    item["key"] = next(letter for letter in "ABCD" if letter != item["key"])


def _set_answer(data: dict) -> None:
    qid = data["variants"][0]["items"][0]["id"]
    q = data["questions"][qid]
    q["answer"] = next(letter for letter in "ABCD" if letter != q["answer"])


def _answer_g(data: dict) -> None:
    data["questions"][data["variants"][0]["items"][0]["id"]]["answer"] = "G"


def _unknown_rule(data: dict) -> None:
    data["sections"][1]["scoring"] = {"rule": "generous"}


def _permutation_edited(data: dict) -> None:
    item = data["variants"][0]["items"][2]
    item["permutation"] = list(reversed(item["permutation"]))
    data["variants"][0]["items"][2]["key"] = item["key"]


@pytest.mark.parametrize(
    "edit, field",
    [
        (_set_variant_key, "variants[1].items[3].key"),
        (_set_answer, "bank_key"),
        (_answer_g, ".answer：答案 'G'"),
        (_unknown_rule, "sections[1].scoring：未知的计分规则"),
        (_permutation_edited, "build：组卷指纹"),
    ],
    ids=["variant-key", "question-answer", "answer-G", "unknown-rule", "permutation"],
)
def test_a_hand_edited_exam_json_is_refused_naming_the_field(builds, tmp_path, edit, field) -> None:
    exam = edited_exam(builds[0], tmp_path / "exam", edit)
    save(sheet_image(builds[0], "2026990031"), tmp_path / "scans" / "s.jpg")
    result = grade(exam, tmp_path / "scans", tmp_path / "results")
    assert result.exit_code == ExitCode.input_file, result.output
    assert "考试清单自相矛盾" in result.output and field in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "results").exists()


# -- what a QR code may claim ---------------------------------------------------------------


def with_qr(image: np.ndarray, exam: Path, text: str) -> np.ndarray:
    """``image`` with its QR code replaced by one saying ``text`` (a forgery)."""
    manifest = read_manifest(exam / "exam.json")
    x, y, w, h = manifest.sheet.header.qr
    ox, oy = manifest.sheet.origin
    k = DPI / 25.4
    size = int(round(w * k))
    code = cv2.resize(np.where(np.array(qr_modules(text), bool), 0, 255).astype(np.uint8), (size, size),
                      interpolation=cv2.INTER_NEAREST)
    r0, c0 = int(round((oy + y) * k)), int(round((ox + x) * k))
    image = image.copy()
    image[r0 : r0 + size, c0 : c0 + size] = code
    return image


@pytest.mark.parametrize(
    "forged",
    ["S==cmd|' /C calc'!A0", "S=\x1b[31m2026990041\x1b[0m", "S=20269\n90041", "S=" + "9" * 40, "S=2026990041;N=\x07\x1b]0;x"],
    ids=["formula", "escape", "newline", "40-digits", "bell-in-name"],
)
def test_a_forged_student_id_in_the_qr_code_is_flagged_and_never_printed_raw(builds, tmp_path, forged) -> None:
    exam = builds[0]
    manifest = read_manifest(exam / "exam.json")
    text = f"PG1;E={manifest.exam};B={manifest.build};P=1/1;L={manifest.sheet.layout};V=A;{forged}"
    save(with_qr(sheet_image(exam, "2026990041"), exam, text), tmp_path / "scans" / "forged.jpg")
    result = grade(exam, tmp_path / "scans", tmp_path / "results")
    rows = results_json(tmp_path / "results")
    assert len(rows) == 1
    if forged.startswith("S=2026990041;"):  # a valid id, a name with control characters (names are not used)
        assert rows[0]["student_id"] == "2026990041"
    else:
        assert result.exit_code == ExitCode.graded_with_review
        assert rows[0]["status"] == "待复核" and rows[0]["student_id"] == "2026990041"  # the bubbles' number, flagged
        assert any("二维码上的准考证号无效" in flag for flag in rows[0]["flags"])
    for fmt in ("table", "csv"):
        out = run_cli(["results", tmp_path / "results", "--format", fmt]).output
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out), repr(out)
        assert "9" * 30 not in out
        if fmt == "csv":
            assert not any(cell.startswith(("=", "+", "@")) for line in out.splitlines() for cell in line.split(","))
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", result.output)


def test_csv_never_starts_a_formula_even_in_section_titles(tmp_path) -> None:
    exam = build_exam(write_blueprint(tmp_path / "bp", single_title="=HYPERLINK(1)"), tmp_path / "exam").outdir
    save(sheet_image(exam, "2026990051"), tmp_path / "scans" / "s.jpg")
    assert grade(exam, tmp_path / "scans", tmp_path / "results").exit_code == ExitCode.ok
    header = run_cli(["results", tmp_path / "results", "--format", "csv"]).output.splitlines()[0]
    assert "'=HYPERLINK(1)" in header and ",=" not in header


# -- work silently not done -------------------------------------------------------------------


def test_a_run_with_no_gradable_page_fails_and_says_so(builds, tmp_path) -> None:
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "truth.csv").write_text("file,page\n", encoding="utf-8")
    result = grade(builds[0], tmp_path / "scans", tmp_path / "results")
    assert result.exit_code == ExitCode.input_file
    assert "没有任何可评阅的扫描页" in result.output


def test_an_error_belongs_to_a_version_of_a_file(builds, tmp_path) -> None:
    """A truncated file is an error; once the file is fixed the error is history, not open forever."""
    exam = builds[0]
    good = cv2.imencode(".jpg", sheet_image(exam, "2026990061"), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "s.jpg").write_bytes(good[: len(good) // 2])
    first = grade(exam, scans, tmp_path / "results")
    assert first.exit_code == ExitCode.graded_with_errors and "不完整" in first.output
    (scans / "s.jpg").write_bytes(good)
    fixed = grade(exam, scans, tmp_path / "results")
    assert fixed.exit_code == ExitCode.ok, fixed.output
    assert "无法读取 0 个" in fixed.output
    report = run_cli(["report", tmp_path / "results", "-o", tmp_path / "report.xlsx"])
    assert "待复核 0 项" in report.output
    db = sqlite3.connect(tmp_path / "results" / "results.sqlite")
    assert db.execute("SELECT status FROM history").fetchall() == [("error",)]
    db.close()


def test_a_page_that_failed_is_read_again_on_the_next_run(builds, tmp_path) -> None:
    exam = builds[0]
    save(sheet_image(exam, "2026990062"), tmp_path / "scans" / "s.jpg")
    tight = run_cli(
        ["grade", exam / "exam.json", tmp_path / "scans", "-o", tmp_path / "results", "--workers", "1"],
    )
    assert tight.exit_code == ExitCode.ok
    from tests.matrix import run_cli as invoke

    limited = invoke(["grade", exam / "exam.json", tmp_path / "scans", "-o", tmp_path / "r2", "--workers", "1"],
                     env={"PAPERGEN_MAX_PIXELS_MP": "1"})
    assert limited.exit_code == ExitCode.graded_with_errors
    again = invoke(["grade", exam / "exam.json", tmp_path / "scans", "-o", tmp_path / "r2", "--workers", "1"])
    assert again.exit_code == ExitCode.ok, again.output
    assert [r["student_id"] for r in results_json(tmp_path / "r2")] == ["2026990062"]


def test_an_all_blank_sheet_is_flagged_unless_marked_absent(builds, tmp_path) -> None:
    exam = builds[0]
    save(sheet_image(exam, "2026990071", answers={}), tmp_path / "scans" / "blank.jpg")
    save(sheet_image(exam, "2026990072", answers={}, absent=True, variant=None), tmp_path / "scans" / "absent.jpg")
    result = grade(exam, tmp_path / "scans", tmp_path / "results")
    assert result.exit_code == ExitCode.graded_with_review
    rows = {r["student_id"]: r for r in results_json(tmp_path / "results")}
    assert rows["2026990071"]["status"] == "待复核" and any("空白答题卡" in f for f in rows["2026990071"]["flags"])
    assert rows["2026990072"]["status"] == "缺考" and rows["2026990072"]["total"] is None
    table = run_cli(["results", tmp_path / "results"]).output
    line = next(line for line in table.splitlines() if line.startswith("2026990072"))
    assert line.split() == ["2026990072", "缺考", "缺考"]  # no variant; status and 总分: 缺考, not 0


def test_report_shows_absent_as_absent_and_out_of_every_average(builds, tmp_path) -> None:
    from openpyxl import load_workbook

    exam = builds[0]
    save(sheet_image(exam, "2026990081"), tmp_path / "scans" / "a.jpg")
    save(sheet_image(exam, "2026990082", answers={}, absent=True, variant=None), tmp_path / "scans" / "b.jpg")
    grade(exam, tmp_path / "scans", tmp_path / "results")
    assert run_cli(["report", tmp_path / "results", "-o", tmp_path / "r.xlsx"]).exit_code == 0
    book = load_workbook(tmp_path / "r.xlsx")
    rows = {r[1]: r for r in book["成绩"].iter_rows(min_row=2, values_only=True)}
    assert rows["2026990082"][5:8] == ("缺考", "缺考", None)
    absent_row = next(r for r in book["成绩"].iter_rows(min_row=2) if r[1].value == "2026990082")
    assert all(cell.fill.fgColor.rgb in (None, "00000000") for cell in absent_row[8:])  # no "under review" yellow
    full = read_manifest(exam / "exam.json").total_points
    stats = {r[0]: r[1] for r in book["分数分布"].iter_rows(min_row=2, values_only=True) if r[0]}
    assert stats["人数"] == 1 and stats["平均分"] == full


# -- personalised sheets are complete sheets --------------------------------------------------


def test_every_personal_sheet_page_carries_every_label_of_the_blank_sheet(tmp_path) -> None:
    import pypdfium2

    exam = build_exam(ROOT / "tests" / "fixtures" / "exam" / "matrix.yaml", tmp_path / "exam").outdir  # a two-page sheet
    roster = tmp_path / "名单.csv"
    roster.write_text("准考证号,姓名,班级,座位号\n" + "".join(f"20260300{k:02d},考生{k},一班,{k}\n" for k in range(1, 6)),
                      encoding="utf-8")
    result = run_cli(["sheets", exam / "exam.json", "--roster", roster, "-o", tmp_path / "sheets.pdf"])
    assert result.exit_code == 0, result.output

    def page_texts(path: Path) -> list[str]:
        pdf = pypdfium2.PdfDocument(str(path))
        try:
            return [page.get_textpage().get_text_range() for page in pdf]
        finally:
            pdf.close()

    blank = page_texts(exam / "sheet.pdf")
    personal = page_texts(tmp_path / "sheets.pdf")
    assert len(personal) == 5 * len(blank) and len(blank) == 2
    labels = [
        "测试用小卷", "答题卡", "姓名", "班级", "考场号", "座位号", "准考证号", "试卷类型", "监考员填涂（考生禁填）", "缺考", "违纪",
        "条形码粘贴区", "正确填涂", "错误填涂", "注意事项", "组卷指纹",
    ]
    assert all(label in blank[0] for label in labels)
    for k, text in enumerate(personal):
        missing = [label for label in labels if label not in text]
        assert not missing, f"personal sheet page {k + 1} lacks {missing}"
        assert f"考生{k // 2 + 1}" in text and f"第 {k % 2 + 1} 页 / 共 2 页" in text


def test_reports_from_an_interrupted_grading_say_they_are_incomplete(builds, tmp_path) -> None:
    exam = builds[0]
    save(sheet_image(exam, "2026990091"), tmp_path / "scans" / "a.jpg")
    assert grade(exam, tmp_path / "scans", tmp_path / "results").exit_code == ExitCode.ok
    assert "没有评完" not in run_cli(["results", tmp_path / "results"]).output
    db = sqlite3.connect(tmp_path / "results" / "results.sqlite")
    with db:  # what a Ctrl-C in the middle of `grade` leaves (tests/test_interrupt.py sends the real signal)
        db.execute("UPDATE meta SET value = 'unfinished' WHERE key = 'grading'")
    db.close()
    assert "上次评阅被中断，没有评完" in run_cli(["results", tmp_path / "results"]).output
    report = run_cli(["report", tmp_path / "results", "-o", tmp_path / "r.xlsx"])
    assert report.exit_code == 0 and "没有评完" in report.output
    # finishing the run clears it
    assert grade(exam, tmp_path / "scans", tmp_path / "results").exit_code == ExitCode.ok
    assert "没有评完" not in run_cli(["results", tmp_path / "results"]).output
