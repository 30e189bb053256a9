"""A run directory: `run.json` (what produced it), `generations.jsonl`, and judgments
(`judgments.jsonl` for one judge, `judgments/<judge>.jsonl` when several judge one run)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import re
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from justeval.errors import InputError, JustevalError
from justeval.jsonl import PRIVATE_DIR_MODE, atomic_output, read_records
from justeval.records import Generation, ItemId, Judgment
from justeval.redact import redact

if TYPE_CHECKING:
    from justeval.manifest import RunManifest


#: the file `RunDir.lock` holds; it names the process holding it
LOCK_FILE = ".lock"
_HELD: dict[str, int] = {}  # run directories this process holds, with how many times


def _command_line() -> str:
    """This process's command, for the lock file (keys are never options; redacted anyway)."""
    from justeval.redact import redact

    return redact(" ".join(["justeval", *sys.argv[1:]]))[:300]


def safe_name(spec: str) -> str:
    """A file-name-safe form of a model or judge spec (`openai:gpt-4o` -> `openai_gpt-4o`)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec).strip("_") or "judge"


class RunDir:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def generations(self) -> Path:
        return self.path / "generations.jsonl"

    def judgments_path(self, judge: str, *, several: bool = False, identity: str | None = None,
                       template_hashes: tuple[str, ...] = ()) -> Path:
        """Where a judging writes: `judgments.jsonl` for a single judge, `judgments/<judge>.jsonl`
        when several (the paths every earlier version used). Given the judging's `identity`
        (`records.judging_identity`), the file that already holds it (resume); else, for a judge
        not seen in those files, the first of them that holds nothing yet; else
        `judgments/<judge>@<identity>.jsonl`: records of two identities (another judge, or the
        same judge with other templates) never share a file."""
        single = self.path / "judgments.jsonl"
        own = self.path / "judgments" / f"{safe_name(judge)}.jsonl"
        default = own if several else single
        if identity is None:
            return default
        apart = self.path / "judgments" / f"{safe_name(judge)}@{identity}.jsonl"
        judged_before = False  # this judge with other templates: the new judging goes apart
        for path in (single, own, apart):
            holds, has_judge = _holds(path, judge, identity, template_hashes)
            if holds:
                return path
            judged_before = judged_before or has_judge
        for path in (default, own):
            if not judged_before and (not path.exists() or path.stat().st_size == 0):
                return path
        return apart

    def judgment_files(self) -> list[Path]:
        files = []
        if (self.path / "judgments.jsonl").exists():
            files.append(self.path / "judgments.jsonl")
        if (self.path / "judgments").is_dir():
            files.extend(sorted((self.path / "judgments").glob("*.jsonl")))
        return files

    def ensure(self) -> RunDir:
        try:
            self.path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(self.path, f"cannot create run directory: {exc.strerror or exc}") from exc
        return self

    # -- one writer at a time ------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[RunDir]:
        """Hold the run directory for a writing command: two `generate` or `judge` processes on
        one directory would each send, pay for and write every item. An exclusive, non-blocking
        `flock` on `.lock` in the directory; a second process gets a JustevalError (exit 1)
        naming the process that holds it. The lock goes with the process (a killed holder frees
        it at once), the file stays (removing it would let two processes lock two different
        files), and the same process may take it again (the pipeline's stages nest). The
        directory must exist: `RunDir(out).ensure().lock()` for a new run."""
        if not self.path.is_dir():
            raise InputError(self.path, "not a run directory (nothing to lock)")
        key = os.path.realpath(self.path)
        if key in _HELD:
            _HELD[key] += 1
            try:
                yield self
            finally:
                _HELD[key] -= 1
            return
        try:
            import fcntl
        except ImportError:  # no flock on this system (Windows): run unlocked
            yield self
            return
        path = self.path / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise InputError(path, f"cannot create the run directory's lock file: {exc.strerror or exc}") from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
                raise JustevalError(f"{self.path} is in use by {holder}; wait for it to finish (or stop it), "
                                    "then run the same command again") from exc
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"process {os.getpid()} ({_command_line()})\n".encode(), 0)
            _HELD[key] = 1
            try:
                yield self
            finally:
                del _HELD[key]
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # -- the manifest (run.json) -----------------------------------------------------
    def read_manifest(self) -> RunManifest:
        """run.json as a RunManifest (upgraded from older formats); empty when there is none yet."""
        from justeval.manifest import RunManifest, parse_manifest

        if not self.run_json.exists():
            return RunManifest()
        from justeval.jsonl import read_json_file

        return parse_manifest(read_json_file(self.run_json, "run.json"), self.run_json)

    def record(self, section: str, value: BaseModel, *, key: str | None = None) -> RunManifest:
        """Set one section of run.json (`generate`, `import`, `pipeline`, `run`), or one entry
        of a keyed section (`judging` per judge, `pairwise` per file) when `key` is given, and
        write the file atomically. Values are settings models: they hold key *names*, never keys."""
        from justeval.manifest import FORMAT_VERSION

        manifest = self.read_manifest()
        field = "import_" if section == "import" else section
        if field not in type(manifest).model_fields:
            raise ValueError(f"run.json has no section {section!r}")
        if key is not None:
            entries = dict(getattr(manifest, field))
            entries[key] = value
            new_value: Any = entries
        else:
            new_value = value
        from justeval.pipeline.trust import origin_mark

        manifest = manifest.model_copy(update={
            field: new_value, "format_version": FORMAT_VERSION, "versions": versions(),
            "origin": origin_mark(self.path),
            "created": manifest.created or datetime.now(timezone.utc).isoformat(timespec="seconds")})
        with atomic_output(self.run_json, private=True) as fh:
            fh.write(redact(json.dumps(manifest.dump(), indent=2, ensure_ascii=False)) + "\n")
        return manifest

    # -- records -------------------------------------------------------------------
    def load_generations(self) -> list[Generation]:
        if not self.generations.exists():
            raise InputError(self.generations, "no generations in this run directory "
                             "(run `justeval generate` or `justeval import` first)")
        return read_records(self.generations, Generation)

    def latest_generations(self) -> dict[ItemId, Generation]:
        """id -> its current record. `generations.jsonl` is append-only: a retried item appends
        a new line, so the LAST line per id wins. Empty when nothing was generated yet."""
        if not self.generations.exists():
            return {}
        return {g.id: g for g in read_records(self.generations, Generation)}

    def ok_generations(self) -> dict[ItemId, Generation]:
        """The latest generation per id, where it succeeded and has an output to judge."""
        return {i: g for i, g in self.latest_generations().items() if g.status == "ok" and g.output is not None}

    def load_judgments(self, judge: str | None = None) -> list[Judgment]:
        out: list[Judgment] = []
        for f in self.judgment_files():
            out.extend(j for j in read_records(f, Judgment) if judge is None or j.judge == judge)
        return out


def _holds(path: Path, judge: str, identity: str, template_hashes: tuple[str, ...]) -> tuple[bool, bool]:
    """Whether `path` holds records of the judging `identity` (an older record, which names no
    identity, by its judge and one of the judging's template hashes), and whether it holds
    records of `judge` at all."""
    if not path.exists():
        return False, False
    has_judge = False
    for rec in read_records(path, Judgment):
        if rec.identity == identity:
            return True, True
        if rec.identity is None and rec.judge == judge and rec.template.hash in template_hashes:
            return True, True
        has_judge = has_judge or rec.judge == judge
    return False, has_judge


_RECORDED_PACKAGES = ("openai", "litellm", "datasets", "transformers", "torch")


@functools.cache
def _library_versions() -> tuple[tuple[str, str], ...]:
    from importlib import metadata

    found = []
    for name in _RECORDED_PACKAGES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(found)


def versions() -> dict[str, str]:
    """justeval, Python, the platform, and the installed libraries that can change what a run sends or reads."""
    from justeval import __version__

    return {"justeval": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
            **dict(_library_versions())}


def holding(rd: RunDir, enabled: bool = True) -> AbstractContextManager[object]:
    """`rd.lock()` for a writing command (the directory made first), or nothing (a dry run)."""
    if not enabled:
        return nullcontext()
    return rd.ensure().lock()
