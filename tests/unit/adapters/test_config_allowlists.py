"""Operator allowlists are trimmed as the source's ``String.prototype.trim`` trims (llm-routing §10.1, ADR 0453)."""

from __future__ import annotations

import ipaddress

import pytest

from paulp.adapters.config import ConfigError, Settings
from paulp.domain.js_text import js_trim


def test_allowlists_when_entries_padded_with_bom_and_nbsp_then_trimmed_and_lower_cased() -> None:
    settings = Settings(ENVIRONMENT="test", ADMIN_ALLOWED_EMAILS="\ufeffOps@Example.com ,\u00a0b@c.d\u3000,  ,",
                        ADMIN_ALLOWED_IPS="\ufeff1.2.3.4 ,\u00a02001:DB8::A")
    assert settings.allowed_emails() == ["ops@example.com", "b@c.d"]
    assert settings.allowed_networks() == [ipaddress.ip_network("1.2.3.4/32"), ipaddress.ip_network("2001:db8::a/128")]


def test_allowlists_when_entry_is_not_an_address_after_trim_then_start_up_error() -> None:
    with pytest.raises(ConfigError):
        Settings(ENVIRONMENT="test", ADMIN_ALLOWED_IPS="1.2.3.4,\x1f5.6.7.8").allowed_networks()


def test_js_trim_when_python_and_javascript_whitespace_differ_then_javascript_wins() -> None:
    assert js_trim("\ufeff\u2028 a b \u00a0\u205f") == "a b"
    assert js_trim("\x1ca\x85") == "\x1ca\x85"  # str.strip() would remove these; trim() keeps them
