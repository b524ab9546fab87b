"""The two database consumers of §7.3's recent-block rule (ADR 0483): the go-live check and the
`/admin/routing/drift-sweeps` document read the same window as `paulp.domain.governance.recent_block` —
inclusive at exactly `now - 7 days`, and over every sweep of the window, not only the newest 50."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from paulp.api.routers.governance import DatabaseGoLiveChecks
from paulp.api.routing_queries import drift_document

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 15, 3, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def _sweep(db_url: str, swept_at: datetime, blocked: bool) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO views.llm_drift_sweeps (sweep_id, sweep_type, sweep_day, baseline_prompt_version,"
            " baseline_model_id, candidate_prompt_version, candidate_model_id, gold_set_size, mean_score_delta,"
            " max_score_delta, rank_order_changes, prompt_injection_pass_rate, mean_delta_threshold,"
            " max_delta_threshold, injection_pass_threshold, passed, blocked_deployment, deployment_allowed,"
            " failure_reasons, swept_at) VALUES (%s, 'nightly_stability', %s, '1.0.0', 'routing:auto', '1.0.0',"
            " 'routing:auto', 0, 0, 0, 0, 1.0, 0.1, 0.25, 1.0, %s, %s, %s, %s, %s)",
            (uuid.uuid4(), swept_at.date().isoformat(), not blocked, blocked, not blocked,
             json.dumps(["blocked"] if blocked else []), swept_at))


def _document(db_url: str) -> dict[str, Any]:
    with ConnectionPool(db_url, min_size=1, max_size=1, open=True) as pool:
        return drift_document(pool, NOW)


def test_go_live_check_when_block_is_exactly_seven_days_old_then_blocked(fresh_db) -> None:
    # Arrange: §7.3 "within the lookback" read inclusively, as recent_block and the drift document read it
    _sweep(fresh_db, NOW - WEEK, blocked=True)
    # Act
    blocked = DatabaseGoLiveChecks(fresh_db, clock=lambda: NOW).drift_blocked_recently()
    # Assert
    assert blocked is True
    assert _document(fresh_db)["recentBlock"] is True


def test_go_live_check_when_block_is_one_ms_outside_then_not_blocked(fresh_db) -> None:
    # Arrange
    _sweep(fresh_db, NOW - WEEK - timedelta(milliseconds=1), blocked=True)
    # Act
    blocked = DatabaseGoLiveChecks(fresh_db, clock=lambda: NOW).drift_blocked_recently()
    # Assert
    assert blocked is False
    assert _document(fresh_db)["recentBlock"] is False


def test_drift_document_when_block_is_older_than_the_newest_50_sweeps_then_still_recent(fresh_db) -> None:
    # Arrange: one block six days ago, then 50 passing sweeps after it, all inside the week
    _sweep(fresh_db, NOW - timedelta(days=6), blocked=True)
    for i in range(50):
        _sweep(fresh_db, NOW - timedelta(hours=100 - i), blocked=False)
    # Act
    doc = _document(fresh_db)
    # Assert: ANY blocked sweep within the lookback (§7.3); the newest decides the other gate
    assert doc["recentBlock"] is True and doc["latestDeployAllowed"] is True
    assert DatabaseGoLiveChecks(fresh_db, clock=lambda: NOW).drift_blocked_recently() is True
