"""/metrics, /openapi.json and the interactive docs over real HTTP, production and development (ADRs 0338, 0339).

api-and-security.md names neither path, so both fail closed: the schema and its UIs (which map the whole
admin surface) are served only in development and test; /metrics (breaker state, projection names, event
and auth-failure counts) needs ``METRICS_TOKEN`` or operator auth in every environment. The app is served
by uvicorn with the runtime's own options and called over TCP.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from paulp.adapters.config import ConfigError
from tests.fakes.jwks import fake_jwks
from tests.security.support import AUDIENCE, TEAM, Signer, access_headers
from tests.support.served import serve_config
from tests.support.settings import IsolatedSettings

pytestmark = pytest.mark.integration

ADMIN = "admin-token-for-observability-tests-0123456789"
SCRAPE = "metrics-token-for-observability-tests-012345"
OTHER = "not-a-token-this-service-knows-0123456789abc"
DOC_PATHS = ["/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"]
SIGNER = Signer()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def served(db_url: str, nats_url: str, namespace: str, **config: Any) -> AbstractContextManager[str]:
    return serve_config(db_url, nats_url, namespace, **config)


def _production(db_url: str, evidence: Path, **extra: Any) -> dict[str, Any]:
    return {"ENVIRONMENT": "production", "PAULP_ANCHOR_DATABASE_URL": db_url, "PAULP_EVIDENCE_DIR": evidence,
            "PAULP_AUDIT_MIRROR_DIR": evidence, "ADMIN_TOKEN": ADMIN, **extra}


def _is_metrics(r: httpx.Response) -> bool:
    return r.status_code == 200 and r.headers["content-type"].startswith("text/plain") \
        and "paulp_events_total " in r.text and 'paulp_breaker_state{state="NORMAL"}' in r.text


# ----------------------------------------------------------------------------------------- production


def test_production_when_any_caller_asks_for_schema_or_docs_then_404_even_with_admin_token(
        module_db: str, nats_url: str, module_ns: str, tmp_path: Path) -> None:
    with served(module_db, nats_url, module_ns, **_production(module_db, tmp_path, METRICS_TOKEN=SCRAPE)) as base:
        for path in DOC_PATHS:
            for headers in ({}, _bearer(ADMIN), _bearer(SCRAPE)):
                r = httpx.get(base + path, headers=headers)
                assert (r.status_code, r.json()["error"], r.json()["path"]) == (404, "Not found", path), path
                assert "/admin/" not in r.text
        assert httpx.get(base + "/health").status_code == 200  # the spec's public routes stay public


def test_production_metrics_when_no_or_wrong_credentials_then_401_without_figures(
        module_db: str, nats_url: str, module_ns: str, tmp_path: Path) -> None:
    with served(module_db, nats_url, module_ns, **_production(module_db, tmp_path, METRICS_TOKEN=SCRAPE)) as base:
        for headers in ({}, _bearer(OTHER), {"Authorization": SCRAPE}, {"Authorization": f"bearer {SCRAPE}"},
                        _bearer(SCRAPE + "x"), _bearer(SCRAPE[:-1])):
            r = httpx.get(base + "/metrics", headers=headers)
            assert (r.status_code, r.json()["code"]) == (401, "auth_required"), headers
            assert r.json()["message"] == ("Metrics require Authorization: Bearer <METRICS_TOKEN or operator "
                                           "token> or Cloudflare Access headers")
            assert "paulp_" not in r.text
        assert httpx.get(base + "/metrics/", headers={}).status_code == 401  # other spellings meet auth first


def test_production_metrics_when_scrape_or_admin_token_then_200(module_db: str, nats_url: str, module_ns: str,
                                                                tmp_path: Path) -> None:
    with served(module_db, nats_url, module_ns, **_production(module_db, tmp_path, METRICS_TOKEN=SCRAPE)) as base:
        assert _is_metrics(httpx.get(base + "/metrics", headers=_bearer(SCRAPE)))
        assert _is_metrics(httpx.get(base + "/metrics", headers=_bearer(ADMIN)))


def test_metrics_token_when_used_outside_metrics_then_401(module_db: str, nats_url: str, module_ns: str,
                                                          tmp_path: Path) -> None:
    # The scrape secret reads figures; it must never open an operator route.
    with served(module_db, nats_url, module_ns, **_production(module_db, tmp_path, METRICS_TOKEN=SCRAPE)) as base:
        for path in ("/admin/status", "/dashboard/summary", "/exec/kalshi/mode"):
            assert httpx.get(base + path, headers=_bearer(SCRAPE)).status_code == 401, path
        r = httpx.post(base + "/webhooks/trigger/ingest", headers=_bearer(SCRAPE))
        assert r.status_code == 401


def test_production_metrics_when_no_metrics_token_then_only_operator_auth_scrapes(
        module_db: str, nats_url: str, module_ns: str, tmp_path: Path) -> None:
    with served(module_db, nats_url, module_ns, **_production(module_db, tmp_path)) as base:
        assert httpx.get(base + "/metrics").status_code == 401
        assert httpx.get(base + "/metrics", headers=_bearer(SCRAPE)).status_code == 401
        assert _is_metrics(httpx.get(base + "/metrics", headers=_bearer(ADMIN)))


def test_metrics_when_ip_allowlist_set_then_scrape_token_must_come_from_an_allowed_address(
        module_db: str, nats_url: str, module_ns: str, tmp_path: Path) -> None:
    config = _production(module_db, tmp_path, METRICS_TOKEN=SCRAPE, ADMIN_ALLOWED_IPS="203.0.113.0/24")
    with served(module_db, nats_url, module_ns, **config) as base:
        refused = httpx.get(base + "/metrics", headers={**_bearer(SCRAPE), "cf-connecting-ip": "198.51.100.9"})
        allowed = httpx.get(base + "/metrics", headers={**_bearer(SCRAPE), "cf-connecting-ip": "203.0.113.7"})
    assert (refused.status_code, refused.json()["code"]) == (403, "ip_not_allowed")
    assert refused.json()["message"] == "Client IP is not in allowlist"
    assert _is_metrics(allowed)


def test_metrics_when_cloudflare_access_then_email_allowlist_applies(module_db: str, nats_url: str, module_ns: str,
                                                                     tmp_path: Path) -> None:
    with fake_jwks(SIGNER.jwks()) as certs:
        config = _production(module_db, tmp_path, CF_ACCESS_TEAM_DOMAIN=TEAM, CF_ACCESS_AUDIENCE=AUDIENCE,
                             CF_ACCESS_CERTS_URL=certs.url, ADMIN_ALLOWED_EMAILS="admin@example.com")
        with served(module_db, nats_url, module_ns, **config) as base:
            other = httpx.get(base + "/metrics", headers=access_headers(SIGNER.token("someone@example.com"),
                                                                        email="someone@example.com"))
            admin = httpx.get(base + "/metrics", headers=access_headers(SIGNER.token("admin@example.com"),
                                                                        email="admin@example.com"))
    assert (other.status_code, other.json()["code"]) == (403, "email_not_allowed")
    assert other.json()["message"] == "Authenticated user is not allowed for metrics access"
    assert _is_metrics(admin)


def test_metrics_token_when_short_in_production_then_startup_error_naming_it() -> None:
    config = {"ENVIRONMENT": "production", "PAULP_DATABASE_URL": "postgresql://db/x", "PAULP_NATS_URL": "nats://n",
              "PAULP_ANCHOR_DATABASE_URL": "postgresql://db/a", "PAULP_EVIDENCE_DIR": "/var/lib/paulp/evidence",
              "PAULP_AUDIT_MIRROR_DIR": "/var/lib/paulp/mirror", "ADMIN_TOKEN": ADMIN}
    with pytest.raises(ConfigError) as raised:
        IsolatedSettings(**config, METRICS_TOKEN="m" * 31).require_urls()
    assert "METRICS_TOKEN" in str(raised.value) and "m" * 31 not in str(raised.value)
    IsolatedSettings(**config, METRICS_TOKEN="m" * 32).require_urls()
    IsolatedSettings(**config, METRICS_TOKEN="  ").require_urls()  # blank is unset: operator auth only
    IsolatedSettings(ENVIRONMENT="development", METRICS_TOKEN="short").require_urls()  # outside production any length


# ----------------------------------------------------------------------------------------- development


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_when_schema_or_docs_asked_then_served_without_credentials(
        module_db: str, nats_url: str, module_ns: str, environment: str) -> None:
    with served(module_db, nats_url, module_ns, ENVIRONMENT=environment, ADMIN_TOKEN=ADMIN) as base:
        schema = httpx.get(base + "/openapi.json")
        docs, redoc = httpx.get(base + "/docs"), httpx.get(base + "/redoc")
    assert schema.status_code == 200 and "/admin/status" in schema.json()["paths"]
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    assert redoc.status_code == 200 and "/openapi.json" in redoc.text


def test_staging_when_schema_or_docs_asked_then_404(module_db: str, nats_url: str, module_ns: str) -> None:
    # Only development and test are local; any deployed environment keeps the admin map to itself.
    with served(module_db, nats_url, module_ns, ENVIRONMENT="staging", ADMIN_TOKEN=ADMIN) as base:
        for path in DOC_PATHS:
            assert httpx.get(base + path, headers=_bearer(ADMIN)).status_code == 404, path


def test_development_metrics_when_credentials_then_200_else_401(module_db: str, nats_url: str,
                                                                module_ns: str) -> None:
    with served(module_db, nats_url, module_ns, ENVIRONMENT="development", ADMIN_TOKEN=ADMIN,
                METRICS_TOKEN="dev-scrape") as base:
        anonymous = httpx.get(base + "/metrics")
        wrong = httpx.get(base + "/metrics", headers=_bearer(OTHER))
        scraped = httpx.get(base + "/metrics", headers=_bearer("dev-scrape"))
        admin = httpx.get(base + "/metrics", headers=_bearer(ADMIN))
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "auth_required")
    assert wrong.status_code == 401
    assert _is_metrics(scraped) and _is_metrics(admin)
    # the refused scrapes are themselves counted as auth failures
    assert "paulp_auth_failures_total 2\n" in admin.text


def test_development_metrics_when_only_scrape_token_configured_then_it_scrapes(module_db: str, nats_url: str,
                                                                               module_ns: str) -> None:
    with served(module_db, nats_url, module_ns, ENVIRONMENT="development", METRICS_TOKEN="dev-scrape") as base:
        assert httpx.get(base + "/metrics").status_code == 401
        assert _is_metrics(httpx.get(base + "/metrics", headers=_bearer("dev-scrape")))
        assert httpx.get(base + "/admin/status", headers=_bearer("dev-scrape")).status_code == 401


def test_development_metrics_when_no_credential_configured_then_503_not_public(module_db: str, nats_url: str,
                                                                               module_ns: str) -> None:
    with served(module_db, nats_url, module_ns, ENVIRONMENT="development") as base:
        for headers in ({}, _bearer(OTHER)):
            r = httpx.get(base + "/metrics", headers=headers)
            assert (r.status_code, r.json()["code"]) == (503, "auth_not_configured")
            assert r.json()["message"] == "METRICS_TOKEN, ADMIN_TOKEN or CF Access must be configured to scrape " \
                                          "metrics"
            assert "paulp_" not in r.text
