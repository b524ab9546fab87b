"""Market marks are cached, fast-forwarded and checkpointed (ADR 0505), on real PostgreSQL: the marks job's
ordinary saves write the checkpoint into the chain, a second process's first load resumes from it to the mark a full
replay gives, each process sees the other's quotes, and the market_marks view is unchanged by the checkpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from paulp.adapters.audit_store import verify
from paulp.adapters.projector import catch_up_from_log
from paulp.api.wiring import application_env
from paulp.domain.checkpoints import CHECKPOINT_EVERY
from paulp.domain.clock import FixedClock
from paulp.domain.marks import MarketMark, Quotes
from paulp.domain.services.markets import RESUME_MARK, MarketsService
from paulp.projections.markets import MarketMarksProjection
from tests.integration.helpers import chain_log, checkpoint_places, load_counting

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
AT = datetime(2026, 3, 2, 15, tzinfo=UTC)
TICKER = "KXHIGHNY-26MAR02-B45"


def _mark(m: MarketMark) -> tuple[Any, ...]:
    return (m.id, m.version, m.created_on, m.modified_on, m.ticker, m.quotes, m.at, m.result, m.resolved_at,
            m.checkpointed_at)


def _quotes(i: int) -> Quotes:
    bid = 20 + i % 50
    return Quotes(bid, bid + 2, 98 - bid, 100 - bid)


def test_mark_when_past_the_interval_then_a_new_process_resumes_from_the_checkpoint_and_both_see_new_quotes(
        fresh_db):
    # Arrange: the marks job of one process records a minute's moving quotes past one checkpoint
    env = application_env(fresh_db)
    first = MarketsService(env, FixedClock(AT))
    for i in range(CHECKPOINT_EVERY + 10):
        assert first.observe(TICKER, _quotes(i), AT + timedelta(minutes=i), None) is True
    mark_id = MarketMark.create_id(TICKER)
    log = chain_log(fresh_db, mark_id)
    # Act: another process's first load, through a probe counting what its resume is handed
    second, replaying = MarketsService(env, FixedClock(AT)), MarketsService(env, FixedClock(AT))
    resumed, handed = load_counting(second, mark_id, MarketMark.Checkpointed, RESUME_MARK)
    replayed: MarketMark = replaying.repository.get(mark_id)  # the library's full replay from Observed
    # Assert: one checkpoint where the interval put it, chained under its own name
    places = checkpoint_places(log, MarketMark.Checkpointed)
    assert places == [CHECKPOINT_EVERY + 1] and log[places[0] - 1][2] == "MarketMark.Checkpointed"
    assert all(event_type is not None for _, _, event_type in log) and verify(fresh_db).valid
    assert handed == [len(log) - places[0] + 1] and handed[0] < 20
    assert _mark(resumed) == _mark(replayed)
    assert (resumed.quotes, resumed.at) == (_quotes(CHECKPOINT_EVERY + 9), AT + timedelta(minutes=CHECKPOINT_EVERY + 9))
    # the view shows the last quotes; the checkpoint changes nothing in it
    with psycopg.connect(fresh_db) as conn:
        catch_up_from_log(conn, MarketMarksProjection())
        conn.commit()
        row = conn.execute("SELECT yes_bid, observed_at, result FROM views.market_marks WHERE ticker = %s",
                           (TICKER,)).fetchone()
    assert row == (_quotes(CHECKPOINT_EVERY + 9).yes_bid, AT + timedelta(minutes=CHECKPOINT_EVERY + 9), None)
    # each process sees the other's writes on its next (cached) load: new quotes, then the outcome
    later = AT + timedelta(minutes=CHECKPOINT_EVERY + 20)
    assert second.observe(TICKER, Quotes(90, 92, 8, 10), later, None) is True
    assert first.observe(TICKER, Quotes(90, 92, 8, 10), later + timedelta(minutes=1), None) is False  # not news
    assert first.resolve(TICKER, "yes", later + timedelta(minutes=2), None) is True
    assert second.observe(TICKER, Quotes(95, 97, 3, 5), later + timedelta(minutes=3), None) is False  # resolved
    for service in (first, second):
        mark = service.mark(TICKER)
        assert mark is not None and _mark(mark) == _mark(replaying.repository.get(mark_id))
        assert (mark.result, mark.quotes) == ("YES", Quotes(90, 92, 8, 10))
    for service in (first, second, replaying):
        service.close()

