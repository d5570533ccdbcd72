"""Short Chinese names for the grader's reason codes.

Every flag, refused page and refused file carries a stable English slug
(``faint``, ``duplicate-id``, ``not-a-sheet`` …): the store keys on it, tests
match on it, ``results --format json`` shows it. People read the Chinese
name from this one table instead (the 待复核 sheet, the summaries). A slug
missing from the table is shown as itself rather than hidden, and
``tests/test_reasons.py`` fails when the grader can produce one that has no
name here.
"""

from __future__ import annotations

REASON_LABELS: dict[str, str] = {
    # one question's marks
    "faint": "填涂过浅/不完整",
    "covered": "填涂框被遮挡/涂改",
    "lined": "有笔画穿过填涂框",
    "multiple-marks": "单选题多涂",
    "nonexistent-option": "涂了不存在的选项",
    # the whole sheet's answers
    "blank-sheet": "空白答题卡",
    "few-answers": "作答很少（黑白扫描可能丢了填涂）",
    "absent-with-answers": "缺考但有作答",
    "absent-unclear": "缺考标记不清",
    "violation-marked": "监考员标记违纪",
    "violation-unclear": "违纪标记不清",
    # identity: 准考证号, 试卷类型, QR code
    "id-missing": "未涂准考证号",
    "id-incomplete": "准考证号不完整",
    "id-unreadable": "准考证号无法识别",
    "id-mismatch": "准考证号与二维码不符",
    "qr-id-invalid": "二维码准考证号无效",
    "qr-unreadable": "二维码无法识别",
    "duplicate-id": "准考证号重复",
    "variant-missing": "未涂试卷类型",
    "variant-unreadable": "试卷类型无法识别",
    "variant-mismatch": "试卷类型与二维码不符",
    "variant-unknown": "试卷类型不属于本次考试",
    # people's decisions
    "reopened": "重新扫描后需重新判定",
    "void-full": "作废（全体得分）",
    "void-drop": "作废（不计分）",
    # a page that could not be read
    "not-a-sheet": "不是答题卡",
    "blank-page": "空白页",
    "other-exam": "其他考试的答题卡",
    "other-build": "其他批次印制的答题卡",
    "another-sheet-unconfirmed": "无法确认属于本次考试",
    "unconfirmed-frame": "无法确定答题卡位置",
    "frame-misaligned": "定位错误（填涂框对不上）",
    "bw-darkened": "黑白扫描把浅痕变黑，须灰度重扫",
    "bw-faded": "黑白扫描丢了浅的填涂，须灰度重扫",
    "unregistered-sheet": "定位块不全，无法定位",
    "page-unknown": "无法确定页码",
    "reader-error": "读取出错",
    "worker-lost": "评阅进程多次崩溃",
    "error": "读取出错",
    # a file that could not be read
    "not-a-scan": "不是扫描文件",
    "empty-file": "空文件",
    "too-large": "文件过大",
    "too-many-pixels": "图像像素过多",
    "too-many-pages": "页数过多",
    "unknown-format": "无法识别的文件格式",
    "no-decoder": "缺少解码器",
    "not-an-image": "不是图像",
    "unreadable": "文件损坏/无法解码",
    "truncated": "文件不完整（被截断）",
    "encrypted": "PDF 已加密",
}


def reason_label(slug: str) -> str:
    """The Chinese name of a reason code; an unknown code is shown as it is."""
    return REASON_LABELS.get(slug, slug)
