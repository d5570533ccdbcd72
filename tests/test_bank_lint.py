"""``papergen bank lint``: one small hand-made bank per check, with the findings it must give.

The banks are written here, not taken from the sample bank (whose flaws are
being fixed), so each test states exactly which question is flawed and how.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from papergen.bank.files import load_banks
from papergen.bank.lint import (
    CHECKS,
    LintSettings,
    chi_square_sf,
    cue_pairs,
    lint_banks,
    parse_codes,
)
from papergen.cli import cli
from papergen.core.errors import BlueprintError, ExitCode
from papergen.exam.blueprint import load_blueprint
from papergen.exam.selection import select

#: Four plain, well-written single-choice questions: no check finds anything in them.
CLEAN = [
    {"id": "c1", "type": "single", "stem": "负责统筹协调新就业群体党建工作、推动组织覆盖的部门是：",
     "options": ["党委组织部门", "党委宣传部门", "人力资源部门", "市场监管部门"], "answer": "A"},
    {"id": "c2", "type": "single", "stem": "在快递、外卖等行业组建行业党委，这种组织覆盖方式称为：",
     "options": ["单独组建", "区域联建", "行业统建", "挂靠组建"], "answer": "C"},
    {"id": "c3", "type": "multiple", "stem": "党建工作指导员的主要作用有：",
     "options": ["宣传党的政策", "指导组建党组织", "核定企业年度预算", "发展党员", "审批企业用工合同"], "answer": "ABD"},
    {"id": "c4", "type": "single", "stem": "下列做法中，“不属于”关心关爱新就业群体举措的是：",
     "options": ["建设暖心驿站", "开展心理疏导", "延长平台派单时长", "提供法律援助"], "answer": "C"},
]


class _NoAliases(yaml.SafeDumper):
    """Shared lists are written out again (bank files refuse anchors and aliases)."""

    def ignore_aliases(self, data) -> bool:
        return True


def write_bank(tmp_path: Path, questions: list[dict], name: str = "bank") -> Path:
    """A bank file of ``questions`` (topic and difficulty filled in); returns its path."""
    full = [{**q, "topic": "测试", "difficulty": 2, "explanation": "解析。"} for q in questions]
    path = tmp_path / f"{name}.yaml"
    text = yaml.dump({"bank": name, "title": "测试题库", "questions": full}, Dumper=_NoAliases, allow_unicode=True,
                     sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def lint_file(tmp_path: Path, questions: list[dict], **settings):
    banks = load_banks([write_bank(tmp_path, questions)])
    return lint_banks(banks, LintSettings(**settings))


def findings(report, code: str) -> list[str]:
    """The ids of the questions a code was found on (first id in the message)."""
    return [p.message.split("：")[0].split()[1] for p in report.problems if p.code == code]


def line_of(path: Path, question_id: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() == f"- id: {question_id}":
            return number
    raise AssertionError(question_id)


def test_the_clean_bank_has_no_findings(tmp_path: Path) -> None:
    assert lint_file(tmp_path, CLEAN).problems == []


def test_long_key_names_the_question_and_line_and_follows_the_ratio(tmp_path: Path) -> None:
    long = {"id": "long", "type": "single", "stem": "新就业群体党建工作的难点在于：",
            "options": ["人员太多", "传统党建方式与新业态运作机制、新就业群体工作特性不相适应", "经费不足", "场地缺乏"],
            "answer": "B"}
    path = write_bank(tmp_path, CLEAN + [long])
    report = lint_banks(load_banks([path]))
    (problem,) = [p for p in report.problems if p.code == "long-key"]
    assert problem.line == line_of(path, "long") and problem.path == str(path) and problem.is_error
    assert "题目 long" in problem.message and "答案 B 有 27 字，最长的干扰项只有 4 字" in problem.message
    # The ratio is a setting: at 7× the key is no longer "long".
    assert findings(lint_banks(load_banks([path]), LintSettings(length_ratio=7)), "long-key") == []
    # A key just under 1.5× the longest distractor passes.
    fair = dict(long, id="fair", options=["一二三四五六七八", "一二三四五六七八九十一", "甲乙", "丙丁"])
    assert findings(lint_file(tmp_path, [fair]), "long-key") == []


def test_multiple_choice_with_one_wrong_option_and_absolute_words(tmp_path: Path) -> None:
    one_wrong = {"id": "m1", "type": "multiple", "stem": "党组织发挥作用的方式有：",
                 "options": ["宣传政策", "凝聚群众", "服务发展", "完全取代企业管理层"], "answer": "ABC"}
    absolute_in_key_too = {"id": "m2", "type": "multiple", "stem": "党员教育培训的要求有：",
                           "options": ["所有党员都要参加", "注重实效", "一律集中脱产", "线上线下结合"], "answer": "ABD"}
    two_wrong = dict(CLEAN[2], id="m3")
    report = lint_file(tmp_path, [one_wrong, absolute_in_key_too, two_wrong])
    assert findings(report, "one-wrong-option") == ["m1", "m2"]
    # m1's only wrong option is marked by 完全/取代; in m2 a key says 所有 too, so the wording gives nothing away.
    assert findings(report, "absolute-distractor") == ["m1"]
    assert "“完全”" in next(p.message for p in report.problems if p.code == "absolute-distractor")


def test_all_in_a_compound_word_is_not_absolute(tmp_path: Path) -> None:
    """所有 in 混合所有制/所有权 names a kind of ownership, not "all"."""
    mixed = dict(CLEAN[0], id="o1", stem="新就业群体较集中的企业中，党组织覆盖难度较大的是：",
                 options=["国有独资企业", "机关事业单位", "混合所有制企业", "街道社区"], answer="A")
    assert findings(lint_file(tmp_path, [mixed]), "absolute-distractor") == []
    bare = dict(mixed, options=["国有独资企业", "机关事业单位", "所有企业", "街道社区"])
    assert findings(lint_file(tmp_path, [bare]), "absolute-distractor") == ["o1"]


@pytest.mark.parametrize(
    "stem, flagged",
    [
        ("材料指出，基层党组织在新就业群体中发挥的是：", True),
        ("文章提出要建立（  ）工作机制。", True),
        ("据本文所述，新就业形态劳动者的规模已达：", True),
        ("张明认为，加强新就业群体党建的意义在于：", True),
        ("唐蕊在D区调研发现，党员人数所占比例仅为：", True),
        ("“一统二聚三促”案例中，该市组建的行业党委有：", True),
        ("D区为党员人数不足3名的企业选派的是：", True),
        ("有学者认为“平台企业党建要与业务深度融合”，这一观点强调的是：", False),
        ("习近平总书记强调，探索加强“三新”党建工作，要创新（  ）。", False),
        ("根据《党和国家机构改革方案》，组建的机构是：", False),
        # Everyday senses of the same words, and a place the stem itself names.
        ("申请入党需要提交的材料有：", False),
        ("要做好新就业群体党建这篇大文章，关键在于：", False),
        ("《共产党宣言》的作者是：", False),
        ("常州市成立新业态行业党委后，该市组建的行业党委有：", False),
        ("该市组建的行业党委有：", True),
        ("新就业群体党务工作者教育培训聚焦的内容有：", False),  # 工作者 is no 作者
        ("作者认为，新就业群体党建的重点是：", True),
    ],
)
def test_stems_that_refer_to_unseen_material(tmp_path: Path, stem: str, flagged: bool) -> None:
    question = dict(CLEAN[0], stem=stem)
    assert findings(lint_file(tmp_path, [question]), "unseen-material") == (["c1"] if flagged else [])


def test_all_and_none_of_the_above(tmp_path: Path) -> None:
    questions = [
        dict(CLEAN[0], id="a1", options=["党委组织部门", "党委宣传部门", "人力资源部门", "以上都对"], answer="D"),
        dict(CLEAN[0], id="a2", options=["党委组织部门", "党委宣传部门", "人力资源部门", "以上均不正确"]),
        dict(CLEAN[0], id="a3", options=["党委组织部门", "党委宣传部门", "人力资源部门", "以上两部门共同负责"]),
    ]
    assert findings(lint_file(tmp_path, questions), "all-of-above") == ["a1", "a2"]


@pytest.mark.parametrize(
    "stem, word",
    [
        ("下列选项中，不属于关心关爱举措的是：", "不属于"),
        ("关于党建指导员，下列说法错误的是：", "错误"),
        ("下列做法中，“不属于”关心关爱举措的是：", None),
        ("关于党建指导员，下列说法【错误】的是：", None),
        ("关于党建指导员，下列说法**错误**的是：", None),
        ("党组织书记“不称职”的，应当及时调整。下列做法正确的是：", None),  # the negative is not in the question
        ("下列关于“平台不是法外之地”的理解，正确的是：", None),  # a quotation, not the stem's word
    ],
)
def test_negative_stems_must_emphasise_the_negative_word(tmp_path: Path, stem: str, word: str | None) -> None:
    report = lint_file(tmp_path, [dict(CLEAN[0], stem=stem)])
    messages = [p.message for p in report.problems if p.code == "negative-stem"]
    assert len(messages) == (1 if word else 0)
    if word:
        assert f"“{word}”没有加强调" in messages[0]


def test_grammatical_cues_stem_echo_and_key_form(tmp_path: Path) -> None:
    echo = {"id": "e1", "type": "single", "stem": "以楼宇、商圈党群服务中心为阵地开展的服务称为：",
            "options": ["网格化管理", "党群服务中心党务服务", "属地兜底", "行业自律"], "answer": "B"}
    form = {"id": "f1", "type": "single", "stem": "明确提出探索加强“三新”党建有效途径的文件是：",
            "options": ["二十大报告", "《中共中央关于进一步全面深化改革的决定》", "政府工作报告", "十四五规划纲要"],
            "answer": "B"}
    report = lint_file(tmp_path, [echo, form] + CLEAN)
    assert findings(report, "stem-echo") == ["e1"]
    assert "“党群服”" in next(p.message for p in report.problems if p.code == "stem-echo")
    assert findings(report, "key-form") == ["f1"]
    assert "只有答案 B 带书名号" in next(p.message for p in report.problems if p.code == "key-form")


def test_stem_echo_does_not_count_a_particle_as_part_of_the_word(tmp_path: Path) -> None:
    # Stem and key share only 党建 (two characters); the third character of “的党建” is the particle 的.
    particle = {"id": "e2", "type": "single", "stem": "派驻的党建指导员往往面临的困难是：",
                "options": ["人数多于实际需要", "一人身兼多职，难以开展针对性的党建工作", "下沉一线次数偏少",
                            "独立性不足"], "answer": "B"}
    # The same question with a real three-character echo (党建指导员 in stem and key) is still found.
    real = dict(particle, id="e3", options=["人数多于实际需要", "党建指导员一人身兼多职", "下沉一线次数偏少",
                                              "独立性不足"])
    report = lint_file(tmp_path, [particle, real] + CLEAN)
    assert findings(report, "stem-echo") == ["e3"]
    assert "“党建指”" in next(p.message for p in report.problems if p.code == "stem-echo")


def test_key_form_a_sentence_with_a_comma_of_enumeration_is_not_a_list(tmp_path: Path) -> None:
    # The key is a sentence that has a 、 inside; the distractors are sentences without one.
    sentence = {"id": "k1", "type": "single", "stem": "设立新就业群体关爱基金的用途是：",
                "options": ["对重病、大灾等困难人员提供临时救助", "为参加技能培训的从业者支付学费",
                            "兑现参与基层治理的积分奖励", "补贴平台企业购买商业保险"], "answer": "A"}
    # A key made of short items against single-item distractors is still a form cue.
    listed = {"id": "k2", "type": "single", "stem": "暂不具备建立党组织条件的企业，应先行建立：",
              "options": ["行业党委", "流动党员党支部", "工会、妇联、共青团等组织", "劳动纠纷调解委员会"],
              "answer": "C"}
    report = lint_file(tmp_path, [sentence, listed] + CLEAN)
    assert findings(report, "key-form") == ["k2"]
    assert "只有答案 C 是并列的几项" in next(p.message for p in report.problems if p.code == "key-form")
    # list_item_chars is the longest item: with 2 even 工会/妇联 are too long to be items.
    assert findings(lint_file(tmp_path, [sentence, listed] + CLEAN, list_item_chars=2), "key-form") == []


def _singles(answers: str) -> list[dict]:
    return [
        {"id": f"p{i:02d}", "type": "single", "stem": f"第{i}题考查的编号是：",
         "options": [f"{i}甲", f"{i}乙", f"{i}丙", f"{i}丁"], "answer": letter}
        for i, letter in enumerate(answers, start=1)
    ]


def test_key_position_bias_is_a_bank_level_finding(tmp_path: Path) -> None:
    biased = lint_file(tmp_path, _singles("A" * 14 + "BCDBCD"), cue_min_chars=99)
    (problem,) = [p for p in biased.problems if p.code == "key-position"]
    assert problem.line is None and "A 14（应约 5）" in problem.message and not problem.is_error
    balanced = lint_file(tmp_path, _singles("ABCD" * 5), cue_min_chars=99)
    assert findings(balanced, "key-position") == []
    # Fewer questions than position_min_questions are not judged.
    assert findings(lint_file(tmp_path, _singles("A" * 19), cue_min_chars=99), "key-position") == []


def test_chi_square_tail_matches_tables() -> None:
    # The 5 % critical values of the chi-square table for 1–4 degrees of freedom.
    for x, df in [(3.841, 1), (5.991, 2), (7.815, 3), (9.488, 4)]:
        assert chi_square_sf(x, df) == pytest.approx(0.05, abs=5e-4)
    assert chi_square_sf(0, 3) == 1.0


CUE_GIVER = {"id": "g1", "type": "single", "stem": "2023年2月，审议通过方案、提出组建中央社会工作部的会议是：",
             "options": ["二十届二中全会", "二十届三中全会", "二十届一中全会", "十九届六中全会"], "answer": "A"}
CUE_TAKER = {"id": "t1", "type": "single", "stem": "承担指导新就业群体党建工作职责而组建的机构是：",
             "options": ["中央宣传部", "中央社会工作部", "中华全国总工会", "中央统战部"], "answer": "B"}


def test_cross_cue_one_stem_states_another_key(tmp_path: Path) -> None:
    path = write_bank(tmp_path, [CUE_TAKER, CUE_GIVER] + CLEAN)
    banks = load_banks([path])
    report = lint_banks(banks)
    (problem,) = [p for p in report.problems if p.code == "cross-cue"]
    assert problem.line == line_of(path, "g1") and problem.is_error
    assert "题目 g1 的题干写出了题目 t1 的答案“中央社会工作部”" in problem.message
    assert cue_pairs(banks) == {frozenset({"g1", "t1"})}


def test_a_key_every_stem_uses_is_vocabulary_not_a_cue(tmp_path: Path) -> None:
    taker = dict(CUE_TAKER, options=["党建工作", "群团工作", "统战工作", "宣传工作"], answer="A",
                 stem="经济社会发展到哪里，（  ）就要跟进到哪里。")
    givers = [dict(CLEAN[0], id=f"v{i}", stem=f"第{i}类党建工作的牵头部门是：") for i in range(6)]
    assert findings(lint_file(tmp_path, [taker] + givers), "cross-cue") == []
    # Stated in only two other stems, it is a cue (reported on the later question of each pair).
    assert findings(lint_file(tmp_path, [taker] + givers[:2]), "cross-cue") == ["v0", "v1"]


def test_duplicate_fact_asked_twice(tmp_path: Path) -> None:
    who = {"id": "d1", "type": "single", "stem": "由哪个部门指导北京、浙江、深圳等地开展新就业群体党建试点？",
           "options": ["中央组织部", "中央宣传部", "人社部", "全国总工会"], "answer": "A"}
    when = {"id": "d2", "type": "single", "stem": "指导北京、浙江、深圳等地开展新就业群体党建试点，其起始时间是：",
            "options": ["2019年6月", "2020年6月", "2021年6月", "2022年6月"], "answer": "C"}
    banks = load_banks([write_bank(tmp_path, [who, when] + CLEAN)])
    report = lint_banks(banks, select=["duplicate-fact"])
    assert findings(report, "duplicate-fact") == ["d2"]
    assert cue_pairs(banks) == {frozenset({"d1", "d2"})}


def test_duplicate_fact_ignores_the_banks_common_vocabulary(tmp_path: Path) -> None:
    # Two different facts of one local case: they share only the case's name, which many stems repeat.
    prefix = "推行“一统二聚三促”党建做法的某市，开展的"
    rally = {"id": "u1", "type": "single", "stem": prefix + "党员“三亮”行动中，与亮身份并列的是：",
             "options": ["车辆亮标识", "岗位亮职责", "站点亮牌子", "支部亮活动"], "answer": "A"}
    survey = {"id": "u2", "type": "single", "stem": prefix + "“沉浸式”调研，其主要内容是：",
              "options": ["同吃、同住、同劳动", "同谋划、同部署、同推进", "共议、共建、共享", "同学习、同工作、同生活"],
              "answer": "A"}
    # The four clean questions, asked of the same case: six stems now begin with its name.
    case = [rally, survey] + [dict(q, stem=prefix + q["stem"]) for q in CLEAN]
    assert findings(lint_file(tmp_path, case, fact_common_questions=5), "duplicate-fact") == []
    # When six questions are not yet "many", the name counts and the pair is reported.
    assert "u2" in findings(lint_file(tmp_path, case, fact_common_questions=6), "duplicate-fact")
    # A real duplicate (who / when of one pilot) is still found among the same vocabulary.
    who = {"id": "d1", "type": "single", "stem": prefix + "指导北京、浙江、深圳等地开展党建试点的部门是：",
           "options": ["中央组织部", "中央宣传部", "人社部", "全国总工会"], "answer": "A"}
    when = {"id": "d2", "type": "single", "stem": prefix + "指导北京、浙江、深圳等地开展党建试点，起始时间是：",
            "options": ["2019年6月", "2020年6月", "2021年6月", "2022年6月"], "answer": "C"}
    report = lint_file(tmp_path, case + [who, when], fact_common_questions=5)
    assert findings(report, "duplicate-fact") == ["d2"]


def test_select_ignore_and_settings_are_checked() -> None:
    assert parse_codes("long-key, cross-cue") == {"long-key", "cross-cue"}
    with pytest.raises(ValueError, match="未知的检查代码 long"):
        parse_codes("long")
    assert LintSettings.with_overrides(["length_ratio=2", "echo-chars=4"]) == LintSettings(length_ratio=2, echo_chars=4)
    for bad in ["ratio=2", "length_ratio", "length_ratio=x", "echo_chars=1.5", "fact_similarity=2", "min_key_chars=0"]:
        with pytest.raises(ValueError):
            LintSettings.with_overrides([bad])
    assert all(level in ("error", "warning") for level, _ in CHECKS.values())


# --- selection ---------------------------------------------------------------------------------


def _cue_blueprint(tmp_path: Path, bank: Path, count: int, seed: int) -> Path:
    path = tmp_path / "exam.yaml"
    path.write_text(
        f"exam: cue-01\ntitle: 测试卷\nbanks: [{bank}]\nseed: {seed}\nsections:\n"
        f"  - title: 一、单项选择题\n    type: single\n    count: {count}\n    points: 1\n",
        encoding="utf-8",
    )
    return path


def test_selection_never_puts_two_cueing_questions_in_one_paper(tmp_path: Path) -> None:
    bank = write_bank(tmp_path, [CUE_TAKER, CUE_GIVER, CLEAN[0], CLEAN[1], CLEAN[3]])
    for seed in range(40):
        blueprint = load_blueprint(_cue_blueprint(tmp_path, bank, 4, seed))
        (section,) = select(blueprint, load_banks(blueprint.banks))
        ids = {c.question.id for c in section.chosen}
        assert len(ids) == 4 and not {"g1", "t1"} <= ids
    # All five would need both: refused with a message that says why.
    blueprint = load_blueprint(_cue_blueprint(tmp_path, bank, 5, 1))
    with pytest.raises(BlueprintError) as info:
        select(blueprint, load_banks(blueprint.banks))
    assert "互相提示" in info.value.message and "只能选出 4 道" in info.value.message


def test_selection_without_cues_is_unchanged(tmp_path: Path) -> None:
    """A bank with no cue pairs draws exactly what rng.sample draws (exams built before stay the same)."""
    extra = [
        {"id": "x1", "type": "single", "stem": "常州成立的新业态新就业群体党校位于哪一级？",
         "options": ["市级", "区级", "镇级", "村级"], "answer": "A"},
        {"id": "x2", "type": "single", "stem": "网约车平台企业属于哪一类组织？",
         "options": ["新经济组织", "新社会组织", "事业单位", "群团组织"], "answer": "A"},
        {"id": "x3", "type": "single", "stem": "网约车司机属于哪一类劳动者？",
         "options": ["传统雇员", "个体工商户", "新就业形态劳动者", "公务员"], "answer": "C"},
    ]
    bank = write_bank(tmp_path, CLEAN + extra)
    blueprint = load_blueprint(_cue_blueprint(tmp_path, bank, 4, 3))
    banks = load_banks(blueprint.banks)
    assert cue_pairs(banks) == set()
    (section,) = select(blueprint, banks)
    pool = [q for q in banks[0].questions if q.type == "single"]
    expected = random.Random("3/section/0").sample(pool, 4)
    assert sorted(c.question.id for c in section.chosen) == sorted(q.id for q in expected)


# --- command line --------------------------------------------------------------------------------


def run(*args) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cli_lint_exit_codes_and_output(tmp_path: Path) -> None:
    clean = write_bank(tmp_path, CLEAN, "clean")
    result = run("bank", "lint", clean)
    assert result.exit_code == 0, result.output
    assert "0 个错误，0 个警告（无）" in result.output

    flawed = write_bank(tmp_path, [CUE_TAKER, CUE_GIVER, dict(CLEAN[0], id="n1", stem="下列不属于新就业群体的是：")]
                        + CLEAN[1:], "flawed")
    result = run("bank", "lint", flawed)
    assert result.exit_code == ExitCode.lint_findings == 12
    assert f"{flawed}:{line_of(flawed, 'g1')}: 错误 [cross-cue]" in result.output
    assert f"{flawed}:{line_of(flawed, 'n1')}: 警告 [negative-stem]" in result.output
    assert "1 个错误，1 个警告（negative-stem 1，cross-cue 1）" in result.output
    # Warnings alone pass, unless --strict.
    assert run("bank", "lint", flawed, "--ignore", "cross-cue").exit_code == 0
    assert run("bank", "lint", flawed, "--ignore", "cross-cue", "--strict").exit_code == 12
    only = run("bank", "lint", flawed, "--select", "negative-stem")
    assert only.exit_code == 0 and "cross-cue" not in only.output
    assert run("bank", "lint", flawed, "--select", "nope").exit_code == ExitCode.usage
    assert run("bank", "lint", flawed, "--set", "length_ratio=abc").exit_code == ExitCode.usage
    # validate stays quiet about lint except for one line.
    validated = run("bank", "validate", flawed)
    assert validated.exit_code == 0
    assert "lint：2 条命题质量提示，运行 papergen bank lint 查看" in validated.output
    assert "[cross-cue]" not in validated.output
    assert "lint" not in run("bank", "validate", clean).output


def test_cli_lint_refuses_an_invalid_bank_like_its_siblings(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("bank: b\ntitle: t\nquestions:\n  - id: q1\n    type: single\n", encoding="utf-8")
    assert run("bank", "lint", bad).exit_code == ExitCode.bank_invalid
