"""Postmortem sections over decoded events (trading §8; ADR 0404): built from real aggregates' events, sent through
the event store's transcoder as the adapter decodes them, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.breaker import CircuitBreaker
from paulp.domain.order_values import PreTradeCheck, RiskCheckResult
from paulp.domain.orders import Order
from paulp.domain.postmortem import InvalidIncidentId, LoggedEvent, detection, incident_id, response, timeline
from paulp.domain.postmortem_analysis import (
    AnchorStamp,
    audit_section,
    breaker_analysis,
    build_report,
    invariant_analysis,
)
from paulp.domain.postmortem_render import render_markdown
from paulp.domain.risk import evaluate
from paulp.domain.risk_input import PortfolioSnapshot, RiskRequest
from paulp.domain.risk_limits import DEFAULT_LIMITS
from paulp.domain.risk_record import evaluation_record
from tests.support.hypothesis_scale import examples

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
START, END = NOW - timedelta(minutes=5), NOW + timedelta(hours=1)


def _evaluation(size: float) -> dict[str, Any]:
    request = RiskRequest(market_id="KXA", size=size, category="economics", spread=0.002, volume_24h=10_000.0,
                          equivalence_grade="identical", settlement_date=NOW + timedelta(days=7),
                          last_price_update=NOW)
    return evaluation_record(evaluate(request, PortfolioSnapshot(portfolio_value=500.0, max_drawdown=0.0),
                                      DEFAULT_LIMITS, "NORMAL", NOW))


def _checked_order(n: int, blocked: bool, at: datetime, legacy: bool = False) -> Order:
    order = Order.create(signal_id=f"sig-{n}", strategy="bonding", ticker=f"KX{n}", side="YES", requested_size=50,
                         max_price=42, now=at)
    order.pre_trade_check(PreTradeCheck(True), at)
    order.validate(at)
    evaluation = _evaluation(2100.0 if blocked else 10.0)
    result = RiskCheckResult(not blocked, violations=tuple(evaluation["criticalIds"]),
                             invariant_ids=tuple(evaluation["criticalIds"]))
    order.apply_risk_result(result, at, None if legacy else evaluation)
    return order


class Log:
    """Collects aggregates' events in save order, numbered and decoded as the adapter reads them."""

    def __init__(self) -> None:
        self.entries: list[LoggedEvent] = []
        self.origins: dict[str, Any] = {}
        self.mapper = make_mapper()

    def save(self, *aggregates: Any) -> None:
        for agg in aggregates:
            for ev in agg.collect_events():
                back = self.mapper.to_domain_event(self.mapper.to_stored_event(ev))
                entry = LoggedEvent(len(self.entries) + 1, back.timestamp, str(back.originator_id), back)
                self.entries.append(entry)
                if back.originator_version == 1:
                    self.origins[entry.originator_id] = back


def incident() -> Log:
    """Three blocked orders halt the breaker; a critical alert; the operator resets it; one approved order."""
    log, breaker = Log(), CircuitBreaker(scope="global")
    log.save(breaker)
    for n in range(3):
        at = NOW + timedelta(minutes=n)
        log.save(_checked_order(n, True, at))
        breaker.record_risk_check(True, at)
        log.save(breaker)
    breaker.raise_alert("POSITION_DRIFT", "critical", NOW + timedelta(minutes=4), "max drift 7.00%")
    log.save(breaker)
    breaker.reset("root cause patched", True, "ops-dana", NOW + timedelta(minutes=10))
    log.save(breaker)
    log.save(_checked_order(9, False, NOW + timedelta(minutes=11)))
    return log


def test_timeline_when_incident_then_classified_events_in_log_order_with_summaries():
    log = incident()
    lines = timeline(log.entries, log.origins)
    assert [x.notification_id for x in lines] == sorted(x.notification_id for x in lines)
    kinds = [x.kind.value for x in lines]
    assert kinds.count("risk") == 4 and kinds.count("alert") == 1
    breaker_lines = [x.summary for x in lines if x.kind.value == "breaker"]
    assert breaker_lines == ["NORMAL -> HALT (Consecutive risk check failures) by risk-governor [risk_checks]",
                             "HALT -> NORMAL (root cause patched) by ops-dana [reset]"]
    blocked = next(x for x in lines if x.kind.value == "risk")
    assert blocked.summary.startswith("risk check BLOCKED: I1_MAX_POSITION_SIZE") and blocked.summary.endswith(
        "(14/18 passed)")
    assert blocked.aggregate.startswith("Order order-")


def test_breaker_analysis_when_halted_by_three_blocks_then_spec_line_and_trigger_metrics():
    log = incident()
    halt, reset = breaker_analysis(log.entries)
    assert halt["line"] == "NORMAL -> HALT @ 15:02 (Consecutive risk check failures)"
    assert halt["metrics"]["consecutiveBlockedChecks"] == 3 and halt["metrics"]["threshold"] == 3
    assert reset["line"] == "HALT -> NORMAL @ 15:10 (root cause patched)"
    assert (reset["trigger"], reset["actor"]) == ("reset", "ops-dana")


def test_breaker_analysis_when_alert_escalates_then_its_code_and_message_are_the_metrics():
    log, breaker = Log(), CircuitBreaker(scope="global")
    breaker.raise_alert("RECONCILIATION_DRIFT", "critical", NOW, "critical_drift")
    log.save(breaker)
    (caution,) = breaker_analysis(log.entries)
    assert caution["line"] == "NORMAL -> CAUTION @ 15:00 (Critical alert: RECONCILIATION_DRIFT)"
    assert caution["metrics"] == {"code": "RECONCILIATION_DRIFT", "severity": "critical", "message": "critical_drift"}


def test_breaker_analysis_when_window_starts_after_two_blocks_but_holds_a_checkpoint_then_its_count_is_the_streak():
    # Arrange: two blocked checks before the window, then a checkpoint (ADR 0503) and the third block, in it
    log, breaker = Log(), CircuitBreaker(scope="global")
    for n in range(2):
        breaker.record_risk_check(True, NOW + timedelta(minutes=n))
    log.save(breaker)
    breaker.checkpoint_if_due(1)
    breaker.record_risk_check(True, NOW + timedelta(minutes=2))
    log.save(breaker)
    window = [e for e in log.entries if e.notification_id > 3]  # from the checkpoint on
    assert window[0].name == "CircuitBreaker.Checkpointed"
    # Act
    (halt,) = breaker_analysis(window)
    # Assert: the checkpoint's count, not the one block the window saw
    assert halt["metrics"]["consecutiveBlockedChecks"] == 3 and halt["line"].startswith("NORMAL -> HALT")


def test_invariant_analysis_when_blocks_and_legacy_then_counts_values_and_legacy_marked():
    log = incident()
    legacy = _checked_order(20, True, NOW, legacy=True)
    log.save(legacy)
    found = invariant_analysis(log.entries, log.origins)
    assert (found["evaluations"], found["legacyEvaluations"]) == (4, 1)
    assert "passes unknown" in found["legacyNote"]
    i1 = next(i for i in found["invariants"] if i["id"] == "I1_MAX_POSITION_SIZE")
    assert (i1["passed"], i1["failed"], i1["legacyFailed"]) == (1, 4, 1)
    fails = [(v["actual"], v["threshold"]) for v in i1["values"] if not v["passed"]]
    assert fails == [(420.0, 5.0)] * 3
    assert [i["id"] for i in found["invariants"]][:2] == ["I1_MAX_POSITION_SIZE", "I2_MAX_PORTFOLIO_CONCENTRATION"]


def test_detection_when_block_precedes_alert_then_first_anomaly_alert_and_delay():
    found = detection(incident().entries, {})
    assert found["firstAnomaly"]["why"] == "risk check blocked"
    assert found["firstAnomaly"]["at"] == "2026-03-02T15:00:00.000Z"
    assert found["firstAlert"]["alert"] == "POSITION_DRIFT" and found["alertFired"]
    assert found["detectionDelaySeconds"] == 240.0


def test_response_when_operator_reset_then_listed_with_actor_and_time_and_automatic_moves_not():
    log = incident()
    reset = next(e for e in log.entries if e.name == "CircuitBreaker.Transitioned" and e.event.trigger == "reset")
    assert response(timeline(log.entries, log.origins)) == [{
        "notificationId": reset.notification_id, "at": "2026-03-02T15:10:00.000Z", "actor": "ops-dana",
        "aggregate": "CircuitBreaker global", "summary": "HALT -> NORMAL (root cause patched) by ops-dana [reset]"}]


def test_incident_id_when_derived_then_deterministic_and_given_one_validated():
    assert incident_id(START, END) == incident_id(START, END) != incident_id(START, END + timedelta(seconds=1))
    assert incident_id(START, END).startswith("INC-20260302T1455Z-")
    assert incident_id(START, END, " INC-7 ") == "INC-7"
    for bad in ("", "   ", "x" * 101, "a\nb"):
        with pytest.raises(InvalidIncidentId):
            incident_id(START, END, bad)


def test_audit_section_when_anchors_around_window_then_last_before_and_missing_evidence_named():
    anchors = [AnchorStamp("a1", 1, 10, START - timedelta(hours=2)),
               AnchorStamp("a2", 2, 20, START - timedelta(hours=1)),
               AnchorStamp("a3", 3, 30, NOW), AnchorStamp("a4", 4, 40, END + timedelta(hours=1))]
    found = audit_section({"valid": False, "gaps": [7], "firstBadSequence": 7}, {"a" * 64: [3], "b" * 64: [4]},
                          ["a" * 64], anchors, START, END)
    assert found["chainIntact"] is False and found["sequenceGaps"] == [7] and found["evidenceMissing"] == 1
    assert found["anchors"]["lastBeforeWindow"]["id"] == "a2"
    assert [a["id"] for a in found["anchors"]["inWindow"]] == ["a3"]
    assert found["anchors"]["firstAfterWindow"]["id"] == "a4"


def test_render_markdown_when_report_built_then_every_section_and_halt_line_present():
    log = incident()
    audit = audit_section({"valid": True, "gaps": []}, {}, [], [], START, END)
    text = render_markdown(build_report(log.entries, log.origins, "INC-1", START, END, audit))
    for heading in ("## Header", "## Impact", "## Timeline (UTC)", "## Detection", "## Response",
                    "## Invariant analysis", "## Circuit breaker analysis", "## Audit trail verification"):
        assert heading in text
    assert "NORMAL -> HALT @ 15:02 (Consecutive risk check failures)" in text
    assert "- 2026-03-02T15:10:00.000Z ops-dana:" in text


@settings(max_examples=examples(40), deadline=None)
@given(blocked=st.lists(st.booleans(), min_size=1, max_size=6), seed=st.randoms(use_true_random=False))
def test_report_when_events_arrive_in_any_order_then_timeline_sorted_and_counts_sum_to_evaluations(blocked, seed):
    log = Log()
    for n, is_blocked in enumerate(blocked):
        log.save(_checked_order(n, is_blocked, NOW + timedelta(seconds=n)))
    shuffled = list(log.entries)
    seed.shuffle(shuffled)
    lines = timeline(shuffled, log.origins)
    assert [x.notification_id for x in lines] == sorted(x.notification_id for x in lines)
    assert [x.to_dict() for x in lines] == [x.to_dict() for x in timeline(log.entries, log.origins)]
    found = invariant_analysis(shuffled, log.origins)
    evaluated = sum(e.event.evaluation["invariantsEvaluated"] for e in log.entries
                    if e.name.endswith("RiskChecked"))
    assert sum(i["passed"] + i["failed"] for i in found["invariants"]) == evaluated
    i1 = next(i for i in found["invariants"] if i["id"] == "I1_MAX_POSITION_SIZE")
    assert i1["failed"] == sum(blocked) and found["evaluations"] == len(blocked)
