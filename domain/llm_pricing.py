"""Model prices an operator sets (llm-routing §2.1 "load pricing from configuration", §5.3
``LlmBudgetAssumptionsChanged``; ADR 0399): audited events, the manifest's table until the first change.

A change re-prices projected costs and re-derives the budget envelopes (§5.3) from the next call on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.llm_manifest import DEFAULT_PRICES, MODELS, ModelPrice, Prices
from paulp.domain.namespace import PAULP_NAMESPACE

RATES = ("input", "output", "cachedInput")
MAX_TEXT = 500


class InvalidLlmPrice(DomainError):
    code = "invalid_llm_price"


def _rate(model_id: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise InvalidLlmPrice(f"{model_id} {name}: must be a finite, non-negative USD amount per million tokens,"
                              f" got {value!r}")
    return float(value)


def price_changes(current: Prices, changes: Mapping[str, Mapping[str, object]]) -> dict[str, ModelPrice]:
    """New prices of the models named in ``changes`` (rates not given keep their current value; ``cachedInput``
    None = the input rate). Raises on an unknown model or rate, or a value that is not a price."""
    if not changes:
        raise InvalidLlmPrice("no price given")
    out: dict[str, ModelPrice] = {}
    for model_id, rates in changes.items():
        if model_id not in MODELS:
            raise InvalidLlmPrice(f"unknown model id {model_id!r}; one of: {', '.join(MODELS)}")
        unknown = set(rates) - set(RATES)
        if unknown or not rates:
            raise InvalidLlmPrice(f"{model_id}: rates are {', '.join(RATES)} (got {', '.join(sorted(unknown))})")
        old = current[model_id]
        cached = rates.get("cachedInput", old.cached_input_per_1m)
        out[model_id] = ModelPrice(
            _rate(model_id, "input", rates.get("input", old.input_per_1m)),
            _rate(model_id, "output", rates.get("output", old.output_per_1m)),
            None if cached is None else _rate(model_id, "cachedInput", cached))
    return out


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or "\x00" in value or len(value) > MAX_TEXT:
        raise InvalidLlmPrice(f"{name} must be non-blank text of at most {MAX_TEXT} characters")
    return value.strip()


def price_json(p: ModelPrice) -> dict[str, float | None]:
    return {"input": p.input_per_1m, "output": p.output_per_1m, "cachedInput": p.cached_input_per_1m}


def _price(d: Mapping[str, Any]) -> ModelPrice:
    return ModelPrice(d["input"], d["output"], d["cachedInput"])


class LlmBudgetAssumptions(Aggregate):
    """The singleton of operator-set budget assumptions; today the model prices."""

    class Started(Aggregate.Created):
        baseline: dict[str, dict[str, Any]]  # the manifest's prices when first changed: replay never reads code

    class Changed(Aggregate.Event):  # llm-routing §5.3 LlmBudgetAssumptionsChanged
        prices: dict[str, dict[str, Any]]
        previous: dict[str, dict[str, Any]]
        actor: str
        reason: str
        at: datetime

    @staticmethod
    def create_id() -> UUID:
        return uuid5(PAULP_NAMESPACE, "llm-budget-assumptions/global")

    @classmethod
    def start(cls) -> LlmBudgetAssumptions:
        row: LlmBudgetAssumptions = cls(baseline={m: price_json(p) for m, p in DEFAULT_PRICES.items()})
        return row

    @event(Started)
    def __init__(self, baseline: dict[str, dict[str, Any]]) -> None:
        self.table: dict[str, dict[str, Any]] = dict(baseline)
        self.changed_by: str | None = None
        self.changed_at: datetime | None = None

    @property
    def prices(self) -> dict[str, ModelPrice]:
        """A model the manifest gained after the last change keeps its manifest price."""
        return {**DEFAULT_PRICES, **{m: _price(d) for m, d in self.table.items() if m in MODELS}}

    def change(self, changes: Mapping[str, Mapping[str, object]], actor: object, reason: object,
               now: datetime) -> None:
        """Validate everything first: a refused change records nothing. ``previous`` is the price in force, which
        is the manifest's for a model the stored table has never named (ADR 0466)."""
        current = self.prices
        new = price_changes(current, changes)
        who, why = _text(actor, "actor"), _text(reason, "reason")
        self._changed(prices={m: price_json(p) for m, p in new.items()},
                      previous={m: price_json(current[m]) for m in new}, actor=who, reason=why, at=now)

    @event(Changed)
    def _changed(self, prices: dict[str, dict[str, Any]], previous: dict[str, dict[str, Any]], actor: str,
                 reason: str, at: datetime) -> None:
        self.table.update(prices)
        self.changed_by, self.changed_at = actor, at
