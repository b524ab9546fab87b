"""Prompt preparation and the §8.2 scoring-run record of a governed call (pure helpers of the service)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from paulp.domain.canonical import loads_strict
from paulp.domain.executor import Usage
from paulp.domain.governance import execution_failure_output, parse_scoring_output
from paulp.domain.js_text import js_json_stringify
from paulp.domain.llm_prompts import PromptLoadError, load_prompt, render
from paulp.domain.llm_records import NO_MODEL, ScoringRun, review_flag
from paulp.domain.llm_regression import ScoringInput
from paulp.domain.routing import ErrorCode, sha256_hex
from paulp.domain.routing_decision import RoutingDecision
from paulp.domain.routing_plan import Failure
from paulp.domain.services.routing_types import PreparedPrompt

CUSTOM_PROMPT_VERSION = "caller-supplied"


def prepare_prompt(run_type: str, variables: Mapping[str, object], system_prompt: str | None,
                   user_prompt: str | None) -> PreparedPrompt:
    """A caller-supplied prompt wins; else the run type's versioned template (only scoring types have one)."""
    if system_prompt is not None or user_prompt is not None:
        system, user = system_prompt or "", user_prompt or ""
        return PreparedPrompt(system, user, CUSTOM_PROMPT_VERSION, sha256_hex(system + user))
    try:
        template = load_prompt(run_type)
    except PromptLoadError as err:
        return PreparedPrompt("", "", failure=Failure(ErrorCode.PROMPT_LOAD_ERROR, err.message, err.message))
    return PreparedPrompt(template.system_prompt, render(template.user_prompt_template, variables),
                          template.version, template.hash, template)


def scoring_input_text(market_title: object, resolution_criteria: object, additional_context: object) -> str:
    """§8.2 ``inputText``: the reference's ``JSON.stringify({marketTitle, resolutionCriteria, additionalContext})``.

    ``additionalContext`` is the caller's context object (its structure, not the prompt's pretty text, ADR 0469);
    a part that is absent (None) is left out, as JSON.stringify leaves out ``undefined``."""
    document = {"marketTitle": market_title, "resolutionCriteria": resolution_criteria,
                "additionalContext": additional_context}
    return js_json_stringify({k: v for k, v in document.items() if v is not None})


def input_text_of(inp: ScoringInput) -> str:
    return scoring_input_text(inp.market_title, inp.resolution_criteria, inp.additional_context)


def input_text_of_variables(variables: Mapping[str, object]) -> str:
    """The §8.2 input behind a caller's prompt variables (``scoring_variables`` undone): the spread context keys
    play no part, and ``additionalContext`` given as the JSON text of an object counts as that object."""
    context = variables.get("additionalContext")
    if isinstance(context, str):
        try:
            parsed = loads_strict(context)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            context = parsed
    return scoring_input_text(variables.get("marketTitle"), variables.get("resolutionCriteria"), context)


def input_hash(input_text: str) -> str:
    """§8.2 ``inputHash = sha256_hex(inputText)``."""
    return sha256_hex(input_text)


def scoring_run(decision: RoutingDecision, prompt: PreparedPrompt, input_text: str,
                content: str | None, usage: Usage | None, at: datetime) -> ScoringRun:
    """§8.2: always recorded; a failed call stores the execution-failure output and is flagged (§8.3)."""
    failed = not decision.success or content is None
    if failed:
        output = execution_failure_output(decision.error_code or "UNKNOWN", decision.failure_reason or "")
    else:
        assert content is not None
        output, _ = parse_scoring_output(content)
    meta = decision.metadata
    target_type, target_id = meta.get("targetEntityType"), meta.get("targetEntityId")
    return ScoringRun(
        decision_id=str(decision.id), run_type=decision.run_type,
        target_entity_type=str(target_type) if target_type is not None else None,
        target_entity_id=str(target_id) if target_id is not None else None,
        prompt_version=prompt.version, prompt_hash=prompt.hash,
        model_id=decision.resolved_model_id or decision.selected_model_id or NO_MODEL,
        input_text=input_text, input_hash=input_hash(input_text), output=output.as_json(), confidence=output.confidence,
        flagged_for_human_review=review_flag(output, failed), execution_failed=failed,
        input_tokens=usage.input_tokens if usage else None, output_tokens=usage.output_tokens if usage else None,
        cost_usd=usage.cost_usd if usage else None, created_at=at)
