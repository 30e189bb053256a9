"""Pairwise LLM judging and the human-review round trip (export, label import, agreement)."""
