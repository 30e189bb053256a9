"""The terminal leaderboard fits the width it is printed at: no line is longer, no number is
broken across lines, model names fold over at most two lines at 100 columns and not at all
at 150, and `--ci` puts each interval under its mean."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console

from justeval.board import Settings, build_leaderboard
from justeval.board.render import fmt, rich_renderable
from justeval.board.tables import Leaderboard
from justeval.board.terminal import ci_text

from .runs import uniform_run

NAMES = ["Llama-2-70b-chat-hf-with-a-long-name", "Mistral-7B-Instruct-v0.1", "gpt-3.5-turbo-0301",
         "m", "[bold]markup-is-not-styled[/]"]


@pytest.fixture
def board(tmp_path: Path) -> Leaderboard:
    runs = [uniform_run(tmp_path / f"r{k}", name, [1.0 + (k + i) % 5 for i in range(12)],
                        safety=[5.0 - k % 3, 4.0, 3.0], words=5 + 7 * k)
            for k, name in enumerate(NAMES)]
    return build_leaderboard(runs, by=["dataset"], settings=Settings(bootstrap=100)).board


def _text(board: Leaderboard, width: int, ci: bool = False) -> list[str]:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(rich_renderable(board, by=["dataset"], ci=ci))
    return console.export_text().splitlines()


def _name_lines(lines: list[str], name: str) -> int:
    """Over how many lines the model column shows `name` in the first leaderboard table."""
    header = next(k for k, line in enumerate(lines) if re.match(r"rank\s+model", line))
    start = lines[header].index("model")
    end = next(m.start() for m in re.finditer(r"\S", lines[header][start + 5:])) + start + 5
    cells = []
    for line in lines[header + 2:]:
        if not line.strip():
            break
        cells.append((line[:start].strip(), line[start:end].strip()))
    for k, (rank, text) in enumerate(cells):
        if rank and name.startswith(text):
            pieces = [text]
            for rank2, more in cells[k + 1:]:
                if rank2 or not more:
                    break
                pieces.append(more)
            if "".join(pieces) == name:
                return len(pieces)
    raise AssertionError(f"{name} not found in the model column")


@pytest.mark.parametrize("width", [80, 100, 150, 200])
@pytest.mark.parametrize("ci", [False, True])
def test_no_line_is_wider_than_the_terminal_and_no_number_is_broken(board: Leaderboard, width: int,
                                                                    ci: bool) -> None:
    lines = _text(board, width, ci)
    assert max(len(line.rstrip()) for line in lines) <= width
    tokens = {t for line in lines for t in line.split()}
    for row in board.rows:
        assert fmt(row.average.mean) in tokens or fmt(row.average.mean) + "*" in tokens
        for stat in row.aspects.values():
            if stat.n:
                assert fmt(stat.mean) in tokens, (row.model, fmt(stat.mean))
                if ci:
                    assert ci_text(stat.ci_low, stat.ci_high) in tokens
        assert str(row.counts["judged"]) in tokens


def test_model_names_fold_over_two_lines_at_most_at_100_and_not_at_150(board: Leaderboard) -> None:
    at_100 = _text(board, 100)
    assert all(_name_lines(at_100, name) <= 2 for name in NAMES)
    at_150 = _text(board, 150)
    assert all(_name_lines(at_150, name) == 1 for name in NAMES)


def test_ci_puts_each_interval_on_the_line_under_its_mean(board: Leaderboard) -> None:
    plain, with_ci = _text(board, 100), _text(board, 100, ci=True)
    row = board.rows[0]
    stat = row.aspects["helpfulness"]
    interval = ci_text(stat.ci_low, stat.ci_high)
    assert not any(interval in line for line in plain)
    k = next(k for k, line in enumerate(with_ci) if interval in line.split())
    col = with_ci[k].index(interval) + len(interval)
    assert with_ci[k - 1][:col].rstrip().endswith(fmt(stat.mean))  # right-aligned above it
    assert any("--ci shows" in line for line in plain)


def test_names_are_text_not_markup(board: Leaderboard) -> None:
    text = "\n".join(_text(board, 150))
    assert "[bold]markup-is-not-styled[/]" in text
