"""Operator-set LLM prices (llm-routing §2.1, §5.3; ADR 0399) on real PostgreSQL: a change re-prices the next dry
run and governed call and re-derives the envelopes; bad input is refused with nothing recorded; another process
(the CLI) changes them and a running service picks them up without a database read per call."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.api.cli import app
from paulp.api.wiring import Container
from paulp.domain.budgets import DEFAULT_ASSUMPTIONS, derive_budget, usd
from paulp.domain.llm_manifest import DEFAULT_PRICES, MINIMAX, OPUS, ModelPrice, cost_usd
from paulp.domain.llm_pricing import InvalidLlmPrice
from paulp.domain.routing import Provider
from tests.fakes.llm_servers import FakeLlmServer
from tests.integration.helpers import make_container
from tests.integration.routing_support import fake_env, use_routing

pytestmark = pytest.mark.integration
CATEGORY = "ingestion_classification"  # signal_scanning: scanner_fastpath, MiniMax


@pytest.fixture
def container(fresh_db: str, nats_url: str, namespace: str) -> Iterator[Container]:
    c = make_container(fresh_db, nats_url, namespace)
    try:
        yield c
    finally:
        c.close()


def _changes(db: str) -> int:
    with psycopg.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM paulp_events WHERE topic LIKE '%LlmBudgetAssumptions.%'"
                                ).fetchone()[0])


def test_price_change_when_set_then_next_dry_run_governed_call_and_envelopes_use_it(
        container: Container, fakes: dict[Provider, FakeLlmServer], fresh_db: str) -> None:
    routing = use_routing(container, fake_env(fakes))
    before = routing.dry_run("signal_scanning", user_prompt="scan: headline")
    assert before.selected_model_id == MINIMAX
    default_cost = cost_usd(MINIMAX, before.estimated_input_tokens, before.estimated_output_tokens)
    assert before.projected_cost_usd == default_cost
    assert routing.budget == derive_budget(DEFAULT_ASSUMPTIONS)

    version, nid = routing.set_prices({MINIMAX: {"input": 1.5, "output": 6}}, "ops", "list price rose")

    new = {**DEFAULT_PRICES, MINIMAX: ModelPrice(1.5, 6.0, None)}
    after = routing.dry_run("signal_scanning", user_prompt="scan: headline")
    expected = cost_usd(MINIMAX, after.estimated_input_tokens, after.estimated_output_tokens, 0, new)
    assert (version, after.projected_cost_usd) == (2, expected)
    assert math.isclose(after.projected_cost_usd, 10 * default_cost, rel_tol=1e-12)
    assert routing.budget == derive_budget(DEFAULT_ASSUMPTIONS, new)
    assert routing.budget.projected_daily_cost_usd > derive_budget(DEFAULT_ASSUMPTIONS).projected_daily_cost_usd

    fakes[Provider.MINIMAX].usage.input_tokens = 1000
    fakes[Provider.MINIMAX].usage.output_tokens = 500
    out = routing.govern("signal_scanning", user_prompt="scan: headline")
    assert out.success and out.model_id == MINIMAX and out.usage is not None
    assert out.projected_cost_usd == expected
    assert out.usage.cost_usd == cost_usd(MINIMAX, 1000, 500, 0, new)  # actual tokens at the operator's rates
    daily, _ = routing.ledger_snapshots(CATEGORY)
    assert daily.consumed_usd == usd(cost_usd(MINIMAX, 1000, 500, 0, new))
    routing.set_prices({MINIMAX: {"input": 0, "output": 0}}, "ops", "free tier")  # 0 is a price, not "unknown"
    free = routing.govern("signal_scanning", user_prompt="scan: headline")
    assert free.success and free.projected_cost_usd == 0 and free.usage is not None and free.usage.cost_usd == 0
    assert routing.ledger_snapshots(CATEGORY)[0].consumed_usd == daily.consumed_usd
    with psycopg.connect(fresh_db) as conn:
        state = conn.execute("SELECT state FROM paulp_events WHERE notification_id = %s", (nid,)).fetchone()[0]
    logged = json.loads(bytes(state))
    assert (logged["prices"], logged["previous"], logged["actor"]) == (
        {MINIMAX: {"input": 1.5, "output": 6.0, "cachedInput": None}},
        {MINIMAX: {"input": 0.15, "output": 0.6, "cachedInput": None}}, "ops")


@pytest.mark.parametrize("changes,actor,reason", [
    ({"openai:gpt-4o": {"input": 1}}, "ops", "r"),
    ({OPUS: {"input": -1}}, "ops", "r"),
    ({OPUS: {"output": float("nan")}}, "ops", "r"),
    ({OPUS: {"cachedInput": float("inf")}}, "ops", "r"),
    ({OPUS: {"input": True}}, "ops", "r"),
    ({OPUS: {"input": "5"}}, "ops", "r"),
    ({OPUS: {"inputRate": 5}}, "ops", "r"),
    ({OPUS: {}}, "ops", "r"),
    ({}, "ops", "r"),
    ({OPUS: {"input": 5}}, " ", "r"),
    ({OPUS: {"input": 5}}, "ops", "\x00"),
])
def test_price_change_when_invalid_then_refused_and_nothing_recorded(
        container: Container, fresh_db: str, changes: dict[str, Any], actor: str, reason: str) -> None:
    budget = container.routing.budget
    with pytest.raises(InvalidLlmPrice):
        container.routing.set_prices(changes, actor, reason)
    assert _changes(fresh_db) == 0
    assert container.routing.prices == DEFAULT_PRICES and container.routing.budget == budget


def test_cli_when_another_process_sets_a_price_then_running_service_uses_it_and_bad_input_exits_2(
        container: Container, fresh_db: str, nats_url: str, namespace: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("ENVIRONMENT", "test"), ("PAULP_DATABASE_URL", fresh_db), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace), ("COLUMNS", "200")):
        monkeypatch.setenv(name, value)
    routing = container.routing
    routing.pricing_refresh_s = 0.2
    base = routing.dry_run("signal_scanning", user_prompt="scan: headline")
    runner = CliRunner()
    for bad in (["--input", "-1"], ["--input", "abc"], ["--output", "nan"], []):
        r = runner.invoke(app, ["llm", "pricing", "set", MINIMAX, *bad, "--reason", "r", "--actor", "ops"])
        assert r.exit_code == 2, r.output
    r = runner.invoke(app, ["llm", "pricing", "set", "nope:model", "--input", "1", "--reason", "r", "--actor", "ops"])
    assert r.exit_code == 2 and "unknown model id" in r.output
    assert _changes(fresh_db) == 0

    done = runner.invoke(app, ["llm", "pricing", "set", MINIMAX, "--output", "1.2", "--reason", "new list",
                               "--actor", "ops"])
    assert done.exit_code == 0, done.output
    shown = json.loads(runner.invoke(app, ["llm", "pricing", "show", "--json"]).output)
    minimax = next(m for m in shown["models"] if m["modelId"] == MINIMAX)
    assert (shown["version"], shown["changedBy"], minimax["input"], minimax["output"], minimax["manifest"]) == (
        2, "ops", 0.15, 1.2, False)

    new = {**DEFAULT_PRICES, MINIMAX: ModelPrice(0.15, 1.2, None)}
    expected = cost_usd(MINIMAX, base.estimated_input_tokens, base.estimated_output_tokens, 0, new)
    deadline = time.monotonic() + 10
    while routing.dry_run("signal_scanning", user_prompt="scan: headline").projected_cost_usd != expected:
        assert time.monotonic() < deadline, "the running service never picked up the new price"
        time.sleep(0.05)
    assert routing.budget == derive_budget(DEFAULT_ASSUMPTIONS, new)
