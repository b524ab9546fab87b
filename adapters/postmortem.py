"""Read one incident window from the log for the postmortem (trading §8; ADR 0404).

The window is chosen by the chain records' timestamps (record time, one per event, never decreasing along the
log), then every stored event between its first and last notification id is read, so an event that lost its
chain record is still in the report and the verifier names it. Views are never read.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import psycopg

from paulp.adapters.anchors import ensure_anchor_store
from paulp.adapters.audit_store import chain_snapshot, verify
from paulp.adapters.eventstore.codec import decode, failure_text, make_mapper
from paulp.domain.clock import from_iso_utc, iso_utc
from paulp.domain.marks import MarketMark, Quotes
from paulp.domain.order_record import OrderRecord
from paulp.domain.orders import Order
from paulp.domain.position_exits import PositionExit
from paulp.domain.postmortem import FeeSettlement, LoggedEvent
from paulp.domain.postmortem_analysis import AnchorStamp, audit_section, build_report, evidence_references
from paulp.domain.postmortem_pnl import Book, valuation, window_pnl


class PostmortemError(RuntimeError):
    """Raised when a stored event of the window cannot be decoded: the report would silently miss it."""


def _parse_ts(text: str | None) -> datetime | None:
    return None if text is None else from_iso_utc(text)


def _decode(mapper: Any, nid: int, oid: Any, version: int, topic: str, state: bytes) -> Any:
    try:
        return decode(mapper, oid, version, topic, state)
    except Exception as exc:  # any decoding failure: name the event rather than drop it
        raise PostmortemError(f"event {nid} ({topic}) cannot be decoded: {failure_text(exc)}") from None


def _missing_fields(ev: Any) -> list[str]:
    if not dataclasses.is_dataclass(ev):
        return []
    return [f.name for f in dataclasses.fields(ev) if f.name not in vars(ev)]


def read_window(conn: psycopg.Connection[Any], start: datetime, end: datetime
                ) -> tuple[list[LoggedEvent], dict[str, Any], tuple[int, int] | None, set[str], list[dict[str, Any]]]:
    """Events of the window, each aggregate's first event, the window's chain sequence range, indexed blobs, and
    the events that decoded without fields their class declares (an edited row): kept out of the sections."""
    lo_nid, hi_nid, lo_seq, hi_seq = conn.execute(
        "SELECT min(notification_id), max(notification_id), min(chain_seq), max(chain_seq) FROM audit_chain"
        " WHERE timestamp >= %s AND timestamp <= %s", (iso_utc(start), iso_utc(end))).fetchone() or (None,) * 4
    if lo_nid is None:
        return [], {}, None, set(), []
    mapper = make_mapper()
    rows = conn.execute(
        "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state, c.timestamp"
        " FROM paulp_events e LEFT JOIN audit_chain c ON c.notification_id = e.notification_id"
        " WHERE e.notification_id BETWEEN %s AND %s ORDER BY e.notification_id", (lo_nid, hi_nid)).fetchall()
    entries, unreadable = [], []
    for nid, oid, ver, topic, state, ts in rows:
        ev = _decode(mapper, nid, oid, ver, topic, bytes(state))
        missing = _missing_fields(ev)
        if missing:
            unreadable.append({"notificationId": int(nid), "topic": topic, "missingFields": missing})
        else:
            entries.append(LoggedEvent(int(nid), _parse_ts(ts), str(oid), ev))
    firsts = conn.execute(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM paulp_events"
        " WHERE originator_version = 1 AND originator_id = ANY(%s)",
        (list({e.originator_id for e in entries}),)).fetchall()
    origins = {str(oid): _decode(mapper, nid, oid, ver, topic, bytes(state)) for nid, oid, ver, topic, state in firsts}
    hashes = list(evidence_references(entries))
    stored = {str(r[0]) for r in conn.execute(
        "SELECT evidence_hash FROM evidence_blobs WHERE evidence_hash = ANY(%s)", (hashes,)).fetchall()}
    seqs = None if lo_seq is None or hi_seq is None else (int(lo_seq), int(hi_seq))  # an event lost its chain row
    return entries, origins, seqs, stored, unreadable


_BOOK_CLASSES = (Order.Created, OrderRecord.FillRecorded, PositionExit.Decided, PositionExit.Filled,
                 MarketMark.Resolved)
_BOOK_TOPICS = [f"{c.__module__}:{c.__qualname__}" for c in _BOOK_CLASSES]
_SUBMITTED = f"{OrderRecord.Transitioned.__module__}:{OrderRecord.Transitioned.__qualname__}"
_QUOTED = f"{MarketMark.Quoted.__module__}:{MarketMark.Quoted.__qualname__}"


def _last_quotes(conn: psycopg.Connection[Any], mapper: Any, before: int) -> dict[str, Quotes]:
    """Each market's last recorded quotes among the events before notification ``before``."""
    rows = conn.execute(
        "SELECT DISTINCT ON (originator_id) notification_id, originator_id, originator_version, topic, state"
        " FROM paulp_events WHERE topic = %s AND notification_id < %s ORDER BY originator_id, notification_id DESC",
        (_QUOTED, before)).fetchall()
    out: dict[str, Quotes] = {}
    for nid, oid, ver, topic, state in rows:
        ev = _decode(mapper, nid, oid, ver, topic, bytes(state))
        out[ev.ticker] = Quotes(ev.yes_bid, ev.yes_ask, ev.no_bid, ev.no_ask)
    return out


def book_pnl(conn: psycopg.Connection[Any], lo_nid: int, hi_nid: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Unrealised PnL at both edges of the window and the PnL of resolutions inside it, from the whole log up
    to the window's end (entries may predate the window; ADR 0434). Only the events a position is built from
    are read (submissions filtered in SQL), and the quotes only at the two edges."""
    mapper = make_mapper()
    rows = conn.execute(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM paulp_events"
        " WHERE notification_id <= %s AND (topic = ANY(%s) OR (topic = %s AND"
        " convert_from(state, 'UTF8')::jsonb->>'to_state' = 'SUBMITTED')) ORDER BY notification_id",
        (hi_nid, _BOOK_TOPICS, _SUBMITTED)).fetchall()
    book, start = Book(), None
    for nid, oid, ver, topic, state in rows:
        if start is None and nid >= lo_nid:
            start, book.recording = (book.snapshot(), dict(book.results)), True
        ev = _decode(mapper, nid, oid, ver, topic, bytes(state))
        if not _missing_fields(ev):  # an edited event is listed by the audit section, never folded half-read
            book.apply(type(ev).__qualname__, str(oid), ev)
    if start is None:
        start = (book.snapshot(), dict(book.results))
    at_start = valuation(start[0], _last_quotes(conn, mapper, lo_nid), start[1])
    at_end = valuation(book.snapshot(), _last_quotes(conn, mapper, hi_nid + 1), book.results)
    return window_pnl(at_start, at_end, book.settled)


_FILL_NAMES = ("Order.FillRecorded", "OrderRecord.FillRecorded", "PositionExit.Filled")
_CORRECTION_TOPICS = [f"{c.__module__}:{c.__qualname__}" for c in (OrderRecord.FeesCorrected,
                                                                     PositionExit.FeesCorrected)]


def fee_settlements(conn: psycopg.Connection[Any], entries: list[LoggedEvent]) -> list[FeeSettlement]:
    """The fee corrections of the orders and exits whose fills in the window carried no fee, from the whole log to
    the report's snapshot (ADRs 0448, 0449): a correction counts with its fill, so one recorded after the window
    (the next reconcile run) still belongs to a fill inside it."""
    owners = list({e.originator_id for e in entries if e.name in _FILL_NAMES
                   and getattr(e.event, "fee_cents", None) is None})
    if not owners:
        return []
    mapper = make_mapper()
    rows = conn.execute("SELECT notification_id, originator_id, originator_version, topic, state FROM paulp_events"
                        " WHERE topic = ANY(%s) AND originator_id = ANY(%s::uuid[]) ORDER BY notification_id",
                        (_CORRECTION_TOPICS, owners)).fetchall()
    out = []
    for nid, oid, ver, topic, state in rows:
        ev = _decode(mapper, nid, oid, ver, topic, bytes(state))
        if not _missing_fields(ev):  # an edited row is named by the audit section when in the window, never summed
            out.append(FeeSettlement(int(nid), str(oid), ev.fee_cents, ev.counted_at))
    return out


def _anchors(anchor_url: str) -> list[AnchorStamp]:
    ensure_anchor_store(anchor_url)
    with psycopg.connect(anchor_url) as conn:
        rows = conn.execute("SELECT id, anchor_sequence, chain_length, anchor_timestamp FROM audit_anchor.anchors"
                            " ORDER BY anchor_timestamp, anchor_sequence").fetchall()
    return [AnchorStamp(str(i), int(s), int(n), at) for i, s, n, at in rows]


def postmortem(database_url: str, anchor_url: str, start: datetime, end: datetime, ident: str) -> dict[str, Any]:
    """The §8 data of ``[start, end]``; the chain is verified from the record before the window's first one,
    so the link into the window is checked too."""
    with chain_snapshot(database_url) as conn:
        entries, origins, seqs, stored, unreadable = read_window(conn, start, end)
        nids = [e.notification_id for e in entries]
        pnl = book_pnl(conn, min(nids), max(nids)) if nids else None
        settlements = fee_settlements(conn, entries)
    if seqs is None:
        verification: dict[str, Any] = {"valid": True, "gaps": [], "eventsChecked": 0, "firstBadSequence": None,
                                        "note": "no chain record in the window"}
    else:
        verification = verify(database_url, max(1, seqs[0] - 1), seqs[1]).to_dict()
    audit = {**audit_section(verification, evidence_references(entries), stored, _anchors(anchor_url), start, end),
             "unreadableEvents": unreadable}
    return build_report(entries, origins, ident, start, end, audit, pnl, settlements)
