"""Terminal output of judge-eval (rich) and the Markdown comparison table: every number shown
is read from the report, and a figure the report does not have shows as "-", never 0."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from justeval.console import console as make_console
from justeval.engine.pricing import cost_text
from justeval.validity.records import Figures, Interval, JudgeEvalReport
from justeval.validity.run import JudgeEvalResult, JudgePass

NONE = "-"


def pct(x: float | None) -> str:
    return NONE if x is None else f"{x * 100:.2f}%"


def num(x: float | None, digits: int = 3) -> str:
    return NONE if x is None else f"{x:.{digits}f}"


def ci_text(ci: Interval | None) -> str:
    return NONE if ci is None else f"{ci.low * 100:.1f}-{ci.high * 100:.1f}%"


def _title(r: JudgeEvalReport) -> str:
    what = f"{r.mode}" + (f", aspect {r.aspect}" if r.aspect else "") + (
        f", tie within {r.tie_margin:g}" if r.tie_margin else "")
    return f"Judge {r.judge} on {r.set} ({what}): {r.n} pair(s) measured"


def figures_table(title: str, f: Figures) -> Table:
    table = Table(title=title)
    for col in ("figure", "judge", "95% CI", "without ties", "95% CI w/o ties", "people"):
        table.add_column(col, justify="left" if col == "figure" else "right")
    a, w, ci, wci = f.accuracy, f.accuracy_without_ties, f.ci, f.ci_without_ties
    for name, attr in (("set's order", "first_order"), ("swapped", "second_order"), ("average", "average"),
                       ("both orders", "both")):
        table.add_row(f"accuracy, {name}", pct(getattr(a, attr)), ci_text(getattr(ci, attr)), pct(getattr(w, attr)),
                      ci_text(getattr(wci, attr)), "")
    table.add_row("consistency (orders agree)", pct(f.consistency), "", "", "", "")
    table.add_row("tie rate", pct(f.tie_rate), "", "", "",
                  pct(f.humans.label_counts.get("tie", 0) / f.n) if f.n else NONE)
    table.add_row("unreadable verdicts", str(f.unreadable), "", "", "", "")
    people = f.humans.kappa or {}
    ceiling = [v for v in people.values() if v is not None]
    table.add_row("kappa with the majority", num(f.kappa.majority), "", "", "",
                  f"{sum(ceiling) / len(ceiling):.3f} (mean pair)" if ceiling else NONE)
    if len(f.kappa.annotators) > 1:
        for who, k in f.kappa.annotators.items():
            table.add_row(f"kappa with {who}", num(k), "", "", "", "")
    table.add_row("picks the answer shown first", pct(f.bias.first_position), "", "", "", pct(f.bias.human_first))
    table.add_row("picks the longer answer", pct(f.bias.longer), "", "", "", pct(f.bias.human_longer))
    return table


def print_report(r: JudgeEvalReport, console: Console | None = None) -> None:
    console = console or make_console()
    if r.n == 0:
        console.print(f"{_title(r)}: nothing to report yet")
    else:
        console.print(figures_table(_title(r), r))
    h = r.humans
    if h.kappa:
        pairs = ", ".join(f"{k} {num(v)}" for k, v in h.kappa.items())
        console.print(f"people: {len(h.annotators)} annotators ({', '.join(h.annotators)}), kappa {pairs}; "
                      f"majority labels tie/1/2 = {h.label_counts.get('tie', 0)}/{h.label_counts.get('1', 0)}/"
                      f"{h.label_counts.get('2', 0)}", soft_wrap=True)
    else:
        console.print(f"people: one label per pair ({', '.join(h.annotators) or NONE}); labels tie/1/2 = "
                      f"{h.label_counts.get('tie', 0)}/{h.label_counts.get('1', 0)}/{h.label_counts.get('2', 0)}",
                      soft_wrap=True)
    if r.subsets:
        console.print(subsets_table(r))
    if r.panel is not None:
        console.print(comparison_table("Panel members, each alone", r.members))
        console.print(f"panel: {r.panel.method} of {len(r.panel.judges)} judges; Krippendorff's alpha between them "
                      f"{num(r.panel.alpha)}")
    notes = []
    if r.pending:
        notes.append(f"{r.pending} pair(s) pending (a call failed or was not sent): run the same command again")
    if r.no_majority:
        notes.append(f"{r.no_majority} pair(s) without a majority label left out")
    if r.cost_usd is not None or r.unpriced_calls or r.wall_s is not None:  # recorded verdicts have neither
        cost = "unknown" if r.cost_usd is None else cost_text(r.cost_usd, r.unpriced_calls)
        wall = NONE if r.wall_s is None else f"{r.wall_s:.1f} s"
        notes.append(f"cost {cost}, judging time {wall}")
    for note in notes:
        console.print(note, soft_wrap=True)


def subsets_table(r: JudgeEvalReport) -> Table:
    table = Table(title="Per subset")
    cols = ("subset", "pairs", "avg accuracy", "both orders", "consistency", "tie rate", "unreadable", "kappa")
    for col in cols:
        table.add_column(col, justify="left" if col == "subset" else "right")
    for name, f in r.subsets.items():
        table.add_row(name, str(f.n), pct(f.accuracy.average), pct(f.accuracy.both), pct(f.consistency),
                      pct(f.tie_rate), str(f.unreadable), num(f.kappa.majority))
    table.add_row("all", str(r.n), pct(r.accuracy.average), pct(r.accuracy.both), pct(r.consistency),
                  pct(r.tie_rate), str(r.unreadable), num(r.kappa.majority))
    return table


COLUMNS = ("judge", "pairs", "set's order", "swapped", "average", "both orders", "average w/o ties", "consistency",
           "tie rate", "unreadable", "kappa", "first shown", "longer")


def comparison_row(r: JudgeEvalReport) -> list[str]:
    a = r.accuracy
    return [r.judge, str(r.n), pct(a.first_order), pct(a.second_order), pct(a.average), pct(a.both),
            pct(r.accuracy_without_ties.average), pct(r.consistency), pct(r.tie_rate), str(r.unreadable),
            num(r.kappa.majority), pct(r.bias.first_position), pct(r.bias.longer)]


def comparison_table(title: str, reports: Sequence[JudgeEvalReport]) -> Table:
    table = Table(title=title)
    for col in COLUMNS:
        table.add_column(col, justify="left" if col == "judge" else "right")
    for r in reports:
        table.add_row(*comparison_row(r))
    return table


def markdown_table(reports: Sequence[JudgeEvalReport]) -> str:
    """One row per report, then one line on the people (their label split and agreement)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(" --- " for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(comparison_row(r)) + " |" for r in reports]
    if reports:
        h, r = reports[0].humans, reports[0]
        split = "/".join(str(h.label_counts.get(k, 0)) for k in ("tie", "1", "2"))
        kappas = ", ".join(f"{k}: {num(v)}" for k, v in (h.kappa or {}).items()) or "one label per pair"
        lines += ["", f"People on {r.set} ({r.n} pairs): labels tie/1/2 = {split}; kappa between annotators: "
                  f"{kappas}; they pick the longer answer {pct(r.bias.human_longer)} of the time."]
    return "\n".join(lines)


def print_passes(passes: Sequence[JudgePass], console: Console | None = None) -> None:
    console = console or make_console()
    table = Table(title="Judge calls")
    for col in ("judge", "pairs", "resumed", "calls", "ok", "parse_error", "error", "cached", "not sent (budget)",
                "cost"):
        table.add_column(col, justify="left" if col == "judge" else "right")
    for p in passes:
        table.add_row(p.judge, str(p.pairs), str(p.already_done), str(p.calls), str(p.ok), str(p.parse_errors),
                      str(p.errors), str(p.cached), str(p.skipped_budget), cost_text(p.cost_usd, p.unpriced_calls))
    console.print(table)
    for p in passes:
        if p.errors:
            console.print(f"{p.errors} call(s) of {p.judge} failed ({p.first_error}); run the same command again "
                          "to retry them", soft_wrap=True)
    if any(p.stopped_by_budget for p in passes):
        console.print("[yellow]budget reached:[/] finished verdicts are saved; run again (with a new --budget) "
                      "to go on")


def print_estimate(passes: Sequence[JudgePass], console: Console | None = None) -> None:
    console = console or make_console()
    table = Table(title="Dry run: nothing was sent")
    for col in ("judge", "calls", "already done", "prompt tokens", "completion tokens", "est. cost"):
        table.add_column(col, justify="left" if col == "judge" else "right")
    for p in passes:
        est = p.estimate
        if est is not None:
            table.add_row(p.judge, str(est.calls), str(p.already_done), f"{est.prompt_tokens:,}",
                          f"{est.completion_tokens:,}", est.cost_text())
    console.print(table)
    console.print("completion tokens are a typical reply length; cache hits would cost nothing")


def print_result(result: JudgeEvalResult, console: Console | None = None) -> None:
    console = console or make_console()
    if result.passes:
        print_passes(result.passes, console)
    if len(result.reports) > 1:
        console.print(comparison_table(f"Judges on {result.reports[0].set}", result.reports))
    for r in result.reports:
        print_report(r, console)
    if result.out is not None:
        console.print(f"report: {result.out / 'report.json'}")
