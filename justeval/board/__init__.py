"""Leaderboards from judgments: tables with bootstrap CIs, breakdowns, paired comparisons,
bias diagnostics, a stable JSON schema and a static page.

    from justeval.board import build_leaderboard, Settings
    built = build_leaderboard(["runs/a", "runs/b"], settings=Settings(na_as=5))
    built.board.rows[0].aspects["helpfulness"].mean
"""

from __future__ import annotations

from justeval.board.build import Built, build_leaderboard
from justeval.board.tables import Leaderboard, Settings
from justeval.board.upstream import judgments_from_upstream

__all__ = ["Built", "Leaderboard", "Settings", "build_leaderboard", "judgments_from_upstream"]
