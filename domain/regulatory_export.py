"""Regulatory export of orders (api-and-security §6.3): each order, and each position exit's sell (ADR 0414), as a
CFTC Part 17 record, rendered as the raw rows (``json``), the ``cftc_part17`` document (``cftc``) or CSV (``csv``).

Pure: the caller reads the rows of the period and passes them in, so the same rows always give the same bytes
(an export can be hashed and filed). Every choice the spec leaves open is recorded in ADR 0371.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from paulp.domain.clock import iso_utc
from paulp.domain.errors import DomainError
from paulp.domain.exact import as_decimal

HEADER = (
    "Record_Sequence", "Report_Date", "Trader_ID", "Trader_Type", "Contract_Market", "Contract_Code",
    "Contract_Description", "Position_Date", "Position_Type", "Position_Quantity", "Position_Price", "Trade_ID",
    "Trade_Date", "Trade_Time", "Execution_Time", "Trade_Price", "Trade_Quantity", "Account_Type",
    "Trading_Purpose", "Hedge_Flag", "Order_Status",
)
TRADER_ID = "PAULP_001"
TRADER_TYPE = "ALGORITHMIC_TRADING_SYSTEM"
ACCOUNT_TYPE = "PROPRIETARY"
HEDGE_FLAG = "N"
DESCRIPTION_CHARS = 100
PRICE_QUANTUM = Decimal("0.0001")  # "prices with 4 decimals"
CFTC_FORMAT = "cftc_part17"

MARKETS = {"kalshi": "KALSHI", "polymarket": "POLY"}
CATEGORIES = {
    "politics": "POL", "economics": "ECON", "weather": "WX", "sports": "SPT", "entertainment": "ENT",
    "crypto": "CRPT", "science": "SCI", "finance": "FIN", "technology": "TECH",
}
# Checked in the spec's order; the first substring found names the purpose (``bonding_weather`` is bonding's).
PURPOSES = (
    ("bonding", "STATISTICAL_ARBITRAGE"), ("weather", "FUNDAMENTAL_ANALYSIS"), ("xv_signal", "CROSS_VENUE_ARBITRAGE"),
    ("smart_money", "FLOW_FOLLOWING"), ("resolution", "FUNDAMENTAL_ANALYSIS"),
)
DEFAULT_PURPOSE = "SYSTEMATIC_TRADING"
BUY, SELL = "buy", "sell"
ACTIONS = (BUY, SELL)
STATUSES = {
    "filled": "EXECUTED", "partial_fill": "PARTIAL", "pending": "PENDING", "submitted": "SUBMITTED",
    "cancelled": "CANCELLED", "rejected": "REJECTED", "expired": "EXPIRED",
}
# Our lifecycle has more states than the reference's order status; each is read as the status word it means
# (ADR 0371). ERROR is not here: such an order may or may not rest at the venue, so it is UNKNOWN.
LIFECYCLE_STATUS = {
    "FILLED": "filled", "RECONCILED": "filled", "RECONCILIATION_DRIFT": "filled", "ARCHIVED": "filled",
    "PARTIAL_FILL": "partial_fill",
    "SUBMITTING": "submitted", "SUBMITTED": "submitted", "ORDER_ACKNOWLEDGED": "submitted",
    "PENDING": "pending", "PRE_TRADE_CHECK": "pending", "VALIDATING": "pending", "VALIDATED": "pending",
    "RISK_CHECK": "pending", "RISK_APPROVED": "pending", "RISK_TIMEOUT": "pending",
    "CANCELLED": "cancelled", "PRICE_MOVE_CANCEL": "cancelled",
    "REJECTED": "rejected", "RISK_REJECTED": "rejected", "PRE_TRADE_FAILED": "rejected",
    "EXPIRED": "expired",
}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


class ExportFormat(StrEnum):
    JSON = "json"
    CFTC = "cftc"
    CSV = "csv"


class InvalidExportRequest(DomainError):
    """Raised when an export's period or format cannot be read; nothing is exported."""

    code = "invalid_export_request"


class InvalidOrderRow(DomainError):
    """Raised when a stored order lacks what its record needs: the export stops rather than file a guess."""

    code = "invalid_order_row"


def parse_format(text: str) -> ExportFormat:
    try:
        return ExportFormat(text.strip().lower())
    except ValueError:
        raise InvalidExportRequest(f"unknown format {text!r}: use json, cftc or csv") from None


@dataclass(frozen=True)
class ReportPeriod:
    """Whole UTC days, both ends included: an order is in it when it was created on one of them."""

    start: date
    end: date

    @classmethod
    def parse(cls, start: str, end: str) -> ReportPeriod:
        first, last = _day(start, "--from"), _day(end, "--to")
        if first > last:
            raise InvalidExportRequest(f"--from {first.isoformat()} is after --to {last.isoformat()}")
        return cls(first, last)

    def bounds(self) -> tuple[datetime, datetime]:
        """``[start 00:00Z, day after end 00:00Z)``: the half-open interval the rows are read in."""
        return (datetime.combine(self.start, time(), UTC),
                datetime.combine(self.end + timedelta(days=1), time(), UTC))

    def as_json(self) -> dict[str, str]:
        return {"startDate": self.start.isoformat(), "endDate": self.end.isoformat()}


def _day(text: str, option: str) -> date:
    if not _DATE.match(text.strip()):
        raise InvalidExportRequest(f"{option} must be a date YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidExportRequest(f"{option} is not a calendar date: {text!r}") from None


@dataclass(frozen=True)
class OrderRow:
    """What a record is built from: one order as the orders view holds it. Prices in cents."""

    order_id: str
    venue: str
    strategy: str
    ticker: str
    side: str
    category: str | None
    requested_size: int
    filled_size: int
    limit_price: Decimal
    fill_price: Decimal | None
    state: str
    created_at: datetime
    executed_at: datetime | None
    question: str | None = None
    action: str = BUY  # "sell": a position exit's sale (ADR 0414)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> OrderRow:
        """Read (and check) a stored row; ``executed_at`` is when it filled, else its first partial fill."""
        oid = _text(row, "order_id")
        try:
            return cls(
                order_id=oid, venue=_text(row, "venue"), strategy=_text(row, "strategy"),
                ticker=_text(row, "ticker"), side=_text(row, "side"), category=_optional_text(row, "category"),
                requested_size=_count(row, "requested_size"), filled_size=_count(row, "filled_size"),
                limit_price=_cents(row.get("max_price"), "max_price"),
                fill_price=None if row.get("avg_fill_price") is None else _cents(row["avg_fill_price"],
                                                                                 "avg_fill_price"),
                state=_text(row, "state"), created_at=_aware(row.get("created_at"), "created_at"),
                executed_at=_executed_at(row), question=_optional_text(row, "question"), action=_action(row),
            )
        except InvalidOrderRow as exc:
            raise InvalidOrderRow(f"order {oid}: {exc.message}") from None


def _action(row: Mapping[str, Any]) -> str:
    """A row without ``action`` is an order (a buy), as every row was before exits were exported."""
    value = row.get("action", BUY)
    if value not in ACTIONS:
        raise InvalidOrderRow(f"action is not buy or sell: {value!r}")
    return str(value)


def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidOrderRow(f"{key} missing")
    return value


def _optional_text(row: Mapping[str, Any], key: str) -> str | None:
    value = row.get(key)
    return value if isinstance(value, str) else None


def _count(row: Mapping[str, Any], key: str) -> int:
    value = row.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidOrderRow(f"{key} is not a count: {value!r}")
    return value


def _cents(value: Any, key: str) -> Decimal:
    """A price as an exact decimal: a float is read by its shortest repr (what was stored), never its binary value."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidOrderRow(f"{key} is not a price: {value!r}")
    cents = as_decimal(value)
    if not cents.is_finite() or cents < 0:
        raise InvalidOrderRow(f"{key} is not a price: {value!r}")
    return cents


def _aware(value: Any, key: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidOrderRow(f"{key} is not a time with a zone: {value!r}")
    return value.astimezone(UTC)


def _executed_at(row: Mapping[str, Any]) -> datetime | None:
    for key in ("filled_at", "partially_filled_at"):
        if row.get(key) is not None:
            return _aware(row[key], key)
    return None


# ---------------------------------------------------------------- the §6.3 mapping, one rule per function
def contract_market(venue: str) -> str:
    return MARKETS.get(venue.strip().lower(), "OTHER")


# Kalshi's own category names for the spec's categories (the spec's table names the reference's lower-case
# words; Kalshi's catalogue says "Climate and Weather", "Financials", ...): ADR 0371 addendum.
KALSHI_CATEGORY_NAMES = {
    "climate and weather": "weather", "financials": "finance", "science and technology": "science",
    "elections": "politics",
}


def category_code(category: str | None) -> str:
    key = " ".join((category or "").split()).lower()
    return CATEGORIES.get(KALSHI_CATEGORY_NAMES.get(key, key), "OTH")


def position_type(side: str) -> str:
    return "LONG" if side.strip().upper() == "YES" else "SHORT"


def trading_purpose(strategy_id: str) -> str:
    lowered = strategy_id.lower()
    return next((purpose for part, purpose in PURPOSES if part in lowered), DEFAULT_PURPOSE)


def order_status(status: str) -> str:
    """The spec's table over the reference's status words; any other word is UNKNOWN."""
    return STATUSES.get(status.strip().lower(), "UNKNOWN")


def lifecycle_status(state: str) -> str:
    """An order's lifecycle state as the status word of the spec's table (ERROR and unknown states: UNKNOWN)."""
    return order_status(LIFECYCLE_STATUS.get(state.strip().upper(), "unknown"))


def description(question: str | None, market_id: str) -> str:
    text = question if question and question.strip() else market_id
    return text[:DESCRIPTION_CHARS]


def price_text(cents: Decimal) -> str:
    """Dollars with 4 decimals, rounded half up (trading §0: never to even) from the exact decimal."""
    return f"{cents.scaleb(-2).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP):f}"


def record(row: OrderRow, sequence: int, period: ReportPeriod) -> dict[str, str | int]:
    """One CFTC Part 17 record, keyed by the CSV header's names in its order. A sell's quantities are negative: the
    21 fields have no buy/sell column, and a sale takes contracts out of the position (ADR 0414)."""
    price = price_text(row.fill_price if row.fill_price else row.limit_price)
    sign = -1 if row.action == SELL else 1
    traded = row.created_at.astimezone(UTC)
    executed = row.executed_at.astimezone(UTC) if row.executed_at else None
    values: tuple[str | int, ...] = (
        sequence, period.end.isoformat(), TRADER_ID, TRADER_TYPE, contract_market(row.venue), row.ticker,
        description(row.question, row.ticker), (executed or traded).date().isoformat(), position_type(row.side),
        sign * row.requested_size, price, row.order_id, traded.date().isoformat(), traded.strftime("%H:%M:%S"),
        iso_utc(executed) if executed else "", price, sign * row.filled_size, ACCOUNT_TYPE,
        trading_purpose(row.strategy), HEDGE_FLAG, lifecycle_status(row.state),
    )
    return dict(zip(HEADER, values, strict=True))


def records(rows: Iterable[Mapping[str, Any]], period: ReportPeriod) -> list[dict[str, str | int]]:
    """Numbered from 1 in creation order (order id breaks ties), whatever order the rows came in."""
    orders = sorted((OrderRow.from_row(r) for r in rows), key=lambda o: (o.created_at, o.order_id))
    return [record(o, n, period) for n, o in enumerate(orders, 1)]


# ---------------------------------------------------------------- renderings
def render(rows: Sequence[Mapping[str, Any]], period: ReportPeriod, fmt: ExportFormat) -> str:
    if fmt is ExportFormat.JSON:
        return render_raw(rows)
    built = records(rows, period)
    return render_cftc(built, period) if fmt is ExportFormat.CFTC else render_csv(built)


def render_raw(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as read: times as the spec's UTC timestamp text, numbers as JSON numbers."""
    return json.dumps([dict(r) for r in rows], default=_raw_value, ensure_ascii=False, allow_nan=False,
                      indent=2) + "\n"


def _raw_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, Decimal) and value.is_finite():  # stored from floats: their shortest repr reads back
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, UUID | date):
        return str(value)
    raise InvalidOrderRow(f"{value!r} ({type(value).__name__}) is not exportable")


def render_cftc(built: Sequence[Mapping[str, str | int]], period: ReportPeriod) -> str:
    document = {"format": CFTC_FORMAT, "reportPeriod": period.as_json(), "recordCount": len(built),
                "records": list(built)}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def render_csv(built: Sequence[Mapping[str, str | int]]) -> str:
    """RFC 4180 with CRLF line ends: the description always quoted (§6.3), other fields only when they must be."""
    lines = [",".join(HEADER)]
    for rec in built:
        lines.append(",".join(_field(str(rec[name]), always=name == "Contract_Description") for name in HEADER))
    return "\r\n".join(lines) + "\r\n"


def _field(text: str, always: bool = False) -> str:
    if always or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
