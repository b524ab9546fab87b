"""One Kalshi session per job run: the client configured from Settings (never the raw process environment
for secrets), its venue port on a private loop, and the mapping of venue failures to a ``JobFailed``.

A job that needs a signed venue call and has no credentials fails closed before sending anything; a venue
error becomes a stable code and a message that names the code and status only (no upstream body text).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import SecretStr

from paulp.adapters.config import Settings
from paulp.adapters.evidence_store import EvidenceStore, SessionRecorder
from paulp.adapters.kalshi.client import BASE_URL_ENV, KalshiClient
from paulp.adapters.kalshi.client_errors import KalshiError
from paulp.adapters.kalshi.port import KalshiVenuePort
from paulp.adapters.kalshi.signing import KEY_ENV, PRIVATE_KEY_ENV
from paulp.adapters.kalshi.venue import KalshiVenue
from paulp.api.compliance_outcomes import note_failure
from paulp.domain.compliance_outcomes import KALSHI_SOURCE

log = logging.getLogger("paulp.jobs.venue")
T = TypeVar("T")
_SECRETS = (KEY_ENV, PRIVATE_KEY_ENV)


class JobFailed(Exception):
    """Raised when a job cannot do its work; ``message`` is safe to return to an operator."""

    def __init__(self, code: str, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def kalshi_env(settings: Settings) -> dict[str, str]:
    """Tuning (timeouts, rate tier) from the environment; base URL and credentials from Settings."""
    env = {k: v for k, v in os.environ.items() if k.startswith("KALSHI_") and k not in (*_SECRETS, BASE_URL_ENV)}
    env[BASE_URL_ENV] = settings.KALSHI_BASE_URL
    for name in _SECRETS:
        value: SecretStr | None = getattr(settings, name)
        if value is not None and value.get_secret_value().strip():
            env[name] = value.get_secret_value()
    return env


@contextmanager
def kalshi_port(settings: Settings) -> Iterator[tuple[KalshiVenuePort, KalshiClient]]:
    record = SessionRecorder(settings.PAULP_DATABASE_URL)  # every response indexed and chained (ADR 0406)
    try:
        client = KalshiClient.from_env(kalshi_env(settings), EvidenceStore(settings.evidence_dir()), record=record)
    except KalshiError as exc:
        raise JobFailed(exc.code, f"Kalshi client not usable: {exc.code}", 503) from None
    port = KalshiVenuePort(KalshiVenue(client))
    try:
        yield port, client
    finally:
        port.close(client)
        record.close()


@contextmanager
def credentialed_port_if(needed: bool, settings: Settings, what: str) -> Iterator[KalshiVenuePort | None]:
    """The Kalshi port with credentials checked when the work needs the venue, else None (nothing opened):
    a run that only touches paper never depends on Kalshi or its credentials."""
    if not needed:
        yield None
        return
    with kalshi_port(settings) as (port, client):
        require_credentials(client, what)
        yield port


def require_credentials(client: KalshiClient, what: str) -> None:
    if not client.has_credentials:
        raise JobFailed("venue_not_configured",
                        f"Kalshi credentials are not configured ({KEY_ENV}, {PRIVATE_KEY_ENV}): {what}", 503)


def venue_failure(exc: BaseException, what: str) -> JobFailed:
    """A venue call that failed, as a JobFailed naming only the stable code and the HTTP status; a run counts it
    as a compliance event of the Kalshi source when it is one (ADR 0400)."""
    note_failure(KALSHI_SOURCE, exc)
    if isinstance(exc, KalshiError):
        status = f" (HTTP {exc.status})" if exc.status else ""
        code = "venue_not_configured" if exc.code == "venue_credentials_invalid" else exc.code
        http = 503 if code == "venue_not_configured" else 502
        return JobFailed(code, f"Kalshi {what} failed: {exc.code}{status}", http)
    if isinstance(exc, TimeoutError):
        return JobFailed("venue_timeout", f"Kalshi {what} failed: no answer in time")
    log.error("Kalshi %s failed unexpectedly: %s", what, type(exc).__name__)
    return JobFailed("venue_error", f"Kalshi {what} failed: {type(exc).__name__}")


def nothing_read(codes: Iterable[str]) -> JobFailed:
    """No market could be read: the failure's code is their one cause when they share it (so an evidence store
    that cannot be written says ``venue_evidence_write_failed``, not that Kalshi is down; ADR 0516), else
    ``venue_unavailable``; the message names every cause."""
    causes = sorted(set(codes))
    code = causes[0] if len(causes) == 1 else "venue_unavailable"
    return JobFailed(code, "No market could be read from Kalshi: " + ", ".join(causes))


def venue_call(what: str, call: Any, *args: Any) -> Any:
    """Run one venue read; any failure becomes the JobFailed above."""
    try:
        return call(*args)
    except Exception as exc:
        raise venue_failure(exc, what) from exc
