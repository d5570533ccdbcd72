"""The answer sheet as printed: it uses the page, labels its sections, and no text sits on a box.

Checked without eyes on the PDF itself (pypdfium2's text and character
boxes) against the geometry the grader reads from exam.json.
"""

from __future__ import annotations

from pathlib import Path

import pypdfium2
import pytest
import yaml

from papergen.exam.manifest import read_manifest
from papergen.render.sheet import Personal, render_sheets
from papergen.sheet.layout import SheetGeometry, compute_geometry, load_layout
from tests.conftest import ROOT

SAMPLE = ROOT / "scans" / "2026-mock-03"  # the sample exam, built by the current papergen
HEADER_LABELS = [
    "答题卡", "姓名", "班级", "考场号", "座位号", "准考证号", "试卷类型", "监考员填涂（考生禁填）", "缺考", "违纪",
    "条形码粘贴区", "正确填涂", "错误填涂", "注意事项",
]
PT_PER_MM = 72 / 25.4


def page_chars(pdf_path: Path, geometry: SheetGeometry) -> list[list[tuple[str, tuple[float, float, float, float]]]]:
    """Every printed character of every page with its box in frame millimetres ``(x, y, w, h)``, y downward."""
    pages = []
    pdf = pypdfium2.PdfDocument(str(pdf_path))
    try:
        for page in pdf:
            height = page.get_height()
            text = page.get_textpage()
            chars = []
            for i in range(text.count_chars()):
                char = text.get_text_range(i, 1)
                if not char.strip():
                    continue
                left, bottom, right, top = text.get_charbox(i)
                x = left / PT_PER_MM - geometry.origin[0]
                y = (height - top) / PT_PER_MM - geometry.origin[1]
                chars.append((char, (x, y, (right - left) / PT_PER_MM, (top - bottom) / PT_PER_MM)))
            pages.append(chars)
    finally:
        pdf.close()
    return pages


def page_text(pdf_path: Path) -> list[str]:
    pdf = pypdfium2.PdfDocument(str(pdf_path))
    try:
        return [page.get_textpage().get_text_range() for page in pdf]
    finally:
        pdf.close()


def drawn_boxes(geometry: SheetGeometry, page: int) -> list[tuple[float, float, float, float]]:
    """Every rectangle drawn on ``page``: the measured boxes and the write-in, barcode and invigilator frames."""
    header = geometry.header
    rects = list(geometry.box_table(page).rects) + [header.qr, header.name_box, header.class_box, *header.id_write_in]
    rects += [r for r in (header.room_box, header.seat_box, header.barcode, header.invigilator) if r is not None]
    return rects


def _inside(inner, outer, slack: float = 0.3) -> bool:
    x, y, w, h = inner
    ox, oy, ow, oh = outer
    return ox - slack <= x and x + w <= ox + ow + slack and oy - slack <= y and y + h <= oy + oh + slack


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def assert_no_text_on_a_box(pdf_path: Path, geometry: SheetGeometry) -> None:
    """Each character is inside a box (its own letter, or text written in a frame) or clear of every box."""
    for page, chars in enumerate(page_chars(pdf_path, geometry), start=1):
        boxes = drawn_boxes(geometry, page)
        frames = [r for r in boxes if r[2] > 20]  # the barcode area, the invigilator frame, the write-in boxes
        for char, rect in chars:
            holders = [b for b in boxes if _inside(rect, b)]
            crossed = [b for b in boxes if _overlap(rect, b) and not _inside(rect, b) and not _inside(b, rect)]
            # a character inside a frame may not touch a box within it (the 缺考 label beside its box)
            crossed += [b for b in boxes if b not in frames and _overlap(rect, b) and any(_inside(rect, f) for f in holders if f in frames)]
            assert not crossed, f"page {page}: {char!r} at {rect} crosses {crossed[:2]}"


def test_the_sample_sheet_prints_every_label_and_its_section_labels() -> None:
    manifest = read_manifest(SAMPLE / "exam.json")
    (text,) = page_text(SAMPLE / "sheet.pdf")
    missing = [label for label in HEADER_LABELS + [manifest.title] if label not in text]
    assert not missing
    assert "一、单项选择题（第 1–30 题）" in text and "二、多项选择题（第 31–45 题）" in text
    sections = [label for label in manifest.sheet.labels if label["kind"] == "section"]
    assert [label["text"] for label in sections] == ["一、单项选择题（第 1–30 题）", "二、多项选择题（第 31–45 题）"]


def test_no_text_on_the_sample_sheet_sits_on_a_box() -> None:
    assert_no_text_on_a_box(SAMPLE / "sheet.pdf", read_manifest(SAMPLE / "exam.json").sheet)


def test_each_section_label_stands_above_its_own_blocks() -> None:
    geometry = read_manifest(SAMPLE / "exam.json").sheet
    for label in (label for label in geometry.labels if label["kind"] == "section"):
        mine = [q for q in geometry.questions if q.section == label["section"] and q.page == label["page"]]
        others_above = [q for q in geometry.questions if q.section < label["section"] and q.page == label["page"]]
        assert label["y"] < min(q.boxes[0][1] for q in mine) < label["y"] + 8
        assert all(q.boxes[0][1] + q.boxes[0][3] < label["y"] - 3 for q in others_above)


def test_the_sample_sheet_uses_the_lower_part_of_the_page_with_more_room_between_marks() -> None:
    geometry = read_manifest(SAMPLE / "exam.json").sheet
    layout = load_layout(geometry.layout)
    lowest = max(box[1] + box[3] for q in geometry.questions for box in q.boxes)
    assert lowest > 0.8 * geometry.frame_size[1]  # it stopped at 60 % before
    first, second = geometry.questions[0].boxes, geometry.questions[1].boxes
    assert second[0][1] - first[0][1] >= 1.3 * layout.row_height  # rows further apart
    assert first[1][0] - first[0][0] >= layout.bubble_width + 1.3 * layout.bubble_gap  # boxes further apart
    # the boxes keep their size: a much bigger pencilled box can pass for a fiducial in a phone photo
    assert all(box[2:] == (layout.bubble_width, layout.bubble_height) for q in geometry.questions for box in q.boxes)
    # every block row of a section full: six blocks of single choice in 3 + 3, three of multiple choice in one row
    rows = {}
    for q in geometry.questions:
        rows.setdefault((q.section, round(q.boxes[0][1], 1)), []).append(q.number)
    assert sorted(len(numbers) for (section, _), numbers in rows.items() if section == 0) == [3] * 10
    assert sorted(len(numbers) for (section, _), numbers in rows.items() if section == 1) == [3] * 5


@pytest.mark.parametrize("shape, pages", [
    ([(100, 5)], 1), ([(60, 4), (40, 5)], 1), ([(80, 4), (20, 5)], 1), ([(120, 4)], 1),
    ([(100, 4), (40, 5)], 2), ([(200, 4)], 2), ([(50, 4), (50, 4), (30, 5)], 2),
])
def test_dense_sheets_keep_their_page_count(shape, pages: int) -> None:
    # the page counts papergen printed these shapes on before section labels
    geometry = compute_geometry(load_layout("a4-standard"), shape, section_titles=[f"第{i}部分" for i in range(len(shape))])
    assert geometry.pages == pages
    layout = load_layout("a4-standard")
    assert all(q.boxes[0][2] >= layout.bubble_width - 1e-9 for q in geometry.questions)
    rows = sorted({round(q.boxes[0][1], 2) for q in geometry.questions if q.page == 1})
    assert min(b - a for a, b in zip(rows, rows[1:])) >= 0.9 * layout.row_height - 1e-6


def test_a_section_going_on_to_another_page_is_labelled_again() -> None:
    geometry = compute_geometry(load_layout("a4-standard"), [(100, 4), (40, 5)], section_titles=["一、单项选择题", "二、多项选择题"])
    texts = [(label["page"], label["text"]) for label in geometry.labels if label["kind"] == "section"]
    first_on_2 = min(q.number for q in geometry.questions if q.page == 2)
    assert texts[0] == (1, f"一、单项选择题（第 1–{first_on_2 - 1} 题）")
    assert texts[1] == (2, f"一、单项选择题（续，第 {first_on_2}–100 题）")
    assert texts[2] == (2, "二、多项选择题（第 101–140 题）")


def _dense_blueprint(tmp_path: Path) -> Path:
    letters = "ABCDE"
    questions = [
        {
            "id": f"d-{n:03d}", "type": "single", "stem": f"第{n}号测试题：编号为{n * 7919 % 1000}的条目属于哪一组？",
            "options": [f"第{n}题的选项{k}号" for k in range(1, 6)], "answer": letters[n % 5],
            "explanation": "按编号归组。", "topic": f"组{n % 4}", "difficulty": 1 + n % 5,
        }
        for n in range(1, 121)
    ]
    (tmp_path / "dense-bank.yaml").write_text(
        yaml.safe_dump({"bank": "dense", "title": "密集测试题库", "questions": questions}, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    blueprint = tmp_path / "dense.yaml"
    blueprint.write_text(
        "exam: dense-01\ntitle: 一百题五选项测试卷\nbanks: [dense-bank.yaml]\nvariants: 2\nseed: 3\n"
        "sections:\n  - title: 一、单项选择题\n    type: single\n    count: 100\n    points: 1\n",
        encoding="utf-8",
    )
    return blueprint


def test_a_100_question_5_option_exam_builds_on_one_page_and_grades(tmp_path: Path) -> None:
    from papergen.grade.pipeline import grade
    from papergen.grade.results import student_results
    from papergen.grade.store import reading_store
    from papergen.render.build import build_exam
    from papergen.sim.evaluation import evaluate
    from papergen.sim.run import simulate

    build_exam(_dense_blueprint(tmp_path), tmp_path / "exam")
    manifest = read_manifest(tmp_path / "exam" / "exam.json")
    assert manifest.sheet.pages == 1 and len(manifest.sheet.questions) == 100
    assert all(len(q.boxes) == 5 for q in manifest.sheet.questions)
    (text,) = page_text(tmp_path / "exam" / "sheet.pdf")
    assert "一、单项选择题（第 1–100 题）" in text
    assert_no_text_on_a_box(tmp_path / "exam" / "sheet.pdf", manifest.sheet)
    simulate(tmp_path / "exam" / "exam.json", 3, tmp_path / "scans", seed=5, degrade="scan", dpi=150, violations=1)
    grade(tmp_path / "exam" / "exam.json", [tmp_path / "scans"], tmp_path / "results", workers=1)
    report = evaluate(tmp_path / "results", tmp_path / "scans" / "truth.csv")
    assert report.silent_errors == 0 and report.missing_pages == 0, report.details
    with reading_store(tmp_path / "results") as db:
        statuses = sorted(r.status for r in student_results(db, manifest))
    assert statuses.count("违纪") == 1


def test_a_personal_sheet_prints_the_rosters_room_and_seat_in_their_boxes(tmp_path: Path) -> None:
    manifest = read_manifest(SAMPLE / "exam.json")
    people = [Personal("2026030001", "张三", "三班", "A", room="07", seat="23"), Personal("2026030002", "李四", "三班", "B")]
    render_sheets(manifest.sheet, tmp_path / "s.pdf", exam_id=manifest.exam, build=manifest.build, title=manifest.title, people=people)
    first, second = page_chars(tmp_path / "s.pdf", manifest.sheet)
    header = manifest.sheet.header

    def written_in(chars, rect) -> str:
        return "".join(c for c, r in chars if _inside(r, rect))

    assert written_in(first, header.room_box) == "07" and written_in(first, header.seat_box) == "23"
    assert written_in(first, header.name_box) == "张三"
    assert written_in(second, header.room_box) == "" and written_in(second, header.seat_box) == ""
    assert_no_text_on_a_box(tmp_path / "s.pdf", manifest.sheet)


def test_rows_never_grow_off_the_page() -> None:
    # tall rows (the test layout of the small two-page exam): one block nearly fills a page, so rows cannot grow much
    layout = load_layout(str(ROOT / "tests" / "fixtures" / "exam" / "tall-rows.yaml"))
    geometry = compute_geometry(layout, [(5, 4), (3, 5)], section_titles=["一、单项选择题", "二、多项选择题"])
    assert geometry.pages == 2
    assert all(box[1] + box[3] < geometry.frame_size[1] - 4 for q in geometry.questions for box in q.boxes)
