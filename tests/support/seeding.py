"""Seed a case's ``given`` read models through real commands and projections (no direct view writes).

Events go through the application services into the log; views are then brought up to date from the log
by the projectors' own batch code (``catch_up_from_log``). The NATS path is covered by integration tests.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg

from paulp.adapters.projector import catch_up_from_log
from paulp.api.trades import SOURCE_QUERIES
from paulp.api.wiring import Container
from paulp.domain.golive import GoLiveTerms
from paulp.domain.strategy_registry import StrategyStatus

KNOWN = {"kalshi_orders", "ibkr_orders", "kalshi_failure", "ibkr_failure", "breaker_state", "empty_read_models",
         "executor_mode"}
SEEDED_BY = "seed"


class GateOpen:
    """The go-live port with every precondition met: for seeding a LIVE mode (and tests that need one), where
    the preconditions are the case's premise, not its subject."""

    def strategy_exists(self, strategy: str) -> bool:
        return True

    def phase4_gate_passed(self) -> bool:
        return True

    def drift_blocked_recently(self) -> bool:
        return False

    def audit_chain_valid(self) -> bool:
        return True


def _set_mode(container: Container, strategy: str, mode: str) -> None:
    """A strategy's execution mode through the commands that set it in production: go-live (two operators)
    for LIVE, the status command for PAPER and DISABLED."""
    if mode.upper() == "LIVE":
        terms = GoLiveTerms("seed-approver-1", "seed-approver-2", 100_000)
        container.golive.approve(strategy, terms, "seed:operator-a", f"seed-{strategy}-1", GateOpen())
        container.golive.approve(strategy, terms, "seed:operator-b", f"seed-{strategy}-2", GateOpen())
    else:
        status = {"PAPER": StrategyStatus.PAPER, "DISABLED": StrategyStatus.DISABLED}[mode.upper()]
        container.strategies.set_status(strategy, status, SEEDED_BY, "seeded for conformance")


def seed_executor_modes(container: Container, modes: dict[str, Any]) -> None:
    """``executor_mode``: per venue, one mode for every strategy the venue executes, or per strategy."""
    from paulp.api.routers.exec import VENUE_STRATEGIES

    for venue, value in modes.items():
        per_strategy = value if isinstance(value, dict) else dict.fromkeys(VENUE_STRATEGIES[venue.lower()], value)
        for strategy, mode in per_strategy.items():
            _set_mode(container, strategy, str(mode))


def catch_up(container: Container) -> None:
    container.routing.flush()  # outcomes are written behind the caller (ADR 0275)
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        for projection in container.projections.values():
            catch_up_from_log(conn, projection)


def break_venue_source(container: Container, venue: str) -> None:
    """Make a venue's read model genuinely unreadable (revoked by renaming its table)."""
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE views.{venue}_orders RENAME TO {venue}_orders_unavailable")


def seed(container: Container, given: dict[str, Any]) -> None:
    unknown = set(given) - KNOWN
    assert not unknown, f"given keys the seeding cannot interpret: {sorted(unknown)}"
    for venue in ("kalshi", "ibkr"):
        for record in given.get(f"{venue}_orders", []):
            container.execution.record_venue_order(venue, record)
    if given.get("executor_mode"):
        seed_executor_modes(container, given["executor_mode"])
    state = given.get("breaker_state")
    if state is not None and state != "NORMAL":
        path = {"CAUTION": ["CAUTION"], "HALT": ["HALT"], "RECOVERY": ["HALT", "RECOVERY"]}[state]
        for target in path:
            container.breaker.transition(target, "seeded for conformance", "seed")
    catch_up(container)
    for venue in ("kalshi", "ibkr"):  # api.json's format names ibkr_failure; kalshi_failure is its twin
        if given.get(f"{venue}_failure"):
            break_venue_source(container, venue)
    # empty_read_models: a fresh database already has every projection empty.


def source_queries() -> Counter[str]:
    """Snapshot of per-venue trade source reads (compare before/after a request)."""
    return Counter(SOURCE_QUERIES)
