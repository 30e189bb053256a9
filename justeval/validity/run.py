"""`judge-eval`: measure a judge (or a panel of judges) against human labels.

Files in DIR (`--out`):
- `verdicts.jsonl`: one `VerdictRecord` per judge call, appended as it arrives. Resume: a call
  is done when its latest record (same set, pair and its content digest, judge, mode, template
  hash, call) is `ok` or `parse_error`; `error` calls and calls never sent are asked again, so a
  rerun asks only what is missing.
- `passes.jsonl`: one line per judge per invocation that sent calls (calls, cost, wall time):
  the report's `wall_s` is their sum.
- `settings.json`: the `JudgeEvalSettings` of the latest invocation.
- `report.json`: the report (`JudgeEvalReport`; with several judges and no panel, a
  `ReportFile` holding one report per judge): what `--json` prints, and what the leaderboard
  reads from DIR.

With `--verdicts`, nothing is called: the report is built from recorded verdicts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.engine import CallResult, Engine
from justeval.engine.types import Backend, Completion, Request
from justeval.errors import JustevalError, UsageError
from justeval.jsonl import JsonlAppender, atomic_output, read_records
from justeval.judging.estimate import CostEstimate, expected_completion_tokens
from justeval.judging.parse import ParsedScores
from justeval.judging.templates import PAIRWISE_ANSWERS, SCORE_ANSWERS, JudgeTemplate, load_template
from justeval.records import TemplateRef, Usage
from justeval.review.verdicts import PositionVerdict
from justeval.validity import prompts
from justeval.validity.recorded import RecordedRun, load_recorded
from justeval.validity.records import (
    ABSOLUTE_CALLS,
    PAIRWISE_CALLS,
    Call,
    JudgeEvalReport,
    LabelledPair,
    ReportFile,
    VerdictRecord,
)
from justeval.validity.report import (
    ItemScores,
    ItemVerdicts,
    RecordIndex,
    Selector,
    absolute_scores,
    absolute_verdicts,
    build_report,
    cost_of,
    pairwise_verdicts,
    panel_alpha,
    panel_mean_scores,
    panel_verdicts,
    records_index,
    used_records,
    with_panel,
)
from justeval.validity.sets import RAW_GITHUB, LabelledSet, load_set
from justeval.validity.settings import SETTINGS_FILE, JudgeEvalSettings

VERDICTS_FILE = "verdicts.jsonl"
PASSES_FILE = "passes.jsonl"
REPORT_FILE = "report.json"


@dataclass
class JudgePass:
    """What one judge's calls did in this invocation (or, in a dry run, would do)."""

    judge: str
    pairs: int = 0
    already_done: int = 0      # calls settled before this invocation
    calls: int = 0             # calls planned now
    ok: int = 0
    parse_errors: int = 0
    errors: int = 0
    cached: int = 0
    skipped_budget: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    stopped_by_budget: bool = False
    wall_s: float = 0.0
    first_error: str | None = None  # why the first failed call failed (a dead server says so at once)
    estimate: CostEstimate | None = None


@dataclass
class JudgeEvalResult:
    settings: JudgeEvalSettings
    set: LabelledSet
    out: Path | None
    reports: list[JudgeEvalReport] = field(default_factory=list)
    """The headline report(s): one per judge or recorded run, or the panel's (members inside)."""
    passes: list[JudgePass] = field(default_factory=list)
    dry_run: bool = False

    def document(self) -> JudgeEvalReport | ReportFile:
        """What `--json` prints and `report.json` holds: the one report, or all of them."""
        return self.reports[0] if len(self.reports) == 1 else ReportFile(reports=self.reports)


def load_labelled_set(settings: JudgeEvalSettings, raw_base: str = RAW_GITHUB) -> LabelledSet:
    """The whole set the settings name (before `--limit` / `--sample`)."""
    if settings.key is not None:
        from justeval.validity.review_set import load_review_set

        return load_review_set(settings.set, settings.key)
    return load_set(settings.set[0], raw_base=raw_base)


def judge_eval(settings: JudgeEvalSettings, out: str | Path | None, *, dry_run: bool = False,
               raw_base: str = RAW_GITHUB) -> JudgeEvalResult:
    """Measure the judge(s) of `settings` on its set (see the module docstring)."""
    full = load_labelled_set(settings, raw_base)
    chosen = full.select(limit=settings.limit, sample=settings.sample, seed=settings.seed)
    out_dir = Path(out) if out is not None else None
    if settings.verdicts:
        result = JudgeEvalResult(settings=settings, set=chosen, out=out_dir,
                                 reports=_recorded_reports(settings, full, chosen))
        if out_dir is not None:
            _write_report(out_dir, result)
        return result
    if out_dir is None:
        raise UsageError("judge-eval needs --out DIR for its verdicts (resumable) and report")
    template = load_template(settings.template or ("pairwise" if settings.mode == "pairwise" else "score_multi"),
                             answers=PAIRWISE_ANSWERS if settings.mode == "pairwise" else SCORE_ANSWERS)
    aspects = prompts.absolute_aspects(template) if settings.mode == "absolute" else []
    if settings.aspect is not None and settings.aspect not in aspects:
        raise UsageError(f"--aspect {settings.aspect!r} is not scored by template {template.name} "
                         f"(it scores {', '.join(aspects)})")
    index = _existing(out_dir / VERDICTS_FILE)
    result = JudgeEvalResult(settings=settings, set=chosen, out=out_dir, dry_run=dry_run)
    plans = [(spec, _todo(index, _selector(chosen, spec, settings, template), chosen.pairs, settings))
             for spec in settings.judges]
    if dry_run:
        result.passes = [_estimate(spec, todo, chosen, template, aspects, settings) for spec, todo in plans]
        return result
    _write_settings(out_dir, settings)
    spent = 0.0
    for spec, todo in plans:
        budget = settings.engine.budget_usd
        remaining = None if budget is None else max(0.0, budget - spent)
        run = _JudgeRun(spec, chosen, template, aspects, settings, out_dir, index, remaining)
        done = run.execute(todo)
        spent += done.cost_usd
        result.passes.append(done)
    result.reports = _live_reports(settings, chosen, template, index, out_dir)
    _write_report(out_dir, result)
    return result


# -- what to ask ---------------------------------------------------------------------------------


def _calls(settings: JudgeEvalSettings) -> tuple[Call, Call]:
    return PAIRWISE_CALLS if settings.mode == "pairwise" else ABSOLUTE_CALLS


def _selector(lset: LabelledSet, spec: BackendSpec, settings: JudgeEvalSettings, template: JudgeTemplate) -> Selector:
    return Selector(set=lset.name, judge=spec.spec, mode=settings.mode, template_hash=template.hash)


def _existing(path: Path) -> RecordIndex:
    return records_index(read_records(path, VerdictRecord)) if path.exists() else {}


def _todo(index: RecordIndex, sel: Selector, pairs: Sequence[LabelledPair],
          settings: JudgeEvalSettings) -> list[tuple[LabelledPair, Call]]:
    keep = {"ok"} if settings.retry_parse_errors else {"ok", "parse_error"}
    return [(p, c) for p in pairs for c in _calls(settings)
            if (r := index.get(sel.key(p, c))) is None or r.status not in keep]


def _requests(todo: list[tuple[LabelledPair, Call]], template: JudgeTemplate, settings: JudgeEvalSettings,
              structured: bool) -> list[Request]:
    build = prompts.pairwise_request if settings.mode == "pairwise" else prompts.absolute_request
    params = settings.params.model_copy(
        update={"response_format": prompts.response_format(template, settings.mode, structured)})
    return [build(pair, template, call, params) for pair, call in todo]


def _estimate(spec: BackendSpec, todo: list[tuple[LabelledPair, Call]], lset: LabelledSet, template: JudgeTemplate,
              aspects: list[str], settings: JudgeEvalSettings) -> JudgePass:
    """Tokens and cost of the calls a run would send, from the very requests it would build."""
    from justeval.engine.pricing import count_tokens, estimate_cost

    try:
        backend: Backend | None = spec.build(timeout_s=settings.engine.timeout_s)
    except JustevalError:
        backend = None  # no key yet: assume structured output and the list price, as `judge --dry-run` does
    structured = backend.supports_response_format() if backend is not None else True
    prompt = 0
    schemas: dict[str, int] = {}
    for req in _requests(todo, template, settings, structured):
        prompt += sum(count_tokens(m.content, spec.spec) + 4 for m in req.messages) + 3
        if req.params.response_format is not None:
            text = json.dumps(req.params.response_format, separators=(",", ":"))
            prompt += schemas.setdefault(text, count_tokens(text, spec.spec))
    completion = len(todo) * expected_completion_tokens(template, len(aspects), settings.params.max_tokens)
    if not todo:
        cost: float | None = 0.0
    elif backend is not None:
        cost = backend.cost_usd(Usage(prompt_tokens=prompt, completion_tokens=completion))
    else:
        cost = estimate_cost(spec.spec, prompt, completion)
    calls_per_pair = len(_calls(settings))
    return JudgePass(judge=spec.spec, pairs=len(lset.pairs), calls=len(todo),
                     already_done=len(lset.pairs) * calls_per_pair - len(todo),
                     estimate=CostEstimate(calls=len(todo), prompt_tokens=prompt, completion_tokens=completion,
                                           cost_usd=cost))


# -- asking --------------------------------------------------------------------------------------


class _JudgeRun:
    """One judge's engine pass: requests built, replies read, each record appended at once."""

    def __init__(self, spec: BackendSpec, lset: LabelledSet, template: JudgeTemplate, aspects: list[str],
                 settings: JudgeEvalSettings, out: Path, index: RecordIndex, budget: float | None) -> None:
        self.spec, self.lset, self.template, self.aspects = spec, lset, template, aspects
        self.settings, self.out, self.index, self.budget = settings, out, index, budget
        self.by_id = {p.id: p for p in lset.pairs}

    def execute(self, todo: list[tuple[LabelledPair, Call]]) -> JudgePass:
        calls = len(_calls(self.settings))
        summary = JudgePass(judge=self.spec.spec, pairs=len(self.lset.pairs), calls=len(todo),
                            already_done=len(self.lset.pairs) * calls - len(todo))
        if not todo:
            return summary
        config = self.settings.engine.but(description=f"judge-eval {self.spec.spec}", budget_usd=self.budget,
                                          batch_dir=self.out)
        engine = Engine(self.spec, config)  # one backend per server in base_urls
        structured = engine.backend.supports_response_format()
        requests = _requests(todo, self.template, self.settings, structured)
        started = time.perf_counter()
        with JsonlAppender(self.out / VERDICTS_FILE) as appender:
            def on_result(result: CallResult) -> None:
                if result.status == "error" and summary.first_error is None:
                    summary.first_error = result.error
                record = self._record(result)
                self.index[record.key()] = record
                appender.write(record)

            res = engine.run_sync(requests, on_result, validate=self._validate)
        summary.wall_s = time.perf_counter() - started
        summary.ok, summary.parse_errors, summary.errors = res.ok, res.parse_errors, res.errors
        summary.cached, summary.skipped_budget, summary.cost_usd = res.cached, res.skipped_budget, res.cost_usd
        summary.unpriced_calls, summary.stopped_by_budget = res.unpriced_calls, res.stopped_by_budget
        with JsonlAppender(self.out / PASSES_FILE) as passes:
            passes.write({"set": self.lset.name, "judge": self.spec.spec, "mode": self.settings.mode,
                          "template_hash": self.template.hash, "calls": summary.calls, "ok": summary.ok,
                          "parse_errors": summary.parse_errors, "errors": summary.errors, "cached": summary.cached,
                          "skipped_budget": summary.skipped_budget, "cost_usd": summary.cost_usd,
                          "unpriced_calls": summary.unpriced_calls, "wall_s": round(summary.wall_s, 4)})
        return summary

    def _validate(self, completion: Completion) -> PositionVerdict | ParsedScores:
        if self.settings.mode == "pairwise":
            return prompts.read_pairwise(completion.text)
        return prompts.read_absolute(completion.text, self.aspects)

    def _record(self, result: CallResult) -> VerdictRecord:
        pair_id, call = prompts.split_key(result.request.key)
        pair = self.by_id[pair_id]
        comp = result.completion
        parsed = result.parsed if result.status == "ok" else None
        record = VerdictRecord(
            set=self.lset.name, id=pair.id, pair_digest=pair.digest, judge=self.spec.spec, mode=self.settings.mode,
            template=TemplateRef(name=self.template.name, hash=self.template.hash), call=call, status=result.status,
            raw=comp.text if comp is not None else None, error=result.error if result.status != "ok" else None,
            usage=comp.usage if comp is not None else Usage(), latency_s=round(result.latency_s, 4),
            cost_usd=result.cost_usd, attempts=result.attempts, cached=result.cached)
        if isinstance(parsed, PositionVerdict):
            record.verdict = prompts.to_label(parsed.preference, call)
            record.rationale = parsed.rationale
        elif isinstance(parsed, ParsedScores):
            record.scores, record.rationales = dict(parsed.scores), dict(parsed.rationales)
        return record


# -- reporting -----------------------------------------------------------------------------------


def _walls(out: Path) -> dict[tuple[str, str, str, str], float]:
    path = out / PASSES_FILE
    walls: dict[tuple[str, str, str, str], float] = {}
    if not path.exists():
        return walls
    from justeval.jsonl import iter_json_lines

    for _line, obj in iter_json_lines(path):
        key = (str(obj.get("set")), str(obj.get("judge")), str(obj.get("mode")), str(obj.get("template_hash")))
        walls[key] = walls.get(key, 0.0) + float(obj.get("wall_s") or 0.0)
    return walls


@dataclass
class _Member:
    report: JudgeEvalReport
    verdicts: ItemVerdicts
    scores: ItemScores | None


def _member(settings: JudgeEvalSettings, lset: LabelledSet, sel: Selector, template: TemplateRef | None,
            index: RecordIndex, wall: float | None) -> _Member:
    scores = None
    if sel.mode == "pairwise":
        verdicts = pairwise_verdicts(index, sel, lset.pairs)
    else:
        scores = absolute_scores(index, sel, lset.pairs, settings.aspect)
        verdicts = absolute_verdicts(scores, settings.tie_margin)
    cost, unpriced = cost_of(used_records(index, sel, lset.pairs))
    absolute = sel.mode == "absolute"
    report = build_report(lset, sel.judge, sel.mode, verdicts, orders=1 if absolute else 2, positional=not absolute,
                          template=template, aspect=settings.aspect if absolute else None,
                          tie_margin=settings.tie_margin if absolute else None, cost_usd=cost,
                          unpriced_calls=unpriced, wall_s=wall, resamples=settings.resamples, seed=settings.seed)
    return _Member(report, verdicts, scores)


def _live_reports(settings: JudgeEvalSettings, lset: LabelledSet, template: JudgeTemplate, index: RecordIndex,
                  out: Path) -> list[JudgeEvalReport]:
    """One report per judge; with `--panel`, the panel's alone (its judges inside as members)."""
    ref = TemplateRef(name=template.name, hash=template.hash)
    walls = _walls(out)
    members = []
    for spec in settings.judges:
        sel = _selector(lset, spec, settings, template)
        members.append(_member(settings, lset, sel, ref, index,
                               walls.get((sel.set, sel.judge, sel.mode, sel.template_hash))))
    if settings.panel is None:
        return [m.report for m in members]
    method = settings.panel
    if settings.mode == "absolute" and method == "mean":
        verdicts = panel_mean_scores([m.scores or {} for m in members], settings.tie_margin)
    else:
        verdicts = panel_verdicts([m.verdicts for m in members], method, settings.tie_margin)
    absolute = settings.mode == "absolute"
    costs = [m.report.cost_usd for m in members]
    known_walls = [m.report.wall_s for m in members if m.report.wall_s is not None]
    report = build_report(
        lset, f"panel:{method}", settings.mode, verdicts, orders=1 if absolute else 2, positional=not absolute,
        template=ref, aspect=settings.aspect, tie_margin=settings.tie_margin if absolute or method == "mean" else None,
        cost_usd=None if all(c is None for c in costs) else sum(c or 0.0 for c in costs),
        unpriced_calls=sum(m.report.unpriced_calls for m in members),
        wall_s=sum(known_walls) if known_walls else None, resamples=settings.resamples, seed=settings.seed)
    return [with_panel(report, method, [s.spec for s in settings.judges], panel_alpha([m.verdicts for m in members]),
                       [m.report for m in members])]


def _recorded_reports(settings: JudgeEvalSettings, full: LabelledSet, chosen: LabelledSet) -> list[JudgeEvalReport]:
    """Reports from recorded verdicts: PandaLM's and LLMBar's files, or our own records."""
    wanted = {p.id for p in chosen.pairs}
    reports = []
    for ref in settings.verdicts:
        loaded = load_recorded(ref, full)
        if isinstance(loaded, RecordedRun):
            measured = LabelledSet(name=chosen.name, pairs=[p for p in chosen.pairs if p.id in loaded.verdicts],
                                   annotators=chosen.annotators, sources=[*chosen.sources, loaded.source])
            reports.append(build_report(measured, loaded.judge, "pairwise", loaded.verdicts, orders=loaded.orders,
                                        positional=True, resamples=settings.resamples, seed=settings.seed))
            continue
        index = records_index(loaded)
        groups = dict.fromkeys((r.judge, r.mode, r.template.name, r.template.hash) for r in loaded
                               if r.id in wanted and r.set == chosen.name)
        if not groups:
            raise UsageError(f"--verdicts {ref}: no records for set {chosen.name} (the records name the set they "
                             f"measured: {', '.join(sorted({r.set for r in loaded}))})")
        for judge, mode, name, digest in groups:
            sel = Selector(set=chosen.name, judge=judge, mode=mode, template_hash=digest)
            reports.append(_member(settings, chosen, sel, TemplateRef(name=name, hash=digest), index, None).report)
    return reports


def _write_settings(out: Path, settings: JudgeEvalSettings) -> None:
    with atomic_output(out / SETTINGS_FILE) as fh:
        fh.write(settings.model_dump_json(indent=2) + "\n")


def _write_report(out: Path, result: JudgeEvalResult) -> None:
    with atomic_output(out / REPORT_FILE) as fh:
        fh.write(document_json(result) + "\n")


def document_json(result: JudgeEvalResult) -> str:
    doc: Any = result.document()
    return str(doc.model_dump_json(indent=2))
