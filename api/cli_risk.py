"""``paulp risk correlations``: operator-declared market correlations, the edges I3 counts (ADR 0365)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from paulp.api.cli_risk_limits import limits_app
from paulp.api.console import cli_console

risk_app = typer.Typer(help="Risk governor inputs an operator declares (audited in the log).", no_args_is_help=True)
correlations_app = typer.Typer(
    help="Correlated markets for I3 (trading §3.4): a position in one counts as exposure in the other.",
    no_args_is_help=True)
risk_app.add_typer(correlations_app, name="correlations")
risk_app.add_typer(limits_app, name="limits")
console = cli_console()
PROJECTION = "market_correlations"


@correlations_app.command("set")
def set_correlation(
    market: Annotated[str, typer.Argument(help="Kalshi market ticker")],
    related: Annotated[str, typer.Argument(help="the other market's ticker (the order of the two does not matter)")],
    kind: Annotated[str, typer.Option("--type", help="edge type: correlated_with (uncapped), same_series (<= 0.8),"
                                      " resolved_by_source / occurs_in_window (<= 0.6), belongs_to_event /"
                                      " tagged_with_topic (<= 0.5)")],
    actor: Annotated[str, typer.Option(help="who declares it")],
    reason: Annotated[str, typer.Option(help="why the two move together (kept in the log)")],
    weight: Annotated[float, typer.Option(help="share of the related position counted, in (0, 1]")] = 1.0,
) -> None:
    """Declare (or replace) a correlation: I3 then counts a position in either market against the other."""
    from paulp.api.cli import fail, services
    from paulp.api.contexts import context
    from paulp.domain.market_correlations import (
        InvalidCorrelation,
        correlation_pair,
        correlation_type,
        correlation_weight,
    )
    from paulp.domain.risk_correlation import edge_score
    from paulp.domain.services.market_correlations import MarketCorrelationService

    try:  # refused before any service starts: nothing stored
        a, b = correlation_pair(market, related)
        t, w = correlation_type(kind), correlation_weight(weight)
    except InvalidCorrelation as exc:
        raise fail(str(exc)) from None
    with services() as (_, svc), context(MarketCorrelationService, svc.database_url) as app:
        try:
            nid = app.declare(a, b, t, w, actor, reason)
        except InvalidCorrelation as exc:
            raise fail(str(exc)) from None
    console.print(f"correlation {a} ~ {b} declared: {t}, weight {w}, counted at {edge_score(t, w)}"
                  f" (notification {nid}; I3 sees it once the {PROJECTION} projection applies it)", highlight=False)


@correlations_app.command("remove")
def remove_correlation(
    market: Annotated[str, typer.Argument(help="Kalshi market ticker")],
    related: Annotated[str, typer.Argument(help="the other market's ticker")],
    actor: Annotated[str, typer.Option(help="who withdraws it")],
    reason: Annotated[str, typer.Option(help="why it no longer holds")],
) -> None:
    """Withdraw a declared correlation: I3 stops counting the pair together."""
    from paulp.api.cli import fail, services
    from paulp.api.contexts import context
    from paulp.domain.market_correlations import InvalidCorrelation, NoActiveCorrelation, correlation_pair
    from paulp.domain.services.market_correlations import MarketCorrelationService

    try:
        a, b = correlation_pair(market, related)
    except InvalidCorrelation as exc:
        raise fail(str(exc)) from None
    with services() as (_, svc), context(MarketCorrelationService, svc.database_url) as app:
        try:
            nid = app.withdraw(a, b, actor, reason)
        except (InvalidCorrelation, NoActiveCorrelation) as exc:
            raise fail(str(exc)) from None
    done = f"withdrawn (notification {nid})" if nid else "was withdrawn already; nothing recorded"
    console.print(f"correlation {a} ~ {b} {done}", highlight=False)


@correlations_app.command("list")
def list_correlations(
    market: Annotated[str | None, typer.Option(help="only pairs naming this ticker")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """The correlations the risk check reads (views.event_graph_edges; it follows the projector)."""
    import psycopg

    from paulp.api.cli import fail, services
    from paulp.api.correlations import correlation_rows

    with services() as (_, svc), psycopg.connect(svc.database_url) as conn:
        try:
            rows = correlation_rows(conn, market.strip() if market else None)
        except psycopg.errors.UndefinedColumn:
            raise fail("views.event_graph_edges lacks migration 0068 (run `paulp migrate`)", 1) from None
    if as_json:
        typer.echo(json.dumps(rows, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))
        return
    table = Table("market", "related", "type", "weight", "counted", "declared by", "at", "reason")
    for r in rows:
        at = r["declaredAt"].isoformat() if r["declaredAt"] else ""
        table.add_row(r["marketId"], r["relatedMarketId"], r["type"], f"{r['weight']:g}", f"{r['effectiveScore']:g}",
                      r["declaredBy"] or "(by hand, not in the log)", at, r["reason"] or "")
    console.print(table)


def _selector(category: str | None, series: str | None) -> tuple[str, str]:
    from paulp.api.cli import fail
    from paulp.domain.market_correlations import InvalidCorrelation, rule_selector

    if (category is None) == (series is None):
        raise fail("give exactly one of --category or --series")
    try:
        return rule_selector("category", category) if category is not None else rule_selector("series", series)
    except InvalidCorrelation as exc:
        raise fail(str(exc)) from None


@correlations_app.command("rule-set")
def set_rule(
    actor: Annotated[str, typer.Option(help="who declares it")],
    reason: Annotated[str, typer.Option(help="why markets of this category/series move together (kept in the log)")],
    category: Annotated[str | None, typer.Option(help="every market of this category (as the venue spells it)")]
    = None,
    series: Annotated[str | None, typer.Option(help="every market of this Kalshi series (ticker prefix)")] = None,
    weight: Annotated[float, typer.Option(help="share of each related position counted, in (0, 1]")] = 1.0,
) -> None:
    """Declare (or replace) a rule (trading §3.4 step 3): I3 then counts positions in every other market of the
    category or series against an order in one of them, at the weight."""
    from paulp.api.cli import fail, services
    from paulp.api.contexts import context
    from paulp.domain.market_correlations import InvalidCorrelation, correlation_weight
    from paulp.domain.services.market_correlations import MarketCorrelationService

    field, value = _selector(category, series)
    try:
        w = correlation_weight(weight)
    except InvalidCorrelation as exc:
        raise fail(str(exc)) from None
    with services() as (_, svc), context(MarketCorrelationService, svc.database_url) as app:
        try:
            nid = app.declare_rule(field, value, w, actor, reason)
        except InvalidCorrelation as exc:
            raise fail(str(exc)) from None
    console.print(f"correlation rule {field} {value!r} declared at weight {w} (notification {nid}; I3 sees it once"
                  f" the {PROJECTION} projection applies it)", highlight=False)


@correlations_app.command("rule-remove")
def remove_rule(
    actor: Annotated[str, typer.Option(help="who withdraws it")],
    reason: Annotated[str, typer.Option(help="why it no longer holds")],
    category: Annotated[str | None, typer.Option(help="the rule's category")] = None,
    series: Annotated[str | None, typer.Option(help="the rule's series")] = None,
) -> None:
    """Withdraw a rule: I3 stops counting that category's or series' markets together."""
    from paulp.api.cli import fail, services
    from paulp.api.contexts import context
    from paulp.domain.market_correlations import InvalidCorrelation, NoActiveRule
    from paulp.domain.services.market_correlations import MarketCorrelationService

    field, value = _selector(category, series)
    with services() as (_, svc), context(MarketCorrelationService, svc.database_url) as app:
        try:
            nid = app.withdraw_rule(field, value, actor, reason)
        except (InvalidCorrelation, NoActiveRule) as exc:
            raise fail(str(exc)) from None
    done = f"withdrawn (notification {nid})" if nid else "was withdrawn already; nothing recorded"
    console.print(f"correlation rule {field} {value!r} {done}", highlight=False)


@correlations_app.command("rules")
def list_rules(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """The active rules the risk check reads (views.correlation_rules; it follows the projector)."""
    import psycopg

    from paulp.api.cli import services
    from paulp.api.correlations import correlation_rule_rows

    with services() as (_, svc), psycopg.connect(svc.database_url) as conn:
        rows = correlation_rule_rows(conn)
    if as_json:
        typer.echo(json.dumps(rows, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))
        return
    table = Table("selects", "value", "type", "weight", "declared by", "at", "reason")
    for r in rows:
        table.add_row(r["field"], r["value"], r["type"], f"{r['weight']:g}", r["declaredBy"],
                      r["declaredAt"].isoformat(), r["reason"])
    console.print(table)
