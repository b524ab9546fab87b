"""The operator-auth fetches (Cloudflare Access keys §2.3, Turnstile siteverify §2.6) against answers that drip,
flood or over-declare their length (ADR 0513).

Before ADR 0513 both waited out a drip for as long as each byte came within 5 s (a 3 s drip was read to its end
and accepted) and read a 100 MB body whole. Now each ends within its 5 s in total (small in these tests) and reads
at most its cap; either refusal fails closed with the reason class an unreachable service gets.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from paulp.api.security import turnstile
from paulp.api.security.cf_access import AccessJwtInvalid, AccessVerifier
from tests.fakes.hostile import MB, HostileBody, declared, drip, flood
from tests.fakes.jwks import fake_jwks
from tests.fakes.turnstile import fake_turnstile

pytestmark = pytest.mark.timeout(15)
DEADLINE_S = 0.4
SLACK_S = 1.5  # room for a loaded CI host; still far below the 3 s an unbounded client waits a drip out
CAP = 16 * 1024
HOSTILE = {"drip": drip(every_s=0.05, for_s=3.0), "flood": flood(200 * MB), "declared": declared(50_000 * MB)}


def timed(coro_factory) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(coro_factory(), timeout=10))
    except Exception as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


def within(kind: str, took: float) -> bool:
    """A drip ends at the deadline, not after its 3 s; a flood or an over-declared length is refused for its size
    (the logged reason says which bound ended it)."""
    return DEADLINE_S <= took < DEADLINE_S + SLACK_S if kind == "drip" else took < DEADLINE_S + SLACK_S


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_access_keys_when_the_certs_answer_misbehaves_then_keys_unavailable_within_the_bounds(
        kind: str, caplog: pytest.LogCaptureFixture) -> None:
    hostile: HostileBody = HOSTILE[kind]
    with fake_jwks() as certs:
        certs.hostile = hostile
        verifier = AccessVerifier("team.example.com", "aud", certs.url, fetch_timeout_s=DEADLINE_S,
                                  max_document_bytes=CAP)
        with caplog.at_level(logging.WARNING, logger="paulp.auth.cf_access"):
            error, took = timed(lambda: verifier._keys(force=True))
    assert isinstance(error, AccessJwtInvalid) and error.reason == "keys_unavailable"
    assert within(kind, took) and certs.hits == 1
    reason = {"drip": "deadline", "flood": "size_cap", "declared": "declared_size"}[kind]
    assert f"CF Access certs fetch failed ({reason}:" in caplog.text


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_turnstile_when_siteverify_misbehaves_then_verification_failed_within_the_bounds(
        kind: str, caplog: pytest.LogCaptureFixture) -> None:
    with fake_turnstile() as siteverify:
        siteverify.hostile = HOSTILE[kind]
        with caplog.at_level(logging.WARNING, logger="paulp.auth.turnstile"):
            error, took = timed(lambda: turnstile.verify(siteverify.url, "secret", "token", None,
                                                         timeout_s=DEADLINE_S, max_reply_bytes=CAP))
    assert isinstance(error, turnstile.TurnstileFailure) and error.code == "turnstile_failed"
    assert error.message == "Turnstile verification failed" and within(kind, took)
    assert len(siteverify.forms) == 1 and "turnstile verification error (" in caplog.text


def test_turnstile_when_the_reply_is_within_bounds_then_it_verifies() -> None:
    with fake_turnstile() as siteverify:
        error, _ = timed(lambda: turnstile.verify(siteverify.url, "secret", "token", "203.0.113.9",
                                                  timeout_s=DEADLINE_S, max_reply_bytes=CAP))
    assert error is None and siteverify.forms[0]["remoteip"] == "203.0.113.9"
