"""Builds the routing context for the composition root: env for overrides and keys, lazy provider clients."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Mapping
from uuid import UUID

import psycopg
from psycopg.conninfo import make_conninfo

from paulp.adapters.config import Settings
from paulp.adapters.evidence_store import EvidenceFetch, EvidenceStore, record_fetch
from paulp.adapters.llm.evidence import EvidenceNotStored, ProviderEvidence
from paulp.domain.budgets import DEFAULT_ASSUMPTIONS, BudgetAssumptions
from paulp.domain.clock import Clock
from paulp.domain.services.routing import RoutingService
from paulp.domain.services.routing_types import ProviderPort

# Values Settings owns (it reads them from the same environment); a case's Settings is authoritative.
SETTINGS_OWNED = ("ANTHROPIC_API_KEY", "MINIMAX_API_KEY", "MOONSHOT_API_KEY", "GOOGLE_AI_API_KEY",
                  "LLM_ROUTING_FORCE_MODEL", "LLM_ROUTING_FORCE_ROUTE_CLASS")
EVIDENCE_DIR_VAR = "PAULP_EVIDENCE_DIR"  # where provider answers are kept (ADR 0391); set from Settings
CACHE_SIZE = "2000"  # ledgers and in-flight decisions stay in memory; fast-forwarded from the log on each load


# The random bits of decision ids. os.urandom releases the GIL, and on the governed-call path that handed the
# interpreter to the outcome writer thread mid-call (~1 ms per call in bench.routing's profile). An id needs
# uniqueness, not secrecy: a generator seeded with 2,500 bytes from os.urandom, reseeded in a forked child
# (which would otherwise repeat its parent's sequence).
_ID_BITS = random.Random()  # noqa: S311 (ids need uniqueness, not unpredictability)
os.register_at_fork(after_in_child=_ID_BITS.seed)


def uuid7() -> UUID:
    """Time-ordered unique id (RFC 9562 v7): millisecond timestamp + 74 random bits (llm-routing §9)."""
    ms = time.time_ns() // 1_000_000
    rand = _ID_BITS.getrandbits(74)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0b10 << 62 | rand & ((1 << 62) - 1)
    return UUID(int=value)


def llm_env(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Provider base URLs/timeouts and Cloudflare credentials from the process, keys and overrides from Settings."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items()
           if k.startswith(("LLM_", "CLOUDFLARE_")) and k not in SETTINGS_OWNED}
    for name in SETTINGS_OWNED:
        value = getattr(settings, name, None)
        if value is not None:
            env[name] = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    env[EVIDENCE_DIR_VAR] = str(settings.evidence_dir())
    return env


def provider_evidence(app_env: Mapping[str, str], env: Mapping[str, str], clock: Clock) -> ProviderEvidence:
    """The blob store in ``PAULP_EVIDENCE_DIR`` and the index in the primary database, one short transaction per
    answer (a few ms beside a provider call of hundreds). No folder: every attempt fails closed, nothing sent."""
    folder = (env.get(EVIDENCE_DIR_VAR) or "").strip()
    if not folder:
        raise EvidenceNotStored(f"LLM provider answers have no evidence store ({EVIDENCE_DIR_VAR} unset); "
                                "no provider is called")
    conninfo = make_conninfo(dbname=app_env["POSTGRES_DBNAME"], host=app_env["POSTGRES_HOST"],
                             port=app_env["POSTGRES_PORT"], user=app_env["POSTGRES_USER"],
                             password=app_env["POSTGRES_PASSWORD"] or None)

    def record(fetch: EvidenceFetch) -> None:
        with psycopg.connect(conninfo) as conn:
            record_fetch(conn, fetch)

    return ProviderEvidence(EvidenceStore(folder), record, clock.now)


def build_routing(app_env: Mapping[str, str], clock: Clock, env: Mapping[str, str],
                  assumptions: BudgetAssumptions = DEFAULT_ASSUMPTIONS) -> RoutingService:
    """Provider clients are built on the first attempt, so the app starts without keys (calls fail closed)."""

    def providers() -> ProviderPort:
        # Imported here: the provider SDKs (anthropic's pydantic models above all) took 5.6 s of a 7.7 s
        # `paulp orders show`; every process paid it at start-up, whether it ever called a model or not.
        from paulp.adapters.llm.registry import LlmSettings, build_providers

        return build_providers(LlmSettings.from_env(env), evidence=provider_evidence(app_env, env, clock))

    return RoutingService({**app_env, "AGGREGATE_CACHE_MAXSIZE": CACHE_SIZE}, clock, llm_env=env,
                          providers=providers, new_id=uuid7, assumptions=assumptions)
