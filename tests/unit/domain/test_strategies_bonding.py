"""Bonding + barbell (trading §6.1): bucket filling, tail ordering, validation, signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paulp.domain.strategies.bonding import (
    BarbellConfig,
    Bond,
    BondQuote,
    InvalidBarbellConfig,
    Tail,
    TailType,
    allocate,
    bond_yield,
    filter_bonds,
    tail_type,
    validate,
)
from paulp.domain.strategies.bonding_signals import CatalogueMarket, bond_candidates, bonding_signals, tail_candidates

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _bonds(n: int) -> list[Bond]:
    return [Bond(f"b{i}", 0.95, bond_yield(0.95)) for i in range(n)]


def _hedges(n: int) -> list[Tail]:
    return [Tail(f"t{i}", 0.05, TailType.EVENT_HEDGE, 20.0) for i in range(n)]


def test_allocate_when_fewer_than_five_bonds_then_leftover_stays_undeployed() -> None:
    alloc = allocate(10_000, _bonds(3), _hedges(3))

    assert [p.allocation for p in alloc.bond_positions] == [1800, 1800, 1800]
    assert alloc.bond_allocation == 9000


def test_allocate_when_more_bonds_than_the_bucket_holds_then_extra_bonds_get_no_position() -> None:
    alloc = allocate(10_000, _bonds(7), _hedges(3))

    assert len(alloc.bond_positions) == 5


def test_allocate_when_hedges_listed_last_then_they_are_funded_first() -> None:
    tails = [Tail("d", 0.1, TailType.DIVERSIFIER, 10), Tail("r", 0.1, TailType.REGIME_TAIL, 10), *_hedges(1)]

    alloc = allocate(10_000, _bonds(5), tails)

    assert [(p.tail.market_id, p.allocation) for p in alloc.tail_positions] == [("t0", 400), ("d", 400), ("r", 200)]
    assert alloc.event_hedge_pct == 40


def test_allocate_when_no_event_hedges_then_invalid_but_not_when_there_are_no_tails() -> None:
    unhedged = allocate(10_000, _bonds(5), [Tail("d", 0.1, TailType.DIVERSIFIER, 10)])
    tailless = allocate(10_000, _bonds(5), [])

    assert not unhedged.is_valid
    assert tailless.is_valid


def test_validate_when_no_tails_then_event_hedge_minimum_still_applies() -> None:
    errors = validate(10_000, 9000, 0.2, 0, [0.95])

    assert len(errors) == 1


def test_allocate_when_no_bonds_then_invalid() -> None:
    assert not allocate(10_000, [], _hedges(3)).is_valid


def test_config_when_percentage_out_of_range_then_invalid_config() -> None:
    with pytest.raises(InvalidBarbellConfig):
        BarbellConfig(bond_pct=120)


def test_filter_bonds_when_probability_exactly_at_floor_then_kept() -> None:
    got = filter_bonds([BondQuote("m", "kalshi", 0.93, 1001, 0.0499)])

    assert [b.market_id for b in got] == ["m"]


def test_tail_type_when_regime_word_only_in_category_then_regime_but_hedge_words_ignore_category() -> None:
    assert tail_type("Rates?", (), "macro") is TailType.REGIME_TAIL
    assert tail_type("Rates?", (), "war") is TailType.DIVERSIFIER


def test_bonding_signals_when_allocation_invalid_then_nothing_is_emitted() -> None:
    alloc = allocate(10_000, [], _hedges(3))

    assert bonding_signals(alloc, NOW) == []


def test_bonding_signals_when_fair_supplied_for_a_bond_then_bond_signal_with_kelly_cap_and_ttl() -> None:
    alloc = allocate(10_000, _bonds(5), _hedges(3))

    sigs = bonding_signals(alloc, NOW, {"b0": 0.99})

    bond = [s for s in sigs if s.signal_type == "bond"]
    assert [s.market_id for s in bond] == ["b0"]
    assert bond[0].kelly_fraction <= 0.20
    assert bond[0].expires_at - bond[0].created_at == timedelta(hours=24)
    assert len([s for s in sigs if s.signal_type == "tail"]) == 3
    assert bond[0].signal_id.startswith("sig-")


def test_candidates_when_catalogue_mixed_then_bonds_and_themed_tails_selected() -> None:
    catalogue = [
        CatalogueMarket("bond", True, 0.95, 0.01, 5000, 9000),
        CatalogueMarket("closed", False, 0.95, 0.01, 5000, 9000),
        CatalogueMarket("tail", True, 0.04, 0.02, 100, 600, "sports", "Will the war end?"),
        CatalogueMarket("plain", True, 0.04, 0.02, 100, 600, "sports", "Who wins?"),
    ]

    assert [b.market_id for b in bond_candidates(catalogue)] == ["bond"]
    [tail] = tail_candidates(catalogue)
    assert (tail.market_id, tail.tail_type, tail.payoff_multiple) == ("tail", TailType.EVENT_HEDGE, 25.0)


@pytest.mark.parametrize("capital", [999, 1, 7, 307])
def test_allocate_when_bucket_spent_in_binary_leaves_a_crumb_then_no_extra_position(capital: float) -> None:
    # 899.1 - 5 x 179.82 is 5.7e-14 in binary, not 0: §6.1 "until exhausted" lists five bonds, never a sixth
    # holding a crumb (ADR 0343)
    bonds = [Bond(f"b{i}", 0.95, bond_yield(0.95)) for i in range(7)]
    tails = [Tail(f"t{i}", 0.05, TailType.EVENT_HEDGE, 20.0) for i in range(4)]
    alloc = allocate(capital, bonds, tails)
    assert len(alloc.bond_positions) == 5 and len(alloc.tail_positions) == 3
    assert sum(p.allocation for p in alloc.bond_positions) == pytest.approx(capital * 0.9)
    tail_amounts = [p.allocation for p in alloc.tail_positions]
    assert tail_amounts == pytest.approx([capital * 0.04, capital * 0.04, capital * 0.02])


def test_allocate_when_the_index_is_exactly_the_maximum_through_repeating_shares_then_no_error() -> None:
    # An 80/20 barbell of 1,000 with 10 % caps: the bond gets 80 and each hedge 20, shares of 2/3, 1/6 and 1/6, so the
    # index is exactly 4/9 + 1/36 + 1/36 = 0.5, not above a maximum of 0.5 (28-digit decimals made it 0.5 + 1e-28)
    config = BarbellConfig(bond_pct=80, tail_pct=20, max_single_bond_pct=10, max_single_tail_pct=10, max_herfindahl=0.5)
    alloc = allocate(1000, _bonds(1), _hedges(2), config)
    assert [p.allocation for p in alloc.bond_positions] == [80.0]
    assert [t.allocation for t in alloc.tail_positions] == [20.0, 20.0]
    assert alloc.herfindahl_index == 0.5
    assert not [e for e in alloc.validation_errors if "Herfindahl" in e]
