"""Shared helpers of the llm-routing.json checkers (registers nothing itself)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from paulp.adapters.llm.base import ProviderNetworkError, network_error, parse_error
from paulp.domain.budgets import BudgetBook, derive_budget
from paulp.domain.executor import (
    CallResult,
    Execution,
    ProviderAuthFailed,
    ProviderError,
    ProviderParseError,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
    Usage,
    execute_plan,
    provider_http_error,
    provider_timeout,
)
from paulp.domain.routing import (
    BudgetCategory,
    ErrorCode,
    Provider,
    RouteRequest,
    budget_category,
    model_spec,
    parse_run_type,
)
from paulp.domain.routing_decision import AuditEvent, DecisionRecord, decide, routing_audit_events
from paulp.domain.routing_plan import RoutePlan, plan_route
from tests.conformance.checkers._json_numbers import json_int
from tests.conformance.checkers._sides import resolve_sides

FILE = "llm-routing.json"
DEFAULT_TOL = 1e-6
FIXED_NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
DECISION_ID = UUID("00000000-0000-4000-8000-000000000001")

_REQUEST_KEYS = {"runType", "estimatedInputTokens", "estimatedOutputTokens", "strategyId", "forceModel",
                 "forceRouteClass", "isHighestStakes", "overrideReason", "metadata"}


def tolerances(case: Mapping[str, Any]) -> tuple[float, float]:
    """(rel, abs) from the case (expected or top level); 1e-6 when the case names none."""
    exp = case.get("expected") if isinstance(case.get("expected"), dict) else {}
    rel = exp.get("relTolerance", case.get("relTolerance"))
    ab = exp.get("absTolerance", case.get("absTolerance"))
    if rel is None and ab is None:
        return DEFAULT_TOL, DEFAULT_TOL
    return float(rel or 0.0), float(ab or 1e-12)


META_KEYS = frozenset({"relTolerance", "absTolerance", "note"})


def expected_of(case: Mapping[str, Any], carried: Container[str] = ()) -> dict[str, Any]:
    """The case's expected facts without tolerance/note metadata, ``reference*``/``recommended*`` keys folded
    onto the side Paul P implements (``_sides``) unless the checker's view ``carried`` them itself."""
    exp = case["expected"]
    assert isinstance(exp, dict), f"expected must be an object: {exp!r}"
    return resolve_sides({k: v for k, v in exp.items() if k not in META_KEYS}, FILE, carried)


def needles(value: Any) -> list[str]:
    """``messageContains`` as a list of fragments (the vectors give one string or a list)."""
    if isinstance(value, str):
        return [value]
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"messageContains {value!r}"
    return value


def close(actual: float, expected: float, tol: tuple[float, float]) -> bool:
    return math.isclose(actual, expected, rel_tol=tol[0], abs_tol=tol[1])


def assert_matches(actual: Any, expected: Any, tol: tuple[float, float], path: str = "$") -> None:
    """Expected is a subset: every expected key must match; numbers within tolerance. A nested
    ``reference*``/``recommended*`` key the actual object does not carry is folded as in ``expected_of``."""
    if isinstance(expected, dict):
        assert isinstance(actual, Mapping), f"{path}: expected an object, got {actual!r}"
        for key, value in resolve_sides(expected, FILE, actual).items():
            assert key in actual, f"{path}.{key} missing in {sorted(actual)}"
            assert_matches(actual[key], value, tol, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list | tuple), f"{path}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}: {actual!r}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_matches(a, e, tol, f"{path}[{i}]")
    elif isinstance(expected, bool) or expected is None or isinstance(expected, str):
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"
    elif isinstance(expected, int | float):
        assert isinstance(actual, int | float) and not isinstance(actual, bool), f"{path}: {actual!r} not a number"
        assert close(float(actual), float(expected), tol), f"{path}: {actual!r} != {expected!r} (tol {tol})"
    else:
        raise AssertionError(f"{path}: cannot interpret expected value {expected!r}")


def _typed(data: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    """A call field of its JSON type or absent: "false" is not false, 100.5 or "100" tokens are not 100 (100.0
    is: the same JSON number)."""
    value = json_int(data.get(key, default)) if kind is int else data.get(key, default)
    assert value is default or (isinstance(value, kind) and not (kind is int and isinstance(value, bool))), \
        f"routing call field {key} must be {kind.__name__}: {value!r}"
    return value


def whole(data: Mapping[str, Any], key: str, default: int = 0) -> int:
    """A scripted token count as given: a JSON integer. A fractional count, a string or a boolean is refused
    rather than truncated or coerced (ADR 0483); 100.0 is the JSON number 100 (ADR 0486)."""
    value = json_int(data.get(key, default))
    assert isinstance(value, int) and not isinstance(value, bool), f"usage field {key} must be int: {value!r}"
    return value


USAGE_KEYS = frozenset({"inputTokens", "outputTokens", "cachedTokens", "costUsd"})


def number(data: Mapping[str, Any], key: str, default: float | None = None) -> float:
    """A money amount or percentage as given: a JSON number. ``"0.3"``, ``true`` or ``null`` is refused, not
    coerced by ``float()`` (ADR 0485)."""
    value = data.get(key, default)
    assert isinstance(value, int | float) and not isinstance(value, bool), f"{key} must be a number: {value!r}"
    return float(value)


def env_of(value: Any) -> dict[str, str]:
    """Process environment of a case: names to text values (§3.1 reads "" as unset, nothing else)."""
    env = {} if value is None else value
    assert isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()), \
        f"env must map names to strings: {value!r}"
    return env


_TEXT_FIELDS = ("strategyId", "forceModel", "forceRouteClass", "overrideReason")


def request_from(data: Mapping[str, Any]) -> RouteRequest:
    unknown = set(data) - _REQUEST_KEYS
    assert not unknown, f"unknown routing call fields {sorted(unknown)}"
    for key in ("estimatedInputTokens", "estimatedOutputTokens"):
        _typed(data, key, int, 0)
    _typed(data, "isHighestStakes", bool, False)
    assert isinstance(data.get("runType"), str), f"routing call field runType must be str: {data.get('runType')!r}"
    for key in _TEXT_FIELDS:  # optional text: absent or null is "not given"; 5 or false is not a model id
        _typed(data, key, str, None)
    _typed(data, "metadata", dict, None)
    return RouteRequest(run_type=data["runType"], estimated_input_tokens=int(data.get("estimatedInputTokens", 0)),
                        estimated_output_tokens=int(data.get("estimatedOutputTokens", 0)),
                        strategy_id=data.get("strategyId"), force_model=data.get("forceModel"),
                        force_route_class=data.get("forceRouteClass"),
                        is_highest_stakes=bool(data.get("isHighestStakes", False)),
                        override_reason=data.get("overrideReason"), metadata=data.get("metadata") or {})


def budget_book(consumed_daily: Mapping[BudgetCategory, float] | None = None,
                consumed_monthly: Mapping[BudgetCategory, float] | None = None,
                now: datetime = FIXED_NOW) -> BudgetBook:
    return BudgetBook(derive_budget().envelopes, dict(consumed_daily or {}), dict(consumed_monthly or {}), now)


# §6.2 rows without an HTTP status, by the words a case may name them with (shared with provider_error); each
# raised as the adapters raise it.
NETWORK_EVENTS = frozenset({"network", "network_error", "connection_reset", "connection_refused", "dns", "exception"})
PARSE_EVENTS = frozenset({"parse", "parse_error", "malformed_json", "invalid_json", "missing_usage"})
_HTTP_OUTCOME = re.compile(r"(?:http[ _:]?)?(\d{3})(?::(.*))?", re.IGNORECASE | re.DOTALL)
Raise = Callable[[Provider], BaseException]


# §6.2's attempt-level codes, scriptable by name; "<CODE>:<message>" raises with exactly that message, as
# "error:<message>" does. PROVIDER_NETWORK_ERROR is the "network / other exception" row (ADR 0183).
_ATTEMPT_CODES: dict[str, tuple[type[ProviderError], Raise]] = {
    ErrorCode.PROVIDER_AUTH_FAILED: (ProviderAuthFailed, lambda p: provider_http_error(str(p), 401)),
    ErrorCode.PROVIDER_RATE_LIMITED: (ProviderRateLimited, lambda p: provider_http_error(str(p), 429)),
    ErrorCode.PROVIDER_SERVER_ERROR: (ProviderServerError, lambda p: provider_http_error(str(p), 500)),
    ErrorCode.PROVIDER_TIMEOUT: (ProviderTimeout, lambda p: provider_timeout(str(p))),
    ErrorCode.PROVIDER_PARSE_ERROR: (ProviderParseError, lambda p: parse_error(p, "malformed response")),
    ErrorCode.PROVIDER_NETWORK_ERROR: (ProviderNetworkError, lambda p: network_error(p, ConnectionError())),
}


def attempt_outcome(outcome: Any) -> Raise | None:
    """One scripted attempt: None for "ok", else what the attempt raises for the model's provider.

    §6.2 names every way an attempt fails: an HTTP status (401/403 auth, 429 rate limit, any other non-2xx a
    server error), a timeout, a parse failure, a network or other exception. A script spells them by code
    ("PROVIDER_RATE_LIMITED", "PROVIDER_RATE_LIMITED:<message>"), by status (429, "429", "http:429",
    "HTTP 429", "http:500:<body>") or by event word ("timeout", "malformed_json", "network"), beside the meta
    note's "ok", "error", "error:<message>" and "PROVIDER_TIMEOUT". Codes that stop a call before or after the
    attempts (BUDGET_EXCEEDED, ALL_MODELS_FAILED, ...) are not attempt outcomes, and a 2xx status is not a
    failure: those, and anything else, fail the case here, never inside the call, where the chain walk would
    take the assertion for a provider failure and move on."""
    if isinstance(outcome, int) and not isinstance(outcome, bool):
        outcome = str(outcome)
    assert isinstance(outcome, str), f"cannot interpret attempt outcome {outcome!r} (not a string)"
    if outcome == "ok":
        return None
    if outcome == "error" or outcome.startswith("error:"):
        message = outcome.partition(":")[2] or "provider error"
        return lambda p: RuntimeError(message)
    if outcome == "timeout":
        return lambda p: provider_timeout(str(p))
    if outcome in NETWORK_EVENTS:
        return lambda p: network_error(p, ConnectionError(outcome))
    if outcome in PARSE_EVENTS:
        return lambda p: parse_error(p, outcome)
    code, colon, message = outcome.partition(":")
    if code in _ATTEMPT_CODES:
        kind, default = _ATTEMPT_CODES[code]
        return (lambda p: kind(message)) if colon else default
    http = _HTTP_OUTCOME.fullmatch(outcome)
    if http is not None:
        status, body = int(http.group(1)), http.group(2) or ""
        assert 100 <= status <= 599 and not 200 <= status <= 299, \
            f"cannot interpret attempt outcome {outcome!r}: HTTP {status} is not a failing status"
        return lambda p: provider_http_error(str(p), status, body)
    raise AssertionError(f"cannot interpret attempt outcome {outcome!r}")


@dataclass
class ScriptedPort:
    """A provider port replaying the vectors' attemptOutcomes; calls past the script are recorded as overrun."""

    outcomes: list[Any]
    est_in: int
    est_out: int
    usage: Mapping[str, Any] | None = None
    called: list[str] = field(default_factory=list)
    overrun: bool = False
    _usage: Usage | None = field(default=None, init=False, repr=False)
    _script: list[Raise | None] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        """Read the script and the usage up front: an assertion inside a call would be taken for a provider
        failure, and the chain would simply move on."""
        assert isinstance(self.outcomes, list), f"attemptOutcomes must be a list: {self.outcomes!r}"
        self._script = [attempt_outcome(o) for o in self.outcomes]
        u = self.usage or {}
        unknown = set(u) - USAGE_KEYS  # e.g. §2.4's "cachedInputTokens" would otherwise price as uncached
        assert not unknown, f"usage fields this checker cannot interpret: {sorted(unknown)}"
        cost = u.get("costUsd", 0.0)
        assert isinstance(cost, int | float) and not isinstance(cost, bool), f"costUsd is not a number: {cost!r}"
        self._usage = Usage(whole(u, "inputTokens", self.est_in), whole(u, "outputTokens", self.est_out),
                            whole(u, "cachedTokens"), float(cost))

    def __call__(self, model_id: str) -> CallResult:
        self.called.append(model_id)
        i = len(self.called) - 1
        if i >= len(self._script):
            self.overrun = True
            raise RuntimeError("attempt beyond the scripted outcomes")
        failure = self._script[i]
        if failure is not None:
            raise failure(model_spec(model_id).provider)
        assert self._usage is not None
        return CallResult("ok", self._usage, 100)


def attempt_error_codes(execution: Execution) -> list[str | None]:
    """The code each attempt was recorded under (None for the one that succeeded)."""
    return [None if a.error_code is None else str(a.error_code) for a in execution.attempts]


@dataclass
class Routed:
    plan: RoutePlan
    execution: Execution
    record: DecisionRecord
    audit: list[AuditEvent]
    port: ScriptedPort


def run_routed(call: Mapping[str, Any], env: Mapping[str, str] | None = None, outcomes: list[str] | None = None,
               usage: Mapping[str, Any] | None = None, book: BudgetBook | None = None) -> Routed:
    """The routing wrapper end to end: plan, walk the chain, fold into a decision, audit."""
    req = request_from(call)
    port = ScriptedPort(list(outcomes or []), req.estimated_input_tokens, req.estimated_output_tokens, usage)
    plan = plan_route(req, dict(env or {}), book or budget_book())
    execution = execute_plan(plan, port)
    assert not port.overrun, f"the executor called past the scripted outcomes: {port.called}"
    record = decide(DECISION_ID, execution, FIXED_NOW, FIXED_NOW).record()
    return Routed(plan, execution, record, routing_audit_events(record), port)


def decision_view(record: DecisionRecord) -> dict[str, Any]:
    """The §9.1 camelCase view of a decision record."""
    return {"id": record.id, "runType": record.run_type, "routeClass": record.route_class,
            "selectedModel": dict(record.selected_model), "fallbacksAttempted": record.fallbacks_attempted,
            "budgetCategory": record.budget_category, "projectedCostUsd": record.projected_cost_usd,
            "actualCostUsd": record.actual_cost_usd, "latencyMs": record.latency_ms, "success": record.success,
            "failureReason": record.failure_reason, "decisionHash": record.decision_hash,
            "strategyId": record.strategy_id, "overrideUsed": record.override_used,
            "overrideReason": record.override_reason, "resolutionSource": record.resolution_source,
            "routingReason": record.routing_reason, "metadata": record.metadata,
            "resolvedModelId": record.resolved_model_id}


def routed_view(r: Routed) -> dict[str, Any]:
    """Top-level observable facts of a routed call, in the vectors' vocabulary."""
    failure = r.execution.failure
    view: dict[str, Any] = {
        "success": r.execution.success, "attempted": list(r.port.called), "executorCalled": bool(r.port.called),
        "routeClass": r.plan.route_class, "resolutionSource": r.plan.resolution_source,
        "overrideUsed": r.plan.override_used, "overrideReasonPresent": r.plan.override_reason is not None,
        "budgetCategory": r.plan.budget_category, "auditEvents": [e.event_type for e in r.audit],
        "decision": decision_view(r.record), "resolvedModelId": r.execution.resolved_model_id,
        "actualCostUsd": r.execution.usage.cost_usd if r.execution.usage else None,
        "projectedCostUsd": r.plan.projected_cost_usd, "failureReason": r.record.failure_reason,
        "fallbacksAttempted": r.record.fallbacks_attempted, "selectedModel": dict(r.record.selected_model),
        "attemptErrorCodes": attempt_error_codes(r.execution),
        "decisionHash": r.record.decision_hash, "latencyMs": r.record.latency_ms,
        "shouldAlert": r.plan.should_alert,
        # §3.5/§9.2 payloads by event type (absent optional values are omitted, so a subset match reads them)
        "auditPayloads": {e.event_type: dict(e.payload) for e in r.audit},
    }
    if failure is not None:
        view.update(errorCode=str(failure.code), retryable=failure.retryable, message=failure.message)
    return view


ROUTED_INPUT_KEYS = frozenset({"call", "env", "attemptOutcomes", "usage", "category", "consumedDailyUsd",
                               "consumedMonthlyUsd"})


def book_from(inp: Mapping[str, Any]) -> BudgetBook:
    """The budget a routed case runs against: default envelopes, plus the case's consumption of one category
    (``category`` defaults to the call's own budget category)."""
    if "consumedDailyUsd" not in inp and "consumedMonthlyUsd" not in inp:
        return budget_book()
    cat = inp.get("category")
    if cat is None:
        call = inp.get("call") or inp
        cat = budget_category(parse_run_type(call["runType"]))
    cat = BudgetCategory(cat)
    return budget_book({cat: number(inp, "consumedDailyUsd", 0)}, {cat: number(inp, "consumedMonthlyUsd", 0)})


def check_routed(case: Mapping[str, Any]) -> None:
    """Run a {call|top-level call, env?, attemptOutcomes?, usage?, consumption?} case; match its expected subset."""
    inp = case["input"]
    unknown = set(inp) - ROUTED_INPUT_KEYS - (set() if "call" in inp else _REQUEST_KEYS)
    assert not unknown, f"routed case input fields this checker cannot interpret: {sorted(unknown)}"
    call = inp.get("call") or {k: v for k, v in inp.items() if k in _REQUEST_KEYS}
    outcomes = inp.get("attemptOutcomes", case.get("attemptOutcomes"))
    r = run_routed(call, env_of(inp.get("env")), outcomes, inp.get("usage"), book_from(inp))
    exp = expected_of(case)
    texts = [t for t in ((r.execution.failure.message if r.execution.failure else None), r.record.failure_reason) if t]
    for needle in needles(exp.pop("messageContains", [])):
        assert any(needle in t for t in texts), f"{needle!r} not in {texts}"
    assert_matches(routed_view(r), exp, tolerances(case))


def parse_time(text: str) -> datetime:
    """ISO-8601; a timestamp without an offset is UTC (the spec's convention), never the machine's zone."""
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
