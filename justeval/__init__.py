"""justeval: multi-aspect alignment scoring of large language models.

The public names are re-exported here; submodules may move. They are imported on first use
(PEP 562 `__getattr__`), so `justeval --help` does not build the pydantic record models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from justeval.errors import InputError, JustevalError
    from justeval.records import Generation, Instruction, Judgment

__all__ = ["Generation", "InputError", "Instruction", "Judgment", "JustevalError", "__version__"]

_LAZY = {"InputError": "justeval.errors", "JustevalError": "justeval.errors", "Generation": "justeval.records",
         "Instruction": "justeval.records", "Judgment": "justeval.records"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'justeval' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
