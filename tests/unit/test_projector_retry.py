"""The projector's retry schedule (api-and-security §7.2, ADR 0398) and its configuration, refused when malformed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from paulp.adapters.config import Settings, parse_backoff
from paulp.adapters.projector import RetryPolicy

waits = st.lists(st.floats(min_value=0, max_value=3600), min_size=1, max_size=8)


def test_default_policy_when_read_then_the_specs_five_deliveries_and_waits() -> None:
    policy = RetryPolicy()
    assert policy.max_deliver == 5
    assert [policy.wait(n) for n in range(1, 5)] == [1.0, 5.0, 30.0, 120.0]
    settings = Settings(ENVIRONMENT="test")
    assert (settings.PAULP_PROJECTOR_MAX_DELIVER, parse_backoff(settings.PAULP_PROJECTOR_BACKOFF_S)) == (
        5, (1.0, 5.0, 30.0, 120.0))


@given(waits, st.integers(min_value=1, max_value=50))
def test_wait_when_past_the_schedule_then_the_last_wait_repeats(backoff: list[float], attempts: int) -> None:
    policy = RetryPolicy(5, tuple(backoff))
    assert policy.wait(attempts) == backoff[min(attempts, len(backoff)) - 1]


@given(waits)
def test_parse_when_listed_then_same_waits(backoff: list[float]) -> None:
    assert parse_backoff(",".join(repr(w) for w in backoff)) == tuple(backoff)


@pytest.mark.parametrize("text", ["", "1,,5", "1;5", "-1", "nan", "inf", "3601", "1,five"])
def test_parse_when_malformed_then_refused(text: str) -> None:
    with pytest.raises(ValueError, match="PAULP_PROJECTOR_BACKOFF_S"):
        parse_backoff(text)


@pytest.mark.parametrize("field,value", [("PAULP_PROJECTOR_BACKOFF_S", "1,x"), ("PAULP_PROJECTOR_MAX_DELIVER", 0),
                                         ("PAULP_PROJECTOR_CONNECTIONS", 0), ("PAULP_PROJECTOR_CONNECTIONS", 65)])
def test_settings_when_malformed_then_start_up_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(ENVIRONMENT="test", **{field: value})  # type: ignore[arg-type]

