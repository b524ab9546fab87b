"""Cloudflare Access JWT validation (api-and-security §2.3 with its resolutions).

Keys come from the team's certs URL (configurable so tests serve them from loopback), cached per team
domain for an hour. A forced refresh happens only for a ``kid`` the cache does not know, and at most
once a minute per domain, so bad tokens cannot amplify into outbound fetches. A fetch ends within 5 s in total
and reads at most 1 MiB of key document (ADR 0513). Only RS256 is accepted, ``exp`` is required, 60 s clock skew
is allowed. Failures report a generic reason class, never the library's text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from paulp.adapters.http_bounds import MIB, ResponseBounds, ResponseCutOff, bounded_async_client

log = logging.getLogger("paulp.auth.cf_access")

CACHE_TTL_S = 3600.0
REFRESH_MIN_INTERVAL_S = 60.0
CLOCK_SKEW_S = 60
FETCH_TIMEOUT_S = 5.0  # the whole fetch, body included
MAX_DOCUMENT_BYTES = MIB  # a team's certs document is a few KB


class AccessJwtInvalid(Exception):
    """Raised when an Access JWT does not verify; ``reason`` is one of the generic classes of §2.3."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _KeySet:
    keys: dict[str, RSAPublicKey]
    fetched_at: float


@dataclass
class AccessVerifier:
    """One per application: cache and refresh bookkeeping live here, not in module globals. The repr leaves out
    the team domain and audience (secrets in §8) and the certs URL derived from the domain (ADR 0514)."""

    team_domain: str = field(repr=False)
    audience: str = field(repr=False)
    certs_url: str = field(repr=False)
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, _KeySet] = field(default_factory=dict)
    _last_forced: dict[str, float] = field(default_factory=dict)
    fetches: int = 0
    fetch_timeout_s: float = FETCH_TIMEOUT_S
    max_document_bytes: int = MAX_DOCUMENT_BYTES

    @property
    def _domain_key(self) -> str:
        return self.team_domain.lower()

    async def verify(self, token: str) -> dict[str, Any]:
        """Return the verified claims (with an ``email``) or raise ``AccessJwtInvalid``."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AccessJwtInvalid("malformed") from None
        if header.get("alg") != "RS256":
            raise AccessJwtInvalid("signature")
        kid = header.get("kid")
        keys = await self._keys(force=False)
        if isinstance(kid, str):
            if kid not in keys and self._may_force_refresh():
                keys = await self._keys(force=True)
            if kid not in keys:
                raise AccessJwtInvalid("signature")
            candidates = [keys[kid]]
        else:
            candidates = list(keys.values())
        claims = self._decode(token, candidates)
        email = claims.get("email")
        if not isinstance(email, str) or not email.strip():
            raise AccessJwtInvalid("missing email claim")
        return claims

    def _decode(self, token: str, candidates: list[RSAPublicKey]) -> dict[str, Any]:
        for key in candidates:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token, key, algorithms=["RS256"], audience=self.audience, leeway=CLOCK_SKEW_S,
                    options={"require": ["exp"], "verify_iss": False},
                )
            except jwt.InvalidSignatureError:
                continue  # another key may sign it
            except jwt.ExpiredSignatureError:
                raise AccessJwtInvalid("expired") from None
            except jwt.ImmatureSignatureError:
                raise AccessJwtInvalid("expired") from None
            except jwt.InvalidAudienceError:
                raise AccessJwtInvalid("audience") from None
            except jwt.MissingRequiredClaimError as exc:
                raise AccessJwtInvalid("audience" if exc.claim == "aud" else "malformed") from None
            except jwt.PyJWTError:
                raise AccessJwtInvalid("malformed") from None
            self._check_issuer(claims.get("iss"))
            return claims
        raise AccessJwtInvalid("signature")

    def _check_issuer(self, iss: object) -> None:
        """``https://<team domain>`` exactly, the host compared case-insensitively."""
        if not isinstance(iss, str):
            raise AccessJwtInvalid("issuer")
        parts = urlsplit(iss)
        ok = (parts.scheme == "https" and (parts.netloc or "").lower() == self._domain_key
              and parts.path == "" and not parts.query and not parts.fragment)
        if not ok:
            raise AccessJwtInvalid("issuer")

    def _may_force_refresh(self) -> bool:
        now = self.clock()
        last = self._last_forced.get(self._domain_key)
        if last is not None and now - last < REFRESH_MIN_INTERVAL_S:
            return False
        self._last_forced[self._domain_key] = now
        return True

    async def _keys(self, force: bool) -> dict[str, RSAPublicKey]:
        cached = self._cache.get(self._domain_key)
        now = self.clock()
        if not force and cached is not None and cached.keys and now - cached.fetched_at < CACHE_TTL_S:
            return cached.keys
        keys = await self._fetch()
        if keys:
            self._cache[self._domain_key] = _KeySet(keys, now)
            return keys
        self._cache.pop(self._domain_key, None)  # an empty set is never served from cache
        if cached is not None and cached.keys and not force:
            return cached.keys
        raise AccessJwtInvalid("keys_unavailable")

    async def _fetch(self) -> dict[str, RSAPublicKey]:
        self.fetches += 1
        bounds = ResponseBounds(self.fetch_timeout_s, self.max_document_bytes)
        try:
            async with bounded_async_client(bounds, timeout=self.fetch_timeout_s, follow_redirects=False) as client:
                response = await client.get(self.certs_url)
            if not 200 <= response.status_code < 300:
                log.warning("CF Access certs fetch failed status=%s", response.status_code)
                raise AccessJwtInvalid("keys_unavailable")
            document = response.json()
        except ResponseCutOff as cut:
            log.warning("CF Access certs fetch failed (%s: %s)", cut.reason, cut.describe())
            raise AccessJwtInvalid("keys_unavailable") from None
        except (httpx.HTTPError, ValueError):
            log.warning("CF Access certs fetch failed (network or parse error)")
            raise AccessJwtInvalid("keys_unavailable") from None
        return parse_key_document(document)


def parse_key_document(document: object) -> dict[str, RSAPublicKey]:
    """Merge ``public_certs``, ``public_cert`` and JWK ``keys`` into one map by ``kid`` (first wins)."""
    keys: dict[str, RSAPublicKey] = {}
    if not isinstance(document, dict):
        return keys
    certs = document.get("public_certs")
    entries: list[object] = list(certs) if isinstance(certs, list) else []
    if isinstance(document.get("public_cert"), dict):
        entries.append(document["public_cert"])
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("kid"), str) and isinstance(entry.get("cert"), str):
            key = _cert_key(entry["cert"])
            if key is not None and entry["kid"] not in keys:
                keys[entry["kid"]] = key
    jwks = document.get("keys")
    for jwk in jwks if isinstance(jwks, list) else []:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str) or jwk["kid"] in keys:
            continue
        key = _jwk_key(jwk)
        if key is not None:
            keys[jwk["kid"]] = key
    return keys


def _cert_key(pem: str) -> RSAPublicKey | None:
    try:
        key = x509.load_pem_x509_certificate(pem.encode("ascii")).public_key()
    except (ValueError, UnicodeEncodeError):
        log.warning("CF Access certificate skipped: does not import")
        return None
    return key if isinstance(key, RSAPublicKey) else None


def _jwk_key(jwk: dict[str, Any]) -> RSAPublicKey | None:
    if jwk.get("kty") != "RSA" or jwk.get("alg", "RS256") != "RS256":
        log.warning("CF Access JWK skipped: not an RS256 RSA key")
        return None
    try:
        key = jwt.PyJWK({**jwk, "alg": "RS256"}).key
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        log.warning("CF Access JWK skipped: does not import")
        return None
    return key if isinstance(key, RSAPublicKey) else None
