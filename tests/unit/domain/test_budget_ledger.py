"""Event-sourced budget ledgers: reserve / settle / release rules, replay, and a stateful random walk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import reduce
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.budget_ledger import (
    BudgetPeriodLedger,
    ledger_ids,
    open_ledger,
    reserve_both,
    resume_ledger,
    snapshot,
)
from paulp.domain.budgets import (
    BudgetExceeded,
    DuplicateReservation,
    Envelope,
    LedgerError,
    PeriodType,
    UnknownReservation,
)
from tests.support.hypothesis_scale import examples, steps

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
ENVELOPE = Envelope(daily_limit_usd=1.0, monthly_limit_usd=3.0, alert_threshold_pct=80.0)
MAPPER = make_mapper()
CENTS = st.integers(min_value=0, max_value=60).map(lambda c: Decimal(c) / 100)


def _pair() -> tuple[BudgetPeriodLedger, BudgetPeriodLedger]:
    return open_ledger("research_scoring", PeriodType.DAILY, NOW), open_ledger("research_scoring", PeriodType.MONTHLY,
                                                                               NOW)


def _replay(events: list[Any]) -> BudgetPeriodLedger:
    rebuilt = reduce(lambda agg, ev: ev.mutate(agg), events, None)
    assert isinstance(rebuilt, BudgetPeriodLedger)
    return rebuilt


def _view(ledger: BudgetPeriodLedger) -> tuple[Any, ...]:
    return (ledger.id, ledger.version, ledger.limit_usd, ledger.consumed_usd, dict(ledger.holds), dict(ledger.charged),
            ledger.alerted, ledger.reserved_usd, ledger.last_updated, ledger.created_on, ledger.modified_on,
            ledger.checkpointed_at, (ledger.category, ledger.period_type, ledger.period_key), ledger.last_reset)


def _resumed(events: list[Any]) -> BudgetPeriodLedger | None:
    """The ledger as a load rebuilds it from its last checkpoint (ADR 0501), or None before the first one."""
    marks = [i for i, ev in enumerate(events) if isinstance(ev, BudgetPeriodLedger.Checkpointed)]
    return resume_ledger(events[marks[-1]:]) if marks else None


def test_ids_when_same_category_and_time_then_same_daily_and_monthly_ledger() -> None:
    # Arrange
    daily, monthly = _pair()
    # Act
    ids = ledger_ids("research_scoring", NOW + timedelta(hours=11, minutes=59))
    # Assert
    assert ids == (daily.id, monthly.id)
    assert ledger_ids("research_scoring", NOW + timedelta(hours=12))[0] != daily.id  # next UTC day


def test_reserve_when_daily_limit_would_be_passed_then_neither_ledger_holds() -> None:
    # Arrange
    daily, monthly = _pair()
    reserve_both(daily, monthly, "a", Decimal("0.7"), ENVELOPE, NOW)
    # Act / Assert
    with pytest.raises(BudgetExceeded, match="Daily budget exceeded for research_scoring"):
        reserve_both(daily, monthly, "b", Decimal("0.31"), ENVELOPE, NOW)
    assert set(daily.holds) == set(monthly.holds) == {"a"}


def test_reserve_when_exactly_reaching_limit_then_allowed_and_next_call_blocked() -> None:
    # Arrange
    daily, monthly = _pair()
    # Act
    reserve_both(daily, monthly, "a", Decimal("1.0"), ENVELOPE, NOW)
    daily.settle("a", Decimal("1.0"), NOW)
    monthly.settle("a", Decimal("1.0"), NOW)
    # Assert
    assert daily.is_blocked() and daily.remaining_usd == 0
    with pytest.raises(BudgetExceeded):
        reserve_both(daily, monthly, "zero", Decimal(0), ENVELOPE, NOW)


def test_reserve_when_monthly_is_the_binding_limit_then_monthly_reason() -> None:
    # Arrange: 2.5 of 3.0 spent this month, nothing today
    daily, monthly = _pair()
    monthly.reserve("old", Decimal("2.5"), Decimal("3.0"), NOW)
    monthly.settle("old", Decimal("2.5"), NOW)
    # Act / Assert
    with pytest.raises(BudgetExceeded, match="Monthly budget exceeded"):
        reserve_both(daily, monthly, "b", Decimal("0.6"), ENVELOPE, NOW)


def test_settle_when_reservation_unknown_or_twice_then_refused() -> None:
    # Arrange
    daily, _ = _pair()
    daily.reserve("a", Decimal("0.2"), Decimal(1), NOW)
    daily.settle("a", Decimal("0.1"), NOW)
    # Act / Assert
    with pytest.raises(UnknownReservation):
        daily.settle("a", Decimal("0.1"), NOW)
    with pytest.raises(UnknownReservation):
        daily.release("zzz", "x", NOW)
    with pytest.raises(LedgerError):
        daily.reserve("b", Decimal("-0.1"), Decimal(1), NOW)


def test_reserve_when_id_still_open_then_duplicate_refused() -> None:
    daily, _ = _pair()
    daily.reserve("a", Decimal("0.2"), Decimal(1), NOW)
    with pytest.raises(DuplicateReservation):
        daily.reserve("a", Decimal("0.2"), Decimal(1), NOW)


def test_charge_stale_when_hold_older_than_cutoff_then_counted_as_spent_at_its_reserved_amount() -> None:
    # Arrange
    daily, _ = _pair()
    daily.reserve("old", Decimal("0.3"), Decimal(1), NOW)
    daily.reserve("new", Decimal("0.3"), Decimal(1), NOW + timedelta(minutes=10))
    # Act
    charged = daily.charge_stale(timedelta(minutes=15), NOW + timedelta(minutes=20), "stale")
    # Assert
    assert charged == ["old"] and set(daily.holds) == {"new"}
    assert daily.consumed_usd == Decimal("0.3") and daily.reserved_usd == Decimal("0.3")
    assert daily.remaining_usd == Decimal("0.4")  # the stale hold's money is not handed back


@pytest.mark.parametrize(("actual", "consumed"), [("0.25", "0.3"), ("0.3", "0.3"), ("0.45", "0.45")])
def test_late_usage_when_hold_was_charged_as_stale_then_only_the_excess_counts(actual: str, consumed: str) -> None:
    daily, _ = _pair()
    daily.reserve("old", Decimal("0.3"), Decimal(1), NOW)
    daily.charge_stale(timedelta(minutes=15), NOW + timedelta(minutes=20), "stale")
    daily.record_late_usage("old", Decimal(actual), NOW + timedelta(minutes=21))
    assert daily.consumed_usd == Decimal(consumed)  # never below the charge, never counted twice
    assert "old" not in daily.charged


def test_late_usage_when_hold_was_released_then_all_of_it_counts() -> None:
    # A hold released (a refused or failed call) and then reported: the whole cost is new money.
    daily, _ = _pair()
    daily.reserve("gone", Decimal("0.3"), Decimal(1), NOW)
    daily.release("gone", "ALL_MODELS_FAILED", NOW)
    daily.record_late_usage("gone", Decimal("0.25"), NOW + timedelta(minutes=1))
    assert daily.consumed_usd == Decimal("0.25")


def test_reset_when_period_has_usage_then_consumption_cleared_and_holds_kept() -> None:
    daily, _ = _pair()
    daily.reserve("a", Decimal("0.5"), Decimal(1), NOW)
    daily.settle("a", Decimal("0.5"), NOW)
    daily.reserve("b", Decimal("0.2"), Decimal(1), NOW)
    daily.reset_usage("ops", "provider refunded", NOW)
    assert daily.consumed_usd == 0 and set(daily.holds) == {"b"}
    with pytest.raises(LedgerError):
        daily.reset_usage("ops", "  ", NOW)


def test_alert_when_threshold_reached_then_raised_once_per_period() -> None:
    daily, _ = _pair()
    daily.reserve("a", Decimal("0.85"), Decimal(1), NOW)
    daily.settle("a", Decimal("0.85"), NOW)
    assert daily.alert_if_due(80.0, NOW) is True
    assert daily.alert_if_due(80.0, NOW) is False


def _spent(daily: BudgetPeriodLedger, monthly: BudgetPeriodLedger, amount: str) -> None:
    reserve_both(daily, monthly, "spent", Decimal(amount), Envelope(1e9, 1e9, 80.0), NOW)
    for ledger in (daily, monthly):
        ledger.settle("spent", Decimal(amount), NOW)


def test_reserve_when_decimal_sum_fits_but_the_double_sum_passes_the_limit_then_refused() -> None:
    # §5.6 `consumed + projected > limit` in doubles (ADR 0485): 0.2 + 0.1 is 0.30000000000000004 > 0.3, so the
    # source denies; the exact decimal sum 0.3 would fit.
    daily, monthly = _pair()
    _spent(daily, monthly, "0.2")
    with pytest.raises(BudgetExceeded, match="Daily budget exceeded"):
        reserve_both(daily, monthly, "b", Decimal("0.1"), Envelope(0.3, 10.0, 80.0), NOW)


def test_reserve_when_decimal_sum_passes_but_the_double_sum_rounds_to_the_limit_then_allowed() -> None:
    # 0.9999999999999999 + 1.2e-16 is just above 1 exactly, but the double sum is 1.0: not past the limit.
    daily, monthly = _pair()
    _spent(daily, monthly, "0.9999999999999999")
    assert reserve_both(daily, monthly, "b", Decimal("1.2E-16"), ENVELOPE, NOW) is True
    assert set(daily.holds) == {"b"}


def test_alert_when_the_double_percentage_is_just_under_the_threshold_then_not_raised() -> None:
    # 0.99 / 1.1 * 100 is 89.99999999999999 in doubles (the source's shouldAlert is false at 90 %); exactly 90 in
    # decimals.
    daily, monthly = _pair()
    _spent(daily, monthly, "0.99")
    assert reserve_both(daily, monthly, "b", Decimal(0), Envelope(1.1, 1.1, 90.0), NOW) is False
    daily.reserve("c", Decimal(0), Decimal("1.1"), NOW)
    assert daily.alert_if_due(90.0, NOW) is False
    assert daily.percent_used() == 0.99 / 1.1 * 100


def test_snapshot_when_judged_then_it_reads_doubles_like_the_check() -> None:
    daily, _ = _pair()
    daily.reserve("a", Decimal("0.2"), Decimal("0.3"), NOW)
    daily.settle("a", Decimal("0.2"), NOW)
    snap = snapshot(daily, "research_scoring", PeriodType.DAILY, NOW, Decimal("0.3"))
    assert snap.would_exceed(Decimal("0.1")) is True
    assert snap.would_exceed(Decimal("0.09")) is False
    assert snap.percent_used == 0.2 / 0.3 * 100


class LedgerMachine(RuleBasedStateMachine):
    """Random reserve/settle/release/reset walks over a daily+monthly pair, as the service drives them."""

    holds = Bundle("holds")

    @initialize()
    def start(self) -> None:
        self.daily, self.monthly = _pair()
        self.history: dict[Any, list[Any]] = {self.daily.id: [], self.monthly.id: []}
        self.stored: dict[Any, list[Any]] = {self.daily.id: [], self.monthly.id: []}  # as the store gives them back
        self.counter = 0
        self.resets = 0
        self.spent_since_reset = Decimal(0)
        self.last_consumed = Decimal(0)
        self.at = NOW
        self.late_excess = {self.daily.id: Decimal(0), self.monthly.id: Decimal(0)}
        self._collect()

    def _collect(self) -> None:
        for ledger in (self.daily, self.monthly):
            new = ledger.collect_events()
            self.history[ledger.id].extend(new)
            self.stored[ledger.id].extend(MAPPER.to_domain_event(MAPPER.to_stored_event(ev)) for ev in new)

    @rule(target=holds, amount=CENTS)
    def reserve(self, amount: Decimal) -> str:
        self.counter += 1
        rid = f"r{self.counter}"
        try:
            reserve_both(self.daily, self.monthly, rid, amount, ENVELOPE, self.at)
        except BudgetExceeded:
            return "refused"
        finally:
            self._collect()
        return rid

    @rule(rid=consumes(holds), fraction=st.integers(min_value=0, max_value=100))
    def settle(self, rid: str, fraction: int) -> None:
        if rid not in self.daily.holds:
            return
        actual = (self.daily.holds[rid].amount_usd * fraction / 100).quantize(Decimal("0.0001"))
        for ledger in (self.daily, self.monthly):
            ledger.settle(rid, actual, self.at)
        self._collect()

    @rule(rid=consumes(holds))
    def release(self, rid: str) -> None:
        if rid not in self.daily.holds:
            return
        for ledger in (self.daily, self.monthly):
            ledger.release(rid, "ALL_MODELS_FAILED", self.at)
        self._collect()

    @rule()
    def charge_stale(self) -> None:
        """The scheduled sweep, with every open hold older than the cutoff (time moves past all of them)."""
        self.at += timedelta(minutes=20)
        for ledger in (self.daily, self.monthly):
            ledger.charge_stale(timedelta(minutes=15), self.at, "stale")
        self._collect()

    @rule(fraction=st.integers(min_value=0, max_value=200))
    def late_report(self, fraction: int) -> None:
        """A call charged as stale reports back after all, cheaper or dearer than its hold."""
        if not self.daily.charged:
            return
        rid = sorted(self.daily.charged)[0]
        actual = (self.daily.charged[rid] * fraction / 100).quantize(Decimal("0.0001"))
        for ledger in (self.daily, self.monthly):
            self.late_excess[ledger.id] += max(Decimal(0), actual - ledger.charged[rid])
            ledger.record_late_usage(rid, actual, self.at)
        self._collect()

    @rule()
    def alert(self) -> None:
        """The alert check after a call (§5.6): at most one alert per period until a reset clears it."""
        for ledger in (self.daily, self.monthly):
            alerted = ledger.alerted
            raised = ledger.alert_if_due(ENVELOPE.alert_threshold_pct, self.at)
            assert raised is (not alerted and ledger.percent_used() >= Decimal("80.0"))
        self._collect()

    @rule(every=st.integers(min_value=1, max_value=6))
    def checkpoint(self, every: int) -> None:
        """As the service does before each save (ADR 0501), with intervals short enough to land often."""
        for ledger in (self.daily, self.monthly):
            due = ledger.version - ledger.checkpointed_at >= every
            assert ledger.checkpoint_if_due(every) is due
        self._collect()

    @rule(again=st.booleans())
    def reset_daily(self, again: bool) -> None:
        """A reset clears the period's usage; the same reset again (same operator, same reason) records nothing and
        clears nothing spent since (ADR 0517)."""
        repeat = again and self.resets > 0
        self.resets += 0 if repeat else 1
        consumed = self.daily.consumed_usd
        assert self.daily.reset_usage("OPS" if repeat else "ops", f" drill {self.resets}", self.at) is not repeat
        if repeat:
            assert self.daily.consumed_usd == consumed
        else:
            self.last_consumed = Decimal(0)
        self._collect()

    @invariant()
    def never_negative_and_within_limit(self) -> None:
        for ledger, limit in ((self.daily, Decimal("1.0")), (self.monthly, Decimal("3.0"))):
            assert ledger.consumed_usd >= 0 and ledger.reserved_usd >= 0
            # settle ≤ hold keeps this within the limit; only a late report dearer than its stale charge
            # (money the provider really took) may push past it, by exactly that excess
            assert ledger.consumed_usd + ledger.reserved_usd <= limit + self.late_excess[ledger.id]
            assert all(h.amount_usd >= 0 for h in ledger.holds.values())

    @invariant()
    def kept_sum_of_holds_is_their_sum(self) -> None:
        """``reserved_usd`` is kept as holds open and close (ADR 0500): always exactly the sum of the open holds,
        live and replayed."""
        for ledger in (self.daily, self.monthly, *(_replay(self.stored[i]) for i in self.stored)):
            assert ledger.reserved_usd == sum((h.amount_usd for h in ledger.holds.values()), Decimal(0))

    @invariant()
    def same_holds_in_both_periods(self) -> None:
        assert set(self.daily.holds) == set(self.monthly.holds)

    @invariant()
    def consumption_monotonic_within_period(self) -> None:
        assert self.daily.consumed_usd >= self.last_consumed
        self.last_consumed = self.daily.consumed_usd

    @invariant()
    def one_alert_per_period_at_the_threshold(self) -> None:
        for ledger in (self.daily, self.monthly):
            events = self.history[ledger.id]
            since = [i for i, ev in enumerate(events) if isinstance(ev, BudgetPeriodLedger.UsageReset)]
            alerts = [ev for ev in events[since[-1] + 1 if since else 0:]
                      if isinstance(ev, BudgetPeriodLedger.AlertRaised)]
            assert len(alerts) <= 1 and ledger.alerted is bool(alerts)
            assert all(ev.percent_used >= ev.threshold_pct for ev in alerts)

    @invariant()
    def replay_equals_live(self) -> None:
        for ledger in (self.daily, self.monthly):
            assert _view(_replay(self.stored[ledger.id])) == _view(ledger)

    @invariant()
    def resumed_from_the_last_checkpoint_equals_live(self) -> None:
        for ledger in (self.daily, self.monthly):
            resumed = _resumed(self.stored[ledger.id])
            assert resumed is None or _view(resumed) == _view(ledger)

    def teardown(self) -> None:
        """Every hold still open is released: nothing leaks once the calls are done."""
        for rid in list(self.daily.holds):
            for ledger in (self.daily, self.monthly):
                ledger.release(rid, "teardown", self.at)
        assert not self.daily.holds and not self.monthly.holds
        assert self.daily.reserved_usd == self.monthly.reserved_usd == 0


LedgerMachine.TestCase.settings = settings(max_examples=examples(150), stateful_step_count=steps(40), deadline=None)
test_ledger_state_machine = LedgerMachine.TestCase
