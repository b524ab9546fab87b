"""Evidence-first for LLM provider answers (api-and-security §4.1, §4.5, §4.6; ADR 0391): every answer is
stored and indexed before it is parsed, the attempt event carries its hash, the audit chain covers it.

Real PostgreSQL and NATS, the real provider clients against the loopback fakes over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from paulp.adapters.evidence_store import EvidenceStore
from paulp.adapters.gate_facts import DatabaseGateFacts, GateSources
from paulp.adapters.llm.evidence import EVIDENCE_SOURCES
from paulp.domain.budgets import usd
from paulp.domain.evidence import sha256_hex
from paulp.domain.routing import GEMINI, KIMI, LLAMA, MINIMAX, OPUS, ErrorCode, Provider
from tests.fakes.llm_servers import FakeReply
from tests.integration.helpers import make_container
from tests.integration.routing_support import (
    KEYS,
    PROVIDER_OF,
    SCORING_VARS,
    fake_env,
    requests_by_provider,
    use_routing,
)
from tests.support.evidence_events import evidence_stored

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def system(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace)
    yield container
    container.close()


def fetches(db_url: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.cursor(row_factory=dict_row).execute(
            "SELECT f.evidence_hash, f.source, f.endpoint, f.request_method, f.request_params, f.response_status,"
            " b.response_size_bytes FROM evidence_fetches f JOIN evidence_blobs b USING (evidence_hash)").fetchall()
    return {r["evidence_hash"]: r for r in rows}


def attempt_events(db_url: str) -> list[tuple[dict[str, Any], str | None]]:
    """Each stored AttemptRecorded event's body and the evidence hash of its audit chain row, in log order."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT e.state, c.evidence_hash FROM paulp_events e JOIN audit_chain c USING (notification_id)"
            " WHERE e.topic LIKE %s ORDER BY e.notification_id", ("%RoutingDecision.AttemptRecorded",)).fetchall()
    return [(json.loads(bytes(state)), chained) for state, chained in rows]


def test_govern_when_answers_are_error_malformed_and_good_then_each_is_evidence_before_use(system, fakes,
                                                                                          tmp_path) -> None:
    # Arrange: Opus answers 429, Kimi a body that is not JSON, Gemini succeeds
    folder = tmp_path / "evidence"
    routing = use_routing(system, fake_env(fakes, PAULP_EVIDENCE_DIR=str(folder)))
    fakes[Provider.ANTHROPIC].enqueue(FakeReply(429))
    fakes[Provider.MOONSHOT].enqueue(FakeReply(200, raw=b"{not json"))
    # Act
    out = routing.govern("ambiguity_score", SCORING_VARS)
    routing.flush()
    # Assert: the attempts point at three stored bodies, each byte for byte what the fake sent
    assert out.success and out.attempted == [OPUS, KIMI, GEMINI]
    assert [a.error_code for a in out.attempts] == [ErrorCode.PROVIDER_RATE_LIMITED, ErrorCode.PROVIDER_PARSE_ERROR,
                                                    None]
    hashes = [a.evidence_hash for a in out.attempts]
    assert None not in hashes and len(set(hashes)) == 3
    store = EvidenceStore(folder)
    bodies = [store.get(h) for h in hashes if h is not None]  # re-hashed on read
    assert json.loads(bodies[0])["error"]["type"] == "rate_limit_error"
    assert bodies[1] == b"{not json"
    assert json.loads(bodies[2])["candidates"][0]["content"]["parts"][0]["text"] == "fake reply"
    assert all(sha256_hex((folder / h[:2] / h).read_bytes()) == h for h in hashes if h is not None)
    # ... each fetch indexed under its provider's source, with its status and never a key
    index = fetches(system.database_url)
    expected = [(Provider.ANTHROPIC, 429, "/v1/messages"), (Provider.MOONSHOT, 200, "/v1/chat/completions"),
                (Provider.GOOGLE, 200, ":generateContent")]
    for h, body, model, (provider, status, path) in zip(hashes, bodies, out.attempted, expected, strict=True):
        row = index[str(h)]
        assert (row["source"], row["response_status"], row["request_method"]) == (
            EVIDENCE_SOURCES[provider], status, "POST")
        assert row["endpoint"].startswith(fakes[provider].root) and row["endpoint"].endswith(path)
        assert "?" not in row["endpoint"] and row["response_size_bytes"] == len(body)
        assert row["request_params"]["model"] in model
    # ... each attempt event carries its hash, and its audit chain row covers it
    events = attempt_events(system.database_url)
    assert [(e["model_id"], e["evidence_hash"], e["class_version"]) for e, _ in events] == [
        (m, h, 2) for m, h in zip(out.attempted, hashes, strict=True)]
    assert [chained for _, chained in events] == hashes
    # ... and each fetch is its own chained EvidenceStored event with the row's values (ADR 0406)
    stored = evidence_stored(system.database_url)
    assert [(e["evidence_hash"], e["source"], e["method"], e["status"], e["size"]) for e, _ in stored] == [
        (h, EVIDENCE_SOURCES[p], "POST", st, len(b))
        for h, b, (p, st, _) in zip(hashes, bodies, expected, strict=True)]
    assert [chained for _, chained in stored] == hashes


def test_verification_when_llm_evidence_is_stored_then_chain_valid_and_every_blob_rehashes(system, fakes,
                                                                                         tmp_path) -> None:
    # Arrange: one answer of each shape from the scanner chain: MiniMax 503, Gemini 500, Kimi malformed, Llama ok
    folder = tmp_path / "evidence"
    routing = use_routing(system, fake_env(fakes, PAULP_EVIDENCE_DIR=str(folder)))
    fakes[Provider.MINIMAX].enqueue(FakeReply(503))
    fakes[Provider.GOOGLE].enqueue(FakeReply(500))
    fakes[Provider.MOONSHOT].enqueue(FakeReply(200, body={"choices": []}))
    out = routing.govern("signal_scanning", user_prompt="classify this headline")
    routing.flush()
    assert out.success and out.attempted == [MINIMAX, GEMINI, KIMI, LLAMA]
    hashes = [a.evidence_hash for a in out.attempts]
    # Act: the phase-3 gate's verification (audit chain recomputed, newest blobs re-hashed)
    facts = DatabaseGateFacts(GateSources(system.database_url, folder, {}, ())).phase3(system.clock.now())
    # Assert
    assert facts.audit.valid
    assert {c.evidence_hash: c.problem for c in facts.evidence_sample} == {h: None for h in hashes}
    assert facts.evidence_index == []  # every index row matches its chained EvidenceStored event
    index = fetches(system.database_url)
    assert [(index[str(h)]["source"], index[str(h)]["response_status"]) for h in hashes] == [
        ("minimax_api", 503), ("google_ai_api", 500), ("moonshot_api", 200), ("cloudflare_workers_ai_api", 200)]
    # Act: a blob changed on disk
    victim = folder / str(hashes[0])[:2] / str(hashes[0])
    victim.write_bytes(victim.read_bytes() + b" ")
    tampered = DatabaseGateFacts(GateSources(system.database_url, folder, {}, ())).phase3(system.clock.now())
    # Assert: named as no longer hashing to its name
    assert {c.evidence_hash: c.problem for c in tampered.evidence_sample}[hashes[0]] == \
        "blob no longer hashes to its name"


@pytest.mark.parametrize("model", [OPUS, MINIMAX, KIMI, GEMINI, LLAMA])
def test_forced_model_when_provider_echoes_its_key_then_evidence_is_stored_with_the_key_replaced(
        system, fakes, tmp_path, model) -> None:
    # Arrange: the provider's error body quotes the caller's key
    provider = PROVIDER_OF[model]
    folder = tmp_path / "evidence"
    routing = use_routing(system, fake_env(fakes, PAULP_EVIDENCE_DIR=str(folder)))
    fakes[provider].enqueue(FakeReply(401, body={"error": {"message": f"invalid key {KEYS[provider]}"}}))
    # Act
    out = routing.govern("general_enrichment", user_prompt="summarise", force_model=model, override_reason="drill")
    # Assert: the answer was evidenced, redacted, and the fetch row says so
    (attempt,) = out.attempts
    assert not out.success and attempt.error_code == ErrorCode.PROVIDER_AUTH_FAILED
    assert attempt.evidence_hash is not None
    stored = EvidenceStore(folder).get(attempt.evidence_hash)
    assert json.loads(stored) == {"error": {"message": "invalid key ***"}}
    row = fetches(system.database_url)[attempt.evidence_hash]
    assert row["request_params"]["responseRedacted"] is True and row["response_status"] == 401
    every_file = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    assert KEYS[provider].encode() not in every_file


def test_govern_when_evidence_cannot_be_written_then_no_answer_is_used_the_route_stops_and_the_call_is_charged(
        system, fakes, tmp_path) -> None:
    # Arrange: the evidence folder is a file, so no blob can be written
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x")
    routing = use_routing(system, fake_env(fakes, PAULP_EVIDENCE_DIR=str(blocked)))
    # Act
    out = routing.govern("general_enrichment", user_prompt="summarise")
    routing.flush()
    # Assert: the first model answered and its answer was not used; the decision failed and names why. No next
    # model was called: its answer could not have been kept either, only paid for (ADR 0516)
    assert not out.success and out.error_code == "ALL_MODELS_FAILED"
    (attempt,) = out.attempts
    assert attempt.evidence_hash is None and attempt.error_code == ErrorCode.PROVIDER_SERVER_ERROR
    assert "(HTTP 200) could not be stored as evidence (NotADirectoryError); not used" in str(attempt.error_message)
    assert requests_by_provider(fakes) == {p: int(p is PROVIDER_OF[attempt.model_id]) for p in Provider}
    assert fetches(system.database_url) == {}
    # the answered call is charged at its hold, as a call that never reported back is: never handed back on a guess
    for ledger in routing.ledger_snapshots("ingestion_classification"):
        assert (ledger.consumed_usd, ledger.reserved_usd, ledger.open_reservations) == (
            usd(out.projected_cost_usd), 0, 0)


def test_govern_when_no_evidence_folder_is_configured_then_no_provider_is_called(system, fakes) -> None:
    # Arrange
    routing = use_routing(system, fake_env(fakes, PAULP_EVIDENCE_DIR=" "))
    # Act
    out = routing.govern("general_enrichment", user_prompt="summarise")
    # Assert
    assert not out.success and out.error_code == "ALL_MODELS_FAILED"
    assert "PAULP_EVIDENCE_DIR" in str(out.attempts[-1].error_message)
    assert set(requests_by_provider(fakes).values()) == {0}


def test_container_when_built_then_routing_is_given_the_configured_evidence_folder(fresh_db, nats_url, namespace,
                                                                                 tmp_path: Path) -> None:
    # Arrange: the composition root's routing context, pointed at the fakes only through the environment
    folder = tmp_path / "configured"
    container = make_container(fresh_db, nats_url, namespace, PAULP_EVIDENCE_DIR=str(folder))
    try:
        assert container.routing.llm_env["PAULP_EVIDENCE_DIR"] == str(folder)
    finally:
        container.close()
