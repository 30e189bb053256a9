"""A pip-installed user must get the data folders (judges, instructions, leaderboard) too."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (whl,) = out.glob("justeval-*.whl")
    return whl


@pytest.mark.slow
def test_wheel_ships_the_data_folders(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("instructions", "judges", "leaderboard"):
        shipped = [n for n in names if n.startswith(f"justeval/_data/{folder}/")]
        in_repo = [p for p in (REPO / folder).rglob("*") if p.is_file()]
        assert len(shipped) == len(in_repo) > 0, folder


@pytest.mark.slow
def test_installed_wheel_finds_its_own_data(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = "from justeval.paths import data_dir; print(data_dir('judges'))"
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert Path(out) == target / "justeval" / "_data" / "judges"
