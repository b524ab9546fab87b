"""The last-resort model over the Cloudflare Workers AI REST API (§11): Bearer token, estimated tokens, cost 0.

Each attempt ends within its timeout (60 s recommended) in total and its answer is cut off at the size cap
(ADR 0513)."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import httpx

from paulp.adapters.http_bounds import ResponseBounds, ResponseCutOff, bounded_client
from paulp.adapters.llm.base import (
    DEFAULT_MAX_RESPONSE_BYTES,
    Parsed,
    Prompt,
    ProviderCallResult,
    cut_off_error,
    load_json_object,
    network_error,
    parse_error,
    priced,
    status_error,
    timeout_error,
)
from paulp.adapters.llm.evidence import ProviderEvidence, evidenced, parse_evidenced
from paulp.domain.executor import ProviderError, ProviderServerError, Usage
from paulp.domain.routing import ModelSpec, Provider

CLOUDFLARE_BASE_URL = "https://api.cloudflare.com/client/v4"
CLOUDFLARE_MAX_TOKENS = 2000  # fixed in the source, not the manifest's 2048 (§6.1 step 6)
CLOUDFLARE_TEMPERATURE = 0.1


def cloudflare_url(base_url: str, account_id: str, model: str) -> str:
    return f"{base_url.rstrip('/')}/accounts/{account_id}/ai/run/{model}"


def cloudflare_body(prompt: Prompt) -> dict[str, Any]:
    return {"messages": [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}],
            "max_tokens": CLOUDFLARE_MAX_TOKENS, "temperature": CLOUDFLARE_TEMPERATURE}


def estimated_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def parse_cloudflare(body: bytes | str | Mapping[str, Any], prompt: Prompt) -> Parsed:
    """Reply text at `result.response` (or `result` itself when a string); tokens estimated (§6.5)."""
    p = Provider.CLOUDFLARE
    data = load_json_object(p, body)
    if data.get("success") is False:
        raise ProviderServerError(f"{p} API reported failure (HTTP 200): {str(data.get('errors'))[:200]}")
    result = data.get("result")
    if isinstance(result, str):
        text = result
    elif isinstance(result, dict):
        response = result.get("response")
        text = "" if response is None else response
        if not isinstance(text, str):
            raise parse_error(p, "result.response is not a string")
    else:
        raise parse_error(p, "field 'result' missing")
    estimate = estimated_tokens(prompt.system + prompt.user)
    return Parsed(text, Usage(estimate, estimated_tokens(text), 0, 0.0), estimate)


class CloudflareProvider:
    name = Provider.CLOUDFLARE

    def __init__(self, account_id: str, api_token: str, *, evidence: ProviderEvidence,
                 base_url: str = CLOUDFLARE_BASE_URL, timeout_s: float = 60.0,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._account_id = account_id
        self._evidence = evidence
        self._token = api_token
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._client = bounded_client(ResponseBounds(timeout_s, max_response_bytes), transport=transport)

    def complete(self, spec: ModelSpec, prompt: Prompt) -> ProviderCallResult:
        started = time.monotonic()
        error: ProviderError | None = None
        cut: ResponseCutOff | None = None
        url = cloudflare_url(self._base_url, self._account_id, spec.provider_model_id)
        try:
            response = self._client.post(url, json=cloudflare_body(prompt),
                                         headers={"Authorization": f"Bearer {self._token}"},
                                         timeout=httpx.Timeout(self._timeout_s))
        except ResponseCutOff as exc:
            cut = exc
        except httpx.TimeoutException:
            error = timeout_error(self.name, self._timeout_s)
        except httpx.HTTPError as exc:
            error = network_error(self.name, exc)
        if cut is not None:
            raise cut_off_error(self.name, cut, self._evidence, url, spec.provider_model_id, self._token)
        if error is not None:
            raise error
        raw = response.content
        evidence = self._evidence.keep(self.name, url, spec.provider_model_id, response.status_code, raw,
                                       self._token)
        if not response.is_success:
            raise evidenced(status_error(self.name, response.status_code, response.text, self._token), evidence)
        return priced(spec, parse_evidenced(evidence, lambda: parse_cloudflare(raw, prompt)), evidence, started)

    def close(self) -> None:
        self._client.close()
