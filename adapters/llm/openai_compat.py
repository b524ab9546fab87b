"""MiniMax and Moonshot (Kimi) over the OpenAI chat format through the official `openai` SDK (§11).

The SDK talks through a bounding transport: the whole attempt ends within the §6.4 timeout and the answer is cut
off at the size cap (ADR 0513)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx2
import openai

from paulp.adapters.http_bounds import ResponseBounds, ResponseCutOff, bounded_client2, cut_off_in
from paulp.adapters.llm.base import (
    DEFAULT_MAX_RESPONSE_BYTES,
    Parsed,
    Prompt,
    ProviderCallResult,
    WireParams,
    cut_off_error,
    load_json_object,
    network_error,
    object_field,
    parse_error,
    priced,
    redact,
    status_error,
    timeout_error,
    token_count,
    wire_params,
)
from paulp.adapters.llm.evidence import ProviderEvidence, evidenced, parse_evidenced
from paulp.domain.executor import ProviderAuthFailed, ProviderError, ProviderRateLimited, ProviderServerError, Usage
from paulp.domain.routing import ModelSpec, Provider

MINIMAX_BASE_URL = "https://api.minimax.chat/v1"
MINIMAX_PATH = "/text/chatcompletion_v2"
MOONSHOT_BASE_URL = "https://api.moonshot.ai/v1"
MOONSHOT_PATH = "/chat/completions"

# MiniMax answers some failures with HTTP 200 and a non-zero base_resp.status_code (ADR 0242).
MINIMAX_AUTH_CODES = frozenset({1004, 2049})
MINIMAX_RATE_CODES = frozenset({1002, 1039})


def chat_body(params: WireParams, prompt: Prompt) -> dict[str, Any]:
    return {"model": params.model,
            "messages": [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}],
            "temperature": params.temperature, "max_tokens": params.max_tokens}


def _base_resp_error(provider: Provider, data: Mapping[str, Any], secret: str) -> ProviderError | None:
    base = data.get("base_resp")
    if not isinstance(base, dict) or base.get("status_code") in (None, 0):
        return None
    code, msg = base.get("status_code"), redact(str(base.get("status_msg", "")), secret)[:200]
    text = f"{provider} API error (HTTP 200, base_resp {code}): {msg}"
    if code in MINIMAX_AUTH_CODES:
        return ProviderAuthFailed(text)
    if code in MINIMAX_RATE_CODES:
        return ProviderRateLimited(text)
    return ProviderServerError(text)


def parse_chat(provider: Provider, body: bytes | str | Mapping[str, Any], secret: str = "") -> Parsed:
    """`choices[0].message.content` (missing → ""), prompt/completion tokens, cached 0 (§6.5)."""
    data = load_json_object(provider, body)
    failure = _base_resp_error(provider, data, secret)
    if failure is not None:
        raise failure
    content: object = ""
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict):
            content = message.get("content") if message.get("content") is not None else ""
    if not isinstance(content, str):
        raise parse_error(provider, "choices[0].message.content is not a string")
    usage = object_field(provider, data, "usage")
    inp = token_count(provider, usage, "prompt_tokens")
    return Parsed(content, Usage(inp, token_count(provider, usage, "completion_tokens"), 0), inp)


class OpenAICompatProvider:
    """One OpenAI-style provider: the SDK does auth, timeout and status errors; parsing is ours."""

    def __init__(self, name: Provider, api_key: str, *, evidence: ProviderEvidence, base_url: str, path: str,
                 timeout_s: float, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
                 transport: httpx2.BaseTransport | None = None) -> None:
        self.name = name
        self._key = api_key
        self._path = path
        self._evidence = evidence
        self._endpoint = base_url.rstrip("/") + path
        self._timeout_s = timeout_s
        no_openai_headers: Any = {"OpenAI-Organization": openai.Omit(), "OpenAI-Project": openai.Omit()}
        http_client = bounded_client2(ResponseBounds(timeout_s, max_response_bytes), transport=transport,
                                      timeout=timeout_s)
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0,
                                     http_client=http_client, default_headers=no_openai_headers)

    def complete(self, spec: ModelSpec, prompt: Prompt) -> ProviderCallResult:
        body = chat_body(wire_params(spec), prompt)
        started = time.monotonic()
        error: ProviderError | None = None
        cut: ResponseCutOff | None = None
        try:
            response = self._client.post(self._path, body=body, cast_to=httpx2.Response)
        except ResponseCutOff as exc:  # the bounding transport's refusal, as the SDK let it through
            cut = exc
        except openai.APITimeoutError:
            error = timeout_error(self.name, self._timeout_s)
        except openai.APIStatusError as exc:
            response = exc.response  # an answer all the same: stored below, outside the SDK's exception
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            cut = cut_off_in(exc)  # or wrapped in a connection error
            error = network_error(self.name, exc) if cut is None else None
        if cut is not None:
            raise cut_off_error(self.name, cut, self._evidence, self._endpoint, spec.provider_model_id, self._key)
        if error is not None:
            raise error
        raw, status = response.content, response.status_code
        evidence = self._evidence.keep(self.name, self._endpoint, spec.provider_model_id, status, raw, self._key)
        if not response.is_success:
            raise evidenced(status_error(self.name, status, response.text, self._key), evidence)
        return priced(spec, parse_evidenced(evidence, lambda: parse_chat(self.name, raw, self._key)), evidence,
                      started)

    def close(self) -> None:
        self._client.close()


def minimax_provider(api_key: str, *, evidence: ProviderEvidence, base_url: str = MINIMAX_BASE_URL,
                     timeout_s: float = 30.0, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
                     transport: httpx2.BaseTransport | None = None) -> OpenAICompatProvider:
    return OpenAICompatProvider(Provider.MINIMAX, api_key, evidence=evidence, base_url=base_url, path=MINIMAX_PATH,
                                timeout_s=timeout_s, max_response_bytes=max_response_bytes, transport=transport)


def moonshot_provider(api_key: str, *, evidence: ProviderEvidence, base_url: str = MOONSHOT_BASE_URL,
                      timeout_s: float = 60.0, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
                      transport: httpx2.BaseTransport | None = None) -> OpenAICompatProvider:
    return OpenAICompatProvider(Provider.MOONSHOT, api_key, evidence=evidence, base_url=base_url, path=MOONSHOT_PATH,
                                timeout_s=timeout_s, max_response_bytes=max_response_bytes, transport=transport)
