"""justeval: multi-aspect alignment scoring of large language models.

The public names are re-exported here; submodules may move.
"""

from __future__ import annotations

__version__ = "0.1.0"

from justeval.errors import InputError, JustevalError
from justeval.records import Generation, Instruction, Judgment

__all__ = ["Generation", "InputError", "Instruction", "Judgment", "JustevalError", "__version__"]
