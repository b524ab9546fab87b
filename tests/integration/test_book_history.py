"""The risk check's book read bounded by the window (ADR 0521), on real PostgreSQL: the loss figures and their fees
equal, to the float, those of the full-history reading it replaced (``book_oracle``) over generated histories with
times out of order, unknown and zero fees, fee corrections, resolutions and capital changes; a check with nothing
changed reads only the rows since the cutoff, on indexes; a late close before the cutoff, a fee settled on an old
fill and a rebuild of the orders view each make the next check fold the history again."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

from paulp.adapters.book_history import CHANGED, BookPrefixes, cutoff_for, prune_below, prune_changes, unseen
from paulp.adapters.portfolio import _ENTRY_FEES, _EXITS, ViewPortfolio
from paulp.adapters.rebuild import drop, prepare, swap
from paulp.domain.clock import FixedClock
from paulp.projections.registry import all_projections
from tests.integration.book_oracle import old_figures
from tests.support.hypothesis_scale import examples

pytestmark = pytest.mark.integration
MODE = "PAPER"
T0 = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
_ids = itertools.count(10_000_000)


@pytest.fixture(scope="module")
def pool(module_db: str) -> Iterator[ConnectionPool[Any]]:
    with ConnectionPool(module_db, min_size=1, max_size=2, open=True) as p:
        yield p


def _exit(conn: psycopg.Connection[Any], strategy: str, at: datetime, pnl: Decimal, fee: Decimal | None) -> None:
    conn.execute(
        "INSERT INTO views.position_exits (exit_uuid, strategy, ticker, side, opened_at, sequence, contracts,"
        " entry_price, observed_price, reason, mode, state, filled_size, exit_price, realized_pnl_usd, fee_cents,"
        " decided_at, updated_at) VALUES (%s, %s, 'KXBH', 'YES', %s, 1, 1, 50, 50, 'test', %s, 'FILLED', 1, 50, %s,"
        " %s, %s, %s)", (uuid4(), strategy, at, MODE, pnl, fee, at, at))


def _fill(conn: psycopg.Connection[Any], strategy: str, at: datetime, fee: Decimal | None) -> None:
    conn.execute(
        "INSERT INTO views.order_fills (notification_id, order_uuid, strategy, ticker, side, mode, fill_size,"
        " fill_price, fee_cents, filled_at) VALUES (%s, %s, %s, 'KXBH', 'YES', %s, 1, 50, %s, %s)",
        (next(_ids), uuid4(), strategy, MODE, fee, at))


def _resolution(conn: psycopg.Connection[Any], strategy: str, at: datetime, contracts: int, cost: int, side: str,
                result: str) -> None:
    ticker = f"KXBH-{uuid4().hex[:10]}"
    conn.execute("INSERT INTO views.positions (strategy, ticker, side, mode, contracts, cost_cents, last_fill_at)"
                 " VALUES (%s, %s, %s, %s, %s, %s, %s)", (strategy, ticker, side, MODE, contracts, cost, at))
    conn.execute("INSERT INTO views.market_marks (ticker, result, resolved_at, last_notification_id)"
                 " VALUES (%s, %s, %s, 1)", (ticker, result, at))


def _open(conn: psycopg.Connection[Any], strategy: str, contracts: int, cost: int, bid: int) -> None:
    ticker = f"KXBH-{uuid4().hex[:10]}"
    conn.execute("INSERT INTO views.positions (strategy, ticker, side, mode, contracts, cost_cents, last_fill_at)"
                 " VALUES (%s, %s, 'YES', %s, %s, %s, %s)", (strategy, ticker, MODE, contracts, cost, T0))
    conn.execute("INSERT INTO views.market_marks (ticker, yes_bid, yes_ask, observed_at, last_notification_id)"
                 " VALUES (%s, %s, %s, %s, 1)", (ticker, bid, bid + 2, T0))


def _correct(conn: psycopg.Connection[Any], strategy: str, pick: int, fee: Decimal) -> None:
    """Settle one unknown fee (ADRs 0448, 0449): of an entry fill when ``pick`` is even, else of an exit."""
    table, key = ("order_fills", "notification_id") if pick % 2 == 0 else ("position_exits", "exit_uuid")
    keys = [r[0] for r in conn.execute(f"SELECT {key} FROM views.{table} WHERE strategy = %s AND fee_cents IS NULL"
                                       f" ORDER BY {key}", (strategy,)).fetchall()]
    if keys:
        conn.execute(f"UPDATE views.{table} SET fee_cents = %s, fee_corrected_by = 1 WHERE {key} = %s",
                     (fee, keys[pick % len(keys)]))


def _new_figures(portfolio: ViewPortfolio, strategy: str) -> tuple[tuple[float, ...], tuple[Any, ...] | None]:
    valuation = portfolio.valuation([strategy], MODE)
    snapshot = portfolio.snapshot(strategy, "KXBH-NONE", MODE)
    assert (snapshot.daily_pnl, snapshot.weekly_pnl, snapshot.max_drawdown) == (
        valuation.daily_pnl, valuation.weekly_pnl, valuation.max_drawdown)
    fees = None if snapshot.loss_fees is None else astuple(snapshot.loss_fees)
    return (valuation.daily_pnl, valuation.weekly_pnl, valuation.max_drawdown), fees


def _assert_same(portfolio: ViewPortfolio, conn: psycopg.Connection[Any], strategy: str, capital: float) -> None:
    assert _new_figures(portfolio, strategy) == old_figures(conn, [strategy], MODE, capital, portfolio.clock.now())


cents = st.integers(-5000, 5000).map(lambda c: Decimal(c) / 100)
fees = st.one_of(st.none(), st.just(Decimal(0)), st.integers(1, 400).map(lambda q: Decimal(q) / 4))
hours_back = st.integers(0, 24 * 21)
steps = st.lists(st.one_of(
    st.tuples(st.just("exit"), hours_back, cents, fees),
    st.tuples(st.just("fill"), hours_back, fees),
    st.tuples(st.just("resolve"), hours_back, st.integers(1, 7), st.integers(1, 700), st.sampled_from(["YES", "NO"]),
              st.sampled_from(["YES", "NO", "VOID"])),
    st.tuples(st.just("open"), st.integers(1, 9), st.integers(1, 900), st.integers(1, 97)),
    st.tuples(st.just("correct"), st.integers(0, 40), st.integers(1, 400).map(lambda q: Decimal(q) / 4)),
    st.tuples(st.just("capital"), st.sampled_from([0.0, 50.0, 333.33, 500.0, 10_000.0])),
    st.tuples(st.just("check"), st.integers(-48, 96)),
), min_size=1, max_size=30)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=steps)
def test_loss_figures_when_history_is_generated_then_they_equal_the_full_history_reading(
        pool: ConnectionPool[Any], module_db: str, history: list[tuple[Any, ...]]) -> None:
    # Arrange: a book of its own, read through one process's prefixes on a clock the steps move
    strategy, capital = f"bh-{uuid4().hex[:10]}", [500.0]
    clock = FixedClock(T0)
    portfolio = ViewPortfolio(pool, lambda _: capital[0], clock, prefixes=BookPrefixes())
    with psycopg.connect(module_db, autocommit=True) as conn:
        for step in [*history, ("check", 0)]:
            now = clock.now()
            match step:
                case ("exit", back, pnl, fee):
                    _exit(conn, strategy, now - timedelta(hours=back), pnl, fee)
                case ("fill", back, fee):
                    _fill(conn, strategy, now - timedelta(hours=back), fee)
                case ("resolve", back, contracts, cost, side, result):
                    _resolution(conn, strategy, now - timedelta(hours=back), contracts, cost, side, result)
                case ("open", contracts, cost, bid):
                    _open(conn, strategy, contracts, cost, bid)
                case ("correct", pick, fee):
                    _correct(conn, strategy, pick, fee)
                case ("capital", value):
                    capital[0] = value
                case ("check", hours):
                    # Act + Assert: every check equals the full reading, to the float
                    clock.set(now + timedelta(hours=hours))
                    _assert_same(portfolio, conn, strategy, capital[0])


def _seed(conn: psycopg.Connection[Any], strategy: str, fills: int, days: int) -> None:
    """``fills`` entry fills (every fifth fee unknown), as many exits, spread over ``days`` before T0; a resolution
    a day; one open position."""
    span = days * 86_400
    conn.execute(
        "INSERT INTO views.order_fills (notification_id, order_uuid, strategy, ticker, side, mode, fill_size,"
        " fill_price, fee_cents, filled_at) SELECT %s + g, gen_random_uuid(), %s, 'KXBH', 'YES', %s, 1, 50,"
        " CASE WHEN g %% 5 = 0 THEN NULL ELSE (g %% 7) * 0.25 END, %s - make_interval(secs => (g * 7919) %% %s)"
        " FROM generate_series(1, %s) g", (next(_ids) * 1_000_000, strategy, MODE, T0, span, fills))
    conn.execute(
        "INSERT INTO views.position_exits (exit_uuid, strategy, ticker, side, opened_at, sequence, contracts,"
        " entry_price, observed_price, reason, mode, state, filled_size, exit_price, realized_pnl_usd, fee_cents,"
        " decided_at, updated_at) SELECT gen_random_uuid(), %s, 'KXBH', 'YES', t, 1, 1, 50, 50, 'test', %s,"
        " 'FILLED', 1, 50, ((g * 37) %% 201 - 100) / 10.0, (g %% 3) * 0.5, t, t"
        " FROM generate_series(1, %s) g, LATERAL (SELECT %s - make_interval(secs => (g * 104729) %% %s) AS t) x",
        (strategy, MODE, fills, T0, span))
    for day in range(days):
        _resolution(conn, strategy, T0 - timedelta(days=day, hours=3), 3, 100 + day, "YES", "NO" if day % 2 else "YES")
    _open(conn, strategy, 5, 200, 35)
    conn.execute("ANALYZE views.order_fills; ANALYZE views.position_exits; ANALYZE public.book_changes")


@pytest.fixture
def seeded(request: pytest.FixtureRequest, pool: ConnectionPool[Any],
           module_db: str) -> Iterator[tuple[ViewPortfolio, psycopg.Connection[Any], str]]:
    """A book of 2,000 fills and exits over 90 days (or as many as the test's indirect parameter), read through
    fresh prefixes at T0."""
    strategy = f"bh-{uuid4().hex[:10]}"
    with psycopg.connect(module_db, autocommit=True) as conn:
        _seed(conn, strategy, getattr(request, "param", 2_000), 90)
        portfolio = ViewPortfolio(pool, lambda _: 500.0, FixedClock(T0), prefixes=BookPrefixes())
        yield portfolio, conn, strategy


def _plan(conn: psycopg.Connection[Any], query: str, params: Any) -> str:
    return "\n".join(r[0] for r in conn.execute("EXPLAIN " + query, params).fetchall())


@pytest.mark.parametrize("seeded", [20_000], indirect=True)  # enough history for the planner to prefer the indexes
def test_snapshot_when_nothing_before_the_cutoff_changed_then_it_reads_only_the_window_on_indexes(seeded):
    # Arrange
    portfolio, conn, strategy = seeded
    _assert_same(portfolio, conn, strategy, 500.0)
    assert portfolio.prefixes.folds_from_beginning == 1
    # Act: two more checks, the second a day and a half later (the prefix moves on by a day)
    _assert_same(portfolio, conn, strategy, 500.0)
    portfolio.clock.set(T0 + timedelta(hours=36))  # type: ignore[attr-defined]
    _assert_same(portfolio, conn, strategy, 500.0)
    # Assert: no fold from the beginning after the first; the reads are index ranges from the cutoff
    assert portfolio.prefixes.folds_from_beginning == 1
    since = cutoff_for(T0)
    exits = _plan(conn, _EXITS, ([strategy], MODE, since))
    fills = _plan(conn, _ENTRY_FEES, ([strategy], MODE, since))
    seen = conn.execute("SELECT pg_current_snapshot()::text").fetchone()[0]
    changed = _plan(conn, CHANGED, {**unseen(seen), "names": [strategy], "mode": MODE, "cutoff": since})
    assert "position_exits_book" in exits and "Seq Scan" not in exits, exits
    assert "order_fills_book" in fills and "Seq Scan" not in fills, fills
    assert "book_changes_xid" in changed and "Seq Scan on book_changes " not in changed, changed  # the journal
    assert changed.count("Seq Scan") <= 1  # at most the prune horizon's one row (its CHECK allows no other)


def _journal(conn: psycopg.Connection[Any]) -> int:
    return int(conn.execute("SELECT count(*) FROM public.book_changes").fetchone()[0])  # type: ignore[index]


def test_journal_when_pruned_past_a_prefixs_snapshot_then_that_prefix_is_not_trusted(seeded, pool):
    """``book_changes`` pruned (ADR 0526) below a transaction after a late close: the close's entry is gone. Process B,
    whose prefix was kept before the close, must not trust it (it would miss the $400 peak): folded again."""
    portfolio, conn, strategy = seeded
    _assert_same(portfolio, conn, strategy, 500.0)  # process B's prefix, kept now
    _exit(conn, strategy, T0 - timedelta(days=30), Decimal("400"), Decimal(3))  # a new peak long ago
    with conn.transaction():
        horizon = int(conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0])  # type: ignore[index]
    journal = _journal(conn)
    with conn.transaction():
        assert prune_below(conn, horizon) == journal  # the seeded rows and the late close's entry
    _assert_same(portfolio, conn, strategy, 500.0)  # the $400 peak in
    # folded again (more than once when a transaction elsewhere in the cluster is older than the horizon chosen
    # here: a check's snapshot xmin is then below it too; the daily job's horizon is an earlier snapshot's xmin)
    assert portfolio.prefixes.folds_from_beginning >= 2


def test_journal_when_pruned_daily_then_a_book_checked_between_prunes_keeps_its_prefix(seeded):
    """The daily job's prune deletes below the xmin the previous prune took: a book checked since keeps its prefix."""
    portfolio, conn, strategy = seeded
    for _ in range(3):
        _assert_same(portfolio, conn, strategy, 500.0)
        with conn.transaction():
            prune_changes(conn, T0)
    _assert_same(portfolio, conn, strategy, 500.0)
    assert portfolio.prefixes.folds_from_beginning == 1
    row = conn.execute("SELECT below, next, at FROM public.book_changes_pruned").fetchone()
    assert row is not None and row[1] is not None and row[0] <= row[1] and row[2] == T0


def test_snapshot_when_a_close_is_recorded_late_before_the_cutoff_then_the_history_is_folded_again(seeded):
    # Arrange: a check, then a $400 exit recorded now with a time 30 days back (a new peak long ago)
    portfolio, conn, strategy = seeded
    before = _new_figures(portfolio, strategy)
    _exit(conn, strategy, T0 - timedelta(days=30), Decimal("400"), Decimal(3))
    # Act
    after = _new_figures(portfolio, strategy)
    # Assert: folded again, and the drawdown is the full reading's, from the higher peak
    assert portfolio.prefixes.folds_from_beginning == 2
    assert after == old_figures(conn, [strategy], MODE, 500.0, T0)
    assert after[0][2] != before[0][2]


def test_snapshot_when_a_fee_is_settled_on_an_old_fill_then_the_history_is_folded_again(seeded):
    # Arrange: a check, then Kalshi's fee settled on a fill 60 days old (ADR 0448)
    portfolio, conn, strategy = seeded
    before = _new_figures(portfolio, strategy)
    conn.execute("UPDATE views.order_fills SET fee_cents = 4000, fee_corrected_by = 1 WHERE notification_id = ("
                 "SELECT notification_id FROM views.order_fills WHERE strategy = %s AND fee_cents IS NULL"
                 " AND filled_at < %s ORDER BY notification_id LIMIT 1)", (strategy, T0 - timedelta(days=60)))
    # Act
    after = _new_figures(portfolio, strategy)
    # Assert: the total fees and unknown count moved, as the full reading says
    assert portfolio.prefixes.folds_from_beginning == 2
    assert after == old_figures(conn, [strategy], MODE, 500.0, T0)
    assert after[1] is not None and before[1] is not None and after[1][2] == before[1][2] + 40
    assert after[1][5] == before[1][5] - 1


def test_snapshot_when_the_capital_changes_then_the_peak_starts_from_the_new_capital(seeded):
    # Arrange
    portfolio, conn, strategy = seeded
    _assert_same(portfolio, conn, strategy, 500.0)
    # Act: the same book at another capital
    other = ViewPortfolio(portfolio.pool, lambda _: 2_000.0, portfolio.clock, prefixes=portfolio.prefixes)
    # Assert
    _assert_same(other, conn, strategy, 2_000.0)
    _assert_same(portfolio, conn, strategy, 500.0)
    assert portfolio.prefixes.folds_from_beginning == 2


def test_snapshot_when_the_orders_view_is_rebuilt_then_the_prefix_is_rebuilt_with_it(fresh_db: str):
    # Arrange: a book of rows no event made, read once; the log holds nothing
    strategy = f"bh-{uuid4().hex[:10]}"
    with psycopg.connect(fresh_db, autocommit=True) as conn, \
            ConnectionPool(fresh_db, min_size=1, max_size=2, open=True) as pool:
        _exit(conn, strategy, T0 - timedelta(days=20), Decimal("100"), None)
        _exit(conn, strategy, T0 - timedelta(days=19), Decimal("-60"), Decimal(10))
        portfolio = ViewPortfolio(pool, lambda _: 500.0, FixedClock(T0), prefixes=BookPrefixes())
        before = _new_figures(portfolio, strategy)
        assert before[0][2] > 0
        # Act: the orders view rebuilt from the log (ADR 0010), which drops those rows
        projection = all_projections()["orders"]
        prepared = prepare(fresh_db, projection)
        try:
            swap(fresh_db, projection, prepared)
        finally:
            drop(fresh_db, prepared)
        # Assert: the next check folds the rebuilt (empty) history, as the full reading does
        after = _new_figures(portfolio, strategy)
        assert after == old_figures(conn, [strategy], MODE, 500.0, T0) == ((0.0, 0.0, 0.0), None)
        assert portfolio.prefixes.folds_from_beginning == 2
