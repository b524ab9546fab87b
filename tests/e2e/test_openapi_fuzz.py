"""Schemathesis against the app's own OpenAPI, with and without a valid operator token.

Zero 5xx and zero response-schema violations; malformed input answers 4xx with a machine-readable code.
The case count is asserted so the fuzzing cannot silently shrink below 1,000 generated requests.
"""

from __future__ import annotations

import json
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


# Path values a hand-read route accepts, so the bad field reaches the handler's work, not a 404 before it.
PATH_VALUES = {"phase": "1", "name": "kalshi_trade_api", "strategy_id": "bonding", "proposal_id": "kalshi_trade_api#p1"}
# Text no PostgreSQL column holds: a NUL, and a lone surrogate (sent as JSON's own escape, so the body is valid JSON).
UNSTORABLE = {"nul": '"a\\u0000b"', "lone-surrogate": '"\\udc00"'}


def _text_fields(app) -> list[tuple[str, str, dict, str]]:
    """(method, path, declared example, text field) for every hand-read body's text property (ADR 0495)."""
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, op in item.items():
            body = op.get("requestBody") or {}
            media = body.get("content", {}).get("application/json", {}) if body.get(HAND_READ) else {}
            for name, prop in media.get("schema", {}).get("properties", {}).items():
                kinds = prop.get("type")
                if kinds == "string" or (isinstance(kinds, list) and "string" in kinds):
                    found.append((method.upper(), path, media.get("example", {}), name))
    return found


@pytest.mark.parametrize("value", list(UNSTORABLE), ids=list(UNSTORABLE))
def test_hand_read_text_when_unstorable_then_4xx_never_5xx(app, value):
    """A text field no column can hold is refused, not passed on to a query (ADR 0498: the operator close let a
    NUL and a lone surrogate through to its position query, a 500)."""
    from starlette.testclient import TestClient

    fields = _text_fields(app)
    assert len(fields) >= 20
    with TestClient(app) as client:
        for method, path, example, name in fields:
            url = path.format_map({k: PATH_VALUES.get(k, "x1") for k in _path_names(path)})
            raw = json.dumps({**example, name: "<<x>>"}).replace('"<<x>>"', UNSTORABLE[value])
            r = client.request(method, url, content=raw, headers={"Authorization": f"Bearer {TOKEN}",
                                                                   "content-type": "application/json"})
            SEEN["cases"] += 1
            assert r.status_code < 500, (method, url, name, r.status_code, r.text[:300])
            if r.status_code >= 400:
                assert isinstance(r.json().get("error"), str), (method, url, name, r.text[:300])


def _path_names(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]


def test_fuzz_case_count_when_run_then_at_least_1000():
    """Runs after the fuzz tests in this module (file order): they must have generated >= 1,000 requests."""
    assert SEEN["cases"] >= 1000, SEEN
