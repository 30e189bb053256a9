"""Keep API keys out of everything justeval writes or prints.

Keys are only read from the environment, but a server may echo one back (some proxies quote
the Authorization header in their error messages), and that text would land in a record's
`error`. Every record line and run.json pass through `redact`, which replaces the value of
any environment variable whose name looks like a credential (…KEY, …TOKEN, …SECRET, …PASSWORD)
and any value registered with `register_secret`.
"""

from __future__ import annotations

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


def redact(text: str) -> str:
    for secret in secrets():
        if secret in text:
            text = text.replace(secret, MASK)
    return text
