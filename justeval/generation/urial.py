"""URIAL prompting: a base model is aligned in context by a preamble and a few restyled
query/answer examples, then completes the answer to the real query.

A URIAL prompt file is used unchanged; the query is appended in the layout of the file's
*version*, exactly as upstream's `src/unified_infer.py` (Re-Align/URIAL) renders it, so a
published prompt reproduces upstream's request bytes:

- `backticks` (every `inst_*` prompt except the two below, and justeval's `default`):
  ``<file>\\n# Query:\\n```\\n<instruction>\\n```\\n\\n# Answer:\\n```\\n``` ``
- `v5` (`inst_help_v5-*`): ``<file>\\n# User:\\n\\n<instruction>\\n\\n\\n# Assistant:\\n\\n``
- `v6` (`inst_help_v6-*`): ``<file>\\n\\n# User:\\n<instruction>\\n\\n\\n# Assistant:\\n``

The version is chosen as upstream chooses it, by the prompt's name (`inst_help_v5` / `inst_help_v6`
in it); a file whose name is not one of upstream's is recognised by its own headings (`# User:`
blocks without `# Query:` ones), and `--urial-format` overrides both. Generation stops at
`# Query` and `# User` (upstream's stop strings, for every version).

Output cleaning (`clean_output`): `fences` (the default) removes only the answer's own closing
fence, so code blocks inside an answer survive; `upstream` removes every triple backtick, as
upstream's `clear_output` does, for exact reproduction.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from justeval.errors import InputError, UsageError

FENCE = "```"
QUERY_HEADING = "# Query:"
ANSWER_HEADING = "# Answer:"
USER_HEADING = "# User:"
ASSISTANT_HEADING = "# Assistant:"
#: upstream's stop strings for every URIAL version (`stop_words` in its unified_infer.py)
STOP_SEQUENCES = ["# Query", "# User"]
BUILTIN = {"default": "urial_default.txt"}
#: the published prompts are a few KB; anything this large is not a prompt
MAX_PROMPT_BYTES = 4 * 1024 * 1024

UrialFormat = Literal["backticks", "v5", "v6"]
FormatChoice = Literal["auto", "backticks", "v5", "v6"]
CleanMode = Literal["fences", "upstream"]
FORMATS: tuple[str, ...] = ("backticks", "v5", "v6")

#: the prompt names of upstream's `urial_prompts/` folder: for these the version is what
#: upstream's code picks by name, even where the file's own headings say otherwise (the
#: `inst_help_v3*` files hold `# User:` blocks, yet upstream queries them with `# Query:`)
UPSTREAM_NAMES = frozenset({
    "basic_icl", "inst_1k", "inst_1k_v2", "inst_1k_v3", "inst_1k_v3.help", "inst_1k_v4", "inst_1k_v4.help",
    "inst_1shot", "inst_2k", "inst_2k_v4", "inst_help", "inst_help_mini_yi", "inst_help_v2", "inst_help_v2 copy",
    "inst_help_v2_yi", "inst_help_v3", "inst_help_v3-1k", "inst_help_v4", "inst_help_v5-1k", "inst_help_v5-2k",
    "inst_help_v6-1k", "inst_help_v6-2k", "inst_mini", "inst_only",
})


@dataclass(frozen=True)
class QueryLayout:
    """How one URIAL version writes a turn (upstream's conversation template for it) and how its
    prompt files lay out their own examples (for demonstrations inserted among them)."""

    name: UrialFormat
    user: str
    assistant: str

    def turn(self, heading: str, message: str | None) -> str:
        """One turn as upstream's template renders it; `None` (or empty, as upstream tests
        truthiness) is the open turn the model completes."""
        if self.name == "backticks":
            return f"\n{heading}\n{FENCE}\n{message}\n{FENCE}\n" if message else f"\n{heading}\n{FENCE}\n"
        if self.name == "v5":
            return f"\n{heading}\n\n{message}\n\n" if message else f"\n{heading}\n\n"
        return f"\n\n{heading}\n{message.strip(chr(10))}\n" if message else f"\n\n{heading}\n"

    def conversation(self, turns: list[tuple[str, str]], query: str) -> str:
        """Finished (query, answer) turns, then the query and the open answer turn."""
        parts = [self.turn(self.user, q) + self.turn(self.assistant, a) for q, a in turns]
        return "".join(parts) + self.turn(self.user, query) + self.turn(self.assistant, None)

    def file_example(self, query: str, answer: str) -> str:
        """One example as this version's prompt files write their own, up to where the next
        example's heading starts (`inst_1k_v4`, `inst_help_v5-1k`, `inst_help_v6-1k`)."""
        if self.name == "backticks":
            return f"{self.user}\n{FENCE}\n{query}\n{FENCE}\n\n{self.assistant}\n{FENCE}\n{answer}\n{FENCE}\n\n"
        if self.name == "v5":
            return f"{self.user}\n\n{query}\n\n\n\n{self.assistant}\n\n{answer}\n\n\n\n"
        return f"{self.user}\n{query}\n\n\n{self.assistant}\n{answer}\n\n\n"


LAYOUTS: dict[str, QueryLayout] = {
    "backticks": QueryLayout("backticks", QUERY_HEADING, ANSWER_HEADING),
    "v5": QueryLayout("v5", USER_HEADING, ASSISTANT_HEADING),
    "v6": QueryLayout("v6", USER_HEADING, ASSISTANT_HEADING),
}


@dataclass(frozen=True)
class UrialPrompt:
    """The prompt text, where it came from (recorded in run.json) and its version's layout."""

    name: str
    source: str
    text: str
    format: UrialFormat = "backticks"
    #: how `format` was decided: `name` (upstream's rule), `content` (the file's headings), `setting`
    format_from: str = "name"

    @property
    def sha256(self) -> str:
        """Short content hash (16 hex digits), as recorded in every generation's params."""
        return self.sha256_full[:16]

    @property
    def sha256_full(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def layout(self) -> QueryLayout:
        return LAYOUTS[self.format]

    def render(self, query: str, *, before: list[tuple[str, str]] | None = None,
               after: list[tuple[str, str]] | None = None) -> str:
        """The completion prompt for `query`: the file, demonstrations `before` its own examples
        (inserted where its first example starts) and `after` them, then the query. With no
        demonstrations this is upstream's prompt byte for byte."""
        return self.with_examples(before=before, after=after) + self.layout.conversation([], query)

    def with_examples(self, *, before: list[tuple[str, str]] | None = None,
                      after: list[tuple[str, str]] | None = None) -> str:
        """The prompt's text with demonstrations added: as a prompt file of this version, it
        renders every query exactly as `render(query, before=..., after=...)` does (greedy
        selection writes such files)."""
        text = self.text
        after = list(after or [])
        if before:
            at = first_example_offset(text, self.layout)
            if at is None:  # a preamble without examples of its own: every demonstration follows it
                after = list(before) + after
            else:
                text = text[:at] + "".join(self.layout.file_example(q, a) for q, a in before) + text[at:]
        return text + "".join(self.layout.turn(self.layout.user, q) + self.layout.turn(self.layout.assistant, a)
                              for q, a in after)


def first_example_offset(text: str, layout: QueryLayout) -> int | None:
    """Where the file's first example starts (its first heading line), None when it has none."""
    match = re.search(rf"^{re.escape(layout.user)}[ \t]*$", text, re.M)
    return match.start() if match else None


def detect_format(name: str, text: str) -> tuple[UrialFormat, str]:
    """The version's layout and how it was decided (see the module docstring)."""
    if "inst_help_v5" in name:
        return "v5", "name"
    if "inst_help_v6" in name:
        return "v6", "name"
    if name in UPSTREAM_NAMES:
        return "backticks", "name"
    users = re.findall(rf"^{re.escape(USER_HEADING)}[ \t]*\n(.?)", text, re.M)
    if users and not re.search(rf"^{re.escape(QUERY_HEADING)}", text, re.M):
        return ("v5" if users[0] in ("", "\n") else "v6"), "content"
    return "backticks", "content"


def format_example(instruction: str, answer: str) -> str:
    """One finished query/answer pair, ending with the answer's closing fence and a newline."""
    return (f"{QUERY_HEADING}\n{FENCE}\n{instruction}\n{FENCE}\n\n"
            f"{ANSWER_HEADING}\n{FENCE}\n{answer}\n{FENCE}\n")


def format_query(prompt: str, instruction: str, examples: list[tuple[str, str]] | None = None) -> str:
    """justeval's K-shot completion prompt (no URIAL file): `prompt` (a preamble, or nothing),
    then the examples, then the query with an open answer fence; one blank line between blocks.
    A URIAL prompt file goes through `UrialPrompt.render` instead (upstream's layout)."""
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


#: a fence line: up to three spaces, three or more backticks, then an info string without
#: backticks (CommonMark); a line such as "```x``` is inline code" opens no block
_FENCE_LINE = re.compile(r"^ {0,3}`{3,}[^`]*$")
_HEADINGS = (QUERY_HEADING, USER_HEADING)


def cut_at_stops(text: str, stops: list[str] | tuple[str, ...] = tuple(STOP_SEQUENCES)) -> str:
    """`text` up to the earliest stop string (the server stops there already; text from a
    server that ignored `stop` is cut the same way)."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return text[:cut] if cut >= 0 else text


def clean_output(text: str, *, mode: CleanMode = "fences", fmt: str = "backticks") -> str:
    """The answer alone (see the module docstring for the two modes).

    `fences`: cut at a following heading, drop a next-query heading cut short by max_tokens
    (`# Que`, or a lone `#` right after the closing fence), and drop the answer's closing
    fence: the trailing fence line is the answer's own only when the fence lines are unbalanced.
    `upstream`: upstream's `clear_output` after the same cut: strip, remove every triple
    backtick and `<|endoftext|>`, strip."""
    text = cut_at_stops(text)
    if mode == "upstream":
        return text.rstrip().replace(FENCE, "").replace("<|endoftext|>", " ").strip()
    text = _drop_cut_heading(text.strip())
    if fmt != "backticks":
        return text
    lines = text.split("\n")
    fences = [i for i, line in enumerate(lines) if _FENCE_LINE.match(line)]
    if fences and len(fences) % 2 == 1:
        last = fences[-1]
        if lines[last].strip() == FENCE and all(not line.strip() for line in lines[last + 1:]):
            text = "\n".join(lines[:last])
    elif text.endswith(FENCE) and FENCE not in text[:-3]:
        text = text[:-3]  # "answer```" on one line
    return text.strip()


def _drop_cut_heading(text: str) -> str:
    """Without a last line that is the start of the next turn's heading cut short by max_tokens."""
    head, _, tail = text.rpartition("\n")
    tail = tail.strip()
    if not head or not tail.startswith("#") or not any(h.startswith(tail) for h in _HEADINGS):
        return text
    before = head.rstrip()
    after_fence = before.endswith("\n" + FENCE) or before == FENCE
    if len(tail) >= 3 or after_fence or head.endswith("\n"):
        return before
    return text


def normalise_newlines(text: str) -> str:
    """What Python's text mode makes of a file (upstream reads its prompt files that way)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_urial(spec: str, *, fmt: FormatChoice = "auto", timeout: float = 30.0) -> UrialPrompt:
    """Resolve `--urial NAME|PATH|URL`: a built-in name, a local file, or an http(s) URL;
    `fmt` forces the query layout (`auto`: by name, then by the file's headings)."""
    if fmt not in ("auto", *FORMATS):
        raise UsageError(f"unknown --urial-format {fmt!r} (choose from auto, {', '.join(FORMATS)})")
    if spec in BUILTIN:
        text = resources.files("justeval.generation").joinpath(f"prompts/{BUILTIN[spec]}").read_text(encoding="utf-8")
        name, source = spec, f"builtin:{spec}"
    elif spec.startswith(("http://", "https://")):
        name, source, text = _stem(spec), spec, normalise_newlines(_fetch(spec, timeout))
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise UsageError(f"--urial {spec!r} is neither a built-in prompt ({', '.join(BUILTIN)}), "
                             "an existing file nor an http(s) URL")
        text = _read_file(path)
        name, source = path.stem, str(path.resolve())
    if fmt == "auto":
        found, how = detect_format(name, text)
    else:
        found, how = fmt, "setting"
    return UrialPrompt(name=name, source=source, text=text, format=found, format_from=how)


def _read_file(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_PROMPT_BYTES:
            raise InputError(path, f"URIAL prompt is larger than {MAX_PROMPT_BYTES // (1024 * 1024)} MiB: not a prompt")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read URIAL prompt: {exc}") from exc
    if not text.strip():
        raise InputError(path, "URIAL prompt file is empty")
    return text


def _stem(url: str) -> str:
    """The prompt's name from its URL: the file name without its extension (what upstream
    passes as `--urial`, and what decides its version)."""
    import urllib.parse

    name = urllib.parse.unquote(urllib.parse.urlparse(url).path).rstrip("/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] or "urial"


def _fetch(url: str, timeout: float) -> str:
    from justeval.fetch import fetch_text

    text = fetch_text(url, what="URIAL prompt", hint="download it and pass the file path", timeout=timeout,
                      max_bytes=MAX_PROMPT_BYTES)
    if not text.strip():
        raise InputError(url, "URIAL prompt is empty")
    return text
