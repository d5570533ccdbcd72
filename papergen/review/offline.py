"""Reviewing without the web page: ``papergen review RESULTS_DIR --export review.xlsx`` / ``--apply review.xlsx``.

``export_review`` writes every open item of the review queue
(``settle.review_queue``, in its order: identity, whole pages, sheets, marks)
as a row of a 复核 sheet: where it is, the student and variant, the question,
what the machine read (with each box's darkness), the key, the reason, and
the crop of the scan around it embedded in the row — then a 判定 cell with a
drop-down of what may be decided for that row (the question's letters and
空白; a 准考证号 typed in; 作废; 是/否; 确认), a 备注 cell and a 阅卷人 cell.
A 说明 sheet says how to fill it in. It prints like the report (A4,
landscape, header row repeated).

``apply_review`` reads the filled-in workbook back. Every filled row is
checked: the item must exist in this results folder, the decision must fit
it (a letter the question has, a 准考证号 of the exam's length, a variant of
the exam …), and the item must not have been settled differently since the
export. Each valid row becomes one override through ``settle.decide`` (the
grader from its 阅卷人 cell, else ``--grader``). Rows are independent
decisions, so the rule is: **every valid row is applied, every bad row is
listed** ("review.xlsx 复核 第 7 行：…") and left for a second pass; the command
then exits with code 13 (``ExitCode.decision_invalid``; a workbook that cannot
be read at all is ``InputFileError``, 3). Applying the same file again adds
nothing: a row whose decision is already in force is counted as "已应用过",
not recorded twice.
"""

from __future__ import annotations

import io
import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from papergen.bank.model import LETTERS
from papergen.core import atomic, inputs
from papergen.core.errors import InputFileError, OutputError
from papergen.core.excel_text import put_text
from papergen.exam.manifest import Manifest
from papergen.grade import settle, store, views
from papergen.grade.reasons import reason_label
from papergen.report.print_setup import LINE_POINTS, setup_print, wrapped_lines
from papergen.sheet.layout import Rect, SheetGeometry

REVIEW_SHEET = "复核"
GUIDE_SHEET = "说明"
#: Crop resolution (px/mm) and the widest crop (px): a question row of the sample sheet is about 50 mm.
CROP_PX_PER_MM = 7.0
CROP_MAX_WIDTH = 330  # fits the 扫描图像 column (48 characters ≈ 341 px)
CROP_MAX_HEIGHT = 150
#: Decision words (what a grader types or picks in the 判定 column).
BLANK, VOID, YES, NO, CONFIRM = "空白", "作废", "是", "否", "确认"

#: The 复核 sheet's columns: key, header, width (characters). Found again by header text on apply,
#: so a grader who moves or hides columns does not break the file.
COLUMNS: tuple[tuple[str, str, float], ...] = (
    ("row", "序号", 5),
    ("where", "位置", 18),
    ("student", "准考证号", 12),
    ("variant", "试卷类型", 5),
    ("number", "题号", 5),
    ("read", "机读", 17),
    ("key", "答案", 6),
    ("reason", "原因", 16),
    ("image", "扫描图像", 48),
    ("decision", "判定", 9),
    ("note", "备注", 14),
    ("grader", "阅卷人", 8),
    ("item", "编号", 4),  # hidden: what apply reads; narrow, so the printed width is the visible columns'
)
HEADERS = {key: header for key, header, _ in COLUMNS}
HEAD_FILL = PatternFill("solid", fgColor="EEF3FA")
DECIDE_FILL = PatternFill("solid", fgColor="FFF8DC")
EXAM_LABEL = "考试编号"


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    items: int  # rows written
    without_image: list[str] = field(default_factory=list)  # rows whose scan could not be shown (and why)


@dataclass
class ApplySummary:
    applied: list[str] = field(default_factory=list)  # one line per decision recorded
    already: int = 0  # rows whose decision was already recorded (the same file applied again)
    problems: list[str] = field(default_factory=list)  # "review.xlsx 复核 第 7 行：…", one per bad row
    empty: int = 0  # rows left without a decision


# --- what may be decided on a row --------------------------------------------------------


def choices(item: settle.ReviewItem, manifest: Manifest) -> list[str]:
    """The drop-down of a row (a grader may also type: letters of a multiple choice, a 准考证号)."""
    found: list[str] = []
    for name in item.fields:
        if name == "answer":
            found += [*LETTERS[: item.options], BLANK]
        elif name == "variant":
            found += [v.name for v in manifest.variants]
        elif name in ("absent", "violation"):
            found += [YES, NO]
        elif name == "void":
            found.append(VOID)
        elif name == "ack":
            found.append(CONFIRM)
    return found


def prompt(item: settle.ReviewItem, manifest: Manifest) -> str:
    """The hint Excel shows on the 判定 cell."""
    digits = manifest.sheet.id_digits
    hints = {
        "answer": "选择字母；多选题直接输入几个字母（如 ACD）；没有填涂选“空白”",
        "student_id": f"输入这张答题卡的 {digits} 位准考证号",
        "variant": "选择试卷类型",
        "absent": "是 = 缺考，否 = 不是缺考",
        "violation": "是 = 违纪，否 = 不是违纪",
        "void": "“作废”：这张答题卡不计（如同一张扫描了两次）",
        "ack": "“确认”：已核对，按机读结果计",
    }
    if item.kind == "page":  # a page or file that was not read: nothing of it is scored
        hints["ack"] = "“确认”：这一页没有评分，已重新扫描或对照原件人工评阅"
    return "；".join(hints[name] for name in item.fields if name in hints)


class BadDecision(ValueError):
    """A 判定 cell that does not fit its row; the message is Chinese."""


def parse_decision(text: str, item: settle.ReviewItem, manifest: Manifest) -> tuple[str, str]:
    """``(field, new)`` for ``settle.decide`` from what a grader wrote in 判定.

    Raises ``BadDecision`` naming what would have fitted.
    """
    value = unicodedata.normalize("NFKC", text).strip()
    upper = value.upper().replace(" ", "").replace(",", "").replace("、", "")
    fields = item.fields
    if "answer" in fields:
        if value == BLANK:
            return "answer", ""
        letters = LETTERS[: item.options]
        if upper and all(ch in letters for ch in upper):
            return "answer", "".join(sorted(set(upper)))
        raise BadDecision(f"“{value}”不是第 {item.number} 题的选项；可填 {'、'.join(letters)} 中的字母或“{BLANK}”")
    if "void" in fields and value == VOID:
        return "void", "1"
    if "student_id" in fields:
        digits = manifest.sheet.id_digits
        if value.isdigit() and value.isascii() and len(value) == digits:
            return "student_id", value
        allowed = f"{digits} 位数字的准考证号" + (f"或“{VOID}”" if "void" in fields else "")
        raise BadDecision(f"“{value}”不是 {allowed}")
    if "variant" in fields:
        names = [v.name for v in manifest.variants]
        if upper in names:
            return "variant", upper
        raise BadDecision(f"“{value}”不是本次考试的试卷类型（{'、'.join(names)}）")
    for name in ("absent", "violation"):
        if name in fields:
            if value in (YES, NO):
                return name, "1" if value == YES else "0"
            raise BadDecision(f"“{value}”应为“{YES}”或“{NO}”")
    if "ack" in fields:
        if value == CONFIRM:
            return "ack", item.reason
        raise BadDecision(f"“{value}”应为“{CONFIRM}”")
    raise BadDecision("这一项不能在表格中处理，请用复核网页（papergen review）或重新扫描")


# --- export ---------------------------------------------------------------------------


def _crop_region(item: settle.ReviewItem, geometry: SheetGeometry) -> Rect | None:
    """The part of the sheet a person needs to see for ``item`` (None: the whole page)."""
    header = geometry.header
    if item.number:
        return views.question_region(geometry, item.number)
    if "student_id" in item.fields or item.reason.startswith(("id-", "qr-")):
        return views.bounds([*header.id_write_in, *(box for column in header.id_grid for box in column)])
    if "variant" in item.fields:
        return views.bounds(header.variant_row, 4.0)
    if "absent" in item.fields or "violation" in item.fields:
        return views.bounds([header.invigilator or header.absent, header.absent] + ([header.violation] if header.violation else []))
    return None


def _crop_outlines(item: settle.ReviewItem, geometry: SheetGeometry) -> list[tuple[Rect, tuple[int, int, int], int]]:
    """The question's boxes outlined thinly: the key's in blue, so the grader sees what was asked."""
    if not item.number:
        return []
    question = next((q for q in geometry.questions if q.number == item.number), None)
    if question is None:
        return []
    key = set(item.key_letters or "")
    return [
        ((x - 0.5, y - 0.5, w + 1, h + 1), views.BLUE if LETTERS[i] in key else views.GREY, 1)
        for i, (x, y, w, h) in enumerate(question.boxes)
    ]


class _Crops:
    """Crops of the scans, each page decoded once however many items it has."""

    def __init__(self, db, manifest: Manifest) -> None:
        self.db, self.manifest = db, manifest
        self.views: dict[tuple[str, int, int], views.SheetView | str] = {}

    def png(self, item: settle.ReviewItem) -> tuple[bytes | None, tuple[int, int], str]:
        """PNG of the item's crop and its size, or the reason there is none."""
        if item.file_hash is None or item.page is None or item.kind == "page":
            return None, (0, 0), ""  # a file or page that was not read as a sheet: nothing to crop
        key = (item.file_hash, item.page, item.part)
        if key not in self.views:
            page = next((p for p in store.all_pages(self.db) if p.key == key), None)
            try:
                self.views[key] = views.sheet_view(
                    item.source or item.path, item.page, item.part, item.file_hash, self.manifest, store.page_frame(self.db, key),
                    (page.sheet_page if page else None) or 1,
                )
            except views.ViewUnavailable as exc:
                self.views[key] = str(exc)
        view = self.views[key]
        if isinstance(view, str):
            return None, (0, 0), view
        geometry = self.manifest.sheet
        region = _crop_region(item, geometry)
        ppm = CROP_PX_PER_MM
        _, _, width, height = region or views.whole_page(geometry)
        ppm = min(ppm, CROP_MAX_WIDTH / width, CROP_MAX_HEIGHT / height)
        image = views.render_region(view, region, ppm, _crop_outlines(item, geometry))
        return views.png_bytes(image), (image.shape[1], image.shape[0]), ""


def _read_text(item: settle.ReviewItem) -> str:
    if item.kind != "mark":
        return item.read_letters or ""
    # A flagged mark has no reading (its letters are empty): say so rather than "blank".
    read = item.read_letters or (BLANK if item.reason == "reopened" else "未能判定")
    if item.darkness:
        boxes = [f"{LETTERS[i]} {d:.2f}" for i, d in enumerate(item.darkness)]
        lines = ["  ".join(boxes[i:i + 2]) for i in range(0, len(boxes), 2)]
        return "\n".join([read, "涂黑程度：", *lines])
    return read


def _previous_text(item: settle.ReviewItem) -> str:
    earlier = item.previous
    if earlier is None:
        return ""
    return f"\n（重新扫描后读数变了；此前 {earlier.grader} 判为“{earlier.new or BLANK}”）"


def export_review(results_dir: str | Path, output: str | Path) -> ExportSummary:
    """Write the open review items of ``results_dir`` into the workbook ``output``.

    Raises
    ------
    InputFileError
        No store in ``results_dir``.
    OutputError
        ``output`` cannot be written.
    """
    output = Path(output)
    with store.reading_store(results_dir) as db:
        manifest = Manifest.from_json(json.loads(store.manifest_from_store(db)))
        queue = settle.review_queue(db, manifest)
        crops = _Crops(db, manifest)
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = REVIEW_SHEET
        without_image = _fill_review_sheet(sheet, queue, manifest, crops)
    _fill_guide(workbook.create_sheet(GUIDE_SHEET), manifest, len(queue))
    buffer = io.BytesIO()
    workbook.save(buffer)
    if output.exists() and output.is_dir():
        raise OutputError("输出位置是一个文件夹", path=output)
    atomic.write_bytes(output, buffer.getvalue())
    return ExportSummary(output, len(queue), without_image)


def _fill_review_sheet(sheet, queue: list[settle.ReviewItem], manifest: Manifest, crops: _Crops) -> list[str]:
    column = {key: index for index, (key, _, _) in enumerate(COLUMNS, start=1)}
    for index, (key, header, width) in enumerate(COLUMNS, start=1):
        cell = put_text(sheet.cell(1, index), header)
        cell.font = Font(bold=True)
        cell.fill = HEAD_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "B2"
    sheet.row_dimensions[1].height = 2 * LINE_POINTS + 3
    validations: dict[tuple[str, str], DataValidation] = {}
    without_image: list[str] = []
    image_width_px = int(COLUMNS[column["image"] - 1][2] * 7 + 5)
    for offset, item in enumerate(queue):
        row = offset + 2
        values = {
            "row": str(offset + 1),
            "where": item.where,
            "student": item.student_id or "（未识别）",
            "variant": item.variant or "",
            "number": str(item.number) if item.number else "",
            "read": _read_text(item),
            "key": item.key_letters or "",
            "reason": reason_label(item.reason) + (f"\n{item.message}" if item.message else "") + _previous_text(item),
            "item": item.id,
        }
        for key, text in values.items():
            cell = put_text(sheet.cell(row, column[key]), text)
            cell.alignment = Alignment(vertical="center", wrap_text=True)
        sheet.cell(row, column["row"]).alignment = Alignment(horizontal="center", vertical="center")
        png, (width, height), problem = crops.png(item)
        lines = max(wrapped_lines(text, COLUMNS[column[key] - 1][2]) for key, text in values.items() if key != "item")
        points = max(LINE_POINTS * lines + 3, 30.0)
        if png is not None:
            picture = SheetImage(io.BytesIO(png))
            scale = min(1.0, (image_width_px - 6) / width)
            picture.width, picture.height = int(width * scale), int(height * scale)
            sheet.add_image(picture, f"{get_column_letter(column['image'])}{row}")
            points = max(points, picture.height * 0.75 + 6)  # px at 96 dpi → points, and a margin
        elif problem:
            put_text(sheet.cell(row, column["image"]), f"（扫描无法显示：{problem}）").alignment = Alignment(wrap_text=True, vertical="center")
            without_image.append(f"第 {row} 行：{problem}")
        sheet.row_dimensions[row].height = points
        decision = sheet.cell(row, column["decision"])
        decision.fill = DECIDE_FILL
        decision.alignment = Alignment(horizontal="center", vertical="center")
        options = choices(item, manifest)
        hint = prompt(item, manifest)
        if options or hint:
            key = (",".join(options), hint)
            if key not in validations:
                validations[key] = _validation(options, hint)
                sheet.add_data_validation(validations[key])
            validations[key].add(decision)
        for key in ("note", "grader"):
            sheet.cell(row, column[key]).alignment = Alignment(vertical="center", wrap_text=True)
    sheet.column_dimensions[get_column_letter(column["item"])].hidden = True
    setup_print(sheet, header_rows=(1, 1), key_columns=3, landscape=True, title=manifest.title)
    return without_image


def _validation(options: list[str], hint: str) -> DataValidation:
    """A drop-down (when there are fixed choices) with a hint; other values may be typed (checked on apply)."""
    if options:
        validation = DataValidation(type="list", formula1='"' + ",".join(options) + '"', allow_blank=True)
    else:
        validation = DataValidation(type="textLength", operator="greaterThan", formula1="0", allow_blank=True)
    validation.showErrorMessage = False  # a multiple choice "ACD" or a 准考证号 is typed, not picked
    validation.showInputMessage = True
    validation.promptTitle = "判定"
    validation.prompt = hint[:255]  # Excel's limit for a prompt
    return validation


GUIDE = (
    "如何填写这份复核表",
    "1. 在“复核”表中逐行查看扫描图像（蓝框是正确答案所在的框，灰框是其他选项），在黄色的“判定”列填写结论：",
    "   · 填涂题：选这道题实际涂了的字母；多选题直接输入几个字母，如 ACD；没有填涂选“空白”。",
    "   · 准考证号：输入这张答题卡正确的准考证号（位数见下）；同一准考证号出现在两张卡上时，多余的一张填“作废”。",
    "   · 试卷类型：选 A、B……；缺考、违纪：选“是”或“否”；其他提示：核对无误后选“确认”。",
    "2. “备注”写判定的理由（可不填）；“阅卷人”写你的名字（不填则用命令行的 --grader）。",
    "3. 不确定的行留空即可，下次再处理；不要改动“编号”列（已隐藏）和行的内容，可以排序、筛选。",
    "4. 填好后保存为 .xlsx，运行：papergen review 结果文件夹 --apply 本文件.xlsx",
    "   有问题的行会逐行列出（如“复核 第 7 行：……”），其余各行照常生效；改正后再次应用即可，已生效的行不会重复记录。",
    "5. 每一条判定都记入成绩库的审计记录（谁、何时、原值、新值、理由），机读数据保留不变。",
)


def _fill_guide(sheet, manifest: Manifest, items: int) -> None:
    sheet.column_dimensions["A"].width = 14
    sheet.column_dimensions["B"].width = 100
    put_text(sheet.cell(1, 1), GUIDE[0]).font = Font(bold=True, size=13)
    for row, line in enumerate(GUIDE[1:], start=2):
        cell = put_text(sheet.cell(row, 2 if line.startswith(" ") else 1), line.strip())
        cell.alignment = Alignment(wrap_text=False)
    row = len(GUIDE) + 2
    for label, value in (
        (EXAM_LABEL, manifest.exam), ("考试", manifest.title), ("准考证号位数", str(manifest.sheet.id_digits)),
        ("试卷类型", "、".join(v.name for v in manifest.variants)), ("待复核", f"{items} 项"),
    ):
        put_text(sheet.cell(row, 1), label).font = Font(bold=True)
        put_text(sheet.cell(row, 2), value)
        row += 1
    setup_print(sheet, header_rows=None, title=manifest.title, gridlines=False)


# --- apply ----------------------------------------------------------------------------


def _open_workbook(path: Path):
    data = inputs.read_bytes(path)
    inputs.check_zip(data, path)
    try:
        return load_workbook(io.BytesIO(data), data_only=True)
    except Exception:  # openpyxl raises anything from KeyError to XML errors on a broken file  # noqa: BLE001
        raise InputFileError("无法作为 Excel 工作簿打开，文件可能已损坏或不是 .xlsx", path=path,
                             hint="用 Excel/WPS 打开后另存为 .xlsx 再应用") from None


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a 准考证号 typed into a number cell
    return str(value).strip()


def _exam_of(workbook) -> str | None:
    if GUIDE_SHEET not in workbook.sheetnames:
        return None
    for label, value, *_ in workbook[GUIDE_SHEET].iter_rows(values_only=True):
        if label == EXAM_LABEL:
            return _cell_text(value)
    return None


def _decision_target(item_id: str) -> tuple[str, int, int, int] | None:
    """``(file_hash, page, part, number)`` an item's decisions are recorded on (None: not one sheet)."""
    kind, _, rest = item_id.partition(":")
    parts = rest.split(":")
    try:
        if kind == "mark" and len(parts) == 4:
            return parts[0], int(parts[1]), int(parts[2]), int(parts[3])
        if kind in ("sheet", "page") and len(parts) >= 3:
            return parts[0], int(parts[1]), int(parts[2]), 0
    except ValueError:
        return None
    return None


class _Queue:
    """The open items and the decisions in force, as of the last decision recorded."""

    def __init__(self, db, manifest: Manifest) -> None:
        self.db, self.manifest = db, manifest
        self.refresh()

    def refresh(self) -> None:
        sheets = settle.settled_sheets(self.db, self.manifest)
        self.open = {item.id: item for item in settle.review_queue(self.db, self.manifest, sheets)}
        self.in_force = {sheet.page.key: sheet.decisions for sheet in sheets}

    def decided(self, item: settle.ReviewItem, field_: str) -> None:
        """Bring the queue up to date after a decision on ``item``: its sheet alone, unless it can touch others."""
        if field_ in ("student_id", "void") or item.file_hash is None or item.page is None:
            self.refresh()  # a 准考证号 or a sheet set aside can open or close a duplicate elsewhere
            return
        key = (item.file_hash, item.page, item.part)
        sheet = settle.settle_one(self.db, self.manifest, key)
        kept = {i: it for i, it in self.open.items()
                if (it.file_hash, it.page, it.part) != key or it.reason == "duplicate-id"}  # duplicates span sheets
        kept.update({it.id: it for it in (sheet.open_items if sheet else [])})
        self.open = kept
        self.in_force[key] = sheet.decisions if sheet else []

    def decisions_on(self, item_id: str) -> list[store.Override]:
        """The decisions in force on the sheet and question an item is about."""
        target = _decision_target(item_id)
        if target is None:
            return []
        file_hash, page, part, number = target
        return [o for o in self.in_force.get((file_hash, page, part), []) if o.number == number]


def _same_decision(text: str, override: store.Override) -> bool:
    """Whether a 判定 cell says what ``override`` recorded (the same file applied again)."""
    value = unicodedata.normalize("NFKC", text).strip()
    letters = "".join(sorted(set(value.upper().replace(" ", "").replace(",", "").replace("、", ""))))
    expected = {
        "answer": "" if value == BLANK else letters,
        "student_id": value,
        "variant": value.upper(),
        "absent": {YES: "1", NO: "0"}.get(value),
        "violation": {YES: "1", NO: "0"}.get(value),
        "void": "1" if value == VOID else None,
        "ack": override.new if value == CONFIRM else None,
    }.get(override.field)
    return expected == override.new


def apply_review(results_dir: str | Path, workbook_path: str | Path, *, grader: str | None = None) -> ApplySummary:
    """Record the decisions filled into an exported workbook (see the module docstring for the rules).

    Raises
    ------
    InputFileError
        The workbook cannot be read, has no 复核 sheet or its columns, or
        belongs to another exam. Bad rows do not raise: they are listed in
        ``ApplySummary.problems``.
    """
    workbook_path = Path(workbook_path)
    name = workbook_path.name
    workbook = _open_workbook(workbook_path)
    if REVIEW_SHEET not in workbook.sheetnames:
        raise InputFileError(f"工作簿中没有“{REVIEW_SHEET}”表，不是 papergen review --export 导出的复核表", path=workbook_path)
    sheet = workbook[REVIEW_SHEET]
    header = {_cell_text(cell.value): cell.column for cell in sheet[1]}
    needed = ("item", "decision", "note", "grader")
    missing = [HEADERS[key] for key in needed if HEADERS[key] not in header]
    if missing:
        raise InputFileError(f"“{REVIEW_SHEET}”表缺少列：{'、'.join(missing)}", path=workbook_path,
                             hint="重新导出复核表，只填写“判定”“备注”“阅卷人”三列")
    col = {key: header[HEADERS[key]] for key in needed}
    summary = ApplySummary()
    with store.deciding_store(results_dir) as db:
        manifest = Manifest.from_json(json.loads(store.manifest_from_store(db)))
        exam = _exam_of(workbook)
        if exam is not None and exam != manifest.exam:
            raise InputFileError(f"这份复核表属于考试 {exam}，不是这个结果文件夹的考试 {manifest.exam}", path=workbook_path)
        decided_rows: dict[str, int] = {}
        queue = _Queue(db, manifest)
        for row in range(2, sheet.max_row + 1):
            decision = _cell_text(sheet.cell(row, col["decision"]).value)
            item_id = _cell_text(sheet.cell(row, col["item"]).value)
            place = f"{name} {REVIEW_SHEET} 第 {row} 行"
            if not decision:
                summary.empty += item_id != ""
                continue
            if not item_id:
                summary.problems.append(f"{place}：“编号”是空的，不知道这一行是哪一项（请勿改动编号列）")
                continue
            if item_id in decided_rows:
                summary.problems.append(f"{place}：与第 {decided_rows[item_id]} 行是同一项，只能有一个判定")
                continue
            decided_rows[item_id] = row
            who = _cell_text(sheet.cell(row, col["grader"]).value) or (grader or "")
            if not who:
                summary.problems.append(f"{place}：没有阅卷人；请在“阅卷人”列填写姓名，或运行时加 --grader 姓名")
                continue
            reason = _cell_text(sheet.cell(row, col["note"]).value)
            problem = _apply_row(queue, item_id, decision, who, reason, summary)
            if problem:
                summary.problems.append(f"{place}：{problem}")
    return summary


def _apply_row(queue: _Queue, item_id: str, decision: str, grader: str, reason: str, summary: ApplySummary) -> str:
    """Record one row's decision; returns what is wrong with it ("" when recorded or already recorded)."""
    earlier = queue.decisions_on(item_id)
    if any(_same_decision(decision, o) for o in earlier):
        summary.already += 1  # in force already (this file applied before): nothing to add
        return ""
    item = queue.open.get(item_id)
    if item is None:
        if earlier:
            last = earlier[-1]
            return (f"这一项已由 {last.grader} 于 {last.at} 处理为“{_shown(last.field, last.new)}”，"
                    "与本表的判定不同；如需改判，请重新导出后再填写，或在复核网页中撤销")
        target = _decision_target(item_id)
        if target is None and not item_id.startswith("file:"):
            return f"编号“{item_id}”不是复核项的编号（请勿改动编号列）"
        if target is not None and target[:3] not in queue.in_force:
            return f"编号 {item_id} 不是这个结果文件夹的待复核项（可能来自另一个结果文件夹的复核表）"
        return (f"编号 {item_id} 已不在待复核清单中（本表前面的行或别人的判定已一并解决了它，"
                "或成绩已重新评阅）；不需要再判定")
    try:
        field_, new = parse_decision(decision, item, queue.manifest)
    except BadDecision as exc:
        return str(exc)
    try:
        settle.decide(queue.db, queue.manifest, item, grader=grader, field=field_, new=new, reason=reason)
    except settle.InvalidDecision as exc:
        return exc.message
    queue.decided(item, field_)
    what = f"第 {item.number} 题" if item.number else reason_label(item.reason)
    summary.applied.append(f"{item.where} {what}：{_shown(field_, new)}（{grader}）")
    return ""


def _shown(field_: str, new: str) -> str:
    if field_ == "answer":
        return new or BLANK
    if field_ in ("absent", "violation"):
        return {"absent": "缺考", "violation": "违纪"}[field_] + ("：是" if new == "1" else "：否")
    if field_ == "void":
        return VOID if new == "1" else "恢复"
    if field_ == "ack":
        return CONFIRM
    return new
