"""LLM regression read models: one row per suite run and one per test result (the §8.8 gate read model).

A pure function of the log: every value comes from the suite's event; the gate category is the §8.8
mapping of the stored category.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.llm_records import RegressionSuiteRecord
from paulp.domain.llm_regression_suite import gate_category

INSERT_RUN = (
    "INSERT INTO llm_regression_runs (run_id, record_id, suite, prompt_version, prompt_hashes, total_tests, passed,"
    " failed, pass_rate, by_category, execution_time_ms, started_at, completed_at, notification_id)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (run_id) DO NOTHING")
INSERT_RESULT = (
    "INSERT INTO llm_regression_results (run_id, test_id, suite, category, gate_category, attack_type, run_type,"
    " prompt_version, expected_score_min, expected_score_max, passed, score, confidence, failures, decision_id,"
    " run_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (run_id, test_id) DO NOTHING")


class LlmRegressionProjection:
    name = "llm_regression"
    tables = ("llm_regression_runs", "llm_regression_results")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: RegressionSuiteRecord.Completed, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(INSERT_RUN, (e.run_id, e.originator_id, e.suite, e.prompt_version, Jsonb(dict(e.prompt_hashes)),
                                 e.total_tests, e.passed, e.failed, e.pass_rate, Jsonb(dict(e.by_category)),
                                 e.execution_time_ms, e.started_at, e.completed_at, notification_id))
        for r in e.results:
            category = str(r["category"])
            cur.execute(INSERT_RESULT, (
                e.run_id, r["testId"], e.suite, category, gate_category(category), r.get("attack"), r["runType"],
                e.prompt_version, r["expectedScoreMin"], r["expectedScoreMax"], bool(r["passed"]), r.get("score"),
                r.get("confidence"), Jsonb(list(r.get("failures", []))), r.get("decisionId"), e.started_at))
