"""``paulp backtest``: replay a strategy over recorded market history and store the result for the gates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from paulp.api.console import cli_console

backtest_app = typer.Typer(help="Backtests over recorded market history (gate input P2_BACKTEST_QUALITY).",
                           no_args_is_help=True)
console = cli_console()

LIST = ("SELECT backtest_id, strategy, name, period_start, period_end, trades, wins, pnl, expected_value, sharpe,"
        " max_drawdown, completed_at FROM views.backtests ORDER BY completed_at DESC, backtest_id LIMIT %s")
LIST_KEYS = ("backtestId", "strategy", "name", "periodStart", "periodEnd", "trades", "wins", "pnl", "expectedValue",
             "sharpe", "maxDrawdown", "completedAt")


def _summary(rec: Any, created: bool, result: Any) -> dict[str, Any]:
    return {"backtestId": str(rec.id), "stored": created, "strategy": rec.strategy, "name": rec.name,
            "periodStart": result.period_start.isoformat(), "periodEnd": result.period_end.isoformat(),
            "scans": result.scans, "signals": result.signals, "skippedNoOffer": result.skipped_no_offer,
            "trades": result.metrics.trades, "wins": result.metrics.wins, "pnl": result.metrics.pnl,
            "expectedValue": result.metrics.expected_value, "sharpe": result.metrics.sharpe,
            "maxDrawdown": result.metrics.max_drawdown}


@backtest_app.command("run")
def run(
    data: Annotated[Path, typer.Option(help="Kalshi candlestick history (JSON: each ticker to its candles)")],
    strategy: Annotated[str, typer.Option(help="strategy to replay")] = "bonding",
    fair: Annotated[Path | None, typer.Option(help="fair YES probabilities {ticker: p} from research")] = None,
    capital: Annotated[float | None, typer.Option(help="USD; default: the strategy's allocation")] = None,
    name: Annotated[str | None, typer.Option(help="name to store it under; default: the data file's stem")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Run the backtest, store it (once: the same inputs find the earlier record) and print its metrics."""
    from paulp.adapters.backtest_data import BacktestDataError, load_fair_probabilities, load_history
    from paulp.api.cli import fail, services
    from paulp.api.contexts import context
    from paulp.domain.backtest import BacktestConfig, InvalidBacktest, run_backtest
    from paulp.domain.capital import UnknownStrategy, allocation_for
    from paulp.domain.services.backtests import BacktestService

    label = (name if name is not None else data.stem).strip()
    if not label or len(label) > 200:
        raise fail("--name must be 1-200 characters")
    try:
        history = load_history(data)
        fair_p = load_fair_probabilities(fair) if fair is not None else {}
        usd = capital if capital is not None else allocation_for(strategy).capital
        config = BacktestConfig(strategy=strategy, capital=usd, fair_probabilities=fair_p)
        result = run_backtest(history.bars, config)
    except (BacktestDataError, InvalidBacktest, UnknownStrategy) as exc:
        raise fail(str(exc)) from None
    with services() as (_, svc):
        with context(BacktestService, svc.database_url) as app:
            stored = app.record(result, config, label, history.sha256)
    summary = _summary(stored.record, stored.created, result)
    if as_json:
        typer.echo(json.dumps(summary))
        return
    table = Table("field", "value")
    for key, value in summary.items():
        table.add_row(key, str(value))
    console.print(table)
    if not stored.created:
        console.print("this exact backtest was stored before; the earlier record stands")


@backtest_app.command("list")
def list_backtests(
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Newest stored backtests from the backtests view."""
    import psycopg

    from paulp.api.cli import services

    with services() as (_, svc), psycopg.connect(svc.database_url) as conn:
        rows = conn.execute(LIST, (limit,)).fetchall()
    if as_json:  # ids and times as text, numbers as numbers
        typer.echo(json.dumps([dict(zip(LIST_KEYS, r, strict=True)) for r in rows], default=str))
        return
    table = Table("completed", "strategy", "name", "trades", "wins", "pnl", "EV/trade", "sharpe", "max DD")
    for _id, strat, nm, _ps, _pe, trades, wins, pnl, ev, sharpe, dd, completed in rows:
        table.add_row(str(completed), strat, nm, str(trades), str(wins), f"{pnl:.2f}", f"{ev:.4f}", f"{sharpe:.3f}",
                      f"{dd:.2%}")
    console.print(table)
