"""Find every code block of the documentation: the .rst pages under docs/ and every README.md.

Theory of operation
-------------------
The docs tests share one reader so that what the meta-test counts is exactly what the other
tests run. A block is one of:

- ``literalinclude``: a file shown in a page (``target`` is its path, relative to the root);
- ``code-block`` / ``code`` / ``sourcecode``: text written in the page, with a language;
- ``literal``: a reStructuredText literal block (a paragraph ending in ``::``);
- ``doctest``: a paragraph of ``>>>`` lines;
- ``fenced``: a Markdown block between triple backquotes.

The reader understands only as much reStructuredText as blocks need: a directive line, its
option lines, and its body (the lines indented more than the directive). It is deliberately
strict about what it does not know: a directive whose name speaks of code, source, literal
text or inclusion (``parsed-literal``, ``include``...) that is not one of the above is reported
as a block of kind ``unknown``, which the meta-test rejects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

CODE_DIRECTIVES = {"code-block", "code", "sourcecode"}
DOCTEST_DIRECTIVES = {"doctest", "testcode", "testoutput"}
DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\.\s+(?P<name>[\w:-]+)::\s*(?P<argument>.*)$")
OPTION = re.compile(r"^\s*:(?P<name>[\w-]+):\s*(?P<value>.*)$")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<language>[\w+-]*)\s*$")


@dataclass(frozen=True)
class Block:
    """One code block, where it is (``path:line``, 1-based) and what it holds."""

    path: str
    line: int
    kind: str
    language: str = ""
    target: str = ""
    text: str = ""
    options: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def commands(self) -> list[str]:
        """The ``$ command`` lines of a shell transcript, without the prompt."""
        return [line[2:] for line in self.text.splitlines() if line.startswith("$ ")]

    def output_of(self, command: str) -> str:
        """What the transcript shows after ``$ command``, up to the next prompt or the end."""
        lines = self.text.splitlines()
        start = lines.index(f"$ {command}") + 1
        end = next((i for i in range(start, len(lines)) if lines[i].startswith("$ ")), None)
        shown = lines[start:end]
        return "".join(line + "\n" for line in shown)


def pages() -> list[Path]:
    """Every page the meta-test reads: .rst under docs/ (not the build) and every README.md."""
    rst = [p for p in DOCS.rglob("*.rst") if "_build" not in p.relative_to(DOCS).parts]
    readmes = [ROOT / "README.md", *sorted((ROOT / "plugins").glob("*/README.md"))]
    return sorted(rst) + [p for p in readmes if p.is_file()]


def blocks_of(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    relative = page.relative_to(ROOT).as_posix()
    if page.suffix == ".md":
        return _markdown_blocks(relative, text.splitlines())
    return _rst_blocks(page, relative, text.splitlines())


def all_blocks() -> list[Block]:
    return [block for page in pages() for block in blocks_of(page)]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _body(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
    """The lines from *start* indented more than *indent* (blank lines included), dedented,
    and the index of the first line after them."""
    end = start
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    body = lines[start:end]
    while body and not body[-1].strip():
        body.pop()
    while body and not body[0].strip():
        body.pop(0)
    margin = min((_indent(line) for line in body if line.strip()), default=0)
    return [line[margin:] for line in body], end


def _rst_blocks(page: Path, relative: str, lines: list[str], offset: int = 0) -> list[Block]:
    """The blocks of reStructuredText *lines*; *offset* is the page line before lines[0]."""
    found: list[Block] = []
    index = 0
    paragraph_start = True
    while index < len(lines):
        line = lines[index]
        number = offset + index + 1
        directive = DIRECTIVE.match(line)
        if directive:
            name, argument = directive["name"], directive["argument"].strip()
            indent = len(directive["indent"])
            options: dict[str, str] = {}
            index += 1
            while index < len(lines) and (option := OPTION.match(lines[index])):
                options[option["name"]] = option["value"].strip()
                index += 1
            body_start = index
            body, index = _body(lines, index, indent)
            text = "".join(line + "\n" for line in body)
            if name == "literalinclude":
                target = (page.parent / argument).resolve().relative_to(ROOT).as_posix()
                language = options.get("language", "")
                found.append(Block(relative, number, name, language, target, "", options))
            elif name in CODE_DIRECTIVES:
                found.append(Block(relative, number, "code-block", argument, "", text, options))
            elif name in DOCTEST_DIRECTIVES:
                found.append(Block(relative, number, "doctest", "pycon", "", text, options))
            elif any(word in name for word in ("code", "source", "literal", "include")):
                found.append(Block(relative, number, "unknown", name))
            elif not name.startswith("auto"):
                # Admonitions, list tables, definitions...: their bodies are ordinary text,
                # which may hold blocks of their own (found with their own line numbers).
                raw = lines[body_start:index]
                found += _rst_blocks(page, relative, raw, offset + body_start)
            paragraph_start = True
            continue
        stripped = line.strip()
        if paragraph_start and stripped.startswith(">>>"):
            end = index
            while end < len(lines) and lines[end].strip():
                end += 1
            text = "".join(line.strip() + "\n" for line in lines[index:end])
            found.append(Block(relative, number, "doctest", "pycon", "", text))
            index = end
            continue
        if stripped.endswith("::") and not stripped.startswith(".."):
            following = next((i for i in range(index + 1, len(lines)) if lines[i].strip()), None)
            if following is not None and _indent(lines[following]) > _indent(line):
                body, index = _body(lines, index + 1, _indent(line))
                text = "".join(line + "\n" for line in body)
                found.append(Block(relative, number, "literal", "", "", text))
                paragraph_start = True
                continue
        paragraph_start = not stripped
        index += 1
    return found


def _markdown_blocks(relative: str, lines: list[str]) -> list[Block]:
    found: list[Block] = []
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
        text = "".join(line + "\n" for line in lines[index + 1 : end])
        found.append(Block(relative, index + 1, "fenced", fence["language"], "", text))
        index = end + 1
    return found
