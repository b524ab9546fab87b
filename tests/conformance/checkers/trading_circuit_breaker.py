"""trading.json::circuit_breaker against the real CircuitBreaker aggregate and risk limits."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.breaker import BreakerState, CircuitBreaker, InvalidBreakerTransition, ResetRefused
from paulp.domain.checkpoints import resume
from paulp.domain.drift import DriftReport
from paulp.domain.errors import DomainError
from paulp.domain.risk import evaluate
from paulp.domain.risk_limits import DEFAULT_LIMITS, adjusted_limits
from paulp.domain.risk_results import InvariantId
from tests.conformance.checkers import _conventions as conventions
from tests.conformance.checkers.trading_risk_invariants import build_inputs
from tests.conformance.registry import Context, checker


def split(data: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for section, value in data.items():
        if section in ("manual_transition_checks", "scenarios"):
            for i, case in enumerate(value):
                yield f"{section}/{i:03d}-{case.get('name', '')}", (section, case)
        elif section == "adjusted_limits":  # each state is scaled from the section's own base (§2.1)
            for key, case in value.items():
                yield f"{section}/{key}", (section, (key, case, value.get("base")))
        elif section == "i16_by_state":
            for key, case in value.items():
                yield f"{section}/{key}", (section, (key, case))
        else:
            yield section, (section, value)


_OFFSET = re.compile(r"now(?:\s*([+-])\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d))?")
_UNIT = {
    "ms": "milliseconds",
    "s": "seconds",
    "sec": "seconds",
    "m": "minutes",
    "min": "minutes",
    "h": "hours",
    "d": "days",
}


def _offset(value: str | None, now: datetime) -> datetime | None:
    """'now', 'now-61min', 'now+5min', 'now-3600000ms', 'now-1h' -> datetime."""
    if value is None:
        return None
    m = _OFFSET.fullmatch(str(value).strip())
    assert m, f"cannot interpret time {value!r}"
    if m.group(1) is None:
        return now
    amount = float(m.group(2)) * (-1 if m.group(1) == "-" else 1)
    return now + timedelta(**{_UNIT[m.group(3)]: amount})


MAPPER = make_mapper()


def breaker_in(initial: Mapping[str, Any], now: datetime) -> CircuitBreaker:
    """Reach the initial state and counter through real commands (no field poking).

    The counter comes first, counted in NORMAL: three blocked checks halt (§2.3), and manual transitions keep the
    counter (§2.2), so any state with any counter (RECOVERY with 3 after an auto-recovery, item 2) is then reached
    by walking the manual table from where the counting left the breaker. The breaker is then checkpointed and
    resumed from that checkpoint alone, stored and read back, as a process's first load finds it (ADR 0503):
    every vector is decided by a breaker whose state came through a checkpoint."""
    unknown = set(initial) - {"state", "consecutiveFailures", "haltStartedAt"}
    assert not unknown, f"initial fields this checker cannot interpret: {sorted(unknown)}"
    state = BreakerState(initial.get("state", "NORMAL"))
    failures = int(initial.get("consecutiveFailures", 0))
    halt_at = _offset(initial.get("haltStartedAt"), now) or now
    b = CircuitBreaker(scope="conformance")
    for _ in range(failures):
        b.record_risk_check(blocked=True, now=halt_at if state is BreakerState.HALT else now)
    N, C, H, R = BreakerState.NORMAL, BreakerState.CAUTION, BreakerState.HALT, BreakerState.RECOVERY
    paths = {N: [], C: [C], H: [H], R: [H, R]} if b.state is N else {N: [R, N], C: [R, C], H: [], R: [R]}
    for target in paths[state]:
        b.transition(target, "setup", "conformance", halt_at if target is H else now)
    assert b.state is state, f"could not reach initial state {initial}"
    assert b.consecutive_failures == failures, "could not reach initial counter"
    b.checkpoint_if_due(1)
    stored = [MAPPER.to_domain_event(MAPPER.to_stored_event(ev)) for ev in b.collect_events()[-1:]]
    resumed = resume(CircuitBreaker, CircuitBreaker.Checkpointed, stored)
    assert (resumed.state, resumed.consecutive_failures, resumed.halt_started_at) == (
        b.state, b.consecutive_failures, b.halt_started_at), "the checkpoint did not restate the breaker"
    return resumed


# Keys each event kind may carry; any other key fails the case rather than being silently ignored.
_COMMON_EVENT_KEYS = frozenset({"event", "at", "note", "name", "description"})
_EVENT_KEYS: dict[str, frozenset[str]] = {
    "risk_check": frozenset({"blocked", "approved", "counted"}),
    "critical_alert": frozenset({"severity", "code", "message"}),
    "any_command_or_query": frozenset(),
    "reset": frozenset({"reason", "force"}),
    "manual_transition": frozenset({"target", "reason"}),
    "portfolio_update": frozenset({"totalValue", "dailyPnL", "weeklyPnL", "maxDrawdown", "positions"}),
    "position_drift_check": frozenset({"expected", "broker"}),
    "reconciliation_run_status": frozenset({"status"}),
}


def _run_event(b: CircuitBreaker, ev: Mapping[str, Any], now: datetime) -> Any:
    """One event at ``now``, or at its own ``at`` ('now+61min') when it gives one."""
    kind = ev["event"]
    assert kind in _EVENT_KEYS, f"breaker event kind this checker cannot interpret: {kind!r}"
    unknown = set(ev) - _COMMON_EVENT_KEYS - _EVENT_KEYS[kind]
    assert not unknown, f"{kind} event fields this checker cannot interpret: {sorted(unknown)}"
    now = _offset(ev.get("at"), now) or now
    if kind == "risk_check":
        blocked = ev["blocked"] if "blocked" in ev else not ev["approved"]
        return b.record_risk_check(blocked=bool(blocked), now=now, counted=ev.get("counted", True))
    if kind == "critical_alert":
        return b.raise_alert(ev.get("code", "ALERT"), ev["severity"], now, ev.get("message", ""))
    if kind == "any_command_or_query":
        return b.expire_halt(now)
    if kind == "reset":
        return b.reset(ev.get("reason", ""), bool(ev.get("force", False)), "conformance", now)
    if kind == "manual_transition":
        return b.transition(ev["target"], ev.get("reason", ""), "conformance", now)
    if kind == "portfolio_update":
        return b.portfolio_update(ev["totalValue"], ev["dailyPnL"], ev["maxDrawdown"], ev["positions"], now)
    if kind == "position_drift_check":
        return b.position_drift_check(ev["expected"], ev["broker"], now)
    return b.reconciliation_status(ev["status"], now)


# A scenario's own keys; ``source_behaviour`` records what the source did (meta.conventions), never asserted.
_SCENARIO_KEYS = frozenset({"name", "initial", "events", "expected", "source_behaviour", "note", "description"})


def _scenario(case: Mapping[str, Any], ctx: Context) -> None:
    unknown_keys = set(case) - _SCENARIO_KEYS
    assert not unknown_keys, f"scenario fields this checker cannot interpret: {sorted(unknown_keys)}"
    now = conventions.now(ctx)
    b = breaker_in(case.get("initial", {}), now)
    exp = case["expected"]
    outcome, error, result = "accepted", "", None
    for ev in case["events"]:
        try:
            returned = _run_event(b, ev, now)
        except DomainError as e:
            outcome, error = "refused", e.message
            continue
        if isinstance(returned, DriftReport):  # the drift facts are the drift check's, whatever event came after it
            result = returned
    events = b.collect_events()
    transitions = [e for e in events if isinstance(e, CircuitBreaker.Transitioned)]
    alerts = [[e.code, e.severity] for e in events if isinstance(e, CircuitBreaker.AlertRaised)]
    known = {
        "final_state",
        "transitions",
        "consecutiveFailures",
        "haltStartedAt",
        "command_outcome",
        "error_contains",
        "alerts",
        "verified",
        "maxDriftPct",
        "criticalDriftCount",
        "recommendation",
    }
    assert not set(exp) - known, f"expected fields this checker cannot interpret: {sorted(set(exp) - known)}"
    assert exp, "scenario expects nothing"
    # each stated fact is checked; a case may state fewer (ADR 0486). Every sample and derived scenario states its
    # transitions, [] included, so a missing list is unstated, not "none".
    if "final_state" in exp:
        assert b.state == exp["final_state"], f"final state {b.state} != {exp['final_state']}"
    got = [[t.from_state, t.to_state, t.reason] for t in transitions]
    if "transitions" in exp:
        want = exp["transitions"]
        assert [g[: len(w)] for g, w in zip(got, want, strict=False)] == want and len(got) == len(want), (
            f"transitions {got} != {want}"
        )
    if "consecutiveFailures" in exp:
        assert b.consecutive_failures == exp["consecutiveFailures"]
    if "haltStartedAt" in exp:
        assert b.halt_started_at == _offset(exp["haltStartedAt"], now)
    if "command_outcome" in exp:
        assert outcome == exp["command_outcome"], f"outcome {outcome} != {exp['command_outcome']}"
    if "error_contains" in exp:
        assert exp["error_contains"] in error, f"error {error!r} lacks {exp['error_contains']!r}"
    if "alerts" in exp:
        assert alerts == exp["alerts"], f"alerts {alerts} != {exp['alerts']}"
    drift_keys = {
        "verified": "verified",
        "maxDriftPct": "max_drift_pct",
        "criticalDriftCount": "critical_count",
        "recommendation": "recommendation",
    }
    for key, attr in drift_keys.items():
        if key in exp:
            assert result is not None, f"{key} expected but the scenario ran no position drift check"
            assert getattr(result, attr) == exp[key], f"{key}: {getattr(result, attr)} != {exp[key]}"


_MANUAL_KEYS = frozenset(
    {"from", "target", "expected", "reason", "consecutiveFailures", "error_contains", "name", "note"}
)


_MANUAL_ACTOR = "conformance-operator"


def _manual_record(
    b: CircuitBreaker, case: Mapping[str, Any], outcome: str, reason: Any, halt_before: datetime | None, now: datetime
) -> None:
    """What an operator move leaves behind (§2.2, api-and-security §1.3): an accepted one is one MANUAL transition
    event carrying its states, reason and actor, with §2.3's timer rule applied (HALT starts the timer, NORMAL and
    RECOVERY clear it, CAUTION leaves it); a refused one records nothing and leaves the timer."""
    events = b.collect_events()
    if outcome == "refused":
        assert not events, f"a refused transition recorded {[type(e).__name__ for e in events]}"
        assert b.halt_started_at == halt_before, f"refused transition moved the HALT timer: {b.halt_started_at}"
        return
    moves = [e for e in events if isinstance(e, CircuitBreaker.Transitioned)]
    assert len(events) == len(moves) == 1, f"an accepted transition recorded {[type(e).__name__ for e in events]}"
    got = (moves[0].from_state, moves[0].to_state, moves[0].reason, moves[0].actor, moves[0].trigger)
    want = (case["from"], case["target"], reason, _MANUAL_ACTOR, "manual")
    assert got == want, f"transition recorded as {got}, expected {want}"
    timer = {"HALT": now, "NORMAL": None, "RECOVERY": None}.get(case["target"], halt_before)
    assert b.halt_started_at == timer, f"HALT timer {b.halt_started_at} after {case['target']}, expected {timer}"


def _manual_check(case: Mapping[str, Any], ctx: Context) -> None:
    """One operator ``transition(target, reason)`` (§2.2): the table decides, a reason is required, and the
    counter is never reset by a manual transition, whichever way it goes."""
    unknown = set(case) - _MANUAL_KEYS
    assert not unknown, f"manual check fields this checker cannot interpret: {sorted(unknown)}"
    assert case["expected"] in ("accepted", "refused"), f"expected must be accepted or refused: {case['expected']!r}"
    now = conventions.now(ctx)
    failures = int(case.get("consecutiveFailures", 0))
    b = breaker_in({"state": case["from"], "consecutiveFailures": failures}, now)
    halt_before = b.halt_started_at
    reason = case.get("reason", "conformance")
    error = ""
    try:
        b.transition(case["target"], reason, _MANUAL_ACTOR, now)
        outcome = "accepted"
    except InvalidBreakerTransition as e:
        outcome, error = "refused", e.message
        assert e.message == f"Invalid transition from {case['from']} to {case['target']}"
    except DomainError as e:
        outcome, error = "refused", e.message
    assert outcome == case["expected"], f"{case['from']}->{case['target']}: {outcome} ({error})"
    assert b.state == (case["target"] if outcome == "accepted" else case["from"]), f"state {b.state}"
    assert b.consecutive_failures == failures, f"counter {b.consecutive_failures} != {failures}"
    _manual_record(b, case, outcome, reason, halt_before, now)
    if "error_contains" in case:
        assert case["error_contains"] in error, f"error {error!r} lacks {case['error_contains']!r}"


def _table(table: Mapping[str, list[str]], ctx: Context) -> None:
    now = conventions.now(ctx)
    assert set(table) == {s.value for s in BreakerState}
    for src in BreakerState:
        for dst in BreakerState:
            b = breaker_in({"state": src.value}, now)
            try:
                b.transition(dst.value, "table", "conformance", now)
                accepted = True
            except InvalidBreakerTransition:
                accepted = False
            assert accepted == (dst.value in table[src.value]), f"{src}->{dst} accepted={accepted}"


def _limits(key: str, expected: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> None:
    """Any of the §3.2 limits (the ones §2.1 scales, or others it leaves as they are) in ``key``'s state.

    ``base`` itself must be the §3.2 defaults; a state's limits are §2.1's scaling of the section's ``base``
    (an operator's partial update of the defaults), so the state rows never silently assume the defaults."""
    source = DEFAULT_LIMITS.merged(base) if base else DEFAULT_LIMITS
    limits = DEFAULT_LIMITS if key == "base" else adjusted_limits(source, key)
    wire = limits.to_json()
    unknown = set(expected) - set(wire)
    assert expected and not unknown, f"limit names this checker cannot interpret: {sorted(unknown) or 'none given'}"
    for name, value in expected.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert abs(wire[name] - value) < 1e-9, f"{key}.{name}: {wire[name]} != {value}"
        else:
            assert wire[name] == value, f"{key}.{name}: {wire[name]!r} != {value!r}"


def _i16(state: str, expected: str, ctx: Context) -> None:
    now = conventions.now(ctx)
    base = ctx.document["risk_invariants"]["base_request"]
    request, snapshot, _ = build_inputs({**base, "circuitBreakerState": state}, now)
    decision = evaluate(request, snapshot, DEFAULT_LIMITS, state, now)
    failed = {v.invariant_id for v in decision.violations}
    got = "fail" if InvariantId.I16_CIRCUIT_BREAKER_STATE in failed else "pass"
    assert got == expected, f"I16 in {state}: {got} != {expected}"


def _non_normative(section: Mapping[str, Any], now: datetime) -> None:
    """The test-suite model contradicts the production breaker (trading §2.3 item 7): we check it stays
    declared non-normative, and that our normative breaker indeed behaves differently on its first vector."""
    assert "non-normative" in str(section.get("status", "")), "section no longer declared non-normative"
    b = CircuitBreaker(scope="conformance")
    for v in section["vectors"]:
        if v.get("events") == ["fail", "fail", "fail"] and "from" not in v and "config" not in v:
            for _ in range(3):
                b.record_risk_check(blocked=True, now=now)
            assert b.state == BreakerState.HALT != v["state"]


@checker("trading.json", "circuit_breaker", split=split)
def check(case: tuple[str, Any], ctx: Context) -> None:
    section, data = case
    if section == "scenarios":
        _scenario(data, ctx)
    elif section == "manual_transition_checks":
        _manual_check(data, ctx)
    elif section == "manual_transition_table":
        _table(data, ctx)
    elif section == "adjusted_limits":
        _limits(*data)
    elif section == "i16_by_state":
        _i16(data[0], data[1], ctx)
    elif section == "test_suite_model_non_normative":
        _non_normative(data, conventions.now(ctx))
    else:
        raise AssertionError(f"circuit_breaker section this checker cannot interpret: {section}")


__all__ = ["ResetRefused", "breaker_in", "check"]
