"""The docs cannot go stale: every `marquee ...` line in a fenced code block of README.md and
docs/*.md parses with the real argument parser (nothing runs), and every relative link
points to a file (and heading) that exists.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.cli import main as cli
from gui import app, self_test

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
FENCE = re.compile(r"^\s*(```|~~~)")
SHELL_OPERATORS = frozenset("|;&<>")
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:...


@dataclass(frozen=True)
class Command:
    file: Path
    line: int
    text: str

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


# --------------------------------------------------------------------------- extraction
def fenced_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, line) for every line inside a fenced code block."""
    inside, found = False, []
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            inside = not inside
        elif inside:
            found.append((number, line))
    return found


def marquee_commands(text: str) -> list[tuple[int, str]]:
    """Commands starting with `marquee`, `\\` continuations joined and `$ ` prompts dropped."""
    commands, pending, start = [], "", 0
    for number, line in fenced_lines(text):
        if not pending:
            start = number
            line = line.strip().removeprefix("$ ")
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole, pending = (pending + line).strip(), ""
        if whole == "marquee" or whole.startswith("marquee "):
            commands.append((start, whole))
    return commands


def command_part(line: str) -> str:
    """The line up to its first unquoted shell operator (a pipe, `>`, `&&`...) or comment."""
    quote, escaped = "", False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in SHELL_OPERATORS or (char == "#" and line[index - 1 : index].isspace()):
            return line[:index]
    return line


def documented_commands() -> list[Command]:
    return [
        Command(path, number, text)
        for path in DOC_FILES
        for number, text in marquee_commands(path.read_text(encoding="utf-8"))
    ]


# --------------------------------------------------------------------------- parsing
def parse_error(args: list[str]) -> str | None:
    """Why `marquee ARGS` does not parse (None when it does), routed as gui.app.main routes
    it: subcommands and --help / --version to the CLI, --self-test to the self-test, anything
    else opens the window with FILE arguments."""
    if args and (args[0] in cli.SUBCOMMANDS or args[0] in app.CLI_FLAGS):
        parse = cli.build_parser().parse_args
    elif app.SELF_TEST_FLAG in args:
        parse = self_test.parse_args
    else:
        options = [a for a in args if a.startswith("-")]
        return f"the app takes files, not options: {options}" if options else None
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            parse(args)
    except SystemExit as stop:
        if stop.code not in (0, None):
            return stderr.getvalue().strip() or f"exit {stop.code}"
    return None


COMMANDS = documented_commands()


def test_the_docs_document_commands() -> None:
    assert len(COMMANDS) >= 40, [c.where for c in COMMANDS]
    assert len({c.file for c in COMMANDS}) >= 6


@pytest.mark.parametrize("command", COMMANDS, ids=[c.where for c in COMMANDS])
def test_documented_command_parses(command: Command) -> None:
    args = shlex.split(command_part(command.text))[1:]
    error = parse_error(args)
    assert error is None, f"{command.where}: `{command.text}` does not parse: {error}"


def test_extraction_joins_continuations_and_cuts_pipes_and_comments() -> None:
    text = (
        "marquee outside a fence\n"
        "```bash\n"
        "$ marquee predict m.safetensors a.jpg --json | jq .labels\n"
        "marquee train --data d \\\n"
        '    --delimiter "|" --out m.safetensors   # a comment\n'
        "python3 dev.py test\n"
        "```\n"
    )
    found = marquee_commands(text)
    assert [number for number, _ in found] == [3, 4]
    assert shlex.split(command_part(found[0][1])) == [
        *("marquee", "predict", "m.safetensors", "a.jpg", "--json"),
    ]
    assert shlex.split(command_part(found[1][1]))[-4:] == [
        *("--delimiter", "|", "--out", "m.safetensors"),
    ]


def test_a_wrong_command_is_caught() -> None:
    assert parse_error(["predict", "m.safetensors", "a.jpg"]) is None
    assert "--no-such-flag" in (
        parse_error(["predict", "m.safetensors", "a.jpg", "--no-such-flag"]) or ""
    )
    assert parse_error(["evaluate", "m.safetensors"])  # --data (or another source) required
    assert parse_error(["poster.jpg", "--bogus"])
    assert parse_error(["--self-test", "--epochs", "two"])


# --------------------------------------------------------------------------- links
def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors for a file's headings (code blocks left out)."""
    anchors: set[str] = set()
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            inside = not inside
        elif not inside and line.startswith("#"):
            slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            anchor, n = slug, 0
            while anchor in anchors:
                n += 1
                anchor = f"{slug}-{n}"
            anchors.add(anchor)
    return anchors


def relative_links(path: Path) -> list[tuple[int, str]]:
    fenced = {number for number, _ in fenced_lines(path.read_text(encoding="utf-8"))}
    found = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if number in fenced or FENCE.match(line):
            continue
        for target in MARKDOWN_LINK.findall(line) + HTML_LINK.findall(line):
            if not EXTERNAL.match(target):
                found.append((number, target))
    return found


@pytest.mark.parametrize("doc", DOC_FILES, ids=[str(p.relative_to(ROOT)) for p in DOC_FILES])
def test_relative_links_point_to_files(doc: Path) -> None:
    broken = []
    for number, target in relative_links(doc):
        name, _, anchor = target.partition("#")
        file = (doc.parent / name).resolve() if name else doc
        if not file.exists():
            broken.append(f"{doc.relative_to(ROOT)}:{number}: {target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in heading_anchors(file):
            broken.append(f"{doc.relative_to(ROOT)}:{number}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
