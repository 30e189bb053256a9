"""One command, four stages: instructions -> generation -> judging -> leaderboard."""

from __future__ import annotations

from justeval.pipeline.flags import read_config, resolve_run_settings, run_settings_from_flags
from justeval.pipeline.run import PipelineResult, run_pipeline

__all__ = ["PipelineResult", "read_config", "resolve_run_settings", "run_pipeline", "run_settings_from_flags"]
