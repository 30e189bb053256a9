"""LLM judging: judge templates, reply parsing and the judge stage over a run directory."""

from __future__ import annotations
