"""Deterministic identifiers (trading §10)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.ids import (
    UnsupportedIdPart,
    deterministic_id,
    fnv1a32,
    format_number,
    helper_signal_id,
    order_aggregate_id,
    order_id,
    part_text,
)


def test_fnv1a32_when_empty_then_offset_basis() -> None:
    assert fnv1a32("") == 0x811C9DC5


def test_fnv1a32_when_known_ascii_then_reference_value() -> None:
    # FNV-1a 32 of "a" is a published test value; one UTF-16 unit equals the byte for ASCII.
    assert fnv1a32("a") == 0xE40C292C


def test_fnv1a32_when_astral_character_then_hashes_both_surrogates() -> None:
    # Arrange: U+1F600 is two UTF-16 code units (D83D DE00), as JavaScript sees it.
    manual = 0x811C9DC5
    for unit in (0xD83D, 0xDE00):
        manual = ((manual ^ unit) * 0x01000193) & 0xFFFFFFFF
    # Act / Assert
    assert fnv1a32("\U0001F600") == manual


def test_deterministic_id_when_order_vector_then_exact_id() -> None:
    assert deterministic_id("order", "signal-001", "bonding", "TICKER", "YES", 10, 55) == "order-1b64ff28a0974ede"


def test_deterministic_id_when_mixed_parts_then_exact_id() -> None:
    assert deterministic_id("x", True, False, 0, 1.5, -2) == "x-fcdbf8476528c328"


@pytest.mark.parametrize(
    ("value", "text"),
    [(10, "10"), (10.0, "10"), (10.5, "10.5"), (-2, "-2"), (0.1 + 0.2, "0.30000000000000004"), (1e21, "1e+21"),
     (1e-7, "1e-7"), (0.000001, "0.000001"), (-0.0, "0"), (2**60, "1152921504606847000"),
     (Decimal("55.00"), "55"), (Decimal("0.5"), "0.5"), (float("nan"), "NaN")],
)
def test_format_number_when_value_then_javascript_text(value: float, text: str) -> None:
    assert format_number(value) == text


def test_part_text_when_null_then_empty_like_undefined() -> None:
    assert part_text(None) == ""
    assert deterministic_id("p", None, "a") == deterministic_id("p", "", "a")


def test_part_text_when_boolean_then_lowercase_words() -> None:
    assert (part_text(True), part_text(False)) == ("true", "false")


def test_part_text_when_unsupported_type_then_raises_with_code() -> None:
    with pytest.raises(UnsupportedIdPart) as err:
        part_text(object())  # type: ignore[arg-type]
    assert err.value.code == "UNSUPPORTED_ID_PART"


def test_deterministic_id_when_part_count_differs_then_second_hash_differs() -> None:
    # "a|b" as one part and "a","b" as two parts share the first hash but not the second.
    one, two = deterministic_id("p", "a|b"), deterministic_id("p", "a", "b")
    assert one[:10] == two[:10] and one != two


def test_helper_signal_id_when_called_then_single_joined_part() -> None:
    assert helper_signal_id("s", "m", "v", "YES", "buy", "t") == deterministic_id("sig", "s|m|v|YES|buy|t")


def test_order_id_when_resubmitted_then_id_includes_resubmit_number() -> None:
    base = order_id("sig", "bonding", "T", "YES", 10, 55)
    assert order_id("sig", "bonding", "T", "YES", 10, 55, resubmit_count=0) == base
    assert order_id("sig", "bonding", "T", "YES", 10, 55, resubmit_count=1) == deterministic_id(
        "order", "sig", "bonding", "T", "YES", 10, 55, 1)


@given(st.lists(st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=8),
                          st.floats(allow_nan=False, allow_infinity=False)), max_size=6), st.text(max_size=6))
def test_deterministic_id_when_same_inputs_then_same_shape_and_value(parts: list[object], prefix: str) -> None:
    first = deterministic_id(prefix, *parts)  # type: ignore[arg-type]
    assert first == deterministic_id(prefix, *parts)  # type: ignore[arg-type]
    assert first.startswith(prefix + "-") and len(first) == len(prefix) + 17
    assert all(c in "0123456789abcdef" for c in first[len(prefix) + 1:])


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_number_when_any_finite_float_then_round_trips(value: float) -> None:
    assert float(format_number(value)) == value


def test_order_aggregate_id_when_same_order_id_then_same_uuid() -> None:
    assert order_aggregate_id("order-1") == order_aggregate_id("order-1") != order_aggregate_id("order-2")
