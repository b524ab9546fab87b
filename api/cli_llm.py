"""``paulp llm``: preview a routing decision, make a governed call, print the budget ledgers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from paulp.api.wiring import Container
from paulp.domain.budgets import PeriodType
from paulp.domain.routing import BudgetCategory
from paulp.domain.services.routing_types import ledger_json

llm_app = typer.Typer(help="LLM routing and budgets.", no_args_is_help=True)
console = Console()


@contextmanager
def _container() -> Iterator[Container]:
    from paulp.api.cli import services
    from paulp.api.wiring import build

    with services() as (settings, svc):
        container = build(settings, svc.database_url, svc.nats_url)
        try:
            yield container
        finally:
            container.close()


def _vars(pairs: list[str] | None) -> dict[str, object]:
    out: dict[str, object] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"--var expects name=value, got {pair!r}")
        out[name] = value
    return out


@llm_app.command("route")
def route(
    run_type: Annotated[str, typer.Option("--run-type", help="one of the 8 run types")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show the decision; call and store nothing")] = False,
    var: Annotated[list[str] | None, typer.Option("--var", help="prompt variable name=value")] = None,
    user: Annotated[str | None, typer.Option(help="caller-supplied user prompt")] = None,
    system: Annotated[str | None, typer.Option(help="caller-supplied system prompt")] = None,
    force_model: Annotated[str | None, typer.Option(help="forced resolved model id")] = None,
    force_route_class: Annotated[str | None, typer.Option(help="forced route class")] = None,
    strategy_id: Annotated[str | None, typer.Option(help="strategy id")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Route one call: --dry-run prints chain, projected cost and budget state without calling anything."""
    with _container() as c:
        kwargs: dict[str, Any] = {"system_prompt": system, "user_prompt": user, "strategy_id": strategy_id,
                  "force_model": force_model, "force_route_class": force_route_class}
        if dry_run:
            preview = c.routing.dry_run(run_type, _vars(var), **kwargs).as_json()
            if as_json:
                typer.echo(json.dumps(preview, default=str))
                return
            _print_preview(preview)
            return
        out = c.routing.govern(run_type, _vars(var), **kwargs)
        doc = {"decisionId": out.decision_id, "success": out.success, "modelId": out.model_id,
               "attempted": out.attempted, "errorCode": out.error_code,
               "error": out.error.message if out.error else None,
               "costUsd": out.usage.cost_usd if out.usage else None, "content": out.content}
        typer.echo(json.dumps(doc, default=str) if as_json else "\n".join(f"{k}: {v}" for k, v in doc.items()))
        if not out.success:
            raise typer.Exit(1)


def _print_preview(p: dict[str, object]) -> None:
    table = Table(title=f"routing preview: {p['runType']}", show_header=False)
    for key in ("routeClass", "resolutionSource", "budgetCategory", "selectedModelId", "projectedCostUsd",
                "estimatedInputTokens", "estimatedOutputTokens", "overrideUsed", "decisionHash", "budgetAllowed",
                "budgetReason", "shouldAlert"):
        table.add_row(key, str(p[key]))
    chain = p["chain"]
    table.add_row("chain", " → ".join(chain) if isinstance(chain, list) else str(chain))
    failure = p["failure"]
    table.add_row("failure", "-" if failure is None else json.dumps(failure))
    missing = p["missingKeys"]
    table.add_row("missingKeys", ", ".join(missing) if isinstance(missing, list) and missing else "-")
    console.print(table)
    budget = p["budget"]
    if isinstance(budget, dict) and budget:
        _print_ledgers(list(budget.values()))


def _print_ledgers(rows: list[dict[str, object]]) -> None:
    table = Table(title="LLM budget (current periods)")
    for col in ("category", "period", "start", "limit $", "spent $", "reserved $", "remaining $", "used %",
                "blocked", "open holds"):
        table.add_column(col, justify="right" if col.endswith(("$", "%", "holds")) else "left")
    for r in rows:
        table.add_row(str(r["category"]), str(r["periodType"]), str(r["periodStart"]),
                      f"{float(str(r['limitUsd'])):.4f}", f"{float(str(r['consumedUsd'])):.6f}",
                      f"{float(str(r['reservedUsd'])):.6f}", f"{float(str(r['remainingUsd'])):.4f}",
                      f"{float(str(r['percentUsed'])):.2f}", "[red]yes[/]" if r["isBlocked"] else "no",
                      str(r["openReservations"]))
    console.print(table)


@llm_app.command("budget")
def budget(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """Daily and monthly budget per category from the event-sourced ledgers (authoritative, no projector needed)."""
    with _container() as c:
        rows = []
        for cat in BudgetCategory:
            daily, monthly = c.routing.ledger_snapshots(str(cat))
            rows += [ledger_json(daily), ledger_json(monthly)]
    rows.sort(key=lambda r: (r["periodType"] != PeriodType.DAILY, str(r["category"])))
    if as_json:
        typer.echo(json.dumps(rows))
        return
    _print_ledgers(rows)
