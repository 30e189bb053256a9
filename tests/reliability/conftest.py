from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CliRun

MODEL = "gpt-3.5-turbo-0301"


@pytest.fixture
def imported_run(shared_data: Path, tmp_path: Path, cli: CliRun) -> Path:
    """A run directory holding a real model's 1,000 shared outputs, imported through the CLI."""
    run = tmp_path / "run"
    code, _, err = cli("import", str(shared_data / "outputs" / f"{MODEL}.jsonl"), "--out", str(run),
                       "--instructions", str(shared_data / "just-eval-instruct" / "instructions.jsonl"))
    assert code == 0, err
    return run
