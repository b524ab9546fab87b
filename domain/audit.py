"""Audit hash chain, v1 formula (api-and-security §5.1). Independent verifiers rely on it byte for byte."""

from __future__ import annotations

import hashlib

GENESIS = "genesis"
_FORBIDDEN = {"|"} | {chr(c) for c in range(0x20)} | {chr(0x7F)}


class InvalidChainField(ValueError):
    """Raised when a hashed field holds '|' or a control character, which would make the hash ambiguous."""


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def payload_hash(payload: str) -> str:
    """Hash the payload text exactly as stored."""
    return _sha256_hex(payload)


def check_field(name: str, value: str) -> str:
    """Refuse a value that would let two different records share one hash input."""
    bad = sorted({ch for ch in value if ch in _FORBIDDEN})
    if bad:
        raise InvalidChainField(f"chain field {name!r} contains forbidden characters {bad!r}")
    return value


def record_hash(
    id: str,
    timestamp: str,
    agent: str,
    event_type: str,
    payload_hash: str,
    evidence_hash: str | None,
    prev_hash: str,
) -> str:
    """SHA-256 over the seven fields joined by '|'; a null evidence hash contributes ''."""
    parts = (id, timestamp, agent, event_type, payload_hash, evidence_hash or "", prev_hash)
    return _sha256_hex("|".join(parts))
