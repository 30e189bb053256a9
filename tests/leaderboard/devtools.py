"""Headless Chromium driven over the DevTools protocol (a websocket, through aiohttp).

`chromium --dump-dom` cannot lay a page out narrower than 500 px, so a phone cannot be tried
with it; here the page gets a phone's viewport (Emulation.setDeviceMetricsOverride: 390 px,
device scale 3, mobile), as Chromium's own device mode does. `benchmarks/page_load.py` uses
the same client to time the page.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


class DevTools:
    """The few protocol calls the tests and the benchmark need, over one page's websocket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.replies:
                self.replies.pop(data["id"]).set_result(data)
            else:
                self.events.put_nowait(data)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[self.next_id] = fut
        await self.ws.send_str(json.dumps({"id": self.next_id, "method": method, "params": params}))
        reply = await asyncio.wait_for(fut, 120)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def event(self, name: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            data = await asyncio.wait_for(self.events.get(), max(0.01, deadline - time.monotonic()))
            if data.get("method") == name:
                return data

    async def js(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page error: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def open(self, url: str) -> float:
        """Navigate and wait for the load event; returns the seconds it took."""
        await self.call("Page.enable")
        await self.call("Runtime.enable")
        start = time.perf_counter()
        await self.call("Page.navigate", url=url)
        await self.event("Page.loadEventFired")
        return time.perf_counter() - start


@asynccontextmanager
async def chromium_page(browser: str, profile: Path, *, window: str = "1400,900") -> AsyncIterator[DevTools]:
    """A headless Chromium with one blank page, for as long as the block runs."""
    import aiohttp

    proc = await asyncio.create_subprocess_exec(
        browser, *FLAGS, f"--window-size={window}", f"--user-data-dir={profile}", "--remote-debugging-port=0",
        "about:blank", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stderr is not None
        ws_url = None
        while ws_url is None:
            line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
            if not line:
                raise RuntimeError("Chromium exited before it listened")
            if "DevTools listening on" in line:
                ws_url = line.split("DevTools listening on", 1)[1].strip()
        port = ws_url.split(":")[2].split("/")[0]
        async with aiohttp.ClientSession() as http:
            targets = await (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
            page = next(t for t in targets if t.get("type") == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                tools = DevTools(ws)
                try:
                    yield tools
                finally:
                    tools.reader.cancel()
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def _phone_probe(browser: str, url: str, profile: Path, width: int, height: int,
                       screenshot: Path | None) -> dict[str, Any]:
    async with chromium_page(browser, profile) as page:
        await page.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=3,
                        mobile=True)
        await page.open(url)
        text = ""
        for _ in range(600):  # the test hook reports once the output files it asked for are in
            text = await page.js("(document.getElementById('test-output') || {}).textContent || ''")
            if '"late":true' in text:
                break
            await asyncio.sleep(0.05)
        if screenshot is not None:
            import base64

            shot = await page.call("Page.captureScreenshot", format="png")
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        result: dict[str, Any] = json.loads(text)
        return result


def phone_probe(browser: str, url: str, profile: Path, *, width: int = 390, height: int = 844,
                screenshot: Path | None = None) -> dict[str, Any]:
    """The test hook's report for `url` (which carries ?test=...) in a phone-sized viewport."""
    return asyncio.run(_phone_probe(browser, url, profile, width, height, screenshot))
