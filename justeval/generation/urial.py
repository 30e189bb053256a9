"""URIAL-style prompting: a base model is aligned in context by a preamble and a few
query/answer examples, then completes the answer to the real query.

Layout (the one the URIAL `inst_1k_v4` prompt files use for their own examples, so a user
who loads such a file gets prompts in exactly that layout):

    <prompt, unchanged, followed by a blank line (added only when it does not end with one)>
    # Query:
    ```
    <instruction>
    ```
    <blank line>
    # Answer:
    ```
    <the model writes here>

The completion is requested with the stop sequence `# Query:`; the answer's closing
backticks are found afterwards by `clean_output` (a stop on ``` itself would cut answers
that contain code blocks).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from justeval.errors import InputError, UsageError

FENCE = "```"
QUERY_HEADING = "# Query:"
ANSWER_HEADING = "# Answer:"
STOP_SEQUENCES = [QUERY_HEADING]
BUILTIN = {"default": "urial_default.txt"}
#: the published prompts are a few KB; anything this large is not a prompt
MAX_PROMPT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class UrialPrompt:
    """The preamble text and where it came from (recorded in run.json)."""

    name: str
    source: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]


def format_example(instruction: str, answer: str) -> str:
    """One finished query/answer pair, ending with the answer's closing fence and a newline."""
    return (f"{QUERY_HEADING}\n{FENCE}\n{instruction}\n{FENCE}\n\n"
            f"{ANSWER_HEADING}\n{FENCE}\n{answer}\n{FENCE}\n")


def format_query(prompt: str, instruction: str, examples: list[tuple[str, str]] | None = None) -> str:
    """The full completion prompt: `prompt`, then optional in-context examples, then the
    query with an open answer fence; one blank line between blocks. Pure: the single place
    that decides the layout."""
    blocks = [format_example(q, a) for q, a in examples or []]
    blocks.append(f"{QUERY_HEADING}\n{FENCE}\n{instruction}\n{FENCE}\n\n{ANSWER_HEADING}\n{FENCE}\n")
    body = "\n".join(blocks)  # each block ends with a newline: one blank line between blocks
    if not prompt.strip():
        return body
    return prompt + _blank_line_after(prompt) + body


def _blank_line_after(text: str) -> str:
    """What makes `text` end in (at least) one blank line; the prompt itself is never altered."""
    if text.endswith("\n\n"):
        return ""
    return "\n" if text.endswith("\n") else "\n\n"


_FENCE_LINE = re.compile(r"^\s*```")


def clean_output(text: str) -> str:
    """The answer alone: cut at a following `# Query:`, drop the answer's closing fence and
    surrounding whitespace. Code blocks inside the answer are kept: a trailing fence is the
    answer's own only when the fence lines are unbalanced (an odd number of them)."""
    cut = text.find(QUERY_HEADING)
    if cut >= 0:
        text = text[:cut]
    text = text.strip()
    head, _, tail = text.rpartition("\n")
    if head and len(tail.strip()) >= 3 and QUERY_HEADING.startswith(tail.strip()):
        text = head.strip()  # the next query's heading, cut short by max_tokens ("# Que")
    lines = text.split("\n")
    fences = [i for i, line in enumerate(lines) if _FENCE_LINE.match(line)]
    if fences and len(fences) % 2 == 1:
        last = fences[-1]
        if lines[last].strip() == FENCE and all(not line.strip() for line in lines[last + 1:]):
            text = "\n".join(lines[:last])
    elif text.endswith(FENCE) and FENCE not in text[:-3]:
        text = text[:-3]  # "answer```" on one line
    return text.strip()


def load_urial(spec: str, *, timeout: float = 30.0) -> UrialPrompt:
    """Resolve `--urial NAME|PATH|URL`: a built-in name, a local file, or an http(s) URL."""
    if spec in BUILTIN:
        text = resources.files("justeval.generation").joinpath(f"prompts/{BUILTIN[spec]}").read_text(encoding="utf-8")
        return UrialPrompt(name=spec, source=f"builtin:{spec}", text=text)
    if spec.startswith(("http://", "https://")):
        return UrialPrompt(name=_stem(spec), source=spec, text=_fetch(spec, timeout))
    path = Path(spec).expanduser()
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(path, f"cannot read URIAL prompt: {exc}") from exc
        if not text.strip():
            raise InputError(path, "URIAL prompt file is empty")
        return UrialPrompt(name=path.stem, source=str(path.resolve()), text=text)
    raise UsageError(f"--urial {spec!r} is neither a built-in prompt ({', '.join(BUILTIN)}), "
                        "an existing file nor an http(s) URL")


def _stem(url: str) -> str:
    name = url.rstrip("/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] or "urial"


def _fetch(url: str, timeout: float) -> str:
    from justeval.fetch import fetch_text

    text = fetch_text(url, what="URIAL prompt", hint="download it and pass the file path", timeout=timeout,
                      max_bytes=MAX_PROMPT_BYTES)
    if not text.strip():
        raise InputError(url, "URIAL prompt is empty")
    return text
