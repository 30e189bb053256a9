"""`justeval sweep` and `justeval icl-select` from the command line: a tiny `hf:` model the test
builds generates, a loopback server judges (its score depends on the answer it reads)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import CliRun, make_cli
from tests.generation.tiny_hf import build_tiny_llama

ASPECTS = ["helpfulness", "clarity", "factuality", "depth", "engagement"]
TICKS = "`" * 3
START = (f"# Instruction\n\nsay hello\n\n# Query:\n{TICKS}\nwhat is the cat\n{TICKS}\n\n"
         f"# Answer:\n{TICKS}\nthe cat is small\n{TICKS}\n")


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    """`justeval ARGS...` through the real entry point: (exit code, stdout, stderr) (the package
    conftest's `cli` fixture, which tests/generation/conftest.py shadows with an exit-code-only one)."""
    return make_cli(monkeypatch, capsys)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama-cli"), positions=512)


def judge_reply(req: StubRequest) -> Reply:
    """A score from the judged answer's length, so different prompts can score differently."""
    answer = req.prompt_text.split("dog")[-1] if "dog" in req.prompt_text else req.prompt_text
    return Reply(text=json.dumps({a: {"rationale": "ok", "score": 1 + len(answer) % 5} for a in ASPECTS}))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    instructions = tmp_path / "instructions.jsonl"
    questions = ["tell a story about the dog", "why is the sky blue", "write a poem about the park",
                 "how big is the red mat"]
    instructions.write_text("".join(json.dumps({"id": i, "instruction": q, "dataset": "toy"}) + "\n"
                                    for i, q in enumerate(questions)), encoding="utf-8")
    pool = tmp_path / "pool.jsonl"
    examples = [("say hello", "hello world"), ("tell a story", "the dog ran on the mat"),
                ("what is red", "red is a colour"), ("write about the park", "the park is big and green")]
    pool.write_text("".join(json.dumps({"instruction": q, "output": a}) + "\n" for q, a in examples), encoding="utf-8")
    start = tmp_path / "start.txt"
    start.write_text(START, encoding="utf-8")
    return {"instructions": instructions, "pool": pool, "start": start}


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_k_sweep_runs_from_the_cli(tiny_model: Path, files: dict[str, Path], stub_server: StubServer,
                                       cli: CliRun, tmp_path: Path) -> None:
    stub_server.responder = judge_reply
    out = tmp_path / "sweep"
    args = ["sweep", "--model", f"hf:{tiny_model}", "--judge", "openai:judge", "--judge-base-url",
            stub_server.base_url, "--shots", "0,2", "--select", "random-fixed", "--urial", str(files["start"]),
            "--icl-examples", str(files["pool"]), "--instructions", str(files["instructions"]), "--max-tokens", "6",
            "--no-progress", "--out", str(out)]
    code, stdout, err = cli(*args)
    assert code == 0, err
    points = json.loads((out / "sweep.json").read_text())["points"]
    assert [(p["name"], p["shots"]) for p in points] == [("k0", 0), ("random-fixed-k2", 2)]
    assert all(p["scored"] == p["items"] == 4 and p["mean"] is not None for p in points)
    shared = None
    for gen in _lines(out / "random-fixed-k2" / "generations.jsonl"):
        icl = gen["params"]["icl"]  # type: ignore[index]
        assert gen["status"] == "ok" and icl["used"] == 2  # type: ignore[index]
        shared = shared or icl["examples"]  # type: ignore[index]
        assert icl["examples"] == shared  # type: ignore[index]  # random-fixed: one set for every item
    judged = sum(len(_lines(out / p["name"] / "judgments.jsonl")) for p in points)  # type: ignore[operator]
    assert judged == 2 * 4 and 0 < stub_server.count <= judged and "random-fixed-k2" in stdout
    calls = stub_server.count  # (an answer judged before is served from the cache)
    code, _, err = cli(*args)  # resumed: nothing generated or judged again
    assert code == 0, err
    assert stub_server.count == calls and len(_lines(out / "k0" / "generations.jsonl")) == 4
    code, stdout, _ = cli(*args, "--dry-run")
    assert code == 0 and "dry run: 8 generation call(s)" in stdout and stub_server.count == calls


def test_greedy_selection_runs_from_the_cli_and_resumes(tiny_model: Path, files: dict[str, Path],
                                                        stub_server: StubServer, cli: CliRun, tmp_path: Path) -> None:
    stub_server.responder = judge_reply
    out = tmp_path / "best.txt"
    args = ["icl-select", "--model", f"hf:{tiny_model}", "--judge", "openai:judge", "--judge-base-url",
            stub_server.base_url, "--pool", str(files["pool"]), "--start", str(files["start"]),
            "--dev", str(files["instructions"]), "--limit", "2", "--steps", "2", "--candidates", "2",
            "--max-tokens", "6", "--no-progress", "--out", str(out)]
    code, stdout, err = cli(*args)
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    assert text.count("# Query:") == START.count("# Query:") + 2 and text.endswith(START[START.index("# Query:"):])
    log = _lines(tmp_path / "best.steps.jsonl")
    chosen = [r for r in log if r["kind"] == "chosen"]
    assert [r["step"] for r in chosen] == [1, 2]
    for record in chosen:
        tried = [r for r in log if r["kind"] == "candidate" and r["step"] == record["step"]]
        assert len(tried) == 2 and record["mean"] == max(r["mean"] for r in tried)  # type: ignore[type-var]
    # 1 start + 2 candidates x 2 steps, each a judged run of the 2 dev items
    runs = [Path(str(r["run_dir"])) for r in log if r["kind"] in ("start", "candidate")]
    assert len(runs) == 5 and all(len(_lines(run / "judgments.jsonl")) == 2 for run in runs)
    assert 0 < stub_server.count <= 10 and "step 2: pool example" in stdout
    calls = stub_server.count
    code, _, err = cli(*args)
    assert code == 0, err
    assert stub_server.count == calls and len(_lines(tmp_path / "best.steps.jsonl")) == len(log)
    code, stdout, _ = cli(*args, "--dry-run")
    assert code == 0 and "dry run: 10 generation call(s)" in stdout and "10 judge call(s)" in stdout
