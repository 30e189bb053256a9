"""A reply that holds no answer is recorded as an error, never as an ok empty output that would
then be judged as if the model had said nothing: through `generate` against a loopback server
that sends each kind of empty reply, then a rerun asks those items again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from justeval.jsonl import write_jsonl
from justeval.rundir import RunDir
from tests.conftest import CliRun
from tests.reliability.bad_input_cases import N, instruction
from tests.reliability.raw_server import RawReply, RawServer, chat_reply

EMPTY_CHAT_REPLIES: dict[str, tuple[RawReply, str]] = {
    "content_null": (chat_reply({"role": "assistant", "content": None}), "no content (null"),
    "content_missing": (chat_reply({"role": "assistant"}), "no content (null"),
    "content_null_at_the_token_limit": (chat_reply({"role": "assistant", "content": None}, finish_reason="length"),
                                        "token limit"),
    "content_a_number": (chat_reply({"role": "assistant", "content": 7}), "no content (int"),
    "content_an_object": (chat_reply({"role": "assistant", "content": {"text": "x"}}), "no content (dict"),
    "content_parts_not_text": (chat_reply({"role": "assistant", "content": [{"type": "image_url", "url": "u"}]}),
                               "no content (list"),
    "a_refusal": (chat_reply({"role": "assistant", "content": None, "refusal": "I can't help with that."}),
                  "the model refused: I can't help with that."),
    "tool_calls_only": (chat_reply({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}), "tool calls"),
    "message_null": (chat_reply(None), "no message"),
    "message_a_string": (chat_reply("hello"), "no message"),
    "choices_empty": (RawReply(json.dumps({"choices": []}).encode()), "no choices"),
    "choices_not_a_list": (RawReply(json.dumps({"choices": {"0": {}}}).encode()), "no choices"),
    "choice_not_an_object": (RawReply(json.dumps({"choices": ["hi"]}).encode()), "no choices"),
}


@pytest.fixture
def instructions_file(tmp_path: Path) -> Path:
    path = tmp_path / "ins.jsonl"
    write_jsonl(path, [instruction(i) for i in range(N)])
    return path


@pytest.fixture
def server() -> Iterator[RawServer]:
    with RawServer(lambda body: chat_reply({"role": "assistant", "content": "fine"})) as srv:
        yield srv


def _generate(cli: CliRun, srv: RawServer, ins: Path, run: Path, *extra: str) -> int:
    code, _out, err = cli("generate", "--model", "openai:m", "--instructions", str(ins), "--out", str(run),
                          "--base-url", srv.base_url, "--no-progress", "--no-cache", "--max-retries", "0", *extra)
    assert "Traceback" not in err
    return code


def _asked(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"] if "messages" in body else body["prompt"])


@pytest.mark.parametrize("kind", list(EMPTY_CHAT_REPLIES))
def test_a_chat_reply_without_text_is_an_error_and_is_asked_again(kind: str, tmp_path: Path, cli: CliRun,
                                                                  server: RawServer, instructions_file: Path) -> None:
    bad, says = EMPTY_CHAT_REPLIES[kind]
    server.handler = lambda body: bad if _asked(body) == "Question 2?" else chat_reply({"content": "fine"})
    run = tmp_path / "run"
    assert _generate(cli, server, instructions_file, run) == 0
    latest = RunDir(run).latest_generations()
    assert latest[2].status == "error" and latest[2].output is None and says in (latest[2].error or "")
    assert all(latest[i].status == "ok" and latest[i].output == "fine" for i in range(N) if i != 2)
    server.handler = lambda body: chat_reply({"content": "now an answer"})
    server.bodies.clear()
    assert _generate(cli, server, instructions_file, run) == 0
    assert [_asked(b) for b in server.bodies] == ["Question 2?"]  # only the failed item, once
    assert RunDir(run).latest_generations()[2].output == "now an answer"


@pytest.mark.parametrize(("text", "says"), [(None, "no text (null"), (3, "no text (int"), ("", None)])
def test_a_completion_reply_without_text_is_an_error(text: Any, says: str | None, tmp_path: Path, cli: CliRun,
                                                     server: RawServer, instructions_file: Path) -> None:
    reply = RawReply(json.dumps({"choices": [{"text": text, "finish_reason": "stop"}]}).encode())
    server.handler = lambda body: reply
    run = tmp_path / "run"
    _generate(cli, server, instructions_file, run, "--completion")
    gens = RunDir(run).latest_generations()
    if says is None:  # an empty string is the model's own (empty) answer
        assert all(g.status == "ok" and g.output == "" for g in gens.values())
    else:
        assert all(g.status == "error" and says in (g.error or "") for g in gens.values())


def test_text_parts_are_joined_and_half_a_character_is_replaced(tmp_path: Path, cli: CliRun, server: RawServer,
                                                                instructions_file: Path) -> None:
    parts = chat_reply({"role": "assistant", "content": [{"type": "text", "text": "one "}, {"text": "two"}]})
    broken = RawReply(b'{"choices": [{"message": {"content": "smile \\ud83d!"}, "finish_reason": "stop"}]}')
    server.handler = lambda body: broken if _asked(body) == "Question 1?" else parts
    run = tmp_path / "run"
    assert _generate(cli, server, instructions_file, run) == 0
    latest = RunDir(run).latest_generations()
    assert latest[0].output == "one two"
    assert latest[1].output == "smile \ufffd!"  # written, read back, and never a crash of the run
