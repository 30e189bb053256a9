"""The page's token-shift section: for the board models that have token-shift results, the
paper's three ratios, the most frequent shifted tokens and the shifted share by position (in
the page), and in the item browser each output with its tokens coloured by category and the
base model's top alternatives on hover (in side files, loaded on demand).

Where results are found: `RUN/token_shift.jsonl` beside each run's generations (where
`justeval token-shift RUN` writes), and the files or folders given to `publish --token-shift`
(`token-shift --out DIR` writes `DIR/token_shift.jsonl`, or with several runs
`DIR/<run name>/token_shift.jsonl`). A file found beside a run belongs to that run's model; a
given one to the board model whose generator its records name (with two models of one
generator, the one whose run folder has the file's folder name).

Nothing stale: a record counts only while the run's output is the one it analysed (its
`output_sha256`); records of outputs regenerated since, failed records and items not on the
board are left out and counted. Every figure is `tokenshift.report.summarize` over the records
kept, so the page says what `justeval token-shift` says on the same records.

Sizes: the page carries only the summaries (bounded: TOP_TOKENS tokens and the position
buckets per model) and per model a string of one status letter per item. The per-token data
go to `items/tSSS-CCCC.js` (source SSS, a run of items CCCC), written a record at a time: the
rank of each token that starts within the first PREVIEW_CHARS characters (what the browser
shows first), its span in UTF-16 units (what JavaScript indexes), and for the marginal and
shifted ones at most MAX_ALTERNATIVES of the base model's top tokens, token strings pooled
per file. Every string is JSON written by `script_json` and inserted by the page with
textContent, so a token such as `</script><img onerror=...>` shows as text.
"""

from __future__ import annotations

import gc
import json
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Literal

import pydantic_core
from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import NotRequired, TypedDict

from justeval.board.line_chart import Point, Series, line_chart
from justeval.board.loading import ModelItems
from justeval.board.page_items import ITEMS_DIR, PREVIEW_CHARS, _Reader, remove_stale, script_json, script_safe
from justeval.board.publish import PageSection, SiteContext
from justeval.board.tables import Leaderboard
from justeval.board.token_shift_sources import ShiftSource, find_sources
from justeval.errors import InputError
from justeval.ids import ItemId, normalize_id
from justeval.jsonl import atomic_output, first_error
from justeval.paths import data_dir
from justeval.records import Category as ItemCategory
from justeval.streaming import line_at
from justeval.tokenshift.records import ShiftCounts, TokenShiftRecord
from justeval.tokenshift.report import ModelShift, ShiftTally

MAX_ALTERNATIVES = 5
TOP_TOKENS = 10
CHUNK_BYTES = 256 << 10
_OWN_FILE = re.compile(r"^t\d{3}-\d{4}\.js$")
#: status letters of the page index, one per page item and source
NONE, COLOURED, NO_OFFSETS, STALE, FAILED = "-", "o", "n", "s", "e"


class _Alternative(TypedDict):
    token: str
    logprob: float


class _Detail(TypedDict):
    position: int
    token: str
    output_token: NotRequired[str | None]
    top: NotRequired[list[_Alternative]]


class _PageRecord(BaseModel):
    """What the second pass reads of a record: every field the section or a side file uses, typed
    as in `TokenShiftRecord`, and nothing else. Why not the whole record: validating each of its
    per-token alternatives into a pydantic object took most of the time of a publish (about 7 ms
    a record of 300 tokens); here the details are plain dicts, checked by the same validator."""

    model_config = ConfigDict(extra="ignore")

    generator: str
    category: ItemCategory = "regular"
    task_types: list[str] = Field(default_factory=list)
    status: Literal["ok", "error"] = "ok"
    output_sha256: str
    tokens: int = 0
    truncated_from: int | None = None
    counts: ShiftCounts = Field(default_factory=ShiftCounts)
    ranks: list[int | None] = Field(default_factory=list)
    offsets: list[tuple[int, int]] | None = None
    shifted_tokens: list[_Detail] = Field(default_factory=list)
    marginal_tokens: list[_Detail] = Field(default_factory=list)
    aligned_agreement: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# -- the per-token rows ------------------------------------------------------------------------
def output_hash(text: str) -> str:
    from justeval.tokenshift.analysis import output_hash as stage_hash

    return stage_hash(text)


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _utf16(text: str) -> list[int] | None:
    """Cumulative UTF-16 length per code point (None when every character is one unit)."""
    astral = [m.start() for m in _ASTRAL.finditer(text)]
    if not astral:
        return None
    table = list(range(len(text) + 1))
    for extra, (at, nxt) in enumerate(zip(astral, [*astral[1:], len(text)], strict=True), start=1):
        table[at + 1:nxt + 1] = range(at + 1 + extra, nxt + 1 + extra)
    return table


class _Strings:
    """Token strings pooled per side file (the same few recur on every line)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __call__(self, text: str | None) -> int:
        if text is None:
            return -1
        k = self.index.get(text)
        if k is None:
            k = self.index[text] = len(self.index)
        return k


def token_row(i: int, record: _PageRecord, text: str, strings: _Strings) -> list[Any]:
    """[item, [unshifted, marginal, shifted], tokens, truncated_from, ranks, spans, details] of one
    output: ranks (0: outside the top-k) and spans (start - previous end, length; UTF-16 units)
    of the tokens that start within the first PREVIEW_CHARS characters; details: per marginal or
    shifted one among them [position, token, output token or -1, [alternative, logprob, ...]]."""
    offsets = record.offsets or []
    limit = min(len(offsets), len(record.ranks))
    kept = 0
    while kept < limit and offsets[kept][0] < PREVIEW_CHARS:
        kept += 1
    shown = offsets[:kept]
    reach = max(map(itemgetter(1), shown), default=0)
    table = _utf16(text[:reach])
    if table is not None:  # code points to UTF-16 units
        if max(map(itemgetter(0), shown), default=0) < len(table) > reach:  # all inside the output
            shown = [(table[start], table[stop]) for start, stop in shown]
        else:
            last = len(table) - 1
            shown = [(table[min(start, last)], table[min(stop, last)]) for start, stop in shown]
    ends = [0, *map(itemgetter(1), shown)]
    spans = [n for (start, stop), end in zip(shown, ends, strict=False) for n in (start - end, stop - start)]
    ranks = [r or 0 for r in record.ranks[:kept]]
    details = []
    pool = strings.index  # strings() inlined: the loop below runs some 400 times an output
    for d in sorted([*record.marginal_tokens, *record.shifted_tokens], key=lambda d: d["position"]):
        if d["position"] >= kept:
            continue
        alternatives: list[Any] = []
        for a in d.get("top", [])[:MAX_ALTERNATIVES]:
            token, logprob = a["token"], a["logprob"]
            k = pool.get(token)
            if k is None:
                k = pool[token] = len(pool)
            alternatives += (k, round(logprob, 3) if -math.inf < logprob < math.inf else None)
        details.append([d["position"], strings(d["token"]), strings(d.get("output_token")), alternatives])
    c = record.counts
    return [i, [c.unshifted, c.marginal, c.shifted], record.tokens, record.truncated_from, ranks, spans, details]


def _tally(tally: ShiftTally, record: _PageRecord) -> None:
    """What `summarize` reads of a kept record, added to the model's tally."""
    c = record.counts
    tally.add(ok=record.ok, generator=record.generator, counts=(c.unshifted, c.marginal, c.shifted),
              category=record.category, task_types=record.task_types, tokens=record.tokens,
              truncated_from=record.truncated_from, ranks=record.ranks,
              shifted_tokens=(d["token"] for d in record.shifted_tokens), aligned_agreement=record.aligned_agreement)


class _ChunkFile:
    """One side file: its rows kept until the run of items ends (CHUNK_BYTES or so), then written."""

    def __init__(self, path: Path, source: int, chunk: int) -> None:
        self.path, self.source, self.chunk = path, source, chunk
        self.strings = _Strings()
        self.rows: list[list[Any]] = []

    def write(self) -> Path:
        body = {"source": self.source, "chunk": self.chunk, "strings": list(self.strings.index), "rows": self.rows}
        # the text script_json writes (compact, not ASCII-escaped), four times as fast: rows are
        # ints, strings and finite floats only (token_row writes a non-finite logprob as None)
        text = script_safe(pydantic_core.to_json(body).decode("utf-8"))
        with atomic_output(self.path) as fh:
            fh.write(f"justevalShift({text});\n")
        self.path.chmod(0o644)
        return self.path


@dataclass
class SourceResult:
    summary: ModelShift
    status: str
    chunk_items: int
    stale: int = 0
    failed: int = 0
    no_offsets: int = 0
    not_on_board: int = 0
    not_analysed: int = 0


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector paused while records are read: each record makes some
    thousand dicts and lists (freed by reference counting, none in a cycle), and every few
    hundred of them set off a collection that walks all live objects, the whole board too;
    that took a third of the time. The collector's earlier state comes back afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def write_source(number: int, source: ShiftSource, mi: ModelItems, items: list[dict[str, Any]] | None,
                 folder: Path, written: list[Path]) -> SourceResult:
    """Read one file's latest records for the model's items, write their side files (when the
    page has an item browser) and summarize the records kept."""
    position = {it["id"]: n for n, it in enumerate(items)} if items is not None else {}
    mean_tokens = sum(min(t, 1500) for t in source.tokens.values()) / max(1, len(source.tokens))
    per_chunk = int(min(500, max(5, CHUNK_BYTES // (mean_tokens * 14 + 200))))
    status = [NONE] * len(items or [])
    tally = ShiftTally()
    result = SourceResult(summary=tally.summary(), status="", chunk_items=per_chunk)
    board_ids = set(mi.ids)
    result.not_on_board = sum(1 for i in source.offsets if i not in board_ids)
    reader = _Reader(mi.files)
    current: _ChunkFile | None = None
    order = sorted(range(len(mi.ids)), key=lambda k: position.get(mi.ids[k], k))
    try:
        with open(source.path, "rb") as fh, _no_cycle_collection():
            for k in order:
                item_id = mi.ids[k]
                offset = source.offsets.get(item_id)
                if offset is None:  # an output the analysis has not reached (or a failed generation)
                    result.not_analysed += not bool(mi.gen_error[k])
                    continue
                output = reader.generation(mi.gen_refs[k], item_id)[0] if mi.gen_refs and mi.gen_refs[k] else None
                record = _read_page(source.path, offset, fh, item_id)
                n = position.get(item_id)
                if not record.ok:
                    result.failed += 1
                    letter = FAILED
                elif output is None or record.output_sha256 != output_hash(output):
                    result.stale += 1
                    letter = STALE
                else:
                    _tally(tally, record)
                    letter = COLOURED if record.offsets else NO_OFFSETS
                    result.no_offsets += letter == NO_OFFSETS
                    if n is not None and letter == COLOURED and output is not None:
                        chunk = n // per_chunk
                        if current is not None and current.chunk != chunk:
                            written.append(current.write())
                            current = None
                        if current is None:
                            current = _ChunkFile(folder / f"t{number:03d}-{chunk:04d}.js", number, chunk)
                        current.rows.append(token_row(n, record, output, current.strings))
                if n is not None:
                    status[n] = letter
        if current is not None:
            written.append(current.write())
    except OSError as exc:
        raise InputError(source.path, f"cannot read file: {exc.strerror or exc}") from exc
    finally:
        reader.close()
    first = source.first
    result.summary = tally.summary(run=mi.source, records_path=str(source.path),
                                   generator=first.generator if first else mi.model, top_tokens=TOP_TOKENS)
    result.status = "".join(status)
    return result


def _read_page(path: Path, offset: int, fh: IO[bytes], item_id: ItemId) -> _PageRecord:
    """The page's fields of the record on the line at `offset` (the latest of `item_id`); a
    record that does not hold them is one line naming the file, the record and the field."""
    line = line_at(path, offset, fh)
    try:
        return _PageRecord.model_validate_json(line)
    except ValidationError as exc:
        try:
            obj = json.loads(line)
            same = isinstance(obj, dict) and normalize_id(obj.get("id")) == item_id
        except ValueError:
            same = False
        if not same:
            raise InputError(path, f"changed while the page was written (the record at byte {offset} no "
                             "longer reads); publish again") from exc
        raise InputError(path, first_error(exc), record=item_id) from exc


# -- the section -------------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _token(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _describe(first: TokenShiftRecord | None) -> str:
    if first is None:
        return ""
    aligned = f"; measured: the top-1 of {first.aligned}" if first.aligned else ""
    return (f"base {first.base}, template {first.template.name}, tokenizer {first.tokenizer.name}, "
            f"top-k {first.top_k}{aligned} (analysis {first.analysis})")


def _position_chart(title: str, rows: list[tuple[str, ModelShift]]) -> str:
    buckets = sorted({(b.start, b.bucket) for _, m in rows for b in m.by_position})
    where = {name: k for k, (_, name) in enumerate(buckets)}
    series = [Series(name, [Point(where[b.bucket], 100 * b.shifted_ratio, tip=f"{name}, tokens {b.bucket}: "
                                  f"{100 * b.shifted_ratio:.1f} % shifted of {b.tokens:,}")
                            for b in m.by_position if b.shifted_ratio is not None])
              for name, m in rows]
    top = max((p.y for s in series for p in s.points), default=10.0)
    return line_chart(title, [name for _, name in buckets], series, x_title="token position in the output",
                      y_title="shifted %", y_range=(0.0, min(100.0, max(5.0, math.ceil(top / 5 + 0.5) * 5))),
                      y_format="{:g}", css_class="shift-chart")


def page_order(board: Leaderboard, models: Sequence[ModelItems]) -> list[ModelItems]:
    """The models in the page's order (the board's rows), as the item browser numbers them."""
    by_name = {m.model: m for m in models}
    return [by_name[r.model] for r in board.rows if r.model in by_name]


def board_sources(board: Leaderboard, models: Sequence[ModelItems], given: Sequence[Path] = ()) -> list[ShiftSource]:
    """`find_sources` for a built board: call it before anything is written, so a bad
    `--token-shift` leaves the site as it was."""
    return find_sources(page_order(board, models), given)


def section_maker(given: Sequence[Path] | None = None, *, sources: list[ShiftSource] | None = None) -> Any:
    """The `publish_site` section maker: finds the results (or takes `board_sources`'), writes
    the side files, returns the section (None where no model has results; side files of an
    earlier publish are removed either way)."""

    def make(site: SiteContext) -> PageSection | None:
        folder = site.out / ITEMS_DIR
        order = page_order(site.board, site.models)
        found = sources if sources is not None else find_sources(order, given or [])
        written: list[Path] = []
        items = list(site.items["items"]) if site.items else None
        if items is not None and found:
            folder.mkdir(parents=True, exist_ok=True)
        results = [write_source(n, s, order[s.model], items, folder, written) for n, s in enumerate(found)]
        remove_stale(folder, written, _OWN_FILE)
        site.written.extend(written)
        if not found:
            return None
        return build_section(order, found, results, has_items=items is not None)

    return make


def build_section(order: Sequence[ModelItems], sources: list[ShiftSource], results: list[SourceResult], *,
                  has_items: bool) -> PageSection:
    analyses: dict[str, list[int]] = {}
    for n, s in enumerate(sources):
        analyses.setdefault(s.analysis, []).append(n)
    html: list[str] = ['<h2>Token shift</h2><p class="hint">Each output token ranked under the base model, '
                       "teacher-forced: <span class=\"ts-u\">unshifted</span> (the base model's own top-1), "
                       '<span class="ts-m">marginal</span> (rank 2-3), <span class="ts-s">shifted</span> (lower, '
                       "or outside the top-k). Figures cover the outputs whose analysis matches the output "
                       "shown now; outputs regenerated since, failed analyses and items not on the board are "
                       "counted and left out.</p>"]
    json_out: list[dict[str, Any]] = []
    e = escape
    for k, numbers in enumerate(analyses.values()):
        first = sources[numbers[0]].first
        rows = [(order[sources[n].model].model, results[n]) for n in numbers]
        html.append(f'<h3>Analysis {k + 1}</h3><p class="hint">{e(_describe(first))}</p>')
        html.append('<div class="scroll"><table class="sortable ts-ratios"><thead><tr><th data-type="text">model</th>'
                    '<th data-type="num">items</th><th data-type="num">tokens</th><th data-type="num">unshifted</th>'
                    '<th data-type="num">marginal</th><th data-type="num">shifted</th>'
                    '<th data-type="num">regenerated since</th><th data-type="num">failed</th>'
                    '<th data-type="num">not analysed</th></tr></thead><tbody>')
        for name, r in rows:
            m = r.summary
            cells = [(m.items, str(m.items)), (m.tokens, f"{m.tokens:,}")]
            cells += [(getattr(m, c), _pct(getattr(m, c))) for c in ("unshifted", "marginal", "shifted")]
            cells += [(r.stale, str(r.stale)), (r.failed, str(r.failed)), (r.not_analysed, str(r.not_analysed))]
            tds = "".join(f'<td data-value="{"" if v is None else e(v)}">{e(t)}</td>' for v, t in cells)
            html.append(f'<tr><td class="model" data-value="{e(name)}">{e(name)}</td>{tds}</tr>')
        html.append("</tbody></table></div>")
        html.append('<h4>Most frequent shifted tokens</h4><div class="scroll"><table class="ts-tokens"><thead><tr>'
                    '<th>model</th><th>tokens (count)</th></tr></thead><tbody>')
        for name, r in rows:
            tokens = " ".join(f'<code>{e(_token(t.token))}</code>&#8239;×{t.count}'
                              for t in r.summary.top_shifted_tokens)
            html.append(f'<tr><td class="model">{e(name)}</td><td class="ts-toklist">{tokens or "-"}</td></tr>')
        html.append("</tbody></table></div>")
        if any(r.summary.by_position for _, r in rows):
            chart = _position_chart("Shifted share by token position", [(n, r.summary) for n, r in rows])
            html.append(f'<div class="scroll chart">{chart}</div>')
        json_out.append({"analysis": first.analysis if first else None, "base": first.base if first else None,
                         "template": first.template.name if first else None, "top_k": first.top_k if first else None,
                         "models": [{"model": name, "records": str(sources[n].path),
                                     "regenerated_since": r.stale, "failed": r.failed,
                                     "not_analysed": r.not_analysed, **r.summary.model_dump(mode="json")}
                                    for n, (name, r) in zip(numbers, rows, strict=True)]})
    if has_items:
        index = {"dir": ITEMS_DIR, "preview_chars": PREVIEW_CHARS, "max_alternatives": MAX_ALTERNATIVES,
                 "sources": [{"model": s.model, "label": _label(s.first), "chunk_items": r.chunk_items,
                              "status": r.status} for s, r in zip(sources, results, strict=True)]}
        html.append('<script type="application/json" id="token-shift-data">' + str(script_json(index)) + "</script>")
    script = (data_dir("leaderboard") / "templates" / "token_shift.js").read_text("utf-8")
    css = (data_dir("leaderboard") / "templates" / "token_shift.css").read_text("utf-8")
    html.insert(0, f"<style>{css}</style>")
    return PageSection(id="token-shift", title="Token shift", html=Markup("".join(html)),
                       script=Markup(script) if has_items else None, json={"token_shift": json_out})


def _label(first: TokenShiftRecord | None) -> str:
    return "" if first is None else f"under {first.base} (top-k {first.top_k})"
