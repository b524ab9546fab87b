"""The shared §3.3 request policy: where credentials may go, and how long a retry waits."""

from __future__ import annotations

import pytest

from paulp.adapters.http_policy import HttpPolicy, full_jitter, retry_delay, secure_base_url


@pytest.mark.parametrize(("url", "expected"), [
    ("https://api.example.com/v2/", "https://api.example.com/v2"),
    (" http://127.0.0.1:8080/x ", "http://127.0.0.1:8080/x"),
    ("http://localhost:9/", "http://localhost:9"),
    ("http://[::1]:9", "http://[::1]:9"),
    ("http://api.example.com", None),  # clear text off loopback
    ("http://10.0.0.1", None),
    ("ftp://127.0.0.1", None),
    ("https://", None),
    ("", None),
])
def test_secure_base_url_when_given_then_https_or_loopback_http_only(url: str, expected: str | None) -> None:
    assert secure_base_url(url) == expected


def test_full_jitter_when_attempts_grow_then_ceiling_doubles_up_to_the_cap() -> None:
    ceilings = [full_jitter(n, HttpPolicy(), lambda: 1.0) for n in range(1, 6)]
    assert ceilings == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert full_jitter(3, HttpPolicy(), lambda: 0.25) == 1.0


def test_retry_delay_when_server_names_a_wait_then_at_least_that_or_give_up_past_the_limit() -> None:
    assert retry_delay(1, HttpPolicy(), None, lambda: 0.5) == 0.5
    assert retry_delay(1, HttpPolicy(), 3.0, lambda: 0.5) == 3.0
    assert retry_delay(3, HttpPolicy(), 0.1, lambda: 1.0) == 4.0
    assert retry_delay(1, HttpPolicy(), 30.0, lambda: 0.0) == 30.0
    assert retry_delay(1, HttpPolicy(), 30.5, lambda: 0.0) is None
