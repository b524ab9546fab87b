"""Optional HMAC body signature with a replay window for relayed webhooks (api-and-security §2.7)."""

from __future__ import annotations

import hashlib
import hmac

REPLAY_WINDOW_S = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``hex(HMAC-SHA256(secret, timestamp + "." + raw_body))``."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + b"." + body, hashlib.sha256).hexdigest()


def check(secret: str, timestamp: str | None, provided: str | None, body: bytes, now: float,
          required: bool) -> str | None:
    """``None`` when acceptable, else the failure code: ``webhook_signature`` or ``webhook_replay``."""
    if timestamp is None and provided is None:
        return "webhook_signature" if required else None
    if timestamp is None or provided is None:
        return "webhook_signature"
    try:
        sent_at = int(timestamp.strip())
    except ValueError:
        return "webhook_signature"
    expected = signature(secret, timestamp, body)
    valid = hmac.compare_digest(hashlib.sha256(expected.encode()).digest(),
                                hashlib.sha256(provided.strip().lower().encode()).digest())
    if not valid:
        return "webhook_signature"
    if abs(now - sent_at) > REPLAY_WINDOW_S:
        return "webhook_replay"
    return None
