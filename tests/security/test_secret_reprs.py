"""The repr of every object that holds a secret shows which one it is, never its value (ADR 0514).

A repr reaches output without anyone choosing to print it: a traceback that shows local variables, pytest's
failure report, a debugger, a ``log.debug("%r", …)``. Settings hid its ``SecretStr`` fields but not the passwords
inside the service URLs; the container showed them too, and three smaller holders showed their secret outright.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from paulp.adapters.kalshi.signing import load_credentials
from paulp.api.security.cf_access import AccessVerifier
from paulp.api.wiring import build
from tests.support.settings import IsolatedSettings, with_db

DB_PASSWORD = "pg-pw-0d5e3c"
ANCHOR_PASSWORD = "anchor-pw-7b1a44"
NATS_PASSWORD = "nats-pw-91f2ce"
ADMIN = "admin-token-3f9c1d7e5b2a48c6a0e1"
NAMED = "named-token-a8c4e2f6b0d9417390c5"
KEY_ID = str(uuid.uuid4())
TEAM, AUDIENCE = "team-a61c.cloudflareaccess.com", "aud-tag-5e2b90d17c"


def _urls(db_url: str = "postgresql://postgres@127.0.0.1:5432/paulp") -> dict[str, str]:
    host = db_url.split("@", 1)[1]
    return {"PAULP_DATABASE_URL": f"postgresql://postgres:{DB_PASSWORD}@{host}",
            "PAULP_ANCHOR_DATABASE_URL": f"host=127.0.0.1 user=postgres password={ANCHOR_PASSWORD} dbname=anchors",
            "PAULP_NATS_URL": f"nats://paulp:{NATS_PASSWORD}@127.0.0.1:4222"}


def test_settings_repr_when_service_urls_hold_passwords_then_each_shown_masked() -> None:
    # Arrange
    settings = IsolatedSettings(ENVIRONMENT="test", ADMIN_TOKEN=ADMIN, **_urls())
    # Act
    shown = repr(settings) + str(settings)
    # Assert: the URLs stay readable (host, user, database), their passwords do not
    for secret in (DB_PASSWORD, ANCHOR_PASSWORD, NATS_PASSWORD, ADMIN):
        assert secret not in shown, shown
    assert "postgresql://postgres:***@127.0.0.1:5432/paulp" in shown
    assert "password=*** dbname=anchors" in shown and "nats://paulp:***@127.0.0.1:4222" in shown
    assert settings.PAULP_DATABASE_URL is not None and DB_PASSWORD in settings.PAULP_DATABASE_URL  # value unchanged


def test_named_tokens_repr_when_admin_tokens_set_then_actors_shown_tokens_not() -> None:
    settings = IsolatedSettings(ENVIRONMENT="test", ADMIN_TOKEN=ADMIN, ADMIN_TOKENS=f"ops={NAMED}")
    shown = repr(settings.named_tokens())
    assert ADMIN not in shown and NAMED not in shown, shown
    assert "api-token-user" in shown and "token:ops" in shown


def test_kalshi_credentials_repr_when_loaded_then_key_id_not_shown() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    credentials = load_credentials(KEY_ID, pem)
    assert KEY_ID not in repr(credentials) and credentials.key_id == KEY_ID


def test_access_verifier_repr_when_built_then_team_domain_and_audience_not_shown() -> None:
    verifier = AccessVerifier(TEAM, AUDIENCE, f"https://{TEAM}/cdn-cgi/access/certs")
    shown = repr(verifier)
    assert TEAM not in shown and AUDIENCE not in shown, shown


@pytest.mark.integration
def test_container_repr_when_urls_hold_passwords_then_masked(module_db: str, module_nats: str, module_ns: str,
                                                              tmp_path: Path) -> None:
    # Arrange: the trust-auth test server accepts any password, so the URLs carry one and still connect
    urls = _urls(module_db)
    nats_url = module_nats.replace("nats://", f"nats://paulp:{NATS_PASSWORD}@")
    settings = IsolatedSettings(ENVIRONMENT="test", PAULP_NAMESPACE=module_ns, PAULP_EVIDENCE_DIR=tmp_path,
                                **{**urls, "PAULP_NATS_URL": nats_url, "PAULP_ANCHOR_DATABASE_URL": with_db(
                                    urls["PAULP_DATABASE_URL"], "postgres")})
    container = build(settings, urls["PAULP_DATABASE_URL"], nats_url)
    try:
        # Act
        shown = repr(container)
    finally:
        container.close()
    # Assert
    assert DB_PASSWORD not in shown and NATS_PASSWORD not in shown
    assert "postgresql://postgres:***@" in shown

