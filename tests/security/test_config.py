"""Configuration and secrets (api-and-security §8): fail-closed start-up errors that name the variable."""

from __future__ import annotations

import logging

import hypothesis
import pytest
from hypothesis import strategies as st

from paulp.adapters.config import ENVIRONMENTS, ConfigError, Settings
from tests.security.support import IsolatedSettings
from tests.support.hypothesis_scale import examples

PROD = {"ENVIRONMENT": "production", "PAULP_DATABASE_URL": "postgresql://db/x", "PAULP_NATS_URL": "nats://n:4222",
        "PAULP_ANCHOR_DATABASE_URL": "postgresql://db/anchor", "PAULP_EVIDENCE_DIR": "/var/lib/paulp/evidence",
        "PAULP_AUDIT_MIRROR_DIR": "/var/lib/paulp/audit-mirror"}
LONG = "x" * 32


def _settings(**values: object) -> IsolatedSettings:
    """Settings in development unless ``values`` name another ENVIRONMENT (which is required, ADR 0353)."""
    return IsolatedSettings(**{"ENVIRONMENT": "development", **values})


def _error(**values: object) -> str:
    with pytest.raises(ConfigError) as raised:
        _settings(**values).require_urls()
    return str(raised.value)


def test_admin_token_when_short_in_production_then_startup_error_naming_it() -> None:
    message = _error(**PROD, ADMIN_TOKEN="y" * 31)
    assert "ADMIN_TOKEN" in message and "y" * 31 not in message


def test_admin_token_when_short_outside_production_then_accepted() -> None:
    _settings(ADMIN_TOKEN="short").require_urls()


def test_no_operator_auth_when_outside_production_then_starts_quietly(caplog: pytest.LogCaptureFixture) -> None:
    """Every CLI command runs this gate; only the HTTP app (which has operator routes) warns about auth."""
    settings = _settings()
    with caplog.at_level(logging.DEBUG):
        settings.require_urls()
    assert not settings.operator_auth_configured and caplog.records == []
    assert _settings(ADMIN_TOKEN="short").operator_auth_configured


def test_admin_token_when_32_chars_in_production_then_starts() -> None:
    _settings(**PROD, ADMIN_TOKEN=LONG).require_urls()


@pytest.mark.parametrize("raw", ["no-separator-token", "Upper=" + LONG, "name=", "=" + LONG, "sp ace=" + LONG])
def test_admin_tokens_when_malformed_then_startup_error(raw: str) -> None:
    message = _error(ADMIN_TOKENS=raw)
    assert "ADMIN_TOKENS" in message and LONG not in message


def test_admin_tokens_when_short_named_token_in_production_then_startup_error() -> None:
    assert "ADMIN_TOKENS" in _error(**PROD, ADMIN_TOKEN=LONG, ADMIN_TOKENS="ops=short")


def test_admin_tokens_when_well_formed_then_actor_names() -> None:
    s = _settings(ADMIN_TOKEN="a", ADMIN_TOKENS=f"ops.1={LONG}, night_shift:{LONG}z ,")
    assert [t.actor for t in s.named_tokens()] == ["api-token-user", "token:ops.1", "token:night_shift"]
    assert s.admin_tokens() == ["a", LONG, LONG + "z"]


@pytest.mark.parametrize("variable", ["ADMIN_ALLOWED_IPS", "PAULP_TRUSTED_PROXIES"])
def test_ip_list_when_entry_unparseable_then_startup_error_naming_variable(variable: str) -> None:
    assert variable in _error(**{variable: "10.0.0.1, 300.1.1.1"})


@pytest.mark.parametrize("blank", [False, True], ids=["unset", "blank"])
@pytest.mark.parametrize("missing", ["PAULP_DATABASE_URL", "PAULP_NATS_URL", "PAULP_ANCHOR_DATABASE_URL",
                                     "PAULP_EVIDENCE_DIR", "PAULP_AUDIT_MIRROR_DIR"])
def test_production_when_required_location_missing_then_error_names_it(missing: str, blank: bool) -> None:
    values = {k: v for k, v in PROD.items() if k != missing} | ({missing: "  "} if blank else {})
    assert f"{missing} is required when ENVIRONMENT=production" in _error(**values, ADMIN_TOKEN=LONG)


@pytest.mark.parametrize("environment", ["staging", "development", "test"])
def test_audit_mirror_when_unset_outside_production_then_starts_and_stays_unset(environment: str) -> None:
    """Outside production an unset mirror is allowed: /health/deep reports it (ADR 0253), start-up does not."""
    settings = _settings(ENVIRONMENT=environment, ADMIN_TOKEN=LONG, PAULP_AUDIT_MIRROR_DIR=" ")
    settings.require_urls()
    assert settings.PAULP_AUDIT_MIRROR_DIR is None


def test_production_when_no_operator_auth_configured_then_startup_error() -> None:
    assert "ADMIN_TOKEN" in _error(**PROD)


def test_environment_when_unknown_then_startup_error() -> None:
    assert "ENVIRONMENT" in _error(ENVIRONMENT="prod")


@pytest.mark.parametrize("values", [{}, {"ENVIRONMENT": ""}, {"ENVIRONMENT": "  "}, {"ENVIRONMENT": "\t\n"}],
                         ids=["unset", "empty", "spaces", "whitespace"])
def test_environment_when_unset_or_blank_then_startup_error_naming_it_and_the_choices(values: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as raised:
        IsolatedSettings(**values, ADMIN_TOKEN=LONG)
    assert str(raised.value) == "ENVIRONMENT is required (unset or blank): set it to one of production, staging, " \
                                "development, test"


@pytest.mark.parametrize("value", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_environment_when_process_environment_lacks_it_then_settings_refuse(
        monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    """The path every ``paulp`` command takes: ``Settings()`` reading the process environment."""
    if value is None:
        monkeypatch.delenv("ENVIRONMENT", raising=False)
    else:
        monkeypatch.setenv("ENVIRONMENT", value)
    with pytest.raises(ConfigError, match=r"^ENVIRONMENT is required"):
        Settings()
    monkeypatch.setenv("ENVIRONMENT", "staging")
    assert Settings().ENVIRONMENT == "staging"


@hypothesis.settings(max_examples=examples(300), deadline=None)
@hypothesis.given(st.one_of(st.text(max_size=12), st.sampled_from(ENVIRONMENTS).flatmap(
    lambda name: st.sampled_from([name, name.upper(), name.title(), f" {name}", f"{name}\n"]))))
def test_environment_when_any_text_then_accepted_exactly_for_the_four_names(value: str) -> None:
    """Case-insensitive, no trimming: ``production `` is not silently production, nor anything else."""
    if value.lower() in ENVIRONMENTS:
        assert IsolatedSettings(ENVIRONMENT=value).ENVIRONMENT == value
        return
    with pytest.raises(ConfigError) as raised:
        IsolatedSettings(ENVIRONMENT=value)
    message = str(raised.value)
    assert message.startswith("ENVIRONMENT ") and message.endswith("one of production, staging, development, test")


def test_empty_strings_when_given_for_secrets_then_unset_and_fallbacks_apply() -> None:
    s = _settings(ADMIN_TOKEN="admin", WEBHOOK_TRIGGER_TOKEN="", KALSHI_WEBHOOK_SECRET=" ",
                  WEBHOOK_SHARED_SECRET="shared", CF_ACCESS_TEAM_DOMAIN="")
    assert s.webhook_trigger_token() == "admin"
    assert s.kalshi_webhook_secret() == "shared"
    assert not s.cf_access_configured


def test_secrets_when_settings_repr_then_values_hidden() -> None:
    s = _settings(ADMIN_TOKEN=LONG, KALSHI_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----abc",
                  ANTHROPIC_API_KEY="sk-ant-secret", CF_ACCESS_AUDIENCE="aud-secret")
    text = repr(s) + str(s.model_dump())
    for value in (LONG, "BEGIN PRIVATE KEY", "sk-ant-secret", "aud-secret"):
        assert value not in text


def test_certs_url_when_unset_then_derived_from_team_domain() -> None:
    s = _settings(CF_ACCESS_TEAM_DOMAIN="team.example.com", CF_ACCESS_AUDIENCE="a")
    assert s.cf_certs_url() == "https://team.example.com/cdn-cgi/access/certs"
    assert _settings(CF_ACCESS_TEAM_DOMAIN="t", CF_ACCESS_CERTS_URL="http://127.0.0.1:1/c").cf_certs_url() \
        == "http://127.0.0.1:1/c"


@pytest.mark.parametrize(("value", "hours"),
                         [("0", 0), ("1", 1), (" 6 ", 6), ("24", 24), (12, 12), ("", 24), (" ", 24)])
def test_full_verify_hours_when_whole_hours_up_to_a_day_or_blank_then_accepted(value: object, hours: int) -> None:
    assert _settings(PAULP_AUDIT_FULL_VERIFY_HOURS=value).PAULP_AUDIT_FULL_VERIFY_HOURS == hours
    assert _settings().PAULP_AUDIT_FULL_VERIFY_HOURS == 24


@pytest.mark.parametrize("value", ["abc", "-1", "25", "1.5", "1e1", "true", "\u0661\u0662", "007", True, 1.0])
def test_full_verify_hours_when_not_whole_hours_up_to_a_day_then_startup_error_naming_it(
        monkeypatch: pytest.MonkeyPatch, value: object) -> None:
    """ADR 0506: the daily full chain verification of §5.5 must not move silently (nor stop, with 25 or more)."""
    with pytest.raises(ConfigError, match=r"^PAULP_AUDIT_FULL_VERIFY_HOURS must be a whole number of hours"):
        _settings(PAULP_AUDIT_FULL_VERIFY_HOURS=value)
    if isinstance(value, str):
        monkeypatch.setenv("ENVIRONMENT", "test")
        monkeypatch.setenv("PAULP_AUDIT_FULL_VERIFY_HOURS", value)
        with pytest.raises(ConfigError, match="PAULP_AUDIT_FULL_VERIFY_HOURS"):
            Settings()
