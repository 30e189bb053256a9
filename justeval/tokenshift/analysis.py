"""The token-shift stage: rank every token of a run's outputs under a base model, appending one
record per output to `token_shift.jsonl` as it is scored.

Resume: a rerun scores only the selected items without an ok record for the current output;
failed items are tried again (readers take the last line per id). A file holds one analysis
(one base, template, tokenizer, top-k...): rerunning it with other settings is refused rather
than mixing them, and `--out` gives the new analysis its own place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from justeval.errors import InputError, JustevalError, UsageError, warn
from justeval.ids import id_order
from justeval.instructions.select import select
from justeval.jsonl import JsonlAppender, read_records
from justeval.records import Generation, Instruction, ItemId
from justeval.rundir import RunDir
from justeval.tokenshift.records import (
    RECORDS_FILE,
    Alternative,
    PositionDetail,
    ShiftCounts,
    TemplateRef,
    TokenShiftRecord,
    categorize,
)
from justeval.tokenshift.settings import TokenShiftSettings
from justeval.tokenshift.templates import PromptTemplate, load_template
from justeval.tokenshift.tokens import Tokens, load_tokens


@dataclass
class RunShift:
    """What one run's analysis did; `ids` are the selected items the report covers."""

    run: Path
    path: Path
    generator: str
    ids: list[ItemId] = field(default_factory=list)
    already_done: int = 0
    to_do: int = 0
    ok: int = 0
    errors: int = 0
    tokens: int = 0
    cached: int = 0
    not_sent: int = 0
    """Calls not sent because the budget was reached: a rerun asks again."""
    wall_s: float = 0.0
    error_ids: list[ItemId] = field(default_factory=list)
    first_error: str | None = None


@dataclass
class Job:
    """One output to score: its generation, tags, and the token ids of prompt(s) and output."""

    gen: Generation
    item: Instruction
    prompt_text: str
    prompt: list[int]
    output: list[int]
    offsets: list[tuple[int, int]] | None
    aligned_prompt: list[int] | None = None
    truncated_from: int | None = None

    @property
    def key(self) -> str:
        return str(self.gen.id)


class Plan:
    """Everything an analysis needs before it reads a run: templates, tokenizer(s), scorers, and
    the `analysis` id stamped on every record."""

    def __init__(self, settings: TokenShiftSettings) -> None:
        self.settings = settings
        self.template = load_template(settings.template)
        self.aligned_template: PromptTemplate | None = (
            load_template(settings.aligned_template, chat_allowed=True) if settings.aligned is not None else None)
        self.tokens: Tokens = load_tokens(settings.tokenizer or settings.base.model)
        self.aligned_tokens = self.tokens
        aligned = settings.aligned
        if aligned is not None and (settings.kind == "hf" or settings.aligned_tokenizer or (
                self.aligned_template is not None and self.aligned_template.is_chat)):
            # its own tokenizer: for its chat template, and to check it shares the base's vocabulary
            self.aligned_tokens = load_tokens(settings.aligned_tokenizer or aligned.model)
        self.max_length: int | None = None
        if settings.kind == "hf":  # read from the configs: the weights load only when something is left to score
            models = [settings.base.model, *([aligned.model] if aligned is not None else [])]
            limits = [n for n in (context_length(m) for m in models) if n]
            self.max_length = min(limits) if limits else None
        if self.aligned_template is not None and self.aligned_template.is_chat:  # identified by its own text
            chat = getattr(self.aligned_tokens.tokenizer, "chat_template", None)
            self.aligned_template = dataclasses.replace(self.aligned_template, text=str(chat or ""))
        if settings.aligned is not None and not self.tokens.same_vocabulary(self.aligned_tokens):
            raise UsageError(f"the tokenizers of {settings.base.spec} and {settings.aligned.spec} differ: their "
                             "positions cannot be compared (token-shift needs a base and an aligned model that share "
                             "a vocabulary)")
        self.identity = {
            "kind": settings.kind, "base": settings.base.spec,
            "aligned": settings.aligned.spec if settings.aligned else None,
            "template": self.template.sha256,
            "aligned_template": self.aligned_template.sha256 if self.aligned_template else None,
            "top_k": settings.top_k, "tokenizer": self.tokens.sha256,
            "dtype": settings.dtype if settings.kind == "hf" else None,
            "prompt_logprobs": settings.prompt_logprobs if settings.kind == "openai" else None,
        }
        canonical = json.dumps(self.identity, sort_keys=True, separators=(",", ":"))
        self.analysis = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def stamp(self) -> dict[str, Any]:
        """The record fields that say what produced it."""
        s = self.settings
        aligned = self.aligned_template
        return {"analysis": self.analysis, "base": s.base.spec, "aligned": s.aligned.spec if s.aligned else None,
                "measured": "aligned_top1" if s.aligned else "output",
                "template": TemplateRef(name=self.template.name, sha256=self.template.sha256),
                "aligned_template": TemplateRef(name=aligned.name, sha256=aligned.sha256) if aligned else None,
                "tokenizer": self.tokens.ref, "top_k": s.top_k}

    def describe(self) -> str:
        """The settings in a few words, for messages."""
        s = self.settings
        extra = f", aligned {s.aligned.spec}" if s.aligned else ""
        return f"base {s.base.spec}{extra}, template {self.template.name}, top-k {s.top_k}"


def context_length(model: str) -> int | None:
    """The positions a model holds (its config's `max_position_embeddings`), read without the weights."""
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model)
    except (ImportError, OSError, ValueError) as exc:
        raise JustevalError(f"cannot load hf model {model!r}: {exc}".splitlines()[0]) from exc
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    return int(limit) if isinstance(limit, int) and limit > 0 else None


def token_shift(runs: Sequence[str | Path], settings: TokenShiftSettings) -> list[RunShift]:
    """Analyse each run's ok outputs (resumable); returns what was done per run."""
    if not runs:
        raise UsageError("token-shift needs at least one run directory")
    from justeval.ids import ids_option

    ids_option(settings.selection.ids)  # a bad --ids is refused before any tokenizer or model is loaded
    plan = Plan(settings)
    paths = _record_paths([Path(r) for r in runs], settings.out)
    return [_analyse_run(run, path, plan) for run, path in paths]


def output_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_token_shift(path: str | Path) -> dict[ItemId, TokenShiftRecord]:
    """id -> the latest record in a `token_shift.jsonl` (append-only: the last line per id wins)."""
    path = Path(path)
    if not path.exists():
        return {}
    return {r.id: r for r in read_records(path, TokenShiftRecord)}


# -- one run ---------------------------------------------------------------------------------
def _record_paths(runs: list[Path], out: Path | None) -> list[tuple[Path, Path]]:
    if out is None:
        return [(run, run / RECORDS_FILE) for run in runs]
    if len(runs) == 1:
        return [(runs[0], out / RECORDS_FILE)]
    names = [run.resolve().name for run in runs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"with --out and several runs each run gets OUT/<run directory name>; {twice[0]!r} is the "
                         "name of more than one run")
    return [(run, out / name / RECORDS_FILE) for run, name in zip(runs, names, strict=True)]


def _analyse_run(run: Path, path: Path, plan: Plan) -> RunShift:
    rd = RunDir(run)
    if not rd.generations.exists():
        raise InputError(rd.generations, "no generations in this run directory (run `justeval generate` or "
                         "`justeval import` first)")
    gens = rd.ok_generations()
    if not gens:
        raise InputError(rd.generations, "no ok outputs to analyse")
    source, tags = _instruction_tags(rd, plan.settings.instructions)
    items = [_item(g, tags.get(i)) for i, g in sorted(gens.items(), key=lambda kv: id_order(kv[0]))]
    chosen = select(items, plan.settings.selection, source=source)
    generators = sorted({gens[i.id].generator for i in chosen}) or sorted({g.generator for g in gens.values()})
    summary = RunShift(run=run, path=path, generator=", ".join(generators), ids=[i.id for i in chosen])

    existing = read_token_shift(path)
    other = next((r for r in existing.values() if r.analysis != plan.analysis), None)
    if other is not None:
        raise JustevalError(f"{path} holds a token-shift analysis with other settings (base {other.base}, template "
                            f"{other.template.name}, top-k {other.top_k}; now {plan.describe()}): use --out DIR "
                            "for the new analysis")
    done = {i for i, r in existing.items()
            if r.ok and i in gens and r.output_sha256 == output_hash(gens[i].output or "")}
    todo = [item for item in chosen if item.id not in done]
    summary.already_done, summary.to_do = len(chosen) - len(todo), len(todo)
    if not todo:
        return summary

    started = time.perf_counter()
    with JsonlAppender(path) as appender:

        def write(record: TokenShiftRecord) -> None:
            appender.write(record)
            if record.ok:
                summary.ok += 1
                summary.tokens += record.tokens
                summary.cached += record.cached
            else:
                summary.errors += 1
                summary.error_ids.append(record.id)
                summary.first_error = summary.first_error or record.error

        jobs = []
        for item in todo:
            job = _job(gens[item.id], item, plan)
            if isinstance(job, str):
                write(_error_record(gens[item.id], item, plan, job))
            else:
                jobs.append(job)
        if plan.settings.kind == "hf":
            _score_hf(jobs, plan, write)
        else:
            summary.not_sent = _score_server(jobs, plan, write)
    summary.wall_s = time.perf_counter() - started
    return summary


def _instruction_tags(rd: RunDir, override: str | None) -> tuple[str | None, dict[ItemId, Instruction]]:
    """The instruction set's items by id, from `--instructions` or the source run.json records
    (a recorded one that cannot be read is a warning: the records' own category still groups)."""
    from justeval.instructions import load_instructions

    if override is not None:
        return override, {i.id: i for i in load_instructions(override)}
    source = rd.read_manifest().instruction_source()
    if source is None:
        return None, {}
    try:
        return source, {i.id: i for i in load_instructions(source)}
    except JustevalError as exc:
        warn(f"{rd.path}: the instructions' tags were not read from {source} ({exc}); grouping by the records' own "
             "category only (--instructions names another source)")
        return None, {}


def _item(gen: Generation, tagged: Instruction | None) -> Instruction:
    """The item as selection and grouping see it: the run's own text, the source's tags where the text matches."""
    if tagged is not None and tagged.instruction == gen.instruction:
        return tagged
    return Instruction(id=gen.id, instruction=gen.instruction, dataset=gen.dataset, category=gen.category)


def _job(gen: Generation, item: Instruction, plan: Plan) -> Job | str:
    """The token ids to score, or why there are none (the reason becomes an error record)."""
    prompt_text, prompt = plan.tokens.prompt_ids(plan.template, gen.instruction)
    aligned_prompt = (plan.aligned_tokens.prompt_ids(plan.aligned_template, gen.instruction)[1]
                      if plan.aligned_template is not None else None)
    output, offsets = plan.tokens.output_ids(gen.output or "")
    if not prompt or (aligned_prompt is not None and not aligned_prompt):
        return "the prompt has no tokens: nothing predicts the output's first token"
    job = Job(gen=gen, item=item, prompt_text=prompt_text, prompt=prompt, output=output, offsets=offsets,
              aligned_prompt=aligned_prompt)
    if plan.max_length is not None:
        longest = max(len(prompt), len(aligned_prompt or []))
        room = plan.max_length - longest
        if room <= 0:
            return f"the prompt ({longest} tokens) fills the model's context of {plan.max_length} tokens"
        if len(output) > room:
            job.truncated_from = len(output)
            job.output = output[:room]
            job.offsets = offsets[:room] if offsets is not None else None
    return job


def _error_record(gen: Generation, item: Instruction, plan: Plan, error: str) -> TokenShiftRecord:
    return TokenShiftRecord(id=gen.id, generator=gen.generator, category=item.category, dataset=item.dataset,
                            task_types=item.task_types, status="error", error=error,
                            output_sha256=output_hash(gen.output or ""), **plan.stamp())


Target = tuple[str, int | None]  # the measured token at a position: its text, and its id where known


def _same(a: Target, b: Target) -> bool:
    """Two measured tokens are the same: by id where both have one, else by text."""
    return a[1] == b[1] if a[1] is not None and b[1] is not None else a[0] == b[0]


def _record(job: Job, plan: Plan, ranks: list[int | None], targets: list[Target], own: list[Target],
            top: Callable[[int], list[Alternative]], *, latency_s: float | None = None,
            cached: bool = False) -> TokenShiftRecord:
    """The ok record of one scored output. `targets` are the measured tokens, `own` the output's
    tokens as the scorer names them; `top(j)` is asked only for non-unshifted positions. The
    per-position parts are built unvalidated (`model_construct`): they are this module's own
    typed values, and validating tens of thousands of them costs more than the forward pass."""
    counts = ShiftCounts()
    shifted: list[PositionDetail] = []
    marginal: list[PositionDetail] = []
    aligned = plan.settings.aligned is not None
    for j, rank in enumerate(ranks):
        category = categorize(rank)
        setattr(counts, category, getattr(counts, category) + 1)
        if category == "unshifted":
            continue
        token, token_id = targets[j]
        output_token = own[j][0] if aligned and not _same(targets[j], own[j]) else None
        detail = PositionDetail.model_construct(position=j, token=token, token_id=token_id, rank=rank,
                                                output_token=output_token, top=top(j))
        (shifted if category == "shifted" else marginal).append(detail)
    agreement = sum(_same(t, o) for t, o in zip(targets, own, strict=True)) if aligned else None
    item = job.item
    return TokenShiftRecord(
        id=job.gen.id, generator=job.gen.generator, category=item.category, dataset=item.dataset,
        task_types=item.task_types, output_sha256=output_hash(job.gen.output or ""), tokens=len(ranks),
        truncated_from=job.truncated_from, counts=counts, unshifted=counts.ratio("unshifted"),
        marginal=counts.ratio("marginal"), shifted=counts.ratio("shifted"), ranks=ranks, offsets=job.offsets,
        shifted_tokens=shifted, marginal_tokens=marginal, aligned_agreement=agreement,
        latency_s=None if latency_s is None else round(latency_s, 4), cached=cached, **plan.stamp())


# -- local forward pass ----------------------------------------------------------------------
def _batches(jobs: list[Job], budget: int) -> list[list[Job]]:
    """Jobs of similar length together, each batch at most `budget` padded tokens (or one job)."""
    def length(job: Job) -> int:
        return max(len(job.prompt), len(job.aligned_prompt or [])) + len(job.output)

    batches: list[list[Job]] = []
    current: list[Job] = []
    for job in sorted(jobs, key=length):
        if current and length(job) * (len(current) + 1) > budget:
            batches.append(current)
            current = []
        current.append(job)
    if current:
        batches.append(current)
    return batches


def _score_hf(jobs: list[Job], plan: Plan, write: Callable[[TokenShiftRecord], None]) -> None:
    from justeval.engine.progress import make_progress

    s = plan.settings
    from justeval.tokenshift.hf_scorer import hf_scorer

    base = hf_scorer(s.base.model, s.device, s.dtype)
    aligned = hf_scorer(s.aligned.model, s.device, s.dtype) if s.aligned is not None else None
    tokens = plan.tokens
    with make_progress(s.engine.progress, f"token-shift {s.base.spec}", len(jobs)) as progress:
        for batch in _batches(jobs, s.batch_tokens):
            started = time.perf_counter()
            try:
                if aligned is not None:
                    targets = aligned.top1([j.aligned_prompt or [] for j in batch], [j.output for j in batch])
                else:
                    targets = [j.output for j in batch]
                scored = base.rank([j.prompt for j in batch], [j.output for j in batch], targets, s.top_k)
            except Exception as exc:  # one failed pass (memory, a model bug) must not lose the rest of the run
                for job in batch:
                    write(_error_record(job.gen, job.item, plan, f"scoring failed: {type(exc).__name__}: {exc}"))
                    progress.advance(failed=True)
                continue
            latency = (time.perf_counter() - started) / len(batch)
            for job, target_ids, result in zip(batch, targets, scored, strict=True):
                def top(j: int, result: Any = result) -> list[Alternative]:
                    return [Alternative.model_construct(token=tokens.piece(i), token_id=i, logprob=lp)
                            for i, lp in zip(result.top_ids[j], result.top_logprobs[j], strict=True)]

                write(_record(job, plan, list(result.ranks), [(tokens.piece(t), t) for t in target_ids],
                              [(tokens.piece(o), o) for o in job.output], top, latency_s=latency))
                progress.advance()


# -- a completions server --------------------------------------------------------------------
def _score_server(jobs: list[Job], plan: Plan, write: Callable[[TokenShiftRecord], None]) -> int:
    """Score through the engine (aligned pass first where asked); returns the calls not sent (budget)."""
    from justeval.engine.backend_spec import BackendSpec
    from justeval.engine.engine import CallResult, Engine
    from justeval.tokenshift import server_scorer as sv

    s = plan.settings
    by_key = {job.key: job for job in jobs}
    aligned_top: dict[str, list[Target]] = {}
    aligned_own: dict[str, list[Target]] = {}
    failed: dict[str, str] = {}
    not_sent = 0

    def run(spec: BackendSpec, prompts: dict[str, tuple[str, list[int]]], on_ok: Callable[[Job, CallResult], None],
            label: str) -> None:
        nonlocal not_sent
        server = spec.base_url or f"the server of {spec.spec}"
        config = s.engine.but(description=f"token-shift {spec.spec}{label}")
        engine = Engine(spec.with_(endpoint="completions"), config)  # one backend per server in base_urls
        requests = [sv.scoring_request(key, text, ids, s.top_k, prompt_logprobs=s.prompt_logprobs)
                    for key, (text, ids) in prompts.items()]

        def on_result(result: CallResult) -> None:
            job = by_key[result.request.key]
            if result.status == "parse_error" and (result.error or "").startswith(sv.NO_LOGPROBS):
                raise sv.unsupported_error(server, result.error or "")
            if result.status == "error" and sv.refused_option(result.error):
                raise sv.refused_error(server, result.error or "")
            if result.status != "ok" or result.completion is None:
                failed[job.key] = f"{spec.spec}: {result.error or result.status}"
                return
            on_ok(job, result)

        validate: Any = sv.validator({k: len(ids) for k, (_, ids) in prompts.items()},
                                     prompt_logprobs=s.prompt_logprobs)
        summary = engine.run_sync(requests, on_result, validate_request=validate)
        not_sent += summary.skipped_budget

    def view_of(result: CallResult, prompt: list[int], output: list[int]) -> list[sv.ServerPosition]:
        assert result.completion is not None
        return sv.positions(result.completion, [*prompt, *output], prompt_logprobs=s.prompt_logprobs)[len(prompt):]

    def named(view: list[sv.ServerPosition], output: list[int]) -> list[Target]:
        """The output's own token at each position, as the server named it."""
        return [(p.token or plan.tokens.piece(i), p.token_id) for p, i in zip(view, output, strict=True)]

    if s.aligned is not None:
        aligned_spec = s.aligned

        def on_aligned(job: Job, result: CallResult) -> None:
            view = view_of(result, job.aligned_prompt or [], job.output)
            tops = [p.top1() for p in view]
            if any(t is None for t in tops):
                failed[job.key] = f"{aligned_spec.spec}: the reply lists no candidate at an output position"
                return
            aligned_top[job.key] = [(t.token, t.token_id) for t in tops if t is not None]
            aligned_own[job.key] = named(view, job.output)

        run(aligned_spec, {j.key: (j.prompt_text + (j.gen.output or ""), [*(j.aligned_prompt or []), *j.output])
                        for j in jobs}, on_aligned, " (aligned)")

    def on_base(job: Job, result: CallResult) -> None:
        view = view_of(result, job.prompt, job.output)
        own = aligned_own.get(job.key) or named(view, job.output)
        targets = aligned_top.get(job.key, own)
        ranks = [p.rank_of(token, token_id, s.top_k) for p, (token, token_id) in zip(view, targets, strict=True)]

        def top(j: int) -> list[Alternative]:
            return [Alternative.model_construct(token=c.token, token_id=c.token_id, logprob=round(c.logprob, 4))
                    for c in view[j].top(s.top_k)]

        write(_record(job, plan, ranks, targets, own, top, latency_s=result.latency_s, cached=result.cached))

    wanted = [j for j in jobs if j.key not in failed and (s.aligned is None or j.key in aligned_top)]
    if wanted:
        run(s.base, {j.key: (j.prompt_text + (j.gen.output or ""), [*j.prompt, *j.output]) for j in wanted},
            on_base, "")
    for key, error in failed.items():
        job = by_key[key]
        write(_error_record(job.gen, job.item, plan, error))
    return not_sent
