"""LlmBudgetAssumptions as a state machine (llm-routing §2.1, §5.3; ADR 0399): random price changes, valid and not.

The prices in force are the manifest's, overlaid by every accepted change in order; a refused change raises
``InvalidLlmPrice`` and records nothing; each change records the prices it replaced; the stored events rebuild
the same prices. The Started event may come from an older release whose manifest lacked a model today's has, or
had one it has since dropped: that table is a legal state too.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from paulp.domain.llm_manifest import DEFAULT_PRICES, MODELS, ModelPrice
from paulp.domain.llm_pricing import MAX_TEXT, InvalidLlmPrice, LlmBudgetAssumptions, price_json
from tests.support.hypothesis_scale import examples, steps
from tests.support.replay import folded, through_store

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
RETIRED = "openai:gpt-4o-2024-05-13"  # a model an older manifest priced and today's no longer has
ids = sorted(MODELS)
prices = st.one_of(st.floats(min_value=0, max_value=1e4, allow_nan=False), st.integers(min_value=0, max_value=100))
rate_sets = st.fixed_dictionaries({}, optional={"input": prices, "output": prices,
                                                "cachedInput": st.none() | prices}).filter(bool)
changes = st.dictionaries(st.sampled_from(ids), rate_sets, min_size=1, max_size=3)
texts = st.sampled_from(["ops-ann", "  ops-bob  ", "provider list price moved"])
# one thing wrong with an otherwise valid change: each must be refused before anything is recorded
bad = st.sampled_from([
    ("changes", {}), ("changes", {RETIRED: {"input": 1.0}}), ("changes", {ids[0]: {}}),
    ("changes", {ids[0]: {"inputs": 1.0}}), ("changes", {ids[0]: {"input": -0.01}}),
    ("changes", {ids[0]: {"output": math.nan}}), ("changes", {ids[0]: {"output": math.inf}}),
    ("changes", {ids[0]: {"input": True}}), ("changes", {ids[0]: {"input": "3.0"}}),
    ("changes", {ids[0]: {"input": 1.0}, ids[1]: {"cachedInput": -1}}),
    ("actor", "  "), ("actor", None), ("reason", ""), ("reason", "a\x00b"), ("reason", "x" * (MAX_TEXT + 1)),
])


def _view(row: LlmBudgetAssumptions) -> tuple[Any, ...]:
    return row.id, row.version, row.table, row.prices, row.changed_by, row.changed_at


class LlmPricingMachine(RuleBasedStateMachine):
    """The model: the price of every manifest model in force, and who changed the table last."""

    @initialize(missing=st.sets(st.sampled_from(ids), max_size=2), retired=st.booleans())
    def started(self, missing: set[str], retired: bool) -> None:
        """Started as today's release records it, or as an older one did (fewer or other models)."""
        if not missing and not retired:
            self.row = LlmBudgetAssumptions.start()
        else:
            baseline = {m: price_json(p) for m, p in DEFAULT_PRICES.items() if m not in missing}
            if retired:
                baseline[RETIRED] = {"input": 2.5, "output": 10.0, "cachedInput": None}
            self.row = LlmBudgetAssumptions(baseline=baseline)
        self.stored = through_store(self.row.collect_events())
        self.prices: dict[str, ModelPrice] = dict(DEFAULT_PRICES)
        self.changed_by: str | None = None
        self.changed_at: datetime | None = None
        self.now = T0

    @rule(change=changes, actor=texts, reason=texts)
    def change(self, change: dict[str, dict[str, Any]], actor: str, reason: str) -> None:
        self.now += timedelta(minutes=5)
        self.row.change(change, actor, reason, self.now)
        [ev] = self.row.collect_events()
        assert isinstance(ev, LlmBudgetAssumptions.Changed)
        assert ev.previous == {m: price_json(self.prices[m]) for m in change}, "the prices the change replaced"
        for model, rates in change.items():
            old = self.prices[model]
            cached = rates.get("cachedInput", old.cached_input_per_1m)
            self.prices[model] = ModelPrice(float(rates.get("input", old.input_per_1m)),
                                            float(rates.get("output", old.output_per_1m)),
                                            None if cached is None else float(cached))
        self.changed_by, self.changed_at = actor.strip(), self.now
        self.stored.extend(through_store([ev]))

    @rule(wrong=bad)
    def refused(self, wrong: tuple[str, Any]) -> None:
        args: dict[str, Any] = {"changes": {ids[0]: {"input": 1.0}}, "actor": "ops", "reason": "why",
                                "now": self.now + timedelta(minutes=1)}
        args[wrong[0]] = wrong[1]
        before = _view(self.row)
        with pytest.raises(InvalidLlmPrice):
            self.row.change(**args)
        assert list(self.row.collect_events()) == [] and _view(self.row) == before

    @invariant()
    def prices_are_the_models(self) -> None:
        assert self.row.prices == self.prices
        assert all(math.isfinite(p.input_per_1m) and p.input_per_1m >= 0 and p.output_per_1m >= 0
                   for p in self.row.prices.values())
        assert (self.row.changed_by, self.row.changed_at) == (self.changed_by, self.changed_at)

    @invariant()
    def replay_through_the_store_equals_live(self) -> None:
        assert _view(folded(self.stored, LlmBudgetAssumptions)) == _view(self.row)


LlmPricingMachine.TestCase.settings = settings(max_examples=examples(60), stateful_step_count=steps(15), deadline=None)
TestLlmPricingMachine = LlmPricingMachine.TestCase
