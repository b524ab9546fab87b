"""Settings from the environment (names from the runbook and api-and-security §8); secrets never echoed.

Every optional secret or variable treats an empty string as unset (§2.7, §8). ``ENVIRONMENT`` has no usable
default: a ``Settings`` built without it, from the environment or in code, raises ``ConfigError`` (ADR 0353).
Start-up validation
(`validate_startup`) fails closed with a `ConfigError` whose message names the variable and never
contains a secret value.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paulp.adapters.redact import mask_nats_url, mask_url
from paulp.domain.js_text import js_trim

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ENVIRONMENTS = ("production", "staging", "development", "test")
LOCAL_ENVIRONMENTS = ("development", "test")  # the only ones that serve the OpenAPI schema and its UIs (ADR 0339)
MIN_PRODUCTION_TOKEN_CHARS = 32
TOKEN_NAME = re.compile(r"^([a-z0-9_.-]+)[=:](.*)$", re.DOTALL)
DEFAULT_TURNSTILE_VERIFY_URL = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
NAMESPACE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,40}\Z")  # it names the NATS stream (upper-cased) and subjects

_OPTIONAL_TEXT = (
    "PAULP_DATABASE_URL", "PAULP_NATS_URL", "PAULP_ANCHOR_DATABASE_URL", "PAULP_EVIDENCE_DIR",
    "PAULP_AUDIT_MIRROR_DIR", "ADMIN_TOKEN", "ADMIN_TOKENS", "ADMIN_ALLOWED_EMAILS", "ADMIN_ALLOWED_IPS",
    "ADMIN_TURNSTILE_SECRET", "CF_ACCESS_TEAM_DOMAIN", "CF_ACCESS_AUDIENCE", "CF_ACCESS_CERTS_URL",
    "WEBHOOK_TRIGGER_TOKEN", "METRICS_TOKEN", "KALSHI_WEBHOOK_SECRET", "WEBHOOK_SHARED_SECRET", "KALSHI_API_KEY",
    "KALSHI_PRIVATE_KEY", "ANTHROPIC_API_KEY", "MINIMAX_API_KEY", "MOONSHOT_API_KEY", "GOOGLE_AI_API_KEY",
    "LLM_ROUTING_FORCE_MODEL", "LLM_ROUTING_FORCE_ROUTE_CLASS", "IBKR_ACCOUNT_ID", "IBKR_USERNAME",
    "IBKR_PASSWORD", "NOAA_CDO_TOKEN", "NOAA_CDO_CONTACT",
)
# Plain-text settings that may carry a password or token: shown masked by the settings' repr (ADR 0514)
_MASKED_IN_REPR: dict[str, Callable[[str], str]] = {
    "PAULP_DATABASE_URL": mask_url, "PAULP_ANCHOR_DATABASE_URL": mask_url, "PAULP_NATS_URL": mask_nats_url,
}


class ConfigError(RuntimeError):
    """Raised at start-up when configuration is missing or invalid; the message names the variable."""


def parse_backoff(text: str) -> tuple[float, ...]:
    """``"1,5,30,120"`` → waits in seconds; at least one, each finite and in [0, 3600]."""
    try:
        waits = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError("PAULP_PROJECTOR_BACKOFF_S must be comma-separated seconds, e.g. 1,5,30,120") from None
    if not all(0 <= w <= 3600 for w in waits):  # also refuses nan and inf
        raise ValueError("PAULP_PROJECTOR_BACKOFF_S: each wait must be between 0 and 3600 seconds")
    return waits


@dataclass(frozen=True)
class NamedToken:
    """One operator bearer token and the actor it authenticates as; the repr shows only the actor."""

    actor: str
    token: str = field(repr=False)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _csv(raw: str | None) -> list[str]:
    """Comma-separated, trimmed as the source's ``trim`` (so a byte-order mark goes too, ADR 0453), lower-cased."""
    return [js_trim(part).lower() for part in (raw or "").split(",") if js_trim(part)]


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def canonical_ip(address: IpAddress) -> IpAddress:
    """``::ffff:a.b.c.d`` is the IPv4 address it carries (§2.5)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(raw: str | None, variable: str) -> list[IpNetwork]:
    """Addresses and CIDR blocks (IPv4 and IPv6); an unparseable entry is a start-up error naming the variable."""
    networks: list[IpNetwork] = []
    for entry in _csv(raw):
        try:
            net = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(f"{variable} contains an entry that is not an IP address or CIDR block") from None
        if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 and net.network_address.ipv4_mapped:
            mapped = net.network_address.ipv4_mapped
            net = ipaddress.ip_network(f"{mapped}/{net.prefixlen - 96}", strict=False)
        networks.append(net)
    return networks


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=True)

    ENVIRONMENT: str = Field(default="", validate_default=True)  # required (§8): "" is refused, see below
    SYSTEM_NAME: str = "Paul P"  # api-and-security §8 default
    PAULP_DATABASE_URL: str | None = None
    PAULP_NATS_URL: str | None = None
    PAULP_ANCHOR_DATABASE_URL: str | None = None
    PAULP_STATE_DIR: Path = Path(".paulp")
    PAULP_NAMESPACE: str = "paulp"
    PAULP_HTTP_HOST: str = "127.0.0.1"
    PAULP_HTTP_PORT: int = Field(default=8787, ge=0, le=65535)
    PAULP_EVIDENCE_DIR: Path | None = None
    PAULP_AUDIT_MIRROR_DIR: Path | None = None
    PAULP_MARKS: bool = True  # scheduler re-marks open positions from venue market data every minute
    # The risk check's I17 fails when a view it reads has left an event unapplied for longer than this (ADR 0441)
    PAULP_RISK_MAX_VIEW_LAG_S: float = Field(default=30.0, gt=0, le=3600)
    PAULP_SCHEDULE_TRADING: bool = True  # §7.1 ingest/reconcile/scan/execute slots (anchor, report always)
    # Bus projectors (api-and-security §7.2; ADR 0398): deliveries of a failing message before it is dead-lettered,
    # and the waits between them (seconds, comma-separated; the last one repeats)
    PAULP_PROJECTOR_MAX_DELIVER: int = Field(default=5, ge=1, le=100)
    PAULP_PROJECTOR_BACKOFF_S: str = "1,5,30,120"
    PAULP_PROJECTOR_CONNECTIONS: int = Field(default=4, ge=1, le=64)  # the projectors' shared pool (ADR 0507)
    # A process told to stop lets the HTTP requests and job runs it has in flight finish for this long after the
    # signal; then requests are answered 503 and runs recorded as stopped (ADR 0515)
    PAULP_SHUTDOWN_GRACE_S: float = Field(default=30.0, gt=0, le=600)
    # Hours between the hourly audit job's full chain verifications; the runs between them verify only the new
    # records (ADR 0506). 0: every run is full. At most 24: §5.5 verifies the full chain daily
    PAULP_AUDIT_FULL_VERIFY_HOURS: int = 24

    # Operator auth (§2.1-2.6)
    ADMIN_TOKEN: SecretStr | None = None
    ADMIN_TOKENS: SecretStr | None = None
    ADMIN_ALLOWED_EMAILS: str | None = None
    ADMIN_ALLOWED_IPS: str | None = None
    PAULP_TRUSTED_PROXIES: str = "127.0.0.0/8,::1/128"
    ADMIN_TURNSTILE_SECRET: SecretStr | None = None
    ADMIN_TURNSTILE_VERIFY_URL: str = DEFAULT_TURNSTILE_VERIFY_URL
    CF_ACCESS_TEAM_DOMAIN: SecretStr | None = None
    CF_ACCESS_AUDIENCE: SecretStr | None = None
    CF_ACCESS_CERTS_URL: str | None = None

    # Prometheus scrape of /metrics (ADR 0338): this bearer, or operator auth; neither configured → 503
    METRICS_TOKEN: SecretStr | None = None

    # Webhooks (§2.7)
    WEBHOOK_TRIGGER_TOKEN: SecretStr | None = None
    KALSHI_WEBHOOK_SECRET: SecretStr | None = None
    WEBHOOK_SHARED_SECRET: SecretStr | None = None
    WEBHOOK_REQUIRE_SIGNATURE: bool = False

    # Venues and providers (§8, runbook)
    KALSHI_API_KEY: SecretStr | None = None
    KALSHI_PRIVATE_KEY: SecretStr | None = None
    KALSHI_BASE_URL: str = "https://api.elections.kalshi.com/trade-api/v2"
    IBKR_GATEWAY_URL: str = "https://localhost:5000/v1/api"
    IBKR_ACCOUNT_ID: str | None = None
    IBKR_USERNAME: SecretStr | None = None
    IBKR_PASSWORD: SecretStr | None = None
    NOAA_CDO_TOKEN: SecretStr | None = None
    NOAA_CDO_BASE_URL: str = "https://www.ncdc.noaa.gov/cdo-web/api/v2"  # http only to loopback (the fake)
    NOAA_CDO_CONTACT: str | None = None  # who NOAA can reach about our traffic: goes in the User-Agent
    NOAA_CDO_REQUESTS_PER_SECOND: float = Field(default=5.0, gt=0)  # CDO allows 5/s per token; lower to share
    # An answer over this is cut off there and refused (noaa_response_too_large; ADR 0513). 4 MiB default
    NOAA_CDO_MAX_RESPONSE_BYTES: int = Field(default=4 * 1024 * 1024, gt=0)
    ANTHROPIC_API_KEY: SecretStr | None = None
    MINIMAX_API_KEY: SecretStr | None = None
    MOONSHOT_API_KEY: SecretStr | None = None
    GOOGLE_AI_API_KEY: SecretStr | None = None
    LLM_ROUTING_FORCE_MODEL: SecretStr | None = None
    LLM_ROUTING_FORCE_ROUTE_CLASS: SecretStr | None = None

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        """``SecretStr`` fields show as ``**********``; the service URLs show with their passwords masked (a repr
        reaches tracebacks, test reports and debug logs; ADR 0514). The values themselves are unchanged."""
        for name, value in super().__repr_args__():
            mask = _MASKED_IN_REPR.get(name or "")
            yield name, mask(value) if mask is not None and isinstance(value, str) else value

    @field_validator("*", mode="before")
    @classmethod
    def _utf8(cls, v: object, info: ValidationInfo) -> object:
        """The environment reaches Python with bytes that are not UTF-8 as lone surrogates (``surrogateescape``),
        which no connection, log line or terminal can carry: refused by name, never shown, since the value may be
        a secret (ADR 0499)."""
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise ConfigError(f"{info.field_name} is not valid UTF-8") from None
        return v

    @field_validator("PAULP_DATABASE_URL", "PAULP_ANCHOR_DATABASE_URL")
    @classmethod
    def _connection_string(cls, v: str | None, info: ValidationInfo) -> str | None:
        """A malformed one failed at the first connection, as psycopg's ProgrammingError and a traceback. Not
        shown: it may hold a password."""
        if v is None:
            return v
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict

        try:
            conninfo_to_dict(v)
        except ProgrammingError:
            raise ConfigError(f"{info.field_name} is not a PostgreSQL connection URL or string"
                              " (postgresql://user@host:5432/dbname)") from None
        return v

    @field_validator(*_OPTIONAL_TEXT, mode="before")
    @classmethod
    def _blank_is_unset(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("PAULP_PROJECTOR_BACKOFF_S")
    @classmethod
    def _backoff_list(cls, v: str) -> str:
        parse_backoff(v)
        return v

    @field_validator("PAULP_AUDIT_FULL_VERIFY_HOURS", mode="before")
    @classmethod
    def _full_verify_hours(cls, v: object) -> object:
        """A whole number of hours, 0 to 24 (blank: unset, 24); anything else would silently move the daily full
        verification."""
        text = str(v).strip() if isinstance(v, (str, int)) and not isinstance(v, bool) else None
        if text == "":
            return 24
        if text is None or not re.fullmatch(r"[0-9]{1,2}", text) or int(text) > 24:
            raise ConfigError("PAULP_AUDIT_FULL_VERIFY_HOURS must be a whole number of hours from 0 (every hourly"
                              " run verifies the whole chain) to 24 (api-and-security §5.5: daily)")
        return int(text)

    @field_validator("PAULP_NAMESPACE")
    @classmethod
    def _namespace_usable(cls, v: str) -> str:
        """It names the NATS stream and subjects; a bad one failed later, inside the bus, as a traceback (ADR 0499)."""
        if not NAMESPACE_PATTERN.match(v):
            shown = v.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise ConfigError(f"PAULP_NAMESPACE must be a lowercase letter then up to 40 lowercase letters, digits"
                              f" or underscores ({NAMESPACE_PATTERN.pattern}); got '{shown}'")
        return v

    @field_validator("ENVIRONMENT")
    @classmethod
    def _environment_chosen(cls, v: str) -> str:
        """§8: a process runs only as an environment someone chose. A box that forgot the variable ran as
        development (API docs served, embedded servers); unset and blank now stop every entry point here,
        as a ConfigError (not a ValidationError) so the CLI reports it like every other start-up error."""
        if not v.strip():
            raise ConfigError(f"ENVIRONMENT is required (unset or blank): set it to one of {', '.join(ENVIRONMENTS)}")
        if v.lower() not in ENVIRONMENTS:
            raise ConfigError(f"ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}")
        return v

    @property
    def is_production(self) -> bool:
        return self.ENVIRONMENT.lower() == "production"

    def require_urls(self) -> None:
        """Start-up gate called by the CLI: service URLs in production (decision 8), then every §8 check."""
        if self.is_production:
            for name in ("PAULP_DATABASE_URL", "PAULP_NATS_URL"):
                if not getattr(self, name):
                    raise ConfigError(f"{name} is required when ENVIRONMENT=production")
        self.validate_startup()

    def validate_startup(self) -> None:
        """Fail closed on invalid configuration (§8); each message names the offending variable."""
        named = self.named_tokens()  # raises on a malformed ADMIN_TOKENS
        parse_networks(self.ADMIN_ALLOWED_IPS, "ADMIN_ALLOWED_IPS")
        parse_networks(self.PAULP_TRUSTED_PROXIES, "PAULP_TRUSTED_PROXIES")
        if self.is_production:
            token = _secret(self.ADMIN_TOKEN)
            if token is not None and len(token) < MIN_PRODUCTION_TOKEN_CHARS:
                raise ConfigError(f"ADMIN_TOKEN must be at least {MIN_PRODUCTION_TOKEN_CHARS} characters in production")
            if any(len(t.token) < MIN_PRODUCTION_TOKEN_CHARS for t in named if t.actor != "api-token-user"):
                raise ConfigError(f"ADMIN_TOKENS tokens must be at least {MIN_PRODUCTION_TOKEN_CHARS} characters "
                                  "in production")
            scrape = self.metrics_token()
            if scrape is not None and len(scrape) < MIN_PRODUCTION_TOKEN_CHARS:
                raise ConfigError(f"METRICS_TOKEN must be at least {MIN_PRODUCTION_TOKEN_CHARS} characters "
                                  "in production")
            for name in ("PAULP_ANCHOR_DATABASE_URL", "PAULP_EVIDENCE_DIR", "PAULP_AUDIT_MIRROR_DIR"):
                if not getattr(self, name):
                    raise ConfigError(f"{name} is required when ENVIRONMENT=production")
        if self.is_production and not self.operator_auth_configured:
            raise ConfigError("ADMIN_TOKEN (or ADMIN_TOKENS, or CF_ACCESS_TEAM_DOMAIN + CF_ACCESS_AUDIENCE) "
                              "is required when ENVIRONMENT=production")

    @property
    def serves_api_docs(self) -> bool:
        """``/openapi.json``, ``/docs`` and ``/redoc`` exist only in development and test (ADR 0339)."""
        return self.ENVIRONMENT.lower() in LOCAL_ENVIRONMENTS

    @property
    def operator_auth_configured(self) -> bool:
        """Some way for an operator to authenticate over HTTP; without one every operator route answers 401."""
        return bool(self.named_tokens()) or self.cf_access_configured

    # ------------------------------------------------------------------ derived views of the settings

    def named_tokens(self) -> list[NamedToken]:
        """``ADMIN_TOKEN`` as ``api-token-user`` plus ``ADMIN_TOKENS`` ``name=token`` pairs as ``token:<name>``."""
        tokens: list[NamedToken] = []
        admin = _secret(self.ADMIN_TOKEN)
        if admin is not None:
            tokens.append(NamedToken("api-token-user", admin))
        raw = _secret(self.ADMIN_TOKENS)
        for entry in (raw or "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            match = TOKEN_NAME.match(entry)
            if match is None or not match.group(2):
                raise ConfigError("ADMIN_TOKENS must be comma-separated name=token pairs (names [a-z0-9_.-]+)")
            tokens.append(NamedToken(f"token:{match.group(1)}", match.group(2)))
        return tokens

    def admin_tokens(self) -> list[str]:
        return [t.token for t in self.named_tokens()]

    def allowed_emails(self) -> list[str]:
        return _csv(self.ADMIN_ALLOWED_EMAILS)

    def allowed_networks(self) -> list[IpNetwork]:
        return parse_networks(self.ADMIN_ALLOWED_IPS, "ADMIN_ALLOWED_IPS")

    def trusted_proxies(self) -> list[IpNetwork]:
        return parse_networks(self.PAULP_TRUSTED_PROXIES, "PAULP_TRUSTED_PROXIES")

    @property
    def cf_access_configured(self) -> bool:
        return self.CF_ACCESS_TEAM_DOMAIN is not None and self.CF_ACCESS_AUDIENCE is not None

    def cf_team_domain(self) -> str | None:
        return _secret(self.CF_ACCESS_TEAM_DOMAIN)

    def cf_audience(self) -> str | None:
        return _secret(self.CF_ACCESS_AUDIENCE)

    def cf_certs_url(self) -> str | None:
        domain = self.cf_team_domain()
        if self.CF_ACCESS_CERTS_URL:
            return self.CF_ACCESS_CERTS_URL
        return f"https://{domain}/cdn-cgi/access/certs" if domain else None

    def webhook_trigger_token(self) -> str | None:
        """``WEBHOOK_TRIGGER_TOKEN``, else ``ADMIN_TOKEN`` (an empty string counts as unset)."""
        return _secret(self.WEBHOOK_TRIGGER_TOKEN) or _secret(self.ADMIN_TOKEN)

    def metrics_token(self) -> str | None:
        """The bearer a Prometheus scraper sends to ``/metrics`` (opens no other route)."""
        return _secret(self.METRICS_TOKEN)

    def kalshi_webhook_secret(self) -> str | None:
        return _secret(self.KALSHI_WEBHOOK_SECRET) or _secret(self.WEBHOOK_SHARED_SECRET)

    def turnstile_secret(self) -> str | None:
        return _secret(self.ADMIN_TURNSTILE_SECRET)

    def evidence_dir(self) -> Path:
        return self.PAULP_EVIDENCE_DIR or self.PAULP_STATE_DIR / "evidence"
