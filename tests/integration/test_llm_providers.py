"""The real provider clients against loopback fakes over real HTTP (llm-routing §6.2, §6.4, §6.5, §11)."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from paulp.adapters.evidence_store import EvidenceStore
from paulp.adapters.llm.base import Prompt, ProviderCallResult, ProviderRouter
from paulp.adapters.llm.evidence import ProviderEvidence
from paulp.adapters.llm.registry import LlmSettings, build_providers
from paulp.domain.budgets import BudgetBook, derive_budget
from paulp.domain.executor import execute_plan
from paulp.domain.routing import GEMINI, KIMI, LLAMA, MODELS, OPUS, ErrorCode, Provider, RouteRequest, cost_usd
from paulp.domain.routing_plan import plan_route
from tests.fakes.llm_servers import FakeLlmServer, FakeReply, Usage

pytestmark = pytest.mark.timeout(10)

KEYS = {
    Provider.ANTHROPIC: "sk-ant-SECRET-a1b2c3d4e5",
    Provider.MINIMAX: "mm-SECRET-f6g7h8i9j0",
    Provider.MOONSHOT: "sk-moon-SECRET-k1l2m3n4",
    Provider.GOOGLE: "AIzaSECRET-o5p6q7r8s9",
    Provider.CLOUDFLARE: "cf-SECRET-t0u1v2w3x4",
}
ACCOUNT = "acct-0123456789"
WIRE = {Provider.ANTHROPIC: "anthropic", Provider.MINIMAX: "openai", Provider.MOONSHOT: "openai",
        Provider.GOOGLE: "gemini", Provider.CLOUDFLARE: "cloudflare"}
MODEL_OF = {spec.provider: model_id for model_id, spec in MODELS.items()}
PROMPT = Prompt("You are a careful analyst.", "Is this market ambiguous?")
ALL = list(Provider)
# Blobs only: the index rows (PostgreSQL) are covered by test_llm_evidence.py.
EVIDENCE = ProviderEvidence(EvidenceStore(tempfile.mkdtemp(prefix="paulp-llm-provider-evidence-")))


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[Provider, FakeLlmServer]]:
    servers = {p: FakeLlmServer(WIRE[p], KEYS[p], account_id=ACCOUNT).start() for p in Provider}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def fake(fakes: dict[Provider, FakeLlmServer]) -> Iterator[dict[Provider, FakeLlmServer]]:
    """The module's servers, with script, record and usage reset for each test."""
    for server in fakes.values():
        server.reset()
    yield fakes


def settings_for(fakes: dict[Provider, FakeLlmServer], keys: dict[Provider, str] | None = None,
                 timeout_s: float = 5.0, cloudflare: bool = True) -> LlmSettings:
    keys = dict(KEYS) if keys is None else keys
    return LlmSettings(
        keys={p: k for p, k in keys.items() if p is not Provider.CLOUDFLARE},
        cloudflare_account_id=ACCOUNT if cloudflare else None,
        cloudflare_api_token=keys.get(Provider.CLOUDFLARE) if cloudflare else None,
        base_urls={p: s.base_url for p, s in fakes.items()},
        timeouts_s={p: timeout_s for p in Provider},
    )


def router_for(fakes: dict[Provider, FakeLlmServer], evidence: ProviderEvidence = EVIDENCE,
               **kw: object) -> ProviderRouter:
    return build_providers(settings_for(fakes, **kw), evidence=evidence)  # type: ignore[arg-type]


def code_of(router: ProviderRouter, provider: Provider) -> str:
    with pytest.raises(Exception) as info:
        router.call(MODEL_OF[provider], PROMPT)
    return str(getattr(info.value, "code", type(info.value).__name__))


@pytest.mark.parametrize("provider", ALL)
def test_call_when_fake_answers_then_content_usage_and_cost_are_returned(fake, provider) -> None:
    # Arrange
    router = router_for(fake)
    fake[provider].usage = Usage(input_tokens=1200, output_tokens=300)
    # Act
    result = router.call(MODEL_OF[provider], PROMPT)
    # Assert
    assert isinstance(result, ProviderCallResult) and result.content == "fake reply"
    if provider is Provider.CLOUDFLARE:  # no usage from the model: estimated from the text, cost 0 (§6.5)
        expected = (-(-len(PROMPT.system + PROMPT.user) // 4), -(-len("fake reply") // 4))
        assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.cost_usd) == (*expected, 0.0)
    else:
        assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.cached_tokens) == (1200, 300, 0)
        assert result.usage.cost_usd == cost_usd(MODEL_OF[provider], 1200, 300) > 0
    assert len(fake[provider].requests) == 1 and result.latency_ms >= 0
    assert result.evidence_hash is not None and EVIDENCE.store.exists(result.evidence_hash)


def test_call_when_anthropic_reports_cache_then_input_is_normalised_and_system_is_cached(fake) -> None:
    # Arrange
    router = router_for(fake)
    fake[Provider.ANTHROPIC].usage = Usage(input_tokens=100, output_tokens=50, cache_read=700, cache_creation=300)
    # Act
    result = router.call(OPUS, PROMPT)
    # Assert
    assert (result.usage.input_tokens, result.usage.cached_tokens) == (1100, 1000)
    assert result.usage.cost_usd == pytest.approx(100 / 1e6 * 15 + 1000 / 1e6 * 1.5 + 50 / 1e6 * 75, rel=1e-12)
    sent = fake[Provider.ANTHROPIC].requests[0]
    assert sent.json()["system"] == [{"type": "text", "text": PROMPT.system, "cache_control": {"type": "ephemeral"}}]
    assert sent.headers["anthropic-beta"] == "prompt-caching-2024-07-31" and "authorization" not in sent.headers


@pytest.mark.parametrize("provider", ALL)
def test_call_when_sent_then_wire_auth_matches_the_real_api(fake, provider) -> None:
    # Arrange
    router = router_for(fake)
    # Act
    router.call(MODEL_OF[provider], PROMPT)
    # Assert
    sent = fake[provider].requests[0]
    if provider is Provider.ANTHROPIC:
        assert sent.headers["x-api-key"] == KEYS[provider] and sent.headers["anthropic-version"] == "2023-06-01"
    elif provider is Provider.GOOGLE:
        assert sent.query == {"key": KEYS[provider]} and "authorization" not in sent.headers
        assert "x-goog-api-key" not in sent.headers
    else:
        assert sent.headers["authorization"] == f"Bearer {KEYS[provider]}"
    if provider is Provider.CLOUDFLARE:
        assert sent.json() == {"messages": [{"role": "system", "content": PROMPT.system},
                                            {"role": "user", "content": PROMPT.user}],
                               "max_tokens": 2000, "temperature": 0.1}


@pytest.mark.parametrize("status,code", [
    (401, ErrorCode.PROVIDER_AUTH_FAILED), (403, ErrorCode.PROVIDER_AUTH_FAILED),
    (429, ErrorCode.PROVIDER_RATE_LIMITED), (500, ErrorCode.PROVIDER_SERVER_ERROR),
    (503, ErrorCode.PROVIDER_SERVER_ERROR), (400, ErrorCode.PROVIDER_SERVER_ERROR),
])
@pytest.mark.parametrize("provider", ALL)
def test_call_when_fake_answers_status_then_error_code_is_mapped(fake, provider, status, code) -> None:
    # Arrange
    router = router_for(fake)
    fake[provider].enqueue(FakeReply(status=status))
    # Act
    with pytest.raises(Exception) as info:
        router.call(MODEL_OF[provider], PROMPT)
    # Assert
    assert info.value.code == code
    assert str(provider) in str(info.value) and str(status) in str(info.value)
    assert len(fake[provider].requests) == 1  # never retried


@pytest.mark.parametrize("reply", [FakeReply(raw=b"{not json"), FakeReply(body={"unexpected": True}),
                                   FakeReply(raw=b"[1, 2]")], ids=["not-json", "no-usage", "not-object"])
@pytest.mark.parametrize("provider", ALL)
def test_call_when_body_is_malformed_then_parse_error(fake, provider, reply) -> None:
    # Arrange
    router = router_for(fake)
    fake[provider].enqueue(reply)
    # Act / Assert
    assert code_of(router, provider) == ErrorCode.PROVIDER_PARSE_ERROR


@pytest.mark.parametrize("provider", ALL)
def test_call_when_fake_is_slower_than_timeout_then_provider_timeout(fake, provider) -> None:
    # Arrange
    router = router_for(fake, timeout_s=0.3)
    fake[provider].enqueue(FakeReply(delay_s=3))
    # Act
    started = time.monotonic()
    code = code_of(router, provider)
    # Assert
    assert code == ErrorCode.PROVIDER_TIMEOUT and time.monotonic() - started < 2
    assert len(fake[provider].requests) == 1


@pytest.mark.parametrize("provider", ALL)
def test_call_when_key_is_wrong_then_auth_failed(fake, provider) -> None:
    # Arrange
    router = router_for(fake, keys={p: "wrong-" + k for p, k in KEYS.items()})
    # Act / Assert
    assert code_of(router, provider) == ErrorCode.PROVIDER_AUTH_FAILED
    assert len(fake[provider].requests) == 1


@pytest.mark.parametrize("provider", ALL)
def test_call_when_key_is_missing_then_key_missing_and_nothing_is_sent(fake, provider) -> None:
    # Arrange
    keys = {p: k for p, k in KEYS.items() if p is not provider}
    router = router_for(fake, keys=keys, cloudflare=provider is not Provider.CLOUDFLARE)
    # Act
    code = code_of(router, provider)
    # Assert
    assert code == ErrorCode.PROVIDER_KEY_MISSING
    assert fake[provider].requests == []


def test_settings_when_key_is_blank_then_provider_fails_closed(fake) -> None:
    # Arrange
    env = {"ANTHROPIC_API_KEY": "   ", "LLM_ANTHROPIC_BASE_URL": fake[Provider.ANTHROPIC].base_url}
    router = build_providers(LlmSettings.from_env(env), evidence=EVIDENCE)
    # Act / Assert
    assert code_of(router, Provider.ANTHROPIC) == ErrorCode.PROVIDER_KEY_MISSING
    assert fake[Provider.ANTHROPIC].requests == []


@pytest.mark.parametrize("provider", ALL)
def test_call_when_nothing_listens_then_network_error(fake, provider) -> None:
    # Arrange: a port that was free a moment ago refuses the connection
    settings = settings_for(fake)
    dead = {p: u.replace(f":{fake[p].port}", ":9") for p, u in settings.base_urls.items()}
    router = build_providers(LlmSettings(settings.keys, ACCOUNT, KEYS[Provider.CLOUDFLARE], dead, settings.timeouts_s),
                             evidence=EVIDENCE)
    # Act / Assert
    assert code_of(router, provider) == ErrorCode.PROVIDER_NETWORK_ERROR


def _premium_plan():
    book = BudgetBook(derive_budget().envelopes, {}, {}, datetime(2026, 11, 25, 12, tzinfo=UTC))
    return plan_route(RouteRequest("ambiguity_score", 100, 500), {}, book)


@pytest.mark.parametrize("failure,code", [
    (FakeReply(status=401), ErrorCode.PROVIDER_AUTH_FAILED), (FakeReply(status=429), ErrorCode.PROVIDER_RATE_LIMITED),
    (FakeReply(status=502), ErrorCode.PROVIDER_SERVER_ERROR), (FakeReply(delay_s=3), ErrorCode.PROVIDER_TIMEOUT),
    (FakeReply(raw=b"<html>"), ErrorCode.PROVIDER_PARSE_ERROR),
], ids=["auth", "rate", "server", "timeout", "parse"])
def test_execute_plan_when_default_fails_then_next_model_in_chain_answers(fake, failure, code) -> None:
    # Arrange
    router = router_for(fake, timeout_s=0.3)
    fake[Provider.ANTHROPIC].enqueue(failure)
    # Act
    execution = execute_plan(_premium_plan(), router.port(PROMPT.system, PROMPT.user))
    # Assert
    assert execution.success and execution.attempted == (OPUS, KIMI)
    assert execution.attempts[0].error_code == code
    assert execution.usage is not None and execution.usage.cost_usd == cost_usd(KIMI, 120, 30)
    assert len(fake[Provider.ANTHROPIC].requests) == 1 and len(fake[Provider.MOONSHOT].requests) == 1


def test_execute_plan_when_every_provider_fails_then_chain_walked_in_order_once_each(fake) -> None:
    # Arrange
    router = router_for(fake, timeout_s=0.3)
    fake[Provider.ANTHROPIC].enqueue(FakeReply(status=401))
    fake[Provider.MOONSHOT].enqueue(FakeReply(status=429))
    fake[Provider.GOOGLE].enqueue(FakeReply(status=500))
    fake[Provider.CLOUDFLARE].enqueue(FakeReply(delay_s=3))
    # Act
    execution = execute_plan(_premium_plan(), router.port(PROMPT.system, PROMPT.user))
    # Assert
    assert execution.failure is not None and execution.failure.code == ErrorCode.ALL_MODELS_FAILED
    assert execution.attempted == (OPUS, KIMI, GEMINI, LLAMA)
    assert [a.error_code for a in execution.attempts] == [
        ErrorCode.PROVIDER_AUTH_FAILED, ErrorCode.PROVIDER_RATE_LIMITED, ErrorCode.PROVIDER_SERVER_ERROR,
        ErrorCode.PROVIDER_TIMEOUT]
    assert [len(fake[p].requests) for p in ALL] == [1, 0, 1, 1, 1]


def _exception_texts(exc: BaseException) -> list[str]:
    texts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    return texts


def test_calls_when_logging_at_debug_then_no_key_appears_anywhere(fake, caplog) -> None:
    # Arrange
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "httpx2", "anthropic", "openai", "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=name)
    router = router_for(fake, timeout_s=0.3)
    outputs: list[str] = []
    # Act: a success, an HTTP error, a timeout and a parse error per provider, and a wrong-key attempt
    for provider in ALL:
        fake[provider].enqueue(FakeReply(), FakeReply(status=401), FakeReply(delay_s=3), FakeReply(raw=b"{"))
        for _ in range(4):
            try:
                outputs.append(repr(router.call(MODEL_OF[provider], PROMPT)))
            except Exception as exc:
                outputs += _exception_texts(exc)
    wrong = router_for(fake, keys={p: k + "-WRONG" for p, k in KEYS.items()})
    for provider in ALL:
        try:
            wrong.call(MODEL_OF[provider], PROMPT)
        except Exception as exc:
            outputs += _exception_texts(exc)
    outputs.append(repr(settings_for(fake)))
    # Assert
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP Request: POST" in logged and "key=***" in logged  # the httpx lines were captured, redacted
    for secret in KEYS.values():
        assert secret not in logged, f"key leaked into logs: {secret[:8]}…"
        assert all(secret not in text for text in outputs), f"key leaked into a result/exception: {secret[:8]}…"
