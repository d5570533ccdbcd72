"""The 审计 sheet lists every decision (in force, undone, re-opened by a rescan) and every key change; results,
report.xlsx and feedback say how many answers were settled by hand."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from papergen.cli import cli
from papergen.exam.manifest import manifest_text, read_manifest
from papergen.grade import settle
from papergen.grade.store import deciding_store, open_store, undo_override
from papergen.report.data import load_exam_results
from papergen.report.feedback import by_hand_text, write_feedback
from papergen.report.workbook import write_report
from papergen.sim.graded import (
    SyntheticSheet,
    answering_cohort,
    sheet_record,
    write_graded_store,
)
from tests.xlsx_pages import pages_per_sheet, soffice


@pytest.fixture
def decided(small_exam, tmp_path, monkeypatch) -> tuple[Path, dict]:
    """40 synthetic sheets with three doubtful marks: one settled, one settled then undone, one settled and then
    re-opened by a rescan that reads it differently; and a corrected key."""
    monkeypatch.chdir(tmp_path)  # the synthetic scans' relative paths resolve here
    manifest = read_manifest(small_exam / "exam.json")
    sheets = answering_cohort(manifest, 40, seed=5)
    doubtful = {0: 2, 1: 3, 2: 4}  # sheet index → its doubtful question number
    sheets = [dataclasses.replace(s, doubtful=frozenset({doubtful[k]})) if k in doubtful else s for k, s in enumerate(sheets)]
    results = tmp_path / "results"
    write_graded_store(results, manifest, sheets)
    ids = {}
    with deciding_store(results) as db:
        queue = {(item.student_id, item.number): item for item in settle.review_queue(db, manifest) if item.kind == "mark"}
        for k, number in doubtful.items():
            ids[k] = settle.decide(db, manifest, queue[(sheets[k].student_id, number)], grader="张老师", field="answer",
                                   new="B", reason=f"第 {k} 张")
        undo_override(db, ids[1], "李老师")
        question = manifest.variant("A").items[0].id
        settle.rekey(db, manifest, question, action="void-full", grader="王老师", reason="题目有歧义")
    rescanned = sheets[2]
    record = sheet_record(SyntheticSheet(rescanned.student_id, rescanned.variant, {**rescanned.answers, 4: "C"}), manifest)
    with open_store(results, manifest_text(manifest), manifest.exam) as store:
        store.record_ingest([(record.path, "rescan-2", "jpeg", 1)], [], [record.path])
        store.write_page([dataclasses.replace(record, file_hash="rescan-2")])
        store.refresh_sheet_flags()
    return results, {"sheets": sheets, "question": question, "manifest": manifest}


def test_the_audit_sheet_lists_every_decision_with_its_state(decided, tmp_path):
    results_dir, facts = decided
    results = load_exam_results(results_dir)
    write_report(results, tmp_path / "report.xlsx")
    book = load_workbook(tmp_path / "report.xlsx")
    sheet = book["审计"]
    header = [c.value for c in sheet[1]]
    assert header == ["时间（UTC）", "阅卷人", "位置", "题号", "题目编号", "准考证号", "判定内容", "原值", "新值", "原因", "状态"]
    rows = [dict(zip(header, r)) for r in sheet.iter_rows(min_row=2, values_only=True)]
    by_reason = {r["原因"].split("（")[0]: r for r in rows}
    sheets = facts["sheets"]
    assert by_reason["第 0 张"]["状态"] == "有效" and by_reason["第 0 张"]["新值"] == "B"
    assert by_reason["第 0 张"]["原值"] == "未能判读"  # the machine's reading the decision was taken on
    assert by_reason["第 0 张"]["准考证号"] == sheets[0].student_id and by_reason["第 0 张"]["题号"] == f"{sheets[0].variant}2"
    assert by_reason["第 0 张"]["判定内容"] == "作答" and "synthetic" in by_reason["第 0 张"]["位置"]
    item = facts["manifest"].variant(sheets[0].variant).items[1]
    assert by_reason["第 0 张"]["题目编号"] == item.id
    assert by_reason["第 1 张"]["状态"] == "已撤销"
    assert by_reason["第 2 张"]["状态"] == "重新扫描后待复核"
    key = by_reason["题目有歧义"]
    assert (key["阅卷人"], key["题目编号"], key["判定内容"], key["准考证号"], key["状态"]) == (
        "王老师", facts["question"], "作废（全体得分）", "（全体）", "有效")
    assert "A1" in key["题号"]
    assert len(rows) == 4
    assert int(sheet.page_setup.paperSize) == int(sheet.PAPERSIZE_A4) and sheet.print_title_rows == "$1:$1"
    # 成绩: one answer settled by hand (the undone one and the re-opened one do not count)
    scores = book["成绩"]
    score_header = [c.value for c in scores[1]]
    by_hand = score_header.index("人工判定")
    hand = {r[score_header.index("准考证号")]: r[by_hand] for r in scores.iter_rows(min_row=2, values_only=True)}
    assert hand[sheets[0].student_id] == 1 and hand[sheets[1].student_id] is None and hand[sheets[2].student_id] is None


def test_results_and_feedback_say_how_many_answers_were_settled_by_hand(decided, tmp_path):
    results_dir, facts = decided
    table = CliRunner().invoke(cli, ["results", str(results_dir)])
    assert table.exit_code == 0, table.output
    assert table.output.rstrip().splitlines()[-1] == "人工判定 1 处（1 名考生）"
    csv = CliRunner().invoke(cli, ["results", str(results_dir), "--format", "csv"]).output
    assert "人工判定 1 处" not in csv  # scripts get clean CSV
    results = load_exam_results(results_dir)
    first = facts["sheets"][0].student_id
    row = next(i for i, s in enumerate(results.students) if s.student_id == first)
    assert results.students[row].by_hand == 1
    out = write_feedback(results, tmp_path / "feedback", workers=1)
    pdf = next(p for p in out.files if p.name.startswith(first))
    document = pdfium.PdfDocument(str(pdf))
    text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    document.close()
    assert by_hand_text(1) in text.replace("\r\n", "").replace("\n", "")
    other = next(p for p in out.files if p.name.startswith(facts["sheets"][5].student_id))
    document = pdfium.PdfDocument(str(other))
    assert "人工核定" not in "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    document.close()


@pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_the_audit_sheet_prints_on_one_page_with_every_column(decided, tmp_path):
    results_dir, _ = decided
    write_report(load_exam_results(results_dir), tmp_path / "report.xlsx")
    pages = pages_per_sheet(tmp_path / "report.xlsx", tmp_path / "pdf")["审计"]
    assert len(pages) == 1
    text = pages[0].replace(" ", "")
    assert "状态" in text and "重新扫描后待复核" in text and "题目有歧义" in text and "作废（全体得分）" in text
