"""Closing the container runs every step even when one fails (ADR 0524, completing ADR 0515)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from paulp.domain.routing import BudgetCategory
from paulp.domain.services.routing_outcomes import OutcomeWriteFailed
from tests.integration.helpers import make_container

# the contexts Container.close closes after routing
LATER = ("markets", "orchestrator", "strategies", "reviews", "gates", "verification", "fair_values", "correlations",
         "compliance", "limit_settings", "execution_policies", "scoring_reviews")


def test_close_when_the_routing_flush_fails_then_every_later_close_still_runs_and_the_flush_error_is_raised(
        fresh_db: str, nats_url: str, namespace: str) -> None:
    # Arrange: a governed call's outcome that cannot be stored: it settles a hold the ledger never opened
    container = make_container(fresh_db, nats_url, namespace)
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

    def settle_unknown_hold(daily, monthly):  # type: ignore[no-untyped-def]
        daily.settle("never-reserved", Decimal("0.01"), at)
        return None, [daily]

    container.routing._outcomes.submit(BudgetCategory.RESEARCH_SCORING.value, settle_unknown_hold, at)
    # Act
    with pytest.raises(OutcomeWriteFailed):
        container.close()
    # Assert: the contexts closed after routing, and the pool, were closed all the same
    for name in LATER:
        assert getattr(container, name).recorder.datastore.pool.closed, f"{name} left open"
    assert container.pool.closed
