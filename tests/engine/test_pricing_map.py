"""The price map is read from the litellm package's JSON file without importing LiteLLM: the
same prices as `litellm.get_model_info` for the names we pass, batch and cached-input prices,
LiteLLM's LITELLM_LOCAL_MODEL_COST_MAP switch, and a dry run that never imports LiteLLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from justeval.engine import pricing


def _names_we_pass(model_cost: dict[str, dict[str, object]]) -> list[str]:
    """Every chat model of the map as `justeval` passes it: bare, `provider/name`, and for
    OpenAI models a dated snapshot, a fine-tune and an upper-case spelling."""
    names: list[str] = []
    for key, entry in model_cost.items():
        if not isinstance(entry, dict) or entry.get("mode") not in ("chat", "completion", "responses"):
            continue
        names.append(key)
        provider = entry.get("litellm_provider")
        if isinstance(provider, str) and "-" not in provider and not key.startswith(provider + "/"):
            names.append(f"{provider}/{key}")
        if provider == "openai":
            names += [f"{key}-2099-01-01", f"ft:{key}:my-org::abc123", key.upper()]
    return names


def test_prices_match_litellm_get_model_info_wherever_litellm_has_a_price() -> None:
    import litellm

    names = _names_we_pass(litellm.model_cost)
    assert len(names) > 1000
    compared = 0
    for name in names:
        try:
            info = litellm.get_model_info(name)
        except Exception:
            continue
        expected = (info.get("input_cost_per_token"), info.get("output_cost_per_token"))
        if not expected[0] or not expected[1]:
            continue  # LiteLLM says 0 for an entry without a price: we say None (unknown)
        got = pricing.model_prices(name)
        assert got is not None, name
        assert (got.input, got.output) == expected, name
        batch = (info.get("input_cost_per_token_batches"), info.get("output_cost_per_token_batches"))
        assert pricing.batch_prices(name) == (batch if None not in batch else None), name
        assert pricing.cached_input_price(name) == info.get("cache_read_input_token_cost"), name
        compared += 1
    assert compared > 1000


def _fake_litellm(root: Path, bundled: dict[str, object], module_cost: dict[str, object] | None) -> Path:
    """A litellm package holding a price map file; importing it fails unless `module_cost` is
    given (then it is the module's `model_cost`, as LiteLLM sets it from its remote map)."""
    pkg = root / "litellm"
    pkg.mkdir(parents=True)
    body = (f"model_cost = {module_cost!r}\n" if module_cost is not None else
            "raise RuntimeError('litellm was imported')\n")
    (pkg / "__init__.py").write_text(body, encoding="utf-8")
    (pkg / "model_prices_and_context_window_backup.json").write_text(json.dumps(bundled), encoding="utf-8")
    return root


FAKE_MAP = {
    "sample_spec": {"input_cost_per_token": 1.0, "output_cost_per_token": 1.0},
    "judge-1": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2e-06,
                "output_cost_per_token": 8e-06, "input_cost_per_token_batches": 1e-06,
                "output_cost_per_token_batches": 4e-06, "cache_read_input_token_cost": 5e-07,
                "aliases": ["judge-one"]},
    "judge-latest": {"alias_of": "judge-1"},
    "ft:judge-1": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 4e-06,
                   "output_cost_per_token": 1.6e-05},
    "acme/writer": {"litellm_provider": "acme", "mode": "chat", "input_cost_per_token": 3e-06,
                    "output_cost_per_token": 6e-06},
    "other/writer-x": {"litellm_provider": "other", "mode": "chat", "input_cost_per_token": 9.0,
                       "output_cost_per_token": 9.0},
    "writer-x": {"litellm_provider": "other", "mode": "chat", "input_cost_per_token": 9.0,
                 "output_cost_per_token": 9.0},
    "video-only": {"litellm_provider": "acme", "mode": "chat", "output_cost_per_token": 1e-06},
}

PROBE = textwrap.dedent("""
    import json, sys
    from justeval.engine import pricing
    from justeval.records import Usage
    names = ["openai:judge-1", "judge-1-2024-05-13", "ft:judge-1:org::id", "JUDGE-1", "judge-one",
             "judge-latest", "litellm:acme/writer", "litellm:acme/writer-x", "video-only", "sample_spec",
             "hf:./tiny", "nobody/knows"]
    out = {n: [pricing.cost_usd(n, Usage(prompt_tokens=1000, completion_tokens=100)),
               pricing.batch_prices(n), pricing.cached_input_price(n)] for n in names}
    out["imported"] = "litellm" in sys.modules
    print(json.dumps(out))
""")


def _probe(tmp_path: Path, bundled: dict[str, object], *, module_cost: dict[str, object] | None = None,
           local: str | None) -> dict[str, object]:
    root = _fake_litellm(tmp_path / "site", bundled, module_cost)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITELLM_")}
    env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [env.get("PYTHONPATH")])])
    if local is not None:
        env["LITELLM_LOCAL_MODEL_COST_MAP"] = local
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


@pytest.mark.parametrize("local", [None, "True", "true"])
def test_bundled_map_is_read_without_importing_litellm(tmp_path: Path, local: str | None) -> None:
    got = _probe(tmp_path, FAKE_MAP, local=local)
    assert got.pop("imported") is False
    sync = 1000 * 2e-06 + 100 * 8e-06
    for name in ("openai:judge-1", "judge-1-2024-05-13", "JUDGE-1", "judge-one", "judge-latest"):
        cost, batch, cached = got[name]  # type: ignore[misc]
        assert cost == pytest.approx(sync), name
        assert batch == [1e-06, 4e-06], name
        assert cached == 5e-07, name
    # a fine-tune is priced as fine-tunes of its base model are
    assert got["ft:judge-1:org::id"] == [pytest.approx(1000 * 4e-06 + 100 * 1.6e-05), None, None]
    assert got["litellm:acme/writer"] == [pytest.approx(1000 * 3e-06 + 100 * 6e-06), None, None]
    # another provider's entry of the same bare name never prices acme's model
    assert got["litellm:acme/writer-x"] == [None, None, None]
    for unpriced in ("video-only", "sample_spec", "hf:./tiny", "nobody/knows"):
        assert got[unpriced] == [None, None, None], unpriced


def test_asking_litellm_for_its_remote_map_reads_litellm_model_cost(tmp_path: Path) -> None:
    remote = {"judge-1": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-05,
                          "output_cost_per_token": 2e-05}}
    got = _probe(tmp_path, FAKE_MAP, module_cost=remote, local="False")
    assert got.pop("imported") is True
    assert got["openai:judge-1"][0] == pytest.approx(1000 * 1e-05 + 100 * 2e-05)  # type: ignore[index]
    assert got["litellm:acme/writer"][0] is None  # type: ignore[index]  # only in the bundled file


def test_without_litellm_installed_nothing_is_priced_and_nothing_breaks(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    code = ("import sys; sys.modules['litellm'] = None\n"  # find_spec then raises, as if not installed
            "from justeval.engine import pricing\n"
            "print(pricing.model_prices('openai:gpt-4o-mini'), pricing.cost_usd('gpt-4o-mini', __import__("
            "'justeval.records').records.Usage(prompt_tokens=5)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["None", "None"]


def test_a_dry_run_imports_neither_litellm_nor_its_client(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    gens = [{"id": i, "instruction": f"say {i}", "output": f"answer {i} " * 50, "generator": "m", "dataset": "lima",
             "category": "regular"} for i in range(20)]
    (run / "generations.jsonl").write_text("".join(json.dumps(g) + "\n" for g in gens), encoding="utf-8")
    code = textwrap.dedent(f"""
        import sys
        from justeval.cli import app
        app(["judge", {str(run)!r}, "--judge", "openai:gpt-4o-mini", "--dry-run"], standalone_mode=False)
        print("litellm imported:", "litellm" in sys.modules)
    """)
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key", "JUSTEVAL_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert "litellm imported: False" in proc.stdout
    assert "$" in proc.stdout  # gpt-4o-mini is priced from the bundled map
    assert "calls: 20" in proc.stdout


def test_help_imports_no_record_models_and_no_heavy_libraries() -> None:
    code = ("import sys\nfrom justeval.cli import app\n"
            "try:\n    app(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('litellm', 'openai', 'pandas', 'numpy', 'justeval.records', 'jinja2', 'tiktoken')"
            " if m in sys.modules]\nprint('heavy:', heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "heavy: []" in proc.stdout
    assert "leaderboard" in proc.stdout and "judge" in proc.stdout  # every command is still listed
