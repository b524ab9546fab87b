"""Scripted provider replies for the LLM regression suites, shared by the integration and CLI e2e tests, kept
out of the test modules so neither imports the other."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from paulp.domain.llm_regression import GoldCase
from paulp.domain.llm_regression_suite import SuiteCase


def good_answer(case: GoldCase) -> dict[str, object]:
    lo, hi = case.expected.score_range
    return {"score": round((lo + hi) / 2, 3), "reasoning": "The quoted clause settles it.", "confidence": 0.8,
            "citedPassages": ["Resolves YES if"], "warnings": []}


def out_of_range(case: GoldCase) -> dict[str, object]:
    return {**good_answer(case), "score": 0.0 if case.expected.score_range[0] > 0 else 1.0}


Answer = Callable[[GoldCase], dict[str, object]]


def answering(cases: Sequence[SuiteCase], answer: Answer, overrides: Mapping[str, Answer] | None = None
              ) -> Callable[[str], str]:
    """The provider's reply to a prompt: the answer for the case whose title and criteria it carries (the
    longest match: an adversarial case's criteria extend a standard case's)."""
    def respond(prompt: str) -> str:
        found = [c.case for c in cases
                 if c.case.input.market_title in prompt and c.case.input.resolution_criteria in prompt]
        if not found:
            return "not a case of this test"
        case = max(found, key=lambda g: len(g.input.market_title) + len(g.input.resolution_criteria))
        return json.dumps((overrides or {}).get(case.id, answer)(case))
    return respond
