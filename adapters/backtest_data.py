"""Backtest inputs from files: Kalshi candlestick history (the shape of shared/data/kalshi) and an operator's
fair probabilities. Every refusal names the file and what is wrong; nothing is half-read."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paulp.domain.backtest import Bar
from paulp.domain.prices import venue_quote


class BacktestDataError(ValueError):
    """Raised for an unreadable or malformed history / fair-probability file."""


@dataclass(frozen=True)
class History:
    bars: Mapping[str, list[Bar]]
    sha256: str  # of the file's bytes: which data a stored backtest was run on


def _read(path: Path) -> tuple[bytes, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BacktestDataError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return raw, json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BacktestDataError(f"{path} is not JSON: {exc}") from None


def _cents(value: Any, where: str) -> int | None:
    """A quote as cents; 0 and 100 are Kalshi's "nothing there" (no bid / no offer), as is null."""
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise BacktestDataError(f"{where}: price {value!r} is not a number") from None
    if not math.isfinite(x) or not 0 <= x <= 1:
        raise BacktestDataError(f"{where}: price {value!r} is outside 0..1")
    return venue_quote(round(x * 100))  # ADR 0305


def _close(candle: Mapping[str, Any], book: str, where: str) -> int | None:
    side = candle.get(book)
    return _cents(side.get("close"), f"{where} {book}") if isinstance(side, Mapping) else None


def _bar(candle: Any, where: str) -> Bar:
    if not isinstance(candle, Mapping) or not isinstance(candle.get("end_period_ts"), int):
        raise BacktestDataError(f"{where}: a candle needs an integer end_period_ts")
    try:
        volume = float(candle.get("volume") or 0)
    except (TypeError, ValueError):
        raise BacktestDataError(f"{where}: volume {candle.get('volume')!r} is not a number") from None
    if not math.isfinite(volume) or volume < 0:
        raise BacktestDataError(f"{where}: volume {candle.get('volume')!r} is not a non-negative number")
    return Bar(end=datetime.fromtimestamp(candle["end_period_ts"], UTC), yes_bid=_close(candle, "yes_bid", where),
               yes_ask=_close(candle, "yes_ask", where), last=_close(candle, "price", where), volume=volume)


def load_history(path: Path) -> History:
    raw, doc = _read(path)
    if not isinstance(doc, Mapping) or not doc:
        raise BacktestDataError(f"{path}: expected an object of ticker -> list of candles")
    bars: dict[str, list[Bar]] = {}
    for ticker, candles in doc.items():
        if not isinstance(candles, list):
            raise BacktestDataError(f"{path}: {ticker} is not a list of candles")
        series = sorted((_bar(c, f"{path} {ticker}[{i}]") for i, c in enumerate(candles)), key=lambda b: b.end)
        if any(a.end == b.end for a, b in itertools.pairwise(series)):
            raise BacktestDataError(f"{path}: {ticker} has two candles for the same period")
        bars[str(ticker)] = series
    return History(bars, hashlib.sha256(raw).hexdigest())


def load_fair_probabilities(path: Path) -> dict[str, float]:
    """``{"TICKER": 0.97, ...}``: the fair YES probability research supplies for a market (trading §6.1)."""
    _, doc = _read(path)
    if not isinstance(doc, Mapping):
        raise BacktestDataError(f"{path}: expected an object of ticker -> probability")
    fair: dict[str, float] = {}
    for ticker, p in doc.items():
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p < 1:
            raise BacktestDataError(f"{path}: fair probability of {ticker} must be a number in (0, 1), got {p!r}")
        fair[str(ticker)] = float(p)
    return fair
