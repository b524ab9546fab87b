"""External sources' failures as §6.3 compliance events (ADR 0400): which answers an auditor must see, and
the bound that keeps a failing job run from flooding the log.

A job run notes every failed call to a source; at its end one ``EventRecorded`` per source and event type
summarises them. Retries live inside the clients, so a note is already one call's final outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from paulp.domain.compliance_matrix import ComplianceEventType

KALSHI_SOURCE = "kalshi_trade_api"
NOAA_CDO_SOURCE = "noaa_cdo"
# Failures with no HTTP status that are the source's doing: transport errors, timeouts, unreadable 2xx bodies.
TRANSPORT_CODES = frozenset({"venue_unavailable", "venue_timeout", "venue_outcome_unknown", "venue_response_invalid",
                             "noaa_unavailable", "noaa_timeout", "noaa_response_invalid"})
RATE_LIMIT_CODES = frozenset({"venue_rate_limited", "noaa_rate_limited"})
REFUSED_CODES = frozenset({"venue_auth_failed", "noaa_auth_failed"})
CODES_KEPT = 5  # distinct failure codes named in one summary; the count covers the rest


def failure_event_type(status: int | None, code: str) -> ComplianceEventType | None:
    """429 → rate_limit_hit; 401/403 → blocked_access; 5xx, transport and unreadable answers → api_error.

    Anything else (404, 409, a refused request, missing credentials, our evidence store) says nothing about the
    source's terms or health, so it is no compliance event."""
    if status == 429 or (status is None and code in RATE_LIMIT_CODES):
        return ComplianceEventType.RATE_LIMIT_HIT
    if status in (401, 403) or (status is None and code in REFUSED_CODES):
        return ComplianceEventType.BLOCKED_ACCESS
    if (status is not None and status >= 500) or (status is None and code in TRANSPORT_CODES):
        return ComplianceEventType.API_ERROR
    if status is not None and 200 <= status < 300 and code in TRANSPORT_CODES:  # a 2xx body we could not read
        return ComplianceEventType.API_ERROR
    return None


@dataclass
class Tally:
    """How often one source answered one kind of failure in a run, and the first few codes it used."""

    count: int = 0
    codes: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def add(self, status: int | None, code: str) -> None:
        self.count += 1
        if code not in self.codes and len(self.codes) < CODES_KEPT:
            self.codes.append(code)
        if status is not None and status not in self.statuses and len(self.statuses) < CODES_KEPT:
            self.statuses.append(status)


@dataclass
class RunOutcomes:
    """The failures one job run saw, per (source, event type): at most three events per source whatever the
    number of calls, so a run of fifty failing reads records what one failing read records, with its count."""

    job: str
    seen: dict[tuple[str, ComplianceEventType], Tally] = field(default_factory=dict)

    def note(self, source: str, status: int | None, code: str) -> ComplianceEventType | None:
        kind = failure_event_type(status, code)
        if kind is not None:
            self.seen.setdefault((source, kind), Tally()).add(status, code)
        return kind

    def summaries(self) -> list[tuple[str, ComplianceEventType, str]]:
        """(source, event type, description) for each pair seen, in a stable order."""
        out = []
        for (source, kind), tally in sorted(self.seen.items(), key=lambda item: (item[0][0], item[0][1].value)):
            http = f" (HTTP {', '.join(str(s) for s in tally.statuses)})" if tally.statuses else ""
            calls = "call" if tally.count == 1 else "calls"
            out.append((source, kind, f"{self.job}: {tally.count} {calls} failed with {', '.join(tally.codes)}{http}"))
        return out
