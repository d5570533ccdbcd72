"""The reader's steps on their own: the box table, measuring, QR acceptance and deciding, with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from papergen.exam.manifest import read_manifest
from papergen.grade import bubbles
from papergen.grade.bubbles import Levels, Reading
from papergen.grade.reader import (
    BINARY_FAINT_HINT,
    PUSHED_FAINT_HINT,
    Flag,
    Measurements,
    QuestionReading,
    Refusal,
    accept_sheet,
    decide_identity,
    decide_questions,
    decide_variant,
    label_groups,
    measure,
    own_marks,
    question_flags,
    rects_to_px,
    sheet_code,
)
from papergen.sheet.code import SheetCode
from papergen.sheet.layout import BoxTable, PageHeader, SheetGeometry
from tests.conftest import ROOT

COMMITTED = ROOT / "scans" / "2026-mock-03" / "exam.json"


def _parts(table: BoxTable) -> list[slice]:
    violation = [table.violation] if table.violation is not None else []  # sheets printed before the 违纪 box: none
    return [*table.id_columns, table.variant, table.absent, *violation, *table.questions]


def _covers_each_box_once(table: BoxTable) -> None:
    seen = np.zeros(len(table), int)
    for part in _parts(table):
        assert part.step is None and 0 <= part.start <= part.stop <= len(table)
        seen[part] += 1
    assert (seen == 1).all()


def test_the_box_table_covers_every_box_once_and_matches_the_manifests_geometry() -> None:
    geometry = read_manifest(COMMITTED).sheet
    table = geometry.box_table(1)
    _covers_each_box_once(table)
    rects = list(table.rects)
    assert [[rects[i] for i in range(len(table))[part]] for part in table.id_columns] == [list(c) for c in geometry.header.id_grid]
    assert rects[table.variant] == list(geometry.header.variant_row)
    assert rects[table.absent] == [geometry.header.absent]
    assert rects[table.violation] == [geometry.header.violation]
    assert table.numbers == tuple(q.number for q in geometry.questions) == tuple(range(1, 46))
    assert table.sections == tuple(q.section for q in geometry.questions)
    assert [rects[part] for part in table.questions] == [list(q.boxes) for q in geometry.questions]
    assert len(table) == 10 * 10 + 4 + 1 + 1 + sum(len(q.boxes) for q in geometry.questions)


def test_a_sheet_printed_before_the_violation_box_measures_the_same_boxes_as_then() -> None:
    geometry = read_manifest(ROOT / "tests" / "fixtures" / "scans" / "previous-sheet" / "exam.json").sheet
    table = geometry.box_table(1)
    _covers_each_box_once(table)
    assert geometry.header.violation is None and table.violation is None
    assert len(table) == 10 * 10 + 4 + 1 + sum(len(q.boxes) for q in geometry.questions)
    assert table.questions[0].start == 10 * 10 + 4 + 1


def test_each_page_of_a_two_page_sheet_has_the_header_and_only_its_own_questions(small_exam) -> None:
    geometry = read_manifest(small_exam / "exam.json").sheet
    assert geometry.pages == 2
    numbers = []
    for page in (1, 2):
        table = geometry.box_table(page)
        _covers_each_box_once(table)
        assert table.rects[table.absent][0] == geometry.header.absent
        assert table.numbers == tuple(q.number for q in geometry.questions_on(page)) != ()
        numbers += table.numbers
    assert numbers == [q.number for q in geometry.questions]


def _tiny_table() -> BoxTable:
    # one 准考证号 column of two digits, a variant row of one, 缺考, and a question of two options
    rects = ((4.0, 5.0, 5.0, 5.0), (4.0, 11.0, 5.0, 5.0), (12.0, 5.0, 5.0, 5.0), (12.0, 11.0, 5.0, 5.0),
             (20.0, 5.0, 5.0, 5.0), (20.0, 11.0, 5.0, 5.0))
    return BoxTable(
        rects=rects, id_columns=(slice(0, 2),), variant=slice(2, 3), absent=slice(3, 4),
        questions=(slice(4, 6),), numbers=(1,), sections=(0,),
    )


def test_label_groups_name_digits_0_9_and_letters_from_10_and_leave_the_rest_ungrouped() -> None:
    assert label_groups(_tiny_table()).tolist() == [0, 1, -1, -1, 10, 11]


def _tiny_geometry(frame: tuple[float, float]) -> SheetGeometry:
    nowhere = (0.0, 0.0, 1.0, 1.0)
    header = PageHeader(qr=nowhere, id_grid=(), id_write_in=(), variant_row=(), absent=nowhere, name_box=nowhere, class_box=nowhere)
    return SheetGeometry(
        layout="tiny", page_size=(frame[0] + 10, frame[1] + 10), origin=(5.0, 5.0), frame_size=frame, fiducial_size=4.0,
        bubble_size=(5.0, 5.0), pages=1, header=header, questions=(), variants=("A",), id_digits=1,
    )


def test_rects_to_px_moves_frame_millimetres_to_page_pixels() -> None:
    px = rects_to_px([(1.0, 2.0, 3.0, 4.0), (0.0, 0.0, 0.5, 0.5)], _tiny_geometry((30.0, 20.0)), ppm=2.0)
    assert px.tolist() == [[12.0, 14.0, 6.0, 8.0], [10.0, 10.0, 1.0, 1.0]]


def test_measure_reads_a_filled_box_as_ink_and_empty_ones_as_paper() -> None:
    ppm = 4.0
    geometry = _tiny_geometry((30.0, 20.0))
    page = np.full((int(30 * ppm), int(40 * ppm)), 250, np.uint8)
    for cx, cy in geometry.fiducial_centers():  # solid fiducials: the sheet's black
        x, y = int((5 + cx - 2) * ppm), int((5 + cy - 2) * ppm)
        page[y : y + 16, x : x + 16] = 0
    table = _tiny_table()
    x, y, w, h = rects_to_px([table.rects[5]], geometry, ppm)[0].astype(int)
    page[y : y + h, x : x + w] = 0  # question 1 answered B
    measured = measure(page, table, geometry, ppm)
    assert measured.levels == Levels(250.0, 0.0, 0.0)
    assert measured.darkness.tolist() == pytest.approx([0, 0, 0, 0, 0, 1])
    assert measured.coverage.tolist() == pytest.approx([0, 0, 0, 0, 0, 1])
    assert measured.whole[:5].tolist() == pytest.approx([0] * 5) and measured.whole[5] > 0.9


def _measurements(darkness: list[float], whole: list[float] | None = None) -> Measurements:
    dark = np.array(darkness)
    return Measurements(dark, np.zeros_like(dark), np.array(whole) if whole else np.ones_like(dark), Levels(250.0, 0.0, 0.0))


def test_measurements_decide_one_part_of_the_table() -> None:
    measured = _measurements([0.9, 0.0, 0.0, 0.0, 0.0, 0.9])
    table = _tiny_table()
    digit = measured.decide(table.id_columns[0], single=True, labels="01")
    assert (digit.outcome, digit.letters) == ("answer", "0")
    assert measured.decide(table.questions[0], single=True).letters == "B"
    assert measured.decide(table.variant, single=True).outcome == "blank"


def test_decide_questions_takes_type_and_options_from_the_variant() -> None:
    manifest = read_manifest(COMMITTED)
    geometry = manifest.sheet
    table = geometry.box_table(1)
    dark = np.zeros(len(table))
    first, last = table.questions[0], table.questions[-1]
    dark[first.start] = dark[first.start + 1] = 0.9  # question 1 (single choice): A and B
    dark[last.start] = dark[last.start + 2] = 0.9  # question 45 (multiple choice): A and C
    readings = decide_questions(_measurements(list(dark)), table, manifest, "A")
    assert [r.number for r in readings] == list(range(1, 46))
    assert (readings[0].outcome, readings[0].reason, readings[0].darkness[:3]) == ("flagged", "multiple-marks", (0.9, 0.9, 0.0))
    assert (readings[-1].outcome, readings[-1].letters) == ("answer", "AC")
    assert all(r.outcome == "blank" for r in readings[1:-1])


def _q(number: int, outcome: str, reason: str = "", note: str = "") -> QuestionReading:
    return QuestionReading(number, outcome, "A" if outcome == "answer" else "", reason, 1.0, (0.0,), note)


def test_question_flags() -> None:
    answered = [_q(1, "answer"), _q(2, "flagged", "faint"), _q(3, "blank")]
    assert question_flags(answered, absent=False) == [Flag(2, "faint", "第 2 题填涂过浅或不完整，无法判断")]
    assert [f.reason for f in question_flags([_q(1, "blank"), _q(2, "blank")], absent=False)] == ["blank-sheet"]
    assert [f.reason for f in question_flags(answered, absent=True)] == ["absent-with-answers"]
    assert question_flags([_q(1, "blank"), _q(2, "flagged", "faint")], absent=True) == []
    assert question_flags([], absent=False) == []


def test_a_faint_marks_flag_names_its_options_and_on_a_black_and_white_page_why() -> None:
    doubtful = [_q(4, "flagged", "faint", "uncertain:BD"), _q(5, "flagged", "multiple-marks", "AC")]
    grey = question_flags(doubtful, absent=False)
    assert [f.message for f in grey] == ["第 4 题 B、D 选项填涂过浅或不完整，无法判断", "第 5 题填涂了多个选项（单选题）"]
    black_and_white = question_flags(doubtful, absent=False, binary=True)
    assert black_and_white[0].message == "第 4 题 B、D 选项填涂过浅或不完整，无法判断" + BINARY_FAINT_HINT
    assert "黑白扫描" in BINARY_FAINT_HINT and black_and_white[1] == grey[1]  # only a faint mark's reason is the threshold's
    pushed = question_flags(doubtful, absent=False, pushed=True)
    assert pushed[0].message == "第 4 题 B、D 选项填涂过浅或不完整，无法判断" + PUSHED_FAINT_HINT and pushed[1] == grey[1]


def _digits(text: str) -> list[Reading]:
    """One column reading per character: a digit read, ``_`` blank, ``?`` flagged faint."""
    return [
        Reading("blank", "", "", 1.0) if c == "_" else Reading("flagged", "", "faint", 0.5) if c == "?" else Reading("answer", c, "", 1.0)
        for c in text
    ]


def _code(**fields) -> SheetCode:
    return SheetCode(exam="e", page=1, pages=1, layout="a4-standard", build="b", **fields)


def test_decide_identity() -> None:
    bubbled = decide_identity(_digits("0123"), None, 4)
    assert (bubbled.student_id, bubbled.source, bubbled.flags) == ("0123", "bubbles", ())
    printed = decide_identity(_digits("0123"), _code(student="0124"), 4)
    assert (printed.student_id, printed.source) == ("0124", "qr") and [f.reason for f in printed.flags] == ["id-mismatch"]
    forged = decide_identity(_digits("0123"), _code(student="12\x1b"), 4)
    assert (forged.student_id, forged.source) == ("0123", "bubbles") and [f.reason for f in forged.flags] == ["qr-id-invalid"]
    assert decide_identity(_digits("0_?_"), None, 4).flags == (Flag(None, "id-unreadable", "准考证号第 3 位填涂过浅或不完整，无法判断"),)
    assert decide_identity(_digits("0_3_"), None, 4).flags == (Flag(None, "id-incomplete", "准考证号第 2、4 位未填涂"),)
    assert [f.reason for f in decide_identity(_digits("____"), None, 4).flags] == ["id-missing"]


def test_decide_variant() -> None:
    manifest = read_manifest(COMMITTED)  # variants A–D
    blank, b, faint = Reading("blank", "", "", 1.0), Reading("answer", "B", "", 1.0), Reading("flagged", "", "faint", 0.5)
    assert decide_variant(b, None, manifest).name == "B"
    assert decide_variant(b, _code(variant="C"), manifest).name == "C"
    assert [f.reason for f in decide_variant(b, _code(variant="C"), manifest).flags] == ["variant-mismatch"]
    unknown = decide_variant(b, _code(variant="Z"), manifest)
    assert unknown.name is None and [f.reason for f in unknown.flags] == ["variant-unknown"]
    assert [f.reason for f in decide_variant(faint, None, manifest).flags] == ["variant-unreadable"]
    missing = decide_variant(blank, None, manifest)
    assert missing.name is None and [f.reason for f in missing.flags] == ["variant-missing"]


def test_accept_sheet_gives_the_page_or_the_reason_for_refusing() -> None:
    manifest = read_manifest(COMMITTED)
    own = SheetCode(exam=manifest.exam, page=1, pages=1, layout="a4-standard", build=manifest.build)
    assert accept_sheet(own, manifest, fiducials=3, another=True) == 1
    assert accept_sheet(None, manifest, fiducials=4, another=False) == 1

    def refused(code, fiducials=4, another=False) -> str:
        verdict = accept_sheet(code, manifest, fiducials=fiducials, another=another)
        assert isinstance(verdict, Refusal)
        return verdict.reason

    assert refused(SheetCode(exam="other", page=1, pages=1, layout="a4-standard", build=manifest.build)) == "other-exam"
    assert refused(SheetCode(exam=manifest.exam, page=1, pages=1, layout="a4-standard", build="0" * 10)) == "other-build"
    assert refused(None, another=True) == "another-sheet-unconfirmed"
    assert refused(None, fiducials=3) == "unconfirmed-frame"
    assert refused(SheetCode(exam=manifest.exam, page=2, pages=2, layout="a4-standard", build=manifest.build)) == "page-unknown"


def test_sheet_code_is_none_for_no_text_or_text_that_is_not_a_sheet_code() -> None:
    assert sheet_code(None) is None and sheet_code("") is None and sheet_code("https://example.com") is None
    assert sheet_code("PG1;E=x;P=1/2;L=a4-standard") == SheetCode(exam="x", page=1, pages=2, layout="a4-standard")


def test_own_marks_come_from_the_answer_boxes_only() -> None:
    table = read_manifest(COMMITTED).sheet.box_table(1)
    dark = np.zeros(len(table))
    dark[[part.start for part in table.questions[:6]]] = [0.5, 0.6, 0.7, 0.8, 0.9, 0.9]
    dark[[column.start for column in table.id_columns]] = 1.0  # the 准考证号 fills are not the student's pencil on answers
    assert own_marks(_measurements(list(dark)), table) == pytest.approx(0.75)
    dark[table.questions[5].start] = 0.0
    dark[table.questions[4].start] = 0.0
    assert own_marks(_measurements(list(dark)), table) is None  # too few clear marks to learn the student's hand from


def test_a_decision_may_leave_a_measurement_out() -> None:
    # a 准考证号 digit on a black-and-white page: a printed 4 or 7 reaches past a letter's place by itself
    dark = np.array([0.95, 0.0, 0.0, 0.0, 0.0, 0.0])
    measured = Measurements(dark, np.array([1.0, 0, 0, 0, 0, 0]), np.array([0.9, 0, 0, 0, 0, 0]), Levels(250.0, 0.0, 0.0),
                            off_letter=np.array([7.0, 0.2, 0, 0, 0, 0]))
    column = _tiny_table().id_columns[0]
    assert measured.decide(column, single=True, labels="01", binary=True).outcome == "flagged"
    digit = measured.decide(column, single=True, labels="01", binary=True, off_letter=None)
    assert (digit.outcome, digit.letters) == ("answer", "0")


def test_a_pages_speck_threshold_comes_from_all_its_boxes() -> None:
    # box 1 of the first 准考证号 column holds one pixel (and its neighbour) of black away from its digit
    dark, cover, whole = np.array([0.95, 0.03, 0, 0, 0, 0]), np.array([1.0, 0.03, 0, 0, 0, 0]), np.array([0.9, 0.02, 0, 0, 0, 0])
    off = np.array([7.0, 1 / 36, 0, 0, 0, 0])
    column = _tiny_table().id_columns[0]
    levels = Levels(250.0, 0.0, 0.0)
    # six boxes, one with a speck: 17 % of the page is speckled, so a speck is no evidence
    small = Measurements(dark, cover, whole, levels, off_letter=off)
    assert small.speck == bubbles.OFF_LETTER_MARK
    assert small.decide(column, single=True, labels="01", binary=True).letters == "0"
    # the same box among 60: a clean page, where one speck is a stroke's remains
    blank = np.zeros(54)
    clean = Measurements(np.r_[dark, blank], np.r_[cover, blank], np.r_[whole, blank], levels, off_letter=np.r_[off, blank])
    assert clean.speck == bubbles.OFF_LETTER_SPECK
    assert clean.decide(column, single=True, labels="01", binary=True).note == "uncertain:1"


def test_a_question_is_measured_against_the_least_band_of_its_boxes() -> None:
    """A band across the page lifts every box of a question; pencil spilt beside some of them does not
    lift the others, so nothing is taken from any box (``Measurements.decide``)."""
    from papergen.grade import bubbles
    from papergen.grade.reader import Measurements

    levels = bubbles.Levels(white=250.0, black=20.0, empty_box=0.0)
    clean = np.full((2, 8), 250.0)
    banded = np.full((2, 8), 227.0)  # both sides, 0.1 dark
    n = 8
    darkness = np.full(n, 0.11)

    def measured(sides):
        return Measurements(darkness=darkness, coverage=np.zeros(n), whole=np.zeros(n), levels=levels,
                            paper=np.full(n, 250.0), side=np.stack(sides))

    across = measured([banded] * 4 + [clean] * 4)
    assert across.decide(slice(0, 4), single=True).outcome == "blank"  # the band, not pencil
    spill = measured([banded, banded, clean, banded] + [clean] * 4)
    assert spill.decide(slice(0, 4), single=True).outcome == "flagged"  # 0.11 dark, nothing taken away
    assert across.decide(slice(4, 8), single=True).outcome == "flagged"  # no band there
