"""One command, four stages: instructions -> generation -> judging -> leaderboard."""

from __future__ import annotations

from justeval.pipeline.config import PipelineConfig, read_config_file, resolve_config
from justeval.pipeline.run import PipelineResult, run_pipeline

__all__ = ["PipelineConfig", "PipelineResult", "read_config_file", "resolve_config", "run_pipeline"]
