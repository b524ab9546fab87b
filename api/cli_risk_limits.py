"""``paulp risk limits``: the limits every risk check applies, changed by operators in the log (ADR 0379).

``set`` tightens at once; a loosening is ``propose``d by one operator and ``approve``d by another within 24 h.
Bad input exits 2 and a refused change 1, with nothing recorded either way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any

import typer
from rich.table import Table

from paulp.api.console import cli_console

limits_app = typer.Typer(help="The risk limits row (trading §3.2): show, tighten, propose or approve a loosening.",
                         no_args_is_help=True)
console = cli_console()
ASSIGNMENTS = typer.Argument(help="LIMIT=VALUE pairs, spec or snake_case names (maxPositionPct=4, "
                                  "allowed_equivalence_grades=identical)")


def assignments(pairs: Iterable[str]) -> dict[str, Any]:
    """KEY=VALUE words as a partial update: a value is read as JSON (4, true, [1,2]) or else kept as text;
    ``a.b=v`` sets field ``b`` of object ``a``. A malformed word raises ValueError naming it."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key or key.startswith(".") or key.endswith("."):
            raise ValueError(f"expected KEY=VALUE, got {pair!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        head, dot, field = key.partition(".")
        if dot:
            nested = out.setdefault(head, {})
            if not isinstance(nested, dict) or field in nested:
                raise ValueError(f"{key} given twice")
            nested[field] = value
        elif key in out:
            raise ValueError(f"{key} given twice")
        else:
            out[key] = value
    if not out:
        raise ValueError("nothing to change: give at least one KEY=VALUE")
    return out


def _changes(pairs: list[str]) -> dict[str, Any]:
    """The pairs checked before any service starts: a bad name or value exits 2."""
    from paulp.api.cli import fail
    from paulp.domain.risk_limit_settings import InvalidRiskLimit, limit_changes
    from paulp.domain.risk_limits import UnknownRiskLimit

    try:
        return limit_changes(assignments(pairs))
    except (ValueError, InvalidRiskLimit, UnknownRiskLimit) as exc:
        raise fail(str(exc)) from None


def _command(call: str, *args: Any) -> Any:
    """Run one service command; bad input exits 2, a refusal (loosening, proposal) 1."""
    from paulp.api.cli import fail, services
    from paulp.api.contexts import context
    from paulp.domain.risk_limit_settings import InvalidRiskLimit, LooseningNeedsApproval, ProposalRefused
    from paulp.domain.risk_limits import UnknownRiskLimit
    from paulp.domain.services.operator_limits import RiskLimitsService

    with services() as (_, svc), context(RiskLimitsService, svc.database_url) as app:
        try:
            return getattr(app, call)(*args)
        except (InvalidRiskLimit, UnknownRiskLimit) as exc:
            raise fail(str(exc)) from None
        except (LooseningNeedsApproval, ProposalRefused) as exc:
            raise fail(str(exc), 1) from None


WHO = Annotated[str, typer.Option(help="who makes the change (kept in the log)")]
WHY = Annotated[str, typer.Option(help="why (kept in the log)")]


@limits_app.command("set")
def set_limits(pairs: Annotated[list[str], ASSIGNMENTS], actor: WHO, reason: WHY) -> None:
    """Tighten limits now: the next risk check applies them. A change that loosens any limit is refused (exit 1)."""
    changes = _changes(pairs)
    version, nid = _command("update", changes, actor, reason)
    console.print(f"risk limits version {version} in force: {_shown(changes)} (notification {nid})", highlight=False)


@limits_app.command("propose")
def propose_limits(pairs: Annotated[list[str], ASSIGNMENTS], actor: WHO, reason: WHY) -> None:
    """Propose a loosening; nothing changes until a second operator approves it within 24 h."""
    changes = _changes(pairs)
    pid, nid = _command("propose", changes, actor, reason)
    recorded = f"recorded, not in force: {_shown(changes)} (notification {nid})" if nid else \
        f"already waits with these changes: {_shown(changes)}; nothing recorded again"
    console.print(f"proposal {pid} {recorded}; another operator runs `paulp risk limits approve {pid} --actor NAME"
                  " --reason TEXT`", highlight=False)


@limits_app.command("approve")
def approve_limits(proposal: Annotated[str, typer.Argument(help="the proposal's id (P1, P2, ...)")], actor: WHO,
                   reason: WHY) -> None:
    """Put another operator's proposal in force, if the limits have not changed since it was made."""
    version, nid = _command("approve", proposal, actor, reason)
    console.print(f"proposal {proposal.strip().upper()} approved: risk limits version {version} in force"
                  f" (notification {nid})", highlight=False)


@limits_app.command("show")
def show_limits(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """The limits in force, read from the log as the risk check reads them, and open proposals."""
    from paulp.api.cli import services
    from paulp.api.contexts import context
    from paulp.domain.risk_limits import DEFAULT_LIMITS
    from paulp.domain.services.operator_limits import RiskLimitsService

    with services() as (_, svc), context(RiskLimitsService, svc.database_url) as app:
        row, now = app.row(), app.clock.now()
    current = row.current if row is not None else None
    limits = (current.limits if current else DEFAULT_LIMITS).to_json()
    pending = row.pending(now) if row is not None else {}
    report: dict[str, Any] = {
        "version": current.version if current else 0, "limits": limits, "defaults": DEFAULT_LIMITS.to_json(),
        "updatedBy": row.updated_by if row else None,
        "updatedAt": row.updated_at.isoformat() if row and row.updated_at else None,
        "pendingProposals": [{"id": pid, "changes": p["changes"], "proposedBy": p["actor"], "reason": p["reason"],
                              "expiresAt": p["expires_at"].isoformat()} for pid, p in pending.items()]}
    if as_json:
        typer.echo(json.dumps(report))
        return
    who = f", last changed by {report['updatedBy']} at {report['updatedAt']}" if report["updatedBy"] else \
        " (the spec's defaults: never changed)"
    console.print(f"risk limits version {report['version']}{who}", highlight=False)
    table = Table("limit", "in force", "default")
    for name, value in limits.items():
        default = report["defaults"][name]
        table.add_row(name, _value(value), "" if value == default else _value(default))
    console.print(table)
    for p in report["pendingProposals"]:
        console.print(f"proposal {p['id']} by {p['proposedBy']} until {p['expiresAt']}: {_shown(p['changes'])}"
                      f" ({p['reason']})", highlight=False)


def _value(value: Any) -> str:
    return ",".join(value) if isinstance(value, list | tuple) else f"{value:g}" if isinstance(value, float) \
        else str(value)


def _shown(changes: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in changes.items())

