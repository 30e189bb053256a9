"""How the instruction is put before the output when a model scores it.

`plain` is the bare instruction; `urial` wraps it the way URIAL prompts a base model (a
`# Query:` block, then an open `# Answer:` fence that the output continues), with no in-context
examples; a FILE is a user's template with one placeholder, `{instruction}`. A template file can
come from anyone, so it is rendered by plain string replacement: nothing in it is evaluated,
and the inserted instruction is never scanned for placeholders. `chat` (aligned models
only) is the tokenizer's own chat template, applied by the tokenizer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from justeval.errors import InputError, UsageError

PLACEHOLDER = "{instruction}"
#: a template is a few lines; anything this large is not one
MAX_TEMPLATE_BYTES = 256 * 1024

BUILTIN = {
    "plain": PLACEHOLDER,
    # the layout of the project's URIAL prompts (justeval.generation.urial), zero-shot
    "urial": "# Query:\n```\n" + PLACEHOLDER + "\n```\n\n# Answer:\n```\n",
}
CHAT = "chat"


@dataclass(frozen=True)
class PromptTemplate:
    """A template's name (`plain`, `urial`, `chat` or the file's path), its text, and its hash."""

    name: str
    text: str
    is_chat: bool = False
    """The tokenizer's chat template (its text, once known, is `text`: the hash follows it)."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]

    def render(self, instruction: str) -> str:
        """The prompt for one instruction (not for `chat`, which the tokenizer renders)."""
        if self.is_chat:
            raise UsageError("the chat template is rendered by the tokenizer")
        return self.text.replace(PLACEHOLDER, instruction)  # scans the template only, not what it inserts


def load_template(ref: str, *, chat_allowed: bool = False) -> PromptTemplate:
    """`plain`, `urial`, `chat` (where allowed) or a UTF-8 file holding `{instruction}`."""
    name = ref.strip()
    if name in BUILTIN:
        return PromptTemplate(name, BUILTIN[name])
    if name == CHAT:
        if not chat_allowed:
            raise UsageError("--template chat is for the aligned model (--aligned-template); the base model is "
                             "prompted with urial, plain or a template FILE")
        return PromptTemplate(CHAT, "", is_chat=True)
    path = Path(name).expanduser()
    if not path.is_file():
        raise UsageError(f"--template {ref[:200]!r} is neither urial, plain{', chat' if chat_allowed else ''} nor "
                         "a template file")
    try:
        size = path.stat().st_size
        if size > MAX_TEMPLATE_BYTES:
            raise InputError(path, f"template is {size:,} bytes; at most {MAX_TEMPLATE_BYTES:,} are read")
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise InputError(path, f"cannot read template: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(path, f"template is not valid UTF-8 (byte {exc.start})") from exc
    if PLACEHOLDER not in text:
        raise InputError(path, f"template has no {PLACEHOLDER} placeholder: the instruction would not be shown")
    return PromptTemplate(str(path.resolve()), text)
