"""Fixtures of the judge-validity tests: small labelled sets the tests write, a loopback file
server laid out like raw.githubusercontent.com, and stub judges that read the prompt."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest


class RawFiles:
    """A loopback HTTP server serving `root` (paths `/<owner>/<repo>/<commit>/<file>`), counting
    the requests it answers."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        files = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # the stdlib's name
                files.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                       functools.partial(Handler, directory=str(root)))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def put(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


@pytest.fixture
def raw_files(tmp_path: Path) -> Iterator[RawFiles]:
    srv = RawFiles(tmp_path / "raw")
    (tmp_path / "raw").mkdir()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.server.shutdown()
        srv.server.server_close()
