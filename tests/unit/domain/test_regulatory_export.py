"""Regulatory export of orders (api-and-security §6.3, ADR 0371): the CFTC Part 17 mapping rule by rule, the
three renderings, the period and format a request names, and stored rows that cannot be reported."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paulp.domain.order_states import OrderState
from paulp.domain.regulatory_export import (
    HEADER,
    LIFECYCLE_STATUS,
    ExportFormat,
    InvalidExportRequest,
    InvalidOrderRow,
    ReportPeriod,
    category_code,
    contract_market,
    description,
    lifecycle_status,
    order_status,
    parse_format,
    position_type,
    price_text,
    records,
    render,
    render_csv,
    render_raw,
    trading_purpose,
)
from tests.support.hypothesis_scale import examples

AT = datetime(2026, 3, 2, 15, 4, 5, 678000, tzinfo=UTC)
PERIOD = ReportPeriod.parse("2026-03-01", "2026-03-03")
SPEC_HEADER = ("Record_Sequence,Report_Date,Trader_ID,Trader_Type,Contract_Market,Contract_Code,Contract_Description,"
               "Position_Date,Position_Type,Position_Quantity,Position_Price,Trade_ID,Trade_Date,Trade_Time,"
               "Execution_Time,Trade_Price,Trade_Quantity,Account_Type,Trading_Purpose,Hedge_Flag,Order_Status")


def row(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "order_id": "ord-1", "venue": "kalshi", "strategy": "bonding", "ticker": "KXFED-26MAR-T4.25", "side": "YES",
        "category": "economics", "requested_size": 50, "filled_size": 50, "max_price": Decimal("42"),
        "avg_fill_price": Decimal("43"), "state": "FILLED", "created_at": AT,
        "filled_at": AT + timedelta(seconds=2), "partially_filled_at": None,
    }
    return {**base, **changes}


def one(**changes: Any) -> dict[str, str | int]:
    [rec] = records([row(**changes)], PERIOD)
    return rec


# ---------------------------------------------------------------- the mapping, rule by rule
@pytest.mark.parametrize("category,code", [
    ("politics", "POL"), ("economics", "ECON"), ("weather", "WX"), ("sports", "SPT"), ("entertainment", "ENT"),
    ("crypto", "CRPT"), ("science", "SCI"), ("finance", "FIN"), ("technology", "TECH"),
    ("Politics", "POL"), (" Crypto ", "CRPT"),  # Kalshi capitalises its categories
    ("Climate and Weather", "WX"), ("Financials", "FIN"), ("Science and Technology", "SCI"),
    ("Elections", "POL"), ("climate  and weather", "WX"),  # Kalshi's names (ADR 0371 addendum)
    ("Companies", "OTH"), ("World", "OTH"), ("unknown", "OTH"), ("", "OTH"), (None, "OTH"),
])
def test_category_code_when_mapped_then_spec_code_else_oth(category: str | None, code: str) -> None:
    assert category_code(category) == code


@pytest.mark.parametrize("venue,market", [("kalshi", "KALSHI"), ("Kalshi", "KALSHI"), ("polymarket", "POLY"),
                                          ("ibkr", "OTHER"), ("", "OTHER")])
def test_contract_market_when_venue_then_spec_code(venue: str, market: str) -> None:
    assert contract_market(venue) == market


@pytest.mark.parametrize("side,kind", [("YES", "LONG"), ("yes", "LONG"), ("NO", "SHORT"), ("", "SHORT")])
def test_position_type_when_yes_then_long_else_short(side: str, kind: str) -> None:
    assert position_type(side) == kind


@pytest.mark.parametrize("strategy,purpose", [
    ("bonding", "STATISTICAL_ARBITRAGE"), ("weather", "FUNDAMENTAL_ANALYSIS"), ("xv_signal", "CROSS_VENUE_ARBITRAGE"),
    ("smart_money", "FLOW_FOLLOWING"), ("resolution", "FUNDAMENTAL_ANALYSIS"), ("barbell", "SYSTEMATIC_TRADING"),
    ("bonding-v2", "STATISTICAL_ARBITRAGE"), ("nyc_weather_hi", "FUNDAMENTAL_ANALYSIS"),
    ("Bonding", "STATISTICAL_ARBITRAGE"),
    ("xv-signal", "SYSTEMATIC_TRADING"),  # the substring is xv_signal, underscore and all
    # several substrings: the first in the spec's order wins
    ("weather_bonding", "STATISTICAL_ARBITRAGE"), ("resolution_smart_money", "FLOW_FOLLOWING"),
    ("smart_money_xv_signal", "CROSS_VENUE_ARBITRAGE"), ("resolution_weather", "FUNDAMENTAL_ANALYSIS"),
])
def test_trading_purpose_when_strategy_contains_a_known_id_then_first_in_spec_order(strategy: str,
                                                                                     purpose: str) -> None:
    assert trading_purpose(strategy) == purpose


@pytest.mark.parametrize("status,code", [
    ("filled", "EXECUTED"), ("partial_fill", "PARTIAL"), ("pending", "PENDING"), ("submitted", "SUBMITTED"),
    ("cancelled", "CANCELLED"), ("rejected", "REJECTED"), ("expired", "EXPIRED"), ("FILLED", "EXECUTED"),
    ("canceled", "UNKNOWN"), ("resting", "UNKNOWN"), ("", "UNKNOWN"),
])
def test_order_status_when_spec_word_then_its_code_else_unknown(status: str, code: str) -> None:
    assert order_status(status) == code


@pytest.mark.parametrize("state,code", [
    ("FILLED", "EXECUTED"), ("RECONCILED", "EXECUTED"), ("ARCHIVED", "EXECUTED"), ("RECONCILIATION_DRIFT", "EXECUTED"),
    ("PARTIAL_FILL", "PARTIAL"), ("SUBMITTED", "SUBMITTED"), ("ORDER_ACKNOWLEDGED", "SUBMITTED"),
    ("RISK_APPROVED", "PENDING"), ("PRICE_MOVE_CANCEL", "CANCELLED"), ("RISK_REJECTED", "REJECTED"),
    ("EXPIRED", "EXPIRED"), ("ERROR", "UNKNOWN"), ("SOMETHING_NEW", "UNKNOWN"),
])
def test_lifecycle_status_when_state_then_the_status_it_means(state: str, code: str) -> None:
    assert lifecycle_status(state) == code


def test_lifecycle_status_when_every_state_then_each_mapped_on_purpose() -> None:
    unmapped = {s.value for s in OrderState} - set(LIFECYCLE_STATUS)
    assert unmapped == {"ERROR"}
    assert set(LIFECYCLE_STATUS) <= {s.value for s in OrderState}


@pytest.mark.parametrize("cents,text", [
    (Decimal("43"), "0.4300"), (Decimal("1"), "0.0100"), (Decimal("99"), "0.9900"), (Decimal("0"), "0.0000"),
    (Decimal("45.333333333333336"), "0.4533"),
    (Decimal("45.565"), "0.4557"), (Decimal("45.575"), "0.4558"),  # ties up, never to even
    (Decimal("45.56499"), "0.4556"), (Decimal("4E+1"), "0.4000"),
])
def test_price_text_when_cents_then_dollars_with_four_decimals_half_up(cents: Decimal, text: str) -> None:
    assert price_text(cents) == text


def test_price_when_filled_then_fill_price_else_limit_price() -> None:
    assert one()["Trade_Price"] == one()["Position_Price"] == "0.4300"
    unfilled = one(avg_fill_price=None, filled_size=0, state="SUBMITTED", filled_at=None)
    assert unfilled["Trade_Price"] == unfilled["Position_Price"] == "0.4200"
    assert one(avg_fill_price=Decimal("0"))["Trade_Price"] == "0.4200"  # "fill price or limit price"


def test_price_when_stored_as_float_then_read_by_its_repr_not_its_binary_value() -> None:
    # 45.565 as a binary double is 45.564999...: the stored decimal is 45.565, a tie, rounded up
    assert one(avg_fill_price=45.565)["Trade_Price"] == "0.4557"
    assert one(avg_fill_price=0.1 + 0.2)["Trade_Price"] == "0.0030"


def test_description_when_question_then_first_100_chars_else_market_id() -> None:
    assert description("Will the Fed cut?", "KX-A") == "Will the Fed cut?"
    assert description("é" * 150, "KX-A") == "é" * 100
    assert description(None, "KX-A") == description("", "KX-A") == description("  ", "KX-A") == "KX-A"
    assert description(None, "K" * 120) == "K" * 100
    assert one()["Contract_Description"] == one()["Contract_Code"] == "KXFED-26MAR-T4.25"
    assert one(question="Rate above 4.25%?")["Contract_Description"] == "Rate above 4.25%?"


def test_record_when_filled_order_then_every_field_as_adr_0371_says() -> None:
    assert one() == {
        "Record_Sequence": 1, "Report_Date": "2026-03-03", "Trader_ID": "PAULP_001",
        "Trader_Type": "ALGORITHMIC_TRADING_SYSTEM", "Contract_Market": "KALSHI", "Contract_Code": "KXFED-26MAR-T4.25",
        "Contract_Description": "KXFED-26MAR-T4.25", "Position_Date": "2026-03-02", "Position_Type": "LONG",
        "Position_Quantity": 50, "Position_Price": "0.4300", "Trade_ID": "ord-1", "Trade_Date": "2026-03-02",
        "Trade_Time": "15:04:05", "Execution_Time": "2026-03-02T15:04:07.678Z", "Trade_Price": "0.4300",
        "Trade_Quantity": 50, "Account_Type": "PROPRIETARY", "Trading_Purpose": "STATISTICAL_ARBITRAGE",
        "Hedge_Flag": "N", "Order_Status": "EXECUTED",
    }
    assert tuple(one()) == HEADER


def test_record_when_times_in_another_zone_then_dates_and_times_in_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    created = datetime(2026, 3, 3, 8, 30, tzinfo=tokyo)  # 2026-03-02 23:30 UTC
    rec = one(created_at=created, filled_at=datetime(2026, 3, 3, 9, 1, tzinfo=tokyo))  # 00:01 UTC, next day
    assert (rec["Trade_Date"], rec["Trade_Time"]) == ("2026-03-02", "23:30:00")
    assert rec["Execution_Time"] == "2026-03-03T00:01:00.000Z" and rec["Position_Date"] == "2026-03-03"


def test_record_when_unfilled_or_partial_then_execution_time_and_quantities_say_so() -> None:
    working = one(state="ORDER_ACKNOWLEDGED", filled_size=0, avg_fill_price=None, filled_at=None)
    assert (working["Execution_Time"], working["Trade_Quantity"], working["Position_Quantity"]) == ("", 0, 50)
    assert working["Position_Date"] == working["Trade_Date"] == "2026-03-02"
    partial = one(state="CANCELLED", filled_size=20, avg_fill_price=Decimal("42.5"), filled_at=None,
                  partially_filled_at=AT + timedelta(minutes=1))
    assert (partial["Trade_Quantity"], partial["Trade_Price"], partial["Order_Status"]) == (20, "0.4250", "CANCELLED")
    assert partial["Execution_Time"] == "2026-03-02T15:05:05.678Z"


def test_records_when_rows_in_any_order_then_numbered_by_creation_then_order_id() -> None:
    rows = [row(order_id="c", created_at=AT), row(order_id="a", created_at=AT + timedelta(hours=1)),
            row(order_id="b", created_at=AT)]
    assert [(r["Record_Sequence"], r["Trade_ID"]) for r in records(rows, PERIOD)] == [(1, "b"), (2, "c"), (3, "a")]
    assert records([], PERIOD) == []


def test_record_when_an_exit_sell_then_negative_quantities_its_client_id_and_executed() -> None:
    """ADR 0414: a position exit's sale is an order at the venue; the 21 fields have no buy/sell column, so its
    quantities are negative (contracts leave the position); side, price and status read as for an order."""
    sell = one(action="sell", order_id="exit-0123456789abcdef0123-1", requested_size=40, filled_size=40,
               max_price=Decimal("61"), avg_fill_price=Decimal("60"), side="NO")
    assert (sell["Trade_ID"], sell["Position_Quantity"], sell["Trade_Quantity"]) == (
        "exit-0123456789abcdef0123-1", -40, -40)
    assert (sell["Trade_Price"], sell["Position_Type"], sell["Order_Status"]) == ("0.6000", "SHORT", "EXECUTED")
    assert one(action="buy") == one()  # a row without ``action`` is a buy, as every row was before


def test_records_when_orders_and_sells_then_one_numbering_by_time() -> None:
    rows = [row(order_id="exit-x-1", action="sell", created_at=AT + timedelta(hours=2)), row(order_id="ord-1")]
    assert [(r["Trade_ID"], r["Trade_Quantity"]) for r in records(rows, PERIOD)] == [("ord-1", 50), ("exit-x-1", -50)]


@pytest.mark.parametrize("changes,detail", [
    ({"created_at": None}, "created_at"), ({"created_at": datetime(2026, 3, 2, 15)}, "created_at"),
    ({"max_price": "42"}, "max_price"), ({"max_price": Decimal("NaN")}, "max_price"),
    ({"avg_fill_price": -1}, "avg_fill_price"), ({"requested_size": True}, "requested_size"),
    ({"filled_size": -1}, "filled_size"), ({"ticker": " "}, "ticker"), ({"strategy": None}, "strategy"),
    ({"filled_at": "2026-03-02"}, "filled_at"), ({"action": "short"}, "action"),
])
def test_records_when_a_stored_row_cannot_be_reported_then_refused_naming_the_order(changes: dict[str, Any],
                                                                                    detail: str) -> None:
    with pytest.raises(InvalidOrderRow, match=f"order ord-1: {detail}"):
        records([row(), row(order_id="ord-1", **changes)], PERIOD)


# ---------------------------------------------------------------- the request
@pytest.mark.parametrize("start,end", [("2026-3-01", "2026-03-02"), ("20260301", "20260302"),
                                       ("2026-02-30", "2026-03-02"), ("", "2026-03-02"), ("2026-03-01", "tomorrow"),
                                       ("2026-03-01T00:00", "2026-03-02"), ("2026-03-03", "2026-03-02")])
def test_period_when_not_two_ordered_dates_then_refused(start: str, end: str) -> None:
    with pytest.raises(InvalidExportRequest) as exc:
        ReportPeriod.parse(start, end)
    assert exc.value.code == "invalid_export_request"


def test_period_when_one_day_then_that_utc_day_half_open() -> None:
    period = ReportPeriod.parse("2026-03-02", "2026-03-02")
    assert period.bounds() == (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
    assert period.as_json() == {"startDate": "2026-03-02", "endDate": "2026-03-02"}


def test_format_when_named_then_parsed_else_refused() -> None:
    assert [parse_format(t) for t in ("json", "CFTC", " csv ")] == [ExportFormat.JSON, ExportFormat.CFTC,
                                                                     ExportFormat.CSV]
    with pytest.raises(InvalidExportRequest, match="unknown format 'xml'"):
        parse_format("xml")


# ---------------------------------------------------------------- the renderings
def test_csv_when_rendered_then_spec_header_quoted_description_and_crlf() -> None:
    text = render([row(question='He said "cut", then "hold"')], PERIOD, ExportFormat.CSV)
    lines = text.split("\r\n")
    assert lines[0] == SPEC_HEADER and lines[2] == "" and len(lines) == 3
    assert ',"He said ""cut"", then ""hold""",' in lines[1]
    assert ',KXFED-26MAR-T4.25,' in lines[1] and ',0.4300,' in lines[1]  # other fields bare


def test_csv_when_a_field_holds_a_comma_or_line_break_then_quoted() -> None:
    text = render_csv(records([row(ticker="KX,A", question="line one\nline two")], PERIOD))
    assert '"KX,A"' in text and '"line one\nline two"' in text
    assert render_csv([]) == SPEC_HEADER + "\r\n"


def test_cftc_when_rendered_then_document_of_the_spec() -> None:
    doc = json.loads(render([row(), row(order_id="ord-2")], PERIOD, ExportFormat.CFTC))
    assert list(doc) == ["format", "reportPeriod", "recordCount", "records"]
    assert doc["format"] == "cftc_part17"
    assert doc["reportPeriod"] == {"startDate": "2026-03-01", "endDate": "2026-03-03"}
    assert doc["recordCount"] == 2 and [r["Trade_ID"] for r in doc["records"]] == ["ord-1", "ord-2"]
    assert json.loads(render([], PERIOD, ExportFormat.CFTC))["records"] == []


def test_json_when_rendered_then_raw_rows_with_times_as_text_and_numbers_as_numbers() -> None:
    raw = row(order_uuid=UUID(int=7), max_price=Decimal("42"), avg_fill_price=Decimal("42.5"))
    [back] = json.loads(render([raw], PERIOD, ExportFormat.JSON))
    assert back["created_at"] == "2026-03-02T15:04:05.678Z" and back["order_uuid"] == str(UUID(int=7))
    assert back["max_price"] == 42 and isinstance(back["max_price"], int) and back["avg_fill_price"] == 42.5
    assert back["state"] == "FILLED" and back["partially_filled_at"] is None
    with pytest.raises(InvalidOrderRow, match="not exportable"):
        render_raw([row(max_price=Decimal("NaN"))])


# ---------------------------------------------------------------- properties
_text = st.text(st.characters(blacklist_categories=("Cs",), min_codepoint=1), max_size=140)
_name = _text.filter(lambda s: s.strip() != "")
_cents = st.decimals(min_value=0, max_value=100, places=6, allow_nan=False, allow_infinity=False)
_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC))
_rows = st.lists(st.fixed_dictionaries({
    "order_id": _name, "venue": st.sampled_from(["kalshi", "polymarket", "ibkr"]), "strategy": _name,
    "ticker": _name, "side": st.sampled_from(["YES", "NO"]), "category": st.none() | _text,
    "requested_size": st.integers(0, 10**6), "filled_size": st.integers(0, 10**6), "max_price": _cents,
    "avg_fill_price": st.none() | _cents, "state": st.sampled_from([s.value for s in OrderState]),
    "created_at": _times, "filled_at": st.none() | _times, "question": st.none() | _text,
}), max_size=8)


@settings(max_examples=examples(300), deadline=None)
@given(_rows)
def test_csv_when_read_back_with_csv_reader_then_the_same_records(rows: list[dict[str, Any]]) -> None:
    built = records(rows, PERIOD)
    read = list(csv.reader(io.StringIO(render_csv(built), newline="")))
    assert read == [list(HEADER)] + [[str(v) for v in rec.values()] for rec in built]


@settings(max_examples=examples(200), deadline=None)
@given(_rows)
def test_cftc_when_read_back_then_record_count_equals_records(rows: list[dict[str, Any]]) -> None:
    doc = json.loads(render(rows, PERIOD, ExportFormat.CFTC))
    assert doc["recordCount"] == len(doc["records"]) == len(rows)
    assert doc["records"] == records(rows, PERIOD)
    assert [r["Record_Sequence"] for r in doc["records"]] == list(range(1, len(rows) + 1))
    assert all(len(r["Position_Price"]) >= 6 and r["Position_Price"][-5] == "." for r in doc["records"])
