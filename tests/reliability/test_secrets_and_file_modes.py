"""Keys echoed back in successful replies stay out of the call cache and the records, whatever
characters the key holds (a `"` or `\\` is written escaped in a JSON line, so the escaped forms
are masked too); and what a run writes (records, run.json, the cache) is the user's alone:
files 0600 and folders 0700 whatever the umask, while a file that exists keeps its mode."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from justeval.jsonl import write_jsonl
from justeval.redact import redact
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import CliRun
from tests.reliability.bad_input_cases import N, instruction, output
from tests.reliability.judge_stub import good_reply_text

KEYS = {
    "plain": "sk-plain-SECRET-0123456789",
    "double_quote": 'sk-quo"te-SECRET-0123456789',
    "backslash": "sk-back\\slash-SECRET-0123456789",
    "both_and_a_single_quote": 'sk-"mi\\x\'ed-SECRET-0123456789',
    "control_character": "sk-tab\there-SECRET-0123456789",
}
#: keys an HTTP header cannot carry (so never sent), but redacted all the same
UNSENDABLE = {"non_ascii": "sk-\u00e9t\u00e9-SECRET-0123456789", "emoji": "sk-smile\U0001f600-SECRET-0123456789"}


def echo_the_key(req: StubRequest) -> Reply:
    """A proxy that quotes the Authorization header back, in a successful reply (which is
    cached and recorded) and, for one item, in an error."""
    auth = req.headers.get("Authorization", "")
    if "[BEGIN REQUEST" in req.prompt_text:  # the judge: a good score, and the key in its rationale
        reply = json.loads(good_reply_text(req.prompt_text))
        for entry in reply.values():
            entry["rationale"] = f"seen {auth} and {json.dumps(auth)}"
        return Reply(text=json.dumps(reply))
    if req.prompt_text == "Question 3?":
        return Reply(status=400, text=f"bad request from {auth!r}")
    return Reply(text=f"You sent {auth}; as JSON {json.dumps(auth)}; as repr {auth!r}")


def _everything(*folders: Path) -> bytes:
    return b"".join(p.read_bytes() for f in folders for p in sorted(f.rglob("*")) if p.is_file())


def _forms(key: str) -> set[bytes]:
    """The bytes the key would leave in a file, as itself or quoted once or twice."""
    texts = {key, json.dumps(key)[1:-1], json.dumps(key, ensure_ascii=False)[1:-1], repr(key)[1:-1]}
    texts |= {json.dumps(t)[1:-1] for t in set(texts)}
    return {t.encode("utf-8") for t in texts} | {b"SECRET-0123456789"}


@pytest.mark.parametrize("name", list(KEYS))
def test_a_key_echoed_in_replies_is_in_no_record_and_not_in_the_cache(
        name: str, tmp_path: Path, cli: CliRun, stub_server: StubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    key = KEYS[name]
    monkeypatch.setenv("OPENAI_API_KEY", key)
    stub_server.responder = echo_the_key
    ins = tmp_path / "ins.jsonl"
    write_jsonl(ins, [instruction(i) for i in range(N)])
    run, cache = tmp_path / "run", tmp_path / "cache"
    common = ["--base-url", stub_server.base_url, "--cache-dir", str(cache), "--no-progress"]
    code, out, err = cli("generate", "--model", "openai:m", "--instructions", str(ins), "--out", str(run), *common)
    assert code == 0, err
    code, out2, err2 = cli("judge", str(run), "--judge", "openai:j", *common)
    assert code == 0, err2
    assert any(key in r.headers.get("Authorization", "") for r in stub_server.requests)  # it was echoed back
    assert (cache / "replies.sqlite3").stat().st_size > 0
    found = _everything(run, cache) + (out + err + out2 + err2).encode()
    leaked = [form for form in _forms(key) if form in found]
    assert not leaked, found[max(0, found.find(b"SECRET") - 120):found.find(b"SECRET") + 40]
    gens = [json.loads(ln) for ln in (run / "generations.jsonl").read_text("utf-8").splitlines()]
    assert all("[redacted]" in (g["output"] or g["error"]) for g in gens)


@pytest.mark.parametrize("name", [*KEYS, *UNSENDABLE])
def test_redact_masks_a_key_however_many_times_it_was_quoted(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key = {**KEYS, **UNSENDABLE}[name]
    monkeypatch.setenv("SOME_API_KEY", key)
    quoted = [key, repr(key)]
    for _ in range(4):
        quoted += [json.dumps(quoted[-2]), json.dumps(quoted[-1], ensure_ascii=False)]
    for text in quoted:
        line = json.dumps({"error": f"bad key {text}", "raw": text})
        assert "SECRET" not in redact(line) and redact(line).count("[redacted]") == 2, line


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """The most permissive umask: nothing may depend on the user's umask to keep files private."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_run_files_and_the_cache_are_private_whatever_the_umask(
        umask_zero: None, tmp_path: Path, cli: CliRun, stub_server: StubServer) -> None:
    stub_server.responder = lambda req: Reply(text=good_reply_text(req.prompt_text)) \
        if "[BEGIN REQUEST" in req.prompt_text else Reply(text="an answer")
    ins = tmp_path / "ins.jsonl"
    write_jsonl(ins, [instruction(i) for i in range(N)])
    run, cache = tmp_path / "runs" / "a", tmp_path / "cache"
    common = ["--base-url", stub_server.base_url, "--cache-dir", str(cache), "--no-progress"]
    assert cli("generate", "--model", "openai:m", "--instructions", str(ins), "--out", str(run), *common)[0] == 0
    assert cli("judge", str(run), "--judge", "openai:j", "--judge", "openai:k", *common)[0] == 0
    files = [run / "run.json", run / "generations.jsonl", *sorted((run / "judgments").glob("*.jsonl")),
             *sorted(cache.glob("replies.sqlite3*"))]
    assert len(files) >= 5
    assert {str(f): oct(_mode(f)) for f in files} == {str(f): "0o600" for f in files}
    assert {oct(_mode(d)) for d in (run, run / "judgments", cache)} == {"0o700"}

    imported = tmp_path / "imported"
    outputs = tmp_path / "outputs.jsonl"
    write_jsonl(outputs, [output(i) for i in range(N)])
    assert cli("import", str(outputs), "--out", str(imported), "--instructions", str(ins))[0] == 0
    assert {oct(_mode(p)) for p in (imported / "generations.jsonl", imported / "run.json")} == {"0o600"}
    assert oct(_mode(imported)) == "0o700"


def test_a_run_file_that_exists_keeps_its_mode(umask_zero: None, tmp_path: Path, cli: CliRun,
                                               stub_server: StubServer) -> None:
    """A user who shares a run with their group on purpose keeps doing so."""
    ins = tmp_path / "ins.jsonl"
    write_jsonl(ins, [instruction(i) for i in range(N)])
    run = tmp_path / "run"
    args = ["generate", "--model", "openai:m", "--instructions", str(ins), "--out", str(run), "--base-url",
            stub_server.base_url, "--no-progress", "--no-cache"]
    assert cli(*args, "--ids", "0-2")[0] == 0
    for f in (run, run / "run.json", run / "generations.jsonl"):
        f.chmod(0o750 if f.is_dir() else 0o640)
    assert cli(*args)[0] == 0
    assert (oct(_mode(run)), oct(_mode(run / "run.json")), oct(_mode(run / "generations.jsonl"))) == \
        ("0o750", "0o640", "0o640")


def test_outputs_meant_for_others_keep_the_usual_permissions(tmp_path: Path, cli: CliRun) -> None:
    """An export or a page is made to be shared: it follows the umask, as before."""
    run = tmp_path / "run"
    run.mkdir()
    write_jsonl(run / "generations.jsonl", [output(i) for i in range(N)])
    done = subprocess.run([sys.executable, "-c", "import os, sys; os.umask(0o022); from justeval.cli import main; "
                           "sys.argv = ['justeval', 'export', sys.argv[1], '--out', sys.argv[2]]; main()",
                           str(run), str(tmp_path / "out.json")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert oct(_mode(tmp_path / "out.json")) == "0o644"
