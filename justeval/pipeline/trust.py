"""A `--config` that did not come from a run made on this machine is a stranger's, and a
stranger's file must not choose which local files are read and sent, where outputs are
written, or which servers get the user's key without the user seeing it.

- Every run.json this machine writes carries an `origin` mark: an HMAC of the run directory's
  real path under a random key kept in the user's cache folder (never in the run). A run.json
  whose mark checks out is this machine's own; anything else (a copied run.json, a YAML config)
  is foreign.
- For a foreign config, local paths are resolved against the config's own folder, and one
  that leaves the folder (`../`, an absolute path elsewhere, a symlink out) is refused: pass such
  a path on the command line instead, where it is the user's own choice. The same holds for the
  places it would write (`out`, `cache_dir`).
- Before anything is sent, the endpoints (with the name of the key variable each receives) and
  the local files are printed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from justeval.errors import InputError

if TYPE_CHECKING:
    from justeval.engine.backend_spec import BackendSpec
    from justeval.settings import RunSettings

_KEY_FILE = "origin.key"


def _machine_key() -> bytes:
    from justeval.engine.cache import default_cache_dir

    folder = default_cache_dir()
    path = folder / _KEY_FILE
    try:
        return path.read_bytes()
    except OSError:
        pass
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # the cache folder: the user's alone
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def origin_mark(run_dir: str | Path) -> str:
    """The mark of a run directory written on this machine (see the module docstring)."""
    where = str(Path(run_dir).resolve()).encode("utf-8")
    return hmac.new(_machine_key(), where, hashlib.sha256).hexdigest()[:32]


def is_own_run(run_json: Path, mark: str | None) -> bool:
    """Whether `run_json` was written by a run on this machine, in the folder it is in now."""
    if not mark:
        return False
    try:
        return hmac.compare_digest(mark, origin_mark(run_json.parent))
    except OSError:
        return False


def _is_local(value: str, folder: Path) -> bool:
    """Whether a setting's value names a local file or folder (not a URL, hub id or built-in name)."""
    if "://" in value:
        return False
    path = Path(value).expanduser()
    return (path.is_absolute() or value.startswith((".", "~")) or (folder / path).exists()
            or (Path.cwd() / path).exists())


def _confined(value: str | None, folder: Path, what: str, config: Path, *, always: bool = False) -> str | None:
    if value is None or not (always or _is_local(value, folder)):
        return value
    path = Path(value).expanduser()
    resolved = (path if path.is_absolute() else folder / path).resolve()
    if resolved != folder and folder not in resolved.parents:
        raise InputError(config, f"{what} {value!r} is outside the config's folder; a config that was not written "
                         f"by a run on this machine may only name files beside it (pass {what} on the command "
                         "line to use that path)")
    return str(resolved)


def confine(settings: RunSettings, config: Path, given: set[str]) -> RunSettings:
    """`settings` of a foreign config with its local paths resolved inside the config's folder;
    options in `given` came from the command line and are kept as they are."""
    folder = config.resolve().parent

    def keep(flag: str, value: str | None, *, always: bool = False) -> str | None:
        return value if flag in given else _confined(value, folder, f"--{flag.replace('_', '-')}", config,
                                                     always=always)

    gen = settings.generate
    prompt = gen.prompt.model_copy(update={"urial": keep("urial", gen.prompt.urial),
                                           "icl_examples": keep("icl_examples", gen.prompt.icl_examples)})
    cache = keep("cache_dir", str(gen.engine.cache_dir) if gen.engine.cache_dir else None, always=True)
    gen = gen.model_copy(update={
        "instructions": keep("instructions", gen.instructions), "prompt": prompt,
        "engine": gen.engine.but(cache_dir=cache),
        "selection": gen.selection.model_copy(update={"lite_ids": keep("instructions", gen.selection.lite_ids)})})
    judging = []
    for j in settings.judging:
        jcache = keep("cache_dir", str(j.engine.cache_dir) if j.engine.cache_dir else None, always=True)
        judging.append(j.model_copy(update={"template_multi": keep("template_multi", j.template_multi),
                                            "template_safety": keep("template_safety", j.template_safety),
                                            "engine": j.engine.but(cache_dir=jcache)}))
    out = keep("out", settings.out, always=True) or settings.out
    return settings.model_copy(update={"generate": gen, "judging": judging, "out": out})


def _key_name(spec: BackendSpec) -> str:
    if spec.api_key_env:
        return f"${spec.api_key_env}"
    return {"openai": "$OPENAI_API_KEY (if set)", "litellm": "the provider's key variable"}.get(spec.kind, "no key")


def _endpoint(role: str, spec: BackendSpec) -> str:
    where = ", ".join(spec.base_urls) if spec.base_urls else f"the {spec.kind} provider's own API"
    return f"{role} {spec.spec} at {where} (key: {_key_name(spec)})"


def describe(settings: RunSettings) -> list[str]:
    """What a run will send where and which local files it reads, one line each."""
    lines = [_endpoint("model", settings.generate.model)]
    lines += [_endpoint("judge", j.judge) for j in settings.judging]
    files: list[Any] = [settings.generate.instructions, settings.generate.prompt.urial,
                        settings.generate.prompt.icl_examples]
    for j in settings.judging:
        files += [j.template_multi, j.template_safety]
    shown = [str(f) for f in dict.fromkeys(files) if isinstance(f, str) and (Path(f).is_absolute() or "://" in f)]
    lines += [f"reads {f}" for f in shown]
    lines.append(f"writes {settings.out}")
    return lines
