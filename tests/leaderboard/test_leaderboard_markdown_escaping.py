"""`--format md`: every text field that comes from a file (model, aspect, group and judge
names, notes) renders as exactly that text under a CommonMark + tables renderer: no HTML and
no Markdown formatting of its own, whatever characters it holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from justeval.board import Settings, build_leaderboard
from justeval.board.render import md_text, to_markdown

from .runs import REGULAR, generation, judgment, write_run

HOSTILE = [
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    "**bold** _em_ `code` ~~gone~~",
    "[link](https://evil.example) ![img](x.png)",
    "pipe | splits & <b>cells</b>",
    "# heading \\ backslash",
    "line\nbreak\r\nand\ttab",
    "&amp; entity &lt;",
]


def _render(markdown: str) -> tuple[list[str], str]:
    """(types of raw-HTML tokens, concatenated plain text) of the rendered document."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    raw, text = [], []
    for tok in tokens:
        if tok.type in ("html_block", "html_inline"):
            raw.append(tok.type)
        for child in tok.children or []:
            if child.type in ("html_inline", "html_block", "image", "link_open", "strong_open", "em_open",
                              "code_inline", "s_open"):
                raw.append(child.type)
            if child.type == "text":
                text.append(child.content)
            if child.type == "softbreak":
                text.append(" ")
    return raw, " ".join(text)


@pytest.mark.parametrize("evil", HOSTILE)
def test_md_text_renders_as_the_text_itself(evil: str) -> None:
    for line_start in (False, True):
        markdown = ("- " if line_start else "| a |\n|---|\n| ") + md_text(evil, line_start=line_start) + \
            ("" if line_start else " |")
        raw, text = _render(markdown)
        assert raw == []
        assert " ".join(evil.split()) in text


@pytest.mark.parametrize("start", ["- item", "+ item", "1. item", "2) item", "# title", "> quote"])
def test_a_note_that_looks_like_markup_stays_one_list_item(start: str) -> None:
    tokens = MarkdownIt("commonmark").parse("- " + md_text(start, line_start=True))
    kinds = [t.type for t in tokens]
    assert kinds.count("bullet_list_open") == 1 and "heading_open" not in kinds and "blockquote_open" not in kinds
    assert "ordered_list_open" not in kinds


def test_every_text_field_of_the_markdown_board_is_escaped(tmp_path: Path) -> None:
    runs = []
    for k, evil in enumerate(HOSTILE):
        model = f"m{k} {evil}"
        aspect = f"asp {evil}"  # aspects are the keys of the judges' scores
        gens = [generation(i, model, "answer " * (5 + i), dataset=f"ds {evil}") for i in range(3)]
        judg = [judgment(i, model, {**{a: float(2 + i) for a in REGULAR}, aspect: 3.0}) for i in range(3)]
        runs.append(write_run(tmp_path / f"r{k}", gens, judg))
    judge = "openai:<b>absent</b>*judge*"
    built = build_leaderboard(runs, by=["dataset"], settings=Settings(bootstrap=10, judge=["openai:judge", judge]))
    assert any(judge in n for n in built.board.notes)  # a note carries the judge name
    markdown = to_markdown(built.board)
    raw, text = _render(markdown)
    assert raw == []  # no HTML, link, image, emphasis or code came from a name
    plain = text  # markdown-it has decoded the entities: this is what a reader sees
    for k, evil in enumerate(HOSTILE):
        flat = " ".join(evil.split())
        for field in (f"m{k} {flat}", f"asp {flat}", f"ds {flat}"):  # model, aspect, group
            assert field in plain, field
    assert judge in plain
    # and the tables kept their shape: every row has as many cells as its header
    for table in re.split(r"\n\n", markdown):
        rows = [r for r in table.splitlines() if r.startswith("|")]
        if rows:
            widths = {len(re.split(r"(?<!\\)\|", r)) for r in rows}
            assert len(widths) == 1, table[:200]
