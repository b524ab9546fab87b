"""``paulp compliance export`` (api-and-security §6.3, ADR 0371) on real PostgreSQL + NATS: orders made by the
order pipeline (PAPER fills, a LIVE fill at the loopback Kalshi exchange), projected, and exported through the
CLI in each format; LIVE only unless --include-paper; bad input exits 2 and writes nothing."""

from __future__ import annotations

import csv
import io
import json
import stat
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import Result

from paulp.adapters.market_data import StaticMarketData
from paulp.domain.clock import FixedClock
from tests.integration.helpers import NOW, facts, signal
from tests.integration.kalshi_system import System, run_cli

pytestmark = pytest.mark.integration
DAY = "2026-03-02"  # NOW's UTC day
NEXT_DAY = NOW + timedelta(days=1)


def _market_at(ticker: str, at: datetime) -> StaticMarketData:
    """The helpers' market facts, fresh as of ``at``."""
    base = facts(ticker)
    snapshot = replace(base.snapshot, settlement_time=at + timedelta(days=7), close_time=at + timedelta(days=7))
    return StaticMarketData({ticker: replace(base, snapshot=snapshot, settlement_date=at + timedelta(days=7),
                                             last_price_update=at - timedelta(seconds=5))})


def _orders(system: System) -> dict[str, str]:
    """One order of each kind the export must tell apart; their order ids by kind."""
    c = system.container
    clock = c.clock
    assert isinstance(clock, FixedClock)
    _, live = system.live_fill("rx-live", size=50)
    paper = c.pipeline(_market_at("KXTEST-A", NOW)).process(signal("rx-paper", "KXTEST-A", size=30))
    assert paper.state == "FILLED", paper
    never_sent = system.pending_order("rx-pending", "KXTEST-B", 42)
    clock.set(NEXT_DAY)
    later = c.pipeline(_market_at("KXTEST-C", NEXT_DAY)).process(signal("rx-later", "KXTEST-C", size=30))
    assert later.state == "FILLED", later
    clock.set(NOW)
    system.project("orders", "venue_orders")
    return {"live": live, "paper": paper.order_id, "pending": never_sent, "later": later.order_id}


def _cli(system: System, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    return run_cli(system, monkeypatch, "compliance", "export", *args)


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_export_when_default_then_only_live_orders_of_the_period_as_csv(system: System, monkeypatch):
    ids = _orders(system)
    out = _cli(system, monkeypatch, "--from", DAY, "--to", DAY, "--format", "csv")
    assert out.exit_code == 0, out.stdout + out.stderr
    text = out.stdout_bytes.decode()  # click's Result.stdout turns CRLF into LF
    assert text.startswith("Record_Sequence,Report_Date,Trader_ID,") and text.endswith("\r\n")
    [rec] = _csv(text)
    ticker = system.tradable_ticker()
    assert (rec["Trade_ID"], rec["Contract_Code"], rec["Contract_Description"]) == (ids["live"], ticker, ticker)
    assert (rec["Record_Sequence"], rec["Report_Date"], rec["Contract_Market"]) == ("1", DAY, "KALSHI")
    assert (rec["Order_Status"], rec["Position_Type"], rec["Trading_Purpose"]) == ("EXECUTED", "LONG",
                                                                                   "STATISTICAL_ARBITRAGE")
    order = system.container.orders.find(ids["live"])
    assert order is not None and order.avg_fill_price is not None
    assert rec["Trade_Price"] == f"{order.avg_fill_price / 100:.4f}" and rec["Trade_Quantity"] == "50"
    assert (rec["Trade_Date"], rec["Trade_Time"]) == (DAY, "15:00:00")
    assert rec["Execution_Time"] == "2026-03-02T15:00:00.000Z"


def test_export_when_paper_included_then_sent_orders_of_each_mode_in_creation_order(system: System, monkeypatch):
    ids = _orders(system)
    out = _cli(system, monkeypatch, "--from", DAY, "--to", DAY, "--format", "cftc", "--include-paper")
    assert out.exit_code == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["format"] == "cftc_part17" and doc["reportPeriod"] == {"startDate": DAY, "endDate": DAY}
    assert doc["recordCount"] == 2
    assert sorted(r["Trade_ID"] for r in doc["records"]) == sorted([ids["live"], ids["paper"]])  # not pending/later
    paper = next(r for r in doc["records"] if r["Trade_ID"] == ids["paper"])
    assert (paper["Contract_Code"], paper["Trade_Quantity"], paper["Position_Quantity"]) == ("KXTEST-A", 30, 30)
    assert paper["Trade_Price"] == "0.4300"  # ask 42 + 1 cent paper slippage

    both_days = _cli(system, monkeypatch, "--from", DAY, "--to", "2026-03-03", "--format", "json", "--include-paper")
    rows = json.loads(both_days.stdout)
    assert [r["order_id"] for r in rows][-1] == ids["later"] and len(rows) == 3
    assert {r["mode"] for r in rows} == {"LIVE", "PAPER"} and all(r["venue"] == "kalshi" for r in rows)
    assert next(r for r in rows if r["order_id"] == ids["paper"])["category"] == "economics"


def test_export_when_output_named_then_written_whole_and_replaces_the_old_file(system: System, monkeypatch,
                                                                               tmp_path: Path):
    ids = _orders(system)
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "cftc.csv"
    target.write_text("old export\n")
    out = _cli(system, monkeypatch, "--from", DAY, "--to", DAY, "--format", "csv", "--include-paper",
               "--output", str(target))
    assert out.exit_code == 0, out.stderr
    assert out.stdout == "" and "2 records exported" in out.stderr
    with target.open(newline="") as f:
        written = _csv(f.read())  # both made at NOW: the order id breaks the tie
    assert [(r["Record_Sequence"], r["Trade_ID"]) for r in written] == list(
        zip(("1", "2"), sorted([ids["live"], ids["paper"]]), strict=True))
    assert [p.name for p in folder.iterdir()] == ["cftc.csv"]  # no temp file left behind
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # trading records: the owner's only


@pytest.mark.parametrize("args,message", [
    (["--from", "2026-03-03", "--to", DAY, "--format", "csv"], "is after --to"),
    (["--from", "2026-3-2", "--to", DAY, "--format", "csv"], "must be a date YYYY-MM-DD"),
    (["--from", DAY, "--to", "2026-02-30", "--format", "csv"], "not a calendar date"),
    (["--from", DAY, "--to", DAY, "--format", "xml"], "unknown format 'xml'"),
])
def test_export_when_bad_input_then_exit_2_and_nothing_written(system: System, monkeypatch, tmp_path: Path,
                                                               args: list[str], message: str):
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "export.csv"
    target.write_text("earlier export\n")
    out = _cli(system, monkeypatch, *args, "--output", str(target))
    assert out.exit_code == 2 and message in out.stderr, out.stderr
    assert target.read_text() == "earlier export\n" and out.stdout == ""
    assert [p.name for p in folder.iterdir()] == ["export.csv"]


def test_export_when_output_folder_missing_then_exit_2(system: System, monkeypatch, tmp_path: Path):
    out = _cli(system, monkeypatch, "--from", DAY, "--to", DAY, "--format", "csv",
               "--output", str(tmp_path / "missing" / "x.csv"))
    assert out.exit_code == 2 and "no such folder" in out.stderr
    assert not (tmp_path / "missing").exists()


def test_export_when_a_stored_order_cannot_be_reported_then_exit_1_and_nothing_written(system: System, monkeypatch,
                                                                                       tmp_path: Path):
    """A view row missing what a record needs (here a blank ticker, as no projection writes) stops the export."""
    import psycopg

    ids = _orders(system)
    with psycopg.connect(system.container.database_url) as conn:
        conn.execute("UPDATE views.orders SET ticker = ' ' WHERE order_id = %s", (ids["live"],))
    target = tmp_path / "export.json"
    out = _cli(system, monkeypatch, "--from", DAY, "--to", DAY, "--format", "cftc", "--output", str(target))
    assert out.exit_code == 1 and f"order {ids['live']}: ticker missing" in out.stderr, out.stderr
    assert not target.exists()
