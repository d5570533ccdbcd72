"""Bubble measuring and deciding on tiny hand-made arrays with known answers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from papergen.grade import bubbles
from papergen.grade.bubbles import Levels, box_means, darkness, decide


def test_box_means_reads_each_interior() -> None:
    page = np.full((40, 60), 250, np.uint8)
    page[10:20, 10:30] = 50  # box 0 fully dark
    page[10:20, 40:50] = 150  # box 1 mid grey
    rects = np.array([[10, 10, 20, 10], [40, 10, 10, 10], [0, 25, 60, 10]], float)
    means = box_means(page, rects)
    assert means.shape == (3,)
    assert means[0] == pytest.approx(50) and means[1] == pytest.approx(150) and means[2] == pytest.approx(250)


def test_box_means_ignores_the_printed_bracket_edges() -> None:
    page = np.full((30, 30), 255, np.uint8)
    page[5:25, 5] = 0  # a bracket line on the box's left edge
    page[5:25, 24] = 0
    assert box_means(page, np.array([[5, 5, 20, 20]], float))[0] == pytest.approx(255)


def test_box_means_validates_its_input() -> None:
    with pytest.raises(ValueError, match="rects_px"):
        box_means(np.zeros((5, 5), np.uint8), np.zeros((3,)))


def test_darkness_is_normalised_by_the_sheets_own_levels() -> None:
    # A pale copy (white 220, black 90) and a crisp one (255, 10) read alike.
    pale = darkness(np.array([220.0, 155.0, 90.0]), Levels(220, 90, 0.0))
    crisp = darkness(np.array([255.0, 132.5, 10.0]), Levels(255, 10, 0.0))
    assert pale == pytest.approx([0, 0.5, 1]) and crisp == pytest.approx([0, 0.5, 1])


def test_darkness_subtracts_the_printed_empty_box() -> None:
    assert darkness(np.array([230.0]), Levels(250, 50, 0.1))[0] == pytest.approx(0.0)


@pytest.mark.parametrize(
    "values, single, valid, outcome, letters, reason",
    [
        ([0.9, 0.02, 0.01, 0.03], True, 4, "answer", "A", ""),
        ([0.02, 0.01, 0.7, 0.03], True, 4, "answer", "C", ""),
        ([0.02, 0.01, 0.03, 0.0], True, 4, "blank", "", ""),
        ([0.8, 0.0, 0.85, 0.0], True, 4, "flagged", "", "multiple-marks"),
        ([0.8, 0.0, 0.85, 0.6], False, 4, "answer", "ACD", ""),
        ([0.0, 0.28, 0.0, 0.0], True, 4, "flagged", "", "faint"),  # a half-fill: neither mark nor empty
        ([0.9, 0.11, 0.0, 0.0], True, 4, "answer", "A", ""),  # erased B (a grey film) next to a clear A
        ([0.9, 0.3, 0.0, 0.0], True, 4, "flagged", "", "faint"),  # too dark for residue: a second, light mark
        ([0.45, 0.3, 0.0, 0.0], True, 4, "flagged", "", "faint"),  # B too dark next to a weak A
        ([0.0, 0.0, 0.0, 0.0, 0.9], True, 4, "flagged", "", "nonexistent-option"),
    ],
)
def test_decide(values, single, valid, outcome, letters, reason) -> None:
    reading = decide(values, single=single, valid=valid)
    assert (reading.outcome, reading.letters, reading.reason) == (outcome, letters, reason)


def test_erasure_is_noted_not_silently_dropped() -> None:
    reading = decide([0.9, 0.11, 0.0, 0.0], single=True)
    assert reading.note == "erasure"


def test_a_dark_but_partial_mark_is_flagged() -> None:
    # dark in the middle of the box but covering only a third of it: a half-fill
    # that a black-and-white scan turned black
    reading = decide([0.0, 0.6, 0.0, 0.0], single=True, whole=[0.0, 0.3, 0.0, 0.0])
    assert (reading.outcome, reading.reason) == ("flagged", "faint")
    solid = decide([0.0, 0.6, 0.0, 0.0], single=True, whole=[0.0, 0.8, 0.0, 0.0])
    assert (solid.outcome, solid.letters) == ("answer", "B")


def test_thresholds_leave_a_band_for_doubt() -> None:
    assert 0 < bubbles.EMPTY < bubbles.MARKED < 1
    # every value in the band between the thresholds is flagged, never decided
    for value in np.linspace(bubbles.EMPTY + 0.01, bubbles.MARKED - 0.01, 9):
        assert decide([value, 0, 0, 0], single=True).outcome == "flagged"


def test_summed_area_is_exact_in_int32_and_validates_dtype() -> None:
    page = np.full((40, 60), 255, np.uint8)
    page[10:20, 10:30] = 0
    table = bubbles.summed_area(page)
    assert table.dtype == np.int32 and table.shape == (41, 61)
    assert box_means(page, np.array([[10.0, 10.0, 20.0, 10.0]]))[0] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="uint8"):
        bubbles.summed_area(page.astype(float))


def test_empty_baseline_is_per_printed_label() -> None:
    # Ten "A" boxes with a faint printed letter (0.02) and ten "B" boxes whose
    # letter survived darker (0.10); three of each are marked.
    a = [0.02] * 7 + [0.8] * 3
    b = [0.10] * 7 + [0.8] * 3
    values = np.array(a + b)
    groups = np.array([10] * 10 + [11] * 10)
    base = bubbles.empty_baseline(values, groups, fallback=0.02)
    assert base[:10] == pytest.approx([0.02] * 10)
    assert base[10:] == pytest.approx([0.10] * 10)


def test_empty_baseline_falls_back_for_small_groups_and_is_capped() -> None:
    values = np.array([0.5, 0.0, 0.0] + [0.9] * 10)  # the 缺考 box etc. (-1), then an all-marked group
    groups = np.array([-1, 3, 3] + [7] * 10)
    base = bubbles.empty_baseline(values, groups, fallback=0.01)
    assert base[:3] == pytest.approx([0.01, 0.01, 0.01])  # group -1 and a group of two: the page-wide value
    # a group marked everywhere cannot lift its baseline to a mark's level: it has no empty box to
    # learn its letter from, so the page's empty box serves (its marks keep their full darkness)
    assert base[3:] == pytest.approx([0.01] * 10)
    with pytest.raises(ValueError, match="shape"):
        bubbles.empty_baseline(values, groups[:-1], fallback=0.0)


def test_a_mostly_marked_group_learns_its_letter_from_its_empty_boxes() -> None:
    # a 准考证号 of many zeros: seven of ten "0" boxes marked, three empty with a letter of 0.05
    values = np.array([0.85, 0.8, 0.9, 0.75, 0.8, 0.85, 0.7, 0.05, 0.05, 0.06])
    base = bubbles.empty_baseline(values, np.full(10, 0), fallback=0.01)
    assert base == pytest.approx([0.05] * 10)


def test_darkness_with_groups_reads_a_surviving_letter_as_empty() -> None:
    levels = Levels(255.0, 0.0, 0.02)
    white = 255.0
    # raw darkness 0.10 for every "B" box (a darker letter), 0.02 for every "A"
    means = np.array([white * (1 - 0.02)] * 10 + [white * (1 - 0.10)] * 10)
    groups = np.array([10] * 10 + [11] * 10)
    assert darkness(means, levels)[10] > bubbles.EMPTY  # one page-wide baseline: the letter looks like pencil
    assert darkness(means, levels, groups)[10] == pytest.approx(0.0)  # per label: empty


def test_empty_baseline_quantile_matches_numpy_on_random_groups() -> None:
    rng = np.random.default_rng(11)
    values = rng.random(300) * 0.1
    groups = rng.integers(-1, 6, 300)
    base = bubbles.empty_baseline(values, groups, fallback=0.05)
    for label in range(6):
        members = groups == label
        expected = min(np.quantile(values[members], bubbles.GROUP_QUANTILE), 0.05 + bubbles.LABEL_INK_MAX)
        assert base[members] == pytest.approx(expected)
    assert base[groups == -1] == pytest.approx(0.05)


def test_decide_absent_by_the_fixed_levels() -> None:
    assert bubbles.decide_absent(0.9, 0.9) == "marked"
    assert bubbles.decide_absent(bubbles.MARKED, bubbles.SOLID) == "marked"
    assert bubbles.decide_absent(0.2, 0.9) == "unclear"
    assert bubbles.decide_absent(bubbles.EMPTY + 0.01, 0.0) == "unclear"
    assert bubbles.decide_absent(bubbles.EMPTY, 0.0) == "empty"
    assert bubbles.decide_absent(0.0, 1.0) == "empty"


def test_decide_absent_calls_a_dark_scrap_unclear_never_marked() -> None:
    # dark, but covering less than SOLID of the box: a half-fill, or a black-and-white scan's blot
    assert bubbles.decide_absent(0.95, bubbles.SOLID - 0.01) == "unclear"


# -- thin strokes (a fine pencil tick reads as almost nothing on average) ----------


def _boxes_with_letters(count: int = 10, size: tuple[int, int] = (20, 32)) -> tuple[np.ndarray, np.ndarray]:
    """A page of ``count`` empty boxes in a row, each with the same printed letter (a grey bar), and their rects."""
    h, w = size
    page = np.full((h + 20, count * (w + 8) + 8), 240, np.uint8)
    rects = []
    for i in range(count):
        x = 8 + i * (w + 8)
        page[10 + 5:10 + h - 5, x + w // 2 - 1:x + w // 2 + 2] = 150  # the printed letter
        rects.append((x, 10, w, h))
    return page, np.array(rects, float)


def _strokes(page: np.ndarray, rects: np.ndarray) -> np.ndarray:
    groups = np.full(len(rects), 10)
    return bubbles.stroke_lengths(bubbles.box_patches(page, rects), groups, Levels(240.0, 20.0, 0.0))


def test_a_fine_tick_is_a_stroke_and_the_printed_letter_is_not() -> None:
    import cv2

    page, rects = _boxes_with_letters()
    x, y, w, h = rects[3].astype(int)
    # a light check mark two pixels wide: short leg down, long leg up to the top right
    cv2.polylines(page, [np.array([(x + 7, y + 10), (x + 13, y + 16), (x + 29, y + 3)], np.int32)], False, 190, 2)
    strokes = _strokes(page, rects)
    assert strokes[3] >= bubbles.STROKE_SPAN
    assert np.all(np.delete(strokes, 3) == 0)  # the letter is in every box: it cancels out


def test_a_crease_across_the_box_and_a_broad_film_are_not_strokes() -> None:
    page, rects = _boxes_with_letters()
    x, y, w, h = rects[2].astype(int)
    crease = page[y + 9:y + 11, x - 4:x + w + 4]
    crease[...] = crease * 0.8  # a fold's crease darkens a line through the box (and its letter) and beyond
    x, y, w, h = rects[5].astype(int)
    page[y + 3:y + h - 3, x + 3:x + w - 3] -= 30  # erasure residue: a grey film over the box
    page[y + 8:y + 12, x + 8:x + 12] -= 10  # with a blotch a little darker than the film
    strokes = _strokes(page, rects)
    assert strokes[2] == 0 and strokes[5] < bubbles.STROKE_SPAN
    # the crease is told apart as a line crossing the window; the film and the plain boxes are not
    _, crossed, rise, _ = bubbles.trace_strokes(bubbles.box_patches(page, rects), np.full(len(rects), 10), Levels(240.0, 20.0, 0.0))
    assert crossed.tolist() == [i == 2 for i in range(len(rects))]
    assert not rise.any()  # no stroke, no rise


def test_a_crease_alone_across_a_box_is_measured_as_the_darkness_it_adds() -> None:
    page, rects = _boxes_with_letters()
    plain = page.copy()
    for k in (2, 6):
        x, y, w, h = rects[k].astype(int)
        crease = page[y + 9:y + 11, x - 4:x + w + 4]
        crease[...] = crease * 0.8
    x, y, w, h = rects[6].astype(int)
    page[y + 3:y + 6, x + 5:x + 9] = 170  # a dot of pencil beside the crease: a run of its own
    _, crossed, _, crease = bubbles.trace_strokes(bubbles.box_patches(page, rects), np.full(len(rects), 10),
                                                  Levels(240.0, 20.0, 0.0))
    assert crossed.tolist() == [i in (2, 6) for i in range(len(rects))]
    # the known answer: what the line adds to the interior's mean darkness (paper 240, ink 20)
    added = (bubbles.box_means(plain, rects[2:3]) - bubbles.box_means(page, rects[2:3]))[0] / 220.0
    assert crease[2] == pytest.approx(added, rel=0.25)
    # beside anything else the box holds, the crease is not measured apart: that box is decided as it is
    assert crease[6] == 0.0 and np.all(np.delete(crease, 2) == 0.0)


def test_a_dash_across_the_box_is_a_stroke_unless_a_crease_runs_there() -> None:
    """A line a student drew across the box is flat, and the printed letter breaks it into two runs:
    still a mark a person sees. A crease's line runs on past the box, with its shading beside it."""
    page, rects = _boxes_with_letters()
    for k in (3, 6):
        x, y, w, h = rects[k].astype(int)
        page[y + 10:y + 12, x + 6:x + w - 6] = 90  # pencil pressed hard, across the letter, clear of the brackets
    x, y, w, h = rects[2].astype(int)
    crease = page[y + 9:y + 11, x - 4:x + w + 4]
    crease[...] = crease * 0.8  # a crease: from edge to edge and on
    patches = bubbles.box_patches(page, rects)
    groups = np.full(len(rects), 10)
    band = np.zeros(len(rects))
    band[6] = bubbles.CREASE_BAND  # the paper beside box 6 is shaded on both sides: a fold runs there
    length, crossed, rise, _ = bubbles.trace_strokes(patches, groups, Levels(240.0, 20.0, 0.0), band=band)
    assert length[3] >= bubbles.STROKE_SPAN and rise[3] < bubbles.STROKE_EXTENT
    assert length[6] == 0.0 and length[2] == 0.0 and crossed[2]
    assert np.all(np.delete(length, 3) == 0)
    # decided: flagged, where it read blank before
    assert bubbles.decide([0.03, 0.0, 0.0, 0.0], single=True, stroke=[length[3], 0, 0, 0]).outcome == "flagged"


def test_a_fine_tick_is_not_a_crossing_line() -> None:
    import cv2

    page, rects = _boxes_with_letters()
    x, y, w, h = rects[3].astype(int)
    cv2.polylines(page, [np.array([(x + 7, y + 10), (x + 13, y + 16), (x + 29, y + 3)], np.int32)], False, 190, 2)
    length, crossed, rise, _ = bubbles.trace_strokes(bubbles.box_patches(page, rects), np.full(len(rects), 10),
                                                  Levels(240.0, 20.0, 0.0))
    assert length[3] >= bubbles.STROKE_SPAN and not crossed.any()
    assert rise[3] >= bubbles.CREASE_RISE  # the tick's legs span the box's height


def test_a_tick_from_the_windows_left_edge_out_past_its_right_is_a_stroke_not_a_crossing_line() -> None:
    """Its short leg starts at the window's edge and its long one leaves it on the right, as a crease's line
    would, but its legs rise over most of the window's height: a stroke, never a crease to look past."""
    import cv2

    page, rects = _boxes_with_letters()
    x, y, w, h = rects[3].astype(int)
    cv2.polylines(page, [np.array([(x - 2, y + 9), (x + 12, y + 17), (x + w + 3, y + 1)], np.int32)], False, 190, 2)
    x, y, w, h = rects[6].astype(int)
    crease = page[y + 9:y + 11, x - 4:x + w + 4]
    crease[...] = crease * 0.8  # a crease through another box, for comparison
    length, crossed, rise, _ = bubbles.trace_strokes(bubbles.box_patches(page, rects), np.full(len(rects), 10),
                                                  Levels(240.0, 20.0, 0.0))
    assert crossed.tolist() == [i == 6 for i in range(len(rects))]
    assert length[3] >= bubbles.STROKE_SPAN and rise[3] >= bubbles.CREASE_RISE


def test_a_box_a_crease_alone_crosses_is_as_empty_as_it_is_without_the_line() -> None:
    # an unanswered question: the crease darkens one box to 0.09, its line's pixels cover 0.12 of it
    common = dict(single=True, coverage=[0.12, 0.0, 0.0, 0.0], whole=[0.06, 0.0, 0.0, 0.0], stroke=[0.0] * 4)
    assert decide([0.09, 0.0, 0.0, 0.0], **common).outcome == "flagged"
    assert decide([0.09, 0.0, 0.0, 0.0], crease=[0.05, 0, 0, 0], **common).outcome == "blank"
    # darker than an empty box even without the line, or covered beyond what a line covers: a person looks
    assert decide([0.09, 0.0, 0.0, 0.0], crease=[0.02, 0, 0, 0], **common).outcome == "flagged"
    assert decide([0.09, 0.0, 0.0, 0.0], crease=[0.05, 0, 0, 0],
                  **dict(common, coverage=[bubbles.CREASE_COVER + 0.05, 0, 0, 0])).outcome == "flagged"
    # a black-and-white page keeps no such line apart
    assert decide([0.09, 0.0, 0.0, 0.0], crease=[0.05, 0, 0, 0], binary=True, **common).outcome == "flagged"
    # an answer crossed by the crease stays the answer
    crossed = decide([0.09, 0.7, 0.0, 0.0], crease=[0.05, 0.03, 0, 0],
                     **dict(common, coverage=[0.12, 1.0, 0, 0], whole=[0.06, 0.9, 0, 0]))
    assert (crossed.outcome, crossed.letters, crossed.note) == ("answer", "B", "")


def test_a_stroke_makes_a_box_not_empty_and_not_residue() -> None:
    # the held-out case: darkness 0.06 and coverage 0.075, just under EMPTY and COVERED
    faint_tick = decide([0.06, 0.0, 0.0, 0.0], single=True, coverage=[0.075, 0, 0, 0], stroke=[0.8, 0, 0, 0])
    assert (faint_tick.outcome, faint_tick.reason) == ("flagged", "faint")
    assert decide([0.06, 0.0, 0.0, 0.0], single=True, coverage=[0.075, 0, 0, 0]).outcome == "blank"
    # beside a clear mark the same light box would pass for erasure residue; a stroke is not residue
    beside = decide([0.9, 0.1, 0, 0], single=False, coverage=[1, 0.1, 0, 0], whole=[0.9, 0.05, 0, 0], stroke=[0, 0.8, 0, 0])
    assert beside.outcome == "flagged"
    assert decide([0.9, 0.1, 0, 0], single=False, coverage=[1, 0.1, 0, 0], whole=[0.9, 0.05, 0, 0]).letters == "A"


def test_on_a_black_and_white_page_nothing_beside_a_mark_is_residue() -> None:
    # what a light half-fill leaves after a fax's threshold: on a grey page this would be residue
    scrap = dict(coverage=[1.0, 0.16, 0, 0], whole=[0.9, 0.09, 0, 0])
    assert decide([0.95, 0.115, 0, 0], single=False, **scrap).letters == "A"
    assert decide([0.95, 0.115, 0, 0], single=False, binary=True, **scrap).outcome == "flagged"
    # residue's few surviving specks, or a light tick's: the threshold leaves the same, so a person decides
    specks = dict(coverage=[1.0, 0.05, 0, 0], whole=[0.9, 0.03, 0, 0])
    assert decide([0.95, 0.07, 0, 0], single=False, **specks).letters == "A"
    on_black_and_white = decide([0.95, 0.07, 0, 0], single=False, binary=True, **specks)
    assert (on_black_and_white.outcome, on_black_and_white.note) == ("flagged", "uncertain:B")
    # …even as a "film" (little of its darkness pencil-dark), which on a grey page is an eraser's
    film = dict(coverage=[1.0, 0.01, 0, 0], whole=[0.9, 0.005, 0, 0])
    assert decide([0.95, 0.04, 0, 0], single=False, binary=True, **film).outcome == "flagged"
    # no darker than the device's specks in an empty box: empty, as before
    assert decide([0.95, 0.025, 0, 0], single=False, binary=True, **film).letters == "A"


def test_a_light_partial_fill_is_read_against_the_students_own_marks() -> None:
    box = dict(coverage=[0, 0.85, 0, 0], whole=[0, 0.55, 0, 0])  # well covered, but under MARKED and SOLID
    assert decide([0, 0.34, 0, 0], single=True, **box).outcome == "flagged"  # fixed levels alone: doubtful
    assert decide([0, 0.34, 0, 0], single=True, own=0.5, **box).letters == "B"  # this student presses lightly
    assert decide([0, 0.34, 0, 0], single=True, own=0.9, **box).outcome == "flagged"  # too light for this student
    assert decide([0, 0.34, 0, 0], single=True, own=0.5, binary=True, **box).outcome == "flagged"
    # a faint half-fill (the deliberately doubtful kind) covers too little of the box, whoever made it
    half = dict(coverage=[0, 0.7, 0, 0], whole=[0, 0.41, 0, 0])
    assert decide([0, 0.34, 0, 0], single=True, own=0.4, **half).outcome == "flagged"


def test_own_darkness_is_the_median_clear_mark_or_none() -> None:
    values = [0.9, 0.7, 0.8, 0.6, 0.75, 0.2, 0.0]
    whole = [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.0]
    assert bubbles.own_darkness(values, whole) == pytest.approx(0.75)
    assert bubbles.own_darkness(values[:4], whole[:4]) is None


def test_local_paper_reads_each_ring_at_its_75th_percentile_as_numpy_does() -> None:
    """``local_paper`` partitions instead of sorting; the numbers must be ``np.percentile``'s."""
    rng = np.random.default_rng(4)
    page = rng.integers(120, 256, (200, 300)).astype(np.uint8)
    rects = np.array([[20.0, 30.0, 24.0, 18.0], [100.0, 60.0, 24.0, 18.0], [250.0, 150.0, 24.0, 18.0]])
    margin = int(round(bubbles.RING_MM * 6.0))
    expected = []
    for x, y, w, h in rects.astype(int):
        window = page[y - margin : y + h + margin, x - margin : x + w + margin].astype(float)
        ring = np.ones(window.shape, bool)
        ring[margin:-margin, margin:-margin] = False
        expected.append(np.percentile(window[ring], bubbles.RING_PERCENTILE))
    assert np.allclose(bubbles.local_paper(page, rects, 6.0), expected)


def _black_and_white_row() -> tuple[np.ndarray, np.ndarray]:
    """A 1-bit row of four boxes at 6 px/mm (32 × 21 px, brackets printed black): A filled, B a
    fine tick the threshold broke into fragments, C its printed letter surviving, D two specks."""
    import cv2

    w, h = 32, 21
    page = np.full((h + 20, 4 * (w + 10) + 10), 255, np.uint8)
    rects = []
    for i in range(4):
        x, y = 10 + i * (w + 10), 10
        page[y:y + h, x:x + 2] = 0  # the brackets
        page[y:y + h, x + w - 2:x + w] = 0
        rects.append((x, y, w, h))
    x, y = 10, 10
    page[y + 1:y + h - 1, x + 2:x + w - 2] = 0  # A: a clear fill
    x = 10 + (w + 10)
    tick = np.full_like(page, 255)
    cv2.polylines(tick, [np.array([(x + 7, y + 11), (x + 13, y + 17), (x + 29, y + 3)], np.int32)], False, 0, 1)
    fragments = np.zeros_like(page, dtype=bool)
    fragments[:, (np.arange(page.shape[1]) // 2) % 2 == 0] = True  # the threshold keeps the light line in short pieces
    page[(tick == 0) & fragments] = 0
    x = 10 + 2 * (w + 10)
    page[y + 5:y + 16, x + 13:x + 15] = 0  # C: the letter's stem, in the middle of its box
    page[y + 5, x + 13:x + 20] = 0
    x = 10 + 3 * (w + 10)
    page[y + 4, x + 5] = page[y + 15, x + 25] = page[y + 9, x + 27] = 0  # D: lone line-noise specks
    return page, np.array(rects, float)


def test_on_a_black_and_white_page_a_broken_tick_beside_a_fill_is_flagged() -> None:
    page, rects = _black_and_white_row()
    patches = bubbles.box_patches(page, rects, (bubbles.LETTER_PLACE_INSET,) * 2)
    ink = bubbles.off_letter_ink(patches, Levels(255.0, 0.0, 0.0), 6.0)
    assert ink[1] >= bubbles.OFF_LETTER_MARK  # the fragments lie along the legs, across the box
    assert ink[2] == 0 and ink[3] == 0  # the letter and lone specks are not a mark
    # what the tick leaves may be no darker than an empty box's specks: without the new evidence it reads empty
    measured = dict(coverage=[1.0, 0.02, 0.01, 0.0], whole=[0.95, 0.015, 0.01, 0.0])
    assert decide([0.98, 0.028, 0.02, 0.005], single=False, binary=True, **measured).letters == "A"
    flagged = decide([0.98, 0.028, 0.02, 0.005], single=False, binary=True, off_letter=ink, **measured)
    assert (flagged.outcome, flagged.note) == ("flagged", "uncertain:B")
    # on a grey page the same figures are not weighed (a letter there is cancelled by its label's empty boxes)
    assert decide([0.98, 0.028, 0.02, 0.005], single=False, off_letter=ink, **measured).letters == "A"


# -- the median pixel (film_darkness) and what it decides ---------------------------------------


def _patch(darkness: np.ndarray, white: float = 250.0) -> np.ndarray:
    """A box window of the given darkness (0 paper … 1 ink) as grey pixels."""
    return np.clip(white * (1.0 - darkness), 0, 255).astype(np.uint8)


def test_film_darkness_tells_an_even_film_from_pencil_gathered_in_part_of_the_box() -> None:
    levels = bubbles.Levels(250.0, 0.0, 0.0)
    empty = np.zeros((20, 24))
    film = np.full((20, 24), 0.2)  # rubbed pencil over the whole window
    half = np.zeros((20, 24))
    half[5:15, 2:14] = 0.8  # a half-fill: the same mean darkness (0.2), gathered in a quarter of the window
    patches = np.stack([_patch(empty)] * 8 + [_patch(film), _patch(half)])
    groups = np.zeros(10, dtype=int)
    measured = bubbles.film_darkness(patches, groups, levels)
    assert measured[:8] == pytest.approx(0.0, abs=0.01)
    assert measured[8] == pytest.approx(0.2, abs=0.01)
    assert measured[9] == pytest.approx(0.0, abs=0.01)  # its median pixel is paper


def test_an_even_film_beside_a_mark_is_residue_and_a_gathered_one_is_flagged() -> None:
    # darker than RESIDUE_MAX, too little pencil-dark coverage for a mark
    common = dict(single=True, coverage=[1.0, 0.25, 0.0], whole=[0.9, 0.15, 0.0], stroke=[0.0] * 3)
    even = bubbles.decide([0.8, 0.2, 0.0], film=[0.8, 0.19, 0.0], **common)
    assert (even.outcome, even.letters, even.note) == ("answer", "A", "erasure")
    gathered = bubbles.decide([0.8, 0.2, 0.0], film=[0.8, 0.12, 0.0], **common)
    assert (gathered.outcome, gathered.note) == ("flagged", "uncertain:B")
    # …never on a black-and-white page, which keeps no film
    assert bubbles.decide([0.8, 0.2, 0.0], film=[0.8, 0.19, 0.0], binary=True, **common).outcome == "flagged"
    # …up to RESIDUE_SHARE of a light-handed student's mark beside it (0.21 of 0.4), never darker than that
    light_hand = bubbles.decide([0.4, 0.21, 0.0], film=[0.4, 0.2, 0.0], **common)
    assert (light_hand.outcome, light_hand.letters, light_hand.note) == ("answer", "A", "erasure")
    assert bubbles.decide([0.38, 0.21, 0.0], film=[0.38, 0.2, 0.0], **common).outcome == "flagged"  # 0.553 of it
    assert bubbles.decide([0.35, 0.2, 0.0], film=[0.35, 0.2, 0.0], **common).outcome == "flagged"


def test_a_lighter_fill_spread_like_the_students_own_is_their_mark_and_a_half_fill_is_not() -> None:
    own = 0.5
    spread = bubbles.decide([0.3, 0.0], single=True, coverage=[0.7, 0.0], whole=[0.55, 0.0], film=[0.3, 0.0], own=own)
    assert (spread.outcome, spread.letters) == ("answer", "A")
    # a patchier one, under FILL_WHOLE of the box pencil-dark, may be a light hand's half-fill over most of the
    # window (its median pixel pencil-dark too): a person looks (the stress set read such half-fills as marks)
    patchy = bubbles.decide([0.33, 0.0], single=True, coverage=[0.6, 0.0], whole=[0.4, 0.0], film=[0.31, 0.0], own=own)
    assert (patchy.outcome, patchy.note) == ("flagged", "uncertain:A")
    # a half-fill: its median pixel at most about half the student's marks
    half = bubbles.decide([0.3, 0.0], single=True, coverage=[0.7, 0.0], whole=[0.45, 0.0], film=[0.26, 0.0], own=own)
    assert half.outcome == "flagged"
    # without the student's own marks (too few on the page) only the fixed levels decide
    assert bubbles.decide([0.3, 0.0], single=True, coverage=[0.7, 0.0], whole=[0.55, 0.0], film=[0.3, 0.0]).outcome == "flagged"


def test_a_short_run_over_a_dark_film_does_not_rule_residue_out_but_a_tick_on_paper_does() -> None:
    common = dict(single=True, coverage=[1.0, 0.1, 0.0], whole=[0.9, 0.05, 0.0])
    on_film = bubbles.decide([0.8, 0.14, 0.0], stroke=[0.0, 0.55, 0.0], film=[0.8, 0.15, 0.0], **common)
    assert (on_film.outcome, on_film.note) == ("answer", "erasure")
    on_paper = bubbles.decide([0.8, 0.1, 0.0], stroke=[0.0, 0.55, 0.0], film=[0.8, 0.05, 0.0], **common)
    assert on_paper.outcome == "flagged"
    long_stroke = bubbles.decide([0.8, 0.14, 0.0], stroke=[0.0, 0.9, 0.0], film=[0.8, 0.15, 0.0], **common)
    assert long_stroke.outcome == "flagged"


# -- the floor (the darkness nearly the whole window shares) and what it decides ----------------


def test_shared_darkness_gives_the_median_pixel_and_the_floor_in_one_pass() -> None:
    levels = bubbles.Levels(250.0, 0.0, 0.0)
    rng = np.random.default_rng(7)
    empty = np.zeros((20, 24))
    blotchy = np.clip(0.22 + rng.normal(0.0, 0.04, (20, 24)), 0, 1)  # rubbed pencil, uneven, over the whole window
    half = np.zeros((20, 24))
    half[2:18, 2:15] = 0.55  # a half-fill over 43 % of the window: its median pixel is pencil, its floor paper
    tick = np.zeros((20, 24))
    for x in range(4, 22):
        tick[min(19, 22 - x), x] = tick[min(19, 23 - x), x] = 0.7  # a thin diagonal line
    patches = np.stack([_patch(empty)] * 8 + [_patch(blotchy), _patch(half), _patch(tick)])
    groups = np.zeros(11, dtype=int)
    film, floor = bubbles.shared_darkness(patches, groups, levels, (0.5, bubbles.FLOOR_SHARE))
    assert film == pytest.approx(bubbles.film_darkness(patches, groups, levels))
    assert floor[8] == pytest.approx(0.22 - 0.84 * 0.04, abs=0.02)  # the film's 20th percentile
    assert floor[8] >= bubbles.FLOOR_RESIDUE_SHARE * 0.22
    assert floor[9] == pytest.approx(0.0, abs=0.01) and floor[10] == pytest.approx(0.0, abs=0.01)
    assert bubbles.shared_darkness(patches[:0], groups[:0], levels, (0.5, 0.8)).shape == (2, 0)


def test_shared_darkness_of_8_bit_windows_with_their_gain_is_that_of_the_windows_lit_evenly() -> None:
    # the reader hands over the 8-bit windows and lit_evenly's factor: the very numbers of the float windows
    rng = np.random.default_rng(11)
    patches = rng.integers(0, 256, (40, 15, 25)).astype(np.uint8)
    paper = rng.uniform(150.0, 250.0, 40)  # a shadow band: every box lit differently
    groups = np.repeat(np.arange(4), 10)
    levels = bubbles.Levels(252.0, 8.0, 0.0)
    shares = (0.5, bubbles.FLOOR_SHARE)
    lit = bubbles.shared_darkness(bubbles.lit_evenly(patches, paper), groups, levels, shares)
    assert np.array_equal(bubbles.shared_darkness(patches, groups, levels, shares, gain=bubbles.even_gain(paper)), lit)


def test_a_film_whose_floor_holds_beside_a_mark_is_residue_and_a_half_fill_is_flagged() -> None:
    # strong residue: darker than EVEN_RESIDUE_MAX, blotches pencil-dark over 45 % of the interior
    common = dict(single=True, coverage=[1.0, 0.45, 0.0], whole=[0.9, 0.3, 0.0], stroke=[0.0] * 3)
    rubbed = bubbles.decide([0.7, 0.24, 0.0], film=[0.7, 0.22, 0.0], floor=[0.6, 0.17, 0.0], **common)
    assert (rubbed.outcome, rubbed.letters, rubbed.note) == ("answer", "A", "erasure")
    # the same mean darkness gathered in part of the box leaves the floor paper: a person looks
    gathered = bubbles.decide([0.7, 0.24, 0.0], film=[0.7, 0.22, 0.0], floor=[0.6, 0.03, 0.0], **common)
    assert (gathered.outcome, gathered.note) == ("flagged", "uncertain:B")
    # a copier's blotchier film: its floor keeps 0.42 of its mean, still residue; a faint half-fill's keeps 0.3 at most
    blotchy = bubbles.decide([0.7, 0.24, 0.0], film=[0.7, 0.2, 0.0], floor=[0.6, 0.1, 0.0], **common)
    assert (blotchy.outcome, blotchy.letters, blotchy.note) == ("answer", "A", "erasure")
    half = bubbles.decide([0.7, 0.24, 0.0], film=[0.7, 0.15, 0.0], floor=[0.6, 0.075, 0.0], **common)
    assert (half.outcome, half.note) == ("flagged", "uncertain:B")
    # a black-and-white page keeps no film; and darker than FLOOR_RESIDUE_MAX is never taken for one
    assert bubbles.decide([0.7, 0.24, 0.0], film=[0.7, 0.22, 0.0], floor=[0.6, 0.17, 0.0], binary=True,
                          **common).outcome == "flagged"
    assert bubbles.decide([0.7, 0.28, 0.0], film=[0.7, 0.26, 0.0], floor=[0.6, 0.2, 0.0], **common).outcome == "flagged"


def test_a_lighter_fill_whose_floor_holds_is_the_students_mark() -> None:
    # a copier's washed-out fill: 0.65 of the student's marks, its median pixel too light for FILL_/LEAN_
    own = 0.5
    measured = dict(single=True, coverage=[0.6, 0.0], whole=[0.42, 0.0], film=[0.28, 0.0], own=own)
    assert bubbles.decide([0.33, 0.0], **measured).outcome == "flagged"
    spread = bubbles.decide([0.33, 0.0], floor=[0.2, 0.0], **measured)
    assert (spread.outcome, spread.letters) == ("answer", "A")
    # a half-fill as dark: its floor is the paper beside it
    assert bubbles.decide([0.33, 0.0], floor=[0.06, 0.0], **measured).outcome == "flagged"
    # as light as erasure residue beside the student's marks (under FLOOR_FILL_SHARE of them): still a person's call
    assert bubbles.decide([0.27, 0.0], floor=[0.2, 0.0], **measured).outcome == "flagged"


def test_a_faint_half_fill_a_copier_washed_to_residues_darkness_is_still_flagged() -> None:
    # as light as residue beside a mark, some pixels pencil-dark, but gathered in part of the box: its floor is paper
    common = dict(single=False, whole=[0.9, 0.04, 0.0], stroke=[0.0] * 3)
    washed = bubbles.decide([0.65, 0.1, 0.0], coverage=[1.0, 0.08, 0.0], film=[0.63, 0.07, 0.0], floor=[0.5, 0.015, 0.0],
                            **common)
    assert (washed.outcome, washed.note) == ("flagged", "uncertain:B")
    # the same darkness as a film over the box is residue
    rubbed = bubbles.decide([0.65, 0.1, 0.0], coverage=[1.0, 0.08, 0.0], film=[0.63, 0.1, 0.0], floor=[0.5, 0.07, 0.0],
                            **common)
    assert (rubbed.outcome, rubbed.letters, rubbed.note) == ("answer", "A", "erasure")
    # no pencil-dark pixel at all (a box a shadow's edge left a little darker): not the student's pencil
    shadowed = bubbles.decide([0.65, 0.08, 0.0], coverage=[1.0, 0.0, 0.0], film=[0.63, 0.08, 0.0], floor=[0.5, 0.01, 0.0],
                              **common)
    assert (shadowed.outcome, shadowed.note) == ("answer", "erasure")
    # a black-and-white page keeps no film to tell residue by: a person decides
    assert bubbles.decide([0.65, 0.09, 0.0], coverage=[1.0, 0.08, 0.0], binary=True, **common).outcome == "flagged"


def test_a_faint_fill_on_a_page_whose_pencil_came_out_light_is_flagged_without_pencil_dark_pixels() -> None:
    # A faded page (sheet-0020 of the simulated faded set, question 98): the student's fills only 0.33 dark, the
    # faint fill beside them 0.11 with no pixel as dark as PENCIL; its floor is paper, so it is gathered pencil.
    common = dict(single=False, coverage=[0.93, 0.0, 0.0], whole=[0.6, 0.0, 0.0], stroke=[0.0] * 3)
    faint = bubbles.decide([0.33, 0.11, 0.0], film=[0.33, 0.08, 0.0], floor=[0.27, 0.004, 0.0], own=0.39, **common)
    assert (faint.outcome, faint.note) == ("flagged", "uncertain:B")
    # with too few clear marks on the page the question's own mark is the measure
    assert bubbles.decide([0.33, 0.11, 0.0], film=[0.33, 0.08, 0.0], floor=[0.27, 0.004, 0.0], **common).outcome == "flagged"
    # the same darkness spread as a film (its floor holds) is residue
    rubbed = bubbles.decide([0.33, 0.11, 0.0], film=[0.33, 0.1, 0.0], floor=[0.27, 0.08, 0.0], own=0.39, **common)
    assert (rubbed.outcome, rubbed.letters, rubbed.note) == ("answer", "A", "erasure")
    # where the pencil comes out as usual the same gathered grey is under a fifth of the student's marks: a
    # shadow's edge, a speck — not pencil (no pixel of it pencil-dark)
    usual = bubbles.decide([0.7, 0.11, 0.0], film=[0.7, 0.08, 0.0], floor=[0.6, 0.004, 0.0], own=0.7, **common)
    assert (usual.outcome, usual.note) == ("answer", "erasure")


def test_a_short_run_over_a_film_whose_floor_holds_is_the_films_blotches() -> None:
    common = dict(single=True, coverage=[1.0, 0.1, 0.0], whole=[0.9, 0.05, 0.0], stroke=[0.0, 0.55, 0.0])
    # the median pixel under STROKE_ON_FILM, the floor above STROKE_ON_FLOOR: a film
    on_film = bubbles.decide([0.8, 0.12, 0.0], film=[0.8, 0.1, 0.0], floor=[0.7, 0.08, 0.0], **common)
    assert (on_film.outcome, on_film.note) == ("answer", "erasure")
    # a tick's floor is the paper beside it
    on_paper = bubbles.decide([0.8, 0.12, 0.0], film=[0.8, 0.1, 0.0], floor=[0.7, 0.01, 0.0], **common)
    assert on_paper.outcome == "flagged"


def test_pencil_levels_fall_with_the_paper_in_a_shadow_and_never_rise() -> None:
    levels = bubbles.Levels(250.0, 10.0, 0.0)
    paper = np.array([240.0, 240.0, 240.0, 120.0, 250.0])
    got = bubbles.pencil_levels(paper, levels)
    assert got[:3] == pytest.approx([bubbles.pencil_level(levels)] * 3)
    assert got[3] == pytest.approx(bubbles.pencil_level(levels) * 0.5)
    assert got[4] == pytest.approx(bubbles.pencil_level(levels))  # brighter than usual: the page's level


def test_on_a_grey_page_black_off_the_letter_is_pressed_pencil_never_residue() -> None:
    # a fine tick the stroke tracer lost in a blurred photo, beside two fills: its darkest pixels reach mid-grey
    common = dict(single=False, coverage=[1.0, 0.1, 0.0], whole=[0.9, 0.08, 0.0], stroke=[0.0] * 3)
    tick = bubbles.decide([0.6, 0.09, 0.0], off_letter=[5.0, bubbles.OFF_LETTER_MARK, 0.0], **common)
    assert (tick.outcome, tick.note) == ("flagged", "uncertain:B")
    residue = bubbles.decide([0.6, 0.09, 0.0], off_letter=[5.0, 0.0, 0.0], **common)
    assert (residue.outcome, residue.note) == ("answer", "erasure")
    # …and alone it does not make an empty box a mark or a doubt: a neighbour's spill reaches past the letter too
    assert bubbles.decide([0.0, 0.0], single=True, off_letter=[0.3, 0.0]).outcome == "blank"


def test_on_a_black_and_white_page_specks_above_the_devices_noise_are_not_empty() -> None:
    assert bubbles.decide([0.04, 0.0], single=True, binary=True).outcome == "flagged"
    assert bubbles.decide([0.04, 0.0], single=True).outcome == "blank"  # a grey page's empty box may be that dark
    # a run half across the box and fragments off the letter together are a tick's remains, even in a box no
    # darker than an empty one's specks
    half = dict(single=False, coverage=[1.0, 0.01, 0.0], whole=[0.9, 0.01, 0.0], stroke=[0.0, 0.57, 0.0], binary=True)
    assert bubbles.decide([0.9, 0.025, 0.0], off_letter=[5.0, 0.05, 0.0], **half).outcome == "flagged"
    assert bubbles.decide([0.9, 0.025, 0.0], off_letter=[5.0, 0.0, 0.0], **half).letters == "A"


@pytest.mark.parametrize("count", [1, 2, 9, 10, 45, 660, 661])
def test_the_stroke_tracers_medians_are_numpys(count) -> None:
    """``stroke_lengths`` takes its medians by sorting or one partition: the very numbers (and dtype) of ``np.median``."""
    rng = np.random.default_rng(count)
    for dtype in (np.float32, np.float64):
        values = (rng.random(count) * 255).astype(dtype)
        assert bubbles._median(values) == np.median(values) and np.asarray(bubbles._median(values)).dtype == dtype
        stack = (rng.random((count, 6, 5)) * 255).astype(dtype)
        assert np.array_equal(bubbles._median_first_axis(stack), np.median(stack, axis=0))
        assert bubbles._median_first_axis(stack).dtype == np.median(stack, axis=0).dtype
        rows = (rng.random((7, count)) * 2 - 1).astype(dtype)
        assert np.array_equal(bubbles._median_rows(rows), np.median(rows, axis=1))
        assert bubbles._median_rows(rows).dtype == np.median(rows, axis=1).dtype
    # 8-bit windows (the tracer's documented input): two middle values of 240 must not wrap past 255
    stack = np.full((count, 6, 5), 240, np.uint8)
    stack[0] = 17
    assert np.array_equal(bubbles._median_first_axis(stack), np.median(stack, axis=0))
    assert bubbles._median_first_axis(stack).dtype == np.median(stack, axis=0).dtype


def test_percentile_rows_of_grey_pixels_is_numpys() -> None:
    rng = np.random.default_rng(5)
    for count in (1, 2, 7, 610):
        values = rng.integers(0, 256, (40, count)).astype(np.uint8)
        assert np.allclose(bubbles._percentile_rows(values, 75), np.percentile(values, 75, axis=1), rtol=0, atol=1e-12)


def _strokes_traced_on_every_box(patches, groups, levels):
    """``stroke_lengths`` as first written: every box traced, np.median, each run's peak by np.maximum.at (against
    the median of each label's brightest third, ``label_templates``)."""
    n, h, w = patches.shape
    result, excess = np.zeros(n), np.zeros((n, h, w), np.float32)
    for label in np.unique(groups):
        members = np.flatnonzero(groups == label)
        if label < 0 or len(members) < bubbles.MIN_GROUP:
            continue
        brightness = patches[members].reshape(len(members), -1).mean(axis=1)
        brightest = np.argsort(-brightness, kind="stable")[: max(bubbles.MIN_TEMPLATE_BOXES, -(-len(members) // 3)) | 1]
        template = np.median(patches[members[brightest]], axis=0).astype(np.float32)
        excess[members] = (template - patches[members]) / (levels.white - levels.black)
    above = excess - np.maximum(np.median(excess.reshape(n, -1), axis=1), 0.0)[:, None, None]
    canvas = np.zeros((n, h + 1, w + 1), np.float32)
    canvas[:, :h, :w] = above
    canvas = canvas.reshape(n * (h + 1), w + 1)
    count, labels, stats, _ = cv2.connectedComponentsWithStats((canvas > bubbles.STROKE_TRACE).astype(np.uint8), connectivity=8)
    peak = np.zeros(count, np.float32)
    np.maximum.at(peak, labels.ravel(), canvas.ravel())
    left, top, width, height, area = stats[1:count].T
    box, top = top // (h + 1), top % (h + 1)
    crossing = ((left == 0) & (width >= w) & (height < h)) | ((top == 0) & (height >= h) & (width < w / 3))
    spread = (width >= bubbles.STROKE_EXTENT * w) & (height >= bubbles.STROKE_EXTENT * h)
    stroke = (area <= bubbles.STROKE_THICK * (width + height)) & ~crossing & spread & (peak[1:count] > bubbles.STROKE_LEVEL)
    np.maximum.at(result, box[stroke], np.hypot(width, height)[stroke] / float(np.hypot(w, h)))
    return result


def test_stroke_lengths_traces_only_boxes_that_can_hold_a_stroke_and_loses_none() -> None:
    """Boxes with no pixel reaching ``STROKE_LEVEL`` are not traced: every length is the one tracing every box gives."""
    rng = np.random.default_rng(8)
    n, h, w = 120, 18, 24
    patches = rng.normal(235, 6, (n, h, w)).clip(0, 255).astype(np.float32)
    patches[:, 8:10, 6:18] -= 60  # the printed letter
    for k in range(0, n - 2, 7):  # a tick in some boxes, a faint one in others, a fill, a crease
        rr = np.arange(3, 16)
        patches[k, rr, 4 + rr] -= 90 if k % 2 else 25
        patches[k + 1, 3:15, 4:20] -= 120 * (k % 3 == 0)
        patches[k + 2, 9, :] -= 50
    groups = np.repeat(np.arange(10, 14), n // 4)
    groups[:6] = -1
    levels = Levels(240.0, 20.0, 0.0)
    expected = _strokes_traced_on_every_box(patches, groups, levels)
    assert np.count_nonzero(expected) >= 5
    assert np.array_equal(bubbles.stroke_lengths(patches, groups, levels), expected)
    blank = np.full((n, h, w), 235, np.float32)
    assert np.array_equal(bubbles.stroke_lengths(blank, groups, levels), np.zeros(n))


def _ringed(side_grey: tuple[float, float], rows: slice = slice(None)) -> np.ndarray:
    """One box's ``ring_patches`` (box 12×8 px, ring 3 px) on white paper, its left and right strips
    ``side_grey`` on ``rows`` of the box."""
    patch = np.full((14, 18), 250.0)
    box_rows = patch[3:11]
    box_rows[rows, :3] = side_grey[0]
    box_rows[rows, 15:] = side_grey[1]
    return patch


def test_side_paper_reads_each_row_of_the_left_and_the_right_strip() -> None:
    rings = np.stack([_ringed((200.0, 220.0), slice(0, 4)), _ringed((250.0, 250.0))])
    side = bubbles.side_paper(rings, 3)
    assert side.shape == (2, 2, 8)
    assert np.allclose(side[0, 0, :4], 200.0) and np.allclose(side[0, 1, :4], 220.0)
    assert np.allclose(side[0, :, 4:], 250.0) and np.allclose(side[1], 250.0)


def test_a_band_darkens_both_sides_of_a_row_and_a_spill_only_one() -> None:
    levels = bubbles.Levels(white=250.0, black=20.0, empty_box=0.0)
    rings = np.stack([
        _ringed((227.0, 227.0)),           # a band across the page: both sides, every row (0.1 dark)
        _ringed((227.0, 250.0)),           # a neighbour's spill: one side
        _ringed((227.0, 227.0), slice(0, 4)),  # a band over half the box's rows
        _ringed((100.0, 100.0)),           # darker than any fold's shading: only the cap is taken
    ] + [_ringed((250.0, 250.0))] * 4)
    band = bubbles.band_shade(bubbles.side_paper(rings, 3), levels)
    assert band[0] == pytest.approx(0.1)
    assert band[1] == 0.0
    assert band[2] == pytest.approx(0.05)
    assert band[3] == bubbles.BAND_SHADE_MAX
    assert not band[4:].any()


def test_side_paper_is_the_rings_75th_percentile_row_by_row_at_six_pixels_a_mm() -> None:
    """At the reader's 6 px/mm each side strip is 5 pixels wide: its second-brightest pixel is ``np.percentile``'s 75th."""
    margin = bubbles.ring_margin(6.0)
    assert margin == 5
    rings = np.random.default_rng(3).integers(0, 256, (40, 19 + 2 * margin, 31 + 2 * margin)).astype(np.uint8)
    inner = rings[:, margin:-margin].astype(float)
    expected = np.stack([np.percentile(inner[:, :, :margin], bubbles.RING_PERCENTILE, axis=2),
                         np.percentile(inner[:, :, -margin:], bubbles.RING_PERCENTILE, axis=2)], axis=1)
    assert np.array_equal(bubbles.side_paper(rings, margin), expected)


def test_a_flat_run_in_a_question_a_fold_band_crosses_is_the_crease_not_a_stroke() -> None:
    # a crease's run merged with a piece of the letter: 0.55 long, rising 0.4 of the window, the band 0.05 beside every box
    crease = dict(single=True, coverage=[0.02, 0, 0, 0], stroke=[0.55, 0, 0, 0], rise=[0.4, 0, 0, 0])
    assert decide([0.05, 0.0, 0.0, 0.0], band=0.05, **crease).outcome == "blank"
    # without the band beside every box, on a black-and-white page, or rising like a tick's legs: a stroke, flagged
    assert decide([0.05, 0.0, 0.0, 0.0], band=0.01, **crease).outcome == "flagged"
    assert decide([0.05, 0.0, 0.0, 0.0], band=0.05, binary=True, **crease).outcome == "flagged"
    tick = dict(crease, rise=[0.75, 0, 0, 0])
    assert decide([0.05, 0.0, 0.0, 0.0], band=0.05, **tick).outcome == "flagged"
    long_run = dict(crease, stroke=[0.75, 0, 0, 0])
    assert decide([0.05, 0.0, 0.0, 0.0], band=0.05, **long_run).outcome == "flagged"


def test_a_short_run_over_a_floor_keeping_much_of_the_boxs_darkness_is_a_residues_blotches() -> None:
    # a copier's light residue beside the answer: a short run (0.55) over a floor of 0.045, 0.45 of its darkness
    common = dict(single=True, coverage=[1.0, 0.12], whole=[0.9, 0.06], film=[0.8, 0.07], stroke=[0.0, 0.55])
    blotches = decide([0.8, 0.1], floor=[0.75, 0.045], **common)
    assert (blotches.outcome, blotches.letters, blotches.note) == ("answer", "A", "erasure")
    # …and so is a lighter one, 0.3 of its darkness (a copier's film is blotchier than a scanner's)
    light = decide([0.8, 0.1], floor=[0.75, 0.03], **common)
    assert (light.outcome, light.note) == ("answer", "erasure")
    # a tick's run stands on paper: its floor is a sliver of its darkness, or too light to be a film at all
    assert decide([0.8, 0.1], floor=[0.75, 0.01], **common).outcome == "flagged"
    assert decide([0.8, 0.12], floor=[0.75, 0.028], **common).outcome == "flagged"  # 0.23 of its darkness
    assert decide([0.8, 0.06], floor=[0.75, 0.022], **common).outcome == "flagged"  # under STROKE_ON_FLOOR_LEAST
    # a long run is a line a person sees, whatever it stands on
    assert decide([0.8, 0.1], floor=[0.75, 0.045], **dict(common, stroke=[0.0, 0.75])).outcome == "flagged"


# -- one speck off the letter on a clean black-and-white page (speck_threshold) ----------------------


def test_a_clean_black_and_white_pages_speck_off_the_letter_counts_a_speckled_pages_does_not() -> None:
    one_pixel = 1 / 36  # mm² at 6 px/mm
    clean = np.zeros(400)
    clean[:8] = one_pixel  # 2 % of the boxes hold a speck: a few light ticks' remains
    assert bubbles.speck_threshold(clean) == bubbles.OFF_LETTER_SPECK
    speckled = np.zeros(400)
    speckled[:40] = one_pixel  # 10 %: the device's own specks
    speckled[40:45] = 0.5  # real strokes are not specks
    assert bubbles.speck_threshold(speckled) == bubbles.OFF_LETTER_MARK
    assert bubbles.speck_threshold(np.zeros(0)) == bubbles.OFF_LETTER_MARK


def test_on_a_clean_black_and_white_page_one_pixel_of_a_tick_off_the_letter_beside_fills_is_flagged() -> None:
    # A, C filled; B holds a light tick whose black lies mostly where the letter is printed: as dark as
    # an empty box's specks, with one pixel (and its neighbour) away from the letter.
    measured = dict(coverage=[1.0, 0.02, 0.98, 0.0], whole=[0.95, 0.015, 0.93, 0.0], off_letter=[6.5, 1 / 36, 6.8, 0.0])
    darkness = [0.97, 0.025, 0.96, 0.004]  # B no darker than an empty box's specks
    assert decide(darkness, single=False, binary=True, **measured).letters == "AC"  # the 3-pixel rule alone: empty
    flagged = decide(darkness, single=False, binary=True, speck=bubbles.OFF_LETTER_SPECK, **measured)
    assert (flagged.outcome, flagged.note) == ("flagged", "uncertain:B")
    # a speckled page's speck is no evidence; nor is a grey page's (there a letter is cancelled by its label's empties)
    assert decide(darkness, single=False, binary=True, speck=bubbles.OFF_LETTER_MARK, **measured).letters == "AC"
    assert decide(darkness, single=False, speck=bubbles.OFF_LETTER_SPECK, **measured).letters == "AC"
    # alone in its question, such a tick is not read as blank
    alone = dict(coverage=[0.0, 0.02, 0.0, 0.0], whole=[0.0, 0.01, 0.0, 0.0], off_letter=[0.0, 1 / 36, 0.0, 0.0])
    assert decide([0.0, 0.025, 0.0, 0.0], single=True, binary=True, **alone).outcome == "blank"
    lone = decide([0.0, 0.025, 0.0, 0.0], single=True, binary=True, speck=bubbles.OFF_LETTER_SPECK, **alone)
    assert (lone.outcome, lone.note) == ("flagged", "uncertain:B")
    # a speck in a box no darker than an empty one is the device's or a stray dot, not a tick
    assert decide([0.0, 0.008, 0.0, 0.0], single=True, binary=True, speck=bubbles.OFF_LETTER_SPECK, **alone).outcome == "blank"


def test_a_lighter_fill_over_about_half_the_box_gathered_in_part_of_it_is_a_half_fill() -> None:
    """Measured on a simulated scanning-app page (seed 23, 100 questions, sheet-0072, question 50): a faint half-fill
    in A, the app's sharpening spreading it to 0.52 of the whole box (half-fills elsewhere 0.47 at most), its floor
    0.23 of its mean. Before ``HALF_FILL_WHOLE`` it read as the answer A with no flag (the lighter-fill rules ask
    for half the box)."""
    measured = dict(
        single=True, valid=4, own=0.625, coverage=[0.842, 0.0, 0.0, 0.0], whole=[0.521, 0.0, 0.0, 0.0],
        film=[0.403, 0.0, 0.0, 0.0], floor=[0.111, 0.0, 0.0, 0.0], off_letter=[1.806, 0.0, 0.0, 0.0],
        stroke=[0.0] * 4, shaded=[0.008] * 4,
    )
    half = decide([0.472, 0.009, 0.007, 0.005], **measured)
    assert (half.outcome, half.note) == ("flagged", "uncertain:A")
    # the same light pencil over three fifths of the box, or over half of it but spread evenly, is this student's
    # lighter fill: read
    even = decide([0.472, 0.009, 0.007, 0.005], **dict(measured, floor=[0.3, 0.0, 0.0, 0.0]))
    assert (even.outcome, even.letters) == ("answer", "A")
    spread = decide([0.472, 0.009, 0.007, 0.005], **dict(measured, whole=[0.6, 0.0, 0.0, 0.0]))
    assert (spread.outcome, spread.letters) == ("answer", "A")
    lighter = decide([0.36, 0.009, 0.007, 0.005], **dict(measured, whole=[0.6, 0.0, 0.0, 0.0], film=[0.36, 0.0, 0.0, 0.0]))
    assert (lighter.outcome, lighter.letters) == ("answer", "A")


def test_pencil_dark_over_part_of_a_box_whose_floor_is_paper_is_not_an_even_film_of_residue() -> None:
    """Measured on a simulated faded page (seed 41, 30 questions, sheet-0053, question 29, answer AC): a faint
    half-fill in B, 0.2 dark with pencil-dark pixels over 0.29 of the interior, its median pixel 0.92 of its mean but
    its floor 0.27 of it. It passed for an even film of erasure beside the two fills and the question read AC with
    no flag. Residue holding that much pencil-dark keeps a third of its mean or more (``GATHERED_SPREAD_*``)."""
    measured = dict(
        single=False, own=0.44, coverage=[0.969, 0.292, 1.0, 0.0, 0.0], whole=[0.75, 0.16, 0.876, 0.0, 0.0],
        film=[0.451, 0.187, 0.477, 0.0, 0.0], floor=[0.332, 0.055, 0.43, 0.0, 0.0],
        off_letter=[0.306, 0.0, 1.667, 0.0, 0.0], stroke=[0.0] * 5, shaded=[0.0] * 5,
    )
    values = [0.44, 0.203, 0.473, 0.0, 0.001]
    faint = decide(values, **measured)
    assert (faint.outcome, faint.note) == ("flagged", "uncertain:B")
    # the same film with its floor a third of its mean is rubbed pencil: read, with the erasure noted
    rubbed = decide(values, **dict(measured, floor=[0.332, 0.07, 0.43, 0.0, 0.0]))
    assert (rubbed.outcome, rubbed.letters, rubbed.note) == ("answer", "AC", "erasure")
    # and so is one with its floor that low but hardly any pencil-dark pixels (a faded page's erasure)
    faded = decide(values, **dict(measured, coverage=[0.969, 0.1, 1.0, 0.0, 0.0]))
    assert (faded.outcome, faded.letters, faded.note) == ("answer", "AC", "erasure")
    # and one as gathered that is light against the student's marks (0.27 of them: residue, seed 0's scan-messy
    # sheet-0025 question 3 measures 0.24)
    light = decide([0.44, 0.12, 0.473, 0.0, 0.001], **dict(
        measured, film=[0.451, 0.11, 0.477, 0.0, 0.0], floor=[0.332, 0.033, 0.43, 0.0, 0.0]))
    assert (light.outcome, light.letters, light.note) == ("answer", "AC", "erasure")


def test_one_leg_of_a_tick_rising_most_of_the_box_is_a_stroke() -> None:
    """Measured on a simulated phone photo (stress set, seed 47, 100 questions, sheet-0008, question 67): a light tick
    over C that a person sees at a glance. The photo's blur thinned it where its legs meet and the tracer kept the long
    leg alone: 0.485 of the window's diagonal (``STROKE_SPAN`` asks for 0.5), rising 0.67 of its height, the box 0.04
    dark with no pencil-dark pixel. It read as a blank with no flag."""
    measured = dict(single=True, coverage=[0.0] * 4, whole=[0.0, 0.0, 0.007, 0.0], film=[0.0, 0.0, 0.039, 0.0],
                    floor=[0.0, 0.0, 0.004, 0.0], off_letter=[0.0] * 4, shaded=[0.0] * 4, own=0.57)
    leg = decide([0.0, 0.0, 0.04, 0.0], stroke=[0.0, 0.0, 0.485, 0.0], rise=[0.0, 0.0, 0.667, 0.0], **measured)
    assert (leg.outcome, leg.note) == ("flagged", "uncertain:C")
    # as short a run lying flat is no tick's leg (a crease's piece, a blotch): the box is empty
    flat = decide([0.0, 0.0, 0.04, 0.0], stroke=[0.0, 0.0, 0.485, 0.0], rise=[0.0, 0.0, 0.4, 0.0], **measured)
    assert flat.outcome == "blank"
    # and on a black-and-white page, whose specks line up into runs, only BINARY_STROKE_SPAN is a stroke
    specks = decide([0.0, 0.0, 0.02, 0.0], stroke=[0.0, 0.0, 0.485, 0.0], rise=[0.0, 0.0, 0.667, 0.0], binary=True,
                    **dict(measured, off_letter=None))
    assert specks.outcome == "blank"


def test_a_tick_among_a_label_s_few_boxes_mostly_marked_is_traced_against_its_empty_ones() -> None:
    """Simulated stress set (seed 61, 30 questions, sheet-0027, question 28) on five kinds of photo: "E" is printed in 9
    boxes, five of them filled, one lightly half-filled, one ticked and two empty. The label's empty box was the median
    of its brighter half (two empty, the tick, the half-fill, a fill): where the tick ran it held the half-fill's grey,
    the tick traced as nothing, and the question read as its fill at C with no flag. The brightest third's median is
    the empty box."""
    patches = np.full((9, 15, 25), 240, np.uint8)
    for patch in patches:
        cv2.rectangle(patch, (9, 4), (15, 10), 150, 1)  # the printed letter
    for k, grey in zip(range(2, 7), (60, 63, 66, 69, 72)):
        patches[k] = np.minimum(patches[k], grey)  # five fills
    patches[7, 2:13, 2:23] = np.minimum(patches[7, 2:13, 2:23], 195)  # a light half-fill over the whole interior
    tick = np.full((15, 25), 255, np.uint8)
    cv2.line(tick, (4, 8), (9, 12), 185, 1)
    cv2.line(tick, (9, 12), (21, 2), 185, 1)
    patches[8] = (patches[8] * (tick / 255.0)).astype(np.uint8)  # pencil darkens paper and letter alike
    groups = np.zeros(9, int)
    stroke, _, _, _ = bubbles.trace_strokes(patches, groups, Levels(240.0, 20.0, 0.0))
    assert stroke[8] >= bubbles.STROKE_SPAN
    assert stroke[[0, 1]].max() == 0.0
    (_, template), = bubbles.label_templates(patches, groups)
    assert np.array_equal(template, patches[0].astype(np.float32))  # the empty box, letter and all


def test_a_light_smudge_over_a_box_s_letter_is_a_mark_however_little_it_darkens_the_box() -> None:
    """Measured on a simulated copier page (stress seed 71, 30 questions, sheet-0020, question 26): fills at C and D
    and a deliberately faint smudge over E's letter that a person sees, 0.049 dark and 0.079 covered — under
    ``EMPTY`` and ``COVERED``, with no thin stroke in it. It read as CD with no flag. Its pencil is one run over 0.37
    of the window (``SMUDGE_AREA``)."""
    measured = dict(single=False, coverage=[0.0, 0.0, 1.0, 0.946, 0.0785], whole=[0.0, 0.0, 1.0, 0.765, 0.035],
                    film=[0.0, 0.0, 0.63, 0.634, 0.024], floor=[0.003, 0.0, 0.594, 0.369, 0.0], own=0.547,
                    stroke=[0.0] * 5, labels="ABCDE")
    values = [0.0, 0.0, 0.637, 0.615, 0.049]
    smudged = decide(values, smudge=[0.0, 0.0, 0.0, 0.0, 0.368], **measured)
    assert (smudged.outcome, smudged.note) == ("flagged", "uncertain:E")
    assert decide(values, **measured).letters == "CD"  # without it: read as the fills alone
    # an empty box's runs stay far smaller (at most 0.18 on 441,534 grey-page boxes that measure empty, but one)
    assert decide(values, smudge=[0.0, 0.0, 0.0, 0.0, 0.18], **measured).letters == "CD"
    # on a black-and-white page specks run together: no smudge is weighed there (its box lighter than BINARY_EMPTY)
    specks = [0.0, 0.0, 0.637, 0.615, 0.02]
    assert decide(specks, smudge=[0.0, 0.0, 0.0, 0.0, 0.368], binary=True, **dict(measured, film=None, floor=None)).letters == "CD"


def test_trace_strokes_measures_the_largest_run_of_any_shape() -> None:
    patches = np.full((9, 15, 25), 240, np.uint8)
    for patch in patches:
        cv2.rectangle(patch, (9, 4), (15, 10), 150, 1)  # the printed letter
    patches[8, 4:12, 6:19] = (patches[8, 4:12, 6:19] * 0.8).astype(np.uint8)  # a light blob over the letter
    smudge = np.full(9, np.nan)
    stroke, _, _, _ = bubbles.trace_strokes(patches, np.zeros(9, int), Levels(240.0, 20.0, 0.0), smudge=smudge)
    assert stroke[8] == 0.0  # no thin stroke…
    assert smudge[8] == pytest.approx(8 * 13 / (15 * 25))  # …but a run over the blob's whole extent
    assert smudge[:8].max() == 0.0


def test_an_even_light_fill_over_half_as_dark_as_the_student_s_marks_is_no_erasure() -> None:
    """Measured on a simulated copier page (stress seed 73, 100 questions, sheet-0004, question 30): a light-handed
    student (clear marks 0.45 dark) filled B and, lighter and evenly, C — 0.26 dark, 0.57 of their marks. An even film
    beside a fill reads as erasure (``FLOOR_RESIDUE_*``): it read B with no flag. Residue never reaches
    ``RESIDUE_OWN_SHARE`` of the student's marks."""
    measured = dict(single=False, coverage=[0.0, 1.0, 0.273, 0.0], whole=[0.0, 0.849, 0.172, 0.0],
                    film=[0.001, 0.517, 0.226, 0.0], floor=[0.0, 0.472, 0.202, 0.004], stroke=[0.0] * 4)
    values = [0.001, 0.554, 0.256, 0.002]
    light = decide(values, own=0.449, **measured)
    assert (light.outcome, light.note) == ("flagged", "uncertain:C")
    # the same film beside a student whose marks are twice as dark is erasure
    assert decide(values, own=0.9, **measured).note == "erasure"
