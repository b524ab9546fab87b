"""LLM model manifest (llm-routing §2): the 5 models, route-class chains, the cost formula."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class RouteClass(StrEnum):
    DETERMINISTIC_HARD_CONTROL = "deterministic_hard_control"
    PREMIUM_COGNITION = "premium_cognition"
    SCANNER_FASTPATH = "scanner_fastpath"
    SYNTHESIS_LONG_CONTEXT = "synthesis_long_context"
    CHEAP_ENRICHMENT = "cheap_enrichment"


class CacheStrategy(StrEnum):
    NONE = "none"
    ANTHROPIC_PROMPT_CACHE = "anthropic_prompt_cache"
    GEMINI_CONTEXT_CACHE = "gemini_context_cache"
    MINIMAX_PROMPT_CACHE = "minimax_prompt_cache"
    MOONSHOT_PROMPT_CACHE = "moonshot_prompt_cache"


class Provider(StrEnum):
    ANTHROPIC = "anthropic"
    MINIMAX = "minimax"
    MOONSHOT = "moonshot"
    GOOGLE = "google"
    CLOUDFLARE = "cloudflare"


class ManifestLookupError(LookupError):
    """Raised on a lookup of an unknown model id or route class: a programming error (§2.3)."""

    code = "MANIFEST_LOOKUP"


@dataclass(frozen=True)


class ModelSpec:
    resolved_model_id: str
    provider: Provider
    provider_model_id: str
    default_temperature: float
    default_max_tokens: int
    cache_strategy: CacheStrategy
    input_per_1m: float
    output_per_1m: float
    cached_input_per_1m: float | None
    preview: bool
    context_window_tokens: int | None = None  # informational only; never gates routing


OPUS = "anthropic:claude-opus-4-6"
MINIMAX = "minimax:MiniMax-M2.5-highspeed"
KIMI = "moonshot:kimi-k2.5"
GEMINI = "google:gemini-3-flash-preview"
LLAMA = "cloudflare:@cf/meta/llama-3.1-70b-instruct"

MODELS: Mapping[str, ModelSpec] = {
    m.resolved_model_id: m
    for m in (
        ModelSpec(OPUS, Provider.ANTHROPIC, "claude-opus-4-6", 0.1, 4096,
                  CacheStrategy.ANTHROPIC_PROMPT_CACHE, 15, 75, 1.5, False, 1_000_000),
        ModelSpec(MINIMAX, Provider.MINIMAX, "MiniMax-M2.5-highspeed", 0.1, 2048,
                  CacheStrategy.MINIMAX_PROMPT_CACHE, 0.15, 0.6, None, False, 205_000),
        ModelSpec(KIMI, Provider.MOONSHOT, "kimi-k2.5", 0.1, 4096,
                  CacheStrategy.MOONSHOT_PROMPT_CACHE, 0.12, 0.48, None, False, 256_000),
        ModelSpec(GEMINI, Provider.GOOGLE, "gemini-3-flash-preview", 0.1, 8192,
                  CacheStrategy.GEMINI_CONTEXT_CACHE, 0.1, 0.4, None, True, 1_048_576),
        ModelSpec(LLAMA, Provider.CLOUDFLARE, "@cf/meta/llama-3.1-70b-instruct", 0.1, 2048,
                  CacheStrategy.NONE, 0, 0, None, False, 24_000),
    )
}


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens (§2.1, §2.4); ``cached_input_per_1m`` None means the input rate."""

    input_per_1m: float
    output_per_1m: float
    cached_input_per_1m: float | None = None


Prices = Mapping[str, ModelPrice]
# The manifest's table: every budget vector depends on it, so it stays the default (§2.1 "ambiguous: pricing").
DEFAULT_PRICES: Prices = {
    m.resolved_model_id: ModelPrice(m.input_per_1m, m.output_per_1m, m.cached_input_per_1m) for m in MODELS.values()
}


CHAINS: Mapping[RouteClass, tuple[str, ...]] = {
    RouteClass.DETERMINISTIC_HARD_CONTROL: (),
    RouteClass.PREMIUM_COGNITION: (OPUS, KIMI, GEMINI, LLAMA),
    RouteClass.SCANNER_FASTPATH: (MINIMAX, GEMINI, KIMI, LLAMA),
    RouteClass.SYNTHESIS_LONG_CONTEXT: (KIMI, GEMINI, OPUS, LLAMA),
    RouteClass.CHEAP_ENRICHMENT: (GEMINI, MINIMAX, KIMI, LLAMA),
}


def model_spec(model_id: str) -> ModelSpec:
    try:
        return MODELS[model_id]
    except KeyError:
        raise ManifestLookupError(f"unknown model id {model_id!r}") from None


def parse_model_id(model_id: str) -> tuple[str, str]:
    """Split at the FIRST colon: the Cloudflare id carries '/' and '@' but no colon."""
    provider, sep, rest = model_id.partition(":")
    if not sep:
        raise ManifestLookupError(f"model id {model_id!r} has no provider prefix")
    return provider, rest


def route_class_of(value: str) -> RouteClass:
    try:
        return RouteClass(value)
    except ValueError:
        raise ManifestLookupError(f"unknown route class {value!r}") from None


def llm_allowed(route_class: RouteClass) -> bool:
    return bool(CHAINS[route_class_of(route_class)])


def default_model(route_class: RouteClass) -> str | None:
    chain = CHAINS[route_class_of(route_class)]
    return chain[0] if chain else None


def fallback_models(route_class: RouteClass) -> tuple[str, ...]:
    return CHAINS[route_class_of(route_class)][1:]


def attempt_order(route_class: RouteClass, force_model: str | None = None) -> tuple[str, ...]:
    """[default] + fallbacks, first occurrence kept; exactly [forced] with a forced model."""
    if force_model is not None:
        return (force_model,)
    return tuple(dict.fromkeys(CHAINS[route_class_of(route_class)]))


def is_valid_model(model_id: str) -> bool:
    return model_id in MODELS


def is_valid_route_class(value: str) -> bool:
    return value in RouteClass.__members__.values()


def cost_usd(model_id: str, input_tokens: float, output_tokens: float, cached_input_tokens: float = 0,
             prices: Prices | None = None) -> float:
    """§2.4, evaluated in the spec's order so floats are bit-identical to the reference; ``prices`` are the
    operator's (ADR 0399), the manifest's when None."""
    m = (prices or DEFAULT_PRICES).get(model_id)
    if m is None:
        raise ManifestLookupError(f"unknown model id {model_id!r}")
    non_cached = max(0, input_tokens - cached_input_tokens)
    cached_rate = m.cached_input_per_1m if m.cached_input_per_1m is not None else m.input_per_1m
    return (non_cached / 1e6 * m.input_per_1m + cached_input_tokens / 1e6 * cached_rate
            + output_tokens / 1e6 * m.output_per_1m)


def actual_cost_usd(model_id: str, input_tokens: int, output_tokens: int, cached_tokens: int,
                    reported_cost_usd: float) -> float:
    """Prefer the provider-reported cost when positive, else price the actual tokens (§6.5)."""
    if reported_cost_usd > 0:
        return reported_cost_usd
    return cost_usd(model_id, input_tokens, output_tokens, cached_tokens)
