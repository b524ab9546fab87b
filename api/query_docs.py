"""OpenAPI declarations of the query parameters that routes read by hand (documentation only; ADR 0493).

The handlers read ``query_values(request)`` and validate in the spec's order with the spec's error bodies, so
FastAPI never sees these parameters. Each list here is built from the constants its parser uses, and
tests/unit/api/test_query_docs.py checks that the declared names equal the names the parser reads.
"""

from __future__ import annotations

from typing import Any

from paulp.api import job_runs, orchestrator_orders, routing_queries, trades
from paulp.domain.routing import BudgetCategory, RouteClass, RunType

HAND_READ = "x-paulp-hand-read"  # marks these declarations, so the fuzz test can bound their examples


def _param(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description,
            HAND_READ: True}


def _choice(name: str, values: tuple[str, ...] | list[str], note: str = "", required: bool = False) -> dict[str, Any]:
    return _param(name, {"type": "string", "enum": list(values)}, f"One of {', '.join(values)}{note}.", required)


def _text(name: str, description: str, required: bool = False) -> dict[str, Any]:
    return _param(name, {"type": "string"}, description, required)


def _limit(default: int, maximum: int, clamped: bool) -> dict[str, Any]:
    tail = f"values above {maximum} are clamped" if clamped else f"1-{maximum}, else 400"
    return _param("limit", {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
                  f"Decimal digits only; default {default}; {tail}.")


def _time(name: str, description: str) -> dict[str, Any]:
    return _param(name, {"type": "string", "format": "date-time"}, description)


def _bool(name: str) -> dict[str, Any]:
    return _param(name, {"type": "boolean"}, "true or false (any case).")


def openapi_params(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``openapi_extra`` for a route decorator."""
    return {"parameters": parameters}


TRADES = [
    _choice("venue", ("all", *trades.VENUES), " (any case; default all)"),
    _limit(trades.DEFAULT_LIMIT, trades.MAX_LIMIT, clamped=True),
    _choice("mode", ("PAPER", "LIVE"), " (any case)"),
    _text("strategy", "Strategy id (exact match)."),
    _text("ticker", "Market ticker (exact match)."),
    _text("status", "Trade status (either spelling the view keys)."),
]
ORCHESTRATOR_ORDERS = [
    _choice("state", orchestrator_orders.STATES, " (any case)"),
    _text("strategy", "Strategy id (exact match)."),
    _limit(orchestrator_orders.DEFAULT_LIMIT, orchestrator_orders.MAX_LIMIT, clamped=True),
]
ORCHESTRATOR_RUNS = [
    _choice("job", job_runs.RUN_JOBS),
    _choice("state", job_runs.RUN_STATES, " (any case)"),
    _choice("source", job_runs.SOURCES),
    _limit(job_runs.DEFAULT_LIMIT, job_runs.MAX_LIMIT, clamped=True),
]
_RUN_TYPES = [str(r) for r in RunType]
ROUTING_DECISIONS = [
    _choice("runType", _RUN_TYPES),
    _limit(routing_queries.DEFAULT_LIMIT, routing_queries.MAX_LIMIT, clamped=False),
    _time("start", "ISO-8601 timestamp; decisions at or after it."),
    _time("end", "ISO-8601 timestamp; must be after start."),
    _choice("routeClass", [str(r) for r in RouteClass]),
    _choice("budgetCategory", [str(c) for c in BudgetCategory]),
    _bool("success"),
    _text("strategyId", "Strategy id (at most 200 characters)."),
    _bool("overrideUsed"),
]
ROUTING_STATS = [
    _time("start", "ISO-8601 timestamp; default 24 h before end."),
    _time("end", "ISO-8601 timestamp; default now; must be after start."),
]
ROUTING_DRY_RUN = [_choice("runType", _RUN_TYPES, required=True)]
ROUTING_SCORING_GATE = [
    _text("marketId", "Market id (required; no NUL characters).", required=True),
    _text("strategy", "Strategy id (optional)."),
]
CORRELATIONS = [_text("market", "Only correlations involving this market ticker.")]
