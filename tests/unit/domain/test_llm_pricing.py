"""Operator LLM prices (ADR 0399): the manifest's until changed, validated, and the §2.4/§5.3 arithmetic unchanged."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.budgets import DEFAULT_ASSUMPTIONS, derive_budget
from paulp.domain.llm_manifest import DEFAULT_PRICES, MODELS, OPUS, ModelPrice, cost_usd
from paulp.domain.llm_pricing import InvalidLlmPrice, LlmBudgetAssumptions, price_changes, price_json

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
rates = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
tokens = st.integers(min_value=0, max_value=10_000_000)


@given(st.sampled_from(sorted(MODELS)), tokens, tokens, tokens)
def test_cost_when_prices_are_the_manifests_then_bit_identical(model: str, i: int, o: int, c: int) -> None:
    assert cost_usd(model, i, o, c, DEFAULT_PRICES) == cost_usd(model, i, o, c)


def test_derivation_when_prices_are_the_manifests_then_the_spec_defaults() -> None:
    assert derive_budget(DEFAULT_ASSUMPTIONS, DEFAULT_PRICES) == derive_budget(DEFAULT_ASSUMPTIONS)
    assert derive_budget(DEFAULT_ASSUMPTIONS, DEFAULT_PRICES).projected_daily_cost_usd == pytest.approx(75.1826124)


@given(st.sampled_from(sorted(MODELS)), rates, rates)
def test_change_when_valid_then_table_and_cost_follow(model: str, inp: float, out: float) -> None:
    row = LlmBudgetAssumptions.start()
    row.change({model: {"input": inp, "output": out}}, "ops", "list price", NOW)
    price = row.prices[model]
    assert (price.input_per_1m, price.output_per_1m) == (inp, out)
    assert price.cached_input_per_1m == DEFAULT_PRICES[model].cached_input_per_1m
    assert {m: p for m, p in row.prices.items() if m != model} == {
        m: p for m, p in DEFAULT_PRICES.items() if m != model}
    assert cost_usd(model, 2_000_000, 1_000_000, 0, row.prices) == 2 * inp + out


@given(st.one_of(st.floats(max_value=-1e-12), st.just(math.nan), st.just(math.inf), st.booleans(), st.text()))
def test_change_when_not_a_price_then_refused_and_nothing_recorded(value: object) -> None:
    row = LlmBudgetAssumptions.start()
    before = len(row.collect_events())
    with pytest.raises(InvalidLlmPrice):
        row.change({OPUS: {"input": value}}, "ops", "r", NOW)
    assert (len(row.collect_events()), row.prices) == (0, DEFAULT_PRICES) and before == 1


def test_cached_rate_when_none_then_the_input_rate_prices_cached_tokens() -> None:
    new = price_changes(DEFAULT_PRICES, {OPUS: {"cachedInput": None}})
    prices = {**DEFAULT_PRICES, **new}
    assert new[OPUS] == ModelPrice(15.0, 75.0, None)
    assert cost_usd(OPUS, 1_000_000, 0, 1_000_000, prices) == 15.0


def test_change_when_the_stored_table_predates_the_model_then_recorded_with_the_manifest_price_as_previous() -> None:
    # Found by LlmPricingMachine (ADR 0466): a Started from a release whose manifest lacked OPUS raised KeyError
    row = LlmBudgetAssumptions(baseline={m: price_json(p) for m, p in DEFAULT_PRICES.items() if m != OPUS})
    row.collect_events()
    row.change({OPUS: {"cachedInput": None}}, "ops", "r", NOW)
    [changed] = row.collect_events()
    assert changed.previous == {OPUS: price_json(DEFAULT_PRICES[OPUS])}
    assert changed.prices == {OPUS: {"input": 15.0, "output": 75.0, "cachedInput": None}}
    assert row.prices[OPUS] == ModelPrice(15.0, 75.0, None)
