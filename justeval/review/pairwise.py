"""The pairwise stage: every item both runs answered, compared by an LLM judge in both orders
(run A's output first, then run B's first), so a judge's position bias shows up as an
inconsistent verdict instead of tilting the result.

Records (`justeval.review.records.PairwiseJudgment`) go to
`RUN_A/pairwise/<genA>__vs__<genB>.<judge>.jsonl` (or `--out`). A line is appended each time
one order finishes, so nothing paid for is lost; readers take the last line per item (id,
judge, generators, template hash, aspects). Resume: an order is done when its verdict is `ok`
or `parse_error` (a parse error already spent its `--parse-retries`); `error` orders are
asked again. The engine brings limits, retries, cache and budget.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from justeval.engine.engine import CallResult, Engine, RunSummary, stage_engine
from justeval.engine.types import Completion, Request
from justeval.errors import InputError
from justeval.ids import ids_option
from justeval.jsonl import JsonlAppender
from justeval.judging.templates import PAIRWISE_ANSWERS, load_template
from justeval.records import Generation, ItemId, TemplateRef, Usage, id_order
from justeval.review.judge_preferences import latest_pairwise
from justeval.review.pairwise_prompt import ORDERS, build_requests
from justeval.review.records import Combined, Order, OrderVerdict, PairwiseJudgment
from justeval.review.runs import latest_ok
from justeval.review.verdicts import PositionVerdict, combine, parse_reply, to_model
from justeval.rundir import RunDir, holding, safe_name

if TYPE_CHECKING:
    from justeval.settings import PairwiseSettings


@dataclass
class PairwiseSummary:
    """What one pairwise invocation did; the calls themselves are the engine's `engine`."""

    judge: str
    path: Path
    generator_a: str
    generator_b: str
    items: int = 0           # items both runs answered (after --ids / --limit)
    already_done: int = 0    # items with both orders settled before this invocation
    calls: int = 0           # requests planned in this invocation
    engine: RunSummary = field(default_factory=RunSummary)
    retry_parse_errors: bool = False  # this invocation asked again for parse_error orders
    records: list[PairwiseJudgment] = field(default_factory=list)


def _generator(gens: dict[ItemId, Generation], path: Path) -> str:
    if not gens:
        raise InputError(RunDir(path).generations, "no ok generations in this run")
    return Counter(g.generator for g in gens.values()).most_common(1)[0][0]


def default_path(run_a: Path, gen_a: str, gen_b: str, judge: str) -> Path:
    return run_a / "pairwise" / f"{safe_name(gen_a)}__vs__{safe_name(gen_b)}.{safe_name(judge)}.jsonl"


def settle(rec: PairwiseJudgment) -> PairwiseJudgment:
    """Status and combined result from the orders recorded so far."""
    states = [rec.orders[o].status if o in rec.orders else "pending" for o in ORDERS]
    if "error" in states:
        rec.status = "error"
    elif "parse_error" in states:
        rec.status = "parse_error"
    elif "pending" in states:
        rec.status = "pending"
    else:
        rec.status = "ok"
    rec.result, rec.aspect_results = None, {}
    if rec.status == "ok":
        ab, ba = rec.orders["AB"], rec.orders["BA"]
        if ab.preference is not None and ba.preference is not None:
            rec.result = combine(ab.preference, ba.preference)
        rec.aspect_results = {a: combine(ab.aspects[a], ba.aspects[a]) for a in rec.aspects
                              if a in ab.aspects and a in ba.aspects}
    return rec


def to_verdict(result: CallResult, order: Order) -> OrderVerdict:
    comp: Completion | None = result.completion
    parsed = result.parsed if result.status == "ok" else None
    if parsed is not None and not isinstance(parsed, PositionVerdict):
        raise TypeError(f"unexpected parsed value {type(parsed).__name__}")
    return OrderVerdict(
        status=result.status, preference=to_model(parsed.preference, order) if parsed else None,
        aspects={a: to_model(p, order) for a, p in parsed.aspects.items()} if parsed else {},
        rationale=parsed.rationale if parsed else "", raw=comp.text if comp is not None else None,
        error=result.error if result.status != "ok" else None, usage=comp.usage if comp is not None else Usage(),
        latency_s=round(result.latency_s, 4), cost_usd=result.cost_usd, attempts=result.attempts,
        cached=result.cached, endpoint=result.endpoint, batch_id=result.batch_id)


def pairwise_run(run_a: str | Path, run_b: str | Path, settings: PairwiseSettings, *, out: str | Path | None = None,
                 retry_parse_errors: bool = False, command: str | None = None) -> PairwiseSummary:
    """Compare the runs item by item as `settings` say (resumable; see the module docstring)."""
    from justeval.manifest import PairwiseSection, TemplateInfo

    settings = settings.absolute()
    run_a, run_b = Path(run_a), Path(run_b)
    gens_a, gens_b = latest_ok(RunDir(run_a)), latest_ok(RunDir(run_b))
    gen_a, gen_b = _generator(gens_a, run_a), _generator(gens_b, run_b)
    judge = settings.judge.spec
    tpl = load_template(settings.template or "pairwise", answers=PAIRWISE_ANSWERS)
    asp = settings.aspects
    path = Path(out) if out else default_path(run_a, gen_a, gen_b, judge)
    summary = PairwiseSummary(judge=judge, path=path, generator_a=gen_a, generator_b=gen_b,
                              retry_parse_errors=retry_parse_errors)
    wanted = ids_option(settings.ids)
    shared = sorted((i for i in gens_a if i in gens_b and (wanted is None or i in wanted)), key=id_order)
    shared = shared[:settings.limit] if settings.limit is not None else shared
    summary.items = len(shared)
    ref = TemplateRef(name=tpl.name, hash=tpl.hash)
    with holding(RunDir(run_a), True):
        previous = {r.resume_key(): r for r in latest_pairwise(path)} if path.exists() else {}
        keep = {"ok"} if retry_parse_errors else {"ok", "parse_error"}
        records: dict[str, PairwiseJudgment] = {}
        todo: list[tuple[str, Order]] = []
        for item in shared:
            fresh = PairwiseJudgment(id=item, judge=judge, generator_a=gen_a, generator_b=gen_b,
                                     category=gens_a[item].category, template=ref, aspects=asp, status="pending")
            rec = previous.get(fresh.resume_key(), fresh)
            rec.orders = {o: v for o, v in rec.orders.items() if v.status in keep}
            records[str(item)] = settle(rec)
            missing = [o for o in ORDERS if o not in rec.orders]
            todo.extend((str(item), o) for o in missing)
            summary.already_done += not missing
        by_id = {str(i): i for i in shared}
        config = stage_engine(settings.engine, f"pairwise {judge}", RunDir(run_a))
        engine = Engine(settings.judge, config) if todo else None  # one backend per server in base_urls
        structured = engine.backend.supports_response_format() if engine is not None else False
        requests: list[Request] = []
        for key, order in todo:
            item = by_id[key]
            (req,) = build_requests(gens_a[item], gens_b[item], tpl, asp, settings.params, (order,), structured)
            requests.append(req)
        summary.calls = len(requests)
        if engine is not None:
            RunDir(run_a).record("pairwise", PairwiseSection(
                command=command, settings=settings, run_b=str(run_b.resolve()),
                template=TemplateInfo(name=tpl.name, hash=tpl.hash, source=tpl.source, upstream=tpl.upstream)),
                key=str(path))
            summary.engine = _run(engine, requests, records, asp, path)
        summary.records = [records[str(i)] for i in shared]
        return summary


def _run(engine: Engine, requests: list[Request], records: dict[str, PairwiseJudgment], aspects: list[str],
         path: Path) -> RunSummary:
    def validate(completion: Completion) -> PositionVerdict:
        return parse_reply(completion.text, aspects)

    started = time.perf_counter()
    with JsonlAppender(path) as appender:
        def on_result(result: CallResult) -> None:
            key, _, order = result.request.key.rpartition("|")
            rec = records[key]
            rec.orders[order] = to_verdict(result, order)  # type: ignore[index,arg-type]
            appender.write(settle(rec))

        res = engine.run_sync(requests, on_result, validate=validate)
    res.wall_s = time.perf_counter() - started
    return res


def results_of(records: Sequence[PairwiseJudgment]) -> list[Combined]:
    return [r.result for r in records if r.status == "ok" and r.result is not None]
