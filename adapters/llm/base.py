"""The executor's provider port over real HTTP (llm-routing §6.2, §6.4, §6.5, §11).

Each provider sends exactly one request per attempt (no retries: the executor moves on to the next
model), maps every failure to a typed `ProviderError`, and returns usage normalised per §6.5 with the
§2.4 cost. Keys never reach a message: errors are built outside the SDK's exception context and any
echo of the key in a response body is redacted.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from paulp.adapters.http_bounds import DEADLINE, MIB, ResponseCutOff
from paulp.adapters.llm.evidence import ProviderEvidence, evidenced
from paulp.domain.canonical import loads_strict
from paulp.domain.executor import (
    BODY_EXCERPT_CHARS,
    CallPort,
    CallResult,
    ProviderError,
    ProviderParseError,
    ProviderTimeout,
    Usage,
    provider_http_error,
    timeout_ms,
)
from paulp.domain.governed_call import ProviderKeyMissing
from paulp.domain.routing import ErrorCode, ModelSpec, Provider, cost_usd, model_spec

REDACTED = "***"
DEFAULT_MAX_RESPONSE_BYTES = 4 * MIB  # a reply of a few thousand tokens is tens of KB (ADR 0513)


class ProviderNetworkError(ProviderError):
    """Raised when the request never got an HTTP answer (DNS, refused, reset)."""

    code = ErrorCode.PROVIDER_NETWORK_ERROR


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str


@dataclass(frozen=True)
class WireParams:
    """What one attempt asks for; taken from the manifest, never hard-coded (§6.1 step 6)."""

    model: str
    max_tokens: int
    temperature: float
    cache_strategy: str


def wire_params(spec: ModelSpec) -> WireParams:
    return WireParams(spec.provider_model_id, spec.default_max_tokens, spec.default_temperature,
                      str(spec.cache_strategy))


@dataclass(frozen=True)
class Parsed:
    """A mapped 2xx body: content, §6.5 usage (cost not yet priced), and the provider's raw input count."""

    content: str
    usage: Usage
    reported_input_tokens: int


@dataclass(frozen=True)
class ProviderCallResult(CallResult):
    """A `CallResult` from a real provider: its body is already in the evidence store (``evidence_hash``)."""

    provider: str = ""


class LlmProvider(Protocol):
    name: Provider

    def complete(self, spec: ModelSpec, prompt: Prompt) -> ProviderCallResult: ...


def default_timeout_s(provider: Provider) -> float:
    return timeout_ms(provider) / 1000


def redact(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def status_error(provider: Provider, status: int, body: str, secret: str) -> ProviderError:
    """§6.2 mapping with the key scrubbed from the excerpt (a body may echo it): from the whole body, before the
    excerpt is cut, so a key the cut would split leaves no part behind (ADR 0514)."""
    return provider_http_error(str(provider), status, redact(body, secret)[: BODY_EXCERPT_CHARS * 2])


def timeout_error(provider: Provider, timeout_s: float) -> ProviderTimeout:
    return ProviderTimeout(f"{provider} API request timed out after {round(timeout_s * 1000)} ms")


def cut_off_error(provider: Provider, cut: ResponseCutOff, evidence: ProviderEvidence, endpoint: str, model: str,
                  secret: str) -> ProviderError:
    """An answer abandoned at the total deadline or the size cap (ADR 0513), its start evidenced when it had one:
    past the deadline PROVIDER_TIMEOUT (§6.2: the router moves on), a too-large 2xx PROVIDER_PARSE_ERROR, a
    too-large error status the error that status means."""
    if cut.status is None:
        return timeout_error(provider, cut.bounds.deadline_s)
    evidence_hash = evidence.keep(provider, endpoint, model, cut.status, cut.prefix, secret, cut_off=cut.reason)
    if cut.reason == DEADLINE:
        error: ProviderError = ProviderTimeout(f"{provider} API request timed out after "
                                               f"{round(cut.bounds.deadline_s * 1000)} ms (HTTP {cut.status}, "
                                               "answer not complete)")
    elif 200 <= cut.status < 300:
        error = parse_error(provider, cut.describe())
    else:
        error = status_error(provider, cut.status, cut.prefix.decode("utf-8", "replace"), secret)
    return evidenced(error, evidence_hash)


def network_error(provider: Provider, exc: BaseException) -> ProviderNetworkError:
    """Name only the exception type: SDK messages may quote the URL (Gemini's carries the key)."""
    return ProviderNetworkError(f"{provider} API request failed: {type(exc).__name__}")


def parse_error(provider: Provider, what: str) -> ProviderParseError:
    return ProviderParseError(f"{provider} API response could not be mapped: {what}")


def load_json_object(provider: Provider, body: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    try:
        data = loads_strict(body)
    except (ValueError, UnicodeDecodeError):
        raise parse_error(provider, "body is not JSON") from None
    if not isinstance(data, dict):
        raise parse_error(provider, "body is not a JSON object")
    return data


def token_count(provider: Provider, container: Mapping[str, Any], field: str, *, optional: bool = False) -> int:
    """A non-negative integer token field; a missing optional one is 0 (§6.5). ``12.0`` is the JSON number 12
    (JSON has one number type; ADR 0486); ``12.5`` is refused."""
    value = container.get(field)
    if value is None and optional:
        return 0
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise parse_error(provider, f"usage field {field!r} is {value!r}")
    return value


def object_field(provider: Provider, container: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = container.get(field)
    if not isinstance(value, dict):
        raise parse_error(provider, f"field {field!r} missing or not an object")
    return value


def key_missing(*env_vars: str) -> ProviderKeyMissing:
    return ProviderKeyMissing(list(env_vars))


class KeyMissingProvider:
    """Stands in for a provider without credentials: every attempt fails closed and sends nothing."""

    def __init__(self, name: Provider, *env_vars: str) -> None:
        self.name = name
        self._env_vars = env_vars

    def complete(self, spec: ModelSpec, prompt: Prompt) -> ProviderCallResult:
        raise key_missing(*self._env_vars)


def priced(spec: ModelSpec, parsed: Parsed, evidence_hash: str, started: float) -> ProviderCallResult:
    """Attach the §2.4 cost of the actual tokens, the attempt's own latency and the stored body's hash."""
    u = parsed.usage
    usage = replace(u, cost_usd=cost_usd(spec.resolved_model_id, u.input_tokens, u.output_tokens, u.cached_tokens))
    latency = int((time.monotonic() - started) * 1000)
    return ProviderCallResult(parsed.content, usage, latency, evidence_hash, str(spec.provider))


class ProviderRouter:
    """The provider map behind the executor's port: model id → provider, prompt bound per call."""

    def __init__(self, providers: Mapping[Provider, LlmProvider]) -> None:
        self._providers = dict(providers)

    @property
    def providers(self) -> Mapping[Provider, LlmProvider]:
        return dict(self._providers)

    def call(self, model_id: str, prompt: Prompt) -> ProviderCallResult:
        spec = model_spec(model_id)
        provider = self._providers.get(spec.provider)
        if provider is None:
            raise ProviderError(f"{spec.provider} API has no configured client")
        return provider.complete(spec, prompt)

    def port(self, system: str, user: str) -> CallPort:
        """A `CallPort` for `execute_plan`/`governed_call`: one call per model id, the prompt fixed."""
        prompt = Prompt(system, user)

        def call(model_id: str) -> CallResult:
            return self.call(model_id, prompt)

        return call


_KEY_PARAM = re.compile(r"([?&]key=)[^&\s\"']+")


def redact_query_key(text: str) -> str:
    return _KEY_PARAM.sub(r"\1" + REDACTED, text)


class QueryKeyRedactor(logging.Filter):
    """Rewrite log records that carry a URL with `?key=` (Gemini's key travels in the query, §11)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_query_key(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_REDACTOR = QueryKeyRedactor()


def install_log_redaction(logger_names: tuple[str, ...] = ("httpx", "httpcore")) -> None:
    """Idempotent: attach the query-key redactor to the HTTP client loggers."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)
