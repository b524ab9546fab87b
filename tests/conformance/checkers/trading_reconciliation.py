"""trading.json::reconciliation against paulp.domain.reconciliation (trading §7).

Also home of ``sectioned``: the split shared by the strategy checkers whose groups are dicts of
sub-sections (each list item becomes one case; a section without an interpreter becomes a failing case).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from paulp.domain.reconciliation import (
    DriftSeverity,
    FilledOrder,
    Position,
    alert_for,
    compare,
    internal_positions,
    reconcile,
    run_status,
)
from tests.conformance.registry import Context, checker

TOL = 1e-6
Handler = Callable[[Any, Context], None]


def _label(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    for key in ("id", "name", "case", "scenario"):
        if isinstance(item.get(key), str):
            return str(item[key])
    return None


def sectioned(
    handlers: Mapping[str, Handler], whole: frozenset[str] = frozenset(), ignored: frozenset[str] = frozenset()
) -> tuple[Callable[[Any], Iterator[tuple[str, Any]]], Callable[[Any, Context], None]]:
    """Build (split, check) for a dict group: list sections split per item, ``whole`` ones stay one case."""

    def split(data: Any) -> Iterator[tuple[str, Any]]:
        if not isinstance(data, dict):
            yield "group", ("<not a dict>", data)
            return
        for section, value in data.items():
            if section in ignored:
                continue
            if isinstance(value, list) and section not in whole and section in handlers:
                for i, item in enumerate(value):
                    label = _label(item)
                    cid = f"{section}/{i:03d}" + (f"-{label}" if label else "")
                    yield cid, (section, item)
            else:
                yield section, (section, value)

    def check(case: Any, ctx: Context) -> None:
        section, item = case
        handler = handlers.get(section)
        assert handler is not None, f"no interpreter for section {section!r}: {item!r:.300}"
        handler(item, ctx)

    return split, check


def close(actual: float | None, expected: Any, what: str, tol: float = TOL) -> None:
    assert actual is not None, f"{what}: got None, expected {expected!r}"
    assert isinstance(expected, int | float), f"{what}: expected value {expected!r} is not a number"
    assert math.isclose(actual, expected, rel_tol=0, abs_tol=tol), f"{what}: got {actual!r}, expected {expected!r}"


_PROSE = frozenset({"name", "note", "source_behaviour"})
_POSITION_ROW = frozenset({"marketId", "ticker", "side", "size", "avgPrice"})
_ORDER_ROW = frozenset({"marketId", "ticker", "side", "state", "filledSize", "avgFillPrice"})
_POSITION_EXPECTED = frozenset({"marketId", "side", "size", "avgPrice"})


def _refuse_unknown(item: Mapping[str, Any], known: frozenset[str], what: str) -> None:
    stray = set(item) - known - _PROSE
    assert not stray, f"{what} fields this checker cannot interpret: {sorted(stray)}"


def _position(row: Mapping[str, Any]) -> Position:
    _refuse_unknown(row, _POSITION_ROW, "position row")
    market = row.get("marketId", row.get("ticker"))
    assert isinstance(market, str), f"position without marketId/ticker: {row!r}"
    return Position(market, str(row["side"]), float(row["size"]), row.get("avgPrice"))


def _per_position_drift(case: Any, _: Context) -> None:
    _refuse_unknown(case, frozenset({"marketId", "side", "internalSize", "venueSize", "expected", "name", "note"}),
                    "per_position_drift")
    d = compare(str(case.get("marketId", "M")), str(case.get("side", "YES")).upper(), float(case["internalSize"]),
                float(case["venueSize"]))
    exp = case["expected"]
    unknown = set(exp) - {"drift", "driftPct", "severity"}
    assert exp and not unknown, f"no interpreter for expected drift fields {sorted(unknown) or 'none given'}"
    if "drift" in exp:
        close(d.drift, exp["drift"], "drift")
    if "driftPct" in exp:
        close(d.drift_pct, exp["driftPct"], "driftPct")
    if "severity" in exp:
        assert d.severity.value == exp["severity"], f"severity {d.severity.value}, expected {exp['severity']}"


def _run_status(case: Any, _: Context) -> None:
    _refuse_unknown(case, frozenset({"severities", "expected", "alert"}), "run_status")
    status = run_status(DriftSeverity(s) for s in case["severities"])
    assert status.value == case["expected"], f"status {status.value}, expected {case['expected']}"
    alert = case.get("alert")
    if alert is None:
        assert alert_for(status) is None, f"{status} must raise no alert, got {alert_for(status)}"
    else:
        assert isinstance(alert, str), f"uninterpretable alert {alert!r}"
        level = alert.split()[0].lower()
        assert alert_for(status) == level, f"{status} alert {alert_for(status)!r}, expected {level!r} ({alert})"


def _keying(case: Any, _: Context) -> None:
    _refuse_unknown(case, frozenset({"internal", "venue", "expected"}), "keying")
    assert case["expected"], "keying case with nothing expected"
    run = reconcile([_position(p) for p in case.get("internal", [])], [_position(p) for p in case.get("venue", [])])
    exp = case["expected"]
    # §7 run record: internal/venue counts, matched (severity none), drift count (non-none), max |driftPct|
    counts = {"matched": run.matched, "driftCount": run.drift_count, "internalCount": run.internal_count,
              "venueCount": run.venue_count}
    unknown = set(exp) - set(counts) - {"status", "drifts", "maxDriftPct", "totalAbsoluteDrift", "alert"}
    assert not unknown, f"no interpreter for expected run fields {sorted(unknown)}"
    for key, actual in counts.items():
        if key in exp:
            assert actual == exp[key], f"{key} {actual}, expected {exp[key]}"
    if "maxDriftPct" in exp:
        close(run.max_drift_pct, exp["maxDriftPct"], "maxDriftPct")
    if "totalAbsoluteDrift" in exp:
        close(run.total_absolute_drift, exp["totalAbsoluteDrift"], "totalAbsoluteDrift")
    if "status" in exp:
        assert run.status.value == exp["status"], f"status {run.status}, expected {exp['status']}"
    if "alert" in exp:
        want = None if exp["alert"] is None else str(exp["alert"]).split()[0].lower()
        assert run.alert_severity == want, f"alert {run.alert_severity!r}, expected {exp['alert']!r}"
    if "drifts" in exp:
        got = [d.to_dict() for d in run.drifts]
        assert len(got) == len(exp["drifts"]), f"drifts {got}, expected {exp['drifts']}"
        for want in exp["drifts"]:
            hits = [g for g in got if all(g.get(k) == v or _num_eq(g.get(k), v) for k, v in want.items())]
            assert hits, f"no drift matches {want}; got {got}"


def _num_eq(a: Any, b: Any) -> bool:
    return isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(a, b, abs_tol=TOL)


def _aggregation(case: Any, _: Context) -> None:
    _refuse_unknown(case, frozenset({"filled_orders", "expected"}), "internal_positions_aggregation")
    for o in case["filled_orders"]:
        _refuse_unknown(o, _ORDER_ROW, "filled order")
    orders = [
        FilledOrder(
            str(o.get("marketId", o.get("ticker"))),
            str(o["side"]),
            str(o.get("state", "FILLED")),  # the section lists filled orders
            float(o["filledSize"]),
            None if o.get("avgFillPrice") is None else float(o["avgFillPrice"]),
        )
        for o in case["filled_orders"]
    ]
    got = internal_positions(orders)
    expected = case["expected"] if isinstance(case["expected"], list) else [case["expected"]]
    assert len(got) == len(expected), f"positions {got}, expected {expected}"
    for want in expected:
        _refuse_unknown(want, _POSITION_EXPECTED, "expected position")
        # a position may be named by market or side alone when that singles it out (ADR 0486)
        match = [p for p in got if p.market_id == want.get("marketId", p.market_id)
                 and p.side == str(want.get("side", p.side)).upper()]
        assert match, f"no position for {want}; got {got}"
        assert len(match) == 1, f"expected position {want} not interpretable: it names none of {got} alone"
        if "size" in want:
            close(match[0].size, want["size"], "size")
        if "avgPrice" in want:
            close(match[0].avg_price, want["avgPrice"], "avgPrice")


SPLIT, CHECK = sectioned(
    {
        "per_position_drift": _per_position_drift,
        "run_status": _run_status,
        "keying": _keying,
        "internal_positions_aggregation": _aggregation,
    }
)


@checker("trading.json", "reconciliation", split=SPLIT)
def check(case: Any, ctx: Context) -> None:
    CHECK(case, ctx)
