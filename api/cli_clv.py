"""``paulp clv``: per-strategy CLV statistics from the orders view, and the closing-line sweep run now
(trading §4.4, §8; ADRs 0419, 0420)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from paulp.api.console import cli_console

clv_app = typer.Typer(help="Closing-line value: per-strategy statistics and the closing-line sweep.",
                      no_args_is_help=True)
console = cli_console()
ORDERS_WITH_LINE = ("SELECT strategy, clv, clv_valid FROM views.orders WHERE closing_line_at IS NOT NULL"
                    " ORDER BY closing_line_time, closing_line_at, order_id")


def strategy_rows(rows: list[tuple[str, Any, bool | None]], strategy: str | None) -> list[dict[str, Any]]:
    """§4.4 statistics per strategy (CLV in cents) and the degradation rule's verdict once it has enough."""
    from paulp.domain.clv import clv_statistics
    from paulp.domain.clv_monitor import DEFAULT_RULE, clv_trend
    from paulp.domain.strategy_registry import find_strategy

    by_strategy: dict[str, list[tuple[float, bool]]] = {}
    for name, clv, valid in rows:
        info = find_strategy(name)
        key = info.id if info is not None else name
        by_strategy.setdefault(key, []).append((0.0 if clv is None else float(clv), bool(valid) and clv is not None))
    out = []
    for key in sorted(by_strategy):
        if strategy is not None and key != strategy:
            continue
        results = by_strategy[key]
        stats = clv_statistics(results)
        trend = clv_trend([c for c, ok in results if ok], DEFAULT_RULE)
        out.append({
            "strategy": key, "validClvs": stats.valid_clv_count, "invalidClvs": stats.invalid_clv_count,
            "meanClvCents": stats.mean_clv, "stdDevClvCents": stats.std_dev_clv,
            "positive": stats.positive_clv_count, "negative": stats.negative_clv_count,
            "consistency": stats.clv_consistency_score,
            "trend": None if trend is None else {
                "recentMean": trend.recent_mean, "priorMean": trend.prior_mean, "priorStd": trend.prior_std,
                "threshold": trend.threshold, "degraded": trend.degraded},
        })
    return out


@clv_app.command("show")
def show(
    strategy: Annotated[str | None, typer.Option(help="one strategy id (default: every strategy with a CLV)")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """CLV statistics per strategy over its orders' closing lines (invalid lines counted, never averaged)."""
    import psycopg

    from paulp.api.cli import fail, services
    from paulp.domain.strategy_registry import find_strategy

    info = None if strategy is None else find_strategy(strategy)
    if strategy is not None and (info is None or info.id != strategy):
        raise fail(f"unknown strategy {strategy!r} (use its id, e.g. bonding)")
    with services() as (_, svc), psycopg.connect(svc.database_url) as conn:
        rows = strategy_rows(conn.execute(ORDERS_WITH_LINE).fetchall(), strategy)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("strategy", "valid", "invalid", "mean (c)", "std (c)", "+", "-", "consistency", "degraded")
    for r in rows:
        trend = r["trend"]
        table.add_row(r["strategy"], str(r["validClvs"]), str(r["invalidClvs"]), f"{r['meanClvCents']:+.2f}",
                      f"{r['stdDevClvCents']:.2f}", str(r["positive"]), str(r["negative"]),
                      f"{r['consistency']:.2f}", "-" if trend is None else ("yes" if trend["degraded"] else "no"))
    console.print(table)


@clv_app.command("sweep")
def sweep() -> None:
    """Run the closing-line sweep now (it also runs every minute with the marks): lines for closed markets,
    CLVs on their filled orders, then the degradation check."""
    from paulp.api.cli import wired
    from paulp.api.clv_job import clv_sweep

    with wired() as container:
        report = clv_sweep(container)
    typer.echo(json.dumps(report))
    if report["failed"]:
        raise typer.Exit(1)
