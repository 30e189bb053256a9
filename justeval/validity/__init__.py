"""Judge validity: how far an LLM judge agrees with people, before its scores are trusted.

    from justeval.validity import JudgeEvalSettings, judge_eval, load_set
    settings = JudgeEvalSettings(set=["llmbar-natural"], judges=[BackendSpec(spec="openai:gpt-4o-mini")])
    result = judge_eval(settings, "judge-eval/gpt-4o-mini")
    result.reports[0].accuracy.average

Sets of human-labelled pairs (`sets`, `review_set`), the requests and replies (`prompts`), the
run (`run`), recorded verdicts of published judges (`recorded`), the figures as pure functions
(`metrics`) and the report (`report`, `records`).
"""

from justeval.validity.records import JudgeEvalReport, LabelledPair, ReportFile, VerdictRecord
from justeval.validity.run import JudgeEvalResult, judge_eval
from justeval.validity.sets import NAMED_SETS, LabelledSet, load_set
from justeval.validity.settings import JudgeEvalSettings

__all__ = [
    "NAMED_SETS",
    "JudgeEvalReport",
    "JudgeEvalResult",
    "JudgeEvalSettings",
    "LabelledPair",
    "LabelledSet",
    "ReportFile",
    "VerdictRecord",
    "judge_eval",
    "load_set",
]
