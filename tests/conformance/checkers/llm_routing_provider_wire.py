"""llm-routing §11/§6.5: the exact request each real provider client sends, and how its reply is mapped.

Each case runs the real provider class (SDK or httpx) against an in-process mock transport that records
the request it would put on the wire and answers with the case's `response` (or a minimal valid body).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from typing import Any

import httpx
import httpx2

from paulp.adapters.evidence_store import EvidenceStore
from paulp.adapters.llm.anthropic_provider import AnthropicProvider
from paulp.adapters.llm.base import LlmProvider, Prompt, ProviderCallResult
from paulp.adapters.llm.evidence import ProviderEvidence
from paulp.adapters.llm.gemini import GeminiProvider
from paulp.adapters.llm.last_resort import CloudflareProvider
from paulp.adapters.llm.openai_compat import minimax_provider, moonshot_provider
from paulp.adapters.llm.registry import available_providers
from paulp.domain.executor import ProviderError
from paulp.domain.routing import MODELS, CacheStrategy, ModelSpec, Provider
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, needles, tolerances
from tests.conformance.registry import Context, checker

_INPUT_KEYS = {"provider", "key", "accountId", "cacheStrategy", "system", "user", "model", "maxTokens",
               "temperature", "response", "httpStatus", "env"}
_REQUEST_KEYS = {"url", "method", "headers", "noAuthorizationHeader", "body", "query"}
_REPLY_KEYS = {"content", "inputTokens", "outputTokens", "cachedInputTokens", "cachedTokens", "costUsd",
               "recommendedInputTokens", "referenceInputTokens", "errorCode", "messageContains"}
_LIST_KEYS = {"providers", "count"}
# The clients keep every answer before parsing it (ADR 0391); these cases check the wire, not the index.
_EVIDENCE = ProviderEvidence(EvidenceStore(tempfile.mkdtemp(prefix="paulp-conformance-llm-evidence-")))

_CHAT_REPLY = {"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
_MINIMAL_REPLY: dict[Provider, dict[str, Any]] = {
    Provider.ANTHROPIC: {"content": [{"type": "text", "text": "ok"}], "usage": {"input_tokens": 1, "output_tokens": 1}},
    Provider.MINIMAX: _CHAT_REPLY,
    Provider.MOONSHOT: _CHAT_REPLY,
    Provider.GOOGLE: {"candidates": [{"content": {"parts": [{"text": "ok"}]}}],
                      "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1}},
    Provider.CLOUDFLARE: {"result": {"response": "ok"}, "success": True},
}


def _spec(provider: Provider, inp: dict[str, Any]) -> ModelSpec:
    """The manifest model of this provider, with any wire parameter the case overrides."""
    base = next(m for m in MODELS.values() if m.provider is provider)
    return replace(base, provider_model_id=inp.get("model", base.provider_model_id),
                   default_max_tokens=int(inp.get("maxTokens", base.default_max_tokens)),
                   default_temperature=float(inp.get("temperature", base.default_temperature)),
                   cache_strategy=CacheStrategy(inp.get("cacheStrategy", base.cache_strategy)))


def _client(provider: Provider, inp: dict[str, Any], seen: list[Any]) -> LlmProvider:
    status = int(inp.get("httpStatus", 200))
    reply = inp.get("response", _MINIMAL_REPLY[provider])
    content = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
    key = inp.get("key", "test-key")

    def handler2(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(status, content=content, headers={"content-type": "application/json"})

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=content, headers={"content-type": "application/json"})

    sdk_transport = httpx2.MockTransport(handler2)
    rest_transport = httpx.MockTransport(handler)
    if provider is Provider.ANTHROPIC:
        return AnthropicProvider(key, evidence=_EVIDENCE, transport=sdk_transport)
    if provider is Provider.MINIMAX:
        return minimax_provider(key, evidence=_EVIDENCE, transport=sdk_transport)
    if provider is Provider.MOONSHOT:
        return moonshot_provider(key, evidence=_EVIDENCE, transport=sdk_transport)
    if provider is Provider.GOOGLE:
        return GeminiProvider(key, evidence=_EVIDENCE, transport=rest_transport)
    return CloudflareProvider(inp.get("accountId", "test-account"), key, evidence=_EVIDENCE, transport=rest_transport)


def _request_view(request: Any, exp: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {"url": str(request.url), "method": request.method,
                            "noAuthorizationHeader": "authorization" not in request.headers,
                            "body": json.loads(request.content), "query": dict(request.url.params)}
    if isinstance(exp.get("headers"), dict):
        view["headers"] = {name: request.headers.get(name) for name in exp["headers"]}
    return view


def _reply_view(result: ProviderCallResult | None, error: ProviderError | None, exp: dict[str, Any],
                reported_input: int | None) -> dict[str, Any]:
    if error is not None:
        # messageContains without errorCode still expects the failure (a case may state fewer facts: ADR 0486)
        assert {"errorCode", "messageContains"} & set(exp), \
            f"provider call failed unexpectedly: {error.code}: {error.message}"
        for text in needles(exp.pop("messageContains", [])):  # one string or a list; never its characters
            assert text in error.message, f"{text!r} not in {error.message!r}"
        return {"errorCode": str(error.code)}
    assert result is not None and "errorCode" not in exp, f"expected {exp.get('errorCode')}, call succeeded"
    u = result.usage
    view: dict[str, Any] = {"content": result.content, "outputTokens": u.output_tokens,
                            "cachedInputTokens": u.cached_tokens, "cachedTokens": u.cached_tokens,
                            "costUsd": u.cost_usd, "recommendedInputTokens": u.input_tokens,
                            "referenceInputTokens": reported_input}
    # A plain inputTokens is the agreed value unless the case also names the recommended one (then it is the
    # reference's number, see the vectors' meta note).
    view["inputTokens"] = reported_input if "recommendedInputTokens" in exp else u.input_tokens
    return view


def _reported_input(provider: Provider, inp: dict[str, Any]) -> int | None:
    usage = inp.get("response", {}).get("usage") if isinstance(inp.get("response"), dict) else None
    if provider is Provider.ANTHROPIC and isinstance(usage, dict):
        return usage.get("input_tokens")
    return None


@checker(FILE, "provider_wire")
def check(case: Any, ctx: Context) -> None:
    inp, exp = case["input"], expected_of(case, carried=_REPLY_KEYS)
    unknown_in = set(inp) - _INPUT_KEYS
    unknown_exp = set(exp) - _REQUEST_KEYS - _REPLY_KEYS - _LIST_KEYS
    assert not unknown_in and not unknown_exp, f"cannot interpret input {unknown_in} / expected {unknown_exp}"
    if set(exp) & _LIST_KEYS:
        providers = available_providers(inp.get("env"))
        assert_matches({"providers": providers, "count": len(providers)}, exp, tolerances(case))
        return
    assert "provider" in inp, f"provider_wire case without a provider: {sorted(inp)}"
    provider = Provider(inp["provider"])
    seen: list[Any] = []
    client = _client(provider, inp, seen)
    prompt = Prompt(inp.get("system", "system prompt"), inp.get("user", "user prompt"))
    result, error = None, None
    try:
        result = client.complete(_spec(provider, inp), prompt)
    except ProviderError as exc:
        error = exc
    assert len(seen) == 1, f"expected exactly one request on the wire, saw {len(seen)}"
    request_exp = {k: v for k, v in exp.items() if k in _REQUEST_KEYS}
    reply_exp = {k: v for k, v in exp.items() if k in _REPLY_KEYS}
    if request_exp:
        view = _request_view(seen[0], request_exp)
        if "body" in request_exp:
            assert view["body"] == request_exp["body"], f"body {view['body']!r} != {request_exp['body']!r}"
        assert_matches(view, request_exp, tolerances(case))
    if reply_exp or error is not None:
        assert_matches(_reply_view(result, error, reply_exp, _reported_input(provider, inp)), reply_exp,
                       tolerances(case))
