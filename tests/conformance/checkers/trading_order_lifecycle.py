"""trading.json::order_lifecycle — every sub-section case runs against the real Order aggregate (§1)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from paulp.domain.clock import iso_utc
from paulp.domain.execution_orders import ExecutionRequest, ExecutionSignal, MarketSnapshot, Side, to_venue_order
from paulp.domain.execution_policy import ExecutionMode, policy_for_mode
from paulp.domain.ids import deterministic_id, execution_fallback_id
from paulp.domain.order_states import (
    ALLOWED_TRANSITIONS,
    TERMINAL_STATES,
    OrderState,
    is_terminal,
    shortest_path,
    transition_table,
)
from paulp.domain.order_values import (
    ExecutionResult,
    ExecutionStatus,
    InvalidOrderTransition,
    OrderError,
    PaperFill,
    PreTradeCheck,
    ReconciliationResult,
    RetryNotAllowed,
    RiskCheckResult,
)
from paulp.domain.order_workflow import (
    MetricsInput,
    max_price_from_market_price,
    requested_size_from_target,
    workflow_metrics,
)
from paulp.domain.orders import Order
from tests.conformance.checkers import _conventions as conventions
from tests.conformance.checkers._json_numbers import json_int
from tests.conformance.registry import Context, checker

TOL = 1e-6
S = OrderState
DEFAULT_ORDER: dict[str, Any] = {"signalId": "sig-1", "strategy": "bonding", "ticker": "TICKER", "side": "YES",
                                 "requestedSize": 10, "maxPrice": 55}
_FIELD_KEYS = {"signalId", "strategy", "ticker", "side", "requestedSize", "maxPrice", "filledSize"}
_LIST_SECTIONS = {"raw_transition_sequences", "step_commands", "retry", "cancel_command", "idempotency",
                  "signal_to_order_sizing", "metrics"}


def split(data: Any) -> Iterator[tuple[str, Any]]:
    """One pytest case per sub-case: allowed_transitions/<STATE>, step_commands/003-name, ..."""
    assert isinstance(data, dict), "order_lifecycle must be an object of sub-sections"
    for section, value in data.items():
        if section == "allowed_transitions" and isinstance(value, dict):
            for state, targets in value.items():
                yield f"{section}/{state}", (section, {"state": state, "targets": targets}, data)
        elif section in _LIST_SECTIONS and isinstance(value, list):
            for i, item in enumerate(value):
                label = item.get("name") or item.get("case") or item.get("state") if isinstance(item, dict) else None
                yield f"{section}/{i:03d}" + (f"-{label}" if label else ""), (section, item, data)
        else:
            yield section, (section, value, data)


# ---------------------------------------------------------------- placement
def _defaults(group: Mapping[str, Any]) -> dict[str, Any]:
    step = group.get("step_defaults")
    order = step.get("order") if isinstance(step, dict) else None
    return dict(order) if isinstance(order, dict) else dict(DEFAULT_ORDER)


def new_order(fields: Mapping[str, Any], at: datetime) -> Order:
    return Order.create(signal_id=fields.get("signalId"), strategy=fields["strategy"], ticker=fields["ticker"],
                        side=fields["side"], requested_size=fields["requestedSize"], max_price=fields["maxPrice"],
                        now=at)


def place(fields: Mapping[str, Any], state: str, at: datetime, retry_count: int = 0) -> Order:
    """An order put directly in ``state`` through allowed raw transitions (and retries for retryCount)."""
    order = new_order(fields, at)
    for _ in range(retry_count):
        order.record_error("placed error", at)
        order.retry(at, max_retries=retry_count + 1)
    filled = fields.get("filledSize") or 0
    target = S(state)
    if filled:  # reach the state through a real fill so filledSize is a recorded fact
        for t in shortest_path(S.PENDING, S.SUBMITTED):
            order.transition(t, "placed", at)
        order.record_fill(filled, fields.get("avgFillPrice") or fields["maxPrice"], at)
    for t in shortest_path(order.state, target):
        order.transition(t, "placed", at)
    assert order.state == target
    order.collect_events()
    return order


def _close(actual: Any, expected: Any, what: str) -> None:
    if expected is None:
        assert actual is None, f"{what}: expected null, got {actual!r}"
    elif isinstance(expected, bool) or isinstance(expected, str):
        assert actual == expected, f"{what}: expected {expected!r}, got {actual!r}"
    else:
        assert actual is not None and math.isclose(actual, expected, rel_tol=TOL, abs_tol=TOL), (
            f"{what}: expected {expected!r}, got {actual!r}")


# ---------------------------------------------------------------- sections
def _states(value: Any, group: Mapping[str, Any], now: datetime) -> None:
    assert list(value) == [s.value for s in OrderState], f"states differ: {[s.value for s in OrderState]}"


def _allowed(value: Mapping[str, Any], group: Mapping[str, Any], now: datetime) -> None:
    state = S(value["state"])
    expected = set(value["targets"])
    assert set(transition_table()[state]) == expected, f"{state}: table {transition_table()[state]} != {expected}"
    for target in OrderState:
        order = place(_defaults(group), state, now)
        if target.value in expected:
            order.transition(target, "vector", now)
            assert order.state == target
        else:
            try:
                order.transition(target, "vector", now)
            except InvalidOrderTransition:
                assert order.state == state and not order.collect_events()
            else:
                raise AssertionError(f"{state} -> {target} was accepted but is not allowed")


def _terminal(value: Any, group: Mapping[str, Any], now: datetime) -> None:
    assert set(value) == {s.value for s in TERMINAL_STATES}, f"terminal set {sorted(TERMINAL_STATES)}"
    for s in OrderState:
        assert is_terminal(s) == (s.value in value), f"is_terminal({s})"


def _no_exits(value: Any, group: Mapping[str, Any], now: datetime) -> None:
    assert {s.value for s in OrderState if not ALLOWED_TRANSITIONS[s]} == set(value)


def _initial(value: Mapping[str, Any], group: Mapping[str, Any], now: datetime) -> None:
    order = new_order(_defaults(group), now)
    assert order.state == S(value["state"])
    history = [{"from": e.source.value, "to": e.target.value, "reason": e.reason} for e in order.history]
    assert history == [{k: h[k] for k in ("from", "to", "reason")} for h in value["history"]], history
    assert all(e.at == now for e in order.history)
    # §1.1's record at creation: the counters and lists it starts, the order's own fields, and the optional
    # results and stamps, which a new order does not have yet (null); createdAt is "now"
    attrs: dict[str, Any] = {"filledSize": order.filled_size, "retryCount": order.retry_count,
                             "evidenceHashes": order.evidence_hashes, "currentState": order.state.value,
                             "signalId": order.signal_id, "strategy": order.strategy, "ticker": order.ticker,
                             "side": order.side, "requestedSize": order.requested_size, "maxPrice": order.max_price,
                             "createdAt": "now" if order.created_at == now else order.created_at}
    attrs |= {key: getattr(order, attr) for key, attr in _EXPECTED_ATTRS.items() if key not in attrs}
    attrs |= {key: getattr(order, attr) for key, attr in _STAMPS.items() if key not in attrs}
    attrs |= {"preTradeCheckResult": order.pre_trade_check_result, "riskCheckResult": order.risk_check_result,
              "reconciliationResult": order.reconciliation_result}
    for key in set(value) - {"state", "history"}:
        assert key in attrs, f"initial.{key} not interpretable"
        assert attrs[key] == value[key], f"initial.{key}: {attrs[key]!r} != {value[key]!r}"


# §1.3 stamps a raw sequence may assert as ``<stamp>_set`` (closedAt_set, filledAt_set, ...).
_STAMPS = {"createdAt": "created_at", "preTradeCheckedAt": "pre_trade_checked_at", "validatedAt": "validated_at",
           "riskApprovedAt": "risk_approved_at", "submittedAt": "submitted_at", "acknowledgedAt": "acknowledged_at",
           "filledAt": "filled_at", "reconciledAt": "reconciled_at", "archivedAt": "archived_at",
           "closedAt": "closed_at"}
_RAW_EXPECTED = {"outcome", "final_state", "history_length_including_initial", "refused_transition", "state_after",
                 *(f"{k}_set" for k in _STAMPS)}


def _raw_sequence(case: Mapping[str, Any], group: Mapping[str, Any], now: datetime) -> None:
    order = place(_defaults(group), case["start_state"], now)
    exp = case["expected"]
    unknown = set(exp) - _RAW_EXPECTED
    assert not unknown, f"raw-sequence expectations this checker cannot interpret: {sorted(unknown)}"
    error: InvalidOrderTransition | None = None
    for i, target in enumerate(case["transitions"]):
        try:
            order.transition(target, f"step {i}", now + timedelta(seconds=i + 1))
        except InvalidOrderTransition as e:
            error = e
            break
    # a case may leave out the outcome or any other fact (ADR 0486): the facts it states are checked against the
    # outcome observed, and a refusal's facts on an accepted sequence still fail
    outcome = exp.get("outcome", "accepted" if error is None else "refused")
    assert outcome in ("accepted", "refused"), f"raw-sequence outcome not interpretable: {outcome!r}"
    if outcome == "accepted":
        assert error is None, f"refused: {error}"
        assert not {"refused_transition", "state_after"} & set(exp), f"refusal facts on an accepted sequence: {exp}"
        if "final_state" in exp:
            assert order.state == S(exp["final_state"])
    else:
        assert error is not None, f"sequence accepted, ended in {order.state}"
        refused = exp.get("refused_transition")
        if refused:
            assert isinstance(refused, Mapping) and refused and not set(refused) - {"from", "to"}, \
                f"refused_transition not interpretable: {refused!r}"
            got = {"from": error.source, "to": error.target}
            assert all(got[k] == v for k, v in refused.items()), str(error)
        assert order.state == S(exp.get("state_after", exp.get("final_state", error.source)))
    # either way the order is what the accepted prefix made it: its history and its stamps
    if "history_length_including_initial" in exp:
        assert len(order.history) == exp["history_length_including_initial"], len(order.history)
    for stamp, attr in _STAMPS.items():
        if f"{stamp}_set" in exp:
            value = getattr(order, attr)
            assert (value is not None) == exp[f"{stamp}_set"], f"{stamp}_set: {value}"


def _fills(raw: Any) -> list[tuple[int, float, float | None]]:
    out: list[tuple[int, float, float | None]] = []
    for f in raw:
        if isinstance(f, dict):
            out.append((f["fillSize"], f["fillPrice"], f.get("closingLinePrice")))
        else:
            out.append((f[0], f[1], f[2] if len(f) > 2 else None))
    return out


# What each §1.4 command reads from a step input (besides start_state and the order's own fields), and what its
# payload objects may carry. A field outside these (a closing line beside the fills, a misspelt ``spreadCents``)
# would be dropped and the case judged without it; two commands in one input would run only the first.
_COMMAND_KEYS: dict[str, frozenset[str]] = {
    "check": frozenset({"check"}), "risk": frozenset({"approved", "adjustedSize", "violations"}),
    "result": frozenset({"result"}), "fills": frozenset({"fills"}), "ack": frozenset({"brokerOrderId"}),
    "price_move": frozenset({"priceMovePct", "threshold"}), "archive": frozenset({"pnl", "closingNotes"}),
    "error": frozenset({"error"}),
}
_PAYLOAD_KEYS = {
    "check": frozenset({"passed", "spread", "depth", "vpinScore", "blockReason"}),
    "execution": frozenset({"success", "status", "paperFill", "rejectionReason", "venueOrderId"}),
    "reconcile": frozenset({"verified", "expectedSize", "brokerSize", "driftPct"}),
    "paperFill": frozenset({"count", "fillPrice"}),
    "fill": frozenset({"fillSize", "fillPrice", "closingLinePrice"}),
}


def _known_input(inp: Mapping[str, Any]) -> None:
    commands = set(inp) - _FIELD_KEYS - {"start_state"}
    known = frozenset().union(*_COMMAND_KEYS.values())
    assert not commands - known, f"step input fields this checker cannot interpret: {sorted(commands - known)}"
    named = [name for name, keys in _COMMAND_KEYS.items() if commands & keys]
    assert len(named) <= 1, f"step input names several commands ({named}); a step runs one"

    def payload(value: Any, kind: str) -> None:
        assert isinstance(value, Mapping), f"{kind} payload must be an object, got {value!r}"
        unknown = set(value) - _PAYLOAD_KEYS[kind]
        assert not unknown, f"{kind} payload fields this checker cannot interpret: {sorted(unknown)}"

    if "check" in inp:
        payload(inp["check"], "check")
    result = inp.get("result")
    if result is not None:
        payload(result, "execution" if "success" in result else "reconcile")
        if isinstance(result.get("paperFill"), Mapping):
            payload(result["paperFill"], "paperFill")
    for fill in inp.get("fills") or ():
        if isinstance(fill, Mapping):
            payload(fill, "fill")
        else:
            assert isinstance(fill, list | tuple) and len(fill) in (2, 3), f"fill [size, price, closing?]: {fill!r}"


def _run_step(order: Order, inp: Mapping[str, Any], now: datetime) -> None:
    """Pick the §1.4 command the input describes; an input no command fits fails the case."""
    _known_input(inp)
    result = inp.get("result")
    if "check" in inp:
        c = inp["check"]
        order.pre_trade_check(PreTradeCheck(c["passed"], c.get("spread"), c.get("depth"), c.get("vpinScore"),
                                            c.get("blockReason")), now)
    elif "approved" in inp:
        order.apply_risk_result(RiskCheckResult(inp["approved"], inp.get("adjustedSize"),
                                                tuple(inp.get("violations") or ())), now)
    elif isinstance(result, dict) and "success" in result:
        pf = result.get("paperFill")
        status = result.get("status") or ("submitted" if result["success"] else "rejected")
        order.apply_execution_result(ExecutionResult(
            result["success"], ExecutionStatus(status),
            None if pf is None else PaperFill(pf["count"], pf["fillPrice"]), result.get("rejectionReason"),
            result.get("venueOrderId")), now)
    elif isinstance(result, dict) and "verified" in result:
        order.reconcile(ReconciliationResult(result["verified"], result["expectedSize"], result["brokerSize"],
                                             result["driftPct"]), now)
    elif "fills" in inp:
        for size, price, closing in _fills(inp["fills"]):
            order.record_fill(size, price, now, closing)
    elif "brokerOrderId" in inp:
        order.acknowledge(inp["brokerOrderId"], now)
    elif "priceMovePct" in inp:
        order.cancel_for_price_move(inp["priceMovePct"], inp["threshold"], now)
    elif "pnl" in inp or "closingNotes" in inp:
        order.archive(now, inp.get("pnl"), inp.get("closingNotes"))
    elif "error" in inp:
        order.record_error(inp["error"], now)
    elif set(inp) - {"start_state"} <= _FIELD_KEYS:
        order.validate(now)  # §1.4.2 Validate; from a state other than PENDING/PRE_TRADE_CHECK the domain refuses
    else:
        raise AssertionError(f"no step command matches input keys {sorted(inp)}")


_EXPECTED_ATTRS = {"requestedSize": "requested_size", "filledSize": "filled_size", "avgFillPrice": "avg_fill_price",
                   "entryPrice": "entry_price", "clv": "clv", "closingLinePrice": "closing_line_price",
                   "lastError": "last_error"}


_STEP_REFUSED = frozenset({"outcome", "error_contains", "refused_transition", "final_state"})


def _observed_step_outcome(fields: Mapping[str, Any], inp: Mapping[str, Any], now: datetime) -> str:
    """Whether the step is accepted, run on a copy of the order (for a case that states only other facts)."""
    order = place(fields, inp["start_state"], now)
    try:
        _run_step(order, inp, now)
    except OrderError:
        return "refused"
    return "accepted"


def _step(case: Mapping[str, Any], group: Mapping[str, Any], now: datetime) -> None:
    inp, exp = case["input"], case["expected"]
    _known_input(inp)
    fields = _defaults(group) | {k: v for k, v in inp.items() if k in _FIELD_KEYS}
    order = place(fields, inp["start_state"], now)
    before = len(order.history)
    outcome = exp.get("outcome") or _observed_step_outcome(fields, inp, now)  # may be left out (ADR 0486)
    assert outcome in ("accepted", "refused"), f"step outcome not interpretable: {outcome!r}"
    if outcome == "refused":
        unknown = set(exp) - _STEP_REFUSED
        assert not unknown, f"refused-step expectations this checker cannot interpret: {sorted(unknown)}"
        assert exp.get("final_state", inp["start_state"]) == inp["start_state"], (
            f"final_state {exp['final_state']!r}: a refused step leaves the order in {inp['start_state']}")
        try:
            _run_step(order, inp, now)
        except OrderError as e:
            assert exp.get("error_contains", "") in str(e), f"error {e!s} lacks {exp.get('error_contains')!r}"
            refused = exp.get("refused_transition")
            if refused:  # "FROM->TO", or {"from": .., "to": ..} as raw sequences write it
                assert isinstance(e, InvalidOrderTransition), f"{type(e).__name__}: {e}"
                if isinstance(refused, Mapping):
                    assert refused and not set(refused) - {"from", "to"}, f"refused_transition {refused!r}"
                    refused = f"{refused.get('from', e.source)}->{refused.get('to', e.target)}"
                assert f"{e.source}->{e.target}" == refused, f"refused {e.source}->{e.target}"
            assert order.state == S(inp["start_state"]) and not order.collect_events(), "refusal left events"
            return
        raise AssertionError(f"command accepted; order now {order.state}")
    assert outcome == "accepted", exp
    assert not {"error_contains", "refused_transition"} & set(exp), f"refusal facts on an accepted step: {exp}"
    _run_step(order, inp, now)
    if "final_state" in exp:
        assert order.state == S(exp["final_state"]), f"state {order.state}"
    if "new_history_states" in exp:
        assert [e.target.value for e in order.history[before:]] == exp["new_history_states"]
    for key, attr in _EXPECTED_ATTRS.items():
        if key in exp:
            _close(getattr(order, attr), exp[key], key)
    unknown = set(exp) - set(_EXPECTED_ATTRS) - {"outcome", "final_state", "new_history_states"}
    assert not unknown, f"uninterpreted expected keys {sorted(unknown)}"


_RETRY_KEYS = frozenset({"name", "note", "state", "retryCount", "maxRetries", "expected_canRetry",
                         "expected_retry_with_default_max_3", "source_behaviour"})
_RETRY_EXPECTED = frozenset({"outcome", "state", "retryCount", "lastError", "reason"})


def place_for_retry(fields: Mapping[str, Any], state: str, retry_count: int, now: datetime) -> Order:
    """The order a retry case describes. ERROR is reached through an error (§1.4.12), as it is in use, so the
    order has a ``lastError`` that a retry must clear; any other state is placed directly."""
    if S(state) is not S.ERROR:
        return place(fields, state, now, retry_count=retry_count)
    order = place(fields, "PENDING", now, retry_count=retry_count)
    order.record_error("placed error", now)
    order.collect_events()
    assert order.state is S.ERROR and order.last_error == "placed error"
    return order


def _retry(case: Mapping[str, Any], group: Mapping[str, Any], now: datetime) -> None:
    unknown = set(case) - _RETRY_KEYS
    assert not unknown, f"retry case fields this checker cannot interpret: {sorted(unknown)}"
    assert {"expected_canRetry", "expected_retry_with_default_max_3"} & set(case), f"retry case expects nothing: {case}"
    retry_count, max_retries = json_int(case.get("retryCount", 0)), json_int(case.get("maxRetries", 3))
    for name, value in (("retryCount", retry_count), ("maxRetries", max_retries)):
        assert isinstance(value, int) and not isinstance(value, bool), f"{name} must be an integer: {value!r}"
    order = place_for_retry(_defaults(group), case["state"], retry_count, now)
    assert order.retry_count == retry_count
    if "expected_canRetry" in case:
        assert isinstance(case["expected_canRetry"], bool), f"expected_canRetry {case['expected_canRetry']!r}"
        assert order.can_retry(max_retries) == case["expected_canRetry"]
    exp = case.get("expected_retry_with_default_max_3", "absent")
    if exp == "absent":
        return
    if exp is None:
        try:
            order.retry(now)
        except RetryNotAllowed:
            assert not order.collect_events()
            return
        raise AssertionError("retry accepted with default max 3")
    assert isinstance(exp, Mapping), f"retry expectation not interpretable: {exp!r}"
    unknown = set(exp) - _RETRY_EXPECTED
    assert not unknown, f"retry expectations this checker cannot interpret: {sorted(unknown)}"
    assert exp and exp.get("outcome", "accepted") == "accepted", f"retry outcome not interpretable: {exp!r}"
    order.retry(now)
    if "state" in exp:  # each stated fact is checked; a case may state fewer (ADR 0486)
        assert order.state == S(exp["state"]), f"state {order.state}"
    if "retryCount" in exp:
        assert order.retry_count == exp["retryCount"], f"retryCount {order.retry_count}"
    _close(order.last_error, exp.get("lastError"), "lastError")
    last = order.history[-1]
    # §1.4.10: ERROR -> PENDING with reason "Retry #n"
    assert (last.source, last.target) == (S.ERROR, S.PENDING), f"retry moved {last.source} -> {last.target}"
    _close(last.reason, exp.get("reason", f"Retry #{order.retry_count}"), "reason")


def _cancels(order: Order, now: datetime) -> bool:
    try:
        return order.cancel(now) is True
    except OrderError:
        return False


_CANCEL_KEYS = frozenset({"name", "note", "state", "expected", "source_behaviour"})
_CANCEL_EXPECTED = frozenset({"outcome", "final_state", "closedAt_set", "reason", "error_contains"})


def _cancel(case: Mapping[str, Any], group: Mapping[str, Any], now: datetime) -> None:
    unknown = set(case) - _CANCEL_KEYS
    assert not unknown, f"cancel case fields this checker cannot interpret: {sorted(unknown)}"
    order = place(_defaults(group), case["state"], now)
    exp = case["expected"]
    unknown = set(exp) - _CANCEL_EXPECTED
    assert not unknown, f"cancel expectations this checker cannot interpret: {sorted(unknown)}"
    outcome = exp.get("outcome")
    if outcome is None:  # left out (ADR 0486): observed on a copy; the stated facts are checked against it
        outcome = "accepted" if _cancels(place(_defaults(group), case["state"], now), now) else "refused"
    assert outcome in ("accepted", "refused"), f"cancel outcome not interpretable: {outcome!r}"
    if outcome == "accepted":
        assert not {"reason", "error_contains"} & set(exp), f"an accepted cancel with a refusal reason: {exp}"
        assert order.cancel(now) is True
        if "final_state" in exp:
            assert order.state == S(exp["final_state"])
        if "closedAt_set" in exp:
            assert (order.closed_at is not None) == exp["closedAt_set"]
        return
    try:
        order.cancel(now)
    except OrderError as e:
        assert exp.get("reason", "").lower() in str(e).lower(), f"{e!s} lacks {exp.get('reason')!r}"
        assert exp.get("error_contains", "") in str(e), f"{e!s} lacks {exp.get('error_contains')!r}"
        assert order.state == S(case["state"]) and not order.collect_events()
        if "final_state" in exp:  # a refusal leaves the order where it was
            assert order.state == S(exp["final_state"]), f"final_state {exp['final_state']!r}, order {order.state}"
        if "closedAt_set" in exp:
            assert (order.closed_at is not None) == exp["closedAt_set"], f"closedAt_set: {order.closed_at}"
        return
    raise AssertionError(f"cancel accepted from {case['state']}")


_METRICS_KEYS = frozenset({"name", "note", "input", "expected"})
_METRICS_ORDER_KEYS = frozenset({"state", "createdAt_offset_ms", "filledAt_offset_ms", "clv"})


def _metrics(value: Mapping[str, Any], group: Mapping[str, Any], now: datetime) -> None:
    """One metrics case (the section is one object in the sample; a list of them is split into cases)."""
    def at(offset: Any) -> datetime | None:
        return None if offset is None else now + timedelta(milliseconds=offset)

    assert isinstance(value, Mapping) and "input" in value and "expected" in value, f"metrics case {value!r:.300}"
    unknown = set(value) - _METRICS_KEYS
    assert not unknown, f"metrics case fields this checker cannot interpret: {sorted(unknown)}"
    for o in value["input"]:
        extra = set(o) - _METRICS_ORDER_KEYS
        assert not extra, f"metrics order fields this checker cannot interpret: {sorted(extra)}"
    items = [MetricsInput(S(o["state"]), at(o.get("createdAt_offset_ms")), at(o.get("filledAt_offset_ms")),
                          o.get("clv")) for o in value["input"]]
    m = workflow_metrics(items)
    exp = value["expected"]
    assert len(m.by_state) == len(OrderState)
    scalars = {"total": m.total, "avgTimeToFill": m.avg_time_to_fill_ms, "avgCLV": m.avg_clv, "fillRate": m.fill_rate}
    unknown = set(exp) - set(scalars) - {"byState_nonzero", "byState"}
    assert not unknown and exp, f"metrics expectations not interpretable: {sorted(unknown) or 'none given'}"
    for key, actual in scalars.items():
        if key in exp:
            _close(actual, exp[key], key)
    if "byState_nonzero" in exp:
        assert {k: v for k, v in m.by_state.items() if v} == exp["byState_nonzero"], m.by_state
    if "byState" in exp:
        assert {k: m.by_state.get(S(k), 0) for k in exp["byState"]} == exp["byState"], m.by_state


_IDEMPOTENCY_KEYS = frozenset({"name", "note", "case", "expected", "source_behaviour"})
_ID_INPUTS = {"signalid": "signalId", "strategy": "strategy", "ticker": "ticker", "side": "side",
              "requestedsize": "requestedSize", "maxprice": "maxPrice"}


# Reading rules for §1.8's two system-level statements (ADR 0484), tried before the id readings below:
# - a case naming a command, a replay or a re-submission (_COMMAND_WORDS, in `case` or `expected`) is the
#   "(aggregateId, commandId) at most once; replay never re-submits" statement. Its `expected` must say the
#   repeat does nothing (_ONCE_WORDS) and must not say, unnegated, that it happens again (_AGAIN_WORDS: "sent
#   again" contradicts, "never sent again" does not); the system must agree.
# - otherwise a case naming the open-order key (_OPEN_WORDS) is the "at most one non-closed order per (strategy,
#   ticker, side)" statement. `case` picks the scenario: the first order closed before the new signal
#   (_CLOSED_WORDS), a signal for the other side (_SIDE_WORDS), or else a new signal for the same key while the
#   first is open; another strategy, ticker or market has no scenario and fails as not interpretable.
#   `expected` claims the signal is ignored (_IGNORED_WORDS, read first: "no new order") or makes an order
#   (_CREATED_WORDS); one claiming neither fails. The claim is compared with what create_orders did.
_COMMAND_WORDS = ("command", "replay", "re-submit", "resubmit", "submitted again", "sent again", "at most once per")
_ONCE_WORDS = ("at most once", "only once", "once", "not ", "never", "no ", "no-op", "ignored", "duplicate")
_AGAIN_WORDS = ("once more", "submitted twice", "sent twice", "applied twice", "twice", "again")
_OPEN_WORDS = ("non-closed", "not closed", "open order", "order is open", "still open", "active", "same key",
               "same market", "(strategy, ticker, side)", "duplicate signal", "new signal", "one order per")
_CLOSED_WORDS = ("closed", "closes", "cancelled", "canceled", "filled", "settled", "no longer open")
_SIDE_WORDS = ("other side", "opposite side", "different side", "side no", "no side")
_IGNORED_WORDS = ("not ignored", "ignored", "no new order", "no order", "not created", "no second order",
                  "no-op", "skipped", "dropped", "at most one", "only one", "single", "still one")
_CREATED_WORDS = ("created", "new order", "second order", "allowed", "accepted", "placed", "makes an order")


def _one_open_order(case: Mapping[str, Any], what: str, expected: str) -> None:
    from tests.conformance.checkers.trading_idempotency_system import observe

    facts = observe()[0]
    assert facts.first == 1, f"the first signal made no order: {facts}"
    assert facts.open_per_key <= 1, f"two non-closed orders on one (strategy, ticker, side): {facts}"
    scenario = what.replace("non-closed", "").replace("not closed", "")
    if any(f"{word} strateg" in scenario or f"{word} ticker" in scenario or f"{word} market" in scenario
           for word in ("other", "another", "different")):
        raise AssertionError(f"idempotency case not interpretable (no scenario with another strategy or market): "
                             f"{case!r}")
    if any(word in scenario for word in _CLOSED_WORDS):
        created, scene = facts.after_close, "after the first order closed"
    elif any(word in scenario for word in _SIDE_WORDS):
        created, scene = facts.other_side, "for the other side"
    else:
        created, scene = facts.same_key, "for the same key while the first is open"
    claim = next((w for w in _IGNORED_WORDS + _CREATED_WORDS if w in expected), None)
    if claim is None:
        raise AssertionError(f"idempotency case not interpretable (neither ignored nor created): {case!r}")
    ignored = claim in _IGNORED_WORDS and claim != "not ignored"
    assert created == (0 if ignored else 1), (
        f"a new signal {scene}: {created} order(s) created, the case expects {'none' if ignored else 'one'}")


def _command_once(case: Mapping[str, Any], expected: str) -> None:
    from tests.conformance.checkers.trading_idempotency_system import observe

    negated = any(word in expected for word in ("not ", "never", "no ", "n't"))
    again = any(word in expected for word in _AGAIN_WORDS)
    if (again and not negated) or not any(word in expected for word in _ONCE_WORDS):
        raise AssertionError(f"idempotency case contradicts §1.8 (a command applies at most once, a replay never "
                             f"re-submits): {case!r}")
    facts = observe()[1]
    assert facts.first_state == "FILLED", f"the paper submission did not fill: {facts}"
    assert facts.second_duplicate and facts.same_order, f"the repeated command was not a duplicate: {facts}"
    assert facts.fills == 1, f"the venue execution was applied {facts.fills} times: {facts}"
    assert facts.events_after_first == 0, f"the repeat or the replay appended {facts.events_after_first} events"


def _changed(fields: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = fields[key]
    other: Any = {"side": "NO" if value == "YES" else "YES"}.get(key)
    if other is None:
        other = value + 1 if isinstance(value, int | float) else f"{value}-other"
    return {**fields, key: other}


_SAME_WORDS = ("same", "unchanged", "no-op", "existing", "duplicate")


def _claims_same(case: Mapping[str, Any], expected: str, words: tuple[str, ...]) -> None:
    """The branches below check that an id stays the same; the case's expectation must say so, or the check would
    pass whatever it claimed (the leaf-sensitivity probe swapped in "a new order is created": ADR 0489)."""
    if not any(word in expected for word in words) or any(word in expected for word in ("new order", "not the same")):
        raise AssertionError(f"idempotency case not interpretable (expects no same id / unchanged order): {case!r}")


def _idempotency(case: Mapping[str, Any], group: Mapping[str, Any], now: datetime) -> None:
    """§1.8 in prose: each case is read by what it describes; one this checker cannot tie to a check fails."""
    unknown = set(case) - _IDEMPOTENCY_KEYS
    assert not unknown, f"idempotency case fields this checker cannot interpret: {sorted(unknown)}"
    what, expected = str(case.get("case", "")).lower(), str(case.get("expected", "")).lower()
    text = f"{what} {expected}"
    fields = _defaults(group)
    if any(word in text for word in _COMMAND_WORDS):
        _command_once(case, expected)
        return
    if any(word in text for word in _OPEN_WORDS):
        _one_open_order(case, what, expected)
        return
    if "different" in what and "different" not in expected:
        # different inputs described, yet not a different id expected: no reading of §1.8 gives that
        raise AssertionError(f"idempotency case not interpretable: {case!r}")
    if "different" in expected:
        # orderId = deterministicId("order", signalId, strategy, ticker, side, requestedSize, maxPrice): each input
        # named in the case (all six when none is named) changes the id, and the aggregate with it
        named = [k for word, k in _ID_INPUTS.items() if word in what.replace(" ", "").replace("_", "")]
        base = new_order(fields, now)
        for key in named or list(_ID_INPUTS.values()):
            other = new_order(_changed(fields, key), now)
            assert other.order_id != base.order_id and other.id != base.id, f"{key} changed, same id {base.order_id}"
    elif "client order id" in text or "client_order_id" in text:
        _claims_same(case, expected, ("equal", "same", " is the ", "= "))
        order = new_order(fields, now)
        request = ExecutionRequest(order.order_id, ExecutionSignal(order.ticker, Side(order.side), 0.6, 0.55, 0.05,
                                                                   0.5), order.requested_size, order.max_price)
        venue = to_venue_order(request, MarketSnapshot(ticker=order.ticker), policy_for_mode(ExecutionMode.PAPER))
        assert venue.client_order_id == order.order_id, f"client_order_id {venue.client_order_id}"
    elif "kalshi_order" in text:
        # a request without an id: deterministicId("kalshi_order", marketId, side, requestedSize, maxPrice, timestamp)
        args = ("TICKER", "YES", 10, 55, iso_utc(now))
        assert execution_fallback_id(*args) == deterministic_id("kalshi_order", *args) == execution_fallback_id(*args)
        later = iso_utc(now + timedelta(milliseconds=1))
        assert execution_fallback_id(*args[:4], later) != execution_fallback_id(*args)
    elif "twice" in text and "create" in text:
        _claims_same(case, expected, _SAME_WORDS)
        app: Application[UUID] = Application()
        first = new_order(fields, now)
        first.validate(now)
        app.save(first)
        second = new_order(fields, now + timedelta(minutes=10))
        assert (second.order_id, second.id) == (first.order_id, first.id)
        try:
            app.save(second)
        except IntegrityError:
            pass
        else:
            raise AssertionError("second create was stored")
        stored: Order = app.repository.get(first.id)
        assert stored.state == S.VALIDATED and stored.created_at == now
    elif "adjusted" in text:
        _claims_same(case, expected, _SAME_WORDS)
        order = place(fields, "VALIDATED", now)
        oid, aid = order.order_id, order.id
        order.apply_risk_result(RiskCheckResult(True, fields["requestedSize"] - 1), now)
        assert order.requested_size == fields["requestedSize"] - 1
        assert (order.order_id, order.id) == (oid, aid)
    else:
        raise AssertionError(f"idempotency case not interpretable: {case!r}")


_SIZING_KEYS = frozenset({"name", "note", "targetSizeUSD", "maxPriceCents", "marketPrice", "expected_requestedSize",
                          "expected_maxPriceCents", "expected_outcome"})


def _sizing(case: Mapping[str, Any], group: Mapping[str, Any], now: datetime) -> None:
    """§1.7: maxPrice = round(marketPrice x 100); requestedSize = floor(targetSizeUSD / (maxPrice/100)), 0 drops
    the signal. A case may give the price in cents, or as a market price the order's maxPrice comes from."""
    unknown = set(case) - _SIZING_KEYS
    assert not unknown, f"sizing case fields this checker cannot interpret: {sorted(unknown)}"
    expectations = {"expected_requestedSize", "expected_maxPriceCents", "expected_outcome"} & set(case)
    assert expectations, f"sizing case states no expectation: {case!r}"
    max_price = case.get("maxPriceCents")
    if "marketPrice" in case:
        derived = max_price_from_market_price(case["marketPrice"])
        if "expected_maxPriceCents" in case:
            assert derived == case["expected_maxPriceCents"], f"maxPrice {derived}"
        max_price = derived if max_price is None else max_price
    else:
        assert "expected_maxPriceCents" not in case, f"no market price to derive maxPrice from: {case!r}"
    if "targetSizeUSD" in case:
        assert max_price is not None, f"sizing case without a price: {case!r}"
        size = requested_size_from_target(case["targetSizeUSD"], max_price)
        if "expected_requestedSize" in case:
            assert size == case["expected_requestedSize"], size
        if "expected_outcome" in case:
            assert case["expected_outcome"] == "signal dropped", f"outcome not interpretable: {case!r}"
            assert size == 0, f"signal kept with {size} contracts"
    else:
        assert not {"expected_requestedSize", "expected_outcome"} & set(case), f"no USD target: {case!r}"


def _step_defaults(value: Mapping[str, Any], group: Mapping[str, Any], now: datetime) -> None:
    order = new_order(_defaults(group), now)
    assert order.filled_size == value["order"].get("filledSize", 0)
    assert (order.ticker, order.side, order.requested_size) == (
        value["order"]["ticker"], value["order"]["side"], value["order"]["requestedSize"])


SECTIONS = {
    "states": _states, "allowed_transitions": _allowed, "terminal_predicate_true": _terminal,
    "states_without_outgoing_transitions": _no_exits, "initial": _initial,
    "raw_transition_sequences": _raw_sequence, "step_defaults": _step_defaults, "step_commands": _step,
    "retry": _retry, "cancel_command": _cancel, "metrics": _metrics, "idempotency": _idempotency,
    "signal_to_order_sizing": _sizing,
}


@checker("trading.json", "order_lifecycle", split=split)
def check(case: Any, ctx: Context) -> None:
    section, value, group = case
    run = SECTIONS.get(section)
    assert run is not None, f"order_lifecycle sub-section {section!r} has no interpretation"
    run(value, group, conventions.now(ctx))
