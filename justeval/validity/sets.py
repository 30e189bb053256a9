"""Human-labelled pairwise sets, loaded like the instruction set: by name from their public
homes (raw files on GitHub at a pinned commit, fetched through `justeval.fetch` and cached),
or from a local file or folder laid out like those repositories.

Named sets:
- `pandalm`: WeOpenML/PandaLM `data/testset-v1.json`: 999 pairs, three annotators each
  (`annotator1..3`: 0 tie, 1, 2).
- `llmbar-natural`, `llmbar-adversarial` (subsets GPTInst, GPTOut, Manual, Neighbor; each also
  alone as `llmbar-adversarial-gptinst` ...), `llmbar-mtbench`, `llmbar-faireval`,
  `llmbar-llmeval2`: princeton-nlp/LLMBar `Dataset/.../dataset.json`: `input`, `output_1`,
  `output_2`, `label` (1 or 2, one gold label, no ties).

A file is a JSON list (or JSONL) of pairs under any of the sources' field names: the
instruction as `instruction` (with PandaLM's `input` as its context) or LLMBar's `input`; the
responses as `response1`/`response2`, `response_1`/`response_2` or `output_1`/`output_2`; the
labels as `annotator1..N`, `label_0..N`, `label` (one gold label) or `labels` (annotator ->
label); a label is 1, 2 or a tie (0, "tie", "same", "equal"). A number or boolean where text
is expected is read as its text (PandaLM stores six answers as JSON `true`: "True"). Bad input
is one line naming the file and the record.
"""

from __future__ import annotations

import random
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from justeval.errors import InputError, UsageError
from justeval.validity.records import Label, LabelledPair

RAW_GITHUB = "https://raw.githubusercontent.com"
#: a labelled set is data, not a corpus: anything larger is refused
MAX_SET_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class NamedSet:
    """A published set: its repository, the commit it is read at (a fixed address, so the
    cached copy never goes stale), and its file(s), one per subset."""

    name: str
    repo: str
    commit: str
    files: tuple[tuple[str | None, str], ...]
    about: str

    def url(self, path: str, base: str = RAW_GITHUB) -> str:
        return f"{base.rstrip('/')}/{self.repo}/{self.commit}/{urllib.parse.quote(path)}"

    @property
    def folder(self) -> PurePosixPath:
        """The folder holding the set's file(s) in its repository."""
        parents = [PurePosixPath(p).parent for _s, p in self.files]
        return parents[0] if len(parents) == 1 else parents[0].parent


PANDALM_REPO, PANDALM_COMMIT = "WeOpenML/PandaLM", "3871806e72b4832f815ecafd24d3503c73403f48"
LLMBAR_REPO, LLMBAR_COMMIT = "princeton-nlp/LLMBar", "900616bff90b6c6c8e1681f7d079250637c55992"
ADVERSARIAL = ("GPTInst", "GPTOut", "Manual", "Neighbor")


def _llmbar(name: str, files: tuple[tuple[str | None, str], ...], about: str) -> NamedSet:
    return NamedSet(name, LLMBAR_REPO, LLMBAR_COMMIT, files, about)


NAMED_SETS: dict[str, NamedSet] = {s.name: s for s in [
    NamedSet("pandalm", PANDALM_REPO, PANDALM_COMMIT, ((None, "data/testset-v1.json"),),
             "PandaLM test set: 999 pairs, three annotators, ties allowed"),
    _llmbar("llmbar-natural", ((None, "Dataset/LLMBar/Natural/dataset.json"),),
            "LLMBar Natural: 100 pairs, one gold label"),
    _llmbar("llmbar-adversarial", tuple((s, f"Dataset/LLMBar/Adversarial/{s}/dataset.json") for s in ADVERSARIAL),
            "LLMBar Adversarial: GPTInst, GPTOut, Manual, Neighbor (319 pairs)"),
    *[_llmbar(f"llmbar-adversarial-{s.lower()}", ((s, f"Dataset/LLMBar/Adversarial/{s}/dataset.json"),),
              f"LLMBar Adversarial {s} alone") for s in ADVERSARIAL],
    _llmbar("llmbar-mtbench", ((None, "Dataset/Processed/MT-Bench/dataset.json"),),
            "MT-Bench human judgments as processed by LLMBar (200 pairs)"),
    _llmbar("llmbar-faireval", ((None, "Dataset/Processed/FairEval/dataset.json"),),
            "FairEval as processed by LLMBar (66 pairs)"),
    _llmbar("llmbar-llmeval2", ((None, "Dataset/Processed/LLMEval^2/dataset.json"),),
            "LLMEval^2 as processed by LLMBar (200 pairs)"),
]}


@dataclass
class LabelledSet:
    """The pairs of one set, with its annotators in order and where it was read from."""

    name: str
    pairs: list[LabelledPair]
    annotators: list[str]
    sources: list[str] = field(default_factory=list)

    @property
    def subsets(self) -> list[str]:
        return list(dict.fromkeys(p.subset for p in self.pairs if p.subset is not None))

    def select(self, *, limit: int | None = None, sample: int | None = None, seed: int = 0) -> LabelledSet:
        """`sample` random pairs (seeded; kept in set order), then the first `limit`."""
        pairs = list(self.pairs)
        if sample is not None and sample < len(pairs):
            keep = set(random.Random(seed).sample(range(len(pairs)), sample))
            pairs = [p for i, p in enumerate(pairs) if i in keep]
        if limit is not None:
            pairs = pairs[:limit]
        return replace(self, pairs=pairs)


# -- one record ------------------------------------------------------------------------------

_TIE = {"0", "tie", "same", "equal", "draw", "similar"}
_RESPONSES = (("response1", "response_1", "output_1"), ("response2", "response_2", "output_2"))
_ANNOTATOR = re.compile(r"^annotator_?(\d+)$")
_LABEL_N = re.compile(r"^label_(\d+)$")


def parse_label(value: Any, source: str, record: str, who: str) -> Label | None:
    """1 / 2 / tie from any of the sources' spellings; empty means this annotator skipped it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InputError(source, f"bad label {value!r} from {who} (expected 1, 2 or a tie: 0 / tie)", record=record)
    text = str(value).strip().lower()
    if text in ("1", "2"):
        return "1" if text == "1" else "2"
    if text in _TIE:
        return "tie"
    raise InputError(source, f"bad label {value!r} from {who} (expected 1, 2 or a tie: 0 / tie)", record=record)


def _labels_of(obj: dict[str, Any], source: str, record: str) -> dict[str, Label]:
    found: list[tuple[int, str, Any]] = []
    for key, value in obj.items():
        if (m := _ANNOTATOR.match(str(key))) is not None:
            found.append((int(m.group(1)), f"annotator{int(m.group(1))}", value))
        elif (m := _LABEL_N.match(str(key))) is not None:  # PandaLM's README spells them label_0..2
            found.append((int(m.group(1)) + 1, f"annotator{int(m.group(1)) + 1}", value))
    raw: list[tuple[str, Any]] = [(name, value) for _n, name, value in sorted(found, key=lambda t: t[0])]
    labels = obj.get("labels")
    if isinstance(labels, dict):
        raw += [(str(k), v) for k, v in labels.items()]
    elif isinstance(labels, list):
        raw += [(f"annotator{i}", v) for i, v in enumerate(labels, start=1)]
    elif labels is not None:
        raise InputError(source, "'labels' must be an object (annotator -> label) or a list", record=record)
    if not raw and "label" in obj:
        raw = [("gold", obj["label"])]
    if not raw:
        raise InputError(source, "no human label (expected annotator1..N, label_0..N, label or labels)",
                         record=record)
    out = {who: lab for who, value in raw if (lab := parse_label(value, source, record, who)) is not None}
    if not out:
        raise InputError(source, "every label of this pair is empty", record=record)
    return out


def _text(obj: dict[str, Any], keys: tuple[str, ...], source: str, record: str, what: str) -> str:
    for key in keys:
        if key in obj:
            value = obj[key]
            if isinstance(value, bool):  # PandaLM has six answers stored as JSON `true`: the model wrote "True"
                return "True" if value else "False"
            if isinstance(value, (int, float)):
                return str(value)
            if not isinstance(value, str):
                raise InputError(source, f"{key} must be text, not {type(value).__name__}", record=record)
            return value
    raise InputError(source, f"missing {what} (expected {' or '.join(keys)})", record=record)


def pair_from(obj: Any, source: str, position: int, subset: str | None = None) -> LabelledPair:
    """One pair from a source record (see the module docstring for the field names)."""
    if not isinstance(obj, dict):
        raise InputError(source, "expected a JSON object per pair", record=f"item {position}")
    sid = next((obj[k] for k in ("idx", "index", "id") if obj.get(k) is not None), position)
    if isinstance(sid, (dict, list, bool)):
        raise InputError(source, f"bad id {sid!r}", record=f"item {position}")
    record = str(sid)
    if "instruction" in obj:
        instruction = _text(obj, ("instruction",), source, record, "instruction")
        context = _text(obj, ("input",), source, record, "input") if obj.get("input") is not None else None
    else:
        instruction, context = _text(obj, ("input",), source, record, "instruction (instruction or input)"), None
    return LabelledPair(
        id=f"{subset}/{record}" if subset else record, source_id=record, instruction=instruction,
        input=context if context and context.strip() else None,
        response_1=_text(obj, _RESPONSES[0], source, record, "response 1"),
        response_2=_text(obj, _RESPONSES[1], source, record, "response 2"),
        labels=_labels_of(obj, source, record), subset=subset if subset else _subset_field(obj, source, record))


def _subset_field(obj: dict[str, Any], source: str, record: str) -> str | None:
    value = obj.get("subset")
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(source, "subset must be text", record=record)
    return value or None


def pairs_from(data: Any, source: str, subset: str | None = None) -> list[LabelledPair]:
    if not isinstance(data, list):
        raise InputError(source, "expected a JSON list of labelled pairs")
    pairs = [pair_from(obj, source, i, subset) for i, obj in enumerate(data)]
    seen: set[str] = set()
    for p in pairs:
        if p.id in seen:
            raise InputError(source, "this id appears twice", record=p.source_id)
        seen.add(p.id)
    return pairs


def annotators_of(pairs: Iterable[LabelledPair]) -> list[str]:
    return list(dict.fromkeys(who for p in pairs for who in p.labels))


# -- reading ---------------------------------------------------------------------------------


def decode_json(data: bytes, source: str) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"not valid UTF-8 (byte {exc.start})") from exc
    from justeval.jsonl import parse_json

    return parse_json(text, source)  # every way JSON can be wrong, as one line


def read_local(path: Path) -> Any:
    """A JSON document, or a JSONL file as the list of its objects; size-capped."""
    try:
        size = path.stat().st_size
        if size > MAX_SET_BYTES:
            raise InputError(path, f"larger than {MAX_SET_BYTES // (1024 * 1024)} MB; refused")
        if path.suffix.lower() == ".jsonl":
            from justeval.jsonl import iter_json_lines

            return [obj for _line, obj in iter_json_lines(path)]
        return decode_json(path.read_bytes(), str(path))
    except OSError as exc:
        raise InputError(path, f"cannot read file: {exc.strerror or exc}") from exc


def _fetch(named: NamedSet, path: str, raw_base: str) -> Any:
    from justeval.fetch import fetch_bytes

    url = named.url(path, raw_base)
    hint = (f"download it and pass --set FILE (the downloaded {PurePosixPath(path).name}), or --set DIR "
            f"(the folder of a {named.repo} checkout that holds it)")
    data = fetch_bytes(url, what=f"labelled set {named.name}", hint=hint, max_bytes=MAX_SET_BYTES, cache=True)
    return decode_json(data, url)


def load_named(name: str, *, raw_base: str = RAW_GITHUB) -> LabelledSet:
    named = NAMED_SETS[name]
    pairs: list[LabelledPair] = []
    sources = []
    for subset, path in named.files:
        sources.append(named.url(path, raw_base))
        pairs += pairs_from(_fetch(named, path, raw_base), sources[-1], subset)
    return LabelledSet(name=name, pairs=pairs, annotators=annotators_of(pairs), sources=sources)


def _matching_name(folder: Path, file_name: str | None = None) -> str | None:
    """The named set a local copy is, by its place in the repository's layout (the last two
    folder names, e.g. LLMBar/Natural, or PandaLM's file name)."""
    tail = folder.resolve().parts[-2:]
    for named in NAMED_SETS.values():
        own = named.folder.parts[-2:]
        if named.name == "pandalm":
            if file_name == "testset-v1.json" or (file_name is None and (folder / "testset-v1.json").is_file()):
                return named.name
            continue
        if tuple(tail) == tuple(own) and (file_name is None or file_name == PurePosixPath(named.files[0][1]).name):
            return named.name
    return None


def _from_dir(folder: Path) -> LabelledSet:
    for candidate in (folder / "dataset.json", folder / "testset-v1.json", folder / "data" / "testset-v1.json"):
        if candidate.is_file():
            return _from_file(candidate)
    subsets = sorted(p for p in folder.iterdir() if (p / "dataset.json").is_file())
    if not subsets:
        found = sorted(str(p.parent.relative_to(folder)) for p in folder.glob("Dataset/*/*/dataset.json"))
        found += sorted(str(p.parent.relative_to(folder)) for p in folder.glob("Dataset/*/*/*/dataset.json"))
        more = f"; pass one of its set folders: {', '.join(found[:12])}" if found else ""
        raise InputError(folder, f"no labelled set here (expected dataset.json, testset-v1.json or subset "
                         f"folders holding dataset.json){more}")
    pairs: list[LabelledPair] = []
    for sub in subsets:
        pairs += pairs_from(read_local(sub / "dataset.json"), str(sub / "dataset.json"), sub.name)
    name = _matching_name(folder) or folder.resolve().name
    return LabelledSet(name=name, pairs=pairs, annotators=annotators_of(pairs),
                       sources=[str(s / "dataset.json") for s in subsets])


def _from_file(path: Path) -> LabelledSet:
    name = _matching_name(path.parent, path.name)
    # a local copy of a named one-subset set gets the subset (and so the ids) the named set has
    subset = NAMED_SETS[name].files[0][0] if name is not None and len(NAMED_SETS[name].files) == 1 else None
    pairs = pairs_from(read_local(path), str(path), subset)
    name = name or (path.parent.resolve().name if path.stem == "dataset" else path.stem)
    return LabelledSet(name=name, pairs=pairs, annotators=annotators_of(pairs), sources=[str(path.resolve())])


def load_set(ref: str | Path, *, raw_base: str = RAW_GITHUB) -> LabelledSet:
    """A set by name (fetched and cached), or from a local file or folder."""
    text = str(ref)
    if text in NAMED_SETS:
        return load_named(text, raw_base=raw_base)
    path = Path(text).expanduser()
    if path.is_dir():
        return _from_dir(path)
    if path.is_file():
        return _from_file(path)
    raise UsageError(f"--set {text[:200]!r} is neither a named set ({', '.join(NAMED_SETS)}) nor a file or folder")
