"""Kalshi request signing (api-and-security §3.1): RSA-PSS over `timestamp + METHOD + path`.

The signed path never includes the query string or the body (the venue's published scheme;
the reference's extra bytes made every parameterised GET and every order POST fail). Missing
or unusable credentials fail closed before any byte leaves the process.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paulp.domain.js_text import js_trim

KEY_ENV = "KALSHI_API_KEY"
PRIVATE_KEY_ENV = "KALSHI_PRIVATE_KEY"
HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"
SALT_LENGTH = 32  # bytes, = SHA-256 digest length

_KEY_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_TIMESTAMP_RE = re.compile(r"^[0-9]{13}\Z")
_AUTH_SEGMENTS = (
    "/portfolio", "/orders", "/positions", "/fills", "/balance", "/account", "/notifications", "/users",
)  # fmt: skip
_PUBLIC_PREFIXES = tuple(f"/trade-api/v2/{p}" for p in ("markets", "events", "series", "exchange", "historical"))


class KalshiCredentialsError(ValueError):
    """Raised when the key id or private key is missing, malformed or unusable; nothing is sent."""

    code = "venue_credentials_invalid"


@dataclass(frozen=True)
class KalshiCredentials:
    """A validated key id and parsed RSA key; the repr shows neither (both are secrets, §8; ADR 0514)."""

    key_id: str = field(repr=False)
    private_key: rsa.RSAPrivateKey = field(repr=False)


def is_valid_key_id(value: str) -> bool:
    """Kalshi key ids are UUIDs (any case), judged after trimming as the source's ``trim()`` does (ADR 0464)."""
    return bool(_KEY_ID_RE.fullmatch(js_trim(value)))


def _parse_private_key(pem: str) -> rsa.RSAPrivateKey:
    text = js_trim(pem)
    if "\n" not in text and "\\n" in text:  # PEM pasted into a one-line env var, escaped on any platform
        text = text.replace("\\r\\n", "\n").replace("\\n", "\n")
    try:
        key = serialization.load_pem_private_key(text.encode("utf-8"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KalshiCredentialsError(
            f"{PRIVATE_KEY_ENV} could not be parsed as an unencrypted RSA private key "
            "(PKCS#1 'BEGIN RSA PRIVATE KEY' or PKCS#8 'BEGIN PRIVATE KEY' PEM)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KalshiCredentialsError(f"{PRIVATE_KEY_ENV} is not an RSA private key")
    return key


def load_credentials(api_key: str | None, private_key_pem: str | None) -> KalshiCredentials:
    """Trim (JavaScript's ``trim()``: a BOM goes, U+001C-U+001F stay), validate and parse both values; every
    problem is reported at once, before any request."""
    key_id = js_trim(api_key or "")
    pem = js_trim(private_key_pem or "")
    missing = [name for name, value in ((KEY_ENV, key_id), (PRIVATE_KEY_ENV, pem)) if not value]
    if missing:
        raise KalshiCredentialsError(f"Kalshi credentials missing: set {' and '.join(missing)}")
    if not is_valid_key_id(key_id):
        raise KalshiCredentialsError(f"{KEY_ENV} is not a UUID key id")
    return KalshiCredentials(key_id=key_id, private_key=_parse_private_key(pem))


def credentials_from_env(env: Mapping[str, str]) -> KalshiCredentials:
    return load_credentials(env.get(KEY_ENV), env.get(PRIVATE_KEY_ENV))


def signing_path(path_or_url: str) -> str:
    """The URL path to sign: scheme/host (and a URL's fragment) dropped, then everything from the first '?' —
    nothing else: §3.1 strips the query only, so a '#' in a bare path is signed and classified as written
    (ADR 0464; a client never sends one)."""
    if "://" in path_or_url:
        path_or_url = urlsplit(path_or_url).path
    return path_or_url.split("?", 1)[0]


def signing_message(timestamp_ms: str, method: str, path: str) -> str:
    """`timestamp + METHOD + path_without_query`; the body is never part of it."""
    return f"{timestamp_ms}{method.upper()}{signing_path(path)}"


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=SALT_LENGTH)


def sign_message(private_key: rsa.RSAPrivateKey, message: str) -> str:
    """RSA-PSS/SHA-256/MGF1-SHA-256, 32-byte salt, standard padded base64 (randomised per call)."""
    signature = private_key.sign(message.encode("utf-8"), _pss(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def load_public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    data = pem.encode("utf-8") if isinstance(pem, str) else pem
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def verify_signature(public_key: rsa.RSAPublicKey | str | bytes, message: str, signature_b64: str) -> bool:
    """True only for a well-formed base64 RSA-PSS signature of exactly `message` (used by the fake venue)."""
    key = public_key if isinstance(public_key, rsa.RSAPublicKey) else load_public_key(public_key)
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, message.encode("utf-8"), _pss(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def requires_signature(path_or_url: str) -> bool:
    """Classify a request: account paths signed, known public prefixes unsigned, anything else signed."""
    path = signing_path(path_or_url)
    if any(seg in path for seg in _AUTH_SEGMENTS):
        return True
    return not path.startswith(_PUBLIC_PREFIXES)


def auth_headers(creds: KalshiCredentials, method: str, path: str, timestamp_ms: str) -> dict[str, str]:
    """The three KALSHI-ACCESS-* headers for one request at `timestamp_ms` (13-digit ms string)."""
    if not _TIMESTAMP_RE.fullmatch(timestamp_ms):
        raise ValueError(f"timestamp must be 13 decimal digits of milliseconds, got {timestamp_ms!r}")
    return {
        HEADER_KEY: creds.key_id,
        HEADER_TIMESTAMP: timestamp_ms,
        HEADER_SIGNATURE: sign_message(creds.private_key, signing_message(timestamp_ms, method, path)),
    }


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class KalshiSigner:
    """Signs requests with injected time, so tests can pin the timestamp."""

    def __init__(self, creds: KalshiCredentials, now_ms: Callable[[], int] = wall_clock_ms) -> None:
        self._creds = creds
        self._now_ms = now_ms

    @property
    def key_id(self) -> str:
        return self._creds.key_id

    def headers(self, method: str, path: str) -> dict[str, str]:
        return auth_headers(self._creds, method, path, str(self._now_ms()))


class KalshiAuth(httpx.Auth):
    """httpx auth hook: signs what needs signing; without a signer, refuses such requests unsent."""

    def __init__(self, signer: KalshiSigner | None) -> None:
        self._signer = signer

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        path = request.url.raw_path.decode("ascii")
        if self._signer is not None:
            request.headers.update(self._signer.headers(request.method, path))
        elif requires_signature(path):
            raise KalshiCredentialsError(
                f"{request.method} {signing_path(path)} needs Kalshi credentials: set {KEY_ENV} and {PRIVATE_KEY_ENV}"
            )
        yield request
