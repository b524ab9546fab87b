"""GET /admin/orchestrator/orders query side: filters validated like /admin/trades, read from views.orders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from paulp.api.errors import ApiError
from paulp.api.trades import parse_limit
from paulp.domain.clock import iso_utc
from paulp.domain.fees import cents_to_usd
from paulp.domain.order_states import OrderState

DEFAULT_LIMIT, MAX_LIMIT = 50, 500
STATES = tuple(s.value for s in OrderState)


@dataclass(frozen=True)
class OrderFilters:
    state: str | None
    strategy: str | None
    limit: int

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, "strategy": self.strategy, "limit": self.limit}


def parse_order_filters(params: dict[str, str]) -> OrderFilters:
    """Validate state -> limit (first failure wins); empty ``state=`` / ``strategy=`` mean absent."""
    state = params.get("state") or None
    if state is not None:
        state = state.upper()
        if state not in STATES:
            raise ApiError(400, "Invalid state. Must be one of " + ", ".join(STATES) + ".", "invalid_state")
    limit = parse_limit(params.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)
    return OrderFilters(state, params.get("strategy") or None, limit)


# The §1.3 timestamps (view column, API key), after createdAt / updatedAt.
STAMPS = (("pre_trade_checked_at", "preTradeCheckedAt"), ("validated_at", "validatedAt"),
          ("risk_approved_at", "riskApprovedAt"), ("submitted_at", "submittedAt"),
          ("acknowledged_at", "acknowledgedAt"), ("filled_at", "filledAt"), ("reconciled_at", "reconciledAt"),
          ("archived_at", "archivedAt"), ("closed_at", "closedAt"))
ORDERS = (
    "SELECT order_id, signal_id, strategy, ticker, side, requested_size, max_price, state, filled_size,"
    " avg_fill_price, last_error, created_at, updated_at, state_history, entry_price, closing_line_price, clv,"
    " signal_model_probability, signal_edge, signal_confidence, evidence_hashes, retry_count,"
    " pre_trade_check_result, risk_check_result, reconciliation_result, fees_cents, fees_complete, "
    + ", ".join(column for column, _ in STAMPS) + " FROM views.orders"
    " WHERE (%(state)s::text IS NULL OR state = %(state)s) AND (%(strategy)s::text IS NULL OR strategy = %(strategy)s)"
    " ORDER BY created_at DESC, order_id DESC LIMIT %(limit)s"
)


def _number(value: Any) -> Any:
    return None if value is None else (int(value) if value == int(value) else float(value))


def _stamp(value: Any) -> str | None:
    return None if value is None else iso_utc(value)


def _order(row: dict[str, Any]) -> dict[str, Any]:
    """The order record's names (trading §1.1); prices in cents, probabilities and edge as the signal gave them.
    An absent optional field is null, so every order has the same keys."""
    return {
        "orderId": row["order_id"], "signalId": row["signal_id"], "strategy": row["strategy"],
        "ticker": row["ticker"], "side": row["side"], "requestedSize": row["requested_size"],
        "maxPrice": _number(row["max_price"]), "currentState": row["state"], "filledSize": row["filled_size"],
        "avgFillPrice": _number(row["avg_fill_price"]), "lastError": row["last_error"],
        "createdAt": iso_utc(row["created_at"]), "updatedAt": iso_utc(row["updated_at"]),
        "stateHistory": row["state_history"], "entryPrice": _number(row["entry_price"]),
        "closingLinePrice": _number(row["closing_line_price"]), "clv": _number(row["clv"]),
        "signalModelProbability": _number(row["signal_model_probability"]),
        "signalEdge": _number(row["signal_edge"]), "signalConfidence": _number(row["signal_confidence"]),
        "evidenceHashes": row["evidence_hashes"], "retryCount": row["retry_count"],
        "preTradeCheckResult": row["pre_trade_check_result"], "riskCheckResult": row["risk_check_result"],
        "reconciliationResult": row["reconciliation_result"],
        # the fills' fees (ADR 0437): null when no fill's fee is known; feesComplete false when one is not
        "feesUsd": None if row["fees_cents"] is None else cents_to_usd(row["fees_cents"]),
        "feesComplete": row["fees_complete"],
        **{key: _stamp(row[column]) for column, key in STAMPS},
    }


def list_orders(pool: ConnectionPool[Any], f: OrderFilters) -> list[dict[str, Any]]:
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(ORDERS, {"state": f.state, "strategy": f.strategy, "limit": f.limit}).fetchall()
    return [_order(r) for r in rows]
