"""Item-writing flaws: questions that can be answered by test-wiseness, found before they are printed.

Pure functions on ``Bank``/``Question``; every finding is a ``Problem`` (the same
object ``bank validate`` prints) with a stable code, the question's file and
line, and a short Chinese reason. The checks follow the item-writing
guidelines of Haladyna, Downing and Rodriguez and the habits of Chinese exam
writers. ``lint_banks`` runs them; ``cue_pairs`` gives the pairs of questions
that must never share a paper (``exam/selection.py`` uses it).

Levels: a finding that gives the answer away (or that a candidate cannot
answer without a text never shown) is an ``error``; a style matter is a
``warning``. ``LintSettings`` holds every threshold (README, "bank lint").
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace

from papergen.bank.model import LETTERS, Bank, HasProblems, Problem, Question
from papergen.bank.similarity import find_similar, normalize, overlap

#: code → (level, what it finds). The codes are stable: scripts and --select use them.
CHECKS: dict[str, tuple[str, str]] = {
    "long-key": ("error", "单选题答案明显长于每个干扰项"),
    "one-wrong-option": ("error", "多选题只有一个错误选项"),
    "absolute-distractor": ("error", "错误选项带绝对化词语（绝对、一切、永远……）"),
    "unseen-material": ("error", "题干引用考生看不到的材料、文章或作者观点"),
    "all-of-above": ("warning", "选项为“以上都对/以上都不对”之类"),
    "negative-stem": ("warning", "否定题干的否定词未加强调"),
    "stem-echo": ("warning", "题干中的词只在答案里重复出现"),
    "key-form": ("warning", "只有答案的形式与其他选项不同"),
    "key-position": ("warning", "全库单选题答案字母分布明显不均"),
    "cross-cue": ("error", "一题的题干说出了另一题的答案"),
    "duplicate-fact": ("warning", "两题考同一事实（题干加答案高度相似）"),
}

#: Words that make a statement absolute, and so easy to rule out. Each entry
#: is a regular expression; "只要…就" allows up to 20 characters between, and
#: "所有" is not the one in 所有制/所有权/所有者.
ABSOLUTE_WORDS = (
    "绝对", "一切", "所有(?![制权者])", "完全", "永远", "终身", "取代", "必须", "从不", "从来不", "从未", "一律", "全部",
    "任何", "毫无", "彻底", "唯一", "总是", "一定", "根本不", "代替", "替代", "代行", "包办", "一刀切", "全盘", "全额",
    "一概", "凡是", "统统", "无一例外", "只要.{0,20}?就",
)
_ABSOLUTE = re.compile("|".join(ABSOLUTE_WORDS))

#: Stems that point at a text the candidate never sees. Each entry is a regular
#: expression; the words that also have an everyday sense are only taken in
#: their referring use ("入党材料" and "做好这篇大文章" are not references).
MATERIAL_WORDS = (
    "(?:根据|按照|依据|结合|阅读|据|该|上述|以下|下列|本|给定|所给|符合|在)材料",
    "^材料",
    "材料(?:中|里|所|的|对|把|将|指出|提到|认为|要求|强调|提出|提倡|列举|显示|表明|反映|介绍|称)",
    "(?<![篇大做])文章(?!的写作)", "本文", "上文", "下文", "文中", "论文", "(?<![的工创写])作者(?!是)", "该书", "本书", "该文",
    "以下段落", "上述段落", "这段话", "该段", "原文", "报道中", "调研报告", "一文", "案例中", "该案例",
)
#: "该市/该区/该县/该地" refer back: to a text, unless the stem itself named the place before.
_ANAPHORA = re.compile(r"该([市区县])|该地")
#: Anonymised places ("D区", "A市") only exist inside the source text.
_MATERIAL = re.compile("|".join(MATERIAL_WORDS) + r"|(?<![A-Za-z])[A-Z][省市区县镇村]")
#: Common surnames; "<surname><1–2 characters>认为/指出/…" is read as a named author.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏"
    "韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_AUTHOR = re.compile(
    f"(?<![\u4e00-\u9fff])[{SURNAMES}][\u4e00-\u9fff]{{1,2}}(?:教授|研究员|老师|博士|先生|等人|等)?"
    "(?:在[^，。：；]{0,12}?)?(?:认为|指出|提出|主张|写道|论述|介绍|调研|在文中|在论文|的论文|的文章|的研究|一文)"
)
_QUOTED_CLAIM = re.compile(r"(?:认为|指出|提出|主张|写道)[，,：:]?“[^”]{6,}”")

#: All-of-the-above and none-of-the-above options.
_ALL_OF_ABOVE = re.compile(r"^(?:以上|上述)(?:选项|说法|各项|答案|做法)?(?:都|均|全|全部|皆)(?:对|正确|是|不对|不正确|错误|不是|符合|不符合)?$"
                           r"|^(?:以上|上述)(?:选项|说法|各项)?(?:全部|都不|均不|皆非|皆是|均是|都是)")

#: Negative words that turn a stem into "which is NOT …" (in the stem's last sentence).
NEGATIVE_WORDS = (
    "不属于", "不是", "不包括", "不包含", "不正确", "不符合", "不恰当", "不准确", "不妥", "不应", "不在",
    "不涉及", "不体现", "错误", "有误", "除外",
)
_NEGATIVE = re.compile("|".join(sorted(NEGATIVE_WORDS, key=len, reverse=True)))
#: Emphasis marks a printed paper shows: “不属于”, 【不属于】, 「不属于」, 『不属于』, **不属于**.
_EMPHASIS_SPANS = re.compile(r"“[^”]*”|【[^】]*】|「[^」]*」|『[^』]*』|\*\*[^*]+\*\*|\"[^\"]*\"")
#: An emphasis span longer than this is a quotation, not an emphasised word.
MAX_EMPHASIS_CHARS = 6


@dataclass(frozen=True)
class LintSettings:
    """Every threshold of the lint (``--set NAME=VALUE`` on the command line)."""

    #: long-key: the key at least this many times longer than every distractor.
    length_ratio: float = 1.5
    #: long-key: keys shorter than this many characters are never "long".
    min_key_chars: int = 4
    #: stem-echo: shortest run of characters shared by stem and key (only).
    echo_chars: int = 3
    #: key-position: fewest single-choice questions to judge the distribution on.
    position_min_questions: int = 20
    #: key-position: chi-square p-value below which the distribution is "far from uniform".
    position_p: float = 0.01
    #: cross-cue: shortest key (characters, without punctuation) looked for in other stems.
    cue_min_chars: int = 4
    #: cross-cue: a key shorter than ``cue_long_chars`` found in more than this many other
    #: stems is the bank's common vocabulary ("党建工作"), not a cue.
    cue_common_stems: int = 5
    #: cross-cue: keys at least this long are always a cue, however many stems state them.
    cue_long_chars: int = 8
    #: duplicate-fact: trigram overlap coefficient (shared over the smaller set) of the
    #: stem-plus-key texts; a question asking "when" of a fact another asks "who" of scores ≈ 0.55.
    fact_similarity: float = 0.5
    #: duplicate-fact: a trigram in the stem-plus-key of more than this many questions is the
    #: bank's vocabulary ("新就业群体", a case's recurring name) and no evidence of a shared fact.
    fact_common_questions: int = 15
    #: key-form: an option is "several items in a list" only when every part between 、/；
    #: has at most this many characters ("来源广、流动强"); a sentence with a 、 inside is not.
    list_item_chars: int = 10

    @classmethod
    def with_overrides(cls, pairs: Iterable[str]) -> "LintSettings":
        """``["length_ratio=2", …]`` → settings; ``ValueError`` with a Chinese message when wrong."""
        settings = cls()
        known = {f.name: f for f in fields(cls)}
        for pair in pairs:
            name, sep, value = pair.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in known:
                raise ValueError(f"未知的设置 {pair!r}；可用：{'、'.join(known)}")
            kind = int if known[name].type in (int, "int") else float
            try:
                number = kind(value.strip())
            except ValueError:
                raise ValueError(f"设置 {name} 需要{'整数' if kind is int else '数字'}，得到 {value!r}") from None
            if number <= 0:
                raise ValueError(f"设置 {name} 必须大于 0，得到 {value!r}")
            settings = replace(settings, **{name: number})
        if settings.fact_similarity > 1 or settings.position_p >= 1:
            raise ValueError("fact_similarity 须在 (0, 1]，position_p 须在 (0, 1)")
        return settings


@dataclass
class LintReport(HasProblems):
    problems: list[Problem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Findings per code, in ``CHECKS`` order (codes with none left out)."""
        found = Counter(p.code for p in self.problems)
        return {code: found[code] for code in CHECKS if found[code]}


def parse_codes(text: str | None) -> set[str]:
    """``"long-key,cross-cue"`` → the set; ``ValueError`` naming an unknown code."""
    if not text:
        return set()
    codes = {part.strip() for part in re.split(r"[,，\s]+", text) if part.strip()}
    unknown = sorted(codes - set(CHECKS))
    if unknown:
        raise ValueError(f"未知的检查代码 {'、'.join(unknown)}；可用：{', '.join(CHECKS)}")
    return codes


def lint_banks(
    banks: Sequence[Bank],
    settings: LintSettings | None = None,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
) -> LintReport:
    """Run the checks on ``banks`` (question checks, then bank-level, then across questions)."""
    settings = settings or LintSettings()
    wanted = set(select) if select else set(CHECKS)
    wanted -= set(ignore)
    problems: list[Problem] = []
    for bank in banks:
        for question in bank.questions:
            for code, message in question_findings(question, settings):
                problems.append(_problem(code, f"题目 {question.id}：{message}", bank, question))
        for code, message in bank_findings(bank, settings):
            problems.append(Problem(CHECKS[code][0], code, message, bank.path, None))
    for code, (first_bank, first), (second_bank, second), message in pair_findings(banks, settings):
        where = f"{first_bank.path}:{first.line}"
        problems.append(_problem(code, f"题目 {second.id} 与 {first.id}（{where}）：{message}", second_bank, second))
    # In file order: a bank's own findings first, then by line (pair findings sit at their later question).
    order = {bank.path: index for index, bank in enumerate(banks)}
    problems.sort(key=lambda p: (order.get(p.path, 0), p.line or 0))
    return LintReport([p for p in problems if p.code in wanted])


def _problem(code: str, message: str, bank: Bank, question: Question) -> Problem:
    return Problem(CHECKS[code][0], code, message, bank.path, question.line)


# ---------------------------------------------------------------------------
# One question


def _chars(text: str) -> int:
    """Length without whitespace and punctuation (what a reader sees as content)."""
    return len(normalize(text))


def question_findings(question: Question, settings: LintSettings) -> list[tuple[str, str]]:
    """``(code, reason)`` for every flaw of one question."""
    found: list[tuple[str, str]] = []
    keys = set(question.answer_indices)
    texts = [option.text for option in question.options]
    wrong = [i for i in range(len(texts)) if i not in keys]
    letter = LETTERS.__getitem__
    # The single key of a single-choice question (None otherwise).
    key = question.answer_indices[0] if question.type == "single" and len(keys) == 1 and wrong else None

    if key is not None:
        key_len = _chars(texts[key])
        longest_other = max(_chars(texts[i]) for i in wrong)
        if key_len >= settings.min_key_chars and key_len >= settings.length_ratio * max(longest_other, 1):
            found.append(("long-key", f"答案 {letter(key)} 有 {key_len} 字，最长的干扰项只有 {longest_other} 字"
                                      f"（≥ {settings.length_ratio:g} 倍），考生凭长度就能猜中"))

    if question.type == "multiple" and len(wrong) == 1:
        found.append(("one-wrong-option", f"只有 {letter(wrong[0])} 一个错误选项，找出它就答对了全题；"
                                          "请至少设两个似是而非的错误选项"))
    for i in wrong:
        match = _ABSOLUTE.search(texts[i])
        if match and not any(_ABSOLUTE.search(texts[k]) for k in keys):
            found.append(("absolute-distractor", f"错误选项 {letter(i)} 含绝对化词语“{match.group()}”，而正确选项没有，"
                                                 "考生凭措辞即可排除"))

    reason = unseen_material(question.stem)
    if reason:
        found.append(("unseen-material", reason))

    for i, text in enumerate(texts):
        if _ALL_OF_ABOVE.search(normalize(text)):
            found.append(("all-of-above", f"选项 {letter(i)}“{text}”：“以上都对/以上都不对”类选项只考排除技巧，"
                                          "请换成一个具体的选项"))

    word = unemphasised_negative(question.stem)
    if word:
        found.append(("negative-stem", f"否定题干中的“{word}”没有加强调，考生容易看漏；"
                                       f"请写成“{word}”（加引号）或【{word}】"))

    if key is not None:
        echo = _stem_echo(question.stem, texts, key, settings.echo_chars)
        if echo:
            found.append(("stem-echo", f"题干中的“{echo}”只在答案 {letter(key)} 中重复出现，考生凭字面呼应即可选出"))
        form = _key_form(texts, key, settings.list_item_chars)
        if form:
            found.append(("key-form", f"只有答案 {letter(key)} {form}，其余选项形式一致"))
    return found


def unseen_material(stem: str) -> str | None:
    """Why the stem cannot be answered without a text the candidate never sees (or ``None``)."""
    match = _MATERIAL.search(stem)
    if not match:
        match = _ANAPHORA.search(stem)
        if match and re.search(f"[\u4e00-\u9fff]{{2,}}{match.group(1) or '[省市区县]'}", stem[: match.start()]):
            match = None
    if match:
        return f"题干提到“{match.group()}”，考生看不到这份材料；请把所考内容直接写进题干，使题目独立成立"
    match = _AUTHOR.search(stem)
    if match and not _QUOTED_CLAIM.search(stem):
        return f"题干问“{match.group()}”的观点，考生没读过这位作者；请写出观点本身，或改问事实"
    return None


def _last_sentence(stem: str) -> str:
    parts = re.split(r"[。！？!?]\s*", stem.rstrip("。！？!? \n"))
    return parts[-1]


def unemphasised_negative(stem: str) -> str | None:
    """The negative word of a "which is NOT" stem when it is not emphasised (else ``None``).

    Convention (README): the negative word is printed inside “”, 【】, 「」 or
    ``**…**``. Only the last sentence is looked at (where the question is
    asked); text inside a longer quotation is a quotation, not the stem's own
    word.
    """
    sentence = _last_sentence(stem)
    spans = [(m.start(), m.end()) for m in _EMPHASIS_SPANS.finditer(sentence)]
    for match in _NEGATIVE.finditer(sentence):
        if not any(start < match.start() and match.end() < end for start, end in spans):
            return match.group()
    return None


def _grams(text: str, n: int) -> set[str]:
    norm = normalize(text)
    return {norm[i : i + n] for i in range(len(norm) - n + 1)}


#: Function characters (particles, conjunctions). A run that begins or ends with one is a
#: shorter word plus grammar ("的党建" is 党建), not an echo of ``echo_chars`` characters.
FUNCTION_CHARS = frozenset("的之与及或和了着")


def _stem_echo(stem: str, texts: list[str], key: int, n: int) -> str | None:
    """A run of ``n`` characters shared by the stem and the key and by no distractor.

    Runs that begin or end with a function character (``FUNCTION_CHARS``) are not counted.
    """
    stem_grams = {g for g in _grams(stem, n) if g[0] not in FUNCTION_CHARS and g[-1] not in FUNCTION_CHARS}
    if not stem_grams:
        return None
    echoed = stem_grams & _grams(texts[key], n)
    if not echoed:
        return None
    for i, text in enumerate(texts):
        if i != key and stem_grams & _grams(text, n):
            return None
    return min(echoed, key=lambda g: normalize(stem).index(g))


_LIST_SEPARATORS = re.compile(r"[、；;]")


def _is_list(text: str, item_chars: int) -> bool:
    """Several short items joined by 、/；, not a sentence that has a 、 inside."""
    parts = _LIST_SEPARATORS.split(text)
    return len(parts) > 1 and all(_chars(part) <= item_chars for part in parts)


def _has(pattern: str) -> Callable[[str, int], bool]:
    compiled = re.compile(pattern)
    return lambda text, _item_chars: bool(compiled.search(text))


#: (what the key has, what it lacks, the test) for each form compared.
_FORMS: tuple[tuple[str, str, Callable[[str, int], bool]], ...] = (
    ("带书名号", "不带书名号", _has(r"《")),
    ("带引号", "不带引号", _has(r"[“\"]")),
    ("含数字", "不含数字", _has(r"[0-9０-９]")),
    ("是并列的几项（、；）", "不是并列的几项（、；）", _is_list),
)


def _key_form(texts: list[str], key: int, item_chars: int = 10) -> str | None:
    """How the key alone differs in form when every distractor (at least 2) agrees."""
    others = [t for i, t in enumerate(texts) if i != key]
    if len(others) < 2:
        return None
    for has, lacks, test in _FORMS:
        in_key = test(texts[key], item_chars)
        in_others = {test(t, item_chars) for t in others}
        if len(in_others) == 1 and in_key not in in_others:
            return has if in_key else lacks
    return None


# ---------------------------------------------------------------------------
# One bank


def bank_findings(bank: Bank, settings: LintSettings) -> list[tuple[str, str]]:
    """Findings about the bank as a whole: the key-letter distribution of single-choice questions."""
    singles = [q for q in bank.questions if q.type == "single" and q.answer]
    if len(singles) < settings.position_min_questions:
        return []
    observed: Counter[str] = Counter(q.answer for q in singles)
    expected: dict[str, float] = defaultdict(float)
    for question in singles:
        for letter in LETTERS[: len(question.options)]:
            expected[letter] += 1 / len(question.options)
    letters = [letter for letter in LETTERS if expected[letter] > 0]
    chi2 = sum((observed[c] - expected[c]) ** 2 / expected[c] for c in letters)
    p = chi_square_sf(chi2, len(letters) - 1)
    if p >= settings.position_p:
        return []
    shown = "、".join(f"{c} {observed[c]}（应约 {expected[c]:.0f}）" for c in letters)
    return [("key-position", f"题库 {bank.id} 的 {len(singles)} 道单选题答案分布：{shown}，"
                             f"与均匀分布相差显著（p = {p:.2g}）；考生可借此猜题")]


def chi_square_sf(x: float, df: int) -> float:
    """P(X ≥ x) for a chi-square variable with ``df`` degrees of freedom (integer)."""
    if df < 1:
        return 1.0
    if x <= 0:
        return 1.0
    half = x / 2
    if df % 2 == 0:
        term, total = math.exp(-half), 0.0
        for k in range(df // 2):
            if k:
                term *= half / k
            total += term
        return min(1.0, total)
    total = math.erfc(math.sqrt(half))
    term = math.exp(-half) * math.sqrt(half) / math.gamma(1.5)
    for k in range(1, (df - 1) // 2 + 1):
        total += term
        term *= half / (k + 0.5)
    return min(1.0, total)


# ---------------------------------------------------------------------------
# Across questions


Located = tuple[Bank, Question]


def pair_findings(banks: Sequence[Bank], settings: LintSettings) -> list[tuple[str, Located, Located, str]]:
    """Cross-cues and duplicate facts: ``(code, first, second, reason)``, first in bank order."""
    located = [(bank, question) for bank in banks for question in bank.questions]
    found: list[tuple[str, Located, Located, str]] = []
    position = {id(q): i for i, (_, q) in enumerate(located)}
    for giver, taker, key_text in _cross_cues(located, settings):
        first, second = sorted((giver, taker), key=lambda item: position[id(item[1])])
        found.append(("cross-cue", first, second,
                      f"题目 {giver[1].id} 的题干写出了题目 {taker[1].id} 的答案“{key_text}”；同卷出现时一题替另一题作答"))
    facts = [_fact_text(question) for _, question in located]
    cued = {frozenset((id(a[1]), id(b[1]))) for _, a, b, _ in found}
    for i, j, score in find_similar(facts, settings.fact_similarity, overlap, settings.fact_common_questions):
        if frozenset((id(located[i][1]), id(located[j][1]))) in cued:
            continue
        found.append(("duplicate-fact", located[i], located[j],
                      f"题干加答案高度重合（重合度 {score:.0%}），考的是同一事实"))
    return found


def _fact_text(question: Question) -> str:
    return "\n".join([question.stem] + [question.options[i].text for i in question.answer_indices])


def _cross_cues(located: list[Located], settings: LintSettings) -> list[tuple[Located, Located, str]]:
    """(giver, taker, key): ``giver``'s stem contains ``taker``'s key option text."""
    stems = [normalize(question.stem) for _, question in located]
    # Inverted index: trigram → stems containing it, to avoid searching every stem.
    postings: dict[str, set[int]] = defaultdict(set)
    for index, stem in enumerate(stems):
        for k in range(len(stem) - 2):
            postings[stem[k : k + 3]].add(index)
    found = []
    seen: set[tuple[int, int]] = set()
    for t_index, (bank, question) in enumerate(located):
        own = stems[t_index]
        distractors = [normalize(question.options[i].text) for i in range(len(question.options))
                       if i not in question.answer_indices]
        for key_index in question.answer_indices:
            text = question.options[key_index].text
            key = normalize(text)
            if len(key) < settings.cue_min_chars or _ALL_OF_ABOVE.search(key) or key in own:
                continue
            if any(key in d for d in distractors):
                continue  # the key is part of a distractor: stating it gives nothing away
            grams = [key[k : k + 3] for k in range(len(key) - 2)] or [key]
            candidates = min((postings.get(g, set()) for g in grams), key=len)
            givers = [g for g in sorted(candidates) if g != t_index and key in stems[g]]
            if len(key) < settings.cue_long_chars and len(givers) > settings.cue_common_stems:
                continue
            for g_index in givers:
                if (g_index, t_index) in seen:
                    continue
                seen.add((g_index, t_index))
                found.append((located[g_index], located[t_index], text))
    return found


def cue_pairs(banks: Sequence[Bank], settings: LintSettings | None = None) -> set[frozenset[str]]:
    """Pairs of question ids that must not share a paper: cross-cues and duplicate facts."""
    settings = settings or LintSettings()
    return {frozenset((a[1].id, b[1].id)) for _, a, b, _ in pair_findings(banks, settings) if a[1].id != b[1].id}


def format_counts(report: LintReport) -> str:
    """``long-key 3，cross-cue 2`` (or ``无``)."""
    counts = report.counts()
    return "，".join(f"{code} {n}" for code, n in counts.items()) or "无"
