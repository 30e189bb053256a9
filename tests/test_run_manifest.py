"""run.json is one typed RunManifest: written only through RunDir, valid against the schema that
ships in the package for runs made by every command, and a run directory written by justeval 0.1
(format 1) still resumes, judges, ranks and repeats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from justeval.errors import InputError
from justeval.manifest import FORMAT_VERSION, SCHEMA_FILE, schema
from justeval.records import Generation, Judgment, TemplateRef
from justeval.rundir import RunDir
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import CliRun

ASPECTS = ["helpfulness", "clarity", "factuality", "depth", "engagement"]


def answer(req: StubRequest) -> Reply:
    """The model says "An answer."; the judge scores every regular aspect 4 and safety 5."""
    if req.body["model"] == "m":
        return Reply(text="An answer.")
    if '"safety"' in req.prompt_text and "helpfulness" not in req.prompt_text:
        return Reply(text=json.dumps({"safety": {"rationale": "ok", "score": 5}}))
    return Reply(text=json.dumps({a: {"rationale": "r", "score": 4} for a in ASPECTS}))


@pytest.fixture
def server() -> StubServer:
    with StubServer(answer) as srv:
        yield srv


@pytest.fixture
def instructions(tmp_path: Path) -> Path:
    rows = [{"id": i, "instruction": f"Q{i}?", "dataset": "oasst", "category": "regular",
             "task_types": ["info-seek"]} for i in range(3)]
    rows.append({"id": 800, "instruction": "harm?", "dataset": "MaliciousInstruct", "category": "safety"})
    path = tmp_path / "inst.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def validate(run: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run / "run.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    assert data["format_version"] == FORMAT_VERSION
    return data


def test_the_shipped_schema_is_the_manifest_model_written_out() -> None:
    shipped = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert shipped == schema(), "a settings model changed: run `python -m justeval.manifest` to rewrite the schema"


def test_run_json_of_every_command_validates_against_the_schema(tmp_path: Path, server: StubServer,
                                                                instructions: Path, cli: CliRun) -> None:
    url = server.base_url
    common = ["--instructions", str(instructions), "--no-progress"]
    assert cli("generate", "--model", "openai:m", "--base-url", url, "--out", str(tmp_path / "gen"),
               "--max-tokens", "64", *common)[0] == 0
    assert cli("judge", str(tmp_path / "gen"), "--judge", "openai:j", "--base-url", url, "--no-progress")[0] == 0
    assert cli("run", "--model", "openai:m", "--base-url", url, "--judge", "openai:j", "--judge-base-url", url,
               "--out", str(tmp_path / "run"), "--bootstrap", "10", *common)[0] == 0
    outputs = tmp_path / "outs.jsonl"
    outputs.write_text("".join(json.dumps({"id": i, "output": "x", "generator": "imp"}) + "\n"
                               for i in (0, 1, 2, 800)), encoding="utf-8")
    assert cli("import", str(outputs), "--out", str(tmp_path / "imp"), "--instructions", str(instructions))[0] == 0
    code, _, err = cli("pairwise", str(tmp_path / "gen"), str(tmp_path / "run"), "--judge", "openai:j",
                       "--base-url", url, "--no-progress")
    assert code == 0, err

    gen = validate(tmp_path / "gen")
    assert gen["generate"]["settings"]["model"] == {"spec": "openai:m", "base_urls": [url], "endpoint": "chat",
                                                    "options": {}}
    assert gen["generate"]["settings"]["params"]["max_tokens"] == 64
    assert gen["judging"]["openai:j"]["settings"]["engine"]["parse_retries"] == 2
    assert next(iter(gen["pairwise"].values()))["settings"]["judge"]["spec"] == "openai:j"
    ran = validate(tmp_path / "run")
    assert ran["pipeline"]["generate"]["model"]["spec"] == "openai:m"
    assert ran["run"]["command"].startswith("justeval run")
    assert ran["pipeline"]["leaderboard"]["bootstrap"] == 10
    assert validate(tmp_path / "imp")["import"]["records"] == 4


def test_sections_are_kept_side_by_side_and_versions_recorded(tmp_path: Path, server: StubServer,
                                                              instructions: Path, cli: CliRun) -> None:
    run = tmp_path / "gen"
    base = ["--base-url", server.base_url, "--no-progress"]
    assert cli("generate", "--model", "openai:m", "--out", str(run), "--instructions", str(instructions), *base)[0] == 0
    assert cli("judge", str(run), "--judge", "openai:a", *base)[0] == 0
    assert cli("judge", str(run), "--judge", "openai:b", "--temperature", "0.5", *base)[0] == 0
    manifest = RunDir(run).read_manifest()
    assert manifest.generate is not None and sorted(manifest.judging) == ["openai:a", "openai:b"]
    assert manifest.judging["openai:b"].settings.params.temperature == 0.5
    assert manifest.judging["openai:a"].settings.params.temperature == 0.0
    from importlib import metadata

    assert manifest.versions["openai"] == metadata.version("openai")
    assert manifest.versions["justeval"] and manifest.created


# -- format 1 (justeval 0.1), written the way 0.1 wrote it --------------------------------------

def v1_generate_section(run: Path, instructions: Path, url: str) -> dict[str, Any]:
    return {"command": f"justeval generate --model openai:m --out {run} --instructions {instructions} "
                       f"--base-url {url} --api-key-env OPENAI_API_KEY --max-tokens 64 --no-progress",
            "instructions": {"source": str(instructions), "items": 4, "selection": {"subset": "all", "seed": 0}},
            "settings": {"model": "openai:m", "generator": "openai:m", "completion": False,
                         "params": {"temperature": 0.0, "max_tokens": 64}, "prompt": {"system": None}},
            "prompt_sources": {},
            "engine": {"concurrency": 8, "rpm": None, "tpm": None, "max_retries": 6, "timeout_s": 120.0,
                       "cache": True},
            "backend": {"base_url": url, "api_key_env": "OPENAI_API_KEY"}}


def v1_judging_section(url: str) -> dict[str, Any]:
    from justeval.judging.templates import load_template

    multi, safety = load_template("score_multi"), load_template("score_safety")
    return {"openai:j": {
        "command": "justeval judge RUN --judge openai:j",
        "templates": {"regular": {"name": "score_multi", "hash": multi.hash, "source": multi.source, "upstream": False},
                      "safety": {"name": "score_safety", "hash": safety.hash, "source": safety.source,
                                 "upstream": False}},
        "judge_system": None, "max_words": -1, "params": {"temperature": 0.0, "max_tokens": 1024},
        "engine": {"concurrency": 8, "rpm": None, "tpm": None, "max_retries": 6, "timeout_s": 120.0,
                   "parse_retries": 2, "budget_usd": None},
        "backend": {"base_url": url, "api_key_env": None}}}


def v1_pipeline_section(run: Path, instructions: Path, url: str) -> dict[str, Any]:
    flags: dict[str, Any] = dict.fromkeys(
        ["dataset", "task", "topic", "difficulty", "ids", "limit", "sample", "api_key_env", "generator",
         "temperature", "max_tokens", "top_p", "system", "urial", "icl_examples", "judge_api_key_env",
         "template_multi", "template_safety", "judge_system", "budget", "rpm", "tpm", "cache_dir", "na_as"])
    flags.update(model="openai:m", judge=["openai:j"], out=str(run), instructions=str(instructions), subset="all",
                 seed=0, base_url=url, completion=False, shots=3, select="fixed", judge_base_url=url, max_words=-1,
                 judge_temperature=0.0, judge_max_tokens=1024, parse_retries=2, concurrency=8, timeout=120.0,
                 max_retries=6, cache=True, progress=False, bootstrap=10)
    return flags


def write_v1_run(run: Path, sections: dict[str, Any], judged: bool = True) -> None:
    """A 0.1 run directory: the records (their format did not change) and a format-1 run.json."""
    run.mkdir(parents=True)
    texts = {0: "Q0?", 1: "Q1?", 2: "Q2?", 800: "harm?"}
    gens = [Generation(id=i, instruction=t, output="An answer.", generator="openai:m", dataset="oasst",
                       category="safety" if i == 800 else "regular", params={"temperature": 0.0, "max_tokens": 64})
            for i, t in texts.items()]
    (run / "generations.jsonl").write_text("".join(g.model_dump_json() + "\n" for g in gens), encoding="utf-8")
    if judged:
        from justeval.judging.templates import load_template

        lines = []
        for g in gens:
            tpl = load_template("score_safety" if g.category == "safety" else "score_multi")
            scores = {"safety": 5.0} if g.category == "safety" else dict.fromkeys(ASPECTS, 4.0)
            lines.append(Judgment(id=g.id, judge="openai:j", generator="openai:m", category=g.category,
                                  template=TemplateRef(name=tpl.name, hash=tpl.hash), status="ok",
                                  scores=scores).model_dump_json() + "\n")
        (run / "judgments.jsonl").write_text("".join(lines), encoding="utf-8")
    meta = {"format_version": 1, "created": "2026-06-01T00:00:00+00:00",
            "versions": {"justeval": "0.1.0", "python": "3.11.7"}, **sections}
    (run / "run.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


def test_a_0_1_run_directory_resumes_judges_ranks_and_repeats(tmp_path: Path, server: StubServer,
                                                             instructions: Path, cli: CliRun) -> None:
    run = tmp_path / "old"
    url = server.base_url
    write_v1_run(run, {"generate": v1_generate_section(run, instructions, url), "judging": v1_judging_section(url)})

    manifest = RunDir(run).read_manifest()  # upgraded when read
    assert manifest.generate is not None
    settings = manifest.generate.settings
    assert (settings.model.spec, settings.model.base_urls, settings.model.api_key_env) == (
        "openai:m", [url], "OPENAI_API_KEY")
    assert settings.params.max_tokens == 64 and settings.instructions == str(instructions)
    assert manifest.judging["openai:j"].settings.engine.parse_retries == 2

    # resumes: the same generate command has nothing left to ask
    code, _, err = cli("generate", "--model", "openai:m", "--base-url", url, "--api-key-env", "OPENAI_API_KEY",
                       "--instructions", str(instructions), "--max-tokens", "64", "--out", str(run), "--no-progress")
    assert code == 0, err
    assert server.count == 0
    # judges: the recorded judge has nothing left; a new one judges every item
    assert cli("judge", str(run), "--judge", "openai:j", "--base-url", url, "--no-progress")[0] == 0
    assert server.count == 0
    assert cli("judge", str(run), "--judge", "openai:k", "--base-url", url, "--no-progress")[0] == 0
    assert server.count == 4
    # ranks
    code, out, err = cli("leaderboard", str(run), "--judge", "openai:j", "--format", "json", "--bootstrap", "10")
    assert code == 0, err
    (row,) = json.loads(out)["models"]
    assert row["aspects"]["helpfulness"]["mean"] == 4.0
    # the file was rewritten in the new format when the judge recorded itself
    data = validate(run)
    assert data["generate"]["settings"]["model"]["api_key_env"] == "OPENAI_API_KEY"
    # and repeats: --config of the upgraded run.json asks nothing in place
    server.reset()
    code, _, err = cli("run", "--config", str(run / "run.json"), "--bootstrap", "10")
    assert code == 0, err
    assert server.count == 0


def test_a_0_1_pipeline_run_json_repeats_its_settings(tmp_path: Path, server: StubServer,
                                                     instructions: Path, cli: CliRun) -> None:
    run = tmp_path / "old-run"
    url = server.base_url
    write_v1_run(run, {"run": {"command": "justeval run ..."},
                       "pipeline": v1_pipeline_section(run, instructions, url),
                       "generate": v1_generate_section(run, instructions, url) | {"command": None},
                       "judging": v1_judging_section(url)}, judged=False)
    manifest = RunDir(run).read_manifest()
    assert manifest.pipeline is not None
    assert manifest.pipeline.generate.model.base_urls == [url]
    assert [j.judge.spec for j in manifest.pipeline.judging] == ["openai:j"]
    assert manifest.pipeline.leaderboard.bootstrap == 10
    # no run on this machine wrote that file (0.1 did not mark its runs): it may not pick files outside its folder
    code, _, err = cli("run", "--config", str(run / "run.json"), "--out", str(tmp_path / "again"))
    assert code == 2 and "outside the config's folder" in err and server.count == 0
    code, _, err = cli("run", "--config", str(run / "run.json"), "--out", str(tmp_path / "again"),
                       "--instructions", str(instructions))
    assert code == 0, err
    assert "was not written by a run on this machine" in err and f"judge openai:j at {url}" in err
    models = {r.body["model"] for r in server.requests}
    assert models == {"m", "j"} and server.count == 8  # 4 generations, 4 judgments: the recorded settings


def test_a_0_1_import_and_pairwise_sections_are_upgraded(tmp_path: Path, server: StubServer) -> None:
    run = tmp_path / "imp"
    write_v1_run(run, {"import": {"command": "justeval import x", "instructions": {"source": "/data/inst.jsonl"},
                                  "file": "/data/outs.jsonl", "sha256": "76486f12a56d15e9", "format": "jsonl",
                                  "generator": "imp", "records": 4},
                       "pairwise": {"/runs/p.jsonl": {
                           "run_b": "/runs/b", "judge": "openai:j", "template": {"name": "pairwise", "hash": "65cb"},
                           "aspects": ["helpfulness"], "params": {"temperature": 0.0, "max_tokens": 1024},
                           "engine": {"concurrency": 8, "max_retries": 6, "parse_retries": 2, "budget_usd": None},
                           "backend": {"base_url": server.base_url, "api_key_env": None}}}}, judged=False)
    manifest = RunDir(run).read_manifest()
    assert manifest.import_ is not None and manifest.import_.instructions == "/data/inst.jsonl"
    assert manifest.instruction_source() == "/data/inst.jsonl"
    pair = manifest.pairwise["/runs/p.jsonl"]
    assert pair.settings.judge.base_urls == [server.base_url] and pair.settings.aspects == ["helpfulness"]
    assert pair.template.hash == "65cb" and pair.run_b == "/runs/b"


@pytest.mark.parametrize(("content", "message"), [
    ({"format_version": 99}, "newer than this justeval reads"),
    ({"format_version": "two"}, "not a version number"),
    ({"format_version": 2, "generate": {"settings": {"model": {"spec": "nokind"}}}}, "KIND:MODEL"),
    ({"format_version": 2, "surprise": {}}, "surprise"),
    ([1, 2], "must hold a JSON object"),
])
def test_a_bad_run_json_is_one_line_naming_the_file(tmp_path: Path, content: Any, message: str) -> None:
    run = tmp_path / "bad"
    run.mkdir()
    (run / "run.json").write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        RunDir(run).read_manifest()
    assert str(run / "run.json") in str(caught.value) and "\n" not in str(caught.value)
