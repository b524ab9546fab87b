"""backtests view: every stored backtest with its metrics, for the phase gate and the CLI."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.backtest import BacktestRecord


class BacktestsProjection:
    name = "backtests"
    tables = ("backtests",)

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: BacktestRecord.Completed, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO backtests (backtest_id, strategy, name, period_start, period_end, trades, wins, pnl,"
            " expected_value, sharpe, max_drawdown, completed_at, data_hash, fair_hash, capital, slippage_cents,"
            " signals, trade_log, notification_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (backtest_id) DO NOTHING",
            (e.originator_id, e.strategy, e.name, e.period_start, e.period_end, e.trades, e.wins, e.pnl,
             e.expected_value, e.sharpe, e.max_drawdown, e.completed_at, e.data_hash, e.fair_hash, e.capital,
             e.slippage_cents, e.signals, Jsonb(e.trade_log), notification_id),
        )
