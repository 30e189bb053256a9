"""The judge stage: every `ok` generation of a run scored by an LLM judge, one record per item
as it arrives.

Judgment record (a line of `judgments.jsonl`, or `judgments/<judge>.jsonl` when several judges
score one run; `justeval.records.Judgment`):
- `id`, `generator`, `category`: the judged generation.
- `judge`: the judge spec (`openai:gpt-4o`).
- `template`: `{name, hash}`; `hash` is a short sha256 of the template text.
- `status`: `ok` (scores read), `parse_error` (the reply could not be read even after
  `--parse-retries` repeats; scores all null, `raw` keeps the last reply), `error` (the call
  failed, e.g. after transport retries; `error` says why, scores all null).
- `scores`: `{aspect: number or null}`; null with status `ok` means the judge said N/A (its
  reason is in `rationales`); never a number the judge did not give.
- `rationales`: `{aspect: text}`; `raw`: the judge's reply; `error`: the failure reason.
- `usage` (prompt/completion tokens), `latency_s`, `cost_usd` (null when the price is unknown;
  0 for a cache hit), `attempts` (calls made, including parse retries).

Resume: an item is done for a judge when a record with the same `id`, `judge` and template
hash exists with status `ok` or `parse_error` (a parse error already spent its retries; pass
`retry_parse_errors=True` to try those again). `error` records are retried. Readers take the
last line per (id, judge, template hash).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from justeval.engine.engine import CallResult, Engine, EngineConfig
from justeval.engine.types import Backend, Completion, GenParams, Request
from justeval.errors import JustevalError
from justeval.jsonl import JsonlAppender
from justeval.judging.estimate import CostEstimate, Pricer, estimate_calls
from justeval.judging.parse import ParsedScores, parse_scores
from justeval.judging.prompts import JudgeItem, JudgeTemplates, build_item
from justeval.records import Generation, ItemId, Judgment, TemplateRef, Usage
from justeval.rundir import RunDir

DEFAULT_PARAMS = GenParams(temperature=0.0, max_tokens=1024)


@dataclass
class JudgeSummary:
    judge: str
    path: Path
    items: int = 0              # ok generations in the run
    already_done: int = 0       # skipped: judged before (resume)
    to_do: int = 0              # calls planned in this invocation
    ok: int = 0
    parse_errors: int = 0
    errors: int = 0
    cached: int = 0
    skipped_budget: int = 0
    skipped_generations: int = 0  # generations not `ok` (nothing to judge)
    cost_usd: float = 0.0
    unpriced_calls: int = 0       # calls with no known price (their cost is not in cost_usd)
    stopped_by_budget: bool = False
    wall_s: float = 0.0
    estimate: CostEstimate | None = None
    templates: dict[str, TemplateRef] = field(default_factory=dict)


def latest_generations(rd: RunDir) -> tuple[list[Generation], int]:
    """The `ok` generations to judge (the last line wins when an id repeats) and the number
    of ids whose latest generation is not usable."""
    if not rd.generations.exists():
        rd.load_generations()  # raises the one-line "no generations" error
    latest = rd.latest_generations()
    usable = list(rd.ok_generations().values()) if latest else []
    return usable, len(latest) - len(usable)


def done_keys(rd: RunDir, judge: str, *, retry_parse_errors: bool) -> set[tuple[ItemId, str]]:
    """(id, template hash) pairs this judge has already settled, in any judgments file."""
    last: dict[tuple[ItemId, str], str] = {}
    for rec in rd.load_judgments(judge):
        last[(rec.id, rec.template.hash)] = rec.status
    keep = {"ok"} if retry_parse_errors else {"ok", "parse_error"}
    return {key for key, status in last.items() if status in keep}


def judge_run(run_dir: str | Path, judge_spec: str, *, template_multi: str | None = None,
              template_safety: str | None = None, judge_system: str | None = None, max_words: int = -1,
              params: GenParams | None = None, engine_config: EngineConfig | None = None,
              backend_options: dict[str, Any] | None = None, several_judges: bool = False,
              dry_run: bool = False, retry_parse_errors: bool = False, command: str | None = None) -> JudgeSummary:
    """Judge every `ok` generation in `run_dir` with `judge_spec`; see the module docstring."""
    rd = RunDir(run_dir)
    templates = JudgeTemplates.load(template_multi, template_safety)
    params = params or DEFAULT_PARAMS
    config = engine_config or EngineConfig()
    out_path = rd.judgments_path(judge_spec, several=several_judges)
    summary = JudgeSummary(judge=judge_spec, path=out_path, templates={
        "regular": TemplateRef(name=templates.regular.name, hash=templates.regular.hash),
        "safety": TemplateRef(name=templates.safety.name, hash=templates.safety.hash)})
    gens, summary.skipped_generations = latest_generations(rd)
    summary.items = len(gens)
    done = done_keys(rd, judge_spec, retry_parse_errors=retry_parse_errors)
    todo = [g for g in gens if (g.id, templates.for_category(g.category).hash) not in done]
    summary.already_done = len(gens) - len(todo)
    summary.to_do = len(todo)

    if dry_run:
        # the schema sent with our own templates counts as prompt tokens; without a usable
        # backend here (no key yet), assume it will take structured output, as most do, and
        # price by the judge's list price
        try:
            planned: Backend | None = _make_backend(judge_spec, backend_options or {})
        except JustevalError:
            planned = None
        items = [build_item(g, templates, params=params, judge_system=judge_system, max_words=max_words,
                            structured=planned.supports_response_format() if planned else True) for g in todo]
        summary.estimate = estimate_calls(items, judge_spec, max_tokens=params.max_tokens,
                                          price=_pricer(planned) if planned else None)
        return summary
    if not todo:
        return summary

    backend = _make_backend(judge_spec, backend_options or {})
    structured = backend.supports_response_format()
    items = [build_item(g, templates, params=params, judge_system=judge_system, max_words=max_words,
                        structured=structured) for g in todo]
    _write_meta(rd, judge_spec, templates, judge_system, max_words, params, config, backend_options or {}, command)
    started = time.perf_counter()
    with JsonlAppender(out_path) as appender:
        asyncio.run(_judge_items(backend, config, items, judge_spec, appender, summary))
    summary.wall_s = time.perf_counter() - started
    return summary


def judge_many(run_dir: str | Path, judges: Sequence[str], **options: Any) -> list[JudgeSummary]:
    """Several judges on one run, one file each; a budget is shared across all of them."""
    several = len(judges) > 1
    config: EngineConfig = options.pop("engine_config", None) or EngineConfig()
    summaries: list[JudgeSummary] = []
    spent = 0.0
    for judge in judges:
        cfg = config
        if config.budget_usd is not None:
            cfg = config.but(budget_usd=max(0.0, config.budget_usd - spent))
        summary = judge_run(run_dir, judge, engine_config=cfg, several_judges=several, **options)
        spent += summary.cost_usd
        summaries.append(summary)
    return summaries


def _make_backend(spec: str, options: dict[str, Any]) -> Backend:
    from justeval.engine.backend_spec import BackendSpec

    opts = {k: v for k, v in options.items() if v is not None}
    endpoint = "completions" if opts.get("completion") else "chat"
    return BackendSpec(spec=spec, base_urls=opts.get("base_url"), api_key_env=opts.get("api_key_env"),
                       endpoint=endpoint).build(timeout_s=opts.get("timeout"))


def backend_pricer(spec: str, options: dict[str, Any]) -> Pricer | None:
    """Price estimates as the backend will charge them (a self-hosted server has no price);
    None (list price by name) when the backend cannot be set up here, e.g. no API key yet."""
    try:
        return _pricer(_make_backend(spec, options))
    except JustevalError:
        return None


def _pricer(backend: Backend) -> Pricer:
    return lambda prompt, completion: backend.cost_usd(Usage(prompt_tokens=prompt, completion_tokens=completion))


async def _judge_items(backend: Backend, config: EngineConfig, items: list[JudgeItem], judge: str,
                       appender: JsonlAppender, summary: JudgeSummary) -> None:
    """One engine pass over every item; each reply is validated against its own template's
    aspects, so regular and safety items share the concurrency and the budget."""
    by_key = {it.request.key: it for it in items}
    cfg = config.but(description=f"judge {judge}")

    def on_result(result: CallResult) -> None:
        appender.write(to_judgment(by_key[result.request.key], judge, result))

    def validate(request: Request, completion: Completion) -> ParsedScores:
        return parse_scores(completion.text, by_key[request.key].aspects)

    res = await Engine(backend, cfg).run([it.request for it in items], on_result, validate_request=validate)
    summary.ok += res.ok
    summary.parse_errors += res.parse_errors
    summary.errors += res.errors
    summary.cached += res.cached
    summary.skipped_budget += res.skipped_budget
    summary.cost_usd += res.cost_usd
    summary.unpriced_calls += res.unpriced_calls
    summary.stopped_by_budget = summary.stopped_by_budget or res.stopped_by_budget


def to_judgment(item: JudgeItem, judge: str, result: CallResult) -> Judgment:
    gen = item.generation
    completion = result.completion
    parsed = result.parsed if result.status == "ok" else None
    if parsed is not None and not isinstance(parsed, ParsedScores):
        raise TypeError(f"unexpected parsed value {type(parsed).__name__}")
    return Judgment(
        id=gen.id, judge=judge, generator=gen.generator, category=gen.category,
        template=TemplateRef(name=item.template.name, hash=item.template.hash),
        status=result.status,
        scores=dict(parsed.scores) if parsed else {a: None for a in item.aspects},
        rationales=dict(parsed.rationales) if parsed else {},
        raw=completion.text if completion is not None else None,
        error=result.error if result.status != "ok" else None,
        usage=completion.usage if completion is not None else Usage(),
        latency_s=round(result.latency_s, 4), cost_usd=result.cost_usd, attempts=result.attempts)


def _write_meta(rd: RunDir, judge: str, templates: JudgeTemplates, judge_system: str | None, max_words: int,
                params: GenParams, config: EngineConfig, backend_options: dict[str, Any],
                command: str | None = None) -> None:
    """Record how this judge was run in run.json (key *names* only, never their values)."""
    meta = rd.read_meta().get("judging")
    judges: dict[str, Any] = dict(meta) if isinstance(meta, dict) else {}
    judges[judge] = {
        **({"command": command} if command else {}),
        "templates": {cat: {"name": t.name, "hash": t.hash, "source": t.source, "upstream": t.upstream}
                      for cat, t in (("regular", templates.regular), ("safety", templates.safety))},
        "judge_system": judge_system, "max_words": max_words,
        "params": params.model_dump(exclude_none=True, exclude={"response_format"}),
        "engine": {"concurrency": config.concurrency, "rpm": config.rpm, "tpm": config.tpm,
                   "max_retries": config.max_retries, "timeout_s": config.timeout_s,
                   "parse_retries": config.parse_retries, "budget_usd": config.budget_usd},
        "backend": {k: v for k, v in backend_options.items() if k in ("base_url", "api_key_env")},
    }
    rd.write_meta("judging", judges)
