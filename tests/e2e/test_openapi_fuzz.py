"""Schemathesis against the app's own OpenAPI, with and without a valid operator token.

Zero 5xx and zero response-schema violations; malformed input answers 4xx with a machine-readable code.
The case count is asserted so the fuzzing cannot silently shrink below 1,000 generated requests.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
import schemathesis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from paulp.api.app import create_app
from paulp.api.query_docs import HAND_READ
from tests.fakes.kalshi_exchange import FakeKalshiExchange
from tests.integration.helpers import make_container
from tests.support.hypothesis_scale import examples

pytestmark = pytest.mark.integration
TOKEN = "test-admin-token-0123456789abcdef"
SEEN: Counter[str] = Counter()
EXAMPLES = examples(60)
# Operations whose query parameters (ADR 0493) or JSON bodies (ADR 0495) are declared for documentation only: their
# parsers are unit- and conformance-tested, so a few examples each keep this file's time near what it was before.
HAND_READ_EXAMPLES = examples(12)


@pytest.fixture(scope="module")
def venue():
    """The loopback Kalshi exchange, so the job and reconcile routes reach a venue (a down venue is a 502)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_id = str(uuid.uuid4())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    with FakeKalshiExchange(key.public_key(), key_id) as exchange:
        yield {"KALSHI_BASE_URL": exchange.base_url, "KALSHI_API_KEY": key_id, "KALSHI_PRIVATE_KEY": pem}


@pytest.fixture(scope="module")
def app(services, run_id, venue, tmp_path_factory):
    import secrets

    from tests.conftest import create_database, drop_database_later

    name = f"paulp_{run_id}_fuzz_{secrets.token_hex(3)}"
    db = create_database(services.database_url, name)
    container = make_container(db, services.nats_url, f"{run_id}_fuzz", admin_token=TOKEN,
                               KALSHI_WEBHOOK_SECRET="fuzz-webhook-secret-0123456789abcdef",
                               WEBHOOK_TRIGGER_TOKEN="fuzz-trigger-token-0123456789abcdef",
                               PAULP_EVIDENCE_DIR=tmp_path_factory.mktemp("fuzz-evidence"), **venue)
    yield create_app(container)
    container.close()
    drop_database_later(services.database_url, name)


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _call_and_check(case, authorised: bool) -> None:
    if authorised:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKEN}"}
    response = case.call()
    SEEN["cases"] += 1
    SEEN[f"{case.method} {case.path}"] += 1
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("error"), str) or isinstance(body.get("ready"), bool), body
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])


@pytest.mark.parametrize("authorised", [True, False], ids=["valid-token", "no-token"])
def test_api_when_fuzzed_then_no_5xx_and_responses_match_schema(api_schema, authorised):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:
        raw = operation.definition.raw
        hand_read = any(p.get(HAND_READ) for p in raw.get("parameters", [])) \
            or bool(raw.get("requestBody", {}).get(HAND_READ))

        @given(case=operation.as_strategy())
        @settings(max_examples=HAND_READ_EXAMPLES if hand_read else EXAMPLES,
                  deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case) -> None:
            _call_and_check(case, authorised)

        run()


def test_fuzz_case_count_when_run_then_at_least_1000():
    """Runs after the fuzz tests in this module (file order): they must have generated >= 1,000 requests."""
    assert SEEN["cases"] >= 1000, SEEN
