"""``papergen feedback``: per-student PDFs from a simulated, graded exam, read back with pdfium."""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import shutil
import sqlite3
import unicodedata
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner

from papergen.bank.model import LETTERS
from papergen.cli import cli
from papergen.core.errors import ExitCode, InputFileError
from papergen.grade.pipeline import grade
from papergen.render.build import build_exam
from papergen.render.cjk import CANNOT_END, CANNOT_START
from papergen.report import feedback as report_feedback
from papergen.report.data import STATUS_ABSENT, STATUS_REVIEW, load_exam_results
from papergen.report.feedback import (
    display_letters,
    rank_text,
    student_topic_rates,
    write_feedback,
)
from papergen.report.filenames import UNSAFE_FILENAME_CHARS, safe_filename
from papergen.sim.run import simulate
from tests.conftest import ROOT

BLUEPRINT = ROOT / "blueprints" / "2026-mock-03.yaml"
BANK = ROOT / "banks" / "xinjiuye-dangjian.yaml"
SHEETS = 12
#: Roster names, by position; the hostile ones must neither escape the output
#: folder nor break the PDF markup.
NAMES = ["张三", "../../evil", "a/b", "=cmd", "<b>粗</b> & 王", "李四", "王五", "赵六", "孙七", "周八", "吴九",
         "郑十", "钱十三"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """An exam built from a private copy of the bank, 12 simulated sheets, graded, and a roster."""
    root = tmp_path_factory.mktemp("feedback")
    (root / "banks").mkdir()
    shutil.copy(BANK, root / "banks" / BANK.name)
    blueprint = BLUEPRINT.read_text(encoding="utf-8").replace("../banks/", "banks/")
    (root / "blueprint.yaml").write_text(blueprint, encoding="utf-8")
    build_exam(root / "blueprint.yaml", root / "exam")
    simulate(root / "exam" / "exam.json", SHEETS, root / "scans", seed=5, degrade="none", dpi=150, absent=1,
             duplicate_ids=1, doubtful_rate=0.02)
    grade(root / "exam" / "exam.json", [root / "scans"], root / "results", workers=1)
    # One more student on the roster than sheets: 2026030013 has no sheet at all.
    lines = ["准考证号,姓名,班级,座位号"]
    for k, name in enumerate(NAMES, start=1):
        klass = "" if k == 7 else ("一班" if k % 2 else "二班")  # one student without a class
        lines.append(f'{2026030000 + k},"{name}",{klass},{k}')
    (root / "roster.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def results(graded):
    return load_exam_results(graded / "results", graded / "roster.csv")


@pytest.fixture(scope="module")
def written(graded, results):
    return write_feedback(results, graded / "feedback")


def pdf_text(path: Path) -> str:
    pdf = pdfium.PdfDocument(str(path))
    try:
        parts = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            parts.append(textpage.get_text_range())
            textpage.close()
            page.close()
    finally:
        pdf.close()
    # pdfium gives \r\n line ends and &nbsp; as U+00A0: compare on plain spaces.
    return unicodedata.normalize("NFKC", "\n".join(parts)).replace("\r", "")


def squeeze(text: str) -> str:
    """NFKC, without any white space: line breaks inside wrapped options vanish."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def points_text(value: float) -> str:
    return f"{round(value, 2):g}"


def sitting_ids(results) -> list[str]:
    """准考证号 that should get a PDF: a sheet, not absent, a known variant, an id on one sheet only."""
    counts: dict[str, int] = {}
    for s in results.students:
        if s.has_sheet:
            counts[s.student_id] = counts.get(s.student_id, 0) + 1
    return [
        s.student_id for s in results.students
        if s.has_sheet and s.status != STATUS_ABSENT and s.variant and counts[s.student_id] == 1
    ]


# -- which students get a PDF ---------------------------------------------------


def test_one_pdf_per_student_who_sat(graded, results, written) -> None:
    expected = {safe_filename(sid, next(s.name for s in results.students if s.student_id == sid))
                for sid in sitting_ids(results)}
    assert {p.name for p in written.files} == expected
    assert {p.name for p in (graded / "feedback").iterdir()} == expected  # no temp files, nothing else
    assert len(expected) >= SHEETS - 4  # the simulation really produced gradable sheets
    absent = [s.student_id for s in results.students if s.status == STATUS_ABSENT]
    assert absent, "the simulation should contain an absent sheet"
    for sid in absent + ["2026030013"]:  # absent, and on the roster without a sheet
        assert not any(p.name.startswith(sid) for p in written.files)
        assert any(line.startswith(sid) for line in written.skipped)


def test_hostile_names_stay_inside_the_output_folder(graded, written) -> None:
    outdir = (graded / "feedback").resolve()
    for path in written.files:
        assert path.resolve().parent == outdir
    assert {p.name for p in written.files} >= {"2026030002-evil.pdf", "2026030003-a_b.pdf", "2026030004-=cmd.pdf"}
    for folder in (graded, graded.parent, graded.parent.parent):
        assert not any("evil" in p.name for p in folder.iterdir())


def test_each_pdf_names_the_student_and_their_total(results, written) -> None:
    full = sum(q.points for q in results.questions)
    by_name = {p.name: p for p in written.files}
    checked = 0
    for s in results.students:
        path = by_name.get(safe_filename(s.student_id, s.name))
        if path is None:
            continue
        text = pdf_text(path)
        assert s.student_id in text
        assert unicodedata.normalize("NFKC", s.name) in text  # hostile names printed as written, not as markup
        assert re.search(rf"{re.escape(points_text(s.total))}\s*/\s*{points_text(full)}\s*分", text)
        assert ("暂定" in text) == bool(s.flags or np.isnan(results.scores[results.students.index(s)]).any())
        checked += 1
    assert checked == len(written.files)


def test_review_students_are_told_their_total_is_provisional(results, written) -> None:
    row = next((i for i, s in enumerate(results.students) if s.status == STATUS_REVIEW and s.in_stats and s.flags), None)
    if row is None:
        pytest.skip("no sheet with review items in this simulation")
    s = results.students[row]
    text = pdf_text(next(p for p in written.files if p.name == safe_filename(s.student_id, s.name)))
    assert "暂定" in text
    for message in s.flags:
        assert unicodedata.normalize("NFKC", message) in text


# -- wrong answers, in the student's own lettering --------------------------------


def store_misses(graded: Path, student_id: str) -> dict[int, tuple[str, float, str]]:
    """From the store itself: printed number → (letters as marked, score, question id) for every lost point."""
    db = sqlite3.connect(graded / "results" / "results.sqlite")
    try:
        rows = db.execute(
            "SELECT m.number, m.letters, m.score, m.question_id FROM marks m JOIN pages p USING (file_hash, page) "
            "WHERE p.student_id = ? AND m.score IS NOT NULL AND m.question_id IS NOT NULL",
            (student_id,),
        ).fetchall()
    finally:
        db.close()
    return {number: (letters, score, qid) for number, letters, score, qid in rows}


def test_every_wrong_question_appears_with_the_key_in_the_variants_letters(graded, results, written) -> None:
    manifest = results.manifest
    candidates = [i for i, s in enumerate(results.students)
                  if s.student_id in sitting_ids(results) and s.variant not in (None, "A")]
    row = candidates[0]
    student = results.students[row]
    variant = manifest.variant(student.variant)
    items = {item.number: item for item in variant.items}
    expected = {}
    for number, (letters, score, qid) in store_misses(graded, student.student_id).items():
        if score < manifest.questions[qid].points:
            expected[number] = (letters or "未作答", items[number].key)
    assert expected, "the simulated student should have lost some points"
    # The variant really reletters the options, so this checks the mapping.
    assert any(items[n].key != manifest.questions[items[n].id].answer for n in expected)

    text = pdf_text(next(p for p in written.files if p.name == safe_filename(student.student_id, student.name)))
    heads = list(re.finditer(r"第 (\d+) 题[(（](单选|多选)[)）]", text))
    assert sorted(int(m.group(1)) for m in heads) == sorted(expected)
    for k, match in enumerate(heads):
        block = text[match.start(): heads[k + 1].start() if k + 1 < len(heads) else len(text)]
        chosen, key = expected[int(match.group(1))]
        assert re.search(rf"你的答案:\s*{chosen}\s", block), block
        assert re.search(rf"正确答案:\s*{key}\s", block), block


def test_options_are_printed_in_the_variants_order(graded, results, written) -> None:
    from papergen.bank.files import load_banks

    bank = {q.id: q for b in load_banks([graded / "banks" / BANK.name]) for q in b.questions}
    row = next(i for i, s in enumerate(results.students) if s.student_id in sitting_ids(results) and s.variant != "A")
    student = results.students[row]
    items = {item.id: item for item in results.manifest.variant(student.variant).items}
    text = pdf_text(next(p for p in written.files if p.name == safe_filename(student.student_id, student.name)))
    text = squeeze(text)
    shown = 0
    for c, q in enumerate(results.questions):
        score = results.scores[row, c]
        if math.isnan(score) or score >= q.points:
            continue
        item = items[q.id]
        options = [bank[q.id].options[i].text for i in item.permutation]
        printed = "".join(f"{LETTERS[i]}.{squeeze(t)}" for i, t in enumerate(options))
        assert printed in text
        shown += 1
    assert shown


# -- topics and rank ------------------------------------------------------------------


def test_topic_rates_compare_the_student_with_their_class(results) -> None:
    row = next(i for i, s in enumerate(results.students) if s.in_stats and s.klass)
    rates = student_topic_rates(results, row)
    assert rates and all(r.level in (1, 2) for r in rates)
    tops = [r.topic for r in rates if r.level == 1]
    assert len(tops) == len(set(tops))
    for k, r in enumerate(rates):  # a second-level topic follows its parent
        if r.level == 2:
            parent = r.topic.split("/")[0]
            assert any(p.topic == parent for p in rates[:k])
    klass = results.students[row].klass
    group = results.stats_rows & np.array([s.klass == klass for s in results.students])
    for r in rates:
        columns = [c for c, q in enumerate(results.questions) if q.topic == r.topic or q.topic.startswith(r.topic + "/")]
        assert r.questions == len(columns)
        mine = results.scores[row, columns]
        if np.isnan(mine).all():
            assert math.isnan(r.student)
        else:
            possible = results.max_points[columns][~np.isnan(mine)].sum()
            assert r.student == pytest.approx(np.nansum(mine) / possible)
        block = results.scores[np.ix_(group, columns)]
        scored = ~np.isnan(block)
        assert r.group == pytest.approx(np.nansum(block) / (scored * results.max_points[columns]).sum())


def test_without_a_class_the_student_is_compared_with_everyone(results) -> None:
    row = next(i for i, s in enumerate(results.students) if s.in_stats and not s.klass)
    overall = {r.topic: r.group for r in student_topic_rates(results, row)}
    some_other = next(i for i, s in enumerate(results.students) if s.in_stats and s.klass)
    by_class = {r.topic: r.group for r in student_topic_rates(results, some_other)}
    assert overall != by_class  # not the class figures


def test_ties_share_a_rank(results) -> None:
    tied = copy.deepcopy(results)
    rows = [i for i, s in enumerate(tied.students) if s.in_stats][:2]
    top = max(s.total for s in tied.students if s.in_stats)
    for i in rows:
        tied.students[i].total = top
    n = int(tied.stats_rows.sum())
    assert rank_text(tied, rows[0]) == rank_text(tied, rows[1]) == f"第 1 名 / 共 {n} 人"


# -- determinism, CLI ---------------------------------------------------


def test_rerunning_gives_identical_files(graded, results, written) -> None:
    before = {p.name: p.read_bytes() for p in written.files}
    again = write_feedback(results, graded / "feedback")
    assert {p.name: p.read_bytes() for p in again.files} == before


def test_worker_processes_write_the_same_files(graded, results, written, monkeypatch) -> None:
    from papergen.report import feedback

    monkeypatch.setattr(feedback, "PARALLEL_FROM", 2)  # the decision is the parent's: 11 PDFs go to workers
    parallel = write_feedback(results, graded / "feedback-parallel", workers=2)
    assert [p.name for p in parallel.files] == [p.name for p in written.files]
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(parallel.files, written.files))


def test_a_worker_job_carries_one_student_and_no_one_else(graded, results, written) -> None:
    """What goes to a worker per PDF is that student's row and the cohort figures it shows, not the results."""
    import pickle

    from papergen.report import feedback

    rows = [row for row, s in enumerate(results.students) if feedback.skip_reason(results, row) is None]
    jobs = list(feedback._feedback_jobs(results, rows, ()))
    for job, row in zip(jobs, rows):
        data = pickle.dumps(job)
        others = {s.student_id for k, s in enumerate(results.students) if k != row and s.student_id}
        assert not any(other.encode() in data for other in others if other != job.student.student_id)
        assert len(data) < 20_000
    # a job's PDF is the one laid out from the whole results (``written``: a job each, in this process)
    written_bytes = {p.name: p.read_bytes() for p in written.files}
    context = feedback._FeedbackContext(feedback._without_students(results), feedback.exam_questions(results.manifest), False)
    pdf, _ = feedback._feedback_job(jobs[0], context)
    whole = feedback.feedback_pdf(results, rows[0], context.printed(results.students[rows[0]].variant))
    assert pdf == whole
    assert pdf in written_bytes.values()


def test_cli_writes_the_folder(graded) -> None:
    result = CliRunner().invoke(
        cli, ["feedback", str(graded / "results"), "-o", str(graded / "cli"), "--roster", str(graded / "roster.csv")]
    )
    assert result.exit_code == 0, result.output
    assert "份成绩反馈" in result.output and "缺考" in result.output
    assert len(list((graded / "cli").glob("*.pdf"))) == int(result.output.split(" 份")[0])


# -- 错题本 in paper order, page numbers, rank only on request ------------------------


def pdf_pages(path: Path) -> list[str]:
    pdf = pdfium.PdfDocument(str(path))
    try:
        return [unicodedata.normalize("NFKC", page.get_textpage().get_text_range()).replace("\r", "") for page in pdf]
    finally:
        pdf.close()


def test_wrong_questions_follow_the_students_paper(written) -> None:
    for path in written.files:
        text = pdf_text(path)
        numbers = [int(n) for n in re.findall(r"第 (\d+) 题[(（](?:单选|多选)[)）]", text)]
        assert numbers == sorted(numbers), (path.name, numbers)
        assert len(set(numbers)) == len(numbers)
        assert f"错题本(按试卷题号顺序,共 {len(numbers)} 题)" in text, path.name


def test_pages_are_numbered_with_their_total(written) -> None:
    multi = 0
    for path in written.files:
        texts = pdf_pages(path)
        multi += len(texts) > 1
        for number, text in enumerate(texts, start=1):
            assert f"第{number}页/共{len(texts)}页" in squeeze(text), (path.name, number)
    assert multi, "some feedback should run over a page"


def test_feedback_lines_follow_chinese_line_breaking_and_stay_in_the_frame(written) -> None:
    left = report_feedback.MARGIN_SIDE - 0.5
    right = report_feedback.PAGE_WIDTH - report_feedback.MARGIN_SIDE + 0.5
    for path in written.files[:4]:
        pdf = pdfium.PdfDocument(str(path))
        try:
            for page in pdf:
                textpage = page.get_textpage()
                for line in textpage.get_text_range().splitlines():
                    if line.strip():
                        assert line.strip()[0] not in CANNOT_START and line.strip()[-1] not in CANNOT_END, line
                for i in range(textpage.count_chars()):
                    x0, _, x1, _ = textpage.get_charbox(i)
                    if x1 > x0 and not textpage.get_text_range(i, 1).isspace():
                        assert left <= x0 and x1 <= right, (path.name, textpage.get_text_range(i, 1), x0, x1)
        finally:
            pdf.close()


def test_no_rank_unless_asked(graded, results, written) -> None:
    for path in written.files:
        assert not re.search(r"第\s*\d+\s*名", pdf_text(path)), path.name  # the default: no ranking anxiety
    ranked = write_feedback(results, graded / "feedback-ranked", show_rank=True)
    rows = {safe_filename(s.student_id, s.name): i for i, s in enumerate(results.students)}
    for path in ranked.files:
        assert squeeze(rank_text(results, rows[path.name])) in squeeze(pdf_text(path)), path.name


def test_cli_rank_option(graded) -> None:
    base = ["feedback", str(graded / "results"), "--roster", str(graded / "roster.csv")]
    plain = CliRunner().invoke(cli, [*base, "-o", str(graded / "cli-plain")])
    ranked = CliRunner().invoke(cli, [*base, "-o", str(graded / "cli-ranked"), "--rank"])
    assert plain.exit_code == 0 and ranked.exit_code == 0, plain.output + ranked.output
    some = sorted((graded / "cli-ranked").glob("*.pdf"))[0]
    assert re.search(r"第\s*\d+\s*名", pdf_text(some))
    assert not re.search(r"第\s*\d+\s*名", pdf_text(graded / "cli-plain" / some.name))


# -- banks changed since the build --------------------------------------------------


def with_banks(results, banks):
    return dataclasses.replace(results, manifest=dataclasses.replace(results.manifest, banks=banks))


def test_changed_bank_is_refused(tmp_path, results) -> None:
    banks = [dict(b, sha256="0" * 64) for b in results.manifest.banks]
    with pytest.raises(InputFileError) as caught:
        write_feedback(with_banks(results, banks), tmp_path / "out")
    assert banks[0]["file"] in str(caught.value) and "修改" in caught.value.message
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_missing_bank_is_refused(tmp_path, results) -> None:
    banks = [dict(b, file=str(tmp_path / "gone.yaml")) for b in results.manifest.banks]
    with pytest.raises(InputFileError) as caught:
        write_feedback(with_banks(results, banks), tmp_path / "out")
    assert "gone.yaml" in str(caught.value)


def test_cli_reports_an_edited_bank_with_the_input_exit_code(graded) -> None:
    bank = graded / "banks" / BANK.name
    original = bank.read_bytes()
    try:
        bank.write_bytes(original + b"\n# edited after the exam\n")
        result = CliRunner().invoke(cli, ["feedback", str(graded / "results"), "-o", str(graded / "cli-edited")])
    finally:
        bank.write_bytes(original)
    assert result.exit_code == ExitCode.input_file
    assert "组卷之后被修改" in result.output and BANK.name in result.output


# -- pure helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["../../evil", "a/b", "=cmd", "..", "a\\b", "x\x00y", "名字\n\t", '<>:"|?*', "／．．／etc", "C:\\Windows",
     "..\\..\\x", " . ", "\u202etxt.exe", "a" * 300, "CON", "-rf"],
)
def test_safe_filename_is_one_harmless_name(tmp_path, name: str) -> None:
    result = safe_filename("2026030001", name)
    assert result.startswith("2026030001") and result.endswith(".pdf")
    assert ".." not in result
    assert not any(ch in UNSAFE_FILENAME_CHARS for ch in result)
    assert not any(unicodedata.category(ch)[0] == "C" for ch in result)
    assert len(result.encode("utf-8")) < 200
    assert (tmp_path / result).resolve().parent == tmp_path.resolve()
    (tmp_path / result).write_bytes(b"")  # a name the file system accepts


@pytest.mark.parametrize(
    "name, expected",
    [
        ("张三", "2026030001-张三.pdf"),
        ("../../evil", "2026030001-evil.pdf"),
        ("a/b", "2026030001-a_b.pdf"),
        ("=cmd", "2026030001-=cmd.pdf"),
        ("欧阳 娜娜", "2026030001-欧阳 娜娜.pdf"),
        ("..", "2026030001.pdf"),
        ("/", "2026030001.pdf"),
        ("", "2026030001.pdf"),
        ("\x00\x1f", "2026030001.pdf"),
    ],
)
def test_safe_filename_examples(name: str, expected: str) -> None:
    assert safe_filename("2026030001", name) == expected


def test_safe_filename_cleans_the_id_too() -> None:
    assert safe_filename("../1", "") == "1.pdf"
    assert safe_filename("", "") == "未知考号.pdf"


@pytest.mark.parametrize(
    "bank_letters, permutation, expected",
    [
        ("A", (0, 1, 2, 3), "A"),
        ("A", (3, 2, 1, 0), "D"),
        ("AC", (2, 0, 1, 3), "AB"),  # display A shows bank C, display B shows bank A
        ("BD", (1, 3, 0, 2), "AB"),
        ("", (1, 0), ""),
        ("ABCDE", (4, 3, 2, 1, 0), "ABCDE"),
    ],
)
def test_display_letters(bank_letters: str, permutation: tuple[int, ...], expected: str) -> None:
    assert display_letters(bank_letters, permutation) == expected
