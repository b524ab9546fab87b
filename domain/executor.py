"""Pure executor core (llm-routing §6.2-§6.3 step 6-7): walk a plan's chain through an injected call port."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from paulp.domain.routing import ErrorCode, Provider, RoutingError, actual_cost_usd, model_spec
from paulp.domain.routing_plan import Failure, RoutePlan

SAME_MODEL_RETRIES = 0  # §6.2: no automatic retry of the same model, ever
BODY_EXCERPT_CHARS = 200
CLOUDFLARE_RECOMMENDED_TIMEOUT_MS = 60_000

# §6.4 as the reference has it; cloudflare has none there (adapters use the recommended 60 s).
PROVIDER_TIMEOUT_MS: dict[Provider, int | None] = {
    Provider.ANTHROPIC: 60_000,
    Provider.MINIMAX: 30_000,
    Provider.MOONSHOT: 60_000,
    Provider.GOOGLE: 30_000,
    Provider.CLOUDFLARE: None,
}


def timeout_ms(provider: Provider) -> int:
    """The timeout an adapter must apply: the table's, or the recommended one where the source has none."""
    return PROVIDER_TIMEOUT_MS[provider] or CLOUDFLARE_RECOMMENDED_TIMEOUT_MS


class ProviderError(RoutingError):
    """Raised by a provider port when an attempt fails; the router moves on to the next model.

    ``evidence_hash`` names the stored response body when there was one (an HTTP error or an unparsable
    body), so the failed attempt still points at what the provider said (ADR 0391)."""

    code = ErrorCode.PROVIDER_SERVER_ERROR
    evidence_hash: str | None = None
    # A failure on our side, not the provider's (its answer could not be kept as evidence): it ends the route, as
    # every next model would be called, and paid, for an answer that could not be kept either. ``answered``: the
    # provider did answer, so the call may have been charged (ADR 0516).
    ends_route: bool = False
    answered: bool = False


class ProviderAuthFailed(ProviderError):
    """Raised on HTTP 401/403."""

    code = ErrorCode.PROVIDER_AUTH_FAILED


class ProviderRateLimited(ProviderError):
    """Raised on HTTP 429 (no backoff, no Retry-After)."""

    code = ErrorCode.PROVIDER_RATE_LIMITED


class ProviderServerError(ProviderError):
    """Raised on HTTP >= 500 and on any other unexpected non-2xx status."""

    code = ErrorCode.PROVIDER_SERVER_ERROR


class ProviderTimeout(ProviderError):
    """Raised when the per-provider timeout elapsed and the request was aborted."""

    code = ErrorCode.PROVIDER_TIMEOUT


class ProviderParseError(ProviderError):
    """Raised when a 2xx body cannot be mapped (malformed JSON, missing fields)."""

    code = ErrorCode.PROVIDER_PARSE_ERROR


class AllModelsFailed(RoutingError):
    """Raised when every attempt of the plan failed; retryable is advice to the caller only."""

    code = ErrorCode.ALL_MODELS_FAILED


def provider_http_error(provider: str, status: int, body: str = "") -> ProviderError:
    """§6.2: map a non-2xx status; the message names provider and status and at most 200 body chars."""
    excerpt = body[:BODY_EXCERPT_CHARS]
    if status in (401, 403):
        return ProviderAuthFailed(f"{provider} API authentication failed (HTTP {status}): {excerpt}")
    if status == 429:
        return ProviderRateLimited(f"{provider} API rate limited (HTTP {status}): {excerpt}")
    if status >= 500:
        return ProviderServerError(f"{provider} API server error (HTTP {status}): {excerpt}")
    return ProviderServerError(f"{provider} API unexpected status (HTTP {status}): {excerpt}")


def provider_timeout(provider: str) -> ProviderTimeout:
    return ProviderTimeout(f"{provider} API request timed out after {timeout_ms(Provider(provider))} ms")


def classify_exception(exc: BaseException) -> ErrorCode:
    """The code an attempt failure is recorded under; unknown exceptions are network/other (ADR 0183)."""
    if isinstance(exc, RoutingError):
        return ErrorCode(exc.code)
    if isinstance(exc, TimeoutError):
        return ErrorCode.PROVIDER_TIMEOUT
    return ErrorCode.PROVIDER_NETWORK_ERROR


class RoutingAction(StrEnum):
    FALLBACK_TO_NEXT_MODEL = "fallback_to_next_model"
    STOP = "stop"


def routing_action(code: ErrorCode) -> RoutingAction:
    """Any attempt failure moves on; only pre-routing verdicts stop the call."""
    attempt_codes = {ErrorCode.PROVIDER_AUTH_FAILED, ErrorCode.PROVIDER_RATE_LIMITED,
                     ErrorCode.PROVIDER_SERVER_ERROR, ErrorCode.PROVIDER_TIMEOUT,
                     ErrorCode.PROVIDER_PARSE_ERROR, ErrorCode.PROVIDER_NETWORK_ERROR}
    return RoutingAction.FALLBACK_TO_NEXT_MODEL if code in attempt_codes else RoutingAction.STOP


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class CallResult:
    """What a provider port returns for one successful attempt."""

    content: str
    usage: Usage
    latency_ms: int
    evidence_hash: str | None = None  # the stored response body (ADR 0391); None for ports without one


CallPort = Callable[[str], CallResult]


@dataclass(frozen=True)
class AttemptRecord:
    model_id: str
    success: bool
    latency_ms: int | None = None
    error_code: ErrorCode | None = None
    error_message: str | None = None
    evidence_hash: str | None = None


@dataclass(frozen=True)
class Execution:
    """The outcome of walking a plan: attempts in order, then success (with actual cost) or a failure."""

    plan: RoutePlan
    attempts: tuple[AttemptRecord, ...]
    content: str | None
    usage: Usage | None
    failure: Failure | None
    answer_unused: bool = False  # a provider answered (and may have charged) but its answer was not used (0516)

    @property
    def success(self) -> bool:
        return self.failure is None

    @property
    def provider_called(self) -> bool:
        return bool(self.attempts)

    @property
    def resolved_model_id(self) -> str | None:
        return self.attempts[-1].model_id if self.success else None

    @property
    def latency_ms(self) -> int | None:
        return self.attempts[-1].latency_ms if self.success else None

    @property
    def attempted(self) -> tuple[str, ...]:
        return tuple(a.model_id for a in self.attempts)


def execute_plan(plan: RoutePlan, call: CallPort) -> Execution:
    """Try each model once, in order; never call anything when the plan failed closed."""
    if plan.failure is not None:
        return Execution(plan, (), None, None, plan.failure)
    attempts: list[AttemptRecord] = []
    last_error = "no model in the attempt list"
    for model_id in plan.attempts:
        try:
            result = call(model_id)
        except Exception as exc:  # any exception moves on to the next model (§6.2)
            last_error = str(exc) or type(exc).__name__
            evidence = exc.evidence_hash if isinstance(exc, ProviderError) else None
            attempts.append(AttemptRecord(model_id, False, None, classify_exception(exc), last_error, evidence))
            if isinstance(exc, ProviderError) and exc.ends_route:
                failure = Failure(ErrorCode.ALL_MODELS_FAILED,
                                  f"Route stopped, no further model called. Last error: {last_error}",
                                  f"route stopped, no further model called: {last_error}", route_stopped=True)
                return Execution(plan, tuple(attempts), None, None, failure, answer_unused=exc.answered)
            continue
        u = result.usage
        actual = actual_cost_usd(model_id, u.input_tokens, u.output_tokens, u.cached_tokens, u.cost_usd)
        attempts.append(AttemptRecord(model_id, True, result.latency_ms, evidence_hash=result.evidence_hash))
        return Execution(plan, tuple(attempts), result.content, replace(u, cost_usd=actual), None)
    failure = Failure(ErrorCode.ALL_MODELS_FAILED, f"All models failed. Last error: {last_error}", last_error)
    return Execution(plan, tuple(attempts), None, None, failure)


def selected_provider(model_id: str) -> Provider:
    return model_spec(model_id).provider
