"""Self-preference: a model judged by a judge of its own family, a known bias (LLM judges
tend to rate their own outputs higher), flagged on the board rather than hidden.

The family rule: two names are one family when they name the same model once stripped of
what only says where or when it was served:

- the backend kind (`openai:`, `anthropic:`, `hf:` ...) and any organisation or path before
  the last `/` (`meta-llama/Llama-3-8B-Instruct` -> `llama-3-8b-instruct`);
- an experiment's configuration after `+` (`openai:m+k5`), upstream just-eval's sampling
  suffix (`.p=1.0.t=0.0`), an `@version` or `:latest` tag;
- a snapshot date or version at the end (`-2024-07-18`, `-20240620`, `-0613`, `-1106`), with
  a trailing `-preview` or `-latest`;
- letter case.

So `gpt-4o-mini` (a run's generator) and `openai:gpt-4o-mini-2024-07-18` (its judge) are one
family, and `gpt-4-1106-preview` is `gpt-4`; but `gpt-4o` and `gpt-4o-mini`, or `gpt-4` and
`gpt-4-turbo`, are not (different models, even from one maker): the rule flags only a judge
grading its own model, never a whole vendor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from justeval.board.tables import ModelRow

SELF_MARK = "†"

_KIND = re.compile(r"^[a-z][a-z0-9_.-]*:(?!\d)", re.IGNORECASE)  # `openai:`; not `llama3:8b`'s size tag
_SAMPLING = re.compile(r"\.p=[\d.]+\.t=[\d.]+$")
_SNAPSHOT = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4})$")
_STAGE = re.compile(r"-(preview|latest)$")


def family(name: str) -> str:
    """The family key of a generator or judge name (see the module docstring)."""
    text = name.strip()
    text = text.split("+", 1)[0]
    text = _KIND.sub("", text, count=1)
    text = text.rsplit("/", 1)[-1]
    text = _SAMPLING.sub("", text)
    text = text.split("@", 1)[0]
    text = text.removesuffix(":latest").lower()
    for _ in range(2):  # `-1106-preview`, `-preview-0409`
        text = _STAGE.sub("", _SNAPSHOT.sub("", text))
    return text


def own_judges(generator: str, judges: Iterable[str]) -> list[str]:
    """The judges among `judges` of the generator's own family."""
    mine = family(generator)
    return sorted({j for j in judges if mine and family(j) == mine})


def row_judges(row: ModelRow) -> list[str]:
    return sorted({j for s in row.aspects.values() for j in s.judges})


def model_label(row: ModelRow) -> str:
    """The model's name as the tables show it: marked when self-preference may bias it."""
    return f"{row.model} {SELF_MARK}" if row.self_preference else row.model
