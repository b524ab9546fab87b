"""The §7.1 schedule: cron parsing against a brute-force reading, due slots, slot ids, the daily report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paulp.domain.orchestration import JobRun, UnknownJob, daily_report
from paulp.domain.order_states import OrderState
from paulp.domain.order_workflow import MetricsInput
from paulp.domain.schedule import (
    MAX_CATCH_UP,
    MINUTE,
    SCHEDULE,
    InvalidCron,
    Slot,
    build_schedule,
    due_slots,
    floor_minute,
    parse_cron,
    slot_run_id,
)
from tests.support.hypothesis_scale import examples

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
JOBS, _ = build_schedule(SCHEDULE)


def _fired(at: datetime) -> set[str]:
    return {j.job for j in JOBS if j.cron.matches(at)}


@pytest.mark.parametrize(("minute", "expected"), [
    (datetime(2026, 3, 2, 0, 0, tzinfo=UTC), {"ingest", "reconcile", "scan", "anchor", "exits", "order-timers"}),
    (datetime(2026, 3, 2, 10, 2, tzinfo=UTC), {"execute", "order-timers"}),
    (datetime(2026, 3, 2, 10, 5, tzinfo=UTC), {"reconcile", "exits", "order-timers"}),
    (datetime(2026, 3, 2, 10, 15, tzinfo=UTC), {"ingest", "reconcile", "exits", "order-timers"}),
    (datetime(2026, 3, 2, 10, 30, tzinfo=UTC), {"ingest", "reconcile", "scan", "exits", "order-timers"}),
    (datetime(2026, 3, 2, 10, 52, tzinfo=UTC), {"execute", "order-timers"}),
    (datetime(2026, 3, 2, 10, 7, tzinfo=UTC), {"order-timers"}),
    (datetime(2026, 3, 2, 2, 30, tzinfo=UTC), {"ingest", "reconcile", "scan", "exits", "verify", "order-timers"}),
    (datetime(2026, 3, 2, 23, 0, tzinfo=UTC), {"ingest", "reconcile", "scan", "anchor", "daily-report", "exits",
                                               "order-timers"}),
])
def test_schedule_when_minute_given_then_the_section_7_1_jobs_fire(minute, expected):
    assert _fired(minute) == expected


def test_schedule_when_a_day_is_walked_then_each_job_fires_as_often_as_its_cron_says():
    counts: dict[str, int] = {}
    at = datetime(2026, 3, 2, tzinfo=UTC)
    for _ in range(24 * 60):
        for job in _fired(at):
            counts[job] = counts.get(job, 0) + 1
        at += MINUTE
    assert counts == {"ingest": 96, "reconcile": 288, "scan": 144, "execute": 144, "anchor": 24, "daily-report": 1,
                      "exits": 288, "verify": 1, "order-timers": 1440}


def test_matches_when_time_has_an_offset_then_read_in_utc():
    from datetime import timezone
    new_york = timezone(timedelta(hours=-5))
    assert parse_cron("0 23 * * *").matches(datetime(2026, 3, 2, 18, 0, tzinfo=new_york))
    assert not parse_cron("0 23 * * *").matches(datetime(2026, 3, 2, 23, 0, tzinfo=new_york))


def _brute(field: str, low: int, high: int) -> set[int]:
    """An independent reading of one cron field, item by item."""
    out: set[int] = set()
    for item in field.split(","):
        base, step = [*item.split("/"), "1"][:2]
        if base == "*":
            values = range(low, high + 1)
        elif "-" in base:
            a, b = base.split("-")
            values = range(int(a), int(b) + 1)
        else:
            values = range(int(base), (high if "/" in item else int(base)) + 1)
        out.update(v for i, v in enumerate(values) if i % int(step) == 0)
    return out


@st.composite
def _minute_field(draw: st.DrawFn) -> str:
    items = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["star", "num", "range"]))
        if kind == "star":
            base = "*"
        elif kind == "num":
            base = str(draw(st.integers(0, 59)))
        else:
            a = draw(st.integers(0, 59))
            base = f"{a}-{draw(st.integers(a, 59))}"
        step = draw(st.one_of(st.none(), st.integers(1, 30)))
        items.append(base if step is None else f"{base}/{step}")
    return ",".join(items)


@settings(max_examples=examples(200), deadline=None)
@given(_minute_field(), st.integers(0, 60 * 24 * 7))
def test_parse_cron_when_any_minute_field_then_matches_the_brute_force_reading(field, offset):
    cron = parse_cron(f"{field} * * * *")
    at = T0 + offset * MINUTE
    assert cron.matches(at) == (at.minute in _brute(field, 0, 59))


@pytest.mark.parametrize("text", [
    "", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8",
    "*/0 * * * *", "5-2 * * * *", "a * * * *", "1,,2 * * * *", "-1 * * * *", "\u0661 * * * *", "*/x * * * *",
])
def test_parse_cron_when_not_five_valid_fields_then_invalid_cron(text):
    with pytest.raises(InvalidCron):
        parse_cron(text)


def test_days_when_both_restricted_then_either_matches_as_in_cron():
    cron = parse_cron("0 0 13 * 5")  # the 13th, or any Friday
    assert cron.matches(datetime(2026, 3, 13, tzinfo=UTC))  # a Friday the 13th
    assert cron.matches(datetime(2026, 4, 13, tzinfo=UTC))  # a Monday the 13th
    assert cron.matches(datetime(2026, 3, 6, tzinfo=UTC))  # a Friday the 6th
    assert not cron.matches(datetime(2026, 3, 7, tzinfo=UTC))
    assert parse_cron("0 0 * * 7").matches(datetime(2026, 3, 1, tzinfo=UTC))  # 7 is Sunday too


def test_build_schedule_when_an_entry_is_unknown_then_it_is_reported_and_the_rest_kept():
    jobs, ignored = build_schedule([("scan", "*/10 * * * *"), ("odd", "every ten minutes")])
    assert [j.job for j in jobs] == ["scan"]
    assert len(ignored) == 1 and ignored[0].startswith("odd: ")


def test_due_slots_when_first_tick_then_only_its_own_minute_counts():
    first = due_slots(JOBS, None, T0 + timedelta(minutes=3, seconds=40))  # 10:03: only the every-minute timers
    assert [(s.job, s.minute) for s in first] == [("order-timers", T0 + timedelta(minutes=3))]
    assert {s.job for s in due_slots(JOBS, None, T0 + timedelta(seconds=59))} == {"ingest", "reconcile", "scan",
                                                                                   "anchor", "exits", "order-timers"}


def test_due_slots_when_minutes_were_missed_then_latest_slot_per_job_within_the_catch_up():
    slots = due_slots(JOBS, T0, T0 + timedelta(minutes=13, seconds=5))  # 10:01 .. 10:13 seen now
    by_job = {s.job: s.minute for s in slots}
    # only the last MAX_CATCH_UP minutes (10:09 .. 10:13) are looked at
    assert by_job == {"reconcile": T0 + timedelta(minutes=10), "scan": T0 + timedelta(minutes=10),
                      "execute": T0 + timedelta(minutes=12), "exits": T0 + timedelta(minutes=10),
                      "order-timers": T0 + timedelta(minutes=13)}
    assert len(slots) == len(by_job)


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(st.integers(1, 200), min_size=1, max_size=40))
def test_due_slots_when_ticks_at_least_every_minute_or_so_then_every_slot_exactly_once(gaps_s):
    """Ticks never further apart than the catch-up: each slot in the covered minutes is due exactly once; the
    every-minute order timers fire once in each minute a tick reaches, never twice, never for a skipped one
    (only a job's latest missed slot is due)."""
    after, now, seen, ticked = None, T0, [], []
    start = now
    for gap in gaps_s:
        seen += due_slots(JOBS, after, now)
        if after is None or floor_minute(now) > floor_minute(after):
            ticked.append(floor_minute(now))
        after, now = now, now + timedelta(seconds=gap)
    expected = []
    minute = start
    while minute <= after:
        expected += [(j, minute) for j in sorted(_fired(minute) - {"order-timers"})]
        minute += MINUTE
    assert sorted((s.job, s.minute) for s in seen if s.job != "order-timers") == sorted(expected)
    assert [s.minute for s in seen if s.job == "order-timers"] == ticked
    assert MAX_CATCH_UP >= timedelta(seconds=200)


def test_slot_run_id_when_same_job_and_minute_then_same_id_else_different():
    a = Slot("scan", T0).run_id
    assert a == slot_run_id("scan", T0 + timedelta(seconds=0)) == "scheduled:scan:2026-03-02T10:00Z"
    assert JobRun.create_id(a) == JobRun.create_id(Slot("scan", T0).run_id)
    assert a != Slot("scan", T0 + MINUTE).run_id != Slot("execute", T0 + MINUTE).run_id


def test_jobrun_when_scheduled_only_job_then_only_the_scheduler_may_start_it():
    assert JobRun.start("r", "daily-report", "scheduler", "scheduler", T0).job == "daily-report"
    for source in ("admin", "webhook"):
        with pytest.raises(UnknownJob):
            JobRun.start("r", "anchor", "ops", source, T0)


def test_daily_report_when_orders_of_the_day_then_section_1_9_metrics():
    created = datetime(2026, 3, 2, 9, tzinfo=UTC)
    orders = [
        MetricsInput(OrderState.FILLED, created, created + timedelta(seconds=2)),
        MetricsInput(OrderState.FILLED, created, created + timedelta(seconds=4), clv=0.03),
        MetricsInput(OrderState.SUBMITTED, created),
        MetricsInput(OrderState.RISK_REJECTED, created, clv=-0.01),
    ]
    report = daily_report(date(2026, 3, 2), orders)
    assert report["date"] == "2026-03-02"
    assert (report["ordersCreated"], report["ordersFilled"], report["clvOrders"]) == (4, 2, 2)
    assert report["avgCLV"] == pytest.approx(0.01)
    assert report["avgTimeToFillMs"] == pytest.approx(3000)
    assert report["fillRate"] == pytest.approx(2 / 3)
    assert report["byState"] == {"FILLED": 2, "SUBMITTED": 1, "RISK_REJECTED": 1}
    later = daily_report(date(2026, 3, 2), [  # the same day once the reconcile run moved the fills on (ADR 0413)
        MetricsInput(OrderState.RECONCILED, created, created + timedelta(seconds=2)),
        MetricsInput(OrderState.ARCHIVED, created, created + timedelta(seconds=4), clv=0.03), *orders[2:]])
    assert {k: v for k, v in later.items() if k != "byState"} == {k: v for k, v in report.items() if k != "byState"}
    assert later["byState"] == {"RECONCILED": 1, "ARCHIVED": 1, "SUBMITTED": 1, "RISK_REJECTED": 1}
    empty = daily_report(date(2026, 3, 2), [])
    assert (empty["ordersCreated"], empty["avgCLV"], empty["byState"]) == (0, 0.0, {})
