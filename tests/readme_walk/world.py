"""The new user's machine the README's commands run on: a scratch working folder, an environment
with no keys but fake ones and no network but loopback, and the files a user would have made or
downloaded before a command reads them.

Everything is built from the real recorded data (`/work/shared/data`), in small slices so the
walk stays fast: 30 instructions, the same 30 items' real outputs of recorded models.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.readme_walk.servers import FileServer, ReadmeServer, TinyScorer

#: the items of the instruction slice: the first real lite ids of each category, and a few
#: items outside the lite subset so that `--subset lite` selects something smaller than "all"
LITE_REGULAR, LITE_SAFETY, OTHER_REGULAR, OTHER_SAFETY = 18, 5, 4, 3
API_KEY = "sk-test-readme-walk-not-a-real-key"
HF_BASE_REPO = "meta-llama/Llama-2-7b-hf"
CLOSED_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens there


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@dataclass
class World:
    """Paths and servers of one walk. `cwd` is the user's working folder; `home` holds what is
    theirs but outside it (downloads, caches)."""

    shared: Path
    cwd: Path
    home: Path
    servers: dict[str, ReadmeServer] = field(default_factory=dict)  # README port -> server
    openai: ReadmeServer | None = None  # stands in for api.openai.com (OPENAI_BASE_URL)
    files: FileServer | None = None     # stands in for https://raw.githubusercontent.com
    tiny_model: Path | None = None
    slice_ids: list[int] = field(default_factory=list)
    lite_ids: dict[str, list[int]] = field(default_factory=dict)
    made: list[str] = field(default_factory=list)  # user files made, in order

    # -- the environment ------------------------------------------------------------------
    @property
    def instructions(self) -> Path:
        return self.cwd / "just-eval-instruct"

    def env(self) -> dict[str, str]:
        """What a new user's shell holds: the venv first on PATH, a fresh home and cache, the
        documented variables pointing at the loopback stand-ins. Nothing of the test
        process's own environment besides PATH and the locale."""
        assert self.openai is not None
        bin_dir = str(Path(sys.executable).parent)
        env = {"PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "/usr/bin:/bin")]),
               "HOME": str(self.home), "LANG": os.environ.get("LANG", "C.UTF-8"),
               "VIRTUAL_ENV": str(Path(sys.executable).parent.parent),
               "OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": self.openai.base_url,
               "JUSTEVAL_INSTRUCTIONS": str(self.instructions),
               "JUSTEVAL_CACHE_DIR": str(self.home / ".cache" / "justeval"),
               "HF_HOME": str(self.home / ".cache" / "huggingface"),
               "TMPDIR": str(self.home / "tmp"),
               # no network: anything that tries to leave the machine meets a closed port at once
               "HTTP_PROXY": CLOSED_PROXY, "HTTPS_PROXY": CLOSED_PROXY, "http_proxy": CLOSED_PROXY,
               "https_proxy": CLOSED_PROXY, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
        return env

    def server_url(self, port: str) -> str:
        return self.servers[port].base_url

    # -- running justeval outside the walk (to make a user's files) -------------------------
    def justeval(self, *args: str) -> str:
        """Run the installed `justeval` as the user did to make a file (an import, a judging)."""
        done = subprocess.run(["justeval", *args], cwd=self.cwd, env=self.env(), capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"making a user file: `justeval {' '.join(args)}` exited {done.returncode}:\n"
                               f"{done.stderr[-3000:]}")
        return done.stdout


# -- the instruction slice ---------------------------------------------------------------

def write_instruction_slice(world: World) -> None:
    """30 real items and a lite_ids.json holding the real lite ids among them."""
    src = world.shared / "just-eval-instruct"
    lite = json.loads((src / "lite_ids.json").read_text(encoding="utf-8"))
    regular_lite = sorted(lite["lite_regular_ids"])[:LITE_REGULAR]
    safety_lite = sorted(lite["lite_safety_ids"])[:LITE_SAFETY]
    rows = read_jsonl(src / "instructions.jsonl")
    lite_all = set(lite["lite_regular_ids"]) | set(lite["lite_safety_ids"])
    other_regular = [r["id"] for r in rows if r["category"] == "regular" and r["id"] not in lite_all][:OTHER_REGULAR]
    other_safety = [r["id"] for r in rows if r["category"] == "safety" and r["id"] not in lite_all][:OTHER_SAFETY]
    keep = set(regular_lite + safety_lite + other_regular + other_safety)
    world.slice_ids = sorted(keep)
    world.lite_ids = {"lite_regular_ids": regular_lite, "lite_safety_ids": safety_lite}
    write_jsonl(world.instructions / "instructions.jsonl", [r for r in rows if r["id"] in keep])
    (world.instructions / "lite_ids.json").write_text(json.dumps(world.lite_ids), encoding="utf-8")


def outputs_slice(world: World, model: str) -> Path:
    """The real outputs of `model` on the slice's items, as a user downloads them (just-eval JSON)."""
    rows = [r for r in read_jsonl(world.shared / "outputs" / f"{model}.jsonl") if r["id"] in set(world.slice_ids)]
    path = world.home / "downloads" / f"{model}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


# -- the files a user makes before a command reads them ----------------------------------------
# Each maker gets the world and makes one path (relative to the working folder); the test's
# table names which README path each one makes and why.

def make_imported_run(model: str, *, judged: bool = False) -> Callable[[World, str], None]:
    """A run directory of a recorded model's real outputs, made with `justeval import` (and,
    where a command needs its judgments, `justeval judge` against the loopback judge)."""

    def make(world: World, path: str) -> None:
        world.justeval("import", str(outputs_slice(world, model)), "--out", path)
        if judged:
            world.justeval("judge", path, "--judge", "openai:gpt-4o", "--no-progress")

    return make


def make_upstream_templates(world: World, path: str) -> None:
    """A checkout of just-eval's judge templates: the shared byte-for-byte copies."""
    folder = world.cwd / path
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("score_multi.txt", "score_safety.txt"):
        shutil.copyfile(world.shared / "upstream-templates" / "just-eval" / name, folder / name)


def _demonstrations(world: World) -> list[dict[str, Any]]:
    """Real instruction/output pairs outside the slice (gpt-4's recorded answers)."""
    rows = read_jsonl(world.shared / "outputs" / "gpt-4-0613.jsonl")
    instructions = {r["id"]: r for r in read_jsonl(world.shared / "just-eval-instruct" / "instructions.jsonl")}
    out = []
    for r in rows:
        if r["id"] in set(world.slice_ids) or instructions[r["id"]]["category"] != "regular":
            continue
        out.append({"instruction": r["instruction"], "output": r["output"],
                    "source_id": instructions[r["id"]]["source_id"], "id": r["id"]})
    return out


def make_pool(world: World, path: str) -> None:
    """60 demonstrations (the sweep's K goes up to 50): {instruction, output, source_id}."""
    rows = [{k: r[k] for k in ("instruction", "output", "source_id")} for r in _demonstrations(world)[:60]]
    write_jsonl(world.cwd / path, rows)


def make_dev(world: World, path: str) -> None:
    """Three real instructions that are neither in the slice nor in the pool."""
    pool_ids = {r["id"] for r in _demonstrations(world)[:60]}
    rows = read_jsonl(world.shared / "just-eval-instruct" / "instructions.jsonl")
    dev = [r for r in rows if r["category"] == "regular" and r["id"] not in pool_ids
           and r["id"] not in set(world.slice_ids)][:3]
    write_jsonl(world.cwd / path, dev)


def _tasks(world: World) -> list[dict[str, Any]]:
    tasks = json.loads((world.cwd / "review" / "tasks.json").read_text(encoding="utf-8"))
    return [t["data"] for t in tasks]


def _person_label(person: int, n: int, data: dict[str, Any]) -> str:
    """What each of two people picks: the first the longer answer, the second the same except
    on every fourth pair, where she says tie."""
    longer = "Left" if len(data["left"]) >= len(data["right"]) else "Right"
    return "Tie" if person == 2 and n % 4 == 3 else longer


def make_label_studio_export(world: World, path: str) -> None:
    """Label Studio's JSON export after two people labelled every task of review/tasks.json:
    the task's data as imported, one annotation per person with the `preference` choice."""
    export = []
    for n, data in enumerate(_tasks(world)):
        annotations = [{"id": 2 * n + person, "completed_by": {"id": person, "email": f"ann{person}@example.org"},
                        "result": [{"id": f"r{n}-{person}", "from_name": "preference", "to_name": "instruction",
                                    "type": "choices", "value": {"choices": [_person_label(person, n, data)]}}],
                        "was_cancelled": False, "ground_truth": False, "lead_time": 12.5}
                       for person in (1, 2)]
        export.append({"id": n + 1, "data": data, "annotations": annotations, "predictions": []})
    (world.cwd / path).write_text(json.dumps(export, ensure_ascii=False, indent=2), encoding="utf-8")


def make_annotator_csv(person: int) -> Callable[[World, str], None]:
    """One person's labels of review/tasks.json as a spreadsheet (export-review's CSV columns)."""

    def make(world: World, path: str) -> None:
        target = world.cwd / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["pair_id", "instruction", "left", "right", "label", "annotator",
                                                    "export_id"], lineterminator="\n")
            writer.writeheader()
            for n, data in enumerate(_tasks(world)):
                writer.writerow({**{k: data.get(k, "") for k in ("pair_id", "instruction", "left", "right",
                                                                   "export_id")},
                                 "label": _person_label(person, n, data).lower(), "annotator": f"ann{person}"})

    return make


# -- downloads a user's earlier run left behind ----------------------------------------------

def fill_download_cache(world: World) -> list[str]:
    """The labelled sets `judge-eval --set NAME` fetches, in justeval's download cache as the
    first run left them (the shared copies are byte for byte the files at the pinned URLs)."""
    from justeval.fetch import _cache_path  # where fetch_bytes(url, cache=True) keeps a download
    from justeval.validity.sets import NAMED_SETS

    shared_of = {"WeOpenML/PandaLM": world.shared / "human-labels" / "PandaLM",
                 "princeton-nlp/LLMBar": world.shared / "human-labels" / "LLMBar"}
    env = world.env()
    saved = os.environ.get("JUSTEVAL_CACHE_DIR")
    os.environ["JUSTEVAL_CACHE_DIR"] = env["JUSTEVAL_CACHE_DIR"]
    filled = []
    try:
        for name in ("pandalm", "llmbar-natural"):
            named = NAMED_SETS[name]
            for _subset, path in named.files:
                target = _cache_path(named.url(path))
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(shared_of[named.repo] / path, target)
                filled.append(named.url(path))
    finally:
        if saved is None:
            os.environ.pop("JUSTEVAL_CACHE_DIR", None)
        else:
            os.environ["JUSTEVAL_CACHE_DIR"] = saved
    return filled


def raw_github_files(world: World) -> dict[str, Path]:
    """What the file server serves, by path under https://raw.githubusercontent.com/."""
    from justeval.validity.sets import LLMBAR_COMMIT, PANDALM_COMMIT

    urial = world.shared / "urial-prompts"
    files = {f"Re-Align/URIAL/main/urial_prompts/{p.name}": p for p in urial.glob("*.txt")}
    pandalm = world.shared / "human-labels" / "PandaLM"
    for p in (pandalm / "data").glob("*.json"):
        files[f"WeOpenML/PandaLM/{PANDALM_COMMIT}/data/{p.name}"] = p
    llmbar = world.shared / "human-labels" / "LLMBar"
    for p in (llmbar / "Dataset").rglob("*.json"):
        files[f"princeton-nlp/LLMBar/{LLMBAR_COMMIT}/{p.relative_to(llmbar).as_posix()}"] = p
    # tml-epfl/icl-alignment's urial.txt is not in the shared data: a stand-in written here,
    # URIAL's own inst_1k_v4 prompt (the same `# Query:` layout as that file)
    stand_in = world.home / "stand-ins" / "icl-alignment-urial.txt"
    stand_in.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(urial / "inst_1k_v4.txt", stand_in)
    files["tml-epfl/icl-alignment/main/urial_prompts/urial.txt"] = stand_in
    return files


def install_tiny_base_model(world: World) -> Path:
    """A tiny random Llama saved where a user's earlier download of meta-llama/Llama-2-7b-hf
    would be: the Hugging Face hub cache under HF_HOME (read with HF_HUB_OFFLINE=1)."""
    from tests.tokenshift.tiny import build_tiny_model

    commit = "0" * 40
    repo = world.home / ".cache" / "huggingface" / "hub" / ("models--" + HF_BASE_REPO.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    build_tiny_model(snapshot, seed=0)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit, encoding="utf-8")
    world.tiny_model = snapshot
    return snapshot


@contextmanager
def built_world(shared: Path, root: Path, ports: list[str]) -> Iterator[World]:
    """Start the servers (one per localhost port the README names, one for api.openai.com) and
    the file server, and write the instruction slice; stop everything afterwards."""
    world = World(shared=shared, cwd=root / "work", home=root / "home")
    world.cwd.mkdir(parents=True)
    (world.home / "tmp").mkdir(parents=True)
    write_instruction_slice(world)
    scorer = TinyScorer(install_tiny_base_model(world))
    with ExitStack() as stack:
        world.openai = stack.enter_context(ReadmeServer(scorer))
        for port in ports:
            world.servers[port] = stack.enter_context(ReadmeServer(scorer))
        world.files = stack.enter_context(FileServer(raw_github_files(world)))
        fill_download_cache(world)
        yield world
