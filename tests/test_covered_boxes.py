"""A sticker, correction tape or fluid over answer boxes hides the pencil and the printed letter alike: flagged, never read blank."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from papergen.exam.manifest import read_manifest
from papergen.grade import bubbles, reader
from papergen.grade.bubbles import Levels
from papergen.render.build import build_exam
from tests.conftest import ROOT
from tests.sheetfill import filled_sheet, key_answers

LEVELS = Levels(240.0, 20.0, 0.0)


def _letters(count: int) -> np.ndarray:
    """``count`` empty boxes' windows (15×25): paper 240 with a light grey printed letter (a ring of grey 150)."""
    patches = np.full((count, 15, 25), 240, np.uint8)
    for patch in patches:
        cv2.rectangle(patch, (9, 4), (15, 10), 150, 1)
    return patches


def test_a_covered_box_has_lost_its_letter_and_nothing_else_has():
    patches = _letters(16)
    patches[3] = 238  # a sticker: clean paper, no letter
    patches[5] = np.minimum(patches[5], 60)  # a fill over the letter
    patches[7] = np.roll(patches[7], 1, axis=1)  # the letter a pixel off
    patches[8, 2:13, 3:22] = np.minimum(patches[8, 2:13, 3:22], 200)  # residue: a film over it
    groups = np.zeros(16, int)
    lost = bubbles.missing_print(patches, bubbles.label_templates(patches, groups), LEVELS)
    assert lost[3] == 1.0
    assert lost[5] == 0.0 and lost[8] == 0.0
    assert lost[7] < bubbles.COVERED_PRINT
    assert lost[[0, 1, 2, 4, 6, 9, 10, 11, 12, 13, 14, 15]].max() == 0.0


def test_a_note_over_many_boxes_of_one_label_is_still_told():
    # 16 boxes of one label: 5 under a note, 7 empty, 4 marked. The note's boxes are most of the brighter half,
    # whose median is then clean paper; the next quarter by brightness still shows the letter.
    patches = _letters(16)
    patches[:5] = 238
    patches[12:] = np.minimum(patches[12:], 60)
    lost = bubbles.missing_print(patches, bubbles.label_templates(patches, np.zeros(16, int)), LEVELS)
    assert (lost[:5] == 1.0).all() and lost[5:].max() == 0.0


def test_a_label_printed_on_few_boxes_tells_nothing():
    patches = _letters(bubbles.MIN_PRINT_GROUP - 1)  # the "E" of a short exam's few multiple-choice questions
    patches[3] = 238
    assert bubbles.missing_print(patches, bubbles.label_templates(patches, np.zeros(len(patches), int)), LEVELS).max() == 0.0


def test_a_label_mostly_marked_or_washed_out_tells_nothing():
    marked = _letters(16)
    marked[:12] = 50  # a 准考证号 of many zeros: most "0" boxes marked, the brighter half holds marks too
    assert bubbles.missing_print(marked, bubbles.label_templates(marked, np.zeros(16, int)), LEVELS).max() == 0.0
    washed = np.full((16, 15, 25), 240, np.uint8)  # a copy that lost the light grey letters altogether
    washed[4] = 235
    assert bubbles.missing_print(washed, bubbles.label_templates(washed, np.zeros(16, int)), LEVELS).max() == 0.0


def test_a_covered_box_flags_its_question_on_a_grey_page_only():
    empty = [0.0, 0.0, 0.0, 0.0]
    covered = bubbles.decide(empty, single=True, unprinted=[0.0, 1.0, 0.0, 0.0])
    assert (covered.outcome, covered.reason, covered.note) == ("flagged", "covered", "covered:B")
    # beside a clear fill too: what was under the sticker is unknown
    beside = bubbles.decide([0.9, 0.0, 0.0, 0.0], single=True, whole=[1.0, 0, 0, 0], unprinted=[0.0, 0.0, 1.0, 0.0])
    assert beside.reason == "covered"
    assert bubbles.decide(empty, single=True, unprinted=[0.0, 0.3, 0.0, 0.0]).outcome == "blank"
    # a black-and-white page's threshold keeps some printed letters and wipes others
    assert bubbles.decide(empty, single=True, unprinted=[0.0, 1.0, 0.0, 0.0], binary=True).outcome == "blank"


# -- a whole sheet -------------------------------------------------------------

BLUEPRINT = ROOT / "blueprints" / "2026-mock-03.yaml"
DPI = 150


@pytest.fixture(scope="module")
def exam(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("covered") / "exam"
    build_exam(BLUEPRINT, out)
    return out


def _scan(image: np.ndarray) -> np.ndarray:
    """A grey scan: paper 240, ink 20, a little blur and noise, JPEG."""
    rng = np.random.default_rng(2)
    grey = cv2.GaussianBlur(image.astype(float) * (220 / 255) + 20, (0, 0), 0.7)
    grey = np.clip(grey + rng.normal(0, 2, grey.shape), 0, 255).astype(np.uint8)
    return cv2.imdecode(cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 85])[1], cv2.IMREAD_GRAYSCALE)


def _cover(image: np.ndarray, manifest, rects, grey: int) -> None:
    """Paint a sticker of ``grey`` over the frame-mm rectangles (and 1 mm around them)."""
    ox, oy = manifest.sheet.origin
    k = DPI / 25.4
    x0 = min(r[0] for r in rects) - 1
    y0 = min(r[1] for r in rects) - 1
    x1 = max(r[0] + r[2] for r in rects) + 1
    y1 = max(r[1] + r[3] for r in rects) + 1
    image[int((oy + y0) * k):int((oy + y1) * k), int((ox + x0) * k):int((ox + x1) * k)] = grey


@pytest.mark.parametrize("grey", [255, 225])  # white correction tape; a sticky note, greyer than the paper
def test_answers_under_a_sticker_are_flagged_not_read_blank(exam, grey):
    manifest = read_manifest(exam / "exam.json")
    answers = key_answers(manifest, "A")
    sheet = filled_sheet(exam, manifest, student_id="2026030009", variant="A", answers=answers, dpi=DPI)
    question = manifest.sheet.questions_on(1)[4]  # question 5, answered
    _cover(sheet, manifest, question.boxes, grey)
    reading = reader.read_sheets(_scan(sheet), manifest)[0]
    assert reading.status == "read" and not reading.binary
    fifth = next(q for q in reading.questions if q.number == 5)
    assert (fifth.outcome, fifth.reason) == ("flagged", "covered")
    assert [(f.number, f.reason) for f in reading.flags] == [(5, "covered")]
    message = reading.flags[0].message
    assert message.startswith("第 5 题 A、B、C、D 选项的填涂框被遮住或涂改过") and "请看答题卡原件" in message
    # every other question reads as it was filled
    assert {q.number: q.letters for q in reading.questions if q.number != 5} == {n: a for n, a in answers.items() if n != 5}


def test_a_covered_id_digit_is_flagged_on_the_id(exam):
    manifest = read_manifest(exam / "exam.json")
    sheet = filled_sheet(exam, manifest, student_id="2026030009", variant="A", answers=key_answers(manifest, "A"), dpi=DPI)
    _cover(sheet, manifest, manifest.sheet.header.id_grid[3], 250)
    reading = reader.read_sheets(_scan(sheet), manifest)[0]
    assert reading.student_id is None
    assert [f.message for f in reading.flags if f.reason == "id-unreadable"] == [
        "准考证号第 4 位的填涂框被遮住或涂改过（看不到印刷的字母），无法判断；请看答题卡原件"
    ]
