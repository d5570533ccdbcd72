"""README.md cannot drift from the code.

- Every ``$ papergen …`` line in a console block parses with the real Click
  command (right command, existing options, required options given, valid
  choices), and every ```papergen …``` synopsis names a real command and only
  its options, with the choices Click accepts.
- Every command and every option of the Click group is mentioned in the README
  (a new option without documentation fails here).
- The exit-code table lists exactly ``papergen.core.errors.ExitCode``.
- Every file of the repository the README points to exists.

Nothing is run: Click parses the arguments (``make_context``) without
invoking the command.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

import papergen
from papergen.cli import cli
from papergen.core import errors
from papergen.core.errors import ExitCode, PapergenError

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

#: What the README does not document yet, each with the reason. The tests below
#: require this to be exactly the current gaps, so an entry is deleted as soon as
#: the README catches up (and a new gap cannot hide in here).
README_GAPS: dict[str, str] = {}

HELP_OPTIONS = ("-h", "--help")  # the group's context_settings give every command both


@dataclass(frozen=True)
class Usage:
    text: str  # as written, after "papergen "
    line: int  # README line number, for messages
    console: bool  # a "$ papergen …" line (real arguments) rather than a synopsis with placeholders


def readme_text() -> str:
    return README.read_text(encoding="utf-8")


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def console_usages(text: str) -> list[Usage]:
    """``$ papergen …`` lines inside ```console blocks (a trailing backslash continues a line)."""
    found = []
    for block in re.finditer(r"^```console\n(.*?)^```", text, re.S | re.M):
        start = line_of(text, block.start(1))
        pending, first = "", 0
        for i, line in enumerate(block.group(1).splitlines()):
            if pending:
                pending += " " + line.strip()
            elif line.startswith("$ "):
                pending, first = line[2:].strip(), start + i
            else:
                continue
            if pending.endswith("\\"):
                pending = pending[:-1].rstrip()
                continue
            if pending.startswith("papergen "):
                found.append(Usage(pending.removeprefix("papergen "), first, console=True))
            pending = ""
    return found


def synopsis_usages(text: str) -> list[Usage]:
    """Inline code spans that start with ``papergen `` (the headings' synopses, mentions in prose)."""
    return [
        Usage(m.group(1), line_of(text, m.start()), console=False)
        for m in re.finditer(r"`papergen ([^`\n]+)`", text)
    ]


def command_path(words: list[str]) -> tuple[tuple[str, ...], click.Command, list[str]]:
    """Walks the group with the leading words: (command path, the command, the words left)."""
    command: click.Command = cli
    path: list[str] = []
    while isinstance(command, click.Group) and words and words[0] in command.commands:
        command = command.commands[words[0]]
        path.append(words.pop(0))
    return tuple(path), command, words


def all_commands(group: click.Group = cli, path: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*path, name))


def options_of(command: click.Command) -> dict[str, click.Option]:
    return {opt: p for p in command.params if isinstance(p, click.Option) for opt in (*p.opts, *p.secondary_opts)}


def mentions(option: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


# --- the README parsers on a hand-made README ---------------------------------------------------
SAMPLE = """# t
```console
$ papergen bank stats a.yaml \\
    --format csv
输出
$ echo $?
```
见 `papergen results DIR [--format table|csv]` 和 `papergen/x.py`。
"""


def test_parsers_on_a_small_readme():
    assert console_usages(SAMPLE) == [Usage("bank stats a.yaml --format csv", 3, console=True)]
    assert synopsis_usages(SAMPLE) == [Usage("results DIR [--format table|csv]", 8, console=False)]
    path, command, rest = command_path(["bank", "stats", "a.yaml"])
    assert path == ("bank", "stats") and command.name == "stats" and rest == ["a.yaml"]
    assert mentions("--format", "[--format table]") and not mentions("--form", "--format") and not mentions("-o", "a-o")


# --- (a) every command shown is real ----------------------------------------------------------
def test_readme_has_console_examples_and_synopses():
    text = readme_text()
    assert len(console_usages(text)) >= 10 and len(synopsis_usages(text)) >= 10


@pytest.mark.parametrize("usage", console_usages(readme_text()), ids=lambda u: f"line{u.line}")
def test_console_example_parses_with_the_real_command(usage: Usage):
    path, command, rest = command_path(shlex.split(usage.text))
    assert path and not isinstance(command, click.Group), f"README.md:{usage.line}: no such command: papergen {usage.text}"
    try:
        command.make_context(f"papergen {' '.join(path)}", rest)
    except click.ClickException as exc:
        pytest.fail(f"README.md:{usage.line}: papergen {usage.text}\n  {exc.format_message()}")


@pytest.mark.parametrize("usage", synopsis_usages(readme_text()), ids=lambda u: f"line{u.line}")
def test_synopsis_names_a_real_command_and_its_options(usage: Usage):
    words = usage.text.replace("[", " ").replace("]", " ").split()
    path, command, rest = command_path(words)
    unknown_subcommand = isinstance(command, click.Group) and rest and not rest[0].startswith("-")
    group_options_only = not path and rest and rest[0].startswith("-")  # `papergen --version`
    assert (path or group_options_only) and not unknown_subcommand, f"README.md:{usage.line}: no such command: papergen {usage.text}"
    known = options_of(command)
    for i, word in enumerate(rest):
        if not word.startswith("-") or word == "-":
            continue
        name = word.split("=")[0]
        assert name in known or name in HELP_OPTIONS, (
            f"README.md:{usage.line}: papergen {' '.join(path)} has no option {name} (it has {sorted(known)})"
        )
        shown = rest[i + 1] if i + 1 < len(rest) else ""
        choices = getattr(known.get(name) and known[name].type, "choices", None)
        if choices and "|" in shown:
            assert set(shown.split("|")) == set(choices), (
                f"README.md:{usage.line}: {name} {shown}, but papergen {' '.join(path)} accepts {'|'.join(choices)}"
            )


# --- (c) every command and option is documented ---------------------------------------------------
def sections(text: str) -> dict[tuple[str, ...], str]:
    """Command path → its README section: from the heading naming it to the next heading as high."""
    headings = [(m.start(), len(m.group(1)), m.group(2)) for m in re.finditer(r"^(#+) (.*)$", text, re.M)]
    found = {}
    for i, (start, level, title) in enumerate(headings):
        named = re.search(r"`papergen ([^`]+)`", title)
        if not named:
            continue
        path, _, _ = command_path(named.group(1).split())
        end = next((s for s, lv, _ in headings[i + 1:] if lv <= level), len(text))
        found[path] = text[start:end]
    return found


def documentation_gaps(text: str) -> set[str]:
    usages = console_usages(text) + synopsis_usages(text)
    shown: dict[tuple[str, ...], list[str]] = {}
    for usage in usages:
        path, _, _ = command_path(usage.text.split())
        shown.setdefault(path, []).append(usage.text)
    by_section = sections(text)
    gaps = set()
    for path, command in [((), cli), *all_commands()]:
        name = " ".join(("papergen", *path))
        if path and path not in shown and not isinstance(command, click.Group):
            gaps.add(f"command {name}")
        # An option counts as documented in the command's own section or in a usage of the command;
        # the top-level group's options anywhere.
        where = text if not path else by_section.get(path, "") + "\n".join(shown.get(path, []))
        for param in command.params:
            if isinstance(param, click.Option) and not any(mentions(o, where) for o in (*param.opts, *param.secondary_opts)):
                gaps.add(f"option {name} {param.opts[-1]}")
    if not all(mentions(o, text) for o in HELP_OPTIONS):
        gaps.add("option papergen -h/--help")
    return gaps


def missing_paths(text: str) -> set[str]:
    """Repository files the README names (in code spans and links) that do not exist."""
    named = set(re.findall(r"`((?:papergen|tests|bench|blueprints|banks|layouts|docs|scans)/[^`\s]*\.\w+)`", text))
    named |= set(re.findall(r"\]\(((?!https?:)[^)\s]+)\)", text))
    return {f"path {p}" for p in named if not (ROOT / p).exists()}


def test_documentation_gaps_finds_an_undocumented_option():
    text = "### `papergen results RESULTS_DIR`\n没有提到格式。\n\n所有命令都有 `-h/--help`\n"
    gaps = documentation_gaps(text)
    assert "option papergen results --format" in gaps and "command papergen grade" in gaps
    assert "option papergen -h/--help" not in gaps and not any(g.startswith("command papergen results") for g in gaps)


def test_every_command_and_option_is_documented_and_every_named_file_exists():
    text = readme_text()
    gaps = documentation_gaps(text) | missing_paths(text)
    new = sorted(gaps - README_GAPS.keys())
    fixed = sorted(README_GAPS.keys() - gaps)
    assert not new, "README.md does not document (or names a missing file):\n  " + "\n  ".join(new)
    assert not fixed, "README.md now covers these; delete them from README_GAPS in tests/test_docs.py:\n  " + "\n  ".join(fixed)


# --- (b) exit codes -------------------------------------------------------------------------------
def exit_code_table(text: str) -> list[tuple[int, str]]:
    """Rows of the table under the 退出码 heading: (code, meaning)."""
    section = re.search(r"^## 退出码[^\n]*\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "README.md has no '## 退出码' section"
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*(.*?)\s*\|\s*$", section.group(1), re.M)
    return [(int(code), meaning) for code, meaning in rows]


def test_exit_code_table_lists_exactly_the_exit_codes():
    rows = exit_code_table(readme_text())
    codes = [code for code, _ in rows]
    assert len(codes) == len(set(codes)), f"a code is listed twice: {codes}"
    assert sorted(codes) == sorted(int(c) for c in ExitCode), (
        f"README lists {sorted(codes)}; ExitCode has {sorted(int(c) for c in ExitCode)}"
    )
    assert all(meaning for _, meaning in rows)


def test_every_error_class_exits_with_a_documented_code():
    documented = {code for code, _ in exit_code_table(readme_text())}
    def subclasses(cls: type) -> list[type]:
        return [cls] + [s for sub in cls.__subclasses__() for s in subclasses(sub)]

    for module in pkgutil.walk_packages(papergen.__path__, "papergen."):  # every module that may define one
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    classes = subclasses(PapergenError)
    assert len(classes) > 5 and errors.InputFileError in classes
    assert {c.__name__: int(c.exit_code) for c in classes if int(c.exit_code) not in documented} == {}


def test_every_file_in_docs_is_shown_in_the_readme():
    text = readme_text()
    unused = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "docs").iterdir()) if p.relative_to(ROOT).as_posix() not in text]
    assert not unused, f"docs/ files the README never shows (stale?): {unused}"


# --- ARCHITECTURE.md follows the tree ------------------------------------------------------------
def architecture_entries() -> list[str]:
    """The module paths ARCHITECTURE.md has a paragraph for (``**`papergen/…`**``)."""
    return re.findall(r"^\*\*`(papergen/[^`]+)`\*\*", (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"), re.M)


#: Modules whose ARCHITECTURE.md paragraph is waiting for the lead (helpers do not edit ARCHITECTURE.md):
#: module → where the paragraph is. Delete an entry once ARCHITECTURE.md has it (the test says so).
ARCHITECTURE_GAPS: dict[str, str] = {
    "papergen/grade/components.py": "the i19-speed helper's closing report (paragraph for ARCHITECTURE.md)",
}


def test_architecture_has_a_paragraph_for_every_module_and_names_only_real_files():
    entries = set(architecture_entries())
    modules = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "papergen").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") and "formats" not in p.parts
    } | {"papergen/bank/formats/", "papergen/data/__init__.py"}
    missing = modules - entries
    assert sorted(missing - ARCHITECTURE_GAPS.keys()) == [], "modules without a paragraph in ARCHITECTURE.md"
    assert sorted(ARCHITECTURE_GAPS.keys() - missing) == [], "ARCHITECTURE.md covers these now: delete them from ARCHITECTURE_GAPS"
    assert sorted(e for e in entries if not (ROOT / e).exists()) == [], "ARCHITECTURE.md describes files that do not exist"
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:papergen|tests|bench|blueprints|banks|layouts|docs|scans)/[^`\s:]*\.\w+)", text))
    assert sorted(p for p in named if "*" not in p and not (ROOT / p).exists()) == []
