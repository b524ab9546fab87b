"""Service URLs as ``paulp doctor`` and ``paulp up`` print them: every credential masked (ADR 0514).

nats-py accepts a NATS URL without its scheme (``user:password@host:4222`` is ``nats://…``); the masking read
a URL without ``://`` as a libpq ``key=value`` string and printed it whole. libpq's ``sslpassword`` (the
passphrase of the client key) was not a name the masking knew, in either form, and a libpq value with an escaped
space (``password=a\\ b``) was masked only up to the space.
"""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from paulp.adapters.services import mask_nats_url, mask_url
from paulp.api.cli import app

NATS_PASSWORD = "nats-pw-44c0e7a1"
SSL_PASSWORD = "client-key-pass-9b3d"


@pytest.mark.parametrize(("url", "masked"), [
    (f"paulp:{NATS_PASSWORD}@127.0.0.1:4222", "paulp:***@127.0.0.1:4222"),
    (f"{NATS_PASSWORD}@127.0.0.1:4222", "***@127.0.0.1:4222"),
    (f"nats://paulp:{NATS_PASSWORD}@h:4222, paulp:{NATS_PASSWORD}@h2:4222", "nats://paulp:***@h:4222,paulp:***@h2:4222"),
    ("127.0.0.1:4222", "127.0.0.1:4222"),
], ids=["user-password", "token", "list", "no-credentials"])
def test_mask_nats_url_when_scheme_left_out_then_credentials_masked(url: str, masked: str) -> None:
    assert mask_nats_url(url) == masked


@pytest.mark.parametrize(("url", "masked"), [
    (f"postgresql://u@h/db?sslmode=require&sslpassword={SSL_PASSWORD}",
     "postgresql://u@h/db?sslmode=require&sslpassword=***"),
    (f"host=h sslpassword={SSL_PASSWORD} user=u", "host=h sslpassword=*** user=u"),
    (r"host=h password=first\ second-half user=u", "host=h password=*** user=u"),
], ids=["url", "key-value", "escaped-space"])
def test_mask_url_when_sslpassword_or_an_escaped_password_given_then_masked(url: str, masked: str) -> None:
    """libpq reads ``password=first\\ second-half`` as one value; only ``first\\`` was masked."""
    assert mask_url(url) == masked


@pytest.mark.integration
def test_doctor_when_urls_carry_credentials_then_printed_masked(module_db: str, module_nats: str,
                                                                module_ns: str, tmp_path) -> None:
    # Arrange: both servers accept any credentials (trust auth; NATS without auth), so both answer
    db_url = f"{module_db}?sslpassword={SSL_PASSWORD}"
    nats_url = module_nats.replace("nats://", f"paulp:{NATS_PASSWORD}@")
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PAULP_")}
    env.update(ENVIRONMENT="test", PAULP_DATABASE_URL=db_url, PAULP_NATS_URL=nats_url, PAULP_NAMESPACE=module_ns,
               PAULP_STATE_DIR=str(tmp_path), COLUMNS="250")
    # Act
    r = CliRunner().invoke(app, ["doctor"], env=env)
    # Assert: both answered (the URLs are usable as given), neither secret printed
    assert r.exit_code == 0, r.output
    assert NATS_PASSWORD not in r.output and SSL_PASSWORD not in r.output, r.output
    assert "paulp:***@127.0.0.1" in r.output and "sslpassword=***" in r.output
