"""Compliance matrix rules (api-and-security §6.3): the seeded sources and the pure checks over their statuses.

Every check fails closed: a source the matrix does not hold, an empty batch or a message type with no source
mapped to it is never allowed. The statuses come from the ``ComplianceSource`` aggregates (``compliance.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from paulp.domain.errors import DomainError

SEED_VERSION = "bootstrap-v1"
REVIEW_EVERY = timedelta(days=90)
RETRY_POLICY: dict[str, Any] = {"max_retries": 3, "backoff_base_ms": 1000}
RETENTION_RULES: dict[str, Any] = {"max_cache_duration_hours": 24, "raw_storage_allowed": True}
NOT_IN_MATRIX = "Source not in compliance matrix"
UNKNOWN = "unknown"


class SourceStatus(StrEnum):
    APPROVED = "approved"
    UNDER_REVIEW = "under_review"
    BLOCKED = "blocked"


class ComplianceEventType(StrEnum):
    TOS_CHANGE_DETECTED = "tos_change_detected"
    RATE_LIMIT_HIT = "rate_limit_hit"
    BLOCKED_ACCESS = "blocked_access"
    API_ERROR = "api_error"
    REVIEW_TRIGGERED = "review_triggered"
    STATUS_CHANGE = "status_change"


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


class InvalidComplianceRequest(DomainError):
    """Raised when a compliance command's input is malformed (status, text, severity, event type)."""

    code = "invalid_compliance_request"


class UnknownSource(DomainError):
    """Raised when a command names a source the compliance matrix does not hold."""

    code = "unknown_source"


@dataclass(frozen=True)
class SeedSource:
    """One §6.3 seed row; fields the spec leaves unstated are None (unknown), never guessed."""

    source_name: str
    status: SourceStatus
    authentication_type: str | None
    allowed_usage: tuple[str, ...]
    rate_limits: Mapping[str, Any]
    tos_url: str
    prohibited_usage: tuple[str, ...] = ()
    block_reason: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def terms(self, now: datetime) -> dict[str, Any]:
        """The §6.3 field set as the seeding event carries it (review date = seeding time + 90 days)."""
        return {
            "allowed_usage": list(self.allowed_usage), "prohibited_usage": list(self.prohibited_usage),
            "rate_limits": dict(self.rate_limits), "retry_policy": dict(RETRY_POLICY),
            "retention_rules": dict(RETENTION_RULES), "pii_handling": None, "attribution_required": None,
            "attribution_text": None, "tos_url": self.tos_url, "tos_version": SEED_VERSION,
            "tos_snapshot_evidence_hash": None, "tos_snapshot_r2_key": None, "tos_retrieved_at": None,
            "tos_next_review_date": (now + REVIEW_EVERY).isoformat(), "scraping_permitted": None,
            "scraping_notes": None, "robots_txt_compliant": None,
            "authentication_required": self.authentication_type not in (None, "none"),
            "authentication_type": self.authentication_type, **dict(self.extra),
        }


_POLYMARKET_TOS = "https://polymarket.com/tos"
SEED: tuple[SeedSource, ...] = (
    SeedSource("polymarket_gamma_api", SourceStatus.APPROVED, "none",
               ("market_data_read", "resolution_criteria", "event_metadata"), {"requests_per_second": 10},
               _POLYMARKET_TOS),
    SeedSource("polymarket_clob_api", SourceStatus.APPROVED, "none",
               ("orderbook_read", "midpoint_read", "trade_history_read"), {"requests_per_second": 10},
               _POLYMARKET_TOS),
    SeedSource("polymarket_data_api", SourceStatus.APPROVED, "none",
               ("leaderboard_read", "public_profile_read", "public_positions_read"),
               {"requests_per_second": 5, "profiles_per_batch": 100}, _POLYMARKET_TOS),
    SeedSource("kalshi_trade_api", SourceStatus.APPROVED, "rsa_pss",
               ("market_data_read", "orderbook_read", "trade_execution"),
               {"public_per_minute": 100, "trading_per_minute": 60, "cancels_per_minute": 120},
               "https://kalshi.com/docs/kalshi-terms-of-service"),
    SeedSource("noaa_cdo", SourceStatus.APPROVED, "api_key", ("weather_history_read",),
               {"requests_per_second": 5, "requests_per_day": 1000}, "https://www.ncdc.noaa.gov/cdo-web/webservices/v2"),
    SeedSource("noaa_weather_api", SourceStatus.APPROVED, "none", ("forecast_read", "weather_observations_read"),
               {"requests_per_second": 10}, "https://www.weather.gov/documentation/services-web-api"),
    SeedSource("fred_api", SourceStatus.APPROVED, "api_key", ("economic_series_read",),
               {"requests_per_minute": 120}, "https://fred.stlouisfed.org/docs/api/terms_of_use.html"),
    SeedSource("polymarket_analytics", SourceStatus.BLOCKED, None, (), {}, "https://polymarketanalytics.com",
               prohibited_usage=("automated_access",),
               block_reason="ToS does not explicitly permit automated access"),
)
SEED_BY_NAME = {s.source_name: s for s in SEED}

# §6.3 ingestion mapping: (venue, message type) -> the sources that fetch reads. Kalshi's four types all read
# the trade API; NOAA's history comes from CDO, forecasts and observations from api.weather.gov.
_KALSHI_TYPES = ("fetch_markets", "fetch_orderbook", "fetch_account", "fetch_leaderboard")
INGESTION_SOURCES: dict[tuple[str, str], tuple[str, ...]] = {
    ("polymarket", "fetch_markets"): ("polymarket_gamma_api",),
    ("polymarket", "fetch_orderbook"): ("polymarket_clob_api",),
    ("polymarket", "fetch_account"): ("polymarket_data_api",),
    ("polymarket", "fetch_leaderboard"): ("polymarket_data_api",),
    **{("kalshi", t): ("kalshi_trade_api",) for t in _KALSHI_TYPES},
    ("noaa", "fetch_station_history"): ("noaa_cdo",),
    ("noaa", "fetch_forecast"): ("noaa_weather_api",),
    ("noaa", "fetch_observations"): ("noaa_weather_api",),
}


@dataclass(frozen=True)
class GateDecision:
    """The batch check's answer (§6.3 "check a batch"), with the sources it looked at."""

    allowed: bool
    status: str
    reason: str | None = None
    blocked_entities: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        if self.allowed:
            return {"allowed": True, "status": self.status, "sources": list(self.sources)}
        return {"allowed": False, "status": self.status, "reason": self.reason,
                "blockedEntities": list(self.blocked_entities), "sources": list(self.sources)}


def check_source(name: str, status: str | None, allowed_usage: Sequence[str] = ()) -> dict[str, Any]:
    """§6.3 "check one source": a source the matrix does not hold is not approved."""
    if status is None:
        return {"approved": False, "reason": NOT_IN_MATRIX}
    return {"approved": status == SourceStatus.APPROVED, "status": status, "allowedUsage": list(allowed_usage)}


def check_batch(entities: Sequence[str], statuses: Mapping[str, str]) -> GateDecision:
    """§6.3 "check a batch": allowed only when every entity is in the matrix and approved; an empty batch is not."""
    if not entities:
        return GateDecision(False, UNKNOWN, "No entities to check")
    blocked: list[str] = []
    last = UNKNOWN
    for name in entities:
        status = statuses.get(name)
        if status != SourceStatus.APPROVED:
            blocked.append(name)
            last = status or UNKNOWN
    if blocked:
        return GateDecision(False, last, f"{len(blocked)} entities blocked or unknown", tuple(blocked),
                            tuple(entities))
    return GateDecision(True, SourceStatus.APPROVED.value, sources=tuple(entities))


def ingestion_sources(venue: str, message_type: str) -> tuple[str, ...] | None:
    return INGESTION_SOURCES.get((venue.strip().lower(), message_type.strip()))


def ingestion_decision(venue: str, message_type: str, statuses: Mapping[str, str]) -> GateDecision:
    """The ingestion gate: the message's sources checked as a batch; a message no source is mapped to is blocked."""
    sources = ingestion_sources(venue, message_type)
    if sources is None:
        return GateDecision(False, UNKNOWN, f"No compliance source is mapped to {venue} {message_type}")
    return check_batch(sources, statuses)


def unreadable_decision(venue: str, message_type: str, problem: str) -> GateDecision:
    """Fail closed when the matrix cannot be read: every source of the message counts as unknown."""
    sources = ingestion_sources(venue, message_type) or ()
    return GateDecision(False, UNKNOWN, f"Compliance matrix unreadable: {problem}", sources, sources)


def tos_review_due(next_reviews: Iterable[tuple[str, datetime]], now: datetime) -> list[str]:
    """§6.3 ToS review list: the sources whose next review date has passed."""
    return sorted(name for name, due in next_reviews if due < now)


def parse_status(value: object) -> SourceStatus:
    try:
        return SourceStatus(value) if isinstance(value, str) else SourceStatus("")
    except ValueError:
        raise InvalidComplianceRequest(
            f"status must be one of {', '.join(s.value for s in SourceStatus)}, got {value!r}") from None


def required_text(name: str, value: object, limit: int) -> str:
    """A trimmed, non-empty text of at most ``limit`` characters (actors, reasons, descriptions)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidComplianceRequest(f"{name} is required")
    if len(text) > limit:
        raise InvalidComplianceRequest(f"{name} is longer than {limit} characters")
    return text
