"""Constant-time secret comparison (api-and-security §2.1): SHA-256 digests, never a length short-cut."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence


def digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def secret_equals(provided: str | None, expected: str | None) -> bool:
    """False when either side is missing or empty; digests compared with ``hmac.compare_digest``."""
    if not provided or not expected:
        return False
    return hmac.compare_digest(digest(provided), digest(expected))


def match_index(provided: str, expected: Sequence[str]) -> int | None:
    """Index of the matching secret; every candidate is compared so timing never says which one matched."""
    got = digest(provided)
    found: int | None = None
    for index, candidate in enumerate(expected):
        if hmac.compare_digest(got, digest(candidate)) and found is None:
            found = index
    return found


def bearer(header: str | None) -> str | None:
    """Exactly ``Bearer `` (capital B, one space); the rest untrimmed."""
    if header is None or not header.startswith("Bearer "):
        return None
    return header[len("Bearer ") :]
