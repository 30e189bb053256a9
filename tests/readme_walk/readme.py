"""The commands of README.md's ```bash blocks, as a reader would type them.

A logical line joins `\\` continuations; `&&` chains are split into their commands (each is
walked or skipped on its own); a comment line is dropped (a trailing `# ...` stays: bash
ignores it); a line `NAME=VALUE` is a shell variable, kept for every later command in the
README, as the reader's shell keeps it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^```(\w*)\s*$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$")
_CHAIN = re.compile(r"\s+&&\s+")


@dataclass(frozen=True)
class Command:
    """One command of the README: its text, the README line it starts on, the section it is in,
    and the shell variables set before it."""

    text: str
    line: int
    section: str
    variables: tuple[str, ...] = ()

    @property
    def is_justeval(self) -> bool:
        return self.text == "justeval" or self.text.startswith("justeval ")

    def where(self) -> str:
        return f"README.md line {self.line} ({self.section})"


def _logical_lines(block: list[tuple[int, str]]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    start, parts = 0, []
    for number, raw in block:
        if not parts:
            start = number
        stripped = raw.strip()
        if stripped.endswith("\\"):
            parts.append(stripped[:-1].strip())
            continue
        parts.append(stripped)
        out.append((start, " ".join(p for p in parts if p)))
        parts = []
    if parts:
        out.append((start, " ".join(parts)))
    return out


def readme_commands(path: Path) -> list[Command]:
    """Every command of every ```bash block, in README order."""
    commands: list[Command] = []
    variables: list[str] = []
    section = "top"
    block: list[tuple[int, str]] | None = None
    other = False  # inside a fenced block of another language
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fence = _FENCE.match(line)
        if other:
            other = not line.startswith("```")
            continue
        if block is None:
            if line.startswith("```"):
                if fence and fence.group(1) == "bash":
                    block = []
                else:
                    other = True
            elif line.startswith("#"):
                section = line.lstrip("#").strip()
            continue
        if fence and not fence.group(1):
            for start, text in _logical_lines(block):
                if not text or text.startswith("#"):
                    continue
                if _ASSIGNMENT.match(text):
                    variables.append(text)
                    continue
                for part in _CHAIN.split(text):
                    commands.append(Command(text=part.strip(), line=start, section=section,
                                            variables=tuple(variables)))
            block = None
            continue
        block.append((number, line))
    return commands
