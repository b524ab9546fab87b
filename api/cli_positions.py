"""``paulp positions``: open positions as ``GET /admin/positions`` values them, and an operator's close (ADR 0440).

The close is the exit monitor's own exit with reason OPERATOR_CLOSE: decided (with who and why) before any sell
is sent, sold at Kalshi for LIVE or booked on the paper book for PAPER, in any breaker state — closing is what
HALT leaves open. Exit 1 with the refusal's code when it cannot be done safely now; nothing is then recorded.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from paulp.api.console import cli_console

positions_app = typer.Typer(help="Positions: valued as GET /admin/positions shows them, and an operator's close.",
                            no_args_is_help=True)
console = cli_console()


def _choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    from paulp.api.cli import fail

    upper = value.strip().upper()
    if upper not in allowed:
        raise fail(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return upper


@positions_app.command("list")
def list_positions(
    strategy: Annotated[str | None, typer.Option(help="only this strategy's positions")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Open positions per strategy/market/side/mode, valued at each market's last mark."""
    from paulp.api.cli import wired
    from paulp.api.positions import valued_positions

    with wired() as container:
        rows = valued_positions(container.pool, strategy)
    if as_json:
        typer.echo(json.dumps([{"strategy": p.strategy, "ticker": p.ticker, "side": p.side, "mode": p.mode,
                                "contracts": str(p.contracts), "avgPriceCents": str(p.avg_entry_cents),
                                "currentPriceCents": str(p.current_cents),
                                "unrealizedPnlUsd": str(p.unrealized_pnl_usd),
                                "realizedPnlUsd": str(p.realized_pnl_usd), "feesUsd": str(p.fees_cents / 100),
                                "feesComplete": p.fees_complete, "status": p.status}
                               for p in rows]))
        return
    table = Table("strategy", "ticker", "side", "mode", "contracts", "avg entry c", "now c", "unrealized $",
                  "realized $", "fees $", "status")
    for p in rows:
        fees = f"{p.fees_cents / 100:.2f}" + ("" if p.fees_complete else "+?")  # some fill's fee unknown
        table.add_row(p.strategy, p.ticker, p.side, p.mode, str(p.contracts), f"{p.avg_entry_cents:.2f}",
                      f"{p.current_cents:.2f}", f"{p.unrealized_pnl_usd:.2f}", f"{p.realized_pnl_usd:.2f}", fees,
                      p.status)
    console.print(table)


@positions_app.command("close")
def close(
    strategy: Annotated[str, typer.Argument(help="the strategy holding the position")],
    ticker: Annotated[str, typer.Argument(help="the market")],
    side: Annotated[str, typer.Argument(help="YES or NO")],
    mode: Annotated[str, typer.Option(help="PAPER or LIVE: each mode's contracts are their own position")],
    operator: Annotated[str, typer.Option(help="who closes it (kept in the log)")],
    reason: Annotated[str, typer.Option(help="why (kept in the log)")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check and print what would be sold; record nothing")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Close a whole open position now: a LIVE sell at the held side's bid (capped at what Kalshi holds), or a
    paper sale at the mark. Exit 1 when the market resolved, the mark is stale or one-sided, Kalshi holds none,
    or the sell did not fill (the exit then stays in the log, FAILED or IN_DOUBT, as the monitor leaves it)."""
    from paulp.api.cli import operator_text, run_wired
    from paulp.api.exit_jobs import close_position

    key = (strategy.strip(), ticker.strip(), _choice(side, ("YES", "NO"), "SIDE"),
           _choice(mode, ("PAPER", "LIVE"), "--mode"))
    who, why = operator_text(operator, "--operator"), operator_text(reason, "--reason")
    out: dict[str, Any] = run_wired(lambda c: close_position(c, *key, who, why, dry_run))
    if dry_run:
        if as_json:
            typer.echo(json.dumps(out))
        elif out["exitUnderWay"] is not None:
            console.print(f"an exit of this position is {out['exitUnderWay']}: a close would carry it on")
        else:
            console.print(f"would sell {out['contracts']} {out['ticker']} {out['side']} ({out['mode']}) at"
                          f" {out['price']}c, estimated PnL {out['estimatedPnlUsd']:+.2f} USD; nothing recorded")
        return
    if as_json:
        typer.echo(json.dumps(out))
    else:
        pnl = f", realized {out['realizedPnlUsd']:+.2f} USD" if out["realizedPnlUsd"] is not None else ""
        already = "already closed, nothing sent: " if out.get("alreadyClosed") else ""
        console.print(f"{already}{out['mode']} exit of {out['contracts']} {out['ticker']} {out['side']}"
                      f" ({out['reason']}): {out['state']}"
                      + (f" at {out['exitPrice']}c" if out["exitPrice"] is not None else "")
                      + pnl + (f" — {out['detail']}" if out["detail"] else ""))
    if out["state"] != "FILLED":
        raise typer.Exit(1)
