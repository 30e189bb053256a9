"""justeval: multi-aspect alignment scoring of large language models.

The stable Python API is re-exported here (`evaluate`, `generate`, `judge`, `leaderboard`,
`load_run`, the record types and the settings models); submodules may move. The names are
imported on first use (PEP 562 `__getattr__`), so `justeval --help` builds no pydantic model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from justeval.api import Evaluation, Run, evaluate, generate, judge, leaderboard, leaderboard_frame, load_run
    from justeval.errors import InputError, JustevalError
    from justeval.records import Generation, Instruction, Judgment

__all__ = ["Evaluation", "Generation", "InputError", "Instruction", "Judgment", "JustevalError", "Run",
           "__version__", "evaluate", "generate", "judge", "leaderboard", "leaderboard_frame", "load_run"]

_LAZY = {
    **dict.fromkeys(["Evaluation", "Run", "evaluate", "generate", "judge", "leaderboard", "leaderboard_frame",
                     "load_run"], "justeval.api"),
    **dict.fromkeys(["InputError", "JustevalError"], "justeval.errors"),
    **dict.fromkeys(["Generation", "Instruction", "Judgment"], "justeval.records"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'justeval' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
