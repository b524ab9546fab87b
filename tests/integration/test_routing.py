"""Governed LLM calls end to end: real PostgreSQL (+ NATS), real provider clients against loopback fakes."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import psycopg
import pytest
from fastapi.testclient import TestClient

from paulp.api.app import create_app
from paulp.api.routing_jobs import routing_tick, run_drift_sweep
from paulp.domain.routing import GEMINI, KIMI, LLAMA, MINIMAX, OPUS, ErrorCode, Provider
from tests.fakes.llm_servers import FakeReply
from tests.integration.helpers import make_container, max_notification_id, wait_tracked, workers
from tests.integration.routing_support import (
    KEYS,
    SCORING_VARS,
    assumptions_for,
    catch_up,
    fake_env,
    requests_by_provider,
    use_routing,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
TOKEN = "test-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NONE_CALLED = {p: 0 for p in Provider}


@pytest.fixture
def system(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace, admin_token=TOKEN)
    yield container
    container.close()


def decision_rows(db_url: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT decision_id::text, status, error_code, attempted, final_model_id"
                            " FROM views.llm_decisions ORDER BY decided_at").fetchall()


def attempt_rows(db_url: str, decision_id: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT attempt_no, model_id, success, error_code FROM views.llm_attempts"
                            " WHERE decision_id::text = %s ORDER BY attempt_no", (decision_id,)).fetchall()


def budget_row(db_url: str, category: str, period: str = "daily") -> tuple:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT spent_usd, reserved_usd, open_reservations, settlements, releases"
                           " FROM views.llm_budget WHERE category = %s AND period_type = %s", (category, period)
                           ).fetchone()
    return row if row is not None else (Decimal(0), Decimal(0), 0, 0, 0)


FIRST_ATTEMPT_FAILURES = [
    pytest.param(FakeReply(401), ErrorCode.PROVIDER_AUTH_FAILED, id="auth-401"),
    pytest.param(FakeReply(403), ErrorCode.PROVIDER_AUTH_FAILED, id="auth-403"),
    pytest.param(FakeReply(429), ErrorCode.PROVIDER_RATE_LIMITED, id="rate-429"),
    pytest.param(FakeReply(500), ErrorCode.PROVIDER_SERVER_ERROR, id="server-500"),
    pytest.param(FakeReply(400), ErrorCode.PROVIDER_SERVER_ERROR, id="unexpected-400"),
    pytest.param(FakeReply(200, raw=b"<html>not json</html>"), ErrorCode.PROVIDER_PARSE_ERROR, id="parse"),
    pytest.param(FakeReply(200, delay_s=2.0), ErrorCode.PROVIDER_TIMEOUT, id="timeout"),
    pytest.param(None, ErrorCode.PROVIDER_NETWORK_ERROR, id="network"),
]


@pytest.mark.parametrize("reply,code", FIRST_ATTEMPT_FAILURES)
def test_govern_when_first_models_fail_then_chain_walked_in_order(system, fakes, reply, code) -> None:
    # Arrange: Opus fails with the error class, Kimi answers 500, Gemini succeeds
    extra = {"LLM_ANTHROPIC_BASE_URL": "http://127.0.0.1:9"} if reply is None else {}
    routing = use_routing(system, fake_env(fakes, timeout_ms=700, **extra))
    if reply is not None:
        fakes[Provider.ANTHROPIC].enqueue(reply)
    fakes[Provider.MOONSHOT].enqueue(FakeReply(500))
    # Act
    out = routing.govern("ambiguity_score", SCORING_VARS)
    # Assert
    assert out.success, out.error
    assert out.attempted == [OPUS, KIMI, GEMINI]
    assert [a.error_code for a in out.attempts] == [code, ErrorCode.PROVIDER_SERVER_ERROR, None]
    assert requests_by_provider(fakes)[Provider.CLOUDFLARE] == 0
    catch_up(system)
    (row,) = decision_rows(system.database_url)
    assert row[1:] == ("succeeded", None, [OPUS, KIMI, GEMINI], GEMINI)
    assert [(m, ok, c) for _, m, ok, c in attempt_rows(system.database_url, out.decision_id)] == [
        (OPUS, False, str(code)), (KIMI, False, "PROVIDER_SERVER_ERROR"), (GEMINI, True, None)]


def test_govern_when_every_model_fails_then_all_models_failed_and_hold_released(system, fakes) -> None:
    # Arrange: the scanner chain, every provider answers 503
    routing = use_routing(system, fake_env(fakes))
    for server in fakes.values():
        server.enqueue(FakeReply(503))
    # Act
    out = routing.govern("signal_scanning", user_prompt="classify this headline")
    # Assert
    assert not out.success and out.error_code == "ALL_MODELS_FAILED" and out.retryable
    assert out.attempted == [MINIMAX, GEMINI, KIMI, LLAMA]
    catch_up(system)
    assert decision_rows(system.database_url)[0][1:3] == ("failed", "ALL_MODELS_FAILED")
    spent, reserved, open_holds, settled, released = budget_row(system.database_url, "ingestion_classification")
    assert (spent, reserved, open_holds, settled, released) == (0, 0, 0, 0, 1)


def test_govern_when_model_forced_then_exactly_that_model_called(system, fakes) -> None:
    # Arrange
    routing = use_routing(system, fake_env(fakes))
    # Act
    out = routing.govern("ambiguity_score", SCORING_VARS, force_model=KIMI, override_reason="drill")
    env_forced = use_routing(system, fake_env(fakes, LLM_ROUTING_FORCE_MODEL=MINIMAX)).govern(
        "general_enrichment", user_prompt="summarise")
    # Assert
    assert out.success and out.attempted == [KIMI] and out.route_class == "premium_cognition"
    assert env_forced.success and env_forced.attempted == [MINIMAX]
    assert requests_by_provider(fakes) == {**NONE_CALLED, Provider.MOONSHOT: 1, Provider.MINIMAX: 1}
    catch_up(system)
    with psycopg.connect(system.database_url) as conn:
        rows = conn.execute("SELECT chain, override_used, override_reason FROM views.llm_decisions"
                            " ORDER BY decided_at").fetchall()
    assert rows == [([KIMI], True, "drill"), ([MINIMAX], True, "environment forced model override")]


def test_govern_when_forced_model_fails_then_no_fallback(system, fakes) -> None:
    routing = use_routing(system, fake_env(fakes))
    fakes[Provider.GOOGLE].enqueue(FakeReply(500))
    out = routing.govern("general_enrichment", user_prompt="x", force_model=GEMINI)
    assert out.error_code == "ALL_MODELS_FAILED" and out.attempted == [GEMINI]
    assert requests_by_provider(fakes) == {**NONE_CALLED, Provider.GOOGLE: 1}


@pytest.mark.parametrize("env_extra,kwargs,code", [
    ({"LLM_ROUTING_FORCE_MODEL": "anthropic:claude-nope"}, {}, "INVALID_FORCED_MODEL"),
    ({"LLM_ROUTING_FORCE_ROUTE_CLASS": "premium"}, {}, "INVALID_FORCED_ROUTE_CLASS"),
    ({}, {"force_model": "openai:gpt-5"}, "INVALID_FORCED_MODEL"),
    ({}, {"force_route_class": "fastest"}, "INVALID_FORCED_ROUTE_CLASS"),
    ({"LLM_ROUTING_FORCE_ROUTE_CLASS": "deterministic_hard_control"}, {"force_model": OPUS},
     "DETERMINISTIC_HARD_CONTROL_FORBIDDEN"),
    ({}, {"run_type": "rule_interpretation"}, "UNKNOWN_RUN_TYPE"),
    ({}, {"run_type": "signal_scanning", "no_prompt": True}, "PROMPT_LOAD_ERROR"),
], ids=["env-model", "env-class", "call-model", "call-class", "hard-control", "unknown-run-type", "no-prompt"])
def test_govern_when_invalid_override_then_nothing_called_and_failure_stored(system, fakes, env_extra, kwargs,
                                                                             code) -> None:
    # Arrange
    routing = use_routing(system, fake_env(fakes, **env_extra))
    run_type = kwargs.pop("run_type", "ambiguity_score")
    variables = None if kwargs.pop("no_prompt", False) else SCORING_VARS
    # Act
    out = routing.govern(run_type, variables, **kwargs)
    # Assert
    assert not out.success and out.error_code == code and not out.retryable
    assert requests_by_provider(fakes) == NONE_CALLED
    catch_up(system)
    (row,) = decision_rows(system.database_url)
    assert row[1:4] == ("failed", code, [])
    with psycopg.connect(system.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM views.llm_budget WHERE reservations > 0").fetchone() == (0,)


def test_govern_when_a_provider_key_is_missing_then_fails_closed_before_any_call(system, fakes) -> None:
    # Arrange: the Moonshot key is absent (blank), the call would use Gemini only
    routing = use_routing(system, fake_env(fakes, drop_keys=(Provider.MOONSHOT,), MOONSHOT_API_KEY="  "))
    # Act
    out = routing.govern("general_enrichment", user_prompt="enrich me")
    # Assert
    assert out.error_code == "PROVIDER_KEY_MISSING" and not out.retryable
    assert "MOONSHOT_API_KEY" in out.error.message
    assert requests_by_provider(fakes) == NONE_CALLED
    catch_up(system)
    assert decision_rows(system.database_url)[0][1:3] == ("failed", "PROVIDER_KEY_MISSING")


def test_govern_when_budget_would_be_exceeded_then_blocked_without_calling(system, fakes) -> None:
    # Arrange: a daily budget of 1.5 calls' projected cost; the fake bills exactly the projection
    projected = use_routing(system, fake_env(fakes)).dry_run("ambiguity_score", SCORING_VARS).projected_cost_usd
    routing = use_routing(system, fake_env(fakes), assumptions_for("research_scoring", 1.5 * projected))
    preview = routing.dry_run("ambiguity_score", SCORING_VARS)
    assert preview.projected_cost_usd == projected and preview.budget_allowed
    fakes[Provider.ANTHROPIC].usage.input_tokens = preview.estimated_input_tokens
    fakes[Provider.ANTHROPIC].usage.output_tokens = 500
    # Act
    first = routing.govern("ambiguity_score", SCORING_VARS)
    second = routing.govern("ambiguity_score", SCORING_VARS)
    # Assert
    assert first.success and second.error_code == "BUDGET_EXCEEDED"
    assert second.error.message == "Daily budget exceeded for research_scoring"
    assert requests_by_provider(fakes)[Provider.ANTHROPIC] == 1
    catch_up(system)
    with psycopg.connect(system.database_url) as conn:
        reason = conn.execute("SELECT failure_reason FROM views.llm_decisions WHERE error_code = 'BUDGET_EXCEEDED'"
                              ).fetchone()
    assert reason == ("Budget exceeded: Daily budget exceeded for research_scoring",)
    assert not routing.dry_run("ambiguity_score", SCORING_VARS).budget_allowed


def test_attempts_when_relayed_over_nats_then_each_is_an_event_in_the_decisions_view(system, fakes) -> None:
    # Arrange: three calls with 1, 2 and 4 attempts
    routing = use_routing(system, fake_env(fakes))
    fakes[Provider.ANTHROPIC].enqueue(FakeReply(429))
    for p in (Provider.MOONSHOT, Provider.GOOGLE, Provider.CLOUDFLARE):
        fakes[p].enqueue(FakeReply(500))
    outcomes = [routing.govern("ambiguity_score", SCORING_VARS),        # Opus 429, Kimi 500, Gemini 500, Llama 500
                routing.govern("general_enrichment", user_prompt="a"),  # Gemini ok
                routing.govern("signal_scanning", user_prompt="b")]     # MiniMax ok
    head = max_notification_id(system.database_url)
    # Act: relay to JetStream, projectors consume
    with workers(system, projections=["llm_routing", "llm_budget"]):
        wait_tracked(system.database_url, "llm_routing", head)
        wait_tracked(system.database_url, "llm_budget", head)
    # Assert: every AttemptRecorded event is one llm_attempts row, in order
    with psycopg.connect(system.database_url) as conn:
        events = conn.execute("SELECT count(*) FROM paulp_events WHERE topic LIKE %s",
                              ("%RoutingDecision.AttemptRecorded",)).fetchone()
        attempts = conn.execute("SELECT count(*) FROM views.llm_attempts").fetchone()
    assert events == attempts == (sum(len(o.attempts) for o in outcomes),)
    for out in outcomes:
        assert [m for _, m, _, _ in attempt_rows(system.database_url, out.decision_id)] == out.attempted
    body = TestClient(create_app(system)).get("/admin/routing/decisions?limit=10", headers=AUTH).json()
    by_id = {d["id"]: d for d in body["decisions"]}
    assert by_id[outcomes[0].decision_id]["fallbacksAttempted"] == [OPUS, KIMI, GEMINI]
    assert by_id[outcomes[0].decision_id]["errorCode"] == "ALL_MODELS_FAILED"
    assert by_id[outcomes[1].decision_id]["resolvedModelId"] == GEMINI
    assert by_id[outcomes[2].decision_id]["success"] is True


def test_admin_routing_endpoints_when_decisions_exist_then_served_from_views(system, fakes) -> None:
    # Arrange
    routing = use_routing(system, fake_env(fakes))
    ok = routing.govern("general_enrichment", user_prompt="hello")
    routing.govern("ambiguity_score", SCORING_VARS, force_model="nope:x")
    catch_up(system)
    client = TestClient(create_app(system))
    # Act
    budget = client.get("/admin/routing/budget", headers=AUTH)
    filtered = client.get("/admin/routing/decisions?runType=general_enrichment", headers=AUTH)
    detail = client.get(f"/admin/routing/decisions/{ok.decision_id}", headers=AUTH)
    bad = [client.get(f"/admin/routing/decisions?{q}", headers=AUTH) for q in
           ("limit=0", "limit=501", "limit=abc", "runType=rule_interpretation", "success=maybe")]
    # Assert
    assert budget.status_code == 200
    b = budget.json()
    assert set(b) == {"timestamp", "assumptions", "projection", "limits", "spending", "categories"}
    spent = b["categories"]["ingestion_classification"]["daily"]["consumedUsd"]
    assert spent == pytest.approx(ok.usage.cost_usd) and b["spending"]["daily"]["total"] == pytest.approx(spent)
    assert [d["id"] for d in filtered.json()["decisions"]] == [ok.decision_id]
    assert [a["modelId"] for a in detail.json()["attempts"]] == [GEMINI]
    assert [r.status_code for r in bad] == [400] * 5
    assert [r.json()["code"] for r in bad] == ["invalid_limit"] * 3 + ["invalid_run_type", "invalid_success"]
    assert all(isinstance(r.json().get("message"), str) for r in bad)
    rate = client.get("/admin/routing/success-rate", headers=AUTH).json()["rows"]
    assert {r["routeClass"]: (r["totalDecisions"], r["successCount"]) for r in rate} == {
        "cheap_enrichment": (1, 1), "premium_cognition": (1, 0)}
    stats = client.get("/admin/routing/stats", headers=AUTH).json()
    assert (stats["totalDecisions"], stats["successCount"]) == (2, 1)
    rules = client.get("/admin/routing/rules", headers=AUTH).json()
    assert len(rules["rules"]) == 8 and rules["routeClasses"]["deterministic_hard_control"]["llmAllowed"] is False
    reset = client.post("/admin/routing/budget/reset", headers=AUTH,
                        json={"category": "ingestion_classification", "periodType": "daily", "reason": "drill"})
    assert reset.status_code == 200 and reset.json()["success"] is True
    assert client.post("/admin/routing/budget/reset", headers=AUTH, json={"category": "x"}).status_code == 400
    catch_up(system)
    assert budget_row(system.database_url, "ingestion_classification")[0] == 0
    assert client.get("/admin/routing/budget").status_code == 401


def test_drift_sweep_when_scoring_runs_unparseable_then_sweep_event_blocks_deployment(system, fakes) -> None:
    # Arrange: two scoring calls whose content is not the JSON contract (confidence 0 → drift warning)
    routing = use_routing(system, fake_env(fakes))
    routing.govern("ambiguity_score", SCORING_VARS)
    fakes[Provider.ANTHROPIC].content = json.dumps({"score": 0.2, "reasoning": "clear", "confidence": 0.9,
                                                    "citedPassages": ["lowers the target range"]})
    routing.govern("ambiguity_score", SCORING_VARS)
    catch_up(system)
    # Act
    result = run_drift_sweep(system)
    again = routing_tick(system)
    catch_up(system)
    # Assert
    assert result["runsAnalyzed"] == 2 and result["avgConfidence"] == pytest.approx(0.45)
    assert result["driftWarning"] is True and result["stored"] is True
    assert again.sweep is None
    with psycopg.connect(system.database_url) as conn:
        rows = conn.execute("SELECT deployment_allowed, failure_reasons FROM views.llm_drift_sweeps").fetchall()
    assert rows == [(False, ["Average confidence 0.450 below 0.600", "Low-confidence rate 50.0% exceeds 30.0%"])]
    doc = TestClient(create_app(system)).get("/admin/routing/drift-sweeps", headers=AUTH).json()
    assert doc["recentBlock"] is True and doc["latestDeployAllowed"] is False
    # a failed sweep over real runs is a critical alert: NORMAL -> CAUTION (trading §2.3), raised once
    assert result["breakerAlert"] == "critical"
    assert system.breaker.get().state.value == "CAUTION"


def test_drift_sweep_when_no_scoring_runs_then_warning_alert_and_breaker_unchanged(system) -> None:
    # Act: a week without scoring runs fails the sweep by definition (ADR 0189)
    result = run_drift_sweep(system)
    repeat = run_drift_sweep(system)
    # Assert: recorded as a warning, no escalation; the repeat stores nothing and raises nothing
    assert (result["driftWarning"], result["stored"], result["breakerAlert"]) == (True, True, "warning")
    assert (repeat["stored"], repeat["breakerAlert"]) == (False, None)
    breaker = system.breaker.get()
    assert breaker.state.value == "NORMAL"


def test_secrets_when_calls_succeed_and_fail_then_no_key_in_logs_events_evidence_or_responses(system, fakes, caplog,
                                                                                              tmp_path) -> None:
    # Arrange: DEBUG for every logger; providers echo their key in an error body; answers kept as evidence
    caplog.set_level(logging.DEBUG)
    for name in logging.root.manager.loggerDict:
        logging.getLogger(name).setLevel(logging.DEBUG)
    folder = tmp_path / "evidence"
    routing = use_routing(system, fake_env(fakes, PAULP_EVIDENCE_DIR=str(folder)))
    for p, server in fakes.items():
        server.enqueue(FakeReply(500, body={"error": {"message": f"bad credential {KEYS[p]}"}}))
    # Act
    outcomes = [routing.govern("ambiguity_score", SCORING_VARS),                       # every provider fails
                routing.govern("general_enrichment", user_prompt="ok"),                # Gemini succeeds
                routing.govern("signal_scanning", user_prompt="ok", force_model=LLAMA)]  # Cloudflare succeeds
    use_routing(system, fake_env(fakes, drop_keys=(Provider.GOOGLE,), PAULP_EVIDENCE_DIR=str(folder))).govern(
        "general_enrichment", user_prompt="x")
    catch_up(system)
    client = TestClient(create_app(system))
    responses = [client.get(path, headers=AUTH).text for path in (
        "/admin/routing/decisions?limit=500", "/admin/routing/budget", "/admin/routing/stats",
        "/admin/routing/dry-run?runType=ambiguity_score", *(f"/admin/routing/decisions/{o.decision_id}"
                                                           for o in outcomes))]
    with psycopg.connect(system.database_url) as conn:
        stored = [bytes(s).decode("utf-8", "replace") for (s,) in conn.execute("SELECT state FROM paulp_events")]
        chain = [p for (p,) in conn.execute("SELECT payload FROM audit_chain")]
        index = [json.dumps(r) for r in conn.execute("SELECT endpoint, request_params FROM evidence_fetches")]
    evidence = [f.read_bytes().decode("utf-8", "replace") for f in folder.rglob("*") if f.is_file()]
    # Assert
    assert outcomes[0].error_code == "ALL_MODELS_FAILED" and outcomes[1].success and outcomes[2].success
    assert len(stored) > 10 and len(caplog.records) > 0
    # six answers fetched; the four redacted error bodies are the same bytes, so one blob (content-addressed)
    assert len(index) == 6 and len(evidence) == 3 and sum("bad credential ***" in e for e in evidence) == 1
    # uvicorn here is only the loopback fakes' server (the provider side, which sees its own URL); the API is
    # driven through TestClient, so every other record is ours or a client library's.
    ours = [r for r in caplog.records if not r.name.startswith("uvicorn")]
    haystacks = {"logs": "\n".join(caplog.handler.format(r) for r in ours),
                 "events": "\n".join(stored), "audit": "\n".join(chain), "api": "\n".join(responses),
                 "evidence": "\n".join(evidence), "evidence index": "\n".join(index),
                 "outcomes": repr(outcomes)}
    for where, text in haystacks.items():
        for p, key in KEYS.items():
            assert key not in text, f"{p} key found in {where}"


def _cli(system, fakes, monkeypatch):  # type: ignore[no-untyped-def]
    """``paulp`` run in-process: it builds its own container from the environment, set to the system's."""
    from typer.testing import CliRunner

    from paulp.api.cli import app

    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("PAULP_DATABASE_URL", system.database_url)
    monkeypatch.setenv("PAULP_NATS_URL", system.nats_url)
    for name, value in fake_env(fakes).items():
        monkeypatch.setenv(name, value)
    return lambda *args: CliRunner().invoke(app, list(args))


def test_cli_when_dry_run_then_preview_printed_and_nothing_stored(system, fakes, monkeypatch) -> None:
    # Arrange
    cli = _cli(system, fakes, monkeypatch)
    head = max_notification_id(system.database_url)
    # Act
    preview = cli("llm", "route", "--run-type", "signal_scanning", "--dry-run", "--user", "hi", "--json")
    table = cli("llm", "budget", "--json")
    printed = cli("llm", "budget")  # as piped to a file or cron mail: not a terminal
    # Assert
    assert preview.exit_code == 0, preview.output
    doc = json.loads(preview.output)
    assert doc["chain"] == [MINIMAX, GEMINI, KIMI, LLAMA] and doc["failure"] is None and doc["budgetAllowed"]
    assert table.exit_code == 0 and len(json.loads(table.output)) == 8
    ledgers = json.loads(table.output)
    assert printed.exit_code == 0 and "…" not in printed.output, printed.output  # whole values, none cut
    for row in ledgers:
        assert f"{float(row['limitUsd']):.4f}" in printed.output and str(row["category"]) in printed.output
    assert max_notification_id(system.database_url) == head and requests_by_provider(fakes) == NONE_CALLED


def test_cli_when_dry_run_would_be_refused_then_it_says_why_and_exits_1(system, fakes, monkeypatch) -> None:
    cli = _cli(system, fakes, monkeypatch)
    head = max_notification_id(system.database_url)
    unknown = cli("llm", "route", "--run-type", "bogus", "--dry-run", "--json")
    forced = cli("llm", "route", "--run-type", "signal_scanning", "--dry-run", "--user", "hi",
                 "--force-model", "no-such-model", "--json")
    assert unknown.exit_code == 1 and json.loads(unknown.output)["failure"]["code"] == "UNKNOWN_RUN_TYPE"
    assert forced.exit_code == 1 and json.loads(forced.output)["failure"]["code"] == "INVALID_FORCED_MODEL"
    assert max_notification_id(system.database_url) == head and requests_by_provider(fakes) == NONE_CALLED
