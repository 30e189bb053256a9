"""The real published set in ../shared/data: counts, lite subset and assembly from real sources."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from justeval.instructions import load_instructions
from justeval.instructions.assemble import assemble
from tests.conftest import CliRun

pytestmark = pytest.mark.integration


def _readme_counts(readme: Path) -> dict[str, int]:
    """Per-dataset counts as the shared README states them (AlpacaEval subsets sum to 420)."""
    text = readme.read_text(encoding="utf-8")
    counts = {"hh-rlhf/red-team-attempts": int(re.search(r"red-team-attempts` \((\d+)\)", text).group(1)),  # type: ignore[union-attr]
              "MaliciousInstruct": int(re.search(r"`MaliciousInstruct` \((\d+)\)", text).group(1)),  # type: ignore[union-attr]
              "lima": int(re.search(r"`lima` \((\d+)\)", text).group(1)),  # type: ignore[union-attr]
              "mt": int(re.search(r"`mt` \(MT-bench first turns, (\d+)\)", text).group(1))}  # type: ignore[union-attr]
    return counts


def test_stats_of_the_published_set(shared_data: Path, cli: CliRun) -> None:
    src = shared_data / "just-eval-instruct" / "instructions.jsonl"
    code, out, _ = cli("instructions", "stats", "--instructions", str(src), "--json")
    assert code == 0
    stats = json.loads(out)
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert stats["total"] == 1000 == len(rows)
    assert stats["category"] == {"regular": 800, "safety": 200}
    assert stats["dataset"] == dict(Counter(r["dataset"] for r in rows))
    for name, n in _readme_counts(shared_data / "README.md").items():
        assert stats["dataset"][name] == n
    alpaca = sum(stats["dataset"][s] for s in ("helpful_base", "selfinstruct", "oasst", "koala", "vicuna"))
    assert alpaca == 420


def test_lite_subset_of_the_published_set(shared_data: Path, cli: CliRun) -> None:
    folder = shared_data / "just-eval-instruct"
    lite = json.loads((folder / "lite_ids.json").read_text(encoding="utf-8"))
    code, out, _ = cli("instructions", "stats", "--instructions", str(folder / "instructions.jsonl"), "--json",
                       "--subset", "lite")
    stats = json.loads(out)
    assert code == 0
    assert stats["category"] == {"regular": len(lite["lite_regular_ids"]), "safety": len(lite["lite_safety_ids"])}
    assert stats["category"] == {"regular": 275, "safety": 75} and stats["total"] == 350


def _source_files_from_published(published: list, folder: Path) -> dict[str, Path]:
    """LIMA and red-team sources are not in the shared folder: write them in their source formats."""
    lima = folder / "lima.jsonl"
    lima.write_text("".join(json.dumps({"conversations": [i.instruction, "(answer)"], "source": "t"}) + "\n"
                            for i in published if i.dataset == "lima"), encoding="utf-8")
    red = folder / "red_team_attempts.json"
    red.write_text(json.dumps([{"transcript": f"\n\nHuman: {i.instruction}\n\nAssistant: I can't help.",
                                "rating": 0} for i in published if i.source_id.startswith("red_team")]),
                   encoding="utf-8")
    return {"lima": lima, "red_team": red}


def test_assembly_from_real_sources_reproduces_the_published_set(shared_data: Path, tmp_path: Path) -> None:
    published = load_instructions(shared_data / "just-eval-instruct" / "instructions.jsonl")
    result = assemble(source_dir=shared_data / "sources", sources=_source_files_from_published(published, tmp_path),
                      reference=published)
    by_id = {i.id: i for i in published}
    real = [i for i in result.items if i.dataset not in ("lima", "hh-rlhf/red-team-attempts")]
    assert len(real) == 420 + 80 + 100
    differing = [i.id for i in real if i != by_id[i.id]]
    assert differing == [760]  # MT-bench question 121: "reprompt" vs "returns"
    assert [(d.id, d.field, d.known) for d in result.differences] == [(760, "instruction", True),
                                                                      (760, "source_id", True)]
    assert "returns top-5 words" in result.differences[0].assembled
    assert "reprompt top-5 words" in result.differences[0].published
    assert result.missing == [] and result.tagged == 800
    # everything else, tags included, equals the published items
    assert [i for i in result.items if i.id != 760] == [i for i in published if i.id != 760]
    assert any("[known] id 760" in line for line in result.report_lines())


def test_assemble_command_on_real_sources(shared_data: Path, tmp_path: Path, cli: CliRun) -> None:
    published_path = shared_data / "just-eval-instruct" / "instructions.jsonl"
    paths = _source_files_from_published(load_instructions(published_path), tmp_path)
    out = tmp_path / "assembled.jsonl"
    code, _, err = cli("instructions", "assemble", "--source-dir", str(shared_data / "sources"),
                       "--source", f"lima={paths['lima']}", "--source", f"red_team={paths['red_team']}",
                       "--reference", str(published_path), "--out", str(out), "--strict")
    assert code == 0, err
    assert "0 unexpected" in err and "[known] id 760" in err
    assert len(load_instructions(out)) == 1000
