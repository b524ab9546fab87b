"""Checkers of the groups ADR 0476 audited (order_lifecycle cancel_command, retry, idempotency, step_commands and
metrics; execution_policy.rate_limit_update; risk_invariants.event_graph_correlation_scores): a field they cannot
interpret fails the case instead of being dropped, and a case that expects nothing, or an outcome word they do not
know, fails instead of passing unread. Each test runs a right case (it passes) beside a wrong one (it fails)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers

load_checkers()
TRADING = "trading.json"


def run(group: str, case: Any, document: Any = None) -> None:
    CHECKERS[(TRADING, group)].run(case, Context(TRADING, group, document or {group: case}))


def rejects(group: str, case: Any, match: str, document: Any = None) -> None:
    with pytest.raises(AssertionError, match=match):
        run(group, case, document)


def lifecycle(section: str, item: Any) -> tuple[str, Any, dict[str, Any]]:
    return section, item, {}


# ---------------------------------------------------------------- cancel_command


def test_cancel_when_a_case_field_beside_state_and_expected_is_unknown_then_fails() -> None:
    case = {"state": "SUBMITTED", "expected": {"outcome": "accepted", "final_state": "CANCELLED", "closedAt_set": True}}
    run("order_lifecycle", lifecycle("cancel_command", case))
    # a LIVE order with a venue id is cancelled at the venue first (§1.4.11); the checker placed an order without
    # one and judged the case on the local path
    rejects("order_lifecycle", lifecycle("cancel_command", {**case, "brokerOrderId": "b-1"}), "cannot interpret")


def test_cancel_when_outcome_is_neither_accepted_nor_refused_then_fails() -> None:
    run(
        "order_lifecycle",
        lifecycle(
            "cancel_command", {"state": "CANCELLED", "expected": {"outcome": "refused", "reason": "terminal state"}}
        ),
    )
    rejects(
        "order_lifecycle",
        lifecycle("cancel_command", {"state": "CANCELLED", "expected": {"outcome": "pending_venue_confirmation"}}),
        "outcome",
    )


def test_cancel_when_a_refusal_states_the_state_it_leaves_then_that_is_compared() -> None:
    run(
        "order_lifecycle",
        lifecycle(
            "cancel_command",
            {
                "state": "ERROR",
                "expected": {
                    "outcome": "refused",
                    "reason": "not cancellable from this state",
                    "final_state": "ERROR",
                    "closedAt_set": False,
                },
            },
        ),
    )
    rejects(
        "order_lifecycle",
        lifecycle("cancel_command", {"state": "ERROR", "expected": {"outcome": "refused", "final_state": "CANCELLED"}}),
        "final_state",
    )
    rejects(
        "order_lifecycle",
        lifecycle("cancel_command", {"state": "ERROR", "expected": {"outcome": "refused", "closedAt_set": True}}),
        "closedAt",
    )


def test_cancel_when_an_acceptance_carries_a_refusal_reason_then_fails() -> None:
    rejects(
        "order_lifecycle",
        lifecycle(
            "cancel_command",
            {
                "state": "PENDING",
                "expected": {"outcome": "accepted", "final_state": "CANCELLED", "reason": "terminal state"},
            },
        ),
        "refusal",
    )


# ---------------------------------------------------------------- retry

RETRY = {
    "state": "ERROR",
    "retryCount": 0,
    "maxRetries": 3,
    "expected_canRetry": True,
    "expected_retry_with_default_max_3": {
        "outcome": "accepted",
        "state": "PENDING",
        "retryCount": 1,
        "lastError": None,
    },
}


def test_retry_when_an_unknown_field_is_given_then_fails() -> None:
    run("order_lifecycle", lifecycle("retry", RETRY))
    # the count a caller passes was read as absent and the default used
    rejects("order_lifecycle", lifecycle("retry", {**RETRY, "max_retries": 1}), "cannot interpret")
    rejects(
        "order_lifecycle",
        lifecycle(
            "retry",
            {
                **RETRY,
                "expected_retry_with_default_max_3": {
                    **RETRY["expected_retry_with_default_max_3"],
                    "reason": "Retry #1",
                    "attempt": 1,
                },
            },
        ),
        "cannot interpret",
    )


def test_retry_when_nothing_is_expected_then_fails() -> None:
    rejects(
        "order_lifecycle", lifecycle("retry", {"state": "ERROR", "retryCount": 3, "maxRetries": 3}), "expects nothing"
    )


def test_retry_when_the_order_is_in_error_then_it_has_a_last_error_the_retry_must_clear() -> None:
    # ERROR was placed by a raw transition, so lastError was null before the retry and "cleared" proved nothing
    from tests.conformance.checkers.trading_order_lifecycle import DEFAULT_ORDER, place_for_retry

    order = place_for_retry(DEFAULT_ORDER, "ERROR", 2, datetime(2026, 3, 1, 12, tzinfo=UTC))
    assert (order.state.value, order.retry_count, order.last_error) == ("ERROR", 2, "placed error")
    run("order_lifecycle", lifecycle("retry", RETRY))
    rejects(
        "order_lifecycle",
        lifecycle(
            "retry",
            {
                **RETRY,
                "expected_retry_with_default_max_3": {
                    **RETRY["expected_retry_with_default_max_3"],
                    "lastError": "placed error",
                },
            },
        ),
        "lastError",
    )


def test_retry_when_the_history_reason_is_stated_then_it_is_compared() -> None:
    exp = RETRY["expected_retry_with_default_max_3"]
    run(
        "order_lifecycle",
        lifecycle(
            "retry",
            {
                **RETRY,
                "retryCount": 2,
                "expected_retry_with_default_max_3": {**exp, "retryCount": 3, "reason": "Retry #3"},
            },
        ),
    )
    rejects(
        "order_lifecycle",
        lifecycle(
            "retry",
            {
                **RETRY,
                "retryCount": 2,
                "expected_retry_with_default_max_3": {**exp, "retryCount": 3, "reason": "Retry #1"},
            },
        ),
        "reason",
    )


# ---------------------------------------------------------------- idempotency


def test_idempotency_when_a_field_beside_case_and_expected_is_unknown_then_fails() -> None:
    case = {"case": "risk-adjusted size", "expected": "orderId unchanged after requestedSize reduction"}
    run("order_lifecycle", lifecycle("idempotency", case))
    rejects("order_lifecycle", lifecycle("idempotency", {**case, "adjustedSize": 0}), "cannot interpret")


def test_idempotency_when_inputs_differ_then_ids_must_differ_not_match() -> None:
    # "create ... twice" with a different size was read as the identical-inputs case and asserted equal ids
    case = {
        "case": "create twice with a different requestedSize",
        "expected": "different orderId: each of the six inputs is part of the id",
    }
    run("order_lifecycle", lifecycle("idempotency", case))
    run(
        "order_lifecycle",
        lifecycle("idempotency", {"case": "signals differing in maxPrice only", "expected": "different orderId"}),
    )
    rejects(
        "order_lifecycle",
        lifecycle("idempotency", {"case": "create twice with a different requestedSize", "expected": "same orderId"}),
        "not interpretable",
    )


def test_idempotency_when_the_venue_client_order_id_is_described_then_it_is_checked() -> None:
    run(
        "order_lifecycle",
        lifecycle(
            "idempotency", {"case": "venue client order id", "expected": "client_order_id equals the lifecycle orderId"}
        ),
    )
    run(
        "order_lifecycle",
        lifecycle(
            "idempotency",
            {
                "case": "execution request without an order id",
                "expected": 'deterministicId("kalshi_order", marketId, side, requestedSize, maxPrice, timestamp)',
            },
        ),
    )


# ---------------------------------------------------------------- step_commands

STEP = {
    "input": {"start_state": "SUBMITTED", "fills": [[10, 54]]},
    "expected": {"outcome": "accepted", "final_state": "FILLED", "filledSize": 10},
}


def test_step_when_an_input_field_is_unknown_then_fails() -> None:
    run("order_lifecycle", lifecycle("step_commands", STEP))
    # a closing line written beside the fills was dropped, and clv judged as if none was given
    rejects(
        "order_lifecycle",
        lifecycle("step_commands", {**STEP, "input": {**STEP["input"], "closingLinePrice": 60}}),
        "cannot interpret",
    )


def test_step_when_an_input_names_two_commands_then_fails() -> None:
    rejects(
        "order_lifecycle",
        lifecycle("step_commands", {**STEP, "input": {**STEP["input"], "brokerOrderId": "b-1"}}),
        "commands",
    )


def test_step_when_a_command_payload_has_an_unknown_field_then_fails() -> None:
    case = {
        "input": {
            "start_state": "FILLED",
            "result": {"verified": False, "expectedSize": 10, "brokerSize": 8, "driftPct": 20},
        },
        "expected": {
            "outcome": "accepted",
            "final_state": "RECONCILIATION_DRIFT",
            "lastError": "Position drift: 20.00%",
        },
    }
    run("order_lifecycle", lifecycle("step_commands", case))
    rejects(
        "order_lifecycle",
        lifecycle(
            "step_commands",
            {**case, "input": {**case["input"], "result": {**case["input"]["result"], "driftPctOverride": 3}}},
        ),
        "cannot interpret",
    )
    rejects(
        "order_lifecycle",
        lifecycle(
            "step_commands",
            {
                "input": {"start_state": "PENDING", "check": {"passed": True, "spreadCents": 2}},
                "expected": {"outcome": "accepted"},
            },
        ),
        "cannot interpret",
    )


def test_step_when_a_refusal_carries_unknown_or_accepted_only_expectations_then_fails() -> None:
    refused = {"input": {"start_state": "PENDING", "fills": [[10, 50]]}, "expected": {"outcome": "refused"}}
    run("order_lifecycle", lifecycle("step_commands", refused))
    rejects(
        "order_lifecycle",
        lifecycle("step_commands", {**refused, "expected": {"outcome": "refused", "errorCode": "INVALID_TRANSITION"}}),
        "cannot interpret",
    )
    # a refusal leaves the order as it was: a state to compare is compared
    run(
        "order_lifecycle",
        lifecycle("step_commands", {**refused, "expected": {"outcome": "refused", "final_state": "PENDING"}}),
    )
    rejects(
        "order_lifecycle",
        lifecycle("step_commands", {**refused, "expected": {"outcome": "refused", "final_state": "FILLED"}}),
        "final_state",
    )


# ---------------------------------------------------------------- metrics

METRICS = {
    "input": [{"state": "FILLED", "createdAt_offset_ms": -4000, "filledAt_offset_ms": 0}],
    "expected": {"total": 1, "avgTimeToFill": 4000, "fillRate": 1},
}


def test_metrics_when_an_order_field_is_unknown_then_fails() -> None:
    run("order_lifecycle", lifecycle("metrics", METRICS))
    # a misspelt stamp was read as missing: the order counted as FILLED without stamps
    rejects(
        "order_lifecycle",
        lifecycle(
            "metrics", {**METRICS, "input": [{"state": "FILLED", "createdAt_offset_ms": -4000, "filledAt_offset": 0}]}
        ),
        "cannot interpret",
    )
    rejects("order_lifecycle", lifecycle("metrics", {**METRICS, "now": "2026-03-01T12:00:00Z"}), "cannot interpret")


# ---------------------------------------------------------------- execution_policy.rate_limit_update

RATE_DOC = {
    "execution_policy": {
        "rate_state_defaults": {
            "ordersThisMinute": 0,
            "ordersThisHour": 0,
            "volumeToday": 0,
            "lastOrderTime": 0,
            "windows_start": "now",
        },
        "rate_limit_update": [
            {
                "name": "one",
                "state": {"ordersThisMinute": 5, "minuteWindowStart": "now-60000ms"},
                "notional": 10,
                "expected": {"ordersThisMinute": 1, "volumeToday": 10},
            }
        ],
    }
}


def rate_doc(**changes: Any) -> dict[str, Any]:
    group = RATE_DOC["execution_policy"]
    return {"execution_policy": {**group, "rate_limit_update": [{**group["rate_limit_update"][0], **changes}]}}


def test_rate_limit_update_when_a_case_field_is_unknown_then_fails() -> None:
    case = {"section": "rate_limit_update", "index": 0, "case": RATE_DOC["execution_policy"]["rate_limit_update"][0]}
    run("execution_policy", case, RATE_DOC)
    doc = rate_doc(mode="LIVE")
    rejects(
        "execution_policy", {**case, "case": doc["execution_policy"]["rate_limit_update"][0]}, "cannot interpret", doc
    )


def test_rate_limit_update_when_nothing_is_expected_then_fails() -> None:
    doc = rate_doc(expected={})
    rejects(
        "execution_policy",
        {"section": "rate_limit_update", "index": 0, "case": doc["execution_policy"]["rate_limit_update"][0]},
        "vacuously",
        doc,
    )


def rate_case(index: int, cases: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    doc = {"execution_policy": {**RATE_DOC["execution_policy"], "rate_limit_update": cases}}
    return {"section": "rate_limit_update", "index": index, "case": cases[index]}, doc


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("new minute resets the per-minute count", {"ordersThisMinute": 1, "ordersThisHour": 2, "volumeToday": 20}),
        ("next UTC hour resets the hour", {"ordersThisMinute": 2, "ordersThisHour": 1, "volumeToday": 20}),
        ("new UTC day resets volume", {"ordersThisMinute": 2, "ordersThisHour": 2, "volumeToday": 10}),
    ],
)
def test_rate_limit_update_when_named_for_a_new_window_then_that_window_has_elapsed(
    name: str, expected: dict[str, int]
) -> None:
    # only the day was moved for its name; a new minute or hour was counted in the old window
    cases = [
        {"name": "first", "notional": 10, "expected": {"ordersThisMinute": 1}},
        {"name": name, "notional": 10, "expected": expected},
    ]
    case, doc = rate_case(1, cases)
    run("execution_policy", case, doc)


def test_rate_limit_update_when_the_group_case_carries_prose_then_it_is_not_read_as_a_fact() -> None:
    # the sequence is read from the group, which the registry does not strip: a note in expected was a field
    cases = [
        {"name": "first", "notional": 10, "basis": "spec", "expected": {"ordersThisMinute": 1, "note": "commentary"}}
    ]
    case, doc = rate_case(0, cases)
    run("execution_policy", case, doc)


def test_rate_limit_update_when_moment_given_as_offset_then_used() -> None:
    cases = [
        {"name": "first", "notional": 10, "expected": {"ordersThisMinute": 1}},
        {
            "name": "61 s later",
            "now_offset_ms": 61_000,
            "notional": 5,
            "expected": {"ordersThisMinute": 1, "ordersThisHour": 2, "volumeToday": 15},
        },
    ]
    case, doc = rate_case(1, cases)
    run("execution_policy", case, doc)
    cases[1] = {**cases[1], "now": "now"}
    case, doc = rate_case(1, cases)
    rejects("execution_policy", case, "twice", doc)


# ---------------------------------------------------------------- event_graph_correlation_scores


@pytest.mark.parametrize(
    "case",
    [
        {"source": "edge", "edge_type": "same_series", "weight": 0.9, "expected_score": 0.8},
        {"source": "cache", "stored_score": 0.72, "expected_score": 0.72, "expected_type": "cached"},
    ],
)
def test_correlation_when_a_field_is_unknown_then_fails(case: dict[str, Any]) -> None:
    run("risk_invariants", ("event_graph_correlation_scores", case))
    # an expired cache pair, or an edge to a non-market node, was judged as a live market pair
    extra = {"expires_at": "now-1h"} if case["source"] == "cache" else {"node_type": "topic"}
    rejects("risk_invariants", ("event_graph_correlation_scores", {**case, **extra}), "cannot interpret")


def test_correlation_storage_error_when_an_unknown_field_is_given_then_fails() -> None:
    case = {
        "source": "any",
        "storage_error": True,
        "expected": "order blocked, approved false, violation I3_CORRELATION_LOOKUP, breaker counter unchanged",
    }
    document = {"risk_invariants": {"base_request": {}}}
    run("risk_invariants", ("event_graph_correlation_scores", case), document)
    rejects(
        "risk_invariants",
        ("event_graph_correlation_scores", {**case, "failing_store": "edges"}),
        "cannot interpret",
        document,
    )
