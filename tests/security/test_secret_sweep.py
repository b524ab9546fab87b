"""Every secret set to a marker, the system driven through its success and error paths, every output searched for
the markers (api-and-security §2.8, §4.6, §8; ADR 0514).

Secrets: the database and NATS passwords (in their URLs, which the trust-auth test server and the NATS server
without auth accept), the anchor database's password, the Kalshi key id and every line of its PEM key, the four
LLM keys and the Cloudflare token, both webhook secrets, the admin, named, trigger and metrics tokens, the NOAA
token, the Turnstile secret, the Access audience, the IBKR password, and the two routing overrides (runbook
secrets) set to values no manifest knows.

Paths: public and operator HTTP routes with right and wrong credentials, ``/health/deep`` with the anchor database
unreachable, the Kalshi relay and a trigger with right and wrong secrets, a scan whose Kalshi reads fail (a 500
and a 401 that quote the key id) and whose NOAA history is refused (a 401 that quotes the token), the phase-4 gate
(an authenticated balance call), LLM calls whose providers answer 401 quoting their key, and the relay publishing
the log to NATS.

Outputs: every log record at DEBUG from every logger (messages, arguments, tracebacks), every HTTP body, every row
of every table in every schema (events, audit chain, views, evidence index, job runs, dead letters), the event
bytes, every evidence blob, every NATS message (subject, headers, data), the routing outcomes and the container's
repr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import nats
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from paulp.adapters.projector import catch_up_from_log
from paulp.api.app import create_app
from paulp.api.wiring import Container, build
from paulp.domain.clock import FixedClock
from paulp.domain.routing import Provider
from tests.fakes.kalshi_exchange import FakeKalshiExchange, Fault
from tests.fakes.llm_servers import FakeLlmServer, FakeReply
from tests.fakes.noaa_cdo import FakeNoaaCdo, NoaaFault
from tests.fakes.turnstile import fake_turnstile
from tests.integration.helpers import NOW, workers
from tests.integration.routing_support import WIRE, use_routing
from tests.support.settings import IsolatedSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

MARK = {name: f"mk{name}{secrets.token_hex(6)}" for name in (
    "DbPassword", "AnchorPassword", "NatsPassword", "AdminToken", "NamedToken", "TriggerToken", "MetricsToken",
    "KalshiWebhookSecret", "SharedWebhookSecret", "NoaaToken", "TurnstileSecret", "AccessAudience", "Anthropic",
    "Minimax", "Moonshot", "Google", "Cloudflare", "IbkrPassword", "ForceModel", "ForceRouteClass")}
KEY_ID = str(uuid.uuid4())
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()).decode()
NEEDLES = {**MARK, "KalshiKeyId": KEY_ID,
           **{f"PemLine{i}": line for i, line in enumerate(PEM.splitlines()) if len(line) >= 16
              and "PRIVATE KEY" not in line}}
LLM_KEYS = {Provider.ANTHROPIC: MARK["Anthropic"], Provider.MINIMAX: MARK["Minimax"],
            Provider.MOONSHOT: MARK["Moonshot"], Provider.GOOGLE: MARK["Google"],
            Provider.CLOUDFLARE: MARK["Cloudflare"]}
WEATHER = "KXHIGHNY-26MAR05-T35"


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        return "\n".join(f"{formatter.format(r)} {r.args!r} {r.__dict__.get('auth_failure', '')}"
                         for r in self.records)


@pytest.fixture
def every_log_record() -> Iterator[Kept]:
    """Every logger at DEBUG into one handler; levels put back afterwards."""
    kept = Kept()
    root = logging.getLogger()
    loggers = [root, *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    levels = {lg: lg.level for lg in loggers}
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    root.addHandler(kept)
    try:
        yield kept
    finally:
        root.removeHandler(kept)
        for lg, level in levels.items():
            lg.setLevel(level)


def _with_password(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.netloc.rpartition('@')[2]}"))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _weather_market(exchange: FakeKalshiExchange) -> None:
    """A market the weather strategy prices from NOAA history (NYC high on 5 March)."""
    exchange.markets[WEATHER] = {
        "ticker": WEATHER, "event_ticker": "KXHIGHNY-26MAR05", "series_ticker": "KXHIGHNY", "market_type": "binary",
        "status": "active", "title": "NYC high on Mar 5", "yes_bid": 39, "yes_ask": 40, "no_bid": 60, "no_ask": 61,
        "last_price": 40, "volume": 20_000, "volume_24h": 20_000, "open_interest": 5_000,
        "open_time": "2026-02-26T15:00:00Z", "close_time": "2026-03-06T04:59:00Z",
        "category": "Climate and Weather", "rules_primary": "Highest temperature in Central Park."}


def _drive_llm(container: Container, evidence: Path) -> list[Any]:
    """A scoring call every provider refuses with a 401 quoting its key, then each refused override."""
    servers = {p: FakeLlmServer(WIRE[p], LLM_KEYS[p], account_id="acct-sweep").start() for p in Provider}
    try:
        env = {"ANTHROPIC_API_KEY": MARK["Anthropic"], "MINIMAX_API_KEY": MARK["Minimax"],
               "MOONSHOT_API_KEY": MARK["Moonshot"], "GOOGLE_AI_API_KEY": MARK["Google"],
               "CLOUDFLARE_ACCOUNT_ID": "acct-sweep", "CLOUDFLARE_API_TOKEN": MARK["Cloudflare"],
               "PAULP_EVIDENCE_DIR": str(evidence)}
        for p, server in servers.items():
            env[f"LLM_{p.upper()}_BASE_URL"] = server.base_url
            env[f"LLM_{p.upper()}_TIMEOUT_MS"] = "5000"
            server.enqueue(FakeReply(401, body={"error": {"message": f"invalid x-api-key {LLM_KEYS[p]}"}}))
        outcomes = [use_routing(container, env).govern(
            "ambiguity_score", {"marketTitle": "Will it rain?", "resolutionCriteria": "Rain at JFK."})]
        for variable in ("LLM_ROUTING_FORCE_MODEL", "LLM_ROUTING_FORCE_ROUTE_CLASS"):
            pasted = MARK["ForceModel" if variable.endswith("MODEL") else "ForceRouteClass"]
            outcomes.append(use_routing(container, {**env, variable: pasted}).govern("general_enrichment",
                                                                                     user_prompt="ok"))
        container.routing.flush()
        assert sum(len(s.requests) for s in servers.values()) >= 4, "the providers were not called"
        return outcomes
    finally:
        for server in servers.values():
            server.stop()


async def _stream_messages(url: str, stream: str) -> list[str]:
    """Every message of the stream (none before the relay created it)."""
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            return []
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq)
            out.append(f"{msg.subject} {msg.headers} {msg.data.decode('utf-8', 'replace')}")
        return out
    finally:
        await nc.close()


def _tables(db_url: str) -> dict[str, str]:
    """Every row of every table in every schema, as text; the event bytes decoded."""
    out: dict[str, str] = {}
    with psycopg.connect(db_url) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema"
                              " NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'").fetchall()
        for schema, table in tables:
            rows = conn.execute(f'SELECT t::text FROM "{schema}"."{table}" t').fetchall()
            out[f"{schema}.{table}"] = "\n".join(r[0] for r in rows)
        events = conn.execute("SELECT state FROM paulp_events").fetchall()
        out["paulp_events.state"] = "\n".join(bytes(s).decode("utf-8", "replace") for (s,) in events)
    return out


def test_secrets_when_every_path_is_driven_then_no_output_holds_one(fresh_db: str, nats_url: str, namespace: str,
                                                                    tmp_path: Path,
                                                                    every_log_record: Kept) -> None:
    # Arrange
    db = _with_password(fresh_db, "postgres", MARK["DbPassword"])
    bus = _with_password(nats_url, "paulp", MARK["NatsPassword"])
    anchor = f"postgresql://postgres:{MARK['AnchorPassword']}@127.0.0.1:{_closed_port()}/anchors"
    evidence = tmp_path / "evidence"
    auth = {"Authorization": f"Bearer {MARK['AdminToken']}"}
    mutate = {**auth, "x-turnstile-token": "turnstile-response-token"}
    trigger = {"Authorization": f"Bearer {MARK['TriggerToken']}"}
    outputs: dict[str, str] = {}
    with FakeKalshiExchange(KEY.public_key(), KEY_ID) as exchange, FakeNoaaCdo(MARK["NoaaToken"]) as noaa, \
            fake_turnstile() as turnstile:
        settings = IsolatedSettings(
            ENVIRONMENT="test", PAULP_DATABASE_URL=db, PAULP_NATS_URL=bus, PAULP_ANCHOR_DATABASE_URL=anchor,
            PAULP_NAMESPACE=namespace, PAULP_EVIDENCE_DIR=evidence, ADMIN_TOKEN=MARK["AdminToken"],
            ADMIN_TOKENS=f"ops={MARK['NamedToken']}", WEBHOOK_TRIGGER_TOKEN=MARK["TriggerToken"],
            METRICS_TOKEN=MARK["MetricsToken"], KALSHI_WEBHOOK_SECRET=MARK["KalshiWebhookSecret"],
            WEBHOOK_SHARED_SECRET=MARK["SharedWebhookSecret"], ADMIN_TURNSTILE_SECRET=MARK["TurnstileSecret"],
            ADMIN_TURNSTILE_VERIFY_URL=turnstile.url,
            CF_ACCESS_TEAM_DOMAIN="team-sweep.cloudflareaccess.com", CF_ACCESS_AUDIENCE=MARK["AccessAudience"],
            CF_ACCESS_CERTS_URL=f"http://127.0.0.1:{_closed_port()}/certs",
            KALSHI_BASE_URL=exchange.base_url, KALSHI_API_KEY=KEY_ID, KALSHI_PRIVATE_KEY=PEM,
            NOAA_CDO_TOKEN=MARK["NoaaToken"], NOAA_CDO_BASE_URL=noaa.base_url, NOAA_CDO_REQUESTS_PER_SECOND=1000,
            ANTHROPIC_API_KEY=MARK["Anthropic"], MINIMAX_API_KEY=MARK["Minimax"], MOONSHOT_API_KEY=MARK["Moonshot"],
            GOOGLE_AI_API_KEY=MARK["Google"], IBKR_PASSWORD=MARK["IbkrPassword"])
        container = build(settings, db, bus, FixedClock(NOW))
        try:
            client = TestClient(create_app(container), raise_server_exceptions=False)

            def call(method: str, path: str, **kw: Any) -> None:
                r = client.request(method, path, **kw)
                outputs[f"{method} {path} {r.status_code} {len(outputs)}"] = r.text

            # Act: HTTP, public and operator, right and wrong credentials
            for path in ("/", "/health", "/health/ready", "/health/deep", "/openapi.json", "/metrics",
                         "/admin/status"):
                for headers in ({}, auth, {"Authorization": "Bearer wrong"}):
                    call("GET", path, headers=headers)
            call("GET", "/metrics", headers={"Authorization": f"Bearer {MARK['MetricsToken']}"})
            call("POST", "/admin/circuit-breaker/transition", json={"targetState": "NOPE"}, headers=mutate)
            call("GET", "/admin/status", headers={"cf-access-authenticated-user-email": "a@example.com",
                                                  "cf-access-jwt-assertion": "x.y.z"})
            for secret in ("wrong", MARK["KalshiWebhookSecret"]):
                call("POST", "/webhooks/kalshi/events", headers={"x-kalshi-webhook-secret": secret},
                     json={"event_type": "order_update", "payload": {"orderId": "o-1", "status": "resting"}})
            call("POST", "/webhooks/trigger/ingest", headers={"Authorization": "Bearer wrong"})
            call("POST", "/webhooks/trigger/ingest", headers=trigger)
            # Kalshi answers quoting the key id; NOAA refuses quoting the token
            exchange.inject(Fault(status=500, path_contains="/markets", body={
                "error": {"code": "internal_server_error", "message": f"signature of {KEY_ID} not checked"}}))
            exchange.inject(Fault(status=401, path_contains="/portfolio/balance", times=2, body={
                "error": {"code": "authentication_error", "message": f"unknown api key {KEY_ID}"}}))
            _weather_market(exchange)
            noaa.inject(NoaaFault(status=401, body=json.dumps({"message": f"Token {MARK['NoaaToken']} invalid"})
                                  .encode()))
            call("POST", "/admin/orchestrator/trigger/scan", headers=mutate)
            call("GET", "/admin/gates/verify/4", headers=auth)
            outputs["llm outcomes"] = repr(_drive_llm(container, evidence))
            with psycopg.connect(db, autocommit=True) as conn:
                for projection in container.projections.values():
                    catch_up_from_log(conn, projection)
            for path in ("/admin/routing/decisions?limit=100", "/admin/orchestrator/runs", "/admin/trades"):
                call("GET", path, headers=auth)
            stored: list[str] = []
            with workers(container, relay=True, projections=[]):  # the log onto NATS
                deadline = time.monotonic() + 20
                while len(stored) < _log_size(db) and time.monotonic() < deadline:
                    time.sleep(0.1)
                    stored = asyncio.run(_stream_messages(bus, container.names.stream))
            outputs["nats"] = "\n".join(stored)
            outputs["container repr"] = repr(container)
            outputs.update(_tables(db))
        finally:
            container.close()
        # the paths were taken (else the search below proves nothing)
        assert any(r.status == 401 for r in noaa.requests), "NOAA was not asked"
        assert [r.status for r in exchange.requests if r.path.endswith("/portfolio/balance")][:1] == [401]
        assert any(r.status == 500 for r in exchange.requests if r.path.endswith("/markets"))
        assert turnstile.forms, "Turnstile was not asked"
    blobs = [f.read_bytes().decode("utf-8", "replace") for f in evidence.rglob("*") if f.is_file()]
    outputs["evidence"] = "\n".join(blobs)
    outputs["logs"] = every_log_record.text()
    assert len(blobs) >= 5 and len(stored) > 10 and len(every_log_record.records) > 100
    # Assert
    found = [f"{name} in {where}: …{text[max(0, text.index(needle) - 80):text.index(needle) + 20]}…"
             for where, text in outputs.items() for name, needle in NEEDLES.items() if needle in text]
    assert not found, "\n".join(found)



def _log_size(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM paulp_events").fetchone()
    return int(row[0]) if row else 0
