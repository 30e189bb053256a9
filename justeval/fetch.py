"""Every download justeval makes goes through here: instruction sources and lite ids, judge
templates and URIAL prompts given by URL, human-labelled sets. One offline rule, one size cap,
one error form, and an optional cache, instead of a fetcher per caller.

- Offline when any of JUSTEVAL_OFFLINE, HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is "1": nothing is
  sent and the error says what to pass instead (a cached copy is still served).
- Only http(s) URLs; redirects are followed (GitHub raw files redirect).
- A reply larger than `max_bytes` is refused (a hostile or mistaken URL cannot fill memory).
- $HF_TOKEN is sent to huggingface.co only, over https (gated datasets such as LIMA need it).
- `cache=True` keeps the bytes under the cache folder (`downloads/`), keyed by URL: for files
  published at a fixed address (the labelled sets), so a second run needs no network.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from pathlib import Path
from typing import Any

from justeval.errors import InputError, SourceUnavailableError

OFFLINE_VARIABLES = ("JUSTEVAL_OFFLINE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_TIMEOUT_S = 60.0
_HF_HOSTS = ("huggingface.co",)


def offline() -> bool:
    """Whether the user asked for no network (any of OFFLINE_VARIABLES set to 1)."""
    return any(os.environ.get(name) == "1" for name in OFFLINE_VARIABLES)


def is_url(ref: str | Path | None) -> bool:
    return isinstance(ref, str) and ref.startswith(("http://", "https://"))


def _cache_path(url: str) -> Path:
    from justeval.engine.cache import default_cache_dir

    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]
    return default_cache_dir() / "downloads" / digest


def fetch_bytes(url: str, *, what: str, hint: str, timeout: float = DEFAULT_TIMEOUT_S,
                max_bytes: int = DEFAULT_MAX_BYTES, cache: bool = False) -> bytes:
    """GET `url`; `what` names the thing in errors ("judge template"), `hint` says what to do
    without network ("download it and pass the file path"). Any failure is one line:
    SourceUnavailableError for the network, InputError for a reply over `max_bytes`."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InputError(url, f"{what}: only http(s) URLs can be fetched")
    if parsed.username or parsed.password:
        raise InputError(parsed._replace(netloc=parsed.hostname).geturl(),
                         f"{what}: a URL with a user name or password is refused (it would be recorded)")
    stored = _cache_path(url) if cache else None
    if stored is not None and stored.is_file():
        return stored.read_bytes()
    if offline():
        raise SourceUnavailableError(f"offline mode: cannot fetch {what} {url}; {hint}")
    data = _download(url, parsed, what=what, hint=hint, timeout=timeout, max_bytes=max_bytes)
    if stored is not None:
        from justeval.jsonl import atomic_output

        try:
            with atomic_output(stored, "wb") as fh:
                fh.write(data)
        except Exception:
            pass
    return data


def _download(url: str, parsed: urllib.parse.ParseResult, *, what: str, hint: str, timeout: float,
              max_bytes: int) -> bytes:
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "justeval"})
    token = os.environ.get("HF_TOKEN")
    if token and parsed.scheme == "https" and parsed.hostname in _HF_HOSTS:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            data = resp.read(max_bytes + 1)
    except Exception as exc:
        from justeval.redact import redact

        raise SourceUnavailableError(f"cannot fetch {what} {url} ({redact(str(exc))[:200]}); {hint}") from exc
    if len(data) > max_bytes:
        raise InputError(url, f"{what} is larger than {max_bytes // (1024 * 1024)} MB; refused")
    return data


def fetch_text(url: str, *, what: str, hint: str, **options: Any) -> str:
    data = fetch_bytes(url, what=what, hint=hint, **options)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(url, f"{what} is not UTF-8 text (byte {exc.start})") from exc


def fetch_json(url: str, *, what: str, hint: str, **options: Any) -> Any:
    from justeval.jsonl import parse_json

    return parse_json(fetch_text(url, what=what, hint=hint, **options), url)
