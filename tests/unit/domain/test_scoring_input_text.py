"""llm-routing §8.2: a scoring run's ``inputText`` is the reference's
``JSON.stringify({marketTitle, resolutionCriteria, additionalContext})`` and ``inputHash`` its SHA-256 (ADR 0469)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.budgets import BudgetBook, derive_budget
from paulp.domain.executor import Execution
from paulp.domain.llm_regression import ScoringInput
from paulp.domain.llm_regression_suite import scoring_variables
from paulp.domain.routing import ErrorCode, RouteRequest
from paulp.domain.routing_decision import decide
from paulp.domain.routing_plan import Failure, plan_route
from paulp.domain.services.routing_scoring import (
    input_hash,
    input_text_of,
    input_text_of_variables,
    prepare_prompt,
    scoring_run,
)

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FED = ScoringInput("ambiguity_score", "Will the Fed cut rates in December?",
                   "Resolves YES if the FOMC statement lowers the target range.",
                   {"threshold": 1.0, "floor": 1e-05, "source": "FOMC", "2": "x"})
# Written by hand from §8.2: the three parts in that order, the context as the object (its own key order, the
# array-index key first as JavaScript orders it), numbers as JavaScript writes them (1, not 1.0; 0.00001, not 1e-05).
FED_TEXT = ('{"marketTitle":"Will the Fed cut rates in December?",'
            '"resolutionCriteria":"Resolves YES if the FOMC statement lowers the target range.",'
            '"additionalContext":{"2":"x","threshold":1,"floor":0.00001,"source":"FOMC"}}')


def test_input_text_when_known_input_then_the_specs_json_and_its_sha256() -> None:
    assert input_text_of(FED) == FED_TEXT
    assert input_hash(input_text_of(FED)) == hashlib.sha256(FED_TEXT.encode("utf-8")).hexdigest()


def test_input_text_when_no_context_then_the_key_is_left_out_as_stringify_leaves_out_undefined() -> None:
    inp = ScoringInput("resolution_analysis", "T", "C")
    assert input_text_of(inp) == '{"marketTitle":"T","resolutionCriteria":"C"}'


def test_input_text_when_read_back_from_the_prompt_variables_then_spread_keys_change_nothing() -> None:
    variables = scoring_variables(FED)
    assert variables["threshold"] == 1.0 and "additionalContext" in variables  # the spread the prompt sees
    assert input_text_of_variables(variables) == FED_TEXT
    assert input_text_of_variables({**variables, "threshold": 99, "extra": "ignored"}) == FED_TEXT
    assert input_text_of_variables(scoring_variables(replace(FED, additional_context=None))) == (
        '{"marketTitle":"Will the Fed cut rates in December?",'
        '"resolutionCriteria":"Resolves YES if the FOMC statement lowers the target range."}')


def test_input_text_when_context_text_is_no_json_object_then_kept_as_text() -> None:
    variables = {"marketTitle": "T", "resolutionCriteria": "C", "additionalContext": "see the rulebook"}
    assert input_text_of_variables(variables) == (
        '{"marketTitle":"T","resolutionCriteria":"C","additionalContext":"see the rulebook"}')


@given(st.dictionaries(st.text(max_size=6), st.one_of(
    st.none(), st.booleans(), st.integers(-2**53, 2**53), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6)), max_size=5))
def test_input_text_when_any_context_then_json_that_reads_back_to_the_input(context: dict[str, object]) -> None:
    inp = ScoringInput("ambiguity_score", "T", "C", context)
    parsed = json.loads(input_text_of(inp), parse_int=float)  # every JSON number is a double to JavaScript
    assert list(parsed) == ["marketTitle", "resolutionCriteria", "additionalContext"]
    assert parsed["additionalContext"] == context
    if context:  # an empty context gives the prompt no additionalContext, so only the input itself says {}
        assert input_text_of_variables(scoring_variables(inp)) == input_text_of(inp)


def test_scoring_run_when_recorded_then_it_keeps_the_text_and_hashes_it() -> None:
    # Arrange: a governed ambiguity call that failed (the record is written either way, §8.2)
    plan = plan_route(RouteRequest("ambiguity_score", 1000, 200), {}, BudgetBook(derive_budget().envelopes, {}, {},
                                                                                   AT))
    failure = Failure(ErrorCode.ALL_MODELS_FAILED, "every model failed", "every model failed")
    decision = decide(UUID(int=7), Execution(replace(plan, attempts=(), failure=failure), (), None, None, failure),
                      AT, AT)
    # Act
    run = scoring_run(decision, prepare_prompt("ambiguity_score", scoring_variables(FED), None, None),
                      input_text_of(FED), None, None, AT)
    # Assert
    assert run.input_text == FED_TEXT
    assert run.input_hash == hashlib.sha256(FED_TEXT.encode("utf-8")).hexdigest()
    event = run.collect_events()[0]
    assert event.input_text == FED_TEXT and event.input_hash == run.input_hash  # type: ignore[attr-defined]
