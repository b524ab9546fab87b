"""Settings from the environment (names from the runbook and api-and-security §8); secrets never echoed."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(RuntimeError):
    """Raised at start-up when configuration is missing or invalid; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=True)

    ENVIRONMENT: str = "development"
    SYSTEM_NAME: str = "paul-p"
    PAULP_DATABASE_URL: str | None = None
    PAULP_NATS_URL: str | None = None
    PAULP_ANCHOR_DATABASE_URL: str | None = None
    PAULP_STATE_DIR: Path = Path(".paulp")
    PAULP_NAMESPACE: str = "paulp"
    PAULP_HTTP_HOST: str = "127.0.0.1"
    PAULP_HTTP_PORT: int = Field(default=8787, ge=0, le=65535)
    PAULP_EVIDENCE_DIR: Path | None = None

    ADMIN_TOKEN: SecretStr | None = None
    ADMIN_TOKENS: SecretStr | None = None

    @field_validator("ADMIN_TOKEN", "ADMIN_TOKENS", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @property
    def is_production(self) -> bool:
        return self.ENVIRONMENT.lower() == "production"

    def require_urls(self) -> None:
        """In production a missing service URL is a start-up error naming the variable (decision 8)."""
        if not self.is_production:
            return
        for name in ("PAULP_DATABASE_URL", "PAULP_NATS_URL"):
            if not getattr(self, name):
                raise ConfigError(f"{name} is required when ENVIRONMENT=production")

    def admin_tokens(self) -> list[str]:
        tokens = []
        if self.ADMIN_TOKEN is not None:
            tokens.append(self.ADMIN_TOKEN.get_secret_value())
        if self.ADMIN_TOKENS is not None:
            tokens.extend(t.strip() for t in self.ADMIN_TOKENS.get_secret_value().split(",") if t.strip())
        return tokens
