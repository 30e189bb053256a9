"""The board's "Judge" section (`--judge-eval DIR`): how far the judge behind the scores
agrees with people, beside reference judges, so a reader sees how much the ranking can be
trusted.

Each DIR is a `justeval judge-eval --out DIR` folder (or its `report.json` itself). Every
number shown is copied from those report files, never recomputed, and each row names the
file it came from: accuracy against the people's majority (the mean of the two orders),
Cohen's kappa with the majority, the people's kappas with each other (the ceiling a judge can
be held to), positional consistency and the biases (picking the answer shown first, the
longer answer, beside how often people picked the longer one). A panel's report brings its
members, each measured alone, and the alpha between them. A row is "board" when its judge (or
every judge of its panel) is a judge of this board, "reference" otherwise (other judges
measured on the same sets, such as published judges' recorded verdicts read with
`judge-eval --verdicts`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from justeval.errors import InputError, describe_invalid
from justeval.rundir import safe_name
from justeval.validity.records import REPORT_VERSION, Figures, JudgeEvalReport, ReportFile

REPORT_FILE = "report.json"
NONE = "-"
BOARD, REFERENCE = "board", "reference"
HEADER = ["report", "set", "judge", "role", "pairs", "accuracy", "both orders", "kappa", "people kappa",
          "consistency", "first shown", "longer", "people longer"]
LEGEND = ("Judge vs people: accuracy is the share of pairs where the judge's verdict is the people's "
          "(majority) label (the mean over the orders judged); kappa: Cohen's kappa with that label; people kappa: the "
          "annotators' kappas with each other (the ceiling a judge can be held to); consistency: the same verdict "
          "with the answers swapped; first shown / longer: how often the judge picked the answer shown first / "
          "the longer answer (0.5: no preference), people longer: how often people did. role board: a judge of "
          "this board; reference: another judge on the same set.")


@dataclass(frozen=True)
class JudgeEntry:
    """One measured judge (or panel, or panel member) and where its figures came from."""

    report: JudgeEvalReport
    file: str
    number: int              # the file's number in the section (1-based), for the tables
    role: str = REFERENCE
    member_of: str | None = None


@dataclass
class JudgeSection:
    files: list[str]
    entries: list[JudgeEntry]
    board_judges: list[str]


def report_path(given: str | Path) -> Path:
    path = Path(given)
    return path / REPORT_FILE if path.is_dir() else path


def read_reports(given: str | Path) -> list[JudgeEvalReport]:
    """The reports in a judge-eval DIR (or report file); one line naming it when unreadable."""
    path = report_path(given)
    if not path.is_file():
        what = "no report.json in this folder" if Path(given).is_dir() else "no such judge-eval folder or report"
        raise InputError(given, f"{what} (write one with `justeval judge-eval ... --out DIR`)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a readable judge-eval report: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != "justeval-judge-eval":
        raise InputError(path, "not a judge-eval report (expected \"format\": \"justeval-judge-eval\")")
    if isinstance(data.get("version"), int) and data["version"] > REPORT_VERSION:
        raise InputError(path, f"report version {data['version']} is newer than this justeval reads "
                         f"({REPORT_VERSION}): upgrade justeval")
    try:
        if "reports" in data:
            return ReportFile.model_validate(data).reports
        return [JudgeEvalReport.model_validate(data)]
    except ValidationError as exc:
        raise InputError(path, f"not a judge-eval report: {describe_invalid(exc)}") from None


def load_reports(dirs: Sequence[str | Path]) -> list[tuple[str, list[JudgeEvalReport]]]:
    """Every DIR's reports, read before the board is built so a bad one stops at once."""
    return [(str(report_path(d)), read_reports(d)) for d in dirs]


def _is_board_judge(r: JudgeEvalReport, judges: set[str]) -> bool:
    names = judges | {safe_name(j) for j in judges}
    if r.panel is not None:
        return bool(r.panel.judges) and all(j in names or safe_name(j) in names for j in r.panel.judges)
    return r.judge in names or safe_name(r.judge) in names


def judge_section(loaded: Sequence[tuple[str, list[JudgeEvalReport]]], board_judges: Iterable[str]) -> JudgeSection:
    judges = sorted(set(board_judges))
    known = set(judges)
    entries = []
    for number, (file, reports) in enumerate(loaded, start=1):
        for r in reports:
            entries.append(JudgeEntry(r, file, number, BOARD if _is_board_judge(r, known) else REFERENCE))
            for m in r.members:
                entries.append(JudgeEntry(m, file, number, BOARD if _is_board_judge(m, known) else REFERENCE,
                                          member_of=r.judge))
    # per set, in the order the sets were first given; the board's judges first within a set
    sets = list(dict.fromkeys(e.report.set for e in entries))
    entries.sort(key=lambda e: (sets.index(e.report.set), e.role != BOARD))
    return JudgeSection(files=[f for f, _ in loaded], entries=entries, board_judges=judges)


# -- figures as text -------------------------------------------------------------------------

def pct(x: float | None) -> str:
    return NONE if x is None else f"{x * 100:.2f}%"


def num(x: float | None, digits: int = 3) -> str:
    return NONE if x is None else f"{x:.{digits}f}"


def people_kappa(f: Figures) -> str:
    """The annotators' pairwise kappas as recorded: one value, or their range."""
    values = sorted(v for v in (f.humans.kappa or {}).values() if v is not None)
    if not values:
        return NONE
    return num(values[0]) if len(values) == 1 or values[0] == values[-1] else f"{num(values[0])}-{num(values[-1])}"


def _cells(f: Figures) -> list[str]:
    return [str(f.n), pct(f.accuracy.average), pct(f.accuracy.both), num(f.kappa.majority), people_kappa(f),
            pct(f.consistency), pct(f.bias.first_position), pct(f.bias.longer), pct(f.bias.human_longer)]


def judge_label(e: JudgeEntry) -> str:
    return e.report.judge if e.member_of is None else f"{e.report.judge} (in {e.member_of})"


def section_rows(section: JudgeSection) -> tuple[list[str], list[list[str]]]:
    """The section as one table (HEADER), a row per entry and one per subset under it."""
    rows = []
    for e in section.entries:
        r = e.report
        rows.append([f"[{e.number}]", r.set, judge_label(e), e.role, *_cells(r)])
        for name, f in r.subsets.items():
            rows.append([f"[{e.number}]", f"{r.set} / {name}", judge_label(e), e.role, *_cells(f)])
    return list(HEADER), rows


def section_notes(section: JudgeSection) -> list[str]:
    notes = [f"[{k}] {f}" for k, f in enumerate(section.files, start=1)]
    for e in section.entries:
        p = e.report.panel
        if p is not None:
            notes.append(f"{e.report.judge} on {e.report.set}: the {p.method} of {', '.join(p.judges)}; "
                         f"Krippendorff's alpha between them {num(p.alpha)} (from [{e.number}])")
    if not any(e.role == BOARD for e in section.entries):
        notes.append("None of these reports measured this board's judge"
                     + (f" ({', '.join(section.board_judges)})" if section.board_judges else "")
                     + ": they describe other judges only.")
    notes.append(LEGEND)
    return notes


def _figures_json(f: Figures) -> dict[str, Any]:
    return {"pairs": f.n, "accuracy": f.accuracy.model_dump(), "kappa_majority": f.kappa.majority,
            "human_kappa": f.humans.kappa, "consistency": f.consistency, "tie_rate": f.tie_rate,
            "unreadable": f.unreadable, "bias": f.bias.model_dump()}


def section_json(section: JudgeSection) -> dict[str, Any]:
    """The leaderboard JSON's `judge_eval` block (see the schema's `judgeEval`)."""
    out = []
    for e in section.entries:
        r = e.report
        out.append({"file": e.file, "set": r.set, "judge": r.judge, "role": e.role, "member_of": e.member_of,
                    "mode": r.mode, "orders": r.orders,
                    "template": r.template.model_dump() if r.template else None,
                    **_figures_json(r),
                    "panel": r.panel.model_dump() if r.panel else None,
                    "subsets": {name: _figures_json(f) for name, f in r.subsets.items()}})
    return {"files": section.files, "board_judges": section.board_judges, "reports": out}
