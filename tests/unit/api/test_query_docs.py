"""The query parameters declared in OpenAPI for hand-parsed routes are exactly the ones their parsers read
(ADR 0493). The names read are recorded by running each parser (or handler) on a recording mapping, so the
test holds no second list to drift."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

from fastapi import FastAPI
from fastapi.routing import APIRoute

from paulp.api import job_runs, orchestrator_orders, routing_queries, trades
from paulp.api.routers import orchestrator, risk, routing
from paulp.api.routers import trades as trades_router


class Recorder(dict[str, str]):
    """A query mapping that remembers every name asked for."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        super().__init__(values or {})
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)


def _parser(parse: Any, *args: Any) -> set[str]:
    rec = Recorder()
    parse(rec, *args)
    return rec.read


def _handler(module: Any, handler: Any, monkeypatch: Any, values: dict[str, str] | None = None) -> set[str]:
    rec = Recorder(values)
    monkeypatch.setattr(module, "query_values", lambda _request: rec)
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(container=MagicMock())))
    try:
        handler(request)
    except Exception:  # only the names read before the fake container gives out matter
        pass
    return rec.read


def _declared() -> dict[tuple[str, str], set[str]]:
    app, routers = FastAPI(), (trades_router.router, orchestrator.router, routing.router, risk.router)
    for r in routers:
        app.include_router(r)
    paths = app.openapi()["paths"]
    by_signature = {(route.path, m.lower()): {p.name for p in route.dependant.query_params}  # FastAPI's own
                    for r in routers for route in r.routes if isinstance(route, APIRoute) for m in route.methods}
    return {(path, method): {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
            - by_signature.get((path, method), set()) for path, ops in paths.items() for method, op in ops.items()}


def test_declared_query_parameters_equal_the_names_the_parsers_read(monkeypatch: Any) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    read = {
        "/admin/trades": _parser(trades.parse_filters),
        "/admin/orchestrator/orders": _parser(orchestrator_orders.parse_order_filters),
        "/admin/orchestrator/runs": _parser(job_runs.parse_run_filters),
        "/admin/routing/decisions": _parser(routing_queries.parse_decision_filters),
        "/admin/routing/stats": _parser(routing_queries.parse_stats_range, now),
        "/admin/routing/dry-run": _handler(routing, routing.dry_run, monkeypatch),
        "/admin/routing/scoring-runs/gate": _handler(routing, routing.scoring_gate, monkeypatch, {"marketId": "M"}),
        "/admin/risk" + risk.PATH: _handler(risk, risk.list_correlations, monkeypatch),
    }
    declared = {path: names for (path, method), names in _declared().items() if method == "get"}
    assert all(names for names in read.values()), read
    assert {path: declared.get(path) for path in read} == read
    # Every other hand-read GET route would show here as an undeclared entry: none is left.
    assert {p for p, names in declared.items() if names} == set(read)
