"""Configuration and secrets (api-and-security §8): fail-closed start-up errors that name the variable."""

from __future__ import annotations

import logging

import pytest

from paulp.adapters.config import ConfigError
from tests.security.support import IsolatedSettings

PROD = {"ENVIRONMENT": "production", "PAULP_DATABASE_URL": "postgresql://db/x", "PAULP_NATS_URL": "nats://n:4222",
        "PAULP_ANCHOR_DATABASE_URL": "postgresql://db/anchor", "PAULP_EVIDENCE_DIR": "/var/lib/paulp/evidence"}
LONG = "x" * 32


def _error(**values: object) -> str:
    with pytest.raises(ConfigError) as raised:
        IsolatedSettings(**values).require_urls()
    return str(raised.value)


def test_admin_token_when_short_in_production_then_startup_error_naming_it() -> None:
    message = _error(**PROD, ADMIN_TOKEN="y" * 31)
    assert "ADMIN_TOKEN" in message and "y" * 31 not in message


def test_admin_token_when_short_outside_production_then_accepted() -> None:
    IsolatedSettings(ADMIN_TOKEN="short").require_urls()


def test_no_operator_auth_when_outside_production_then_starts_quietly(caplog: pytest.LogCaptureFixture) -> None:
    """Every CLI command runs this gate; only the HTTP app (which has operator routes) warns about auth."""
    settings = IsolatedSettings()
    with caplog.at_level(logging.DEBUG):
        settings.require_urls()
    assert not settings.operator_auth_configured and caplog.records == []
    assert IsolatedSettings(ADMIN_TOKEN="short").operator_auth_configured


def test_admin_token_when_32_chars_in_production_then_starts() -> None:
    IsolatedSettings(**PROD, ADMIN_TOKEN=LONG).require_urls()


@pytest.mark.parametrize("raw", ["no-separator-token", "Upper=" + LONG, "name=", "=" + LONG, "sp ace=" + LONG])
def test_admin_tokens_when_malformed_then_startup_error(raw: str) -> None:
    message = _error(ADMIN_TOKENS=raw)
    assert "ADMIN_TOKENS" in message and LONG not in message


def test_admin_tokens_when_short_named_token_in_production_then_startup_error() -> None:
    assert "ADMIN_TOKENS" in _error(**PROD, ADMIN_TOKEN=LONG, ADMIN_TOKENS="ops=short")


def test_admin_tokens_when_well_formed_then_actor_names() -> None:
    s = IsolatedSettings(ADMIN_TOKEN="a", ADMIN_TOKENS=f"ops.1={LONG}, night_shift:{LONG}z ,")
    assert [t.actor for t in s.named_tokens()] == ["api-token-user", "token:ops.1", "token:night_shift"]
    assert s.admin_tokens() == ["a", LONG, LONG + "z"]


@pytest.mark.parametrize("variable", ["ADMIN_ALLOWED_IPS", "PAULP_TRUSTED_PROXIES"])
def test_ip_list_when_entry_unparseable_then_startup_error_naming_variable(variable: str) -> None:
    assert variable in _error(**{variable: "10.0.0.1, 300.1.1.1"})


@pytest.mark.parametrize("missing", ["PAULP_DATABASE_URL", "PAULP_NATS_URL", "PAULP_ANCHOR_DATABASE_URL",
                                     "PAULP_EVIDENCE_DIR"])
def test_production_when_required_location_missing_then_error_names_it(missing: str) -> None:
    values = {k: v for k, v in PROD.items() if k != missing}
    assert missing in _error(**values, ADMIN_TOKEN=LONG)


def test_production_when_no_operator_auth_configured_then_startup_error() -> None:
    assert "ADMIN_TOKEN" in _error(**PROD)


def test_environment_when_unknown_then_startup_error() -> None:
    assert "ENVIRONMENT" in _error(ENVIRONMENT="prod")


def test_empty_strings_when_given_for_secrets_then_unset_and_fallbacks_apply() -> None:
    s = IsolatedSettings(ADMIN_TOKEN="admin", WEBHOOK_TRIGGER_TOKEN="", KALSHI_WEBHOOK_SECRET=" ",
                         WEBHOOK_SHARED_SECRET="shared", CF_ACCESS_TEAM_DOMAIN="")
    assert s.webhook_trigger_token() == "admin"
    assert s.kalshi_webhook_secret() == "shared"
    assert not s.cf_access_configured


def test_secrets_when_settings_repr_then_values_hidden() -> None:
    s = IsolatedSettings(ADMIN_TOKEN=LONG, KALSHI_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----abc",
                         ANTHROPIC_API_KEY="sk-ant-secret", CF_ACCESS_AUDIENCE="aud-secret")
    text = repr(s) + str(s.model_dump())
    for value in (LONG, "BEGIN PRIVATE KEY", "sk-ant-secret", "aud-secret"):
        assert value not in text


def test_certs_url_when_unset_then_derived_from_team_domain() -> None:
    s = IsolatedSettings(CF_ACCESS_TEAM_DOMAIN="team.example.com", CF_ACCESS_AUDIENCE="a")
    assert s.cf_certs_url() == "https://team.example.com/cdn-cgi/access/certs"
    assert IsolatedSettings(CF_ACCESS_TEAM_DOMAIN="t", CF_ACCESS_CERTS_URL="http://127.0.0.1:1/c").cf_certs_url() \
        == "http://127.0.0.1:1/c"
