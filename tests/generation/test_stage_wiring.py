"""What the generate stage must pass on from the prompt builder and the backend (issue 14's
wiring of `generation/run.py`). """

from __future__ import annotations

import json
from pathlib import Path

from justeval.engine.backend_spec import BackendSpec
from justeval.generation import generate
from justeval.generation.prompting import PromptSettings
from justeval.records import Instruction
from justeval.rundir import RunDir
from justeval.settings import GenerateSettings
from justeval.testing.stub_server import Reply, StubServer
from tests.generation.conftest import fast_config
from tests.generation.tiny_hf import build_tiny_llama

TICKS = "`" * 3
ITEMS = [Instruction(id=0, instruction="Show a loop in Python.")]


def _records(run: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run / "generations.jsonl").read_text(encoding="utf-8").splitlines()]


def test_the_stage_cleans_answers_the_chosen_way(tmp_path: Path, stub_server: StubServer) -> None:
    stub_server.responder = lambda req: Reply(text=f"Like this:\n{TICKS}python\nfor i in x: pass\n{TICKS}\n{TICKS}\n")
    settings = GenerateSettings(model=BackendSpec(spec="openai:base", base_urls=[stub_server.base_url]),
                                prompt=PromptSettings(urial="default", urial_clean="upstream"), engine=fast_config())
    generate(settings, tmp_path / "run", instructions=ITEMS)
    assert RunDir(tmp_path / "run").load_generations()[0].output == "Like this:\npython\nfor i in x: pass"


def test_the_stage_records_the_endpoint_and_who_decides_top_p(tmp_path: Path, stub_server: StubServer) -> None:
    settings = GenerateSettings(model=BackendSpec(spec="openai:base", base_urls=[stub_server.base_url]),
                                prompt=PromptSettings(urial="default"), engine=fast_config())
    generate(settings, tmp_path / "run", instructions=ITEMS)
    params = _records(tmp_path / "run")[0]["params"]
    assert isinstance(params, dict)
    assert params["endpoint"] == "completions" and params["top_p_source"] == "server default (not sent)"


def test_the_stage_records_an_hf_models_generation_config(tmp_path: Path) -> None:
    model = build_tiny_llama(tmp_path / "tiny")
    settings = GenerateSettings(model=BackendSpec(spec=f"hf:{model}", endpoint="completions"),
                                params={"temperature": 0.0, "max_tokens": 3}, engine=fast_config())
    generate(settings, tmp_path / "run", instructions=ITEMS)
    params = _records(tmp_path / "run")[0]["params"]
    assert isinstance(params, dict) and params["generation_config"]["eos_token_id"] == 3  # type: ignore[index]
