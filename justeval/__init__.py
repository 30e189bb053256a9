"""justeval: multi-aspect alignment scoring of large language models.

The stable Python API is re-exported here (`evaluate`, `generate`, `judge`, `leaderboard`,
`load_run`, the record types and the settings models); submodules may move.
"""

from __future__ import annotations

__version__ = "0.1.0"

from justeval.api import Evaluation, Run, evaluate, generate, judge, leaderboard, leaderboard_frame, load_run
from justeval.errors import InputError, JustevalError
from justeval.records import Generation, Instruction, Judgment

__all__ = ["Evaluation", "Generation", "InputError", "Instruction", "Judgment", "JustevalError", "Run",
           "__version__", "evaluate", "generate", "judge", "leaderboard", "leaderboard_frame", "load_run"]
