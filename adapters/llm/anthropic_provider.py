"""Anthropic Messages API through the official SDK (§11): x-api-key auth, prompt-cache beta, native body.

The SDK talks through a bounding transport: the whole attempt ends within the §6.4 timeout and the answer is cut
off at the size cap (ADR 0513)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import anthropic
import httpx2

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
    parse_error,
    priced,
    status_error,
    timeout_error,
    token_count,
    wire_params,
)
from paulp.adapters.llm.evidence import ProviderEvidence, evidenced, parse_evidenced
from paulp.domain.executor import ProviderError, Usage
from paulp.domain.routing import CacheStrategy, ModelSpec, Provider

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
MESSAGES_PATH = "/v1/messages"
ANTHROPIC_VERSION = "2023-06-01"
ANTHROPIC_BETA = "prompt-caching-2024-07-31"


def anthropic_headers(api_key: str) -> dict[str, str]:
    """§11 headers; the SDK's own Bearer header and newer API version are replaced."""
    return {"x-api-key": api_key, "anthropic-version": ANTHROPIC_VERSION, "anthropic-beta": ANTHROPIC_BETA,
            "content-type": "application/json"}


def anthropic_body(params: WireParams, prompt: Prompt) -> dict[str, Any]:
    """Plain-string system, or one cached text block under `anthropic_prompt_cache`."""
    system: str | list[dict[str, Any]] = prompt.system
    if params.cache_strategy == CacheStrategy.ANTHROPIC_PROMPT_CACHE:
        system = [{"type": "text", "text": prompt.system, "cache_control": {"type": "ephemeral"}}]
    return {"model": params.model, "max_tokens": params.max_tokens, "temperature": params.temperature,
            "system": system, "messages": [{"role": "user", "content": prompt.user}]}


def parse_anthropic(body: bytes | str | Mapping[str, Any]) -> Parsed:
    """Text blocks concatenated; input normalised to the whole prompt incl. cache reads/writes (ADR 0241)."""
    p = Provider.ANTHROPIC
    data = load_json_object(p, body)
    blocks = data.get("content")
    if not isinstance(blocks, list):
        raise parse_error(p, "field 'content' missing or not a list")
    texts = [b.get("text") for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
    if any(not isinstance(t, str) for t in texts):
        raise parse_error(p, "a text block has no string 'text'")
    usage = data.get("usage")
    if not isinstance(usage, dict):
        raise parse_error(p, "field 'usage' missing or not an object")
    reported = token_count(p, usage, "input_tokens")
    cached = (token_count(p, usage, "cache_read_input_tokens", optional=True)
              + token_count(p, usage, "cache_creation_input_tokens", optional=True))
    output = token_count(p, usage, "output_tokens")
    return Parsed("".join(t for t in texts if isinstance(t, str)), Usage(reported + cached, output, cached), reported)


class AnthropicProvider:
    name = Provider.ANTHROPIC

    def __init__(self, api_key: str, *, evidence: ProviderEvidence, base_url: str = ANTHROPIC_BASE_URL,
                 timeout_s: float = 60.0, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
                 transport: httpx2.BaseTransport | None = None) -> None:
        self._key = api_key
        self._timeout_s = timeout_s
        self._evidence = evidence
        self._endpoint = base_url.rstrip("/") + MESSAGES_PATH
        http_client = bounded_client2(ResponseBounds(timeout_s, max_response_bytes), transport=transport,
                                      timeout=timeout_s)
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0, http_client=http_client,
            default_headers={**anthropic_headers(api_key), "Authorization": anthropic.Omit()},  # type: ignore[dict-item]
        )

    def complete(self, spec: ModelSpec, prompt: Prompt) -> ProviderCallResult:
        body = anthropic_body(wire_params(spec), prompt)
        started = time.monotonic()
        error: ProviderError | None = None
        cut: ResponseCutOff | None = None
        try:
            response = self._client.post(MESSAGES_PATH, body=body, cast_to=httpx2.Response)
        except ResponseCutOff as exc:  # the bounding transport's refusal, as the SDK let it through
            cut = exc
        except anthropic.APITimeoutError:
            error = timeout_error(self.name, self._timeout_s)
        except anthropic.APIStatusError as exc:
            response = exc.response  # an answer all the same: stored below, outside the SDK's exception
        except (anthropic.APIError, httpx2.HTTPError) as exc:
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
        return priced(spec, parse_evidenced(evidence, lambda: parse_anthropic(raw)), evidence, started)

    def close(self) -> None:
        self._client.close()
