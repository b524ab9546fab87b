"""Google Gemini over its native v1beta REST API with httpx (§11, ADR 0240): key in the query string only.

Each attempt ends within the §6.4 timeout in total and its answer is cut off at the size cap (ADR 0513)."""

from __future__ import annotations

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
    WireParams,
    cut_off_error,
    install_log_redaction,
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
from paulp.domain.executor import ProviderAuthFailed, ProviderError, Usage
from paulp.domain.routing import ModelSpec, Provider

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"


def gemini_url(base_url: str, model: str) -> str:
    return f"{base_url.rstrip('/')}/models/{model}:generateContent"


def gemini_body(params: WireParams, prompt: Prompt) -> dict[str, Any]:
    """No `cachedContent` even under `gemini_context_cache`: the strategy is a label only (§2.1)."""
    return {"contents": [{"parts": [{"text": prompt.user}]}],
            "systemInstruction": {"parts": [{"text": prompt.system}]},
            "generationConfig": {"temperature": params.temperature, "maxOutputTokens": params.max_tokens}}


def parse_gemini(body: bytes | str | Mapping[str, Any]) -> Parsed:
    """Parts of the first candidate concatenated (missing → ""); usageMetadata per §6.5."""
    p = Provider.GOOGLE
    data = load_json_object(p, body)
    text = ""
    candidates = data.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        content = candidates[0].get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        if isinstance(parts, list):
            pieces = [part.get("text") for part in parts if isinstance(part, dict) and "text" in part]
            if any(not isinstance(x, str) for x in pieces):
                raise parse_error(p, "a candidate part has a non-string 'text'")
            text = "".join(x for x in pieces if isinstance(x, str))
    meta = object_field(p, data, "usageMetadata")
    inp = token_count(p, meta, "promptTokenCount")
    # A reply with no candidates text may omit candidatesTokenCount; it then produced no output tokens.
    out = token_count(p, meta, "candidatesTokenCount", optional=True)
    return Parsed(text, Usage(inp, out, token_count(p, meta, "cachedContentTokenCount", optional=True)), inp)


def _is_invalid_key(body: str) -> bool:
    """Google answers a bad key with 400 INVALID_ARGUMENT + reason API_KEY_INVALID (ADR 0240)."""
    try:
        details = load_json_object(Provider.GOOGLE, body).get("error", {}).get("details", [])
    except (ProviderError, AttributeError):
        return False
    return isinstance(details, list) and any(isinstance(d, dict) and d.get("reason") == "API_KEY_INVALID"
                                             for d in details)


class GeminiProvider:
    name = Provider.GOOGLE

    def __init__(self, api_key: str, *, evidence: ProviderEvidence, base_url: str = GEMINI_BASE_URL,
                 timeout_s: float = 30.0, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
                 transport: httpx.BaseTransport | None = None) -> None:
        install_log_redaction()
        self._key = api_key
        self._evidence = evidence
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._client = bounded_client(ResponseBounds(timeout_s, max_response_bytes), transport=transport)

    def complete(self, spec: ModelSpec, prompt: Prompt) -> ProviderCallResult:
        body = gemini_body(wire_params(spec), prompt)
        started = time.monotonic()
        error: ProviderError | None = None
        cut: ResponseCutOff | None = None
        url = gemini_url(self._base_url, spec.provider_model_id)  # the key goes in the query, never in here
        try:
            response = self._client.post(url,
                                         params={"key": self._key}, json=body,
                                         timeout=httpx.Timeout(self._timeout_s))
        except ResponseCutOff as exc:
            cut = exc
        except httpx.TimeoutException:
            error = timeout_error(self.name, self._timeout_s)
        except httpx.HTTPError as exc:
            error = network_error(self.name, exc)
        if cut is not None:
            raise cut_off_error(self.name, cut, self._evidence, url, spec.provider_model_id, self._key)
        if error is not None:
            raise error
        raw = response.content
        evidence = self._evidence.keep(self.name, url, spec.provider_model_id, response.status_code, raw, self._key)
        if not response.is_success:
            text = response.text
            if response.status_code == 400 and _is_invalid_key(text):
                raise evidenced(ProviderAuthFailed(f"{self.name} API authentication failed (HTTP 400 API_KEY_INVALID):"
                                                   f" {redact(text, self._key)[:200]}"), evidence)
            raise evidenced(status_error(self.name, response.status_code, text, self._key), evidence)
        return priced(spec, parse_evidenced(evidence, lambda: parse_gemini(raw)), evidence, started)

    def close(self) -> None:
        self._client.close()
