"""`paulp backtest` end to end (ADR 0265): a run is stored once as an event, projected through NATS into
views.backtests, and decides P2_BACKTEST_QUALITY; bad input stores nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from paulp.adapters.gate_facts import DatabaseGateFacts, GateSources
from paulp.adapters.migrate import migrate
from paulp.domain.gate_checks import CHECKS
from tests.e2e.test_cli import paulp, paulp_here
from tests.integration.helpers import make_container, max_notification_id, wait_tracked, workers

pytestmark = pytest.mark.integration

START = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())
TICKERS = ("KXBT-A", "KXBT-B", "KXBT-C", "KXBT-D", "KXBT-E")


def candle(hour: int, bid: float, ask: float | None, volume: float = 600) -> dict[str, Any]:
    """One hourly candle in the shape of Kalshi's candlesticks (and shared/data/kalshi)."""
    return {"end_period_ts": START + hour * 3600, "open_interest": "0.00", "volume": f"{volume:.2f}",
            "price": {"close": None, "high": None, "low": None, "mean": None, "open": None, "previous": None},
            "yes_bid": {"close": f"{bid:.4f}", "high": None, "low": None, "open": None},
            "yes_ask": {"close": None if ask is None else f"{ask:.4f}", "high": None, "low": None, "open": None}}


def history_file(tmp_path: Path, final_bid: float) -> Path:
    """Five near-certain markets bought at hour 1 (95/96 book, 1,200 contracts in 24 h) and sold at the
    final bid when the history ends."""
    doc = {t: [candle(0, 0.95, 0.96), candle(1, 0.95, 0.96), candle(2, 0.96, 0.97), candle(3, final_bid, None)]
           for t in TICKERS}
    path = tmp_path / f"history-{final_bid}.json"
    path.write_text(json.dumps(doc))
    return path


def fair_file(tmp_path: Path) -> Path:
    path = tmp_path / "fair.json"
    path.write_text(json.dumps(dict.fromkeys(TICKERS, 0.99)))
    return path


def backtest_quality(db: str, tmp_path: Path) -> Any:
    facts = DatabaseGateFacts(GateSources(db, tmp_path / "evidence", {}, ()))
    return CHECKS["P2_BACKTEST_QUALITY"](facts.phase2(datetime.now(UTC)))


def test_backtest_when_run_then_stored_once_projected_and_decides_the_gate(fresh_db, nats_url, namespace,
                                                                          tmp_path):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        with workers(container, projections=["backtests"]):
            assert backtest_quality(fresh_db, tmp_path).passed is False  # none in 30 days
            losing = paulp(["backtest", "run", "--data", str(history_file(tmp_path, 0.96)), "--fair",
                            str(fair_file(tmp_path)), "--name", "losing", "--json"], fresh_db, nats_url)
            assert losing.returncode == 0, losing.stderr
            lost = json.loads(losing.stdout)
            # 93 contracts each at 96 + 1 slippage, sold at 96: -0.93 USD per trade
            assert (lost["stored"], lost["trades"], lost["wins"]) == (True, 5, 0)
            assert lost["expectedValue"] == pytest.approx(-0.93)
            wait_tracked(fresh_db, "backtests", max_notification_id(fresh_db))
            check = backtest_quality(fresh_db, tmp_path)
            assert (check.passed, check.actual) == (False, "-0.9300")

            winning = paulp(["backtest", "run", "--data", str(history_file(tmp_path, 0.99)), "--fair",
                             str(fair_file(tmp_path)), "--name", "winning", "--json"], fresh_db, nats_url)
            won = json.loads(winning.stdout)
            assert (won["stored"], won["wins"], won["expectedValue"]) == (True, 5, pytest.approx(1.86))
            # in process: the command's two runs above are real processes (ADR 0491)
            again = paulp_here(["backtest", "run", "--data", str(history_file(tmp_path, 0.99)), "--fair",
                                str(fair_file(tmp_path)), "--name", "winning", "--json"], fresh_db, nats_url)
            assert json.loads(again.stdout) == {**won, "stored": False}  # the same run is not stored twice
            wait_tracked(fresh_db, "backtests", max_notification_id(fresh_db))
            check = backtest_quality(fresh_db, tmp_path)
            assert (check.passed, check.actual) == (True, "0.4650")  # mean of -0.93 and 1.86

            with psycopg.connect(fresh_db) as conn:
                rows = conn.execute("SELECT name, trades, wins, jsonb_array_length(trade_log), data_hash"
                                    " FROM views.backtests ORDER BY name").fetchall()
                stored = conn.execute("SELECT count(*) FROM paulp_events WHERE topic LIKE %s",
                                      ("%BacktestRecord.Completed",)).fetchone()
            assert [r[:4] for r in rows] == [("losing", 5, 0, 5), ("winning", 5, 5, 5)]
            assert stored == (2,)
            listed = paulp(["backtest", "list", "--json"], fresh_db, nats_url)
            assert [r["name"] for r in json.loads(listed.stdout)] == ["winning", "losing"]
    finally:
        container.close()


def test_backtest_older_than_30_days_then_not_counted(fresh_db, nats_url, namespace, tmp_path):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        with workers(container, projections=["backtests"]):
            ran = paulp_here(["backtest", "run", "--data", str(history_file(tmp_path, 0.99)), "--fair",
                              str(fair_file(tmp_path))], fresh_db, nats_url)  # in process, as above
            assert ran.returncode == 0, ran.stderr
            wait_tracked(fresh_db, "backtests", max_notification_id(fresh_db))
        facts = DatabaseGateFacts(GateSources(fresh_db, tmp_path / "evidence", {}, ()))
        assert len(facts.phase2(datetime.now(UTC)).backtest_expected_values) == 1  # type: ignore[arg-type]
        assert facts.phase2(datetime.now(UTC) + timedelta(days=31)).backtest_expected_values == []
    finally:
        container.close()


def files(tmp_path: Path) -> dict[str, Path]:
    out = {"missing": tmp_path / "missing.json", "notjson": tmp_path / "notjson.json",
           "badprice": tmp_path / "badprice.json", "badfair": tmp_path / "badfair.json",
           "good": history_file(tmp_path, 0.99)}
    out["notjson"].write_text("{not json")
    out["badprice"].write_text(json.dumps({"KX": [{**candle(0, 0.95, 0.96), "yes_bid": {"close": "1.5"}}]}))
    out["badfair"].write_text(json.dumps({"KXBT-A": 1.2}))
    return out


@pytest.mark.parametrize(("args", "message"), [
    (["--data", "{missing}"], "cannot read"),
    (["--data", "{good}", "--fair", "{badfair}"], "must be a number in (0, 1)"),
    (["--data", "{good}", "--strategy", "weather"], "only bonding"),
])
def test_backtest_when_input_bad_then_exit_2_with_message_and_nothing_stored(fresh_db, nats_url, tmp_path, args,
                                                                             message):
    migrate(fresh_db)
    before = max_notification_id(fresh_db)
    named = {k: str(v) for k, v in files(tmp_path).items()}
    # the refusal in process: test_backtest_when_run_then_stored_once... starts the command as a process (ADR 0491)
    r = paulp_here(["backtest", "run", *[a.format(**named) for a in args]], fresh_db, nats_url)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert max_notification_id(fresh_db) == before


@pytest.mark.parametrize(("args", "message"), [
    ({"data": "notjson"}, "is not JSON"),
    ({"data": "badprice"}, "outside 0..1"),
    ({"data": "good", "strategy": "nope"}, "No capital allocation"),
    ({"data": "good", "capital": -5.0}, "capital must be a positive number"),
    ({"data": "good", "name": "  "}, "--name"),
])
def test_backtest_command_when_input_bad_then_refused_before_storage(tmp_path, capsys, args, message):
    """The same command in process, with no database configured: the refusal comes before any service."""
    from typer import Exit

    from paulp.api.cli_backtest import run

    paths = files(tmp_path)
    kwargs = {"strategy": "bonding", "fair": None, "capital": None, "name": None, "as_json": True, **args}
    kwargs["data"] = paths[str(args["data"])]
    with pytest.raises(Exit) as raised:
        run(**kwargs)  # type: ignore[arg-type]
    assert raised.value.exit_code == 2
    assert message in capsys.readouterr().err.replace("\n", "")
