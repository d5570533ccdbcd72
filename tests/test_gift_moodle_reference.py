"""GIFT against Moodle's reader: what Moodle imports, papergen imports (or refuses with a reason).

PHP cannot run here, so ``moodle_reads`` below is a model of how Moodle's
``qformat_gift`` (question/format/gift/format.php in moodle/moodle) and
``qformat_default::readquestions`` read a GIFT file, written for these tests
from the documented behaviour:

- a blank line (after trimming) ends a question; ``//`` lines are blanked;
- escapes ``\\: \\# \\= \\{ \\} \\~ \\n`` and ``\\\\`` are protected first;
- ``::name::``, then the first ``{`` and the first ``}``; the text before and
  after is the question text ("_____" in between unless the text ends with ``}``);
- the last ``####`` starts the general feedback;
- type: no braces → description, empty → essay, ``#…`` → numerical, any ``~``
  → multichoice (``single`` when any ``=``), ``=`` with ``->`` → matching,
  ``T``/``TRUE``/``F``/``FALSE`` → true/false, else short answer;
- multichoice: every ``=`` becomes ``~=``, the text is split at ``~``, a
  blank first piece is dropped; ``=`` is full credit, ``%n%`` (1–2 digits,
  optional fraction, any leading ``-``) a weight, else 0; ``#`` starts the
  answer's feedback; ``[html]`` etc. set a text's format; blank answers are
  dropped when Moodle saves a multichoice question (qtype_multichoice
  ``save_question_options`` skips them).

``test_model_agrees_with_moodles_unit_tests`` holds the model to the parses
Moodle's own unit tests expect (question/format/gift/tests/giftformat_test.php);
the other tests compare papergen with the model on real Moodle GIFT files and
on papergen's own export.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papergen.bank.formats import gift
from papergen.bank.formats.moodle import html_to_text
from papergen.bank.model import LETTERS, Bank, Option, Question
from tests.conftest import FIXTURES, sample_bank
from tests.test_format_gift import awkward_bank

_PROTECT = {":": "\ue000", "#": "\ue001", "=": "\ue002", "{": "\ue003", "}": "\ue004", "~": "\ue005", "n": "\ue006"}
_FORMATS = ("moodle", "html", "plain", "markdown")
_WEIGHT = re.compile(r"^%-*([0-9]{1,2})\.?([0-9]*)%")


def _protect(text: str) -> str:
    text = text.replace("\\\\", "\ue00f")
    for char, mark in _PROTECT.items():
        text = text.replace("\\" + char, mark)
    return text.replace("\ue00f", "\\")


def _restore(text: str) -> str:
    for char, mark in _PROTECT.items():
        text = text.replace(mark, "\n" if char == "n" else char)
    return text


def _with_format(text: str, default: str = "moodle") -> tuple[str, str]:
    fmt = default
    if text.startswith("[") and (end := text.find("]")) > 0 and text[1:end] in _FORMATS:
        fmt, text = text[1:end], text[end + 1 :]
    return _restore(text).strip(), fmt


def _read_question(lines: list[str]) -> dict | None:
    text = "\n".join(" " if line.strip().startswith("//") else line for line in lines).strip()
    if not text:
        return None
    text = _protect(text)
    if text.startswith("$CATEGORY:"):
        return {"qtype": "category", "category": text[10:].strip()}
    name = None
    if text.startswith("::"):
        text = text[2:]
        if (end := text.find("::")) >= 0:
            name, text = _restore(text[:end]).strip(), text[end + 2 :].strip()
    start, finish = text.find("{"), text.find("}")
    if start < 0 and finish < 0:
        return {"qtype": "description", "name": name}
    if start < 0 or finish < 0:
        return {"qtype": "error", "name": name}
    answer_text = text[start + 1 : finish].strip()
    blank = "" if text.endswith("}") else "_____"
    question_text, fmt = _with_format(text[:start] + blank + text[finish + 1 :])
    general = ""
    if (cut := answer_text.rfind("####")) >= 0:
        general, answer_text = answer_text[cut + 4 :], answer_text[:cut].strip()
    q = {"name": name, "questiontext": question_text, "format": fmt, "generalfeedback": _with_format(general, fmt)[0]}
    if answer_text == "":
        return q | {"qtype": "essay"}
    if answer_text[0] == "#":
        return q | {"qtype": "numerical"}
    if "~" in answer_text:
        answers = answer_text.replace("=", "~=").split("~")
        answers[0] = answers[0].strip()
        if not answers[0]:
            answers.pop(0)
        kept = []
        for answer in answers:
            answer = answer.strip()
            if answer.startswith("="):
                weight, answer = 1.0, answer[1:]
            elif _WEIGHT.match(answer):
                body = answer[1:]
                weight, answer = float(body[: body.find("%")]) / 100, body[body.find("%") + 1 :]
            else:
                weight = 0.0
            answer_fmt_text = _with_format(answer.split("#", 1)[0].strip(), fmt)
            if answer_fmt_text[0].strip():  # blank answers are not saved
                kept.append((answer_fmt_text, weight))
        return q | {"qtype": "multichoice", "single": "=" in answer_text, "answers": kept}
    if "=" in answer_text and "->" in answer_text:
        return q | {"qtype": "match"}
    check = answer_text[: answer_text.find("#")].strip() if answer_text.find("#") > 0 else answer_text
    if check in ("T", "TRUE", "F", "FALSE"):
        value = _with_format(answer_text.split("#", 2)[0].strip())[0]
        return q | {"qtype": "truefalse", "correctanswer": int(value in ("T", "TRUE"))}
    return q | {"qtype": "shortanswer"}


def moodle_reads(text: str) -> list[dict]:
    """Every question block of a GIFT file as the model of Moodle reads it (categories included)."""
    questions, current = [], []
    for line in re.split(r"\r\n|\r|\n", text) + [""]:
        line = line.strip()
        if line:
            current.append(line)
        elif current:
            if (question := _read_question(current)) is not None:
                questions.append(question)
            current = []
    return questions


# ---------------------------------------------------------------------------
# The model against Moodle's own unit tests (giftformat_test.php)


def _one(text: str) -> dict:
    [question] = moodle_reads(text)
    return question


def test_model_agrees_with_moodles_unit_tests():
    # test_import_multichoice
    q = _one("""// multiple choice with specified feedback for right and wrong answers
::Q2:: What's between orange and green in the spectrum?
{
    =yellow # right; good!
    ~red # [html]wrong, it's yellow
    ~[plain]blue # wrong, it's yellow
}""")
    assert (q["qtype"], q["name"], q["single"]) == ("multichoice", "Q2", True)
    assert q["questiontext"] == "What's between orange and green in the spectrum?"
    assert q["answers"] == [(("yellow", "moodle"), 1), (("red", "moodle"), 0), (("blue", "plain"), 0)]
    # test_import_multichoice_multi
    q = _one("""::colours:: What's between orange and green in the spectrum?
{
    ~%50%yellow # right; good!
    ~%-100%red # [html]wrong
    ~%50%off-beige # right; good!
    ~%-100%[plain]blue # wrong
}""")
    assert (q["single"], [a[0][0] for a in q["answers"]]) == (False, ["yellow", "red", "off-beige", "blue"])
    assert [a[1] for a in q["answers"]] == [0.5, -1, 0.5, -1]
    # test_import_multichoice_multi_tricky
    q = _one("::colours:: What's between?\n{\n    ~%100%yellow # right; good!\n    ~%-50%red # wrong\n    ~%-50%blue # wrong\n}")
    assert (q["single"], [a[1] for a in q["answers"]]) == (False, [1, -0.5, -0.5])
    # test_import_truefalse, test_import_truefalse_true_answer1/2
    q = _one("// true/false\n::Q1:: 42 is the Absolute Answer to everything.{\nFALSE#42 is the Ultimate Answer.#You gave the right answer.}")
    assert (q["qtype"], q["correctanswer"], q["generalfeedback"]) == ("truefalse", 0, "")
    assert (_one("// name 0-11\n::2-08 TSL::TSL is blablabla.{T}")["correctanswer"], _one("::2-08 TSL::TSL is blablabla.{TRUE}")["name"]) == (1, "2-08 TSL")
    # test_import_shortanswer_with_general_feedback
    q = _one("::Shortanswer::Which is the best animal?{\n    =Frog#Good!\n    =%50%Cat#What?\n    =%0%*#Completely wrong\n    ####[html]Here is some general feedback!\n}")
    assert (q["qtype"], q["generalfeedback"]) == ("shortanswer", "Here is some general feedback!")
    # test_import_essay, test_import_backslash, test_import_pre_content
    assert _one("// essay\n::Q8:: How are you? {}")["questiontext"] == "How are you?"
    assert _one("::double backslash:: A \\\\ B \\\\\\\\ C{}")["questiontext"] == "A \\ B \\\\ C"
    q = _one("::Q001::[html]<p>What would it print?</p>\n<pre>\n    public void test() \\{\n    \\}\n</pre>\n{}")
    assert (q["qtype"], q["format"], q["questiontext"]) == ("essay", "html", "<p>What would it print?</p>\n<pre>\npublic void test() {\n}\n</pre>")
    # test_import_match, test_import_numerical
    assert _one("::Moodle activities::[html]Match.{\n    =[html]An activity. -> Forum\n    = -> Chat\n}")["qtype"] == "match"
    assert _one("::Q5:: What is a number from 1 to 5? {#3:2~#Completely wrong}")["qtype"] == "numerical"


# ---------------------------------------------------------------------------
# papergen against the model


def _plain(text_and_format: tuple[str, str]) -> str:
    text, fmt = text_and_format
    return html_to_text(text) if fmt == "html" else text


def expected_by_moodle(question: dict) -> dict | None:
    """What papergen must make of a question Moodle reads: fields, or None (refused)."""
    stem = re.sub(r"\s*_____\s*", gift.MISSING_WORD, _plain((question.get("questiontext", ""), question.get("format", "moodle"))))
    if question["qtype"] == "truefalse":
        return {"stem": stem, "type": "single", "options": ["正确", "错误"], "answer": "A" if question["correctanswer"] else "B"}
    if question["qtype"] != "multichoice":
        return None
    answers = question["answers"]
    if question["single"]:
        key = "".join(LETTERS[i] for i, (_, weight) in enumerate(answers) if weight >= 1)
        if len(key) != 1:
            return None
    else:
        key = "".join(LETTERS[i] for i, (_, weight) in enumerate(answers) if weight > 0)
        if not key:
            return None
    kind = "multiple" if len(key) > 1 else "single"
    return {"stem": stem, "type": kind, "options": [_plain(text) for text, _ in answers], "answer": key}


@pytest.mark.parametrize(
    "name, found, imported",
    [("moodle_examples.gift", 43, 23), ("moodle_questions.gift", 9, 5), ("course_bank.gift", 9, 8), ("moodle_export.gift", 8, 4)],
)
def test_papergen_imports_what_moodle_imports(name, found, imported):
    text = (FIXTURES / "gift" / name).read_text(encoding="utf-8")
    questions = [q for q in moodle_reads(text) if q["qtype"] not in ("category", "description")]
    expected = [e for e in map(expected_by_moodle, questions) if e is not None]
    result = gift.read(text.encode("utf-8"), name)
    got = [{key: record.fields[key] for key in ("stem", "type", "options", "answer")} for record in result.records]
    assert got == expected
    assert (result.found, len(questions), len(result.records)) == (found, found, imported)
    refused = [p for p in result.problems if p.is_error]
    assert len(refused) == found - imported  # every other question is refused, once
    assert not any("type 改为" in p.message for p in result.problems)


def test_course_bank_right_answer_after_tilde():
    result = gift.read((FIXTURES / "gift" / "course_bank.gift").read_bytes(), "course_bank.gift")
    keys = {r.fields["id"]: (r.fields["type"], r.fields["answer"], r.fields["topic"]) for r in result.records}
    assert keys == {
        "P1": ("single", "A", "三新党建"), "P2": ("single", "B", "三新党建"), "P3": ("single", "B", "三新党建"),
        "P4": ("single", "A", "三新党建"), "P5": ("single", "B", "三新党建"), "P6": ("multiple", "AB", "三新党建"),
        "P8": ("single", "B", "三新党建"), "P9": ("single", "A", "三新党建"),
    }
    p8, p9 = result.records[-2:]
    assert p8.fields["stem"] == "（ ）归口指导新就业群体党建工作。"
    # Two answer blocks: Moodle reads the first; the second stays text, and papergen says so.
    assert p9.fields["stem"] == "党的二十大于（ ）年召开，{~=二十届~十九届}一中全会随后召开。"
    assert [p.line for p in result.problems if p.code == "gift-second-answer-block"] == [p9.line]
    assert result.records[0].fields["options"][0] == "由“两新”党建向“三新”党建的拓展"
    assert result.records[1].fields["stem"] == "习近平总书记强调，探索加强“三新”党建工作，要创新（ ）。"
    text = (FIXTURES / "gift" / "course_bank.gift").read_text(encoding="utf-8")
    description = text.splitlines().index("以下各题考查党建工作机制。") + 1
    assert result.stray == [(description, "以下各题考查党建工作机制。")]


# ---------------------------------------------------------------------------
# What papergen exports, Moodle reads back the same


@pytest.mark.parametrize("bank", [sample_bank(), awkward_bank()], ids=["sample", "awkward"])
def test_moodle_reads_papergens_export_back(bank):
    questions = [q for q in moodle_reads(gift.write(bank).decode("utf-8")) if q["qtype"] != "category"]
    assert len(questions) == len(bank.questions)
    for question, read in zip(bank.questions, questions):
        assert read["qtype"] == "multichoice" and read["name"] == question.id
        assert read["single"] == (question.type == "single")
        assert (read["questiontext"], read["format"]) == (question.stem, "moodle")
        assert read["generalfeedback"] == question.explanation
        assert [text for (text, _), _ in read["answers"]] == [option.text for option in question.options]
        right = "".join(LETTERS[i] for i, (_, weight) in enumerate(read["answers"]) if weight > 0)
        assert right == question.answer
        if question.type == "multiple":
            assert sum(weight for _, weight in read["answers"] if weight > 0) == pytest.approx(1, abs=1e-4)


def test_fixture_folder_cites_every_file():
    folder = FIXTURES / "gift"
    readme = (folder / "README.md").read_text(encoding="utf-8")
    for path in sorted(Path(folder).iterdir()):
        if path.name != "README.md":
            assert f"`{path.name}`" in readme


_texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t~=#{}:\\%[]/$->"),
    min_size=1,
    max_size=30,
).map(lambda s: re.sub(r"\s+", " ", s).strip()).filter(bool)


@settings(max_examples=300, deadline=None)
@given(stem=_texts, options=st.lists(_texts, min_size=2, max_size=4, unique=True), explanation=_texts, multiple=st.booleans())
def test_moodle_reads_any_exported_text_back(stem, options, explanation, multiple):
    answer = "AB" if multiple else "B"
    question = Question("q1", "multiple" if multiple else "single", stem, [Option(o) for o in options], answer, explanation, topic="t")
    [read] = [q for q in moodle_reads(gift.write(Bank("b", "t", [question])).decode("utf-8")) if q["qtype"] != "category"]
    assert (read["qtype"], read["single"], read["questiontext"], read["generalfeedback"]) == ("multichoice", not multiple, stem, explanation)
    assert [text for (text, _), _ in read["answers"]] == options
    assert "".join(LETTERS[i] for i, (_, weight) in enumerate(read["answers"]) if weight > 0) == answer
