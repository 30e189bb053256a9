"""URIAL prompt layout (byte-exact), answer clean-up, and where prompts are loaded from."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from justeval.errors import InputError, SourceUnavailableError, UsageError
from justeval.generation.urial import clean_output, format_query, load_urial

TICKS = "`" * 3


def _upstream_examples(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Split an inst_1k_v4-style file into its preamble and (query, answer) pairs with a regex
    written here, independently of the code under test."""
    pattern = re.compile(r"# Query:\n```\n(.*?)\n```\n\n# Answer:\n```\n(.*?)\n```\n", re.S)
    first = text.index("# Query:\n```\n")
    pairs = [(m.group(1), m.group(2)) for m in pattern.finditer(text, first)]
    return text[:first], pairs


def test_query_block_is_appended_after_one_blank_line() -> None:
    prompt = "Preamble line.\n"
    expected = ("Preamble line.\n"
                "\n"
                "# Query:\n"
                f"{TICKS}\n"
                "What is 2+2?\n"
                f"{TICKS}\n"
                "\n"
                "# Answer:\n"
                f"{TICKS}\n")
    assert format_query(prompt, "What is 2+2?") == expected


def test_prompt_text_is_never_altered_and_gets_at_least_one_blank_line() -> None:
    block = f"# Query:\n{TICKS}\nq\n{TICKS}\n\n# Answer:\n{TICKS}\n"
    assert format_query("P", "q") == "P\n\n" + block
    assert format_query("P\n\n\n", "q") == "P\n\n\n" + block
    assert format_query("", "q") == block


@pytest.mark.integration
def test_v4_prompt_file_reproduces_its_own_last_example_byte_for_byte(shared_data: Path) -> None:
    text = (shared_data / "urial-prompts" / "inst_1k_v4.txt").read_text(encoding="utf-8")
    preamble, pairs = _upstream_examples(text)
    assert len(pairs) == 3
    *shots, (last_query, last_answer) = pairs
    # preamble + two examples as in-context shots, then the third query: the file up to its third answer
    prompt = format_query(preamble, last_query, shots)
    assert prompt + last_answer + f"\n{TICKS}\n" == text
    # the whole file as the prompt: the query continues the file's own rhythm (one blank line)
    full = format_query(text, "Hi there")
    assert full == text + f"\n# Query:\n{TICKS}\nHi there\n{TICKS}\n\n# Answer:\n{TICKS}\n"


def test_builtin_prompt_has_three_examples_in_the_same_layout() -> None:
    prompt = load_urial("default")
    preamble, pairs = _upstream_examples(prompt.text)
    assert len(pairs) == 3 and preamble.startswith("# Instruction")
    assert format_query(preamble, pairs[2][0], pairs[:2]) + pairs[2][1] + f"\n{TICKS}\n" == prompt.text
    assert prompt.source == "builtin:default" and len(prompt.sha256) == 16


@pytest.mark.parametrize(("raw", "expected"), [
    (f" Paris is the capital.\n{TICKS}\n\n# Query:\n{TICKS}\nnext question", "Paris is the capital."),
    ("  Just text, stopped by the server.\n\n", "Just text, stopped by the server."),
    (f"Answer{TICKS}", "Answer"),
    (f"Use this:\n{TICKS}python\nprint(1)\n{TICKS}\nDone.\n{TICKS}\n",
     f"Use this:\n{TICKS}python\nprint(1)\n{TICKS}\nDone."),
    (f"Code:\n{TICKS}\nx = 1\n{TICKS}", f"Code:\n{TICKS}\nx = 1\n{TICKS}"),
    # max_tokens ran out inside the next query's heading, before the stop string was complete
    (f"The answer is 4.\n{TICKS}\n\n# Que", "The answer is 4."),
    (f"The answer is 4.\n{TICKS}\n\n# Query", "The answer is 4."),
    ("A list:\n# Qu", "A list:"),
    ("Keep a markdown heading:\n# Quantum", "Keep a markdown heading:\n# Quantum"),
])
def test_clean_output_keeps_the_answer_only(raw: str, expected: str) -> None:
    assert clean_output(raw) == expected


def test_urial_from_file_and_bad_specs(tmp_path: Path) -> None:
    f = tmp_path / "mine.txt"
    f.write_text("Be kind.\n", encoding="utf-8")
    loaded = load_urial(str(f))
    assert loaded.text == "Be kind.\n" and loaded.name == "mine"
    with pytest.raises(UsageError, match="neither a built-in"):  # exit code 2, like other bad input
        load_urial(str(tmp_path / "missing.txt"))
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        load_urial(str(tmp_path / "empty.txt"))


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[str]:
    """A loopback HTTP server over tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_urial_prompt_is_fetched_from_a_url(tmp_path: Path, file_server: str) -> None:
    (tmp_path / "www" / "remote_prompt.txt").write_text("Remote preamble.\n", encoding="utf-8")
    loaded = load_urial(f"{file_server}/remote_prompt.txt")
    assert loaded.text == "Remote preamble.\n" and loaded.name == "remote_prompt"
    with pytest.raises(SourceUnavailableError, match="404"):
        load_urial(f"{file_server}/absent.txt")
