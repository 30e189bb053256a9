"""Which of a model's judgments a board uses.

A *judging* is one judge with one template set (its identity, `records.judging_identity`):
the records one `justeval judge` invocation writes. A run may hold several (another judge, or
the same judge re-run with the upstream templates); the board takes them apart here:

- the last record per (id, judge, identity, template hash, repeat) supersedes earlier ones;
- a judgment of an output that was replaced since (its `output_sha256` differs from the
  item's latest generation, e.g. after `import --overwrite`) is left out and counted (`stale`);
- `--judge` keeps the judgings of those judges; `--template NAME|HASH|IDENTITY` the judgings
  with such a template (in an older record file that mixes templates, only the matching
  template's records of that category);
- a judging with nothing but failed calls (`error` records) is not a judge: it is left out
  (and named) when another judging has scores, so a failed second judge never makes a board
  refuse the run.

Records written before identities were recorded belong to the judging of their judge whose
template set holds their template hash, else to one judging per judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from justeval.records import ItemId, Judgment
from justeval.rundir import safe_name

if TYPE_CHECKING:
    from justeval.board.loading import GenerationStats, ModelRun

#: a choice of `--template` matches a template hash or an identity from this many characters on
MIN_PREFIX = 4


@dataclass
class Judging:
    """One judge with one template set, as found in a model's records."""

    key: str
    judge: str
    identity: str | None
    templates: dict[str, dict[str, str]] = field(default_factory=dict)  # hash -> {name, hash}
    by_category: dict[str, set[str]] = field(default_factory=dict)      # category -> template hashes
    usable: bool = False  # has a record the judge answered (ok or parse_error)

    def add(self, j: Judgment) -> None:
        self.templates.setdefault(j.template.hash, {"name": j.template.name, "hash": j.template.hash})
        self.by_category.setdefault(j.category, set()).add(j.template.hash)
        self.usable = self.usable or j.status != "error"

    def label(self) -> str:
        tpl = ", ".join(f"{t['name']}@{t['hash']}" for t in self.templates.values())
        return f"{self.judge} with {tpl}" + (f" (identity {self.identity})" if self.identity else "")

    def template_matches(self, hash_: str, choice: str) -> bool:
        name = self.templates[hash_]["name"]
        return choice == name or (len(choice) >= MIN_PREFIX and hash_.startswith(choice))

    def matches(self, choice: str) -> bool:
        if self.identity and len(choice) >= MIN_PREFIX and self.identity.startswith(choice):
            return True
        return any(self.template_matches(h, choice) for h in self.templates)


@dataclass
class Chosen:
    """The records a board uses (indices into `ModelRun.judgments`, each with its judging key
    and template hash: two of them giving one cell are two judgings), and what was left out."""

    indices: list[int]
    sources: list[tuple[str, str]]
    judgings: dict[str, Judging]
    stale: set[ItemId] = field(default_factory=set)  # items whose judgments judged an output replaced since
    failed: list[Judging] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # --template choices no judging of this model has


def _wanted(j: Judgment, judge: Sequence[str] | None) -> bool:
    return not judge or j.judge in judge or safe_name(j.judge) in judge


def choose(run: ModelRun, gens: dict[ItemId, GenerationStats], *, judge: Sequence[str] | None = None,
           template: Sequence[str] | None = None) -> Chosen:
    """See the module docstring."""
    latest: dict[tuple[Any, ...], int] = {}
    stale: set[ItemId] = set(run.stale)  # found while the run directory was read
    for k, j in enumerate(run.judgments):
        if not _wanted(j, judge):
            continue
        gen = gens.get(j.id)
        if j.output_sha256 is not None and gen is not None and gen.sha256 != j.output_sha256:
            stale.add(j.id)
            continue
        latest[(j.id, j.judge, j.identity, j.template.hash, j.repeat)] = k
    # later lines of one key superseded earlier ones, and the stale never count; what remains in file order
    kept = sorted(latest.values())
    judgings: dict[str, Judging] = {}
    for k in kept:
        j = run.judgments[k]
        if j.identity is not None:
            judgings.setdefault(f"id:{j.identity}", Judging(f"id:{j.identity}", j.judge, j.identity)).add(j)
    keys: list[str] = []
    for k in kept:
        j = run.judgments[k]
        if j.identity is not None:
            key = f"id:{j.identity}"
        else:  # an older record: the judging of its judge that used its template, else its judge's own
            key = next((g.key for g in judgings.values() if g.identity is not None and g.judge == j.judge
                        and j.template.hash in g.templates), f"judge:{j.judge}")
            if key not in judgings:
                judgings[key] = Judging(key, j.judge, None)
        judgings[key].add(j)
        keys.append(key)
    chosen = Chosen(indices=[], sources=[], judgings=judgings, stale=stale)
    allowed = set(judgings)
    if template:
        allowed = {key for key, g in judgings.items() if any(g.matches(c) for c in template)}
        chosen.unmatched = [] if allowed else list(template)
        named = {key for key in allowed if judgings[key].identity in template}
        if named:  # a judging chosen by its identity: other identities that share a template hash are not it
            allowed = named | {key for key in allowed if judgings[key].identity is None}
    if any(judgings[key].usable for key in allowed):
        chosen.failed = [judgings[key] for key in allowed if not judgings[key].usable]
        allowed -= {g.key for g in chosen.failed}
    # an older record and a newer one of the same judging, item and repeat (a call retried by a
    # newer version in the same file): the later line wins, as always
    last: dict[tuple[Any, ...], tuple[int, str]] = {}
    for k, key in zip(kept, keys, strict=True):
        j = run.judgments[k]
        last[(j.id, key, j.template.hash, j.repeat)] = (k, key)
    for k, key in sorted(last.values()):
        if key not in allowed:
            continue
        j = run.judgments[k]
        g = judgings[key]
        if template and len(g.by_category.get(j.category, ())) > 1:
            # an older file holding several templates of one category: only the chosen one
            picked = {h for h in g.by_category[j.category] if any(g.template_matches(h, c) for c in template)}
            if picked and j.template.hash not in picked:
                continue
        chosen.indices.append(k)
        chosen.sources.append((key, j.template.hash))
    return chosen
