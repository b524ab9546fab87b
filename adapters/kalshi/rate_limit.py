"""Client-side request pacing for the Kalshi REST API (api-and-security §3.3).

The venue meters reads and writes separately per account tier (Basic: 20 reads/s, 10 writes/s);
staying under the meter keeps us out of 429 territory instead of discovering it. Each kind has
its own token bucket; waiters are served first come, first served.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from paulp.adapters.kalshi.signing import signing_path

TIER_ENV = "KALSHI_RATE_TIER"
READS_ENV = "KALSHI_READS_PER_SECOND"
WRITES_ENV = "KALSHI_WRITES_PER_SECOND"
_ORDER_PATH_SEGMENT = "/portfolio/orders"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RateLimitConfigError(ValueError):
    """Raised when a tier name or a rate is unusable; the message names the variable."""

    code = "venue_rate_config_invalid"


class RequestKind(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class RateTier:
    name: str
    reads_per_s: float
    writes_per_s: float


TIERS: dict[str, RateTier] = {
    t.name: t
    for t in (
        RateTier("basic", 20, 10),
        RateTier("advanced", 30, 30),
        RateTier("premier", 100, 100),
        RateTier("prime", 400, 400),
    )
}
BASIC = TIERS["basic"]


def request_kind(method: str, path: str) -> RequestKind:
    """Order placement, amendment and cancellation are writes; everything else is a read."""
    if method.upper() in _WRITE_METHODS and _ORDER_PATH_SEGMENT in signing_path(path):
        return RequestKind.WRITE
    return RequestKind.READ


class TokenBucket:
    """`rate` tokens per second, at most `burst` banked; `acquire` waits for one token."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not rate > 0:
            raise RateLimitConfigError(f"rate must be positive, got {rate!r}")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        if self.burst < 1:
            raise RateLimitConfigError(f"burst must be at least 1, got {burst!r}")
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> float:
        """Take one token, sleeping while the bucket is empty; returns the seconds waited."""
        waited = 0.0
        async with self._lock:  # holding the lock while sleeping keeps waiters in arrival order
            self._refill()
            while self._tokens < 1:
                delay = (1 - self._tokens) / self.rate
                await self._sleep(delay)
                waited += delay
                self._refill()
            self._tokens -= 1
        return waited


class KalshiRateLimiter:
    """One bucket for reads, one for writes, sized from a tier (or explicit rates)."""

    def __init__(
        self,
        tier: RateTier = BASIC,
        *,
        burst_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.tier = tier
        self._buckets = {
            RequestKind.READ: TokenBucket(tier.reads_per_s, max(1.0, tier.reads_per_s * burst_seconds),
                                          clock=clock, sleep=sleep),
            RequestKind.WRITE: TokenBucket(tier.writes_per_s, max(1.0, tier.writes_per_s * burst_seconds),
                                           clock=clock, sleep=sleep),
        }

    def bucket(self, kind: RequestKind) -> TokenBucket:
        return self._buckets[kind]

    async def acquire(self, method: str, path: str) -> float:
        return await self._buckets[request_kind(method, path)].acquire()


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise RateLimitConfigError(f"{name} must be a positive number, got {raw!r}") from None
    if not value > 0:
        raise RateLimitConfigError(f"{name} must be a positive number, got {raw!r}")
    return value


def tier_from_env(env: Mapping[str, str]) -> RateTier:
    """`KALSHI_RATE_TIER` (default basic) with optional per-kind overrides."""
    name = env.get(TIER_ENV, "").strip().lower() or BASIC.name
    base = TIERS.get(name)
    if base is None:
        raise RateLimitConfigError(f"{TIER_ENV} must be one of {', '.join(TIERS)}, got {name!r}")
    return RateTier(name, _positive(env, READS_ENV, base.reads_per_s), _positive(env, WRITES_ENV, base.writes_per_s))
