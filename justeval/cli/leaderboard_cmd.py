"""(placeholder: commands are registered here by the stage that owns them)"""

from __future__ import annotations

from justeval.cli.app import app  # noqa: F401
