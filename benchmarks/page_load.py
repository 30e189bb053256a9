"""Benchmark: the published page of 50 models x 1,000 items, opened in headless Chromium.

Writes the synthetic runs of `leaderboard_build.py` (50 models x 1,000 items by default),
publishes them with `justeval publish` (wall time and peak resident memory from
/usr/bin/time), prints the size of `index.html` and of its side files, then opens the page
from file:// in headless Chromium, driven over the DevTools protocol, several times over and
prints the median of:

- first contentful paint and DOMContentLoaded (the leaderboard table is the first content);
- the load event;
- items ready: the item browser's first page drawn with its outputs loaded;
- filter: choosing a dataset, then a model, in the item browser (the redraw, in the page);
- search: typing a word that occurs in outputs, until every output file it needs has loaded
  and the result is drawn.

Targets: the page under 15 MB, the table on screen in under 2 s, a filter within 200 ms.

    python benchmarks/page_load.py [--models 50] [--items 1000] [--repeat 3] [--site DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.leaderboard.devtools import chromium_page

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

TIME = "/usr/bin/time"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("headless Chromium is needed (chromium on PATH)")


def publish(run_dirs: list[Path], site: Path, scratch: Path) -> tuple[float, float]:
    """(wall s, peak RSS MB) of `justeval publish`."""
    report = scratch / "time.txt"
    cmd = [sys.executable, "-m", "justeval", "publish", *map(str, run_dirs), "--out", str(site)]
    start = time.perf_counter()
    proc = subprocess.run([TIME, "-f", "%M", "-o", str(report), *cmd], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"publish failed: {proc.stderr[-2000:]}")
    return wall, int(report.read_text().split()[-1]) / 1024


SETTLE = """new Promise(function (done) {
  var t0 = performance.now();
  (function wait() {
    var b = window.justevalBrowser;
    if (b && b.busy && b.busy() && performance.now() - t0 < 60000) { setTimeout(wait, 5); return; }
    done(performance.now());
  })();
})"""

MEASURE = """(async function () {
  function settle() { return SETTLE; }
  var ds = document.getElementById("f-dataset"), fm = document.getElementById("f-model"),
      ft = document.getElementById("f-text");
  var out = {};
  var t0 = performance.now();
  ds.value = ds.options[ds.options.length - 1].value; ds.dispatchEvent(new Event("change"));
  out.filter_dataset_ms = performance.now() - t0;
  await settle();
  t0 = performance.now();
  fm.value = fm.options[fm.options.length - 1].value; fm.dispatchEvent(new Event("change"));
  out.filter_model_ms = performance.now() - t0;
  await settle();
  ds.value = ""; ds.dispatchEvent(new Event("change")); fm.value = ""; fm.dispatchEvent(new Event("change"));
  await settle();
  t0 = performance.now();
  ft.value = "detail"; ft.dispatchEvent(new Event("input"));
  out.search_first_draw_ms = performance.now() - t0;
  out.search_ms = (await settle()) - t0;
  out.count = document.getElementById("item-count").textContent;
  return out;
})()""".replace("SETTLE", SETTLE)


async def open_page(browser: str, url: str, profile: Path) -> dict[str, Any]:
    async with chromium_page(browser, profile) as tools:
        load_wall = await tools.open(url)
        ready = await tools.js(SETTLE)
        timing = await tools.js("""(function () {
          var nav = performance.getEntriesByType("navigation")[0];
          var fcp = performance.getEntriesByName("first-contentful-paint")[0];
          var board = document.getElementById("board");
          return {fcp: fcp ? fcp.startTime : null, dcl: nav.domContentLoadedEventEnd,
                  load: nav.loadEventEnd, rows: board ? board.tBodies[0].rows.length : 0};
        })()""")
        measured = await tools.js(MEASURE)
    return {"load_wall_s": load_wall, "ready_ms": ready, **timing, **measured}


def screenshot_wall(browser: str, url: str, profile: Path) -> float:
    """Seconds for a headless Chromium process to open `url`, wait for its load event and
    save a screenshot: what `chromium --headless --screenshot` costs a user or a test."""
    start = time.perf_counter()
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900",
                    f"--user-data-dir={profile}", f"--screenshot={profile / 'shot.png'}", url],
                   capture_output=True, timeout=300, check=False)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--site", type=Path, help="open this published site instead of writing one")
    args = ap.parse_args()
    browser = chromium()
    with tempfile.TemporaryDirectory(prefix="justeval-page-") as tmp:
        root = Path(tmp)
        site = args.site
        if site is None:
            from leaderboard_build import write_runs

            dirs = write_runs(root / "runs", args.models, args.items)
            site = root / "site"
            wall, rss = publish(dirs, site, root)
            print(f"publish: {args.models} models x {args.items} items in {wall:.1f} s, peak {rss:.0f} MB resident")
        page_mb = (site / "index.html").stat().st_size / 2**20
        side = list((site / "items").glob("*.js")) if (site / "items").is_dir() else []
        print(f"page: index.html {page_mb:.1f} MB (target < 15 MB); items/ {len(side)} side files, "
              f"{sum(p.stat().st_size for p in side) / 2**20:.0f} MB in all")
        runs = [asyncio.run(open_page(browser, (site / "index.html").as_uri(), root / f"profile{k}"))
                for k in range(args.repeat)]
        shot = statistics.median(screenshot_wall(browser, (site / "index.html").as_uri(), root / f"shot{k}")
                                 for k in range(args.repeat))
        blank = statistics.median(screenshot_wall(browser, "about:blank", root / f"blank{k}")
                                  for k in range(args.repeat))
    med = {k: statistics.median(r[k] for r in runs if isinstance(r[k], (int, float))) for k in runs[0]
           if any(isinstance(r[k], (int, float)) for r in runs)}
    fcp = f"{med['fcp'] / 1000:.2f} s" if "fcp" in med else "not reported"  # headless may not report a paint
    print(f"Chromium, median of {args.repeat} loads: first contentful paint {fcp}, "
          f"DOMContentLoaded {med['dcl'] / 1000:.2f} s (target: table on screen < 2 s), load event "
          f"{med['load'] / 1000:.2f} s, items ready {med['ready_ms'] / 1000:.2f} s; {int(med['rows'])} rows")
    print(f"item browser: dataset filter {med['filter_dataset_ms']:.0f} ms, model filter "
          f"{med['filter_model_ms']:.0f} ms (target < 200 ms); search over every output: first draw "
          f"{med['search_first_draw_ms']:.0f} ms, complete {med['search_ms']:.0f} ms ({runs[-1]['count']})")
    print(f"chromium --headless --screenshot of the page: {shot:.2f} s wall (of about:blank: {blank:.2f} s)")


if __name__ == "__main__":
    main()
