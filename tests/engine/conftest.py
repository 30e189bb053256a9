from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

import justeval.engine  # noqa: F401 - registers the backends
from justeval.engine.backend_spec import BackendSpec
from justeval.engine.engine import CallResult, Engine, EngineConfig, RunSummary, Validator
from justeval.engine.types import Backend, GenParams, Message, Request
from justeval.testing.stub_server import StubServer

RunEngine = Callable[..., tuple[RunSummary, list[CallResult]]]


def chat_request(key: str, text: str | None = None, **params: Any) -> Request:
    return Request(key=key, messages=[Message(role="user", content=text or f"question {key}")],
                   params=GenParams(**params))


@pytest.fixture
def openai_backend(stub_server: StubServer) -> Backend:
    return BackendSpec(spec="openai:stub-model", base_urls=[stub_server.base_url]).build()


@pytest.fixture
def run_engine() -> RunEngine:
    """Run the real engine to completion; fast retry backoff unless a test overrides it."""

    def run(backend: Backend, requests: Iterable[Request], *, validate: Validator | None = None,
            **config: Any) -> tuple[RunSummary, list[CallResult]]:
        config.setdefault("progress", False)
        config.setdefault("retry_base_s", 0.01)
        config.setdefault("retry_max_wait_s", 0.05)
        results: list[CallResult] = []
        summary = Engine(backend, EngineConfig(**config)).run_sync(requests, results.append, validate=validate)
        return summary, results

    return run
