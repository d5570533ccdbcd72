"""Registration and `papergen grade` end to end on hand-filled sheets."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from papergen.build import build_exam
from papergen.cli import cli
from papergen.exceptions import ExitCode
from papergen.grading import grade
from papergen.manifest import read_manifest
from papergen.registration import RegistrationError, register
from tests.conftest import ROOT
from tests.sheetfill import blank_sheet, filled_sheet, key_answers, paint

BLUEPRINT = ROOT / "blueprints" / "2026-mock-03.yaml"


@pytest.fixture(scope="module")
def exam(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("grade") / "exam"
    build_exam(BLUEPRINT, out)
    return out


@pytest.fixture(scope="module")
def manifest(exam):
    return read_manifest(exam / "exam.json")


def save_jpeg(image: np.ndarray, path: Path, quality: int = 85) -> Path:
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return path


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def scores(results_dir: Path) -> dict[str, tuple]:
    result = run("results", results_dir, "--format", "json")
    return {r["student_id"]: (r["variant"], r["total"], r["status"], r["flags"]) for r in json.loads(result.output)}


# -- registration -------------------------------------------------------------


def skew(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), borderValue=255)


@pytest.mark.parametrize(
    "transform, rotation",
    [
        (lambda im: im, 0),
        (lambda im: cv2.rotate(im, cv2.ROTATE_180), 180),
        (lambda im: cv2.rotate(im, cv2.ROTATE_90_CLOCKWISE), 90),
        (lambda im: cv2.rotate(im, cv2.ROTATE_90_COUNTERCLOCKWISE), 270),
        (lambda im: skew(im, 3), 0),
        (lambda im: skew(cv2.rotate(im, cv2.ROTATE_180), -2.5), 180),
    ],
)
def test_registration_handles_any_rotation(exam, manifest, transform, rotation: int) -> None:
    image = transform(blank_sheet(exam, dpi=150))
    found = register(image, manifest.sheet)
    assert found.rotation == rotation and found.fiducials == 4
    # the frame corner (0, 0) lands on the top-left fiducial of the transformed page
    corner = found.homography @ np.array([0.0, 0.0, 1.0])
    x, y = corner[:2] / corner[2]
    assert image[int(y), int(x)] < 80


def test_three_fiducials_are_enough(exam, manifest) -> None:
    image = blank_sheet(exam, dpi=150)
    image[:110, :110] = 255  # a staple took the top-left corner square
    assert register(image, manifest.sheet).fiducials == 3


def test_blank_page_and_non_sheet_are_told_apart(exam, manifest) -> None:
    with pytest.raises(RegistrationError) as blank:
        register(np.full((1754, 1240), 250, np.uint8), manifest.sheet)
    assert blank.value.reason == "blank-page"
    text_page = np.full((1754, 1240), 255, np.uint8)
    for row in range(100, 1600, 40):
        cv2.putText(text_page, "This is a question page, not an answer sheet", (80, row), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2)
    with pytest.raises(RegistrationError) as other:
        register(text_page, manifest.sheet)
    assert other.value.reason == "not-a-sheet"


# -- grade ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pile(exam, manifest, tmp_path_factory) -> Path:
    """Four students, one per variant, each answering every question by the key
    except the ones noted; plus an absent student."""
    folder = tmp_path_factory.mktemp("scans")
    for n, variant in enumerate("ABCD"):
        answers = key_answers(manifest, variant)
        if n == 1:
            answers[1] = next(l for l in "ABCD" if l != answers[1])  # one wrong single choice
            del answers[2]  # one blank
        image = filled_sheet(exam, manifest, student_id=f"20260300{n:02d}", variant=variant, answers=answers)
        if n == 3:
            image = cv2.rotate(image, cv2.ROTATE_180)
        save_jpeg(image, folder / f"s{n}.jpg")
    absent = filled_sheet(exam, manifest, student_id="2026030099", variant="A", answers={}, absent=True)
    save_jpeg(absent, folder / "absent.jpg")
    return folder


def test_grade_scores_every_variant_correctly(exam, pile, tmp_path) -> None:
    result = run("grade", exam / "exam.json", pile, "-o", tmp_path / "res", "--workers", "2")
    assert result.exit_code == ExitCode.ok, result.output
    got = scores(tmp_path / "res")
    assert got["2026030000"][:3] == ("A", 60.0, "已评")
    assert got["2026030001"][:3] == ("B", 58.0, "已评")  # one wrong, one blank
    assert got["2026030002"][:3] == ("C", 60.0, "已评")
    assert got["2026030003"][:3] == ("D", 60.0, "已评")  # scanned upside down
    assert got["2026030099"][2] == "缺考" and got["2026030099"][1] == 0


def test_rerun_adds_nothing_and_serial_equals_parallel(exam, pile, tmp_path) -> None:
    grade(exam / "exam.json", [pile], tmp_path / "a", workers=1)
    again = grade(exam / "exam.json", [pile], tmp_path / "a", workers=1)
    assert again.pages_new == 0 and again.pages_skipped == 5
    grade(exam / "exam.json", [pile], tmp_path / "b", workers=2)
    assert dump(tmp_path / "a") == dump(tmp_path / "b")


def dump(results_dir: Path) -> dict[str, list]:
    db = sqlite3.connect(results_dir / "results.sqlite")
    tables = {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in ("pages", "marks", "flags", "sheet_flags")}
    db.close()
    return tables


def test_corrupt_file_in_the_middle_of_a_batch(exam, pile, tmp_path) -> None:
    folder = tmp_path / "scans"
    shutil.copytree(pile, folder)
    data = (folder / "s1.jpg").read_bytes()
    (folder / "s15-truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "s16-empty.jpg").write_bytes(b"")
    (folder / "s17-notes.txt").write_text("not a scan", encoding="utf-8")
    result = run("grade", exam / "exam.json", folder, "-o", tmp_path / "res", "--workers", "1")
    assert result.exit_code == ExitCode.graded_with_errors
    assert "s15-truncated.jpg" in result.output and "不完整" in result.output
    assert "s16-empty.jpg" in result.output and "s17-notes.txt" in result.output
    assert len(scores(tmp_path / "res")) == 5  # everything else graded


def test_flags_are_raised_not_guessed(exam, manifest, tmp_path) -> None:
    answers = key_answers(manifest, "A")
    del answers[5]
    image = filled_sheet(exam, manifest, student_id="2026030050", variant="A", answers=answers)
    boxes = {q.number: q.boxes for q in manifest.sheet.questions}
    single_wrong = next(l for l in "ABCD" if l != answers[3])
    paint(image, manifest, boxes[3]["ABCD".index(single_wrong)], 150)  # two marks on a single choice
    paint(image, manifest, boxes[5][1], 150, value=170, cover=0.45)  # question 5: only a faint half-fill
    folder = tmp_path / "scans"
    folder.mkdir()
    save_jpeg(image, folder / "doubtful.jpg")
    result = run("grade", exam / "exam.json", folder, "-o", tmp_path / "res")
    assert result.exit_code == ExitCode.graded_with_review
    assert "第 3 题填涂了多个选项" in result.output and "第 5 题填涂过浅" in result.output
    (student,) = scores(tmp_path / "res").values()
    assert student[2] == "待复核" and len(student[3]) == 2


def test_duplicate_id_is_flagged_and_both_sheets_kept(exam, manifest, tmp_path) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    for n in range(2):
        save_jpeg(filled_sheet(exam, manifest, student_id="2026030007", variant="A", answers=key_answers(manifest, "A")), folder / f"d{n}.jpg", quality=80 + n)
    result = run("grade", exam / "exam.json", folder, "-o", tmp_path / "res")
    assert result.exit_code == ExitCode.graded_with_review and "准考证号 2026030007 出现在 2 张答题卡上" in result.output
    db = sqlite3.connect(tmp_path / "res" / "results.sqlite")
    assert db.execute("SELECT COUNT(*) FROM pages WHERE student_id = '2026030007'").fetchone()[0] == 2


def test_missing_variant_cannot_be_scored(exam, manifest, tmp_path) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    save_jpeg(filled_sheet(exam, manifest, student_id="2026030008", variant=None, answers=key_answers(manifest, "B")), folder / "v.jpg")
    result = run("grade", exam / "exam.json", folder, "-o", tmp_path / "res")
    assert result.exit_code == ExitCode.graded_with_review and "没有填涂试卷类型" in result.output
    (student,) = scores(tmp_path / "res").values()
    assert student[1] == 0 and student[2] == "待复核"


def test_sheet_of_another_exam_is_rejected_naming_both(exam, manifest, tmp_path) -> None:
    other_bp = tmp_path / "other.yaml"
    other_bp.write_text(
        BLUEPRINT.read_text(encoding="utf-8").replace("../banks/", f"{ROOT}/banks/").replace("exam: 2026-mock-03", "exam: 2026-mock-09"),
        encoding="utf-8",
    )
    other = tmp_path / "other"
    build_exam(other_bp, other)
    other_manifest = read_manifest(other / "exam.json")
    folder = tmp_path / "scans"
    folder.mkdir()
    save_jpeg(filled_sheet(other, other_manifest, student_id="2026030001", variant="A", answers={}), folder / "x.jpg")
    result = run("grade", exam / "exam.json", folder, "-o", tmp_path / "res")
    assert result.exit_code == ExitCode.graded_with_review
    assert "2026-mock-09" in result.output and "2026-mock-03" in result.output


def test_multipage_pdf_and_tiff_in_any_order(exam, manifest, tmp_path) -> None:
    pages = [
        filled_sheet(exam, manifest, student_id=f"20260301{n:02d}", variant="ABCD"[n], answers=key_answers(manifest, "ABCD"[n]))
        for n in range(3)
    ]
    pages[1] = cv2.rotate(pages[1], cv2.ROTATE_180)
    images = [Image.fromarray(p) for p in pages]
    folder = tmp_path / "scans"
    folder.mkdir()
    images[0].save(folder / "copier.pdf", save_all=True, append_images=images[1:], resolution=150)
    ok, tiff = cv2.imencodemulti(".tiff", [pages[2], pages[0], pages[1]])
    assert ok
    (folder / "scanner.tif").write_bytes(tiff.tobytes())
    result = run("grade", exam / "exam.json", folder, "-o", tmp_path / "res")
    # the TIFF holds the same three students again: each id now appears twice
    assert "出现在 2 张答题卡上" in result.output
    got = scores(tmp_path / "res")
    assert {sid: v[1] for sid, v in got.items()} == {f"20260301{n:02d}": 120.0 for n in range(3)}


def test_same_scan_twice_is_graded_once(exam, pile, tmp_path) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    shutil.copy(pile / "s0.jpg", folder / "a.jpg")
    shutil.copy(pile / "s0.jpg", folder / "copy-of-a.jpg")
    summary = grade(exam / "exam.json", [folder, folder / "a.jpg"], tmp_path / "res", workers=1)
    assert summary.pages_total == 1 and summary.exit_code == ExitCode.ok


def test_results_folder_of_another_exam_is_refused(exam, pile, tmp_path) -> None:
    grade(exam / "exam.json", [pile / "s0.jpg"], tmp_path / "res", workers=1)
    db = sqlite3.connect(tmp_path / "res" / "results.sqlite")
    with db:
        db.execute("UPDATE meta SET value = 'someone-else' WHERE key = 'exam'")
    db.close()
    result = run("grade", exam / "exam.json", pile, "-o", tmp_path / "res")
    assert result.exit_code == ExitCode.output_error and "someone-else" in result.output


def test_second_grader_on_the_same_folder_is_refused(exam, pile, tmp_path) -> None:
    import fcntl

    (tmp_path / "res").mkdir()
    with open(tmp_path / "res" / ".papergen-grade.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        result = run("grade", exam / "exam.json", pile, "-o", tmp_path / "res")
    assert result.exit_code == ExitCode.busy and "另一个 papergen grade" in result.output


def test_encrypted_pdf_and_pixel_bomb_are_reported_not_decoded(exam, pile, tmp_path) -> None:
    import struct
    import zlib

    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    folder = tmp_path / "scans"
    shutil.copytree(pile, folder)
    locked = canvas.Canvas(str(folder / "locked.pdf"), encrypt=pdfencrypt.StandardEncryption("secret", canPrint=0))
    locked.drawString(100, 700, "scan")
    locked.save()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    # a PNG whose header claims 30,000 × 30,000 pixels (900 MP): refused from the header alone
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
    bomb += chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")
    (folder / "bomb.png").write_bytes(bomb)
    result = run("grade", exam / "exam.json", folder, "-o", tmp_path / "res", "--workers", "1")
    assert result.exit_code == ExitCode.graded_with_errors
    assert "locked.pdf" in result.output and "加密" in result.output
    assert "bomb.png" in result.output and "30000×30000" in result.output and "PAPERGEN_MAX_PIXELS_MP" in result.output
    assert len(scores(tmp_path / "res")) == 5  # the rest of the batch was graded
