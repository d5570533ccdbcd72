"""Safe YAML parsing that remembers the line of every value.

Banks are edited by hand, so every problem must point at a line. PyYAML's
node tree carries the marks; this module turns it into dicts and lists that
keep them. It refuses what a bank never needs and an attacker would use:
explicit tags (``!!python/object``…), anchors and aliases (the "billion
laughs" bomb), several documents in one file, and absurd node counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from papergen.core import limits
from papergen.core.errors import InputFileError, InputRejected

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: A bank nests five deep (bank → questions → question → options → option);
#: thousands of levels would only exhaust the recursion that converts them.
MAX_DEPTH = 50


class YMap(dict):
    """A mapping with ``line`` (its first line), ``key_lines`` and duplicate keys."""

    line: int
    key_lines: dict[Any, int]
    duplicates: list[tuple[Any, int]]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class YList(list):
    """A sequence with ``line`` and the line of each item."""

    line: int
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


def parse(text: str, path: str | Path) -> Any:
    """Parse one YAML document, returning ``YMap``/``YList``/scalars.

    Raises
    ------
    InputFileError
        The text is not well-formed YAML (names the line and column).
    InputRejected
        The text uses tags, anchors/aliases, several documents, or exceeds the
        node limit.
    """
    max_nodes = limits.current().max_yaml_nodes
    try:
        count = 0
        documents = 0
        depth = 0
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(path, _line(event))
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise InputRejected(
                        "一个题库文件只能有一个 YAML 文档（发现了第二个 ---）",
                        path=path,
                        line=_line(event),
                    )
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise InputRejected(
                    "题库不允许使用 YAML 锚点/别名（& 和 *），它们可被用来制造“展开炸弹”",
                    path=path,
                    line=_line(event),
                    hint="把被引用的内容直接写出来",
                )
            tag = getattr(event, "tag", None)
            if tag is not None and isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
                explicit = tag not in (None, "!") and not _is_implicit(event)
                if explicit:
                    raise InputRejected(
                        f"题库不允许使用 YAML 标签 {tag}",
                        path=path,
                        line=_line(event),
                        hint="去掉以 ! 开头的标签，只用普通的文本、数字和列表",
                    )
            if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
                count += 1
                if count > max_nodes:
                    raise InputRejected(
                        f"YAML 节点数超过上限 {max_nodes}",
                        path=path,
                        line=_line(event),
                        hint="可设置 PAPERGEN_MAX_YAML_NODES 提高上限",
                    )
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            return _convert(node, loader, path)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        if "nesting depth" in str(exc.problem or ""):
            # PyYAML 6.0.4 and later (and libyaml) stop deep nesting in the
            # scanner, before papergen's own depth count sees it: the same
            # refusal, said the same way (exit 7), whichever version runs.
            raise _too_deep(path, line) from None
        column = f"第 {mark.column + 1} 列：" if mark is not None else ""
        raise InputFileError(
            f"YAML 格式错误，{column}{exc.problem or exc}",
            path=path,
            line=line,
            hint="检查缩进、冒号后的空格，以及含冒号的文字是否加了引号",
        ) from None
    except yaml.YAMLError as exc:
        raise InputFileError(f"YAML 格式错误：{exc}", path=path) from None


def _too_deep(path: str | Path, line: int | None) -> InputRejected:
    return InputRejected(
        f"YAML 嵌套超过 {MAX_DEPTH} 层（题库只需要 5 层）", path=path, line=line,
        hint="检查这一行附近是否有成串的 [ 或 {",
    )


def _is_implicit(event: Any) -> bool:
    implicit = getattr(event, "implicit", None)
    if isinstance(implicit, tuple):
        return any(implicit)
    return bool(implicit)


def _line(event: Any) -> int | None:
    mark = getattr(event, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def _convert(node: yaml.Node, loader: Any, path: str | Path) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result = YMap()
        result.line = line
        result.key_lines = {}
        result.duplicates = []
        for key_node, value_node in node.value:
            key = _convert(key_node, loader, path)
            if isinstance(key, (dict, list)):
                key = str(key)
            key_line = key_node.start_mark.line + 1
            if key in result.key_lines:
                result.duplicates.append((key, key_line))
            result.key_lines[key] = key_line
            result[key] = _convert(value_node, loader, path)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = YList()
        items.line = line
        items.item_lines = []
        for item in node.value:
            items.item_lines.append(item.start_mark.line + 1)
            items.append(_convert(item, loader, path))
        return items
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        # An unquoted value YAML takes for a date or a number but cannot build:
        # 2026-02-30, 2001-12-14 25:00:00, an integer of thousands of digits.
        value = str(node.value)
        shown = value if len(value) <= 30 else value[:30] + "…"
        raise InputFileError(
            f"值 {shown} 被 YAML 当作日期或数字，但无效（{str(exc).split(';')[0]}）",
            path=path,
            line=line,
            hint="如果这是文字，请给它加上引号，如 '2026-02-30'",
        ) from None


def located(value: Any, line: int) -> Any:
    """Wrap plain dicts and lists as ``YMap``/``YList`` that all point at ``line``.

    Importers use this to validate records read from other formats with the
    bank checks, so that problems point at the source's line.
    """
    if isinstance(value, dict):
        result = YMap()
        result.line = line
        result.key_lines = {}
        result.duplicates = []
        for key, item in value.items():
            result.key_lines[key] = line
            result[key] = located(item, line)
        return result
    if isinstance(value, list):
        items = YList(located(item, line) for item in value)
        items.line = line
        items.item_lines = [line] * len(items)
        return items
    return value
