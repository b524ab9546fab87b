"""Secrets taken out of text before it is shown or stored (api-and-security §8; ADR 0514): service URLs with their
credentials masked, and answer bodies with an echoed credential replaced. Standard library only, so the settings
can use it at import."""

from __future__ import annotations

import re
from typing import Any, overload
from urllib.parse import quote, urlsplit, urlunsplit

REDACTED = "***"
RESPONSE_REDACTED_PARAM = "responseRedacted"  # marks a fetch whose stored body had a credential replaced
_SECRET_QUERY = re.compile(r"(^|&)(password|sslpassword|token|nkey|jwt)=[^&]*", re.IGNORECASE)
_SECRET_KV = re.compile(r"(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|(?:\\.|\S)+)", re.IGNORECASE)
_NATS_SCHEMES = ("nats://", "tls://", "ws://", "wss://")


def mask_url(url: str) -> str:
    """Hide passwords and tokens so a URL (or a libpq ``key=value`` string) can be logged or shown."""
    if "://" not in url:
        return _SECRET_KV.sub(r"\1" + REDACTED, url)  # libpq key=value DSN
    if url.lower().startswith(_NATS_SCHEMES) and "," in url:
        return ",".join(mask_url(part.strip()) for part in url.split(","))
    parts = urlsplit(url)
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at:
        user, colon, _secret = userinfo.partition(":")
        if colon:
            userinfo = f"{user}:{REDACTED}"
        elif not parts.scheme.lower().startswith("postgres"):
            userinfo = REDACTED  # nats://TOKEN@host: the bare user part is the token
        netloc = f"{userinfo}@{hostinfo}"
    return urlunsplit(parts._replace(netloc=netloc, query=_SECRET_QUERY.sub(r"\1\2=" + REDACTED, parts.query)))


def mask_nats_url(url: str) -> str:
    """``mask_url`` for ``PAULP_NATS_URL``, which nats-py also takes without its scheme (``user:pass@host:4222``
    is ``nats://user:pass@host:4222``): never read as a libpq string. A comma-separated list, each server."""
    masked = []
    for part in (p.strip() for p in url.split(",")):
        if "://" in part:
            masked.append(mask_url(part))
        else:
            masked.append(mask_url("nats://" + part).removeprefix("nats://"))
    return ",".join(masked)


def scrub(body: bytes, secrets: tuple[str, ...]) -> tuple[bytes, bool]:
    """The body with every echo of a secret (as sent, or percent-encoded as in a URL) replaced by ``***``, and
    whether anything was replaced."""
    cleaned = body
    for secret in secrets:
        if not secret:
            continue
        for form in {secret, quote(secret, safe="")}:
            cleaned = cleaned.replace(form.encode(), REDACTED.encode())
    return cleaned, cleaned != body


@overload
def scrub_for_evidence(body: bytes, secrets: tuple[str, ...], params: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    ...


@overload
def scrub_for_evidence(body: bytes, secrets: tuple[str, ...],
                       params: dict[str, Any] | None) -> tuple[bytes, dict[str, Any] | None]:
    ...


def scrub_for_evidence(body: bytes, secrets: tuple[str, ...],
                       params: dict[str, Any] | None) -> tuple[bytes, dict[str, Any] | None]:
    """The body to store as evidence (``scrub``) and the fetch's params: ``params`` itself when nothing was
    replaced, else a copy (an empty one for None) saying ``responseRedacted``. The one step the Kalshi, NOAA and
    LLM evidence writers share (ADRs 0514, 0524)."""
    stored, redacted = scrub(body, secrets)
    if not redacted:
        return stored, params
    return stored, {**(params or {}), RESPONSE_REDACTED_PARAM: True}
