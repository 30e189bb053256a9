"""How much the token-shift section adds to the published site: `index.html` with and without it,
the side files of per-token data, and the time to publish, on MODELS runs of ITEMS outputs of
TOKENS tokens each with token-shift records (written through the records module: the page reads
records, the analysis is benchmarked by token_shift.py).

Targets: the page grows by its summaries and one status letter per model and item (well under
1 MB at 50 x 1,000), never with the tokens; every side file stays small enough to load at once.

    python benchmarks/token_shift_page.py --models 3 --items 1000 --tokens 300
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from justeval.board.build import build_leaderboard
from justeval.board.publish import publish_site
from justeval.board.tables import Settings
from justeval.board.token_shift_page import section_maker
from justeval.tokenshift.analysis import output_hash
from justeval.tokenshift.records import (
    Alternative,
    PositionDetail,
    ShiftCounts,
    TemplateRef,
    TokenizerRef,
    TokenShiftRecord,
    categorize,
)

WORDS = ["the", "a", "model", "answer", "is", "of", "and", "to", "in", "that", "it", "Sure", "Here", "However",
         "note", "first", "step", "example", "code", "data", "\n", ",", ".", "😀"]


def _run(path: Path, generator: str, items: int, tokens: int, top_k: int, rng: random.Random) -> None:
    path.mkdir(parents=True)
    gens, judgments, records = [], [], []
    for i in range(items):
        pieces = [(" " if j and rng.random() < 0.8 else "") + rng.choice(WORDS) for j in range(tokens)]
        output = "".join(pieces)
        offsets, at = [], 0
        for p in pieces:
            offsets.append((at, at + len(p)))
            at += len(p)
        ranks: list[int | None] = [rng.choice([1] * 14 + [2, 3, 5, 9, None]) for _ in range(tokens)]
        counts = ShiftCounts()
        details: dict[str, list[PositionDetail]] = {"marginal": [], "shifted": []}
        for j, rank in enumerate(ranks):
            cat = categorize(rank)
            setattr(counts, cat, getattr(counts, cat) + 1)
            if cat != "unshifted":
                top = [Alternative(token=rng.choice(WORDS), token_id=k, logprob=-0.3 * (k + 1)) for k in range(top_k)]
                details[cat].append(PositionDetail(position=j, token=pieces[j], token_id=j, rank=rank, top=top))
        records.append(TokenShiftRecord(
            id=i, generator=generator, analysis="bench", base="hf:base", template=TemplateRef(name="urial", sha256="t"),
            tokenizer=TokenizerRef(name="tok", sha256="k"), top_k=top_k, output_sha256=output_hash(output),
            tokens=tokens, counts=counts, unshifted=counts.ratio("unshifted"), marginal=counts.ratio("marginal"),
            shifted=counts.ratio("shifted"), ranks=ranks, offsets=offsets, shifted_tokens=details["shifted"],
            marginal_tokens=details["marginal"]))
        gens.append({"id": i, "instruction": f"question {i}", "output": output, "generator": generator,
                     "dataset": "lima", "category": "regular", "status": "ok"})
        judgments.append({"id": i, "judge": "openai:judge", "generator": generator, "category": "regular",
                          "template": {"name": "score_multi", "hash": "h"}, "status": "ok",
                          "scores": {a: rng.randint(1, 5) for a in ("helpfulness", "clarity", "factuality", "depth",
                                                                     "engagement")},
                          "rationales": {"helpfulness": "fine"}})
    for name, rows in (("generations.jsonl", gens), ("judgments.jsonl", judgments)):
        (path / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (path / "shift.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")


def _make(runs: list[Path], args: argparse.Namespace, rng: random.Random) -> None:
    for m, run in enumerate(runs):
        _run(run, f"model-{m}", args.items, args.tokens, args.top_k, rng)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--top-k", type=int, default=10)
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runs = [root / f"run{m}" for m in range(args.models)]
        # the runs are made in a child process, so this one's peak memory is the publishing's
        child = multiprocessing.get_context("fork").Process(target=_make, args=(runs, args, rng))
        child.start()
        child.join()
        if child.exitcode:
            return 2
        built = build_leaderboard(runs, settings=Settings(bootstrap=200), keep_judgments=True)
        started = time.perf_counter()
        publish_site(built.board, built.models, root / "plain")
        plain_s = time.perf_counter() - started
        started = time.perf_counter()
        publish_site(built.board, built.models, root / "shift",
                     sections=[section_maker([run / "shift.jsonl" for run in runs])])
        shift_s = time.perf_counter() - started
        plain = (root / "plain" / "index.html").stat().st_size
        page = (root / "shift" / "index.html").stat().st_size
        side = sorted((root / "shift" / "items").glob("t*.js"))
        side_total = sum(p.stat().st_size for p in side)
        largest = max((p.stat().st_size for p in side), default=0)
        records = sum((run / "shift.jsonl").stat().st_size for run in runs)
    mb = 1 << 20
    print(f"{args.models} models x {args.items:,} items x {args.tokens} tokens (top-k {args.top_k})")
    print(f"index.html without the section: {plain / mb:.2f} MB; with it: {page / mb:.2f} MB "
          f"(+{(page - plain) / 1024:.1f} KB)")
    print(f"token side files: {len(side)} files, {side_total / mb:.1f} MB in all, the largest {largest / 1024:.0f} KB "
          f"(token_shift.jsonl records: {records / mb:.1f} MB)")
    print(f"publish: {plain_s:.2f} s without, {shift_s:.2f} s with the section; peak memory of build + both "
          f"publishes {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    growth_ok = page - plain < 2 * args.models * args.items + 200_000
    print(f"target: page growth bounded (status letters + summaries): {'met' if growth_ok else 'NOT met'}")
    return 0 if growth_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
