from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import justeval.engine.backends  # noqa: F401  (registers the built-in kinds)
from justeval.engine import types
from justeval.engine.backends.openai_backend import OpenAIBackend
from justeval.engine.pricing import cost_usd
from justeval.records import Usage


class ListPricedOpenAI(OpenAIBackend):
    """The real OpenAI backend, but charging list prices even behind the loopback URL (the
    built-in one treats any non-OpenAI URL as a self-hosted, unpriced server)."""

    kind = "priced"

    def cost_usd(self, usage: Usage) -> float | None:
        return cost_usd(self.model, usage)


@pytest.fixture
def priced_kind() -> Iterator[str]:
    """Registers `priced:MODEL` for the test; yields the kind."""
    loader: Any = lambda: ListPricedOpenAI  # noqa: E731
    types.register_backend("priced", loader)
    yield "priced"
    types._REGISTRY.pop("priced", None)
