"""Loopback provider fakes for the routing context and a RoutingService wired to them over real HTTP."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg

from paulp.adapters.projector import catch_up_from_log
from paulp.api.routing_wiring import build_routing
from paulp.api.wiring import Container, application_env
from paulp.domain.budgets import DEFAULT_ASSUMPTIONS, BudgetAssumptions, derive_budget
from paulp.domain.routing import GEMINI, KIMI, LLAMA, MINIMAX, OPUS, BudgetCategory, Provider
from paulp.domain.services.routing import RoutingService
from tests.fakes.llm_servers import FakeLlmServer

KEYS: Mapping[Provider, str] = {
    Provider.ANTHROPIC: "sk-ant-ROUTING-SECRET-9f8e7d6c5b",
    Provider.MINIMAX: "mm-ROUTING-SECRET-4a3b2c1d0e",
    Provider.MOONSHOT: "sk-moon-ROUTING-SECRET-1q2w3e4r",
    Provider.GOOGLE: "AIzaROUTING-SECRET-5t6y7u8i9o",
    Provider.CLOUDFLARE: "cf-ROUTING-SECRET-0p9o8i7u6y",
}
ACCOUNT = "acct-routing-test"
KEY_VARS = {Provider.ANTHROPIC: "ANTHROPIC_API_KEY", Provider.MINIMAX: "MINIMAX_API_KEY",
            Provider.MOONSHOT: "MOONSHOT_API_KEY", Provider.GOOGLE: "GOOGLE_AI_API_KEY"}
WIRE = {Provider.ANTHROPIC: "anthropic", Provider.MINIMAX: "openai", Provider.MOONSHOT: "openai",
        Provider.GOOGLE: "gemini", Provider.CLOUDFLARE: "cloudflare"}
PROVIDER_OF = {OPUS: Provider.ANTHROPIC, MINIMAX: Provider.MINIMAX, KIMI: Provider.MOONSHOT, GEMINI: Provider.GOOGLE,
               LLAMA: Provider.CLOUDFLARE}
EVIDENCE_DIR = tempfile.mkdtemp(prefix="paulp-llm-evidence-")  # provider answers of every test (ADR 0391)
SCORING_VARS = {"marketTitle": "Will the Fed cut rates in March 2026?",
                "resolutionCriteria": "Resolves YES if the FOMC lowers the target range at its March meeting."}


@contextmanager
def provider_fakes() -> Iterator[dict[Provider, FakeLlmServer]]:
    servers = {p: FakeLlmServer(WIRE[p], KEYS[p], account_id=ACCOUNT).start() for p in Provider}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def fake_env(fakes: Mapping[Provider, FakeLlmServer], *, drop_keys: tuple[Provider, ...] = (),
             timeout_ms: int = 5000, **extra: str) -> dict[str, str]:
    """The environment the routing context reads: keys, overrides, base URLs of the loopback fakes."""
    env = {var: KEYS[p] for p, var in KEY_VARS.items() if p not in drop_keys}
    env["CLOUDFLARE_ACCOUNT_ID"] = ACCOUNT
    env["CLOUDFLARE_API_TOKEN"] = KEYS[Provider.CLOUDFLARE]
    env["PAULP_EVIDENCE_DIR"] = EVIDENCE_DIR
    for p, server in fakes.items():
        env[f"LLM_{p.upper()}_BASE_URL"] = server.base_url
        env[f"LLM_{p.upper()}_TIMEOUT_MS"] = str(timeout_ms)
    env.update(extra)
    return env


def use_routing(container: Container, env: Mapping[str, str],
                assumptions: BudgetAssumptions = DEFAULT_ASSUMPTIONS) -> RoutingService:
    """Replace the container's routing context with one reading ``env`` (closing the old one)."""
    container.routing.close()
    container.routing = build_routing(application_env(container.database_url), container.clock, env, assumptions)
    return container.routing


def assumptions_for(category: str, daily_limit_usd: float) -> BudgetAssumptions:
    """Default assumptions scaled so ``category``'s derived daily limit is ``daily_limit_usd`` (limits are linear)."""
    base = derive_budget(DEFAULT_ASSUMPTIONS).envelopes[BudgetCategory(category)].daily_limit_usd
    scaled = DEFAULT_ASSUMPTIONS.calls_per_day * daily_limit_usd / base
    return DEFAULT_ASSUMPTIONS.with_overrides({"callsPerDay": scaled})


def requests_by_provider(fakes: Mapping[Provider, FakeLlmServer]) -> dict[Provider, int]:
    return {p: len(s.requests) for p, s in fakes.items()}


def catch_up(container: Container, *names: str) -> None:
    container.routing.flush()  # outcomes are written behind the caller (ADR 0275)
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        for name in names or ("llm_routing", "llm_budget"):
            catch_up_from_log(conn, container.projections[name])
