"""Build the provider map from settings (§11 keys): a missing key fails that provider closed, sending nothing."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from paulp.adapters.llm.anthropic_provider import ANTHROPIC_BASE_URL, AnthropicProvider
from paulp.adapters.llm.base import (
    DEFAULT_MAX_RESPONSE_BYTES,
    KeyMissingProvider,
    LlmProvider,
    ProviderRouter,
    default_timeout_s,
)
from paulp.adapters.llm.evidence import ProviderEvidence
from paulp.adapters.llm.gemini import GEMINI_BASE_URL, GeminiProvider
from paulp.adapters.llm.last_resort import CLOUDFLARE_BASE_URL, CloudflareProvider
from paulp.adapters.llm.openai_compat import MINIMAX_BASE_URL, MOONSHOT_BASE_URL, minimax_provider, moonshot_provider
from paulp.domain.js_text import js_trim
from paulp.domain.routing import Provider

# The four providers of the generic API dispatcher, in the §6.1 key order; Cloudflare is handled apart.
API_KEY_VARS: Mapping[Provider, str] = {
    Provider.ANTHROPIC: "ANTHROPIC_API_KEY",
    Provider.MINIMAX: "MINIMAX_API_KEY",
    Provider.MOONSHOT: "MOONSHOT_API_KEY",
    Provider.GOOGLE: "GOOGLE_AI_API_KEY",
}
CLOUDFLARE_ACCOUNT_VAR = "CLOUDFLARE_ACCOUNT_ID"
CLOUDFLARE_TOKEN_VAR = "CLOUDFLARE_API_TOKEN"  # noqa: S105 - a variable name, not a secret

DEFAULT_BASE_URLS: Mapping[Provider, str] = {
    Provider.ANTHROPIC: ANTHROPIC_BASE_URL,
    Provider.MINIMAX: MINIMAX_BASE_URL,
    Provider.MOONSHOT: MOONSHOT_BASE_URL,
    Provider.GOOGLE: GEMINI_BASE_URL,
    Provider.CLOUDFLARE: CLOUDFLARE_BASE_URL,
}


def base_url_var(provider: Provider) -> str:
    return f"LLM_{provider.upper()}_BASE_URL"


def timeout_var(provider: Provider) -> str:
    return f"LLM_{provider.upper()}_TIMEOUT_MS"


def max_bytes_var(provider: Provider) -> str:
    return f"LLM_{provider.upper()}_MAX_RESPONSE_BYTES"


def _clean(env: Mapping[str, str], name: str) -> str | None:
    """Trimmed as the key check trims (``js_trim``), so a key the check accepts is the key sent."""
    value = js_trim(env.get(name) or "")
    return value or None


@dataclass(frozen=True)
class LlmSettings:
    """Credentials (trimmed; blank = absent), base URLs, timeouts (each attempt's total deadline) and response size
    caps (ADR 0513); secrets stay out of the repr."""

    keys: Mapping[Provider, str] = field(default_factory=dict, repr=False)
    cloudflare_account_id: str | None = None
    cloudflare_api_token: str | None = field(default=None, repr=False)
    base_urls: Mapping[Provider, str] = field(default_factory=lambda: dict(DEFAULT_BASE_URLS))
    timeouts_s: Mapping[Provider, float] = field(
        default_factory=lambda: {p: default_timeout_s(p) for p in Provider})
    max_response_bytes: Mapping[Provider, int] = field(
        default_factory=lambda: dict.fromkeys(Provider, DEFAULT_MAX_RESPONSE_BYTES))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LlmSettings:
        """Read `ANTHROPIC_API_KEY` …, `CLOUDFLARE_*`, optional `LLM_<PROVIDER>_BASE_URL` / `_TIMEOUT_MS` /
        `_MAX_RESPONSE_BYTES`."""
        env = os.environ if env is None else env
        keys = {p: v for p, var in API_KEY_VARS.items() if (v := _clean(env, var)) is not None}
        urls = {p: _clean(env, base_url_var(p)) or DEFAULT_BASE_URLS[p] for p in Provider}
        timeouts = {p: default_timeout_s(p) for p in Provider}
        for p in Provider:
            raw = _clean(env, timeout_var(p))
            if raw is not None:
                timeouts[p] = int(raw) / 1000
        caps = {p: _positive_int(env, max_bytes_var(p), DEFAULT_MAX_RESPONSE_BYTES) for p in Provider}
        return cls(keys, _clean(env, CLOUDFLARE_ACCOUNT_VAR), _clean(env, CLOUDFLARE_TOKEN_VAR), urls, timeouts,
                   caps)


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = _clean(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a positive number of bytes")
    return value


def available_providers(env: Mapping[str, str] | None = None) -> list[str]:
    """The API providers the dispatcher serves; with an env, only those whose key is set."""
    if env is None:
        return [str(p) for p in API_KEY_VARS]
    return [str(p) for p, var in API_KEY_VARS.items() if _clean(env, var) is not None]


def build_provider(provider: Provider, settings: LlmSettings, evidence: ProviderEvidence) -> LlmProvider:
    """Every client stores each answer in ``evidence`` before parsing it (ADR 0391)."""
    url, timeout = settings.base_urls[provider], settings.timeouts_s[provider]
    cap = settings.max_response_bytes.get(provider, DEFAULT_MAX_RESPONSE_BYTES)
    if provider is Provider.CLOUDFLARE:
        account, token = settings.cloudflare_account_id, settings.cloudflare_api_token
        if account is None or token is None:
            missing = [v for v, x in ((CLOUDFLARE_ACCOUNT_VAR, account), (CLOUDFLARE_TOKEN_VAR, token)) if x is None]
            return KeyMissingProvider(provider, *missing)
        return CloudflareProvider(account, token, evidence=evidence, base_url=url, timeout_s=timeout,
                                  max_response_bytes=cap)
    key = settings.keys.get(provider)
    if key is None:
        return KeyMissingProvider(provider, API_KEY_VARS[provider])
    if provider is Provider.ANTHROPIC:
        return AnthropicProvider(key, evidence=evidence, base_url=url, timeout_s=timeout, max_response_bytes=cap)
    if provider is Provider.MINIMAX:
        return minimax_provider(key, evidence=evidence, base_url=url, timeout_s=timeout, max_response_bytes=cap)
    if provider is Provider.MOONSHOT:
        return moonshot_provider(key, evidence=evidence, base_url=url, timeout_s=timeout, max_response_bytes=cap)
    return GeminiProvider(key, evidence=evidence, base_url=url, timeout_s=timeout, max_response_bytes=cap)


def build_providers(settings: LlmSettings | None = None, *, evidence: ProviderEvidence) -> ProviderRouter:
    """One client per provider, built once per process (in the composition root, never at import)."""
    settings = LlmSettings.from_env() if settings is None else settings
    return ProviderRouter({p: build_provider(p, settings, evidence) for p in Provider})
