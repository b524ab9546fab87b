"""The order lifecycle timers of trading §1.5, run every minute (ADR 0281).

- RISK_CHECK unanswered past 30 s -> RISK_TIMEOUT, one RISK_CHECK retry, then CANCELLED
  (``time_out_risk_check``). The retry asks the governor again at once, on the market as Kalshi shows it now
  (``OrderPipeline.answer_risk_check``): RISK_APPROVED (the execute step submits it) or RISK_REJECTED; when it
  cannot be answered (market unreadable, the check fails) the order waits out the retry's 30 s and is
  cancelled (ADR 0295).
Each order is held to the timers of its strategy's execution policy now (``Container.lifecycle_policy``, ADR 0402;
the spec's defaults are given below).

- SUBMITTED / ORDER_ACKNOWLEDGED whose side's ask stands more than ``cancel_on_price_move`` (3 points) from its
  limit, at any age -> PRICE_MOVE_CANCEL (``api.price_moves``, ADR 0382), before the stale timer is asked.
- SUBMITTED / ORDER_ACKNOWLEDGED with no fill past ``stale_order_timeout_sec`` (300 s) -> cancel; PARTIAL_FILL
  past it with filled/requested < ``min_fill_pct`` -> cancel the remainder; otherwise it keeps working
  (``expire_stale``).

The orders view only names the candidates (it may lag); each is read from its events and decided there.
A cancel goes through the one per-order cancel path of cancel-outstanding (``cancel_job.cancel_order``):
an order not at a venue (paper) is cancelled in the log; one working at Kalshi gets its cancel request
recorded, then Kalshi's cancel, and is CANCELLED only when Kalshi confirms. When Kalshi cannot be asked or
does not confirm, the order stays working and is named under ``left``; the recorded cancel request is
retried by the next tick. An order whose submission is in doubt is first looked up at Kalshi by its client
order id (§1.8). SUBMITTING orders are not touched here: ``execute`` recovers them (ADR 0100).
Runs in every breaker state: it never adds risk (HALT blocks new orders at the risk check, not cancels).
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.persistence import IntegrityError

from paulp.api.cancel_job import at_venue, cancel_order, resolve_doubt
from paulp.api.price_moves import PRICE_MOVE_OUTCOMES, MarketAsks, cancel_on_move, read_asks, watched
from paulp.api.signal_jobs import VenueMarketData
from paulp.api.venue_session import JobFailed, kalshi_port
from paulp.domain.order_states import WORKING_STATES, OrderState
from paulp.domain.order_timers import expire_stale, overdue, time_out_risk_check
from paulp.domain.order_values import DEFAULT_POLICY, LifecyclePolicy
from paulp.domain.orders import PRICE_MOVE_CANCELLABLE, Order
from paulp.domain.ports import VenuePort
from paulp.domain.services.pipeline import OrderPipeline
from paulp.domain.strategy_registry import CATALOGUE

log = logging.getLogger("paulp.orders.timers")
S = OrderState
CANDIDATES = ("SELECT order_id FROM views.orders WHERE (state = %s AND created_at < %s)"
              " OR (state = ANY(%s) AND created_at < %s) OR state = ANY(%s)"
              " OR (state = ANY(%s) AND created_at > %s) ORDER BY created_at, order_id")
STALE_REASON = "Stale order: no fill within stale_order_timeout_sec"
CANCELLED = ("cancelled", "cancelled_at_venue")


class StrategyPolicies:
    """Each strategy's §1.5 timers as its execution policy holds them now (ADR 0402), read once per run."""

    def __init__(self, container: Any) -> None:
        self.container = container
        self._read: dict[str, LifecyclePolicy] = {}

    def __call__(self, strategy: str) -> LifecyclePolicy:
        if strategy not in self._read:
            self._read[strategy] = self.container.lifecycle_policy(strategy)
        return self._read[strategy]

    def shortest_stale_timeout(self) -> timedelta:
        """The earliest any order can go stale: the least timeout of the catalogue's policies and of the
        §5.1 default (an order of a strategy outside the catalogue has it)."""
        return min([DEFAULT_POLICY.stale_order_timeout, *(self(i.id).stale_order_timeout for i in CATALOGUE)])


def _candidates(container: Any, now: datetime, policies: StrategyPolicies) -> list[Order]:
    """Orders a timer may concern, by view state and age (created before the earliest deadline could have
    passed), every resting one (a price move has no age), and any timed one created after ``now`` (the clock
    stepped back, ADR 0522: the domain decides whether that far); each re-read from its events."""
    with container.pool.connection() as conn:
        ids = [r[0] for r in conn.execute(CANDIDATES, (
            S.RISK_CHECK.value, now - DEFAULT_POLICY.risk_check_timeout,
            [s.value for s in WORKING_STATES], now - policies.shortest_stale_timeout(),
            [s.value for s in PRICE_MOVE_CANCELLABLE],
            [s.value for s in (S.RISK_CHECK, *WORKING_STATES)], now)).fetchall()]
    orders = [container.orders.find(i) for i in ids]
    return [o for o in orders if o is not None]


def _stale_due(order: Order, now: datetime, policy: LifecyclePolicy) -> bool:
    """A working order past the stale timeout, or one whose (timer's or anyone's) cancel is still pending."""
    if order.state not in WORKING_STATES:
        return False
    if order.cancel_requested_at is not None:
        return True
    return order.submitted_at is not None and overdue(order.submitted_at, now, policy.stale_order_timeout)


class RiskRetry:
    """Answers §1.5's automatic risk-check retry now, with the market read from Kalshi (opened on first use,
    once per run; market reads need no credentials). Records the governor's answer; sends nothing."""

    def __init__(self, container: Any, stack: ExitStack, now: datetime) -> None:
        self.container, self.stack, self.now = container, stack, now
        self._market: VenueMarketData | None = None
        self._pipeline: OrderPipeline | None = None
        self._unusable = ""

    def answer(self, order: Order) -> str:
        """The retry's outcome: ``answered: <state>`` or ``unanswered (<why>)`` (the order stays in RISK_CHECK)."""
        if self._market is None and not self._unusable:
            try:
                port, _ = self.stack.enter_context(kalshi_port(self.container.settings))
            except JobFailed as exc:
                self._unusable = exc.code
            else:
                c = self.container
                self._market = VenueMarketData(port, self.now)
                self._pipeline = OrderPipeline(c.orders, c.breaker, c.execution, self._market, c.portfolio(),
                                               None, modes=c.execution_modes(), limits=c.limit_settings,
                                               policies=c.execution_policies, scoring=c.scoring())
        if self._market is None or self._pipeline is None:
            return f"unanswered (Kalshi not usable: {self._unusable})"
        unread = self._market.load([order.ticker])
        if unread:
            return f"unanswered (market data unavailable: {unread[order.ticker]})"
        try:
            return f"answered: {self._pipeline.answer_risk_check(order.order_id).state}"
        except IntegrityError:
            raise
        except Exception as exc:  # the governor did not answer: the retry's own timeout decides
            log.exception("risk check retry of %s was not answered", order.order_id)
            return f"unanswered ({type(exc).__name__})"


def run_order_timers(container: Any) -> dict[str, Any]:
    """One tick; each order is held to its strategy's policy as it stands now (stale timeout, price move,
    minimum fill), so an operator's change counts from the next tick."""
    started = time.monotonic()
    now = container.clock.now()
    policies = StrategyPolicies(container)
    orders = _candidates(container, now, policies)
    report: dict[str, Any] = {"checked": len(orders), "riskTimeouts": 0, "priceMoveCancelled": 0, "cancelled": 0,
                              "resolved": 0, "left": [], "results": []}
    needs_venue = any(_stale_due(o, now, policies(o.strategy)) and at_venue(o) for o in orders) \
        or any(map(watched, orders))
    with ExitStack() as stack:
        risk = RiskRetry(container, stack, now)
        port: VenuePort | None = None
        reader = None  # market reads are public: they need no credentials
        no_venue = ""
        if needs_venue:
            try:
                port, client = stack.enter_context(kalshi_port(container.settings))
            except JobFailed as exc:
                no_venue = exc.message
            else:
                reader = port
                if not client.has_credentials:
                    port, no_venue = None, "Kalshi credentials are not configured"
        asks = read_asks(container, reader, orders)
        report.update(asks.report())
        for order in orders:
            try:
                outcome = _one(container, order, now, policies(order.strategy), port, no_venue, risk, asks)
            except IntegrityError:
                outcome = "failed: changed concurrently by another writer; next tick"
            except Exception as exc:  # one order's trouble does not stop the others
                log.exception("order timer of %s failed", order.order_id)
                outcome = f"failed: {type(exc).__name__}"
            if outcome is None:
                continue
            row = {"orderId": order.order_id, "strategy": order.strategy, "ticker": order.ticker,
                   "outcome": outcome}
            report["results"].append(row)
            if outcome.startswith("risk_timeout"):
                report["riskTimeouts"] += 1
            elif outcome in PRICE_MOVE_OUTCOMES:
                report["priceMoveCancelled"] += 1
            elif outcome in CANCELLED:
                report["cancelled"] += 1
            elif outcome.startswith(("failed", "in_doubt", "left")):
                report["left"].append(row)
            else:
                report["resolved"] += 1
    if report["left"]:
        log.warning("order timers left %d order(s) open for the next tick: %s", len(report["left"]),
                    ", ".join(f"{r['orderId']} ({r['outcome']})" for r in report["left"]))
    report["durationMs"] = round((time.monotonic() - started) * 1000)
    return report


def _one(container: Any, order: Order, now: datetime, policy: LifecyclePolicy, port: VenuePort | None,
         no_venue: str, risk: RiskRetry, asks: MarketAsks) -> str | None:
    """What the timers did to one order; None when nothing was due (a repeated tick does nothing)."""
    if order.state == S.RISK_CHECK:
        if not time_out_risk_check(order, now, policy):
            return None
        container.orders.save(order)  # the timeout and the retry are recorded before the governor is asked
        if order.state != S.RISK_CHECK:
            return "risk_timeout: cancelled"
        return f"risk_timeout: retry {risk.answer(order)}"
    moved = asks.due(order, policy)
    if moved is not None:  # the more specific close first; a pending cancel is retried below
        return cancel_on_move(container, order, *moved, policy, port, no_venue)
    if not _stale_due(order, now, policy):
        return None
    if at_venue(order) and port is None:
        return f"left: may rest at Kalshi, which cannot be asked ({no_venue})"
    if order.submission_in_doubt and order.broker_order_id is None:
        resolved = resolve_doubt(container, order, port)  # §1.8: by client order id, before anything else
        if isinstance(resolved, str):
            return resolved
        order = resolved
        if not _stale_due(order, now, policy):
            return None
    if order.cancel_requested_at is None:
        if not expire_stale(order, now, policy):
            return None  # e.g. a partial fill at or above min_fill_pct keeps working
        if order.state == S.CANCELLED:  # nothing at a venue: cancelled in the log (§1.6 paper)
            container.orders.save(order)
            return "cancelled"
    return cancel_order(container, order, order.cancel_reason or STALE_REASON, port)
