"""``paulp llm regression run|list`` against real services and loopback providers: the full corpus, the
drift report against a stored baseline, and the fail-closed exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest
from typer.testing import CliRunner, Result

from paulp.adapters.projector import catch_up_from_log
from paulp.api.cli import app
from paulp.domain.llm_regression_suite import Suite, suite_cases
from paulp.domain.routing import Provider
from paulp.projections.llm_regression import LlmRegressionProjection
from tests.integration.regression_answers import answering, good_answer, out_of_range
from tests.integration.routing_support import fake_env, provider_fakes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
ALL_CASES = suite_cases(Suite.REGRESSION) + suite_cases(Suite.ADVERSARIAL)


def paulp(args: list[str], db: str, nats: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed command in its own process (one such run: the interpreter start costs seconds here)."""
    keep = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("LLM_")}
    full = {**keep, **env, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": db, "PAULP_NATS_URL": nats, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "paulp.api", "llm", "regression", *args], env=full,
                          capture_output=True, text=True, timeout=150)


def invoke(args: list[str], db: str, nats: str, env: dict[str, str]) -> Result:
    """The same Typer app in this process, with exactly the provider settings in ``env``."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.endswith("_API_KEY") or k.startswith("LLM_")}
    full = {**unset, **env, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": db, "PAULP_NATS_URL": nats, "COLUMNS": "250"}
    return CliRunner().invoke(app, ["llm", "regression", *args], env=full)


def listed(db: str, nats: str, env: dict[str, str]) -> list[dict[str, object]]:
    with psycopg.connect(db, autocommit=True) as conn:
        catch_up_from_log(conn, LlmRegressionProjection())
    r = invoke(["list", "--json"], db, nats, env)
    assert r.exit_code == 0, r.stderr
    return list(json.loads(r.stdout))


def test_regression_cli_when_run_then_full_corpus_stored_listed_and_compared_with_a_baseline(fresh_db, nats_url):
    with provider_fakes() as fakes:
        env = fake_env(fakes)
        # fail closed: bad suite name (usage), missing provider key (nothing called or stored)
        bad = invoke(["run", "--suite", "nope"], fresh_db, nats_url, env)
        assert bad.exit_code == 2 and "--suite" in bad.stderr
        keyless = invoke(["run"], fresh_db, nats_url, fake_env(fakes, drop_keys=(Provider.GOOGLE,)))
        assert keyless.exit_code == 1, keyless.stderr
        assert "GOOGLE_AI_API_KEY" in keyless.stderr and "nothing was called or stored" in keyless.stderr
        assert listed(fresh_db, nats_url, env) == [] and not any(s.requests for s in fakes.values())
        # both suites, every case answered within its expectations, by the installed command
        fakes[Provider.ANTHROPIC].respond = answering(ALL_CASES, good_answer)
        both = paulp(["run", "--suite", "all", "--json"], fresh_db, nats_url, env)
        assert both.returncode == 0, both.stderr
        regression, adversarial = json.loads(both.stdout)
        assert (regression["suite"], regression["totalTests"], regression["passRate"]) == ("regression", 70, 1.0)
        assert (adversarial["suite"], adversarial["totalTests"], adversarial["passed"]) == ("adversarial", 21, 21)
        assert regression["stored"] and regression["byCategory"]["standard_resolution"]["total"] == 28
        # a candidate where the first five standard cases now miss their range, against that baseline
        worse = {c.case.id: out_of_range for c in suite_cases(Suite.REGRESSION)[:5]}
        fakes[Provider.ANTHROPIC].respond = answering(ALL_CASES, good_answer, worse)
        text = invoke(["run", "--baseline", regression["runId"]], fresh_db, nats_url, env)
        missing = invoke(["run", "--baseline", "0190aaaa-0000-7000-8000-000000000000"], fresh_db, nats_url, env)
        wrong_kind = invoke(["run", "--suite", "regression", "--baseline", adversarial["runId"]], fresh_db,
                            nats_url, env)
        runs = listed(fresh_db, nats_url, env)
        only = invoke(["list", "--suite", "adversarial", "--json"], fresh_db, nats_url, env)
    assert text.exit_code == 0, text.stderr
    assert [r["runId"] for r in json.loads(only.stdout)] == [adversarial["runId"]]
    assert "65/70 passed" in text.stdout and "FAIL gold_std_001: score_out_of_range" in text.stdout
    assert f"drift vs {regression['runId']}" in text.stdout and "severity moderate → review" in text.stdout
    assert "new failures: gold_std_001, gold_std_002, gold_std_003, gold_std_004, gold_std_005" in text.stdout
    assert missing.exit_code == 2 and "no stored regression run" in missing.stderr
    assert wrong_kind.exit_code == 2 and "from the adversarial suite" in wrong_kind.stderr
    assert [(r["suite"], r["totalTests"], r["passed"]) for r in runs] == [
        ("regression", 70, 65), ("adversarial", 21, 21), ("regression", 70, 70)]
