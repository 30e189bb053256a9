from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from justeval.cli import main
from justeval.testing.stub_server import StubServer

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("JUSTEVAL_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """The real recorded data (../shared/data); CI has it."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real data folder {SHARED_DATA} missing in CI")
        pytest.skip(f"real data folder {SHARED_DATA} not present")
    return SHARED_DATA


@pytest.fixture
def stub_server() -> Iterator[StubServer]:
    """A loopback OpenAI-compatible server; tests set `.responder`, `.script`, `.latency`."""
    with StubServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep each test's cache and keys private to it."""
    monkeypatch.setenv("JUSTEVAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")


CliRun = Callable[..., tuple[int, str, str]]


def make_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    """`justeval ARGS...` through the real entry point, returning (exit code, stdout, stderr):
    the `cli` fixture, for folders whose conftest shadows it."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["justeval", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    """Run `justeval ARGS...` through the real entry point; returns (exit code, stdout, stderr)."""
    return make_cli(monkeypatch, capsys)


# -- typed settings for the stage functions, pointed at a loopback server ----------------------
STAGE_OPTIONS = ("dry_run", "retry_parse_errors", "several_judges", "command", "out", "instructions")


def split_stage_options(kw: dict[str, object]) -> dict[str, object]:
    """Pop the keyword arguments that belong to the stage call, not to its settings."""
    return {k: kw.pop(k) for k in STAGE_OPTIONS if k in kw}


def generate_settings(base_url: str | None, model: str = "openai:m", *, completion: bool = False,
                      engine: object = None, params: object = None, **prompt: object) -> object:
    """GenerateSettings for `model` on `base_url`; `prompt` holds PromptSettings fields."""
    from justeval.engine.backend_spec import BackendSpec
    from justeval.generation.prompting import PromptSettings
    from justeval.settings import GenerateSettings

    fields: dict[str, object] = {"model": BackendSpec(spec=model, base_urls=[base_url] if base_url else [],
                                                      endpoint="completions" if completion else "chat"),
                                 "prompt": PromptSettings.model_validate(prompt)}
    if engine is not None:
        fields["engine"] = engine
    if params is not None:
        fields["params"] = params
    return GenerateSettings.model_validate(fields)


def judge_settings(base_url: str | None, judge: str, **fields: object) -> object:
    """JudgeSettings for `judge` on `base_url`; `fields` are other JudgeSettings fields (`engine`, `params`, ...)."""
    from justeval.engine.backend_spec import BackendSpec
    from justeval.settings import JudgeSettings

    return JudgeSettings.model_validate({"judge": BackendSpec(spec=judge, base_urls=[base_url] if base_url else []),
                                         **fields})


def pairwise_settings(base_url: str | None, judge: str, **fields: object) -> object:
    from justeval.engine.backend_spec import BackendSpec
    from justeval.settings import PairwiseSettings

    return PairwiseSettings.model_validate({"judge": BackendSpec(spec=judge, base_urls=[base_url] if base_url else []),
                                            **fields})
