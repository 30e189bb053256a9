"""Small labelled sets and stub judges the validity tests build themselves."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from justeval.testing.stub_server import Reply, StubRequest

ANSWER = re.compile(r"\[BEGIN ANSWER (\d) \w+\]\n(.*?)\n\[END ANSWER \1", re.DOTALL)
SINGLE = re.compile(r"\[BEGIN ANSWER \w+\]\n(.*?)\n\[END ANSWER", re.DOTALL)


def good(i: int) -> str:
    return f"good answer to question {i}, with the details that were asked for"


def bad(i: int) -> str:
    return f"bad answer {i}"


def pandalm_rows(n: int) -> list[dict[str, Any]]:
    """PandaLM's layout: response 1 is the good one on even idx, response 2 on odd; three
    annotators agree, except that annotator3 calls every fifth pair a tie."""
    rows = []
    for i in range(n):
        first_good = i % 2 == 0
        label = 1 if first_good else 2
        rows.append({"idx": i, "motivation_app": "app", "cmp_key": "a_b", "instruction": f"question {i}",
                     "input": f"context {i}" if i % 3 == 0 else "",
                     "response1": good(i) if first_good else bad(i), "response2": bad(i) if first_good else good(i),
                     "annotator1": label, "annotator2": label, "annotator3": 0 if i % 5 == 0 else label})
    return rows


def llmbar_rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    """LLMBar's layout: input, output_1, output_2, label (1 or 2)."""
    return [{"input": f"question {i}", "output_1": good(i) if i % 2 == 0 else bad(i),
             "output_2": bad(i) if i % 2 == 0 else good(i), "label": 1 if i % 2 == 0 else 2}
            for i in range(start, start + n)]


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def shown(req: StubRequest) -> dict[str, str]:
    """Answer number -> the text quoted under it (our pairwise template)."""
    return dict(ANSWER.findall(req.prompt_text))


def pairwise_reply(pref: str) -> Reply:
    return Reply(text=json.dumps({"rationale": "because", "preference": pref}))


def fair_judge(req: StubRequest) -> Reply:
    """Prefers the good answer wherever it is shown."""
    answers = shown(req)
    return pairwise_reply("1" if answers["1"].startswith("good") else "2")


def always_first(req: StubRequest) -> Reply:
    return pairwise_reply("1")


def scores_reply(score: int) -> Reply:
    aspects = ("helpfulness", "clarity", "factuality", "depth", "engagement")
    return Reply(text=json.dumps({a: {"rationale": "r", "score": score} for a in aspects}))


def absolute_judge(req: StubRequest) -> Reply:
    """Scores a good answer 5 and a bad one 2."""
    (text,) = SINGLE.findall(req.prompt_text)
    return scores_reply(5 if text.startswith("good") else 2)
