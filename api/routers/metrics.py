"""/metrics: Prometheus text from the log and the read models (no secrets, aggregate numbers only).

Behind the auth guard (``METRICS_TOKEN`` or operator auth, ADR 0338): the figures name projections and the
breaker state and count events and refused logins, which an outsider has no business reading.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from paulp.adapters.projection_stops import stopped_projections
from paulp.domain.breaker import BreakerState

router = APIRouter(tags=["metrics"])
STATES = [s.value for s in BreakerState]


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> str:
    container = request.app.state.container
    with container.pool.connection() as conn:
        head = conn.execute("SELECT coalesce(max(notification_id), 0) FROM paulp_events").fetchone()[0]
        chain = conn.execute("SELECT coalesce(max(chain_seq), 0) FROM audit_chain").fetchone()[0]
        tracked = dict(conn.execute("SELECT name, last_notification_id FROM projection_tracking").fetchall())
        dead = dict(conn.execute("SELECT projection, count(*) FROM projection_dead_letters"
                                 " WHERE replayed_at IS NULL GROUP BY 1").fetchall())
        state_row = conn.execute("SELECT state FROM views.breaker_state WHERE scope = 'global'").fetchone()
        stopped = stopped_projections(conn, container.projections)
    state = state_row[0] if state_row else BreakerState.NORMAL.value
    lines = [
        "# HELP paulp_events_total Events in the log (highest notification id).",
        "# TYPE paulp_events_total counter",
        f"paulp_events_total {head}",
        "# HELP paulp_audit_chain_length Records in the audit hash chain.",
        "# TYPE paulp_audit_chain_length gauge",
        f"paulp_audit_chain_length {chain}",
        "# HELP paulp_projection_lag_events Events in the log not yet applied by a projection.",
        "# TYPE paulp_projection_lag_events gauge",
    ]
    for name in sorted(container.projections):
        lines.append(f'paulp_projection_lag_events{{projection="{name}"}} {head - tracked.get(name, 0)}')
    lines += ["# HELP paulp_projection_dead_letters Poison events set aside per projection, not replayed yet.",
              "# TYPE paulp_projection_dead_letters gauge"]
    for name in sorted(container.projections):
        lines.append(f'paulp_projection_dead_letters{{projection="{name}"}} {dead.get(name, 0)}')
    lines += ["# HELP paulp_projection_stopped_at_event The event of a newer release a projection stopped at (0: none;"
              " ADR 0523).", "# TYPE paulp_projection_stopped_at_event gauge"]
    for name in sorted(container.projections):
        at = stopped[name].notification_id if name in stopped else 0
        lines.append(f'paulp_projection_stopped_at_event{{projection="{name}"}} {at}')
    lines += ["# HELP paulp_breaker_state Circuit breaker state (1 = current).", "# TYPE paulp_breaker_state gauge"]
    lines += [f'paulp_breaker_state{{state="{s}"}} {int(s == state)}' for s in STATES]
    auth = getattr(request.state, "operator_auth", None)  # set by the auth guard on every request
    if auth is not None:  # the total only: per-IP counts stay in the auth-failure log records (§2.8)
        lines += ["# HELP paulp_auth_failures_total Refused operator-auth attempts since the process started.",
                  "# TYPE paulp_auth_failures_total counter", f"paulp_auth_failures_total {auth.failures_total}"]
    return "\n".join(lines) + "\n"
