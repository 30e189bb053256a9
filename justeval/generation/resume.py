"""Reading a run's generations for resume: the last line for an id is its current state.

`generations.jsonl` is append-only. A failed item (status `error`) is requested again on the
next run and its new record appended, so an id can appear more than once; every reader
takes the LAST line per id (`latest_generations`). Items whose latest record is `ok` are
never requested again.
"""

from __future__ import annotations

from justeval.records import Generation, ItemId
from justeval.rundir import RunDir


def latest_generations(rd: RunDir) -> dict[ItemId, Generation]:
    """id -> its last record in file order (empty when the run has no generations yet)."""
    return rd.latest_generations()
