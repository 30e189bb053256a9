"""Score vs K for `justeval sweep` folders: `justeval leaderboard SWEEP_DIR` / `publish SWEEP_DIR`
put every configuration's run on one board, and add the sweep's figure (mean score with its 95%
CI per K, one line per selection mode and prompt) and its K-by-configuration table.

A sweep folder is one with `sweep.json` (what `justeval sweep --out DIR` writes) and no
generations of its own: it stands for the run directories of the configurations it lists
(`DIR/<config>/`). The numbers are the board's, so from the judgments in those run directories
now: a configuration's score is its board average (the mean of its aspect means) with that
average's bootstrap CI. `sweep.json` gives only what each configuration is (K, selection mode);
where the mean it recorded is no longer what the judgments give, a note says so.

The K=0 configuration (the prompt without pool demonstrations) has no selection mode: it starts
every line of its sweep.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from justeval.board.line_chart import Point, Series, domain, line_chart
from justeval.board.publish import PageSection, SiteContext
from justeval.board.render import md_text, open_null
from justeval.board.tables import Leaderboard, ModelRow
from justeval.errors import InputError

SWEEP_FILE = "sweep.json"   # as justeval.generation.experiments writes it
CHART_FILE = "sweep.svg"


@dataclass
class SweepConfig:
    name: str
    shots: int
    select: str | None
    run_dir: Path
    recorded_mean: float | None


@dataclass
class SweepFolder:
    path: Path
    model: str
    judge: str
    prompt: str          # the prompt every configuration shares, in a few words
    configs: list[SweepConfig] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)  # config folders sweep.json does not list


def is_sweep_dir(path: str | Path) -> bool:
    path = Path(path)
    return (path / SWEEP_FILE).is_file() and not (path / "generations.jsonl").exists()


def read_sweep(path: str | Path) -> SweepFolder:
    """A sweep folder's configurations; a bad `sweep.json` is one clear error naming it."""
    path = Path(path)
    file = path / SWEEP_FILE
    try:
        data = json.loads(file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(file, f"cannot read the sweep: {exc}".splitlines()[0]) from exc
    if not isinstance(data, dict) or data.get("kind") != "sweep" or not isinstance(data.get("points"), list):
        raise InputError(file, 'not a sweep file (expected {"kind": "sweep", "points": [...]} as `justeval sweep` '
                         "writes)")
    settings: dict[str, Any] = data["settings"] if isinstance(data.get("settings"), dict) else {}
    prompt: dict[str, Any] = settings["prompt"] if isinstance(settings.get("prompt"), dict) else {}
    urial = prompt.get("urial")
    folder = SweepFolder(path=path, model=_spec(settings.get("model")), judge=_spec(settings.get("judge")),
                         prompt=f"URIAL prompt {Path(str(urial)).name}" if urial else "no URIAL prompt")
    for k, point in enumerate(data["points"]):
        try:
            name, shots = str(point["name"]), int(point["shots"])
            select = None if point.get("select") is None else str(point["select"])
            mean = point.get("mean")
            recorded = None if mean is None else float(mean)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(file, f"point {k + 1} lacks its name, shots or select ({exc!r})") from exc
        run_dir = path / name
        if not (run_dir / "generations.jsonl").is_file():
            raise InputError(file, f"configuration {name!r} has no run directory {run_dir} with generations "
                             "(moved or deleted? run the sweep again)")
        folder.configs.append(SweepConfig(name=name, shots=shots, select=select, run_dir=run_dir,
                                          recorded_mean=recorded))
    listed = {c.name for c in folder.configs}
    folder.unlisted = sorted(p.name for p in path.iterdir()
                             if p.is_dir() and p.name not in listed and (p / "generations.jsonl").is_file())
    return folder


def _spec(value: Any) -> str:
    return str(value.get("spec") or "") if isinstance(value, dict) else ""


def expand_sweeps(run_dirs: Sequence[str | Path]) -> tuple[list[Path], list[SweepFolder]]:
    """The run directories to read, a sweep folder replaced by its configurations' runs."""
    dirs: list[Path] = []
    sweeps: list[SweepFolder] = []
    for d in run_dirs:
        if is_sweep_dir(d):
            folder = read_sweep(d)
            sweeps.append(folder)
            dirs += [c.run_dir for c in folder.configs]
        else:
            dirs.append(Path(d))
    return dirs, sweeps


# -- the figures --------------------------------------------------------------------------------
@dataclass
class SweepPoint:
    folder: SweepFolder
    config: SweepConfig
    row: ModelRow


@dataclass
class SweepView:
    """The sweep folders a board was built from, each configuration's row, and the notes
    (`Leaderboard.sweep`): computed once, when the board is built, for every output."""

    folders: list[SweepFolder]
    points: list[SweepPoint]
    notes: list[str]


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def sweep_points(board: Leaderboard, sweeps: Sequence[SweepFolder]) -> tuple[list[SweepPoint], list[str]]:
    """Each configuration's board row, and notes (a recorded mean the judgments no longer give,
    a configuration sweep.json does not list)."""
    from justeval.generation.experiments import run_score

    by_source = {Path(r.source).resolve(): r for r in board.rows}
    points, notes = [], []
    for folder in sweeps:
        for c in folder.configs:
            row = by_source.get(c.run_dir.resolve())
            if row is None:
                notes.append(f"{folder.path}: configuration {c.name} has no row on the board")
                continue
            points.append(SweepPoint(folder, c, row))
            if folder.judge and c.recorded_mean is not None:
                now = run_score(c.run_dir, folder.judge).mean
                if now is None or abs(now - c.recorded_mean) > 1e-9:
                    shown = "no score" if now is None else f"{now:.3f}"
                    notes.append(f"{folder.path / SWEEP_FILE}: the mean it recorded for {c.name} "
                                 f"({c.recorded_mean:.3f}) is not what the judgments give now ({shown}); "
                                 "the figures here are from the judgments")
        if folder.unlisted:
            notes.append(f"{folder.path}: {', '.join(folder.unlisted)} not in {SWEEP_FILE} (an interrupted "
                         "configuration?) and left out; run the sweep again to finish it")
    return points, notes


def _line_name(folder: SweepFolder, select: str, several: bool) -> str:
    return f"{folder.path.name}: {select} ({folder.prompt})" if several else f"{select} ({folder.prompt})"


def lines(points: Sequence[SweepPoint]) -> dict[str, list[SweepPoint]]:
    """Line name -> its points in K order; K=0 starts every line of its folder."""
    folders = list(dict.fromkeys(id(p.folder) for p in points))
    several = len(folders) > 1
    out: dict[str, list[SweepPoint]] = {}
    for fid in folders:
        mine = [p for p in points if id(p.folder) == fid]
        selects = list(dict.fromkeys(p.config.select for p in mine if p.config.select is not None)) or ["k0 only"]
        zero = [p for p in mine if p.config.select is None]
        for select in selects:
            name = _line_name(mine[0].folder, select, several)
            out[name] = sorted(zero + [p for p in mine if p.config.select == select], key=lambda p: p.config.shots)
    return out


def sweep_json(points: Sequence[SweepPoint], notes: Sequence[str]) -> dict[str, Any]:
    """The `sweep` key of the board's JSON: every configuration's score, and the lines."""
    return {"configs": [{"folder": str(p.folder.path), "name": p.config.name, "shots": p.config.shots,
                         "select": p.config.select, "prompt": p.folder.prompt, "model": p.row.model,
                         "run_dir": str(p.config.run_dir), "mean": _num(p.row.average.mean),
                         "ci_low": _num(p.row.average.ci_low), "ci_high": _num(p.row.average.ci_high),
                         "judged": p.row.counts.get("judged", 0), "recorded_mean": p.config.recorded_mean}
                        for p in points],
            "lines": {name: [p.config.name for p in ps] for name, ps in lines(points).items()},
            "notes": list(notes)}


def _cell(p: SweepPoint | None) -> str:
    if p is None or math.isnan(p.row.average.mean):
        return "-"
    a = p.row.average
    ci = "" if math.isnan(a.ci_low) or math.isnan(a.ci_high) else f" [{a.ci_low:.2f}, {a.ci_high:.2f}]"
    return f"{a.mean:.2f}{ci}"


def table(points: Sequence[SweepPoint]) -> tuple[list[str], list[list[str]]]:
    """K rows, one column per line: the mean score and its 95% CI."""
    named = lines(points)
    ks = sorted({p.config.shots for p in points})
    rows = []
    for k in ks:
        rows.append([str(k), *(_cell(next((p for p in ps if p.config.shots == k), None)) for ps in named.values())])
    return ["K", *named], rows


def to_markdown(points: Sequence[SweepPoint], notes: Sequence[str]) -> str:
    header, rows = table(points)
    out = ["## Score vs K", "", "Average judge score (mean of the aspect means) with its 95% CI, per number of "
           "demonstrations K and configuration.", "",
           "| " + " | ".join(md_text(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in rows]
    out += ["", *(f"- {md_text(n)}" for n in notes)]
    return "\n".join(out).rstrip() + "\n"


def rich_table(points: Sequence[SweepPoint], notes: Sequence[str]) -> Any:
    """The K table for the terminal (names as text, never as rich markup)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    header, rows = table(points)
    out = Table(title="Score vs K (average, 95% CI)")
    for k, h in enumerate(header):
        out.add_column(Text(h), justify="right" if k == 0 else "left")
    for row in rows:
        out.add_row(*(Text(c) for c in row))
    return Group(out, *(Text(f"note: {n}") for n in notes))


def to_text(points: Sequence[SweepPoint], notes: Sequence[str], width: int = 200) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, file=open_null(), color_system=None)
    console.print(rich_table(points, notes))
    return console.export_text()


def render_chart(points: Sequence[SweepPoint]) -> str:
    ks = sorted({p.config.shots for p in points})
    where = {k: n for n, k in enumerate(ks)}
    series = []
    for name, ps in lines(points).items():
        pts = []
        for p in ps:
            a = p.row.average
            if math.isnan(a.mean):
                continue
            ci = "" if math.isnan(a.ci_low) else f" [{a.ci_low:.3f}, {a.ci_high:.3f}]"
            pts.append(Point(where[p.config.shots], a.mean, _num(a.ci_low), _num(a.ci_high),
                             tip=f"{name}, K={p.config.shots}: {a.mean:.3f}{ci} ({p.row.model})"))
        series.append(Series(name, pts))
    return line_chart("Score vs K demonstrations (95% CI)", [str(k) for k in ks], series,
                      x_title="K (demonstrations added)", y_title="average score",
                      y_range=domain(series, floor=1.0, ceiling=5.0), y_format="{:.2f}", css_class="sweep-chart")


def section(points: Sequence[SweepPoint], notes: Sequence[str]) -> PageSection:
    header, rows = table(points)
    e = escape
    chart = render_chart(points)
    folders = list(dict.fromkeys(str(p.folder.path) for p in points))
    models = sorted({p.folder.model for p in points if p.folder.model})
    judges = sorted({p.folder.judge for p in points if p.folder.judge})
    html = ['<h2>Score vs K</h2><p class="hint">', e(f"Sweep of {', '.join(models) or 'a model'} judged by "
            f"{', '.join(judges) or 'its judge'} ({', '.join(folders)}): the average score (mean of the aspect "
            "means) of each configuration with its 95% bootstrap CI, from the judgments in its run directory; "
            "K=0 starts every line."), "</p>",
            f'<div class="scroll chart">{chart}</div>', '<div class="scroll"><table class="sweep"><thead><tr>']
    html += [f"<th>{e(h)}</th>" for h in header]
    html.append("</tr></thead><tbody>")
    for row in rows:
        html.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
    html.append("</tbody></table></div>")
    if notes:
        html.append('<ul class="notes">' + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    return PageSection(id="sweep", title="Score vs K", html=Markup("".join(html)),
                       json={"sweep": sweep_json(points, notes)}, files={CHART_FILE: chart}, place="after-chart")


def section_maker() -> Any:
    """The `publish_site` maker of the score-vs-K section (None unless the board has sweep points)."""

    def make(site: SiteContext) -> PageSection | None:
        view = site.board.sweep
        return section(view.points, view.notes) if view is not None and view.points else None

    return make
