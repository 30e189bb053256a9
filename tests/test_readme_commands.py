"""The README, as written, works: every `justeval ...` command of its ```bash blocks runs, in
README order, through the installed entry point (`justeval` on the venv's PATH, a subprocess of
`bash -c`, so `$VAR`, `$(...)` and `runs/*` work as in the reader's shell), in one scratch working
folder, and must exit 0 and leave what it says it makes.

The README is read when the test runs, so a command added to it is walked without touching this
file. The new user's world: no network but loopback servers, no key but a fake one, the real
recorded data in small slices. How "as written" is kept is in the tables below, and only there:
what is skipped and why (SKIPS), what stands in for what the reader has and the test cannot
(SUBSTITUTIONS in the command text; ENVIRONMENT and COMMAND_ENV in the variables), and the files
a reader makes before a command reads them (USER_FILES). A command that is neither a `justeval`
command nor in SKIPS fails the test, and so does a table entry no README command needs.
"""

from __future__ import annotations

import html
import json
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import justeval
from justeval.board.render import md_text
from tests.conftest import REPO
from tests.readme_walk import world as w
from tests.readme_walk.readme import Command, readme_commands

README = REPO / "README.md"
COMMAND_TIMEOUT_S = 180
LOCAL_SERVER = r"http://localhost:(\d+)/v1"  # a server the README starts (vLLM) on that port


@dataclass(frozen=True)
class Skip:
    pattern: str  # matched at the start of the command
    reason: str


#: README commands that are not justeval's own, each with why the walk does not run it
SKIPS = [
    Skip(r"python3 -m venv \.venv$", "makes the venv: CI made the one this test runs in, and walks its `justeval`"),
    Skip(r"\. \.venv/bin/activate$", "activates that venv: the walk puts its bin/ first on PATH instead"),
    Skip(r"pip install ", "installs justeval (and torch): the venv this test runs in is that install"),
    Skip(r"pytest\b", "the test suite itself, of which this test is a part"),
    Skip(r"ruff check ", "lint: run by CI beside the tests"),
    Skip(r"mypy$", "type check: run by CI beside the tests"),
    Skip(r"python benchmarks/", "benchmarks measure for minutes under load and print figures; CI runs them apart"),
    Skip(r"vllm serve ", "starts a model on GPUs: the loopback server given for its port stands in (SUBSTITUTIONS)"),
    Skip(r"for i in 0 1 2 3; do CUDA_VISIBLE_DEVICES=\$i vllm serve ",
         "starts four vLLM replicas on ports 8000-8003: four loopback servers stand in (SUBSTITUTIONS)"),
]


@dataclass(frozen=True)
class Substitution:
    pattern: str
    replace: Callable[[re.Match[str], w.World], str]
    reason: str


#: text replaced in a command (and in the shell variables set before it)
SUBSTITUTIONS = [
    Substitution(LOCAL_SERVER, lambda m, world: world.server_url(m.group(1)),
                 "a vLLM (or other OpenAI-compatible) server on that port: a loopback server per port, answering "
                 "as every role (tests/readme_walk/responder.py), with the Batch API; the comma list of four is "
                 "four such servers"),
    Substitution(r"https://raw\.githubusercontent\.com", lambda m, world: world.files.url,  # type: ignore[union-attr]
                 "GitHub's raw file host: a loopback file server holding, at the README's pinned paths, the shared "
                 "copies of the URIAL prompts and the PandaLM and LLMBar files, and a stand-in for tml-epfl's "
                 "urial.txt (not in the shared data): URIAL's own inst_1k_v4.txt"),
]

#: what the reader's machine holds that the test provides instead, by the variable that says
#: so (no command text changes); PATH (the venv's bin/ first), LANG and TMPDIR are as usual
ENVIRONMENT = {
    "OPENAI_BASE_URL": "api.openai.com, for the commands that name no server: a loopback server (Batch API too)",
    "OPENAI_API_KEY": f"{w.API_KEY}: a fake key; nothing leaves the machine",
    "JUSTEVAL_INSTRUCTIONS": "the hub dataset re-align/just-eval-instruct, the default instruction source: a real "
                             "slice of 30 items of the shared copy (23 of them lite, in its lite_ids.json), in "
                             "./just-eval-instruct/, which is also the README's `--instructions just-eval-instruct/`",
    "JUSTEVAL_CACHE_DIR": "a fresh cache; its downloads/ holds the labelled sets pandalm and llmbar-natural as a "
                          "first `judge-eval --set NAME` left them (the shared copies of the pinned files)",
    "HOME": "a fresh home, holding the user's downloads (the recorded outputs imported into runs) and caches",
    "HF_HOME": "its Hugging Face hub cache holds a tiny random Llama as "
               f"{w.HF_BASE_REPO} (token-shift's `hf:` base, and the tokenizer of its server path), as a user's "
               "earlier download would; the loopback servers score token-shift's `echo` calls with the same model",
    "HF_HUB_OFFLINE": "1 for token-shift only (COMMAND_ENV): transformers reads that cache, asks huggingface.co "
                      "nothing",
    "HTTP_PROXY": "with HTTPS_PROXY: a closed loopback port, so anything that tries to leave the machine fails at "
                  "once (NO_PROXY=127.0.0.1,localhost lets the loopback servers through)",
    "HTTPS_PROXY": "see HTTP_PROXY",
    "NO_PROXY": "see HTTP_PROXY",
    "VIRTUAL_ENV": "the venv this test runs in, as `. .venv/bin/activate` sets it",
}
USUAL_VARIABLES = {"PATH", "LANG", "TMPDIR"}

#: extra variables for some commands (matched at the start of the command)
COMMAND_ENV = [(r"justeval token-shift ", {"HF_HUB_OFFLINE": "1"})]


@dataclass(frozen=True)
class UserFile:
    path: str  # relative to the working folder, as the README names it
    make: Callable[[w.World, str], None]
    reason: str


#: files a command reads that the reader makes first; each is made just before the first
#: command naming it, if it is not there yet
USER_FILES = [
    UserFile("runs/x", w.make_imported_run("gpt-3.5-turbo-0301"),
             "a run to judge: gpt-3.5-turbo-0301's real outputs of the slice, `justeval import`ed"),
    UserFile("path/to/just-eval", w.make_upstream_templates,
             "a checkout of just-eval's templates: the shared copies of score_multi.txt and score_safety.txt"),
    UserFile("runs/a", w.make_imported_run("gpt-4-0613", judged=True),
             "model A: gpt-4-0613's real outputs, imported and judged (import-review --judge-run reads judgments)"),
    UserFile("runs/b", w.make_imported_run("Mistral-7B-Instruct-v0.1", judged=True),
             "model B: Mistral-7B-Instruct-v0.1's real outputs, imported and judged"),
    UserFile("labels.json", w.make_label_studio_export,
             "Label Studio's JSON export of review/tasks.json after two people chose Left / Right / Tie on each task"),
    UserFile("review/ann1.csv", w.make_annotator_csv(1), "one person's labels of the exported pairs, as a CSV"),
    UserFile("review/ann2.csv", w.make_annotator_csv(2), "another person's labels of the same pairs"),
    UserFile("pool.jsonl", w.make_pool, "60 real demonstrations (gpt-4-0613's answers to items outside the slice)"),
    UserFile("dev.jsonl", w.make_dev, "3 real instructions outside the slice and the pool"),
    UserFile("runs/llama2-7b-chat", w.make_imported_run("Llama-2-7b-chat-hf"),
             "Llama-2-7b-chat-hf's real outputs, imported"),
    UserFile("runs/vicuna-7b", w.make_imported_run("Mistral-7B-Instruct-v0.1"),
             "the shared data has no Vicuna outputs: Mistral-7B-Instruct-v0.1's real outputs stand in"),
]


# -- what a command says it makes ---------------------------------------------------------------

def _args(command: Command) -> list[str]:
    return shlex.split(command.text, comments=True)


def _option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _positionals(args: list[str], start: int) -> list[str]:
    """The run directories a command names: the arguments before its first option."""
    out = []
    for arg in args[start:]:
        if arg.startswith("-"):
            break
        out.append(arg)
    return out


def _records(path: Path) -> list[dict]:
    assert path.is_file(), f"{path} was not written"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _sweeps(world: w.World, patterns: list[str]) -> list[Path]:
    """The `justeval sweep` folders among the arguments (they stand for their configurations' runs)."""
    return [p for pattern in patterns for p in sorted(world.cwd.glob(pattern))
            if (p / "sweep.json").is_file() and not (p / "generations.jsonl").exists()]


def _generators(world: w.World, patterns: list[str]) -> list[str]:
    """The model of each judged run the arguments name (globs expanded as the shell did; a sweep
    folder: each of its configurations' runs)."""
    names = []
    for pattern in patterns:
        for found in sorted(world.cwd.glob(pattern)):
            paths = sorted(p for p in found.iterdir() if (p / "generations.jsonl").is_file()) \
                if found in _sweeps(world, [pattern]) else [found]
            for path in paths:
                run = justeval.load_run(path)
                if run.judgments:
                    names.append(run.generations[0].generator)
    return names


def _selected(world: w.World, args: list[str]) -> set[int]:
    if _option(args, "--subset") == "lite":
        return set(world.lite_ids["lite_regular_ids"]) | set(world.lite_ids["lite_safety_ids"])
    return set(world.slice_ids)


def check_products(world: w.World, command: Command, stdout: str) -> None:
    """What the command says it leaves behind exists (an AssertionError names what is missing)."""
    args = _args(command)
    verb = args[1] if len(args) > 1 else ""
    out = _option(args, "--out")
    cwd = world.cwd
    if verb == "--help":
        assert all(v in stdout for v in ("generate", "judge", "leaderboard", "publish", "judge-eval", "token-shift"))
    elif verb == "instructions" and args[2:3] == ["stats"]:
        assert f"of {len(world.slice_ids)} items" in stdout
    elif verb in ("run", "generate"):
        run = justeval.load_run(cwd / str(out))  # the typed records, wherever the run keeps them
        assert {g.id for g in run.generations if g.status == "ok"} == _selected(world, args), \
            "not every item generated"
        if verb == "run":
            judge = _option(args, "--judge")
            assert {j.id for j in run.judgments if j.judge == judge and j.status == "ok"} == _selected(world, args), \
                f"not every item judged by {judge}"
    elif verb == "judge":
        judge = _option(args, "--judge")
        run = justeval.load_run(cwd / args[2])
        assert {j.id for j in run.judgments if j.judge == judge and j.status == "ok"} == \
            {g.id for g in run.generations if g.status == "ok"}, f"not every output judged by {judge}"
    elif verb == "leaderboard" and _option(args, "--format") == "md" and _sweeps(world, _positionals(args, 2)):
        assert "## Score vs K" in stdout and "| K |" in stdout, "no score-vs-K table"
    elif verb == "leaderboard" and ("--judge-eval" in args or "--panel" in args):
        for folder in (args[i + 1] for i, a in enumerate(args[:-1]) if a == "--judge-eval"):
            assert md_text(str(Path(folder) / "report.json")) in stdout, f"the Judge section does not name {folder}"
        if "--judge-eval" in args:
            assert "Judge" in stdout and "| board |" in stdout, "no Judge section with the board's own judge"
        if "--panel" in args:
            assert "Krippendorff's alpha" in stdout, "no agreement between the panel's judges shown"
        for name in _generators(world, _positionals(args, 2)):
            assert name[:12] in stdout, f"the board does not show {name}"
    elif verb == "leaderboard" and out is None and _option(args, "--format") is None:
        for name in _generators(world, _positionals(args, 2)):
            assert name[:12] in stdout, f"the table does not show {name}"
    elif verb == "compare":
        assert stdout.strip(), "printed nothing"
    elif verb == "publish":
        page = cwd / str(out) / "index.html"
        assert page.is_file(), f"{page} was not written"
        text = page.read_text(encoding="utf-8")
        for name in _generators(world, _positionals(args, 2)):
            assert html.escape(name) in text, f"the page does not show {name}"
        if _sweeps(world, _positionals(args, 2)):
            assert 'id="sweep"' in text and (cwd / str(out) / "sweep.svg").is_file(), "no score-vs-K chart"
        if "--token-shift" in args:
            assert 'id="token-shift"' in text and list((cwd / str(out) / "items").glob("t*.js")), \
                "no token-shift section or coloured tokens"
    elif verb == "pairwise":
        verdicts = [r for f in (cwd / args[2] / "pairwise").glob("*.jsonl") for r in _records(f)]
        assert any(r.get("status") == "ok" for r in verdicts), "no pairwise verdict recorded"
    elif verb == "export-review":
        for name in ("key.json", "tasks.json" if _option(args, "--format") == "label-studio" else "pairs.csv"):
            assert (cwd / str(out) / name).is_file(), f"{out}{name} was not written"
    elif verb == "import-review" and "--json" in args:
        report = json.loads(stdout)
        assert report["labelled_pairs"] > 0, "no labelled pair read"
        if "--judge-run" in args:
            assert report["judge_agreement"], "no agreement with the judge reported"
    elif verb == "judge-eval":
        if out is not None:
            report = json.loads((cwd / out / "report.json").read_text(encoding="utf-8"))
            assert report["n"] > 0 and report["pending"] == 0, f"{out}report.json: n={report['n']}, " \
                f"pending={report['pending']}"
            assert report["unreadable"] == 0, f"{report['unreadable']} judge replies could not be read"
        if "--markdown" in args:
            assert "| judge |" in stdout, "no Markdown table printed"
    elif verb == "sweep":
        assert (cwd / str(out) / "sweep.json").is_file(), "sweep.json was not written"
    elif verb == "icl-select" and "--dry-run" not in args:
        assert (cwd / str(out)).is_file(), f"the prompt file {out} was not written"
    elif verb == "token-shift":
        runs = _positionals(args, 2)
        for run in runs:
            folder = cwd / run if out is None else cwd / out / (Path(run).name if len(runs) > 1 else "")
            records = _records(folder / "token_shift.jsonl")
            assert any(r["status"] == "ok" for r in records), f"{run}: no output analysed"
        if "--json" in args:
            json.loads(stdout)
    elif out is not None:  # a command this table does not know yet: what it names as --out exists
        assert (cwd / out).exists(), f"--out {out} was not made"


# -- the walk -------------------------------------------------------------------------------

def _skip_reason(command: Command) -> str | None:
    return next((s.reason for s in SKIPS if re.match(s.pattern, command.text)), None)


def _substituted(world: w.World, text: str) -> str:
    for sub in SUBSTITUTIONS:
        text = re.sub(sub.pattern, lambda m, s=sub: s.replace(m, world), text)  # type: ignore[misc]
    return text


def _mentions(text: str, path: str) -> bool:
    return re.search(rf"(?<![\w./-]){re.escape(path)}(?![\w.-])", text) is not None


def _make_user_files(world: w.World, command: Command) -> None:
    for user_file in USER_FILES:
        if _mentions(command.text, user_file.path) and not (world.cwd / user_file.path).exists():
            try:
                user_file.make(world, user_file.path)
            except Exception as exc:
                pytest.fail(f"{command.where()}: making {user_file.path} ({user_file.reason}) for `{command.text}` "
                            f"failed: {exc}", pytrace=False)
            world.made.append(user_file.path)


def _run(world: w.World, command: Command) -> subprocess.CompletedProcess[str]:
    script = "\n".join([*(_substituted(world, v) for v in command.variables), _substituted(world, command.text)])
    env = world.env()
    for pattern, extra in COMMAND_ENV:
        if re.match(pattern, command.text):
            env.update(extra)
    try:
        return subprocess.run(["bash", "-c", script], cwd=world.cwd, env=env, capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{command.where()}: `{command.text}` did not finish in {COMMAND_TIMEOUT_S} s\n"
                    f"stderr:\n{(exc.stderr or b'').decode('utf-8', 'replace')[-3000:]}", pytrace=False)


def _ports(commands: list[Command]) -> list[str]:
    text = "\n".join(c.text for c in commands)
    return sorted(set(re.findall(LOCAL_SERVER, text)))


@pytest.mark.slow
@pytest.mark.integration
def test_every_readme_command_runs_as_written(shared_data: Path, tmp_path: Path) -> None:
    commands = readme_commands(README)
    walked = [c for c in commands if c.is_justeval]
    unknown = [c for c in commands if not c.is_justeval and _skip_reason(c) is None]
    assert not unknown, "README commands that are neither justeval's nor in SKIPS:\n" + "\n".join(
        f"  {c.where()}: {c.text}" for c in unknown)
    assert len(walked) >= 30, f"only {len(walked)} justeval commands found in the README: is the parser broken?"

    with w.built_world(shared_data, tmp_path, _ports(commands)) as world:
        undocumented = {k.upper() for k in world.env()} - USUAL_VARIABLES - set(ENVIRONMENT)
        assert not undocumented, f"variables the walk sets without saying why in ENVIRONMENT: {undocumented}"
        found = shutil.which("justeval", path=world.env()["PATH"])
        assert found is not None and Path(found).parent == Path(world.env()["PATH"].split(":")[0]), \
            f"`justeval` resolves to {found}, not the venv's entry point"
        timings = []
        for command in walked:
            _make_user_files(world, command)
            started = time.perf_counter()
            done = _run(world, command)
            timings.append((time.perf_counter() - started, command))
            if done.returncode != 0:
                pytest.fail(f"{command.where()}: `{command.text}` exited {done.returncode}\n"
                            f"stderr:\n{done.stderr[-4000:]}\nstdout (end):\n{done.stdout[-1500:]}", pytrace=False)
            try:
                check_products(world, command, done.stdout)
            except AssertionError as exc:
                pytest.fail(f"{command.where()}: `{command.text}` exited 0 but did not leave what it says: {exc}\n"
                            f"stderr:\n{done.stderr[-2000:]}", pytrace=False)
        assert world.files is not None and not world.files.missing, \
            f"README URLs the file server does not hold (add them to world.raw_github_files): {world.files.missing}"
        slowest = sorted(timings, key=lambda t: t[0], reverse=True)[:5]
        print(f"\nwalked {len(walked)} README commands; made first: {', '.join(world.made)}")
        print("slowest:", *(f"{s:5.1f} s  {c.text[:90]}" for s, c in slowest), sep="\n  ")


# -- the tables stay true to the README --------------------------------------------------------

def test_every_table_entry_is_still_used_by_a_readme_command() -> None:
    """A skip, substitution or user file no README command needs any more is stale: remove it."""
    commands = readme_commands(README)
    texts = [c.text for c in commands]
    everything = "\n".join([*texts, *{v for c in commands for v in c.variables}])
    stale = [f"SKIPS {s.pattern!r}" for s in SKIPS if not any(re.match(s.pattern, t) for t in texts)]
    stale += [f"SUBSTITUTIONS {s.pattern!r}" for s in SUBSTITUTIONS if not re.search(s.pattern, everything)]
    stale += [f"USER_FILES {u.path!r}" for u in USER_FILES if not any(_mentions(c.text, u.path) for c in commands
                                                                       if c.is_justeval)]
    stale += [f"COMMAND_ENV {p!r}" for p, _env in COMMAND_ENV if not any(re.match(p, t) for t in texts)]
    assert not stale, "table entries no README command needs: " + ", ".join(stale)


def test_the_readme_reader_joins_lines_splits_chains_and_keeps_variables(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("""# Title

```bash
python3 -m venv .venv && justeval run --model openai:m \\
    --out runs/m   # a trailing comment stays
# a comment line goes
```

## Section two

```python
# not a heading
justeval not-a-shell-block
```

```bash
U=https://example.org/prompts
justeval generate --urial $U/a.txt --out runs/u
```
""", encoding="utf-8")
    commands = readme_commands(readme)
    assert [c.text for c in commands] == [
        "python3 -m venv .venv", "justeval run --model openai:m --out runs/m   # a trailing comment stays",
        "justeval generate --urial $U/a.txt --out runs/u"]
    assert [c.line for c in commands] == [4, 4, 18]
    assert [c.section for c in commands] == ["Title", "Title", "Section two"]
    assert commands[2].variables == ("U=https://example.org/prompts",) and commands[1].variables == ()
    assert [c.is_justeval for c in commands] == [False, True, True]
