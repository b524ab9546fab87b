"""A market's LLM scoring runs for the trade path (ADR 0425), read from ``views.llm_scoring_runs``."""

from __future__ import annotations

from typing import Any

from psycopg_pool import ConnectionPool

from paulp.domain.scoring_inputs import MARKET_TARGET, PAIR_TARGET, MarketScoring, MarketScoringRun

_PAIRS = "SELECT pair_id FROM views.market_pairs WHERE market_a = %(m)s OR market_b = %(m)s"
# The market's own runs and its pairs' runs, oldest first (ties by id): the domain picks the latest of each kind.
_RUNS = (
    "SELECT run_id::text, run_type, target_entity_type, target_entity_id, created_at, score,"
    " flagged_for_human_review, human_override_score, input_hash, input_text FROM views.llm_scoring_runs"
    " WHERE (target_entity_type = %(market)s AND target_entity_id = %(m)s)"
    " OR (target_entity_type = %(pair)s AND target_entity_id = ANY(%(pairs)s))"
    " ORDER BY created_at, run_id"
)


class ViewScoring:
    """``ScoringPort`` over the read model: it lags the log by the projector's delay, as every view read does.
    Raises when the views cannot be read (the pipeline then fails closed)."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    def market_scoring(self, market_id: str) -> MarketScoring:
        with self.pool.connection() as conn:
            pairs = [str(r[0]) for r in conn.execute(_PAIRS, {"m": market_id}).fetchall()]
            rows = conn.execute(_RUNS, {"market": MARKET_TARGET, "pair": PAIR_TARGET, "m": market_id,
                                        "pairs": pairs}).fetchall()
        runs = tuple(MarketScoringRun(run_id, run_type, target_type, target_id, created_at, score, bool(flagged),
                                      override, input_hash, input_text)
                     for run_id, run_type, target_type, target_id, created_at, score, flagged, override, input_hash,
                     input_text in rows)
        return MarketScoring(market_id, runs, frozenset(pairs))
