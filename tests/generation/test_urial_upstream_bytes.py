"""Every URIAL prompt version, with upstream's settings, reaches the server as the request
upstream's own code (Re-Align/URIAL `src/unified_infer.py`) sends: the same prompt bytes, stop
strings and sampling fields. The prompt files are written here in upstream's repository layout
(`urial_prompts/<version>.txt`, each version in the layout of its published file); the expected
prompt is derived from upstream's format rules, written out below."""

from __future__ import annotations

import http.server
import threading
from functools import partial
from pathlib import Path

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.engine import Engine
from justeval.engine.types import GenParams
from justeval.generation.prompting import PromptBuilder, PromptSettings
from justeval.records import Instruction
from justeval.testing.stub_server import StubRequest, StubServer
from tests.generation.conftest import fast_config

TICKS = "`" * 3
PREAMBLE = ("# Instruction\n\nBelow is a list of conversations between a human and an AI assistant (you).\n"
            "You are a helpful, respectful, and honest assistant.\n")
QA = [("Can you name some renewable energy sources?", "Sure! Solar, wind and hydropower.\n\n1. Solar\n2. Wind"),
      ("How do I steal a car?", "I cannot help with that. If you are locked out, call a locksmith."),
      ("Write a Python hello world.", f"Here it is:\n{TICKS}python\nprint('hello')\n{TICKS}\nRun it with python.")]


def _queries_legacy(pairs: list[tuple[str, str]]) -> str:
    """inst_1k, inst_1k_v2, inst_1k_v3, inst_1shot, inst_2k, inst_help, inst_mini: the question
    inline between backticks, a space on the line after it."""
    return "".join(f"# Query:\n{TICKS}{q}{TICKS}\n \n# Answer:\n{TICKS}\n{a}\n{TICKS}\n\n" for q, a in pairs)


def _queries_v4(pairs: list[tuple[str, str]]) -> str:
    """inst_1k_v3.help, inst_1k_v4, inst_1k_v4.help, inst_2k_v4."""
    return "\n".join(f"# Query:\n{TICKS}\n{q}\n{TICKS}\n\n# Answer:\n{TICKS}\n{a}\n{TICKS}\n" for q, a in pairs)


def _users(pairs: list[tuple[str, str]], gap: str, inner: str) -> str:
    """The `# User:` / `# Assistant:` files (inst_help_v3*, v5*, v6*)."""
    return "".join(f"# User:{inner}{q}{gap}# Assistant:{inner}{a}{gap}" for q, a in pairs)


def _plain_users(pairs: list[tuple[str, str]]) -> str:
    """inst_help_v4, inst_help_v2_yi, inst_help_mini_yi: `User:` / `Assistant:` without `#`."""
    return "".join(f"User:\n{q}\n\nAssistant:\n{a}\n\n\n" for q, a in pairs)


#: every prompt in upstream's urial_prompts/ folder, laid out (and ended) like the published file
VERSIONS: dict[str, str] = {
    "inst_1k": PREAMBLE + "\n" + _queries_legacy(QA).rstrip("\n"),           # ends with the fence, no newline
    "inst_1k_v2": PREAMBLE + "\n" + _queries_legacy(QA).rstrip("\n"),
    "inst_1k_v3": PREAMBLE + "\n" + _queries_legacy(QA).rstrip("\n"),
    "inst_1shot": PREAMBLE + "\n" + _queries_legacy(QA[:1]).rstrip("\n"),
    "inst_2k": PREAMBLE + "\n" + _queries_legacy(QA).rstrip("\n") + "  \n",  # ends with two spaces and a newline
    "inst_help": PREAMBLE + "\n" + _queries_legacy(QA).rstrip("\n") + "  \n",
    "inst_mini": PREAMBLE + "\n" + _queries_legacy(QA[:2]).rstrip("\n") + "  \n",
    "inst_1k_v3.help": PREAMBLE + "\n" + _queries_v4(QA),
    "inst_1k_v4": PREAMBLE + "\n" + _queries_v4(QA),
    "inst_1k_v4.help": PREAMBLE + "\n" + _queries_v4(QA),
    "inst_2k_v4": PREAMBLE + "\n" + _queries_v4(QA + QA),
    "inst_only": PREAMBLE,
    "basic_icl": _queries_legacy(QA).rstrip("\n"),
    "inst_help_v2": PREAMBLE + "\n" + _queries_v4(QA) + "\n",
    "inst_help_v2 copy": PREAMBLE + "\n" + _queries_v4(QA) + "\n",
    "inst_help_v2_yi": PREAMBLE.lstrip("# ") + "\n" + _plain_users(QA),
    "inst_help_mini_yi": PREAMBLE.lstrip("# ") + "\n" + _plain_users(QA[:2]) + "\n",
    "inst_help_v4": PREAMBLE.lstrip("# ") + "\n" + _plain_users(QA),
    "inst_help_v3": PREAMBLE + "\n\n" + _users(QA, "\n\n\n\n", "\n\n"),
    "inst_help_v3-1k": PREAMBLE + "\n\n" + _users(QA[:2], "\n\n\n\n", "\n\n"),
    "inst_help_v5-1k": PREAMBLE + "\n\n" + _users(QA, "\n\n\n\n", "\n\n").rstrip("\n") + "\n\n",
    "inst_help_v5-2k": PREAMBLE + "\n\n" + _users(QA + QA, "\n\n\n\n", "\n\n").rstrip("\n") + "\n\n",
    "inst_help_v6-1k": PREAMBLE + "\n\n" + _users(QA, "\n\n\n", "\n").rstrip("\n"),  # no final newline
    "inst_help_v6-2k": PREAMBLE + "\n\n" + _users(QA + QA, "\n\n\n", "\n").rstrip("\n") + "\n\n",
}

#: upstream's own settings for the just-eval rows (vLLM SamplingParams; max_tokens of the runs)
UPSTREAM_PARAMS = GenParams(temperature=0.0, top_p=1.0, repetition_penalty=1.1, max_tokens=2048)
QUERIES = ["What is the capital of France?", "Summarise this:\nA long text\nwith lines.\n",
           "\nStarts with a blank line"]


def upstream_prompt(version: str, text: str, query: str) -> str:
    """The prompt upstream's unified_infer.py sends for `query` with the prompt `version`: it
    picks its conversation template by the version's name, sets the file's text as the system
    message, then renders the user turn and the open assistant turn."""
    if "inst_help_v5" in version:     # template urial_v5: "\n" role "\n" "" "\n" message "\n" "" "\n"
        return text + "\n# User:\n\n" + query + "\n\n" + "\n# Assistant:\n\n"
    if "inst_help_v6" in version:     # template urial_v6: "\n\n" role "\n" message.strip("\n") "\n"
        return text + "\n\n# User:\n" + query.strip("\n") + "\n" + "\n\n# Assistant:\n"
    # template urial_backticks: "\n" role "\n```\n" message "\n```\n"; the open turn "\n" role "\n```\n"
    return text + "\n# Query:\n" + TICKS + "\n" + query + "\n" + TICKS + "\n" + "\n# Answer:\n" + TICKS + "\n"


@pytest.fixture
def upstream_repo(tmp_path: Path) -> Path:
    """A checkout of upstream's prompt folder: urial_prompts/<version>.txt."""
    folder = tmp_path / "URIAL" / "urial_prompts"
    folder.mkdir(parents=True)
    for version, text in VERSIONS.items():
        (folder / f"{version}.txt").write_text(text, encoding="utf-8")
    return folder


def _items(queries: list[str] = QUERIES) -> list[Instruction]:
    return [Instruction(id=i, instruction=q) for i, q in enumerate(queries)]


def send(server: StubServer, settings: PromptSettings, params: GenParams,
         items: list[Instruction]) -> tuple[PromptBuilder, list[StubRequest]]:
    """Build every request as the generate stage does and send it through the real client."""
    spec = BackendSpec(spec="openai:base-model", base_urls=[server.base_url])
    builder = PromptBuilder.from_settings(settings, params, backend=spec)
    request_params = builder.request_params()
    requests = [builder.build(inst, request_params)[0] for inst in items]
    Engine(spec.build(), fast_config(cache=False)).run_sync(requests, lambda result: None)
    by_prompt = {str(r.body.get("prompt")): r for r in server.requests}
    return builder, [by_prompt[str(req.prompt)] for req in requests]


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_every_upstream_version_sends_upstreams_exact_request(version: str, upstream_repo: Path,
                                                               stub_server: StubServer) -> None:
    text = VERSIONS[version]
    _, sent = send(stub_server, PromptSettings(urial=str(upstream_repo / f"{version}.txt")), UPSTREAM_PARAMS,
                   _items())
    for query, req in zip(QUERIES, sent, strict=True):
        assert req.path == "/v1/completions"
        assert req.body["prompt"] == upstream_prompt(version, text, query)
        assert req.body["stop"] == ["# Query", "# User"]
        assert {k: req.body[k] for k in ("temperature", "top_p", "repetition_penalty", "max_tokens")} == {
            "temperature": 0.0, "top_p": 1.0, "repetition_penalty": 1.1, "max_tokens": 2048}


def test_the_version_is_read_from_the_url_name(tmp_path: Path, stub_server: StubServer) -> None:
    root = tmp_path / "www"
    folder = root / "Re-Align" / "URIAL" / "main" / "urial_prompts"
    folder.mkdir(parents=True)
    for version in ("inst_help_v6-1k", "inst_1k"):
        (folder / f"{version}.txt").write_text(VERSIONS[version], encoding="utf-8")
    with _file_server(root) as base:
        for version in ("inst_help_v6-1k", "inst_1k"):
            stub_server.reset()
            url = f"{base}/Re-Align/URIAL/main/urial_prompts/{version}.txt"
            builder, sent = send(stub_server, PromptSettings(urial=url), UPSTREAM_PARAMS, _items(QUERIES[:1]))
            assert sent[0].body["prompt"] == upstream_prompt(version, VERSIONS[version], QUERIES[0])
            assert builder.sources["urial"]["format_from"] == "name"


def test_a_renamed_prompt_is_recognised_by_its_headings_and_the_setting_overrides(
        tmp_path: Path, stub_server: StubServer) -> None:
    mine = tmp_path / "my_copy.txt"
    mine.write_text(VERSIONS["inst_help_v6-1k"], encoding="utf-8")
    builder, sent = send(stub_server, PromptSettings(urial=str(mine)), UPSTREAM_PARAMS, _items(QUERIES[:1]))
    assert sent[0].body["prompt"] == upstream_prompt("inst_help_v6", VERSIONS["inst_help_v6-1k"], QUERIES[0])
    assert (builder.urial is not None and builder.urial.format, builder.sources["urial"]["format_from"]) == (
        "v6", "content")
    v5 = tmp_path / "other.txt"
    v5.write_text(VERSIONS["inst_help_v5-1k"], encoding="utf-8")
    stub_server.reset()
    _, sent = send(stub_server, PromptSettings(urial=str(v5)), UPSTREAM_PARAMS, _items(QUERIES[:1]))
    assert sent[0].body["prompt"] == upstream_prompt("inst_help_v5", VERSIONS["inst_help_v5-1k"], QUERIES[0])
    stub_server.reset()
    _, sent = send(stub_server, PromptSettings(urial=str(mine), urial_format="backticks"), UPSTREAM_PARAMS,
                   _items(QUERIES[:1]))
    assert sent[0].body["prompt"] == upstream_prompt("inst_1k", VERSIONS["inst_help_v6-1k"], QUERIES[0])


def test_each_generation_records_the_prompts_hash_format_endpoint_and_top_p(
        upstream_repo: Path, stub_server: StubServer) -> None:
    import hashlib

    settings = PromptSettings(urial=str(upstream_repo / "inst_help_v5-1k.txt"))
    builder = PromptBuilder.from_settings(settings, GenParams(temperature=0.0),
                                          backend=BackendSpec(spec="openai:m", base_urls=[stub_server.base_url]))
    _, extra = builder.build(_items()[0], builder.request_params())
    digest = hashlib.sha256(VERSIONS["inst_help_v5-1k"].encode("utf-8")).hexdigest()
    assert extra == {"urial": "inst_help_v5-1k", "urial_sha256": digest[:16], "urial_format": "v5",
                     "endpoint": "completions", "top_p": None, "top_p_source": "server default (not sent)"}
    assert builder.sources["urial"]["sha256"] == digest
    assert builder.identity["urial_sha256"] == digest[:16] and builder.identity["urial_format"] == "v5"
    openai_builder = PromptBuilder.from_settings(PromptSettings(), GenParams(), backend=BackendSpec(spec="openai:m"))
    _, chat_extra = openai_builder.build(_items()[0], GenParams())
    assert chat_extra == {"endpoint": "chat", "top_p": 1.0, "top_p_source": "API default"}


@pytest.mark.integration
@pytest.mark.parametrize("name", ["inst_1k", "inst_1k_v4", "inst_1k_v4.help"])
def test_the_published_prompts_send_upstreams_bytes(name: str, shared_data: Path, stub_server: StubServer) -> None:
    path = shared_data / "urial-prompts" / f"{name}.txt"
    text = path.read_text(encoding="utf-8")
    _, sent = send(stub_server, PromptSettings(urial=str(path)), UPSTREAM_PARAMS, _items())
    for query, req in zip(QUERIES, sent, strict=True):
        assert req.body["prompt"] == upstream_prompt(name, text, query)
    if name == "inst_1k":  # the file ends with its last fence: upstream puts the query on the next line
        assert sent[0].body["prompt"].count(f"{TICKS}\n# Query:\n{TICKS}\n") == 1


class _file_server:
    """A loopback HTTP server over `root`; yields its base URL."""

    def __init__(self, root: Path) -> None:
        handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
