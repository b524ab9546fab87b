"""Versioned scoring prompts (llm-routing §8.1): one active template per scoring run type, hashed."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from paulp.domain.js_text import js_number_text
from paulp.domain.routing import ErrorCode, RoutingError, RunType

UNKNOWN = "unknown"

_JSON_CONTRACT = (
    "Answer with one JSON object and nothing else: "
    '{"score": number in [0,1], "reasoning": string, "citedPassages": [verbatim quotes from the criteria], '
    '"confidence": number in [0,1], "warnings": [string]}.'
)


class PromptLoadError(RoutingError):
    """Raised when no versioned prompt exists for a run type (only the 4 scoring run types have one)."""

    code = ErrorCode.PROMPT_LOAD_ERROR


@dataclass(frozen=True)
class PromptTemplate:
    version: str
    run_type: RunType
    system_prompt: str
    user_prompt_template: str

    @property
    def hash(self) -> str:
        """Lowercase hex SHA-256 of system prompt + user template, plain concatenation."""
        return hashlib.sha256((self.system_prompt + self.user_prompt_template).encode("utf-8")).hexdigest()


_MARKET = "Market: {{marketTitle}}\n\nResolution criteria:\n{{resolutionCriteria}}\n"
_CONTEXT = "{{#if additionalContext}}\nAdditional context:\n{{additionalContext}}\n{{/if}}"

PROMPTS: Mapping[RunType, PromptTemplate] = {
    RunType.AMBIGUITY_SCORE: PromptTemplate(
        "1.0.0", RunType.AMBIGUITY_SCORE,
        "You rate how ambiguous a prediction market's resolution rules are. Score 0 means a reader could "
        "not disagree about the outcome; score 1 means reasonable readers would resolve it differently. "
        "Quote the passages that drive your rating. " + _JSON_CONTRACT,
        _MARKET + _CONTEXT + "\nRate the ambiguity of these resolution criteria."),
    RunType.RESOLUTION_ANALYSIS: PromptTemplate(
        "1.0.0", RunType.RESOLUTION_ANALYSIS,
        "You read a prediction market's resolution criteria and estimate the probability that it resolves "
        "YES under those criteria as written. Quote the passages you rely on. " + _JSON_CONTRACT,
        _MARKET + _CONTEXT + "\nEstimate P(YES) under the criteria as written."),
    RunType.EQUIVALENCE_ASSESSMENT: PromptTemplate(
        "1.0.0", RunType.EQUIVALENCE_ASSESSMENT,
        "You judge whether two markets on different venues resolve on the same event. Score 1.0 identical, "
        "0.75 near-equivalent, 0.5 similar but divergent, 0.0 not equivalent. Quote the diverging passages. "
        + _JSON_CONTRACT,
        "Venue A ({{venueA}}): {{marketATitle}}\nCriteria A:\n{{marketACriteria}}\n\n"
        "Venue B ({{venueB}}): {{marketBTitle}}\nCriteria B:\n{{marketBCriteria}}\n\n"
        "How equivalent are these two markets' resolutions?"),
    RunType.INVARIANT_EXPLANATION: PromptTemplate(
        "1.0.0", RunType.INVARIANT_EXPLANATION,
        "You explain, after a deterministic control has acted, how a market would resolve in a given "
        "scenario. Score is the probability the scenario resolves YES. Quote the governing passages. "
        + _JSON_CONTRACT,
        _MARKET + "\nScenario:\n{{scenario}}\n\nHow does this scenario resolve under the criteria?"),
}


def load_prompt(run_type: str) -> PromptTemplate:
    try:
        return PROMPTS[RunType(run_type)]
    except (ValueError, KeyError):
        raise PromptLoadError(f"No prompt template for run type: {run_type}") from None


def _text(value: object) -> str:
    """A value as the source's ``String(v)`` writes it (JSON-shaped values): true/false, numbers as JavaScript
    prints them (1 not 1.0, 0.00001 not 1e-05), a,b for lists, ``[object Object]`` for an object."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value):
        return js_number_text(value)
    if isinstance(value, list | tuple):
        return ",".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _truthy(value: object) -> bool:
    """JavaScript truthiness: an empty list or object is truthy; None, false, 0 and "" are not."""
    return True if isinstance(value, list | tuple | dict) else bool(value)


def _keep_block(match: re.Match[str]) -> str:
    return match.group(1)


def _drop_block(match: re.Match[str]) -> str:
    return ""


def render(template: str, variables: Mapping[str, object]) -> str:
    """§8.1: substitute provided names literally, then keep or drop their {{#if}} blocks; others stay verbatim."""
    out = template
    for name, value in variables.items():
        out = out.replace("{{" + name + "}}", _text(value))
    for name, value in variables.items():
        block = re.compile(r"\{\{#if " + re.escape(name) + r"\}\}(.*?)\{\{/if\}\}", re.DOTALL)
        out = block.sub(_keep_block if _truthy(value) else _drop_block, out)
    return out
