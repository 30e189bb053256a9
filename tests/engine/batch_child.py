"""A batch-mode engine run in its own process, for the tests that kill it (SIGKILL) between a
batch's creation and its download, then resume in the test process.

    python -m tests.engine.batch_child BASE_URL STATE_DIR N
"""

from __future__ import annotations

import sys
from pathlib import Path

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.engine import Engine, EngineConfig
from tests.engine.conftest import chat_request


def batch_requests(n: int) -> list:  # type: ignore[type-arg]
    """The requests both the child and the resuming test send (same content, same keys)."""
    return [chat_request(str(i), f"judge item {i}") for i in range(n)]


def main() -> None:
    base_url, state_dir, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    config = EngineConfig(batch=True, batch_dir=state_dir, batch_poll_s=0.05, progress=False, retry_base_s=0.01)
    spec = BackendSpec(spec="openai:judge-model", base_urls=[base_url])
    Engine(spec, config).run_sync(batch_requests(n), lambda result: print("delivered", result.request.key, flush=True))


if __name__ == "__main__":
    main()
