"""Property-based tests: the text importer and the bank validator on generated input."""

from __future__ import annotations

import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papergen.bank import importer
from papergen.bank.files import validate_paths
from papergen.bank.formats import cntext
from papergen.bank.model import LETTERS, Bank, Option, Question
from papergen.core.errors import PapergenError

# Text a person would put in a stem or option: Chinese, digits, common punctuation —
# but no line breaks and nothing that starts like a marker.
CHINESE = "新就业群体党建工作暖驿站组织覆盖快递外卖网约车平台企业社区服务管理体制机制"
text = st.text(alphabet=CHINESE + string.digits + "，、“”（）：", min_size=2, max_size=30).map(str.strip).filter(
    lambda s: len(s) >= 2 and not s[0].isdigit() and s[0] not in "（"
)


@st.composite
def questions(draw, index: int = 0) -> Question:
    n = draw(st.integers(2, 8))
    options = draw(st.lists(text, min_size=n, max_size=n, unique_by=lambda s: s.replace(" ", "")))
    multiple = draw(st.booleans())
    size = draw(st.integers(2, n)) if multiple else 1
    answer = "".join(sorted(draw(st.permutations(LETTERS[:n]))[:size]))
    return Question(
        id=f"p-{index:03d}", type="multiple" if multiple else "single", stem=draw(text) + "：",
        options=[Option(o) for o in options], answer=answer, explanation=draw(text), topic="测试/性质",
        difficulty=draw(st.integers(1, 5)), tags=[], source="gen",
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_text_export_then_import_gives_the_same_questions(tmp_path: Path, data) -> None:
    count = data.draw(st.integers(1, 6))
    bank = Bank("gen", "生成的题库", [data.draw(questions(i)) for i in range(count)])
    path = tmp_path / "bank.txt"
    path.write_bytes(cntext.write(bank))
    report = importer.import_file(path, bank_id="gen")
    assert report.errors == [] and report.skipped == 0
    by_id = {q.id: q for q in report.bank.questions}
    for original in bank.questions:
        back = by_id[original.id]
        assert (back.type, back.stem, [o.text for o in back.options], back.answer, back.explanation) == (
            original.type, original.stem, [o.text for o in original.options], original.answer, original.explanation,
        )


# What 公基 stems, options and 解析 lines start with: years, amounts, percentages,
# dates, full-width digits, and numbers with the separators of question numbers.
DIGIT_LEADS = st.sampled_from([
    "2023年", "10余次", "3.5%", "1949年10月1日", "２０２３年", "2．", "3、", "12.", "1.5万", "2024.", "（1）", "7 . ",
])
maybe_digit_text = st.builds(lambda lead, body: lead + body, st.one_of(DIGIT_LEADS, st.just("")), text)


@st.composite
def digit_questions(draw, index: int = 0) -> Question:
    n = draw(st.integers(2, 6))
    options = draw(st.lists(maybe_digit_text, min_size=n, max_size=n, unique_by=lambda s: s.replace(" ", "")))
    multiple = draw(st.booleans())
    size = draw(st.integers(2, n)) if multiple else 1
    answer = "".join(sorted(draw(st.permutations(LETTERS[:n]))[:size]))
    stem = draw(DIGIT_LEADS) + draw(text) + "："
    explanation = "\n".join(draw(st.lists(maybe_digit_text, min_size=1, max_size=3)))
    return Question(
        id=f"d-{index:03d}", type="multiple" if multiple else "single", stem=stem,
        options=[Option(o) for o in options], answer=answer, explanation=explanation, topic="测试/数字",
        difficulty=draw(st.integers(1, 5)), tags=[], source="gen",
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_digit_initial_stems_options_and_explanations_come_back(tmp_path: Path, data) -> None:
    """Every question written with the text writer is read back, none merged, none dropped."""
    count = data.draw(st.integers(1, 8))
    bank = Bank("gen", "数字开头的题", [data.draw(digit_questions(i)) for i in range(count)])
    path = tmp_path / "bank.txt"
    path.write_bytes(cntext.write(bank))
    report = importer.import_file(path, bank_id="gen")
    assert report.errors == [] and report.skipped == 0
    assert [q.id for q in report.bank.questions] == [q.id for q in sorted(bank.questions, key=lambda q: q.type != "single")]
    by_id = {q.id: q for q in report.bank.questions}
    for original in bank.questions:
        back = by_id[original.id]
        assert (back.type, back.stem, [o.text for o in back.options], back.answer, back.explanation) == (
            original.type, original.stem, [o.text for o in original.options], original.answer, original.explanation,
        )


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_the_text_reader_never_crashes(source: str) -> None:
    data = source.encode("utf-8", "surrogatepass").decode("utf-8", "ignore").encode("utf-8")
    try:
        result = cntext.read(data, "x.txt")
    except PapergenError as exc:  # a documented refusal (e.g. NUL bytes), never a crash
        assert exc.path == "x.txt"
        return
    for record in result.records:
        assert isinstance(record.fields["stem"], str) and isinstance(record.fields["options"], list)


YAML_PIECES = st.sampled_from([
    "bank: b\n", "title: t\n", "questions:\n", "  - id: q1\n", "    type: single\n", "    type: multiple\n",
    "    stem: 题干\n", "    options: [甲, 乙]\n", "    options: []\n", "    answer: A\n", "    answer: AB\n",
    "    answer: Z\n", "    topic: 甲/乙\n", "    difficulty: 3\n", "    difficulty: x\n", "  - 5\n", "- x\n",
    "    tags: [a]\n", ": :\n", "&a x\n", "*a\n", "!!str x\n", "    options:\n      - {text: 丙, pin: true}\n",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(YAML_PIECES, max_size=14))
def test_the_validator_reports_instead_of_crashing(tmp_path: Path, pieces: list[str]) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("".join(pieces), encoding="utf-8")
    try:
        report = validate_paths([path])
    except PapergenError as exc:  # pragma: no cover - validate_paths turns these into problems
        raise AssertionError(f"validate_paths raised {exc!r}") from None
    for problem in report.problems:
        assert problem.path == str(path) and problem.code and problem.message
    for bank in report.banks:
        for question in bank.questions:  # anything that passed really is valid
            assert 2 <= len(question.options) <= 8
            assert all(LETTERS.index(letter) < len(question.options) for letter in question.answer)
            assert (len(question.answer) == 1) == (question.type == "single")
