from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.config import EngineConfig
from justeval.tokenshift import TokenShiftSettings
from tests.tokenshift import tiny


@dataclass(frozen=True)
class TinyModels:
    base: Path       # a Llama: the "base" model
    other: Path      # a GPT-2 with the same tokenizer: the "aligned" model
    own_outputs: list[str]    # the base model's greedy outputs (URIAL layout)
    other_outputs: list[str]  # the other model's greedy outputs


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    root = tmp_path_factory.mktemp("tiny-models")
    base = tiny.build_tiny_model(root / "base", seed=0)
    other = tiny.build_tiny_model(root / "other", seed=3, arch="gpt2")
    return TinyModels(base=base, other=other, own_outputs=tiny.greedy_outputs(base, tiny.INSTRUCTIONS),
                      other_outputs=tiny.greedy_outputs(other, tiny.INSTRUCTIONS))


@pytest.fixture
def own_run(tmp_path: Path, models: TinyModels) -> Path:
    return tiny.write_run(tmp_path / "own", tiny.INSTRUCTIONS, models.own_outputs, generator="tiny-base")


@pytest.fixture
def other_run(tmp_path: Path, models: TinyModels) -> Path:
    return tiny.write_run(tmp_path / "other", tiny.INSTRUCTIONS, models.other_outputs, generator="tiny-other")


def hf_settings(model: Path, **changes: object) -> TokenShiftSettings:
    return TokenShiftSettings.model_validate({"base": BackendSpec(spec=f"hf:{model}"),
                                              "engine": EngineConfig(progress=False), **changes})


def server_settings(url: str, tokenizer: Path, **changes: object) -> TokenShiftSettings:
    engine = EngineConfig(progress=False, max_retries=0, retry_base_s=0.01)
    return TokenShiftSettings.model_validate({"base": BackendSpec(spec="openai:tiny-base", base_urls=[url]),
                                              "tokenizer": str(tokenizer), "engine": engine, **changes})
