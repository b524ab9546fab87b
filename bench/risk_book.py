"""The risk check's book read as the history grows (ADR 0521). Run: python -m bench.risk_book [--fills 20000 200000]

For each size, one strategy's book is seeded by SQL into the views (a load shortcut: the app writes them through
events) at one rate, so that a larger book is a longer history, not a busier week: N entry fills and N FILLED
exits at --per-day each a day (every fifth fee unknown; 200 a day: 20,000 is 100 days, 200,000 is 1,000 days),
N/10 positions in markets resolved over the same days, one open position. Then, best of --repeat runs each:

* before: the full-history reading ADR 0521 replaced (``tests/integration/book_oracle.py``, the old code with an
  ORDER BY for ties): every exit, entry fee and position read and folded;
* after, cold: the first check of a process, or the one after a change before the cutoff (reads it all, keeps the
  prefix);
* after, warm: every other check (the change journal probed, rows since the cutoff read, the prefix folded on);
* after, next day: a warm check on a later day, whose prefix first moves on by that day's rows;
* of which positions: the book's positions read alone (``_BOOK``: one row per market held at settlement, which
  this ADR leaves linear);
* snapshot: ``ViewPortfolio.snapshot`` whole (view lag, exposure, adopted contracts, correlations, the book) warm.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from bench.common import bench_services, report
from paulp.adapters.book_history import BookPrefixes, cutoff_for
from paulp.adapters.migrate import migrate
from paulp.adapters.portfolio import _BOOK, ViewPortfolio
from paulp.domain.clock import FixedClock
from tests.integration.book_oracle import old_figures

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
MODE = "PAPER"


def seed(conn: psycopg.Connection[Any], strategy: str, n: int, base: int, per_day: int) -> None:
    span = n * 86_400 // per_day
    conn.execute(
        "INSERT INTO views.order_fills (notification_id, order_uuid, strategy, ticker, side, mode, fill_size,"
        " fill_price, fee_cents, filled_at) SELECT %s + g, gen_random_uuid(), %s, 'KXB-' || (g %% 997), 'YES', %s,"
        " 1, 50, CASE WHEN g %% 5 = 0 THEN NULL ELSE (g %% 7) * 0.25 END,"
        " %s - make_interval(secs => (g * 7919) %% %s) FROM generate_series(1::bigint, %s) g",
        (base, strategy, MODE, NOW, span, n))
    conn.execute(
        "INSERT INTO views.position_exits (exit_uuid, strategy, ticker, side, opened_at, sequence, contracts,"
        " entry_price, observed_price, reason, mode, state, filled_size, exit_price, realized_pnl_usd, fee_cents,"
        " decided_at, updated_at) SELECT gen_random_uuid(), %s, 'KXB-' || (g %% 997), 'YES', t, 1, 1, 50, 50,"
        " 'bench', %s, 'FILLED', 1, 50, ((g * 37) %% 201 - 100) / 10.0, (g %% 3) * 0.5, t, t"
        " FROM generate_series(1::bigint, %s) g,"
        " LATERAL (SELECT %s - make_interval(secs => (g * 104729) %% %s) AS t) x",
        (strategy, MODE, n, NOW, span))
    conn.execute(
        "INSERT INTO views.market_marks (ticker, result, resolved_at, last_notification_id)"
        " SELECT %s || '-R' || g, CASE WHEN g %% 2 = 0 THEN 'YES' ELSE 'NO' END,"
        " %s - make_interval(secs => (g * 15485863) %% %s), 1 FROM generate_series(1::bigint, %s) g",
        (strategy, NOW, span, n // 10))
    conn.execute(
        "INSERT INTO views.positions (strategy, ticker, side, mode, contracts, cost_cents, last_fill_at)"
        " SELECT %s, %s || '-R' || g, 'YES', %s, 3, 100 + g %% 50, %s FROM generate_series(1::bigint, %s) g",
        (strategy, strategy, MODE, NOW, n // 10))
    conn.execute("INSERT INTO views.positions (strategy, ticker, side, mode, contracts, cost_cents, last_fill_at)"
                 " VALUES (%s, %s, 'YES', %s, 5, 200, %s)", (strategy, f"{strategy}-OPEN", MODE, NOW))
    conn.execute("VACUUM ANALYZE views.order_fills")
    conn.execute("VACUUM ANALYZE views.position_exits")
    conn.execute("VACUUM ANALYZE views.positions")
    conn.execute("VACUUM ANALYZE views.market_marks")
    conn.execute("VACUUM ANALYZE public.book_changes")


def best_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()  # the cold runs' garbage is not this run's cost
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(min(times) * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fills", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--per-day", type=int, default=200)
    args = parser.parse_args()
    figures: dict[str, object] = {}
    with bench_services() as (url, _nats, _ns):
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn, ConnectionPool(url, min_size=1, max_size=2) as pool:
            for k, n in enumerate(args.fills):
                strategy = f"bench{k}"
                seed(conn, strategy, n, (k + 1) * 10_000_000, args.per_day)
                clock = FixedClock(NOW)
                warm = ViewPortfolio(pool, lambda _: 5_000.0, clock, prefixes=BookPrefixes())

                def cold() -> None:
                    ViewPortfolio(pool, lambda _: 5_000.0, clock, prefixes=BookPrefixes()).valuation(  # noqa: B023
                        [strategy], MODE)  # noqa: B023

                before = best_ms(lambda: old_figures(conn, [strategy], MODE, 5_000.0, NOW), args.repeat)  # noqa: B023
                after_cold = best_ms(cold, args.repeat)
                warm.valuation([strategy], MODE)
                after_warm = best_ms(lambda: warm.valuation([strategy], MODE), args.repeat)  # noqa: B023
                positions = best_ms(lambda: conn.execute(_BOOK, ([strategy], MODE, cutoff_for(NOW))).fetchall(),  # noqa: B023
                                    args.repeat)
                snapshot = best_ms(lambda: warm.snapshot(strategy, "KXB-1", MODE), args.repeat)  # noqa: B023
                assert warm.prefixes.folds_from_beginning == 1, "a warm check folded the history again"
                new = warm.valuation([strategy], MODE)
                old, _fees = old_figures(conn, [strategy], MODE, 5_000.0, NOW)
                assert (new.daily_pnl, new.weekly_pnl, new.max_drawdown) == old, ((new.daily_pnl, new.weekly_pnl,
                                                                                   new.max_drawdown), old)
                figures[f"fills_{n}"] = {"before_full_history_ms": before, "after_cold_ms": after_cold,
                                         "after_warm_ms": after_warm, "of_which_positions_ms": positions,
                                         "snapshot_warm_ms": snapshot,
                                         "resolved_positions": n // 10, "drawdown": new.max_drawdown}
                days = iter(range(1, args.repeat + 1))

                def next_day() -> None:  # each run a day later than the last: the prefix moves on by a day
                    clock.set(NOW + timedelta(days=next(days)))  # noqa: B023
                    warm.valuation([strategy], MODE)  # noqa: B023

                figures[f"fills_{n}"]["after_next_day_ms"] = best_ms(next_day, args.repeat)  # type: ignore[index]
                assert warm.prefixes.folds_from_beginning == 1, "moving the prefix on folded the history again"
    report("risk_book", figures)


if __name__ == "__main__":
    main()
