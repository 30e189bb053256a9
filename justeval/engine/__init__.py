"""The engine (concurrency, limits, retries, cache, cost) and the backends it drives."""

from justeval.engine import backends as backends  # registers the built-in backend kinds
