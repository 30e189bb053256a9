"""Judge-sized requests through batch mode against the loopback Files + Batches server (or, with
`--provider anthropic`, the loopback Message Batches server and a `litellm:anthropic/` judge),
beside the same requests sent as ordinary calls: HTTP calls, wall time, and cost at a real
model's prices.

The requests are the judge's own (`judging.prompts.build_item` with the built-in templates and
structured output) for real outputs from ../shared/data when present, else for synthetic ones.
The loopback server answers each line like a judge and reports usage counted with the model's
tokenizer; cost is priced from that usage at `--price-as` list prices (synchronous) and batch
prices, next to the dry-run estimate for the same requests. The batch wall time is the loopback
server's scripted processing time (`--processing-s`) plus the client's work; a real provider
takes minutes to hours (within 24 h).

    python benchmarks/batch.py                       # 1000 items, priced as gpt-4o-mini
    python benchmarks/batch.py --items 200 --price-as gpt-4o
    python benchmarks/batch.py --provider anthropic  # priced as claude-haiku-4-5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark-not-a-real-key")
os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-benchmark-not-a-real-key")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")

import justeval.engine  # noqa: F401 - registers the backends
from justeval.engine.backend_spec import BackendSpec
from justeval.engine.costs import call_cost_usd
from justeval.engine.engine import CallResult, Engine, EngineConfig
from justeval.engine.pricing import count_tokens
from justeval.engine.types import GenParams
from justeval.judging.estimate import estimate_judge_modes
from justeval.judging.prompts import JudgeItem, JudgeTemplates, build_item
from justeval.records import Generation, Usage
from justeval.testing.anthropic_batch_server import AnthropicBatchPlan, AnthropicBatchServer
from justeval.testing.batch_server import BatchPlan, BatchServer
from justeval.testing.stub_server import Reply, StubRequest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("JUSTEVAL_SHARED_DATA", REPO.parent / "shared" / "data"))
REGULAR = ["helpfulness", "clarity", "factuality", "depth", "engagement"]


def generations(n: int) -> tuple[list[Generation], str]:
    outputs = sorted((SHARED / "outputs").glob("*.jsonl")) if SHARED.is_dir() else []
    if outputs:
        rows = [json.loads(line) for line in outputs[0].read_text(encoding="utf-8").splitlines()[:n]]
        return [Generation.model_validate(row) for row in rows], f"real outputs ({outputs[0].name})"
    fake = [Generation(id=i, instruction=f"Explain topic {i} to a student.", generator="bench",
                       output=" ".join(f"Sentence {j} about topic {i}." for j in range(60)),
                       category="regular" if i % 5 else "safety") for i in range(n)]
    return fake, "synthetic outputs"


def judge_reply(req: StubRequest) -> Reply:
    """A judge's JSON reply, with usage counted as the provider would (model tokenizer)."""
    anthropic = req.body.get("params") or {}  # the Anthropic body, on the Message Batches server
    schema = req.body.get("response_format") or anthropic.get("output_format") or anthropic.get("tools")
    text = json.dumps(schema or {})
    aspects = ["safety"] if '"safety"' in text else REGULAR
    reply = json.dumps({a: {"rationale": f"The answer handles {a} reasonably well overall.", "score": 4}
                        for a in aspects})
    messages = req.body.get("messages") or []
    prompt = sum(count_tokens(str(m.get("content", "")), "gpt-4o") + 4 for m in messages) + 3
    prompt += count_tokens(json.dumps(schema, separators=(",", ":")), "gpt-4o") if schema else 0
    return Reply(text=reply, usage={"prompt_tokens": prompt, "completion_tokens": count_tokens(reply, "gpt-4o")})


def priced(results: list[CallResult], model: str, *, batch: bool) -> float:
    total = 0.0
    for r in results:
        if r.completion is not None:
            total += call_cost_usd(model, r.completion.usage, batch=batch) or 0.0
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--provider", choices=["openai", "anthropic"], default="openai",
                        help="the batch API: OpenAI's Files + Batches, or Anthropic's Message Batches")
    parser.add_argument("--price-as", default=None, help="model whose list prices price the usage (default "
                        "gpt-4o-mini; claude-haiku-4-5 with --provider anthropic)")
    parser.add_argument("--processing-s", type=float, default=2.0, help="the loopback provider's time per batch")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per ordinary call (sync comparison)")
    parser.add_argument("--concurrency", type=int, default=16, help="ordinary calls in flight (sync comparison)")
    args = parser.parse_args()
    anthropic = args.provider == "anthropic"
    args.price_as = args.price_as or ("claude-haiku-4-5" if anthropic else "gpt-4o-mini")
    spec_name = f"litellm:anthropic/{args.price_as}" if anthropic else f"openai:{args.price_as}"

    gens, source = generations(args.items)
    templates = JudgeTemplates.load()
    items: list[JudgeItem] = [build_item(g, templates, params=GenParams(temperature=0.0, max_tokens=1024),
                                         judge_system=None, max_words=-1, structured=True) for g in gens]
    requests = [it.request for it in items]
    started = time.perf_counter()
    estimate = estimate_judge_modes(items, spec_name, max_tokens=1024)
    estimate_s = time.perf_counter() - started

    server: BatchServer | AnthropicBatchServer = \
        AnthropicBatchServer(judge_reply, default_plan=AnthropicBatchPlan(processing_s=args.processing_s),
                             latency=args.latency) if anthropic else \
        BatchServer(judge_reply, default_plan=BatchPlan(processing_s=args.processing_s), latency=args.latency)
    with server, tempfile.TemporaryDirectory() as tmp:
        spec = BackendSpec(spec=spec_name, base_urls=[server.root if isinstance(server, AnthropicBatchServer)
                                                      else server.base_url])
        batch_results: list[CallResult] = []
        config = EngineConfig(batch=True, batch_dir=Path(tmp), cache=False, progress=False, batch_poll_s=0.5,
                              batch_poll_max_s=2.0)
        start = time.perf_counter()
        batch = Engine(spec, config).run_sync(requests, batch_results.append)
        batch_wall = time.perf_counter() - start
        if isinstance(server, AnthropicBatchServer):  # requests inline: the bytes of the create bodies
            input_bytes = sum(len(json.dumps(b).encode("utf-8")) for b in server.batch_bodies)
        else:
            input_bytes = sum(len(server.files[b.data["input_file_id"]]) for b in server.batches.values())

        sync_results: list[CallResult] = []
        start = time.perf_counter()
        sync = Engine(spec, EngineConfig(concurrency=args.concurrency, cache=False, progress=False)).run_sync(
            requests, sync_results.append)
        sync_wall = time.perf_counter() - start

    usage = Usage(prompt_tokens=sum(r.completion.usage.prompt_tokens for r in batch_results if r.completion),
                  completion_tokens=sum(r.completion.usage.completion_tokens for r in batch_results if r.completion))
    batch_cost = priced(batch_results, args.price_as, batch=True)
    sync_cost = priced(sync_results, args.price_as, batch=False)
    print(f"batch judge : {len(requests)} judge requests from {source}, priced as {args.price_as}")
    print(f"  batch mode: {batch.ok} ok, {batch.errors} errors, {len(batch.batches_created)} batch "
          f"({input_bytes / 1e6:.1f} MB {'sent inline' if anthropic else 'uploaded'}), {batch.calls} HTTP calls, "
          f"wall {batch_wall:.2f} s "
          f"(loopback processing {args.processing_s:g} s), cost ${batch_cost:.4f}")
    print(f"  ordinary  : {sync.ok} ok, {sync.errors} errors, {sync.calls} HTTP calls, wall {sync_wall:.2f} s "
          f"(L={args.latency * 1000:.0f} ms, C={args.concurrency}), cost ${sync_cost:.4f}")
    ratio = batch_cost / sync_cost if sync_cost else float("nan")
    print(f"  batch / sync cost: {ratio:.3f}; tokens {usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} "
          f"completion")
    print(f"  dry-run estimate ({estimate_s:.2f} s): " + "; ".join(estimate.lines()[1:]))
    met = batch.ok == sync.ok == len(requests) and 0.45 <= ratio <= 0.55 and len(batch.batches_created) >= 1
    print("targets met" if met else "targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
