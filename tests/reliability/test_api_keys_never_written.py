"""API keys given through the environment (OPENAI_API_KEY, and a custom variable named by
--api-key-env) never appear in any file a command writes (run directories, reports, pages,
review folders, the call cache) nor in anything printed, across generate, judge, leaderboard
--format html, publish, pairwise and export-review. Even a server that echoes the key back
in its error messages must not get it written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.jsonl import write_jsonl
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import CliRun
from tests.reliability.judge_stub import good_reply_text

OPENAI_KEY = "sk-justeval-SECRET-123"
CUSTOM_KEY = "sk-justeval-SECRET-456-custom"
SECRETS = (OPENAI_KEY, CUSTOM_KEY, "SECRET-123", "SECRET-456")


def responder(req: StubRequest) -> Reply:
    """Generation, scoring and pairwise replies; the first call of a few prompts fails with a
    message that quotes the Authorization header back, as some proxies do."""
    prompt = req.prompt_text
    auth = req.headers.get("Authorization", "")
    if prompt.endswith("echo-me"):
        return Reply(status=400, text=f"bad request from {auth}")
    if "[BEGIN REQUEST" in prompt:
        return Reply(text=good_reply_text(prompt))
    if '"preference"' in prompt:
        return Reply(text=json.dumps({"rationale": "first is fine", "preference": "1"}))
    return Reply(text=f"An answer to: {prompt[-40:]}")


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("MY_JUDGE_KEY", CUSTOM_KEY)


def test_keys_from_the_environment_are_never_written_or_printed(
        keys: None, tmp_path: Path, cli: CliRun, stub_server: StubServer) -> None:
    stub_server.responder = responder
    instructions = tmp_path / "instructions.jsonl"
    write_jsonl(instructions, [{"id": i, "instruction": f"Question {i}?" + (" echo-me" if i == 2 else ""),
                                "category": "safety" if i >= 5 else "regular"} for i in range(6)])
    url = stub_server.base_url
    out = tmp_path / "work"
    printed: list[str] = []

    def run(*args: str, ok: bool = True) -> None:
        code, stdout, stderr = cli(*args)
        printed.extend([stdout, stderr])
        if ok:
            assert code == 0, stderr

    for model, key_args in (("openai:model-a", []), ("openai:model-b", ["--api-key-env", "MY_JUDGE_KEY"])):
        run_dir = out / model.split(":")[1]
        run("generate", "--model", model, "--base-url", url, "--instructions", str(instructions), "--out",
            str(run_dir), "--no-progress", "--max-retries", "0", *key_args)
        run("judge", str(run_dir), "--judge", "openai:judge", "--base-url", url, "--api-key-env", "MY_JUDGE_KEY",
            "--no-progress", "--max-retries", "0")
    runs = [str(out / "model-a"), str(out / "model-b")]
    run("leaderboard", *runs, "--format", "html", "--out", str(out / "board.html"), "--bootstrap", "50",
        "--instructions", str(instructions))
    run("leaderboard", *runs, "--format", "json", "--bootstrap", "50", "--instructions", str(instructions))
    run("publish", *runs, "--out", str(out / "site"), "--bootstrap", "50", "--instructions", str(instructions))
    run("pairwise", *runs, "--judge", "openai:pair-judge", "--base-url", url, "--out", str(out / "pairwise.jsonl"),
        "--no-progress", "--max-retries", "0")
    run("export-review", *runs, "--out", str(out / "review"), "--n", "3")

    # the keys were really sent (so the test could see a leak), and a server echoed one back
    sent = {r.headers.get("Authorization") for r in stub_server.requests}
    assert f"Bearer {OPENAI_KEY}" in sent and f"Bearer {CUSTOM_KEY}" in sent
    assert any(r.prompt_text.endswith("echo-me") for r in stub_server.requests)

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"generations.jsonl", "judgments.jsonl", "run.json", "board.html",
                                          "index.html", "pairwise.jsonl", "key.json"}
    for path in written:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret} written to {path}"
    for text in printed:
        for secret in SECRETS:
            assert secret not in text, f"{secret} printed: {text[:300]}"


def test_a_key_from_an_oddly_named_variable_is_masked_when_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 cli: CliRun) -> None:
    """A key in a variable whose name does not look like a credential is still never written,
    even when the server quotes the Authorization header back in an error."""
    secret = "odd-variable-holds-this-credential-42"
    monkeypatch.setenv("LOCAL_LLM_ACCESS", secret)
    echo = lambda req: Reply(status=400, text=f"bad auth header: {req.headers.get('Authorization')}")  # noqa: E731
    instructions = tmp_path / "items.jsonl"
    instructions.write_text(json.dumps({"id": 1, "instruction": "hi"}) + "\n")
    with StubServer(echo) as server:
        _, out, err = cli("generate", "--model", "openai:m", "--base-url", server.base_url, "--api-key-env",
                          "LOCAL_LLM_ACCESS", "--instructions", str(instructions), "--out", str(tmp_path / "run"),
                          "--no-progress")
        assert server.requests[0].headers["Authorization"] == f"Bearer {secret}"
    record = json.loads((tmp_path / "run" / "generations.jsonl").read_text())
    assert record["status"] == "error" and "bad auth header" in record["error"]
    written = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    assert all(secret not in text for text in [*written, out, err])
