"""Answer cleaning: justeval's `fences` mode (code blocks kept) and upstream's mode (every triple
backtick removed), with the stop headings of every URIAL version."""

from __future__ import annotations

import pytest

from justeval.engine.types import GenParams
from justeval.generation.prompting import PromptBuilder, PromptSettings
from justeval.generation.urial import clean_output

TICKS = "`" * 3


@pytest.mark.parametrize(("raw", "expected"), [
    # a line that starts with inline code is not a fence: the answer's own closing fence still goes
    (f"{TICKS}x{TICKS} is inline code.\nDone.\n{TICKS}\n", f"{TICKS}x{TICKS} is inline code.\nDone."),
    (f"Use {TICKS}x{TICKS}.\n{TICKS}python{TICKS} too\n{TICKS}", f"Use {TICKS}x{TICKS}.\n{TICKS}python{TICKS} too"),
    # max_tokens ran out right after the next heading's "#"
    (f"The answer is 4.\n{TICKS}\n\n#", "The answer is 4."),
    (f"The answer is 4.\n{TICKS}\n#", "The answer is 4."),
    (f"The answer is 4.\n{TICKS}\n\n# U", "The answer is 4."),
    # continuations upstream's stop strings end ("# Query :", "# User:")
    (f"Paris.\n{TICKS}\n\n# Query :\n{TICKS}\nnext", "Paris."),
    (f"Paris.\n{TICKS}\n\n# User:\nnext", "Paris."),
    # what is not a cut heading stays
    ("Steps:\n# Setup\nrun it", "Steps:\n# Setup\nrun it"),
    ("C# is a language.\n#", "C# is a language.\n#"),
    (f"Code:\n{TICKS}\nx = 1\n{TICKS}", f"Code:\n{TICKS}\nx = 1\n{TICKS}"),
])
def test_fences_mode_keeps_code_and_drops_only_the_answers_own_fence(raw: str, expected: str) -> None:
    assert clean_output(raw) == expected


def test_upstream_mode_removes_every_triple_backtick_as_upstream_does() -> None:
    raw = f"Use:\n{TICKS}python\nprint(1)\n{TICKS}\nDone.<|endoftext|>ok\n{TICKS}\n\n"
    assert clean_output(raw, mode="upstream") == "Use:\npython\nprint(1)\n\nDone. ok"
    assert clean_output(f" Paris.\n{TICKS}\n\n# Query:\n{TICKS}\nnext", mode="upstream") == "Paris."


def test_user_formats_have_no_answer_fence_to_remove() -> None:
    assert clean_output(f"Here:\n{TICKS}\ncode", fmt="v5") == f"Here:\n{TICKS}\ncode"
    assert clean_output("Sure thing.\n\n\n# Us", fmt="v6") == "Sure thing."


def test_the_builder_cleans_with_the_chosen_mode_and_the_prompts_version() -> None:
    fences = PromptBuilder.from_settings(PromptSettings(urial="default"), GenParams())
    upstream = PromptBuilder.from_settings(PromptSettings(urial="default", urial_clean="upstream"), GenParams())
    raw = f"Run:\n{TICKS}sh\nls\n{TICKS}\n{TICKS}\n"
    assert fences.clean_output(raw) == f"Run:\n{TICKS}sh\nls\n{TICKS}"
    assert upstream.clean_output(raw) == "Run:\nsh\nls"
    assert fences.identity["clean"] == "fences" and upstream.identity["clean"] == "upstream"
    chat = PromptBuilder.from_settings(PromptSettings(), GenParams())
    assert chat.clean_output(raw) == raw  # a chat reply is kept as it is
