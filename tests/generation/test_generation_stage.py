"""The generation stage through the real engine and openai backend against the loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.engine.types import GenParams
from justeval.errors import JustevalError
from justeval.generation import generate, latest_generations
from justeval.generation.urial import format_query, load_urial
from justeval.records import Instruction
from justeval.rundir import RunDir
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import generate_settings
from tests.generation.conftest import fast_config

TICKS = "`" * 3


def _opts(srv: StubServer) -> dict[str, object]:
    return {"base_url": srv.base_url}


def _lines(run: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run / "generations.jsonl").read_text(encoding="utf-8").splitlines()]


def test_one_record_per_item_with_the_reply_and_call_facts(tmp_path: Path, stub_server: StubServer,
                                                           items: list[Instruction]) -> None:
    stub_server.responder = lambda req: Reply(text=f"answer to: {req.prompt_text}", finish_reason="length",
                                              usage={"prompt_tokens": 11, "completion_tokens": 7})
    settings = generate_settings(stub_server.base_url, "openai:chat-model", engine=fast_config(),
                                 params=GenParams(temperature=0.5, max_tokens=64))
    summary = generate(settings, tmp_path / "run", instructions=items)
    assert summary.engine.ok == len(items) and summary.failed == 0 and stub_server.count == len(items)
    records = {g.id: g for g in RunDir(tmp_path / "run").load_generations()}
    assert sorted(records) == [i.id for i in items]
    for inst in items:
        g = records[inst.id]
        assert g.output == f"answer to: {inst.instruction}" and g.instruction == inst.instruction
        assert (g.generator, g.dataset, g.category, g.status) == ("openai:chat-model", "toy", inst.category, "ok")
        assert (g.usage.prompt_tokens, g.usage.completion_tokens, g.finish_reason) == (11, 7, "length")
        assert g.latency_s is not None and g.latency_s >= 0 and not g.cached
        assert g.params == {"temperature": 0.5, "max_tokens": 64, "endpoint": "chat", "top_p": None,
                            "top_p_source": "server default (not sent)"}
    body = stub_server.requests[0].body
    assert stub_server.requests[0].path.endswith("/chat/completions")
    assert body["temperature"] == 0.5 and body["max_tokens"] == 64 and "stop" not in body


def test_lines_are_loadable_by_a_plain_just_eval_reader(tmp_path: Path, stub_server: StubServer,
                                                        items: list[Instruction]) -> None:
    generate(generate_settings(stub_server.base_url, "openai:m", engine=fast_config()), tmp_path / "run",
             instructions=items)
    for row in _lines(tmp_path / "run"):
        assert {"id", "instruction", "output", "generator", "dataset", "category"} <= set(row)
        assert isinstance(row["output"], str) and isinstance(row["id"], int)


def test_concurrency_is_never_exceeded(tmp_path: Path, stub_server: StubServer) -> None:
    many = [Instruction(id=i, instruction=f"question {i}") for i in range(24)]
    stub_server.latency = 0.05
    generate(generate_settings(stub_server.base_url, "openai:m", engine=fast_config(concurrency=4)), tmp_path / "run",
             instructions=many)
    assert stub_server.count == 24
    assert stub_server.max_in_flight == 4  # reached (so calls overlapped) and never passed


def test_failed_items_are_recorded_as_errors_then_retried_alone(tmp_path: Path, stub_server: StubServer,
                                                                items: list[Instruction]) -> None:
    failing = {items[1].instruction, items[4].instruction}

    def flaky(req: StubRequest) -> Reply:
        if req.prompt_text in failing:
            return Reply(status=400, text="bad request for this item")
        return Reply(text="fine")

    stub_server.responder = flaky
    run = tmp_path / "run"
    first = generate(generate_settings(stub_server.base_url, "openai:m", engine=fast_config()), run, instructions=items)
    assert (first.engine.ok, first.failed) == (4, 2) and sorted(first.error_ids) == [1, 4]
    errors = {g.id: g for g in latest_generations(RunDir(run)).values() if g.status == "error"}
    assert sorted(errors) == [1, 4]
    assert all(g.output is None and "400" in (g.error or "") for g in errors.values())

    stub_server.reset()
    stub_server.responder = lambda req: Reply(text="fixed now")
    second = generate(generate_settings(stub_server.base_url, "openai:m", engine=fast_config()), run,
                      instructions=items)
    assert stub_server.count == 2 and {r.prompt_text for r in stub_server.requests} == failing
    assert (second.already_done, second.engine.ok) == (4, 2)
    latest = latest_generations(RunDir(run))
    assert all(g.status == "ok" for g in latest.values()) and len(latest) == len(items)
    assert latest[1].output == "fixed now" and latest[0].output == "fine"
    assert len(_lines(run)) == len(items) + 2  # append-only: the error lines stay, the last line wins


def test_transient_failures_are_retried_within_the_run(tmp_path: Path, stub_server: StubServer) -> None:
    stub_server.script.extend([Reply(status=429, headers={"Retry-After": "0"}), Reply(status=503),
                               Reply(drop=True)])
    stub_server.responder = lambda req: Reply(text="ok")
    one = [Instruction(id=0, instruction="hello")]
    summary = generate(generate_settings(stub_server.base_url, "openai:m", engine=fast_config()), tmp_path / "run",
                       instructions=one)
    assert summary.engine.ok == 1 and summary.engine.retries == 3 and stub_server.count == 4
    assert RunDir(tmp_path / "run").load_generations()[0].output == "ok"


def test_identical_call_is_served_from_cache_across_runs(tmp_path: Path, stub_server: StubServer,
                                                         items: list[Instruction]) -> None:
    generate(generate_settings(stub_server.base_url, "openai:m", engine=fast_config()), tmp_path / "a",
             instructions=items)
    assert stub_server.count == len(items)
    again = generate(generate_settings(stub_server.base_url, "openai:m", engine=fast_config()), tmp_path / "b",
                     instructions=items)
    assert stub_server.count == len(items)  # a new run directory, yet no HTTP request
    assert again.engine.cached == len(items)
    cached = RunDir(tmp_path / "b").load_generations()
    assert all(g.cached and g.cost_usd == 0 for g in cached)
    assert [g.output for g in cached] == [g.output for g in RunDir(tmp_path / "a").load_generations()]
    generate(generate_settings(stub_server.base_url, "openai:m", engine=fast_config(cache=False)), tmp_path / "c",
             instructions=items)
    assert stub_server.count == 2 * len(items)


def test_urial_sends_a_completion_prompt_with_stops_and_cleans_the_answer(
        tmp_path: Path, stub_server: StubServer, items: list[Instruction]) -> None:
    stub_server.responder = lambda req: Reply(text=f" The answer.\n{TICKS}\n\n# Query:\n{TICKS}\nanother")
    generate(generate_settings(stub_server.base_url, "openai:base-model", engine=fast_config(), urial="default"),
             tmp_path / "run", instructions=items[:2])
    preamble = load_urial("default").text
    for req in stub_server.requests:
        assert req.path.endswith("/v1/completions") and "messages" not in req.body
        assert req.body["stop"] == ["# Query", "# User"]  # upstream's stop strings
        query = req.body["prompt"].rsplit("# Query:\n", 1)[1]
        assert req.body["prompt"] == preamble + "\n# Query:\n" + query
        assert query.endswith(f"\n{TICKS}\n\n# Answer:\n{TICKS}\n")
    gens = RunDir(tmp_path / "run").load_generations()
    assert [g.output for g in gens] == ["The answer.", "The answer."]
    assert all(g.params.get("urial") == "default" for g in gens)


def test_icl_examples_are_formatted_like_urial_shots(tmp_path: Path, stub_server: StubServer,
                                                     items: list[Instruction]) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_text(json.dumps({"instruction": "What is 2+2?", "output": "4"}) + "\n"
                    + json.dumps({"instruction": "Name a colour.", "output": "Blue."}) + "\n", encoding="utf-8")
    stub_server.responder = lambda req: Reply(text=f"Done.\n{TICKS}\n")
    settings = generate_settings(stub_server.base_url, "openai:base", engine=fast_config(), completion=True,
                                 system="You answer briefly.", icl_examples=str(pool), shots=2, select="fixed")
    generate(settings, tmp_path / "run", instructions=items[:1])
    expected = format_query("You answer briefly.", items[0].instruction, [("What is 2+2?", "4"),
                                                                          ("Name a colour.", "Blue.")])
    assert stub_server.requests[0].body["prompt"] == expected
    assert expected.count("# Query:") == 3 and expected.startswith("You answer briefly.\n\n# Query:")
    gen = RunDir(tmp_path / "run").load_generations()[0]
    assert gen.output == "Done." and gen.params["icl"] == {"select": "fixed", "examples": [0, 1], "used": 2,
                                                           "skipped": 0, "dropped": 0}


def test_chat_request_carries_the_system_message(tmp_path: Path, stub_server: StubServer,
                                                 items: list[Instruction]) -> None:
    generate(generate_settings(stub_server.base_url, "openai:m", engine=fast_config(), system="Be brief."),
             tmp_path / "run", instructions=items[:1])
    assert stub_server.requests[0].body["messages"] == [{"role": "system", "content": "Be brief."},
                                                        {"role": "user", "content": items[0].instruction}]


def test_resuming_with_other_settings_is_refused(tmp_path: Path, stub_server: StubServer,
                                                 items: list[Instruction]) -> None:
    run = tmp_path / "run"
    generate(generate_settings(stub_server.base_url, "openai:m", engine=fast_config()), run, instructions=items)
    with pytest.raises(JustevalError, match="params"):
        generate(generate_settings(stub_server.base_url, "openai:m", engine=fast_config(),
                                   params=GenParams(temperature=0.9)), run, instructions=items)
    with pytest.raises(JustevalError, match="model"):
        generate(generate_settings(stub_server.base_url, "openai:other", engine=fast_config()), run, instructions=items)
    changed = [items[0].model_copy(update={"instruction": "a different text"})]
    with pytest.raises(JustevalError, match="different instruction text"):
        generate(generate_settings(stub_server.base_url, "openai:m", engine=fast_config()), run, instructions=changed)
    assert stub_server.count == len(items)


def test_urial_and_system_together_are_rejected(tmp_path: Path, items: list[Instruction]) -> None:
    with pytest.raises(JustevalError, match="--system"):
        generate(generate_settings(None, "openai:m", engine=fast_config(), system="x", urial="default"),
                 tmp_path / "run", instructions=items)


def test_completion_mode_sends_the_plain_instruction_as_prompt(tmp_path: Path, stub_server: StubServer,
                                                               items: list[Instruction]) -> None:
    generate(generate_settings(stub_server.base_url, "openai:base", engine=fast_config(), completion=True),
             tmp_path / "run", instructions=items[:1])
    req = stub_server.requests[0]
    assert req.path.endswith("/v1/completions") and req.body["prompt"] == items[0].instruction
    section = RunDir(tmp_path / "run").read_manifest().generate
    assert section is not None and section.settings.model.endpoint == "completions"
