"""Every LLM provider client against answers that drip, flood or over-declare their length (ADR 0513).

Before ADR 0513 each client (the anthropic and openai SDKs, Gemini and Cloudflare over httpx) waited out a 3 s drip
against a 1 s timeout, and read a 100 MB body whole into memory and into the evidence store. Now an attempt ends
at its §6.4 timeout in total (PROVIDER_TIMEOUT: the router moves on to the next model), and an answer is cut off at
the size cap; what arrived is evidenced, marked as cut off.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from paulp.adapters.evidence_store import EvidenceFetch, EvidenceStore
from paulp.adapters.llm.base import Prompt, ProviderRouter
from paulp.adapters.llm.evidence import ProviderEvidence
from paulp.adapters.llm.registry import LlmSettings, build_providers
from paulp.domain.budgets import BudgetBook, derive_budget
from paulp.domain.executor import ProviderError, execute_plan
from paulp.domain.routing import KIMI, MODELS, OPUS, ErrorCode, Provider, RouteRequest
from paulp.domain.routing_plan import plan_route
from tests.fakes.hostile import MB, declared, drip, flood
from tests.fakes.llm_servers import FakeLlmServer, FakeReply

pytestmark = pytest.mark.timeout(15)
KEYS = {p: f"key-{p}-SECRET-0123456789" for p in Provider}
ACCOUNT = "acct-bounds"
WIRE = {Provider.ANTHROPIC: "anthropic", Provider.MINIMAX: "openai", Provider.MOONSHOT: "openai",
        Provider.GOOGLE: "gemini", Provider.CLOUDFLARE: "cloudflare"}
MODEL_OF = {spec.provider: model_id for model_id, spec in MODELS.items()}
PROMPT = Prompt("You are a careful analyst.", "Is this market ambiguous?")
DEADLINE_S = 0.4
SLACK_S = 1.5  # room for a loaded CI host; still far below the 3 s an unbounded client waits a drip out
CAP = 64 * 1024
FLOOD_DEADLINE_S = 10.0
HOSTILE = {"drip": drip(every_s=0.05, for_s=3.0), "flood": flood(200 * MB), "declared": declared(50_000 * MB)}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[Provider, FakeLlmServer]]:
    started = {p: FakeLlmServer(WIRE[p], KEYS[p], account_id=ACCOUNT).start() for p in Provider}
    yield started
    for server in started.values():
        server.stop()


def _router(servers: dict[Provider, FakeLlmServer], store: EvidenceStore, fetches: list[EvidenceFetch],
            deadline_s: float) -> ProviderRouter:
    settings = LlmSettings(keys={p: k for p, k in KEYS.items() if p is not Provider.CLOUDFLARE},
                           cloudflare_account_id=ACCOUNT, cloudflare_api_token=KEYS[Provider.CLOUDFLARE],
                           base_urls={p: s.base_url for p, s in servers.items()},
                           timeouts_s=dict.fromkeys(Provider, deadline_s),
                           max_response_bytes=dict.fromkeys(Provider, CAP))
    return build_providers(settings, evidence=ProviderEvidence(store, record=fetches.append))


@pytest.fixture(scope="module")
def bounded(servers: dict[Provider, FakeLlmServer],
            tmp_path_factory: pytest.TempPathFactory) -> tuple[ProviderRouter, EvidenceStore, list[EvidenceFetch]]:
    """One router for the module (clients are built once per process in production too), 0.4 s and 64 KiB."""
    store, fetches = EvidenceStore(tmp_path_factory.mktemp("llm-bounds")), []
    return _router(servers, store, fetches, DEADLINE_S), store, fetches


@pytest.fixture(scope="module")
def flood_router(servers: dict[Provider, FakeLlmServer],
                 bounded: tuple[ProviderRouter, EvidenceStore, list[EvidenceFetch]]) -> ProviderRouter:
    """The same store and cap with a 10 s deadline: the flood tests are about the cap, so only the cap may cut them
    (with 0.4 s a loaded CI run can see the deadline first, as the NOAA flood test once did)."""
    return _router(servers, bounded[1], bounded[2], FLOOD_DEADLINE_S)


@pytest.fixture
def fake(servers: dict[Provider, FakeLlmServer],
         bounded: tuple[ProviderRouter, EvidenceStore, list[EvidenceFetch]]) -> dict[Provider, FakeLlmServer]:
    for server in servers.values():
        server.reset()
    bounded[2].clear()
    return servers


@pytest.fixture
def router(bounded: tuple[ProviderRouter, EvidenceStore, list[EvidenceFetch]]) -> ProviderRouter:
    return bounded[0]


@pytest.fixture
def store(bounded: tuple[ProviderRouter, EvidenceStore, list[EvidenceFetch]]) -> EvidenceStore:
    return bounded[1]


@pytest.fixture
def fetches(bounded: tuple[ProviderRouter, EvidenceStore, list[EvidenceFetch]]) -> list[EvidenceFetch]:
    return bounded[2]


def failed_call(router: ProviderRouter, provider: Provider) -> tuple[ProviderError, float]:
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        router.call(MODEL_OF[provider], PROMPT)
    return info.value, time.monotonic() - started


def marker(fetch: EvidenceFetch) -> str | None:
    return (fetch.request_params or {}).get("responseCutOff")


@pytest.mark.parametrize("provider", list(Provider))
def test_answer_when_it_drips_past_the_timeout_then_provider_timeout_at_the_deadline_and_start_evidenced(
        fake, router, store, fetches, provider: Provider) -> None:
    # Arrange
    fake[provider].enqueue(FakeReply(hostile=HOSTILE["drip"]))
    # Act
    error, took = failed_call(router, provider)
    # Assert: cut at the 0.4 s deadline, not after the 3 s drip; the bytes that came are evidence
    assert error.code == ErrorCode.PROVIDER_TIMEOUT and f"{provider} API request timed out after 400 ms" in str(error)
    assert DEADLINE_S <= took < DEADLINE_S + SLACK_S
    (fetch,) = fetches
    assert (marker(fetch), fetch.response_status) == ("deadline", 200) and error.evidence_hash == fetch.evidence_hash
    assert store.get(fetch.evidence_hash).startswith(b'{"dripped":')


@pytest.mark.parametrize("provider", list(Provider))
@pytest.mark.parametrize("kind", ["flood", "declared"])
def test_answer_when_over_the_cap_then_parse_error_and_at_most_cap_bytes_evidenced(
        fake, flood_router, store, fetches, provider: Provider, kind: str) -> None:
    fake[provider].enqueue(FakeReply(hostile=HOSTILE[kind]))
    error, took = failed_call(flood_router, provider)
    assert error.code == ErrorCode.PROVIDER_PARSE_ERROR and f"{provider} API response could not be mapped" in str(error)
    assert took < DEADLINE_S + SLACK_S  # refused at the cap (or on the declared length), not waited out
    (fetch,) = fetches
    assert marker(fetch) == ("size_cap" if kind == "flood" else "declared_size")
    assert store.get(fetch.evidence_hash) == (b'{"pad":"' + b"x" * (CAP - 8) if kind == "flood" else b"")


@pytest.mark.parametrize("provider", list(Provider))
def test_error_status_when_its_body_floods_then_the_status_error_from_the_first_bytes(
        fake, flood_router, fetches, provider: Provider) -> None:
    fake[provider].enqueue(FakeReply(status=500, hostile=HOSTILE["flood"]))
    error, _ = failed_call(flood_router, provider)
    assert error.code == ErrorCode.PROVIDER_SERVER_ERROR and "500" in str(error) and str(provider) in str(error)
    assert [(f.response_status, marker(f), f.size_bytes) for f in fetches] == [(500, "size_cap", CAP)]


def test_chain_when_the_default_model_drips_then_the_next_model_answers_after_the_deadline(fake, router) -> None:
    # Arrange: premium class, Opus first (§2.2); its answer drips
    fake[Provider.ANTHROPIC].enqueue(FakeReply(hostile=HOSTILE["drip"]))
    book = BudgetBook(derive_budget().envelopes, {}, {}, datetime(2026, 11, 25, 12, tzinfo=UTC))
    plan = plan_route(RouteRequest("ambiguity_score", 100, 500), {}, book)
    # Act
    started = time.monotonic()
    execution = execute_plan(plan, router.port(PROMPT.system, PROMPT.user))
    took = time.monotonic() - started
    # Assert
    assert execution.success and execution.attempted == (OPUS, KIMI) and took < DEADLINE_S + SLACK_S
    assert execution.attempts[0].error_code == ErrorCode.PROVIDER_TIMEOUT
    assert len(fake[Provider.MOONSHOT].requests) == 1


def test_settings_when_caps_set_in_env_then_read_per_provider_and_a_bad_one_refused() -> None:
    settings = LlmSettings.from_env({"LLM_ANTHROPIC_MAX_RESPONSE_BYTES": "1048576"})
    assert settings.max_response_bytes[Provider.ANTHROPIC] == 1048576
    assert settings.max_response_bytes[Provider.GOOGLE] == 4 * 1024 * 1024
    with pytest.raises(ValueError, match="LLM_GOOGLE_MAX_RESPONSE_BYTES"):
        LlmSettings.from_env({"LLM_GOOGLE_MAX_RESPONSE_BYTES": "0"})
