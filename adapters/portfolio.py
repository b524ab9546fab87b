"""Portfolio snapshot for risk checks from the positions, exits, marks and event-graph views."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool

from paulp.adapters.book_history import WEEK, BookPrefixes, Close, Fee, Prefix
from paulp.domain.clock import Clock, from_iso_utc
from paulp.domain.exact import as_written_decimal
from paulp.domain.marks import Quotes, settlement_price_cents, unrealized_pnl_usd
from paulp.domain.risk_correlation import CorrelationRule, GraphEdge, GraphNode, catalogue, correlated_markets
from paulp.domain.risk_input import UNKNOWN_CATEGORY, CorrelatedMarket, LossFees, PortfolioSnapshot, Position
from paulp.domain.strategy_registry import find_strategy
from paulp.projections.reconciliation import NET_ADJUSTMENTS

log = logging.getLogger("paulp.portfolio")

# The strategy's positions valued as /admin/positions values them (ADR 0166): settled once resolved, else
# against the side's last mark, else at entry; those resolved before a time are left to the prefix (ADR 0521).
_BOOK = (
    "SELECT p.ticker, p.side, p.contracts, p.cost_cents, m.yes_bid, m.yes_ask, m.no_bid, m.no_ask, m.observed_at,"
    " m.result, m.resolved_at FROM views.positions p LEFT JOIN views.market_marks m ON m.ticker = p.ticker"
    " WHERE p.contracts > 0 AND p.strategy = ANY(%s) AND p.mode = %s AND (m.result IS NULL OR m.resolved_at >= %s)"
)
# Exposure for I2-I4: every strategy's and mode's open positions (ADR 0262); a position in a market whose
# outcome is determined is settled money, not exposure (ADR 0287). A position's category is the one the
# latest risk-checked order in its market recorded, else 'unknown' (ADR 0299).
_MARK_AND_CATEGORY = (  # joined to a position row "p": its market's mark and category
    " LEFT JOIN views.market_marks m ON m.ticker = p.ticker"
    " LEFT JOIN LATERAL (SELECT o.category FROM views.orders o WHERE o.ticker = p.ticker AND o.category IS NOT NULL"
    " ORDER BY o.created_at DESC, o.order_id DESC LIMIT 1) c ON true"
    " WHERE p.contracts > 0 AND m.result IS NULL"
)
_EXPOSURE = "SELECT p.ticker, p.cost_cents, coalesce(c.category, %s) FROM views.positions p" + _MARK_AND_CATEGORY
_RULES = "SELECT field, value, rule_type, weight FROM views.correlation_rules ORDER BY field, value"
_LATEST_CATEGORY = ("SELECT category FROM views.orders WHERE ticker = %s AND category IS NOT NULL"
                    " ORDER BY created_at DESC, order_id DESC LIMIT 1")
# Contracts a rebuild adopted from the venue (ADR 0415) are exposure too (at the venue, not of any strategy); only
# a net addition counts: a key the venue holds less of than the lifecycle says is not money the lifecycle rows
# leave out. Their entry is unknown, so they are valued at the side's mark (the row's quotes), else 100 cents.
_ADOPTED = (
    "SELECT p.ticker, p.side, p.contracts, m.yes_bid, m.yes_ask, m.no_bid, m.no_ask, m.observed_at,"
    " coalesce(c.category, %s) FROM (" + NET_ADJUSTMENTS + ") p" + _MARK_AND_CATEGORY
)
UNPRICED_CENTS = 100  # what a contract can cost at most
# The projections whose views a snapshot reads (positions, exits, orders' categories; adopted contracts; edges and
# rules; marks), each with the store time of the first event it has not applied yet, if any (ADR 0441).
SNAPSHOT_PROJECTIONS = ("orders", "reconciliation", "market_correlations", "market_marks")
_FIRST_UNAPPLIED = (
    "SELECT p.name, (SELECT c.timestamp FROM audit_chain c"
    " WHERE c.notification_id > coalesce(t.last_notification_id, 0) ORDER BY c.notification_id LIMIT 1)"
    " FROM unnest(%s::text[]) AS p(name)"
    " LEFT JOIN projection_tracking t ON t.name = p.name ORDER BY p.name"
)
DEFAULT_MAX_VIEW_LAG = timedelta(seconds=30)


def view_lag(conn: Connection[Any], now: datetime, max_lag: timedelta) -> str | None:
    """None when every view a snapshot reads has applied the log up to ``max_lag`` ago; else which are behind
    and since when. Store times are the chain's (the recorder's wall clock), so ``now`` is the wall clock too:
    a relay or projector that stopped leaves the views of positions and exposure behind the orders being checked
    against them, and the check must not approve on a book that is missing fills."""
    behind = []
    for name, first in conn.execute(_FIRST_UNAPPLIED, (list(SNAPSHOT_PROJECTIONS),)).fetchall():
        if first is None:
            continue
        age = now - from_iso_utc(first)
        if age > max_lag:
            behind.append(f"{name} has not applied events stored since {first} ({age.total_seconds():.0f} s)")
    return "; ".join(behind) or None


def _adopted(conn: Connection[Any]) -> list[tuple[str, float, str]]:
    """(ticker, value in cents, category) of the adopted contracts, the shape of ``_EXPOSURE``'s rows."""
    out = []
    for ticker, side, contracts, yb, ya, nb, na, observed, category in conn.execute(
            _ADOPTED, (UNKNOWN_CATEGORY,)).fetchall():
        price = Quotes(yb, ya, nb, na).side_price(side) if observed is not None else None
        out.append((ticker, float(contracts) * (UNPRICED_CENTS if price is None else price), category))
    return out


# Graph edges naming the market on either side (§3.4: "source or target"), in a stable order so that the
# first edge to a market wins the same way every time.
_EDGES = (
    "SELECT market_id, related_market_id, correlation_score, correlation_type FROM views.event_graph_edges"
    " WHERE market_id = %s OR related_market_id = %s ORDER BY market_id, related_market_id"
)
# I18: the market's executions in one mode within the window, worst first (ADR 0387).
_RECENT_SLIPPAGE = ("SELECT max(slippage_vs_edge_ratio) FROM views.slippage_history"
                    " WHERE market_id = %s AND mode = %s AND executed_at > %s AND executed_at <= %s")
# Exit fills with their sell's fee (NULL: not known), and entry fills' fees, each at its fill time (ADR 0442).
# Only those from a time on (ADR 0521: the prefix's cutoff), on index ranges, in a fixed order for equal times.
_EXITS = ("SELECT realized_pnl_usd, fee_cents, updated_at FROM views.position_exits"
          " WHERE state = 'FILLED' AND realized_pnl_usd IS NOT NULL AND strategy = ANY(%s) AND mode = %s"
          " AND updated_at >= %s ORDER BY updated_at, exit_uuid")
_ENTRY_FEES = ("SELECT fee_cents, filled_at FROM views.order_fills"
               " WHERE strategy = ANY(%s) AND mode = %s AND fee_cents IS DISTINCT FROM 0 AND filled_at >= %s"
               " ORDER BY filled_at, notification_id")
CENTS = Decimal(100)


def _names(strategy: str) -> list[str]:
    """Orders name a strategy by id (``bonding``) or by type (``bonding_barbell``): both are its book."""
    info = find_strategy(strategy)
    return [strategy] if info is None else [info.id, info.strategy_type]


@dataclass(frozen=True)
class _Book:
    closes: list[Close]  # realised PnL net of the fees paid then (ADR 0442), from prefix.cutoff on
    unrealised: Decimal
    open_positions: tuple[dict[str, Any], ...]  # {marketId, size (USD at cost), currentPrice (probability)}
    fees: tuple[Fee, ...]  # every fee in USD at its fill time from prefix.cutoff on; None: not known
    prefix: Prefix  # the capital and what came before the closes above (ADR 0521)

    def loss_figures(self, now: datetime) -> tuple[float, float, float]:
        """(daily PnL since UTC midnight, weekly PnL, drawdown) as the risk check reads them (ADR 0286), net of
        every known fee at the time it was paid (ADR 0442)."""
        midnight, week = _windows(now)
        assert self.prefix.cutoff <= min(midnight, week), "the windows start before the closes read"
        return (loss_window_pnl(self.closes, self.unrealised, midnight),
                loss_window_pnl(self.closes, self.unrealised, week),
                current_drawdown(self.prefix, self.closes, self.unrealised))

    def loss_fees(self, now: datetime) -> LossFees | None:
        """What the loss figures' fees were in each window, and how many fills there had no known fee; None when
        the book paid none (so the risk input keeps the shape it had before fees, ADR 0442)."""
        if not self.fees and not self.prefix.fees_paid:
            return None
        midnight, week = _windows(now)

        def paid(since: datetime) -> tuple[Decimal, int]:
            inside = [fee for at, fee in self.fees if at >= since]
            return sum((f for f in inside if f is not None), Decimal(0)), sum(f is None for f in inside)

        (daily, u_daily), (weekly, u_weekly), (total, u_total) = paid(midnight), paid(week), paid(self.prefix.cutoff)
        return LossFees(float(daily), float(weekly), float(self.prefix.fees_known + total), u_daily, u_weekly,
                        self.prefix.fees_unknown + u_total)


def _windows(now: datetime) -> tuple[datetime, datetime]:
    """The daily window's start (UTC midnight of ``now``) and the rolling week's (ADR 0286)."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0), now - WEEK


def _usd(fee_cents: Any) -> Decimal | None:
    return None if fee_cents is None else Decimal(fee_cents) / CENTS


def _read_book(conn: Connection[Any], names: list[str], mode: str, capital: float, now: datetime,
               prefixes: BookPrefixes) -> _Book:
    """Every realised PnL of the strategy in ``mode`` with its time (exit fills, market resolutions), the
    unrealised PnL of its open positions in that mode, and those positions at the price they are valued at
    (the tail concentration of the breaker's portfolio update, ADR 0325). Every fee paid (entry fills, exit
    sells) is a loss at its fill time: an exit's with its PnL, an entry fill's on its own (ADR 0442). Only the
    rows from the kept prefix's cutoff on are read, and those before this check's cutoff are folded into it
    (ADR 0521)."""
    start, cutoff, watermark = prefixes.start(conn, names, mode, as_written_decimal(capital), now)
    since = start.cutoff
    closes: list[Close] = []
    fees: list[Fee] = []
    for pnl, fee, at in conn.execute(_EXITS, (names, mode, since)).fetchall():
        closes.append((at, Decimal(pnl) - (_usd(fee) or 0)))
        fees.append((at, _usd(fee)))
    for fee, at in conn.execute(_ENTRY_FEES, (names, mode, since)).fetchall():
        if fee is not None:
            closes.append((at, -Decimal(fee) / CENTS))
        fees.append((at, _usd(fee)))
    unrealised = Decimal(0)
    open_positions: list[dict[str, Any]] = []
    settled: list[tuple[datetime, str, str, Decimal]] = []
    for ticker, side, contracts, cost, yb, ya, nb, na, observed, result, resolved_at in conn.execute(
            _BOOK, (names, mode, since)).fetchall():
        avg = Decimal(cost) / contracts
        if result is not None:
            pnl = unrealized_pnl_usd(avg, settlement_price_cents(result, side, avg), contracts)
            settled.append((resolved_at, ticker, side, pnl))
            continue
        price = Quotes(yb, ya, nb, na).side_price(side) if observed is not None else None
        current = Decimal(repr(price)) if price is not None else avg
        unrealised += unrealized_pnl_usd(avg, current, contracts)
        open_positions.append({"marketId": ticker, "size": cost / 100, "currentPrice": float(current) / 100})
    closes += [(at, pnl) for at, _, _, pnl in sorted(settled, key=lambda s: s[:3])]
    paid = [f for f in fees if f[1] != 0]
    prefix = start.fold([c for c in closes if c[0] < cutoff], [f for f in paid if f[0] < cutoff], cutoff)
    prefixes.keep(names, mode, as_written_decimal(capital), prefix, watermark)
    return _Book([c for c in closes if c[0] >= cutoff], unrealised, tuple(open_positions),
                 tuple(f for f in paid if f[0] >= cutoff), prefix)


def loss_window_pnl(closes: Sequence[Close], unrealised: Decimal, since: datetime) -> float:
    """PnL realised since ``since`` plus what is open now (ADR 0286)."""
    return float(sum((pnl for at, pnl in closes if at >= since), Decimal(0)) + unrealised)


def current_drawdown(prefix: Prefix, closes: Sequence[Close], unrealised: Decimal) -> float:
    """Fall of equity (capital + realised, then + unrealised now) from its highest point, as a fraction of
    that point (ADR 0286); 0 without capital. ``closes`` are those from the prefix's cutoff on."""
    end = prefix.fold(closes, (), prefix.cutoff)
    equity, peak = end.equity + unrealised, end.peak
    return float((peak - equity) / peak) if peak > 0 and equity < peak else 0.0


@dataclass(frozen=True)
class BookValuation:
    """Several strategies' book in one mode as one portfolio (the breaker's portfolio update, ADR 0301)."""

    mode: str
    total_value: float
    daily_pnl: float
    weekly_pnl: float
    max_drawdown: float
    valued_at: datetime  # the now its windows were taken at (a portfolio snapshot's timestamp, ADR 0356)
    positions: tuple[dict[str, Any], ...] = ()  # open positions as §2.3's positions[], for tail concentration


class ViewPortfolio:
    """The portfolio value is the order's strategy's capital (USD, §1.7 / §5.7; 0 for a strategy without an
    allocation, which fails every share-of-portfolio check); its daily and weekly PnL and drawdown come from
    its own closes and open positions in the order's execution mode (I5-I7, ADR 0286), net of the fees it paid
    (ADR 0442); positions are cost at fill, those in resolved markets left out, each in its market's category; a
    failed correlation read fails closed. The history before the week is kept folded in ``prefixes`` (ADR 0521):
    give every reader of a process the same one."""

    def __init__(self, pool: ConnectionPool[Any], capital_of: Callable[[str], float], clock: Clock,
                 max_view_lag: timedelta = DEFAULT_MAX_VIEW_LAG, prefixes: BookPrefixes | None = None) -> None:
        self.pool, self.capital_of, self.clock = pool, capital_of, clock
        self.max_view_lag = max_view_lag
        self.prefixes = BookPrefixes() if prefixes is None else prefixes

    def snapshot(self, strategy: str, market_id: str, mode: str, category: str | None = None) -> PortfolioSnapshot:
        return self.snapshots(strategy, mode)(market_id, category)

    def snapshots(self, strategy: str, mode: str) -> Callable[..., PortfolioSnapshot]:
        """The book read once (positions, closes, marks), then a snapshot per market that adds only that
        market's correlation read: a scan pre-checks many signals against one reading of the book, so every
        signal of the scan is judged against the same positions (ADR 0316 addendum)."""
        now = self.clock.now().astimezone(UTC)
        capital = self.capital_of(strategy)
        with self.pool.connection() as conn:
            behind = view_lag(conn, datetime.now(UTC), self.max_view_lag)
            rows = conn.execute(_EXPOSURE, (UNKNOWN_CATEGORY,)).fetchall() + _adopted(conn)
            book = _read_book(conn, _names(strategy), mode, capital, now, self.prefixes)
        if behind is not None:
            log.warning("risk snapshot for %s read from views behind the log: %s (I17 fails)", strategy, behind)
        positions = tuple(Position(t, category, c / 100) for t, c, category in rows)
        daily, weekly, drawdown = book.loss_figures(now)
        fees = book.loss_fees(now)

        def for_market(market_id: str, category: str | None = None) -> PortfolioSnapshot:
            correlated = self._correlated(market_id, now, category, positions)
            return PortfolioSnapshot(
                portfolio_value=capital, positions=positions, correlated_markets=correlated,
                daily_pnl=daily, weekly_pnl=weekly, max_drawdown=drawdown,
                system_healthy=behind is None, health_detail=behind, loss_fees=fees,
            )

        return for_market

    def valuation(self, strategies: Sequence[str], mode: str) -> BookValuation:
        """The strategies' capital summed, their closes and open positions in ``mode`` taken together, with the
        windows and drawdown of the risk check (ADR 0286)."""
        now = self.clock.now().astimezone(UTC)
        capital = sum(self.capital_of(s) for s in strategies)
        with self.pool.connection() as conn:
            book = _read_book(conn, [n for s in strategies for n in _names(s)], mode, capital, now, self.prefixes)
        return BookValuation(mode, capital, *book.loss_figures(now), now, book.open_positions)

    def recent_slippage_ratio(self, market_id: str, mode: str, since: datetime, until: datetime) -> float | None:
        """The worst slippage-vs-edge ratio of the market's executions in ``mode`` within (since, until]; None
        without any. A failed read raises: the pipeline then fails I18 (ADR 0387)."""
        with self.pool.connection() as conn:
            row = conn.execute(_RECENT_SLIPPAGE, (market_id, mode, since, until)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def _correlated(self, market_id: str, now: datetime, category: str | None = None,
                    held: Sequence[Position] = ()) -> tuple[CorrelatedMarket, ...] | None:
        """Markets the stored graph edges relate to ``market_id`` on either side, scored as §3.4 scores them
        (ADR 0300), then those the operator's rules relate to it by category or series among the markets held
        (§3.4 step 3, ADR 0431: only held markets add exposure to I3). The target's category is the one the
        order is judged in, else its latest order's. None when any of it cannot be read: the check fails
        closed."""
        try:
            with self.pool.connection() as conn:
                rows = conn.execute(_EDGES, (market_id, market_id)).fetchall()
                rules = [CorrelationRule(json.dumps({f: v}), w, t) for f, v, t, w in conn.execute(_RULES).fetchall()]
                if rules and category in (None, UNKNOWN_CATEGORY):
                    found = conn.execute(_LATEST_CATEGORY, (market_id,)).fetchone()
                    category = found[0] if found else None
        except Exception:
            log.exception("event graph lookup failed for %s", market_id)
            return None
        edges = [GraphEdge(GraphNode(a), GraphNode(b), kind, weight) for a, b, weight, kind in rows]
        return correlated_markets(market_id, now, edges=edges, rules=rules,
                                  catalogue=catalogue(market_id, category, held) if rules else ())
