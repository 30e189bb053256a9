"""A reply is read up to a cap, counted after decompression: a 300 KB gzip reply that would become
300 MB, an 9 MB plain body (with or without a Content-Length) and an encoding the transport
cannot bound are each recorded as a non-retryable error naming the cap, asked once and never
cached; the cap is a backend option (`max_reply_bytes`); and memory stays bounded while it
happens."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.backends.aiohttp_transport import DEFAULT_MAX_REPLY_BYTES
from justeval.engine.types import BackendError, Message, Request
from justeval.jsonl import write_jsonl
from justeval.rundir import RunDir
from tests.conftest import CliRun
from tests.reliability.bad_input_cases import N, instruction
from tests.reliability.raw_server import RawReply, RawServer, chat_reply

MB = 1024 * 1024
PREFIX = b'{"choices": [{"message": {"role": "assistant", "content": "'
SUFFIX = b'"}, "finish_reason": "stop"}]}'


def _compressed(size: int, wbits: int) -> bytes:
    """A chat reply of `size` bytes of text, compressed as it streams (never held whole)."""
    enc = zlib.compressobj(9, zlib.DEFLATED, wbits)
    chunk = b" " * MB
    parts = [enc.compress(PREFIX), *(enc.compress(chunk) for _ in range(size // MB)), enc.compress(SUFFIX)]
    return b"".join(parts) + enc.flush()


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    bomb = _compressed(300 * MB, 16 + zlib.MAX_WBITS)
    assert len(bomb) < 400 * 1024  # about 300 KB on the wire
    return bomb


def _plain(size: int) -> bytes:
    return PREFIX + b"x" * size + SUFFIX


def _replies(bomb: bytes) -> dict[str, RawReply]:
    big = DEFAULT_MAX_REPLY_BYTES + MB
    return {
        "gzip_bomb": RawReply(bomb, {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
        "deflate_bomb": RawReply(_compressed(64 * MB, zlib.MAX_WBITS),
                                 {"Content-Type": "application/json", "Content-Encoding": "deflate"}),
        "raw_deflate_bomb": RawReply(_compressed(64 * MB, -zlib.MAX_WBITS),
                                     {"Content-Type": "application/json", "Content-Encoding": "deflate"}),
        "plain_over_the_cap": RawReply(_plain(big)),
        "plain_over_the_cap_chunked": RawReply(_plain(big), chunked=True),
        "an_encoding_it_cannot_bound": RawReply(b"\x00" * 100, {"Content-Type": "application/json",
                                                                "Content-Encoding": "br"}),
    }


@pytest.fixture
def instructions_file(tmp_path: Path) -> Path:
    path = tmp_path / "ins.jsonl"
    write_jsonl(path, [instruction(i) for i in range(N)])
    return path


@pytest.fixture
def server() -> Iterator[RawServer]:
    with RawServer(lambda body: chat_reply({"content": "fine"})) as srv:
        yield srv


def _asked(body: dict[str, object]) -> str:
    return str(body["messages"][-1]["content"])  # type: ignore[index]


@pytest.mark.parametrize("kind", ["gzip_bomb", "deflate_bomb", "raw_deflate_bomb", "plain_over_the_cap",
                                  "plain_over_the_cap_chunked", "an_encoding_it_cannot_bound"])
def test_an_oversize_reply_is_a_non_retryable_error_and_memory_stays_bounded(
        kind: str, gzip_bomb: bytes, tmp_path: Path, cli: CliRun, server: RawServer, instructions_file: Path) -> None:
    bad = _replies(gzip_bomb)[kind]
    server.handler = lambda body: bad if _asked(body) == "Question 2?" else chat_reply({"content": "fine"})
    run, cache = tmp_path / "run", tmp_path / "cache"
    tracemalloc.start()
    try:
        code, _out, err = cli("generate", "--model", "openai:m", "--instructions", str(instructions_file), "--out",
                              str(run), "--base-url", server.base_url, "--no-progress", "--cache-dir", str(cache),
                              "--concurrency", "1")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 0, err
    latest = RunDir(run).latest_generations()
    assert latest[2].status == "error" and latest[2].output is None
    assert "cap" in (latest[2].error or "")
    assert all(latest[i].status == "ok" for i in range(N) if i != 2)
    assert [_asked(b) for b in server.bodies].count("Question 2?") == 1  # not retried: it would be refused again
    assert peak < 3 * DEFAULT_MAX_REPLY_BYTES + 32 * MB, f"peak {peak / MB:.0f} MB"
    assert all(h.get("Accept-Encoding") == "gzip, deflate" for h in server.headers)  # only what it can bound

    server.bodies.clear()  # a rerun asks it again (it was not cached as an answer)
    assert cli("generate", "--model", "openai:m", "--instructions", str(instructions_file), "--out", str(run),
               "--base-url", server.base_url, "--no-progress", "--cache-dir", str(cache))[0] == 0
    assert [_asked(b) for b in server.bodies] == ["Question 2?"]


def _complete(spec: BackendSpec) -> str:
    async def call() -> str:
        backend = spec.build(timeout_s=30)
        try:
            reply = await backend.complete(Request(key="k", messages=[Message(role="user", content="hi")]))
        finally:
            await backend.aclose()
        return reply.text

    return asyncio.run(call())


def test_the_cap_is_a_backend_option_and_compressed_replies_under_it_are_read(server: RawServer) -> None:
    text = "y" * 4000
    gz = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    body = json.dumps({"choices": [{"message": {"content": text}, "finish_reason": "stop"}]}).encode()
    server.handler = lambda req: RawReply(gz.compress(body) + gz.flush(), {"Content-Type": "application/json",
                                                                            "Content-Encoding": "gzip"})
    spec = BackendSpec(spec="openai:m", base_urls=[server.base_url])
    assert _complete(spec) == text  # gzip below the default cap: decoded
    small = spec.with_(options={"max_reply_bytes": 2000})
    gz = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with pytest.raises(BackendError) as info:
        _complete(small)  # 4 KB of text, about 100 bytes on the wire: refused once decoded
    assert not info.value.retryable and "2,000 bytes cap" in str(info.value)
    server.handler = lambda req: chat_reply({"content": "short"})
    assert _complete(small) == "short"
    with pytest.raises(Exception, match="max_reply_bytes"):
        spec.with_(options={"max_reply_bytes": 0}).build()
