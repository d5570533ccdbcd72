"""A black-and-white page whose threshold sits where pencil is: it cannot be read, whichever side.

Cut too light against the pencil (coloured paper, a dark threshold, a scanner app's
"black and white" mode), the 1-bit scan turns erasure residue as black as a fill, and
an erased option of a multiple choice read as one more answer, with no flag. The
printed grey letters in the boxes say so: a threshold that keeps them black has kept
pencil as light as residue (``bw-darkened``).

Cut as dark as the pencil (a faded copy, a pale fax, a scan turned bright), the fills
break into fragments and lighter ones turn to paper, read as unanswered. The page's own
fills say so: on a healthy 1-bit page they are solid black blocks (``bw-faded``). A
page left with no fill at all is a blank sheet, whose flag says so. Either refused page
says to scan it in grey.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from papergen.exam.manifest import read_manifest
from papergen.grade import bubbles, reader
from papergen.grade.reasons import REASON_LABELS
from papergen.sim.marks import FADE_SHARE, TINT_SHARE, faded, on_tinted_paper
from tests.sheetfill import filled_sheet, key_answers, paint
from tests.simulated import graded_simulation

DPI = 150
RESIDUE = 200  # erasure residue rubbed over a box: darkness about a fifth of the way to black


def test_letter_black_counts_the_letter_place_only():
    levels = bubbles.Levels(white=250.0, black=20.0, empty_box=0.0)
    patches = np.full((3, 20, 30), 250, dtype=np.uint8)
    place = bubbles._letter_place(20, 30)
    patches[1][place] = 10  # the whole letter place black
    patches[2][:, :3] = 10  # black at the box's edge only: not the letter
    assert bubbles.letter_black(patches, levels).tolist() == [0.0, 1.0, 0.0]
    assert bubbles.letter_black(np.zeros((0, 20, 30), np.uint8), levels).shape == (0,)


def test_kept_letters_is_the_median_over_empty_boxes_only():
    letters = np.r_[np.full(30, 0.2), np.full(10, 1.0)]
    darkness = np.r_[np.zeros(30), np.full(10, 0.9)]  # the marked boxes are black all over: not counted
    assert bubbles.kept_letters(letters, darkness) == pytest.approx(0.2)
    few = bubbles.MIN_KEPT_BOXES - 1
    assert bubbles.kept_letters(np.full(few, 0.5), np.zeros(few)) is None


def _scan(manifest, exam, answers, residue_box, *, tint: float, binary: bool) -> np.ndarray:
    """The key's answers pencilled and one more box rubbed with residue, on paper ``tint`` as bright as white,
    scanned at 150 dpi; ``binary``: in the scanner's black-and-white mode, its cut set for white paper."""
    page = filled_sheet(exam, manifest, student_id="2026030011", variant="A", answers=answers, dpi=DPI)
    paint(page, manifest, residue_box, DPI, value=RESIDUE)
    page = page.astype(np.float32) * tint  # paper, print and pencil send back that share of the light
    rng = np.random.default_rng(3)
    grey = cv2.GaussianBlur(page * (225 / 255) + 20, (0, 0), 0.7)
    grey = np.clip(grey + rng.normal(0, 3.0, grey.shape), 0, 255).astype(np.uint8)
    if binary:  # the simulator's cut: 0.6 of the way from the scanner's black (20) to white paper's (245)
        return np.where(grey < 20 + 0.6 * 225, 0, 255).astype(np.uint8)
    return cv2.imdecode(cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 80])[1], cv2.IMREAD_GRAYSCALE)


@pytest.fixture
def erased_option(sample_exam_json):
    """(manifest, exam folder, answers, the multiple choice's number, its erased option's letter and box)."""
    manifest = read_manifest(sample_exam_json)
    answers = key_answers(manifest, "A")
    number = next(i.number for i in manifest.variant("A").items if manifest.questions[i.id].type == "multiple"
                  and len(answers[i.number]) < len(i.permutation))
    question = next(q for q in manifest.sheet.questions_on(1) if q.number == number)
    other = next(i for i, letter in enumerate("ABCDE"[:len(question.boxes)]) if letter not in answers[number])
    return manifest, sample_exam_json.parent, answers, number, "ABCDE"[other], question.boxes[other]


def test_a_black_and_white_page_that_kept_light_pencil_black_is_refused(erased_option, monkeypatch):
    manifest, exam, answers, number, letter, box = erased_option
    page = _scan(manifest, exam, answers, box, tint=0.72, binary=True)
    refused = reader.read_sheets(page, manifest)[0]
    assert refused.binary
    assert (refused.status, refused.reason) == ("rejected", "bw-darkened"), refused.message
    assert "灰度" in refused.message and "擦掉的选项" in refused.message
    assert not refused.questions  # nothing of the page is scored
    assert "bw-darkened" in REASON_LABELS
    # without the refusal the erased option is read as one more answer, and nothing says so
    with monkeypatch.context() as patched:
        patched.setattr(bubbles, "LETTERS_KEPT", 2.0)
        misread = reader.read_sheets(page, manifest)[0]
    assert misread.status == "read"
    got = next(q for q in misread.questions if q.number == number)
    assert (got.outcome, letter in got.letters) == ("answer", True)
    assert not [f for f in misread.flags if f.number == number]


def test_the_same_sheet_on_white_paper_or_scanned_grey_is_read(erased_option):
    manifest, exam, answers, number, letter, box = erased_option
    for tint, binary in ((1.0, True), (0.72, False), (1.0, False)):
        reading = reader.read_sheets(_scan(manifest, exam, answers, box, tint=tint, binary=binary), manifest)[0]
        assert reading.status == "read", (tint, binary, reading.message)
        assert reading.binary == binary
        read = {q.number: q.letters for q in reading.questions if q.outcome == "answer"}
        assert read[number] == answers[number], (tint, binary)
        assert all(read[n] == answers[n] for n in read), (tint, binary)


def test_on_tinted_paper_darkens_every_grey_by_one_share():
    page = np.array([[255, 128, 0]], dtype=np.uint8)
    tinted = on_tinted_paper(page, np.random.default_rng(5)).astype(float)
    share = tinted[0, 0] / 255
    assert TINT_SHARE[0] <= share <= TINT_SHARE[1]
    assert tinted[0, 1] == pytest.approx(128 * share, abs=0.51) and tinted[0, 2] == 0


def test_tinted_pages_are_read_or_refused_with_no_silent_error(tmp_path, sample_exam_json):
    report = graded_simulation(sample_exam_json, tmp_path, 10, seed=5, degrade="tinted", doubtful_rate=0.1)
    assert report.silent_errors == 0, report.details
    assert report.deliberate_flagged == report.deliberate


# -- a cut as dark as the pencil ---------------------------------------------------


def test_binary_fills_tells_broken_fills_from_solid_and_from_evenly_grey_ones():
    dark, floor = [0.97, 0.99, 0.95, 1.0, 0.96, 0.0, 0.01, 0.0, 0.05], [0.9, 0.95, 0.9, 1.0, 0.9, 0.0, 0.0, 0.0, 0.0]
    solid = bubbles.binary_fills(dark, floor)
    assert (solid.marks, solid.fragments) == (5, 1) and solid.solid == pytest.approx(0.97)
    assert not solid.pencil_lost
    dark = [0.45, 0.6, 0.52, 0.7, 0.41, 0.2, 0.3, 0.0]
    broken = bubbles.binary_fills(dark, [0.2 * d for d in dark])
    assert broken.pencil_lost and broken.solid == pytest.approx(0.52) and broken.broken == pytest.approx(0.2)
    # grey fills as dark, but even (a clean grey rendering taken for black and white): not broken up
    assert not bubbles.binary_fills(dark, [0.95 * d for d in dark]).pencil_lost
    # too few fills to judge by (a sheet's second page, a page the device emptied): not here
    assert not bubbles.binary_fills([0.45, 0.5, 0.2] + [0.0] * 37, [0.1, 0.1, 0.0] + [0.0] * 37).pencil_lost
    assert bubbles.binary_fills([0.0] * 20, [0.0] * 20).solid is None


def test_a_black_and_white_sheet_with_few_answers_waits_for_a_person():
    def q(number, outcome):
        return reader.QuestionReading(number, outcome, "A" if outcome == "answer" else "", "", 1.0, (0.0,), "")

    few = [q(1, "flagged")] + [q(n, "blank") for n in range(2, 29)] + [q(29, "answer"), q(30, "answer")]
    flags = reader.question_flags(few, absent=False, binary=True)
    assert [f.reason for f in flags if f.number is None] == ["few-answers"]
    assert "30 道题里只读到 2 道" in flags[-1].message and "灰度" in flags[-1].message
    assert "few-answers" in REASON_LABELS
    # the same on a grey page, a page of a few questions, or a sheet mostly answered: nothing of the kind
    assert not [f for f in reader.question_flags(few, absent=False) if f.number is None]
    assert not [f for f in reader.question_flags(few[25:], absent=False, binary=True) if f.number is None]
    most = [q(n, "answer") for n in range(1, 16)] + [q(n, "blank") for n in range(16, 31)]
    assert not reader.question_flags(most, absent=False, binary=True)
    # an absent candidate's sheet is not reviewed for it
    assert not reader.question_flags(few[1:28], absent=True, binary=True)


def _faded_scan(manifest, exam, answers, share: float, noise: float, fill: tuple[int, ...] = ()) -> np.ndarray:
    """The key's answers pencilled on a page faded to ``share`` of its contrast (``fill``: the answers pencilled
    afterwards at these greys instead, question after question, as light as faded fills of a hand that presses
    unevenly), scanned at 150 dpi in the black-and-white mode (the simulator's cut for white paper); ``noise``:
    the sensor's, in grey levels."""
    page = filled_sheet(exam, manifest, student_id="2026030011", variant="A", answers={} if fill else answers, dpi=DPI)
    page = faded(page, share)
    if fill:
        boxes = {q.number: q.boxes for q in manifest.sheet.questions_on(1)}
        for number, letters in answers.items():
            for letter in letters:
                paint(page, manifest, boxes[number]["ABCDE".index(letter)], DPI, value=fill[number % len(fill)])
    rng = np.random.default_rng(4)
    grey = cv2.GaussianBlur(page.astype(np.float32) * (225 / 255) + 20, (0, 0), 0.7) + rng.normal(0, noise, page.shape)
    return np.where(grey < 20 + 0.6 * 225, 0, 255).astype(np.uint8)


def test_a_black_and_white_page_whose_fills_broke_up_is_refused(sample_exam_json, monkeypatch):
    manifest = read_manifest(sample_exam_json)
    answers = key_answers(manifest, "A")
    page = _faded_scan(manifest, sample_exam_json.parent, answers, 0.8, noise=6.0, fill=(145, 150, 155, 165))
    refused = reader.read_sheets(page, manifest)[0]
    assert refused.binary
    assert (refused.status, refused.reason) == ("rejected", "bw-faded"), refused.message
    assert "灰度" in refused.message and "未作答" in refused.message
    assert "bw-faded" in REASON_LABELS
    # without the refusal some fills the threshold broke up read as unanswered, and nothing says so of them
    with monkeypatch.context() as patched:
        patched.setattr(bubbles.BinaryFills, "pencil_lost", property(lambda self: False))
        misread = reader.read_sheets(page, manifest)[0]
    lost = [q.number for q in misread.questions if q.outcome == "blank" and answers.get(q.number)]
    assert lost, "the fixture should lose fills"
    assert not {f.number for f in misread.flags} & set(lost)
    # the same sheet not faded is read as it was filled in
    clear = reader.read_sheets(_faded_scan(manifest, sample_exam_json.parent, answers, 1.0, noise=6.0), manifest)[0]
    assert clear.status == "read" and clear.binary
    read = {q.number: q.letters for q in clear.questions if q.outcome == "answer"}
    assert read and all(read[n] == answers[n] for n in read)


def test_a_black_and_white_page_whose_fills_all_vanished_is_a_blank_sheet_saying_why(sample_exam_json):
    manifest = read_manifest(sample_exam_json)
    answers = key_answers(manifest, "A")
    gone = reader.read_sheets(_faded_scan(manifest, sample_exam_json.parent, answers, 1.0, noise=2.0, fill=(175,)), manifest)[0]
    assert gone.status == "read" and gone.binary
    assert all(q.outcome == "blank" for q in gone.questions)
    blank = next(f for f in gone.flags if f.reason == "blank-sheet")
    assert "黑白扫描" in blank.message and "灰度" in blank.message


def test_faded_keeps_its_share_of_every_grey():
    page = np.array([[255, 155, 55]], dtype=np.uint8)
    assert faded(page, 0.5).tolist() == [[255, 205, 155]]
    assert FADE_SHARE[0] < FADE_SHARE[1] <= 1.0


def test_faded_black_and_white_pages_are_refused_rather_than_misread(tmp_path, sample_exam_json):
    report = graded_simulation(sample_exam_json, tmp_path, 12, seed=8, degrade="faded", doubtful_rate=0.1)
    bw = [page for page in report.pages if page.black_and_white]
    assert not [page for page in bw if page.outcome == "silent"], report.details

