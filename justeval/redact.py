"""Keep API keys out of everything justeval writes or prints.

Keys are only read from the environment, but a server may echo one back (some proxies quote
the Authorization header in their error messages), and that text would land in a record's
`error`. Every record line and run.json pass through `redact`, which replaces the value of
any environment variable whose name looks like a credential (…KEY, …TOKEN, …SECRET, …PASSWORD)
and any value registered with `register_secret`.

A key is also found in the forms it takes once quoted, however many times: JSON escapes a `"`
or a `\\` in it (`\\"`, `\\\\`), a control or non-ASCII character (`\\t`, `\\u00e9`), Python's repr
escapes its own way, and a reply quoted inside a record's `raw` or `error` is escaped again. So a
key holding any character but the plain ones is matched by a pattern that allows any number of
backslashes before each such character and any of its escape codes.
"""

from __future__ import annotations

import functools
import os
import re

_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)
_MIN_LEN = 8  # shorter values would match ordinary text
_registered: set[str] = set()
MASK = "[redacted]"


def register_secret(value: str | None) -> None:
    """Also mask `value` (e.g. a key read from a variable with an unusual name)."""
    if value and len(value) >= _MIN_LEN:
        _registered.add(value)


def secrets() -> list[str]:
    found = {v for k, v in os.environ.items() if _NAME.search(k) and len(v) >= _MIN_LEN}
    return sorted(found | _registered, key=len, reverse=True)


#: characters no JSON encoder or repr escapes (a key made only of these is found as itself)
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~+=:@,;!$%&()*[]{}<>?|^`# ")
_NAMED = {"\t": "t", "\n": "n", "\r": "r", "\b": "b", "\f": "f"}


def _char_pattern(ch: str) -> str:
    if ch in _PLAIN:
        return re.escape(ch)
    if ch == "\\":
        return r"\\+"
    if ch in "\"'/":
        return r"\\*" + re.escape(ch)
    code = ord(ch)
    if code <= 0xFFFF:
        escapes = [f"u{code:04x}"]
    else:  # repr's \U0001f600, or JSON's surrogate pair \ud83d\ude00
        high, low = divmod(code - 0x10000, 0x400)
        escapes = [f"U{code:08x}", f"u{0xD800 + high:04x}" + r"\\+" + f"u{0xDC00 + low:04x}"]
    if code <= 0xFF:
        escapes.append(f"x{code:02x}")
    if ch in _NAMED:
        escapes.append(_NAMED[ch])
    return "(?:" + re.escape(ch) + r"|\\+(?i:" + "|".join(escapes) + "))"


@functools.lru_cache(maxsize=256)
def quoted_pattern(secret: str) -> re.Pattern[str] | None:
    """The pattern of `secret` quoted any number of times; None when it has only plain characters."""
    if all(ch in _PLAIN for ch in secret):
        return None
    return re.compile("".join(_char_pattern(ch) for ch in secret))


def redact(text: str) -> str:
    for secret in secrets():
        if secret in text:
            text = text.replace(secret, MASK)
        pattern = quoted_pattern(secret)
        if pattern is not None:
            text = pattern.sub(MASK, text)
    return text
