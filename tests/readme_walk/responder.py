"""One responder for every role the README's commands call a server in, told apart by the
request itself (never by the model name, so a README command may name any model):

- a judge prompt of ours (`judges/*.j2`: the answer between `[BEGIN ANSWER ...]` marker lines)
  gets valid JSON of the shape the prompt asks for: per-aspect `{rationale, score}` for the
  multi-aspect and safety templates (absolute judge-eval too), `{rationale, preference}` for
  the pairwise template (pairwise command, judge-eval's pairwise mode);
- the upstream just-eval templates (`"reason": "[your rationale]"` placeholders) get their
  own reply format: a fenced JSON object with string scores;
- a completion request (a base model behind `--urial`) gets a short answer ending in the
  closing fence the URIAL layout stops at;
- any other chat request is the model: a short answer.

Scores and preferences are a hash of what is judged, so the leaderboards have something to
rank and the same request always gets the same reply.
"""

from __future__ import annotations

import hashlib
import json
import re

from justeval.testing.stub_server import Reply, StubRequest

_OUR_ASPECT = re.compile(r'"(\w+)": \{"rationale": "<')
_UPSTREAM_ASPECT = re.compile(r'"(\w+)": \{\s*"reason": "\[')
_ANSWER = re.compile(r"\[BEGIN ANSWER[^\]]*\]\n(.*?)\n\[END ANSWER", re.S)


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)


def _score(aspect: str, answer: str) -> int:
    return 1 + _digest(aspect + "\0" + answer) % 5


def respond(req: StubRequest) -> Reply:
    text = req.prompt_text
    if '"reason": "[' in text:  # upstream just-eval score_multi.txt / score_safety.txt
        aspects = _UPSTREAM_ASPECT.findall(text)
        body = {a: {"reason": f"upstream-format rationale for {a}", "score": str(_score(a, text))} for a in aspects}
        return Reply(text="```\n" + json.dumps(body, indent=4) + "\n```")
    answers = _ANSWER.findall(text)
    if '"preference"' in text and len(answers) >= 2:  # the pairwise template (pairwise, judge-eval)
        pick = ("1", "2", "tie")[_digest(answers[0] + "\0" + answers[1]) % 3]
        reply: dict[str, object] = {"rationale": f"answer {pick} serves the user better", "preference": pick}
        aspects = [a for a in _OUR_ASPECT.findall(text) if a != "aspects"]
        if aspects:
            reply = {"aspects": {a: {"rationale": "as overall", "preference": pick} for a in aspects}, **reply}
        return Reply(text=json.dumps(reply))
    if answers:  # score_multi / score_safety, and judge-eval's absolute mode
        aspects = _OUR_ASPECT.findall(text)
        return Reply(text=json.dumps({a: {"rationale": f"a rationale for {a}", "score": _score(a, answers[0])}
                                      for a in aspects}))
    words = " ".join(text.split()[-8:])[:80]
    if req.path.endswith("/completions") and not req.path.endswith("/chat/completions"):  # a base model (URIAL)
        return Reply(text=f"A short answer from a base model aligned in context ({_digest(text) % 97}).\n```")
    return Reply(text=f"A short answer to: {words}")
