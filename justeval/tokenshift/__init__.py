"""Token distribution shift: how superficial is a model's alignment?

For each output of a run, a base model is run once, teacher-forced, over the prompt and the
output, and each output token's rank under the base model's next-token distribution puts it in
one of the paper's categories: unshifted (rank 1), marginal (rank 2-3), shifted (lower, or
outside the top-k). See `token_shift` (the stage), `shift_report` / `summarize` (the figures,
from the records) and `TokenShiftSettings`.
"""

from __future__ import annotations

from justeval.tokenshift.analysis import RunShift, read_token_shift, token_shift
from justeval.tokenshift.records import RECORDS_FILE, TokenShiftRecord, categorize
from justeval.tokenshift.report import (
    ModelShift,
    TokenShiftReport,
    print_progress,
    print_report,
    shift_report,
    summarize,
)
from justeval.tokenshift.settings import TokenShiftSettings

__all__ = [
    "RECORDS_FILE",
    "ModelShift",
    "RunShift",
    "TokenShiftRecord",
    "TokenShiftReport",
    "TokenShiftSettings",
    "categorize",
    "print_progress",
    "print_report",
    "read_token_shift",
    "shift_report",
    "summarize",
    "token_shift",
]
