"""/webhooks: job triggers, the Kalshi event relay and alerts (api-and-security §1.6, §2.7).

Every route authenticates before anything else (an unknown trigger answers 404 only after the bearer
passed). The relay stores the raw body as evidence before parsing it, validates known event types,
de-duplicates through ``webhook_inbox`` and answers 502 when that hand-off fails so the relay retries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg.types.json import Jsonb
from starlette.concurrency import run_in_threadpool

from paulp.adapters.evidence_store import EvidenceFetch, EvidenceStore, record_fetch
from paulp.adapters.kalshi import relayed_events
from paulp.api import body_docs
from paulp.api.bodies import InvalidJson, json_object, parse_json
from paulp.api.errors import ApiError, now_iso
from paulp.api.security import webhook_sig
from paulp.api.security.logsafe import escape
from paulp.api.security.secrets import bearer, secret_equals
from paulp.api.venue_session import JobFailed
from paulp.api.wiring import Container
from paulp.domain.canonical import NonCanonicalValue, canonical_json
from paulp.domain.venue_updates import CLIENT_ORDER_ID_KEYS
from paulp.domain.webhook_alerts import alert_key

log = logging.getLogger("paulp.webhooks")
router = APIRouter(prefix="/webhooks", tags=["webhooks"])

TRIGGERS = ("ingest", "reconcile")
SEVERITIES = ("info", "warning", "critical")
MAX_TEXT = 1000
KALSHI_SOURCE = "kalshi_webhook"


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _log_failure(request: Request, code: str) -> None:
    peer = request.client.host if request.client else "-"
    log.warning("webhook auth failure route=%s method=%s reason_code=%s peer=%s request_id=%s",
                escape(request.url.path), request.method, code, escape(peer), uuid.uuid4())


def require_trigger_token(request: Request) -> None:
    """``WEBHOOK_TRIGGER_TOKEN`` (else ``ADMIN_TOKEN``) as a bearer, compared in constant time."""
    expected = _container(request).settings.webhook_trigger_token()
    if not expected:
        _log_failure(request, "webhook_not_configured")
        raise ApiError(503, "Configuration error", "webhook_not_configured",
                       message="WEBHOOK_TRIGGER_TOKEN (or ADMIN_TOKEN fallback) is not configured")
    if not secret_equals(bearer(request.headers.get("authorization")), expected):
        _log_failure(request, "webhook_unauthorized")
        raise ApiError(401, "Unauthorized", "webhook_unauthorized", message="Invalid webhook trigger token")


# §1.6: ingest *runs* (200 = its report); reconcile is only *triggered* (200 {triggered:true}), its outcome
# recorded on the run (JobRun.Completed / Failed) — as the reference queues it.
BACKGROUND_TRIGGERS = ("reconcile",)


def run_job(container: Container, job: str) -> dict[str, Any]:
    """Run the job through the container's job runner (the one the admin triggers use); without one, only
    acknowledge the trigger."""
    runner = getattr(container, "jobs", None)
    if runner is None:
        log.info("webhook trigger job=%s accepted (no job runner wired)", job)
        return {"triggered": True, "job": job, "timestamp": now_iso()}
    if job in BACKGROUND_TRIGGERS:
        run_id = runner.trigger_in_background(job)
        return {"triggered": True, "job": job, "runId": run_id, "timestamp": now_iso()}
    report = runner.trigger(job)
    return {"triggered": True, "job": job, "result": report, "timestamp": now_iso()}


@router.post("/trigger/{job:path}", responses={401: {}, 404: {}, 502: {}, 503: {}})
async def trigger(job: str, request: Request) -> JSONResponse:
    require_trigger_token(request)
    if job not in TRIGGERS:
        raise ApiError(404, "Not found", "not_found", path=request.url.path, timestamp=now_iso())
    try:
        report = await run_in_threadpool(run_job, _container(request), job)
    except JobFailed as exc:  # inputs unavailable: its message is safe and says which
        return JSONResponse({"triggered": False, "success": False, "code": "job_failed", "trigger": job,
                             "error": exc.message}, status_code=502)
    except Exception:
        log.exception("webhook trigger job=%s failed", job)
        return JSONResponse({"triggered": False, "success": False, "code": "job_failed", "trigger": job,
                             "error": "Job failed"}, status_code=502)
    return JSONResponse(report)


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= MAX_TEXT


def _no_canonical_form(body: dict[str, Any]) -> list[str]:
    bad = []
    for name in ("source", "message", "context"):
        try:
            canonical_json(body.get(name))
        except NonCanonicalValue:
            bad.append(name)
    return bad


@router.post("/alert", responses={400: {}, 401: {}, 503: {}}, openapi_extra=body_docs.alert(SEVERITIES, MAX_TEXT))
async def alert(request: Request) -> dict[str, Any]:
    require_trigger_token(request)
    body = await json_object(request)
    bad = [name for name, ok in (("severity", body.get("severity") in SEVERITIES),
                                 ("source", _text(body.get("source"))), ("message", _text(body.get("message"))))
           if not ok]
    if bad:
        raise ApiError(400, "Validation failed", "validation_error", fields=bad)
    severity, source, message = body["severity"], body["source"], body["message"]
    log.info("webhook alert severity=%s source=%s message=%s", severity, escape(source), escape(message))
    if severity != "critical":
        return {"received": True}
    try:
        key = alert_key(severity, source, message, body.get("context"))
    except NonCanonicalValue:  # a lone surrogate: no canonical form, so no key (ADR 0477)
        raise ApiError(400, "Validation failed", "validation_error", fields=_no_canonical_form(body)) from None
    breaker = _container(request).breaker
    outcome = await run_in_threadpool(breaker.webhook_alert, key, source, message)
    if outcome.duplicate:  # a sender's retry of an alert already acted on (ADR 0524)
        log.info("webhook alert repeated within its window: not escalated again (key=%s)", key[:16])
    return {"received": True, **outcome.as_json()}


# ----------------------------------------------------------------- Kalshi relay


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _opt_number(payload: dict[str, Any], key: str) -> bool:
    return key not in payload or payload[key] is None or _number(payload[key])


def _valid_payload(event_type: str, payload: object) -> bool:
    """The payload's names and shape; its counts and prices are read by ``_readable_numbers``."""
    if not isinstance(payload, dict):
        return False
    if event_type == "order_update":
        return (_text(payload.get("orderId")) and _text(payload.get("status"))
                and all(payload.get(k) is None or _text(payload[k]) for k in CLIENT_ORDER_ID_KEYS))
    if event_type == "fill":
        return all(_text(payload.get(k)) for k in ("orderId", "marketId", "side"))
    # market_update
    return (_text(payload.get("marketId")) and _text(payload.get("venue")) and _number(payload.get("timestamp"))
            and all(_opt_number(payload, k) for k in ("price", "volume", "depthYes", "depthNo", "spread")))


def _readable_numbers(event_type: str, payload: dict[str, Any]) -> None:
    """Counts and prices, integer or Kalshi's fixed-point forms, fixed point first (ADR 0332): a present one that
    cannot be read is a 400 naming the field and why. A fraction of a contract is readable: it is stored, and the
    inbox refuses to apply it to our whole-contract order (ADR 0331)."""
    try:
        if event_type == "order_update":
            relayed_events.order_fill_count(payload)
            relayed_events.order_fill_price(payload)
        elif event_type == "fill":
            relayed_events.read_fill(payload)
    except relayed_events.RelayedFieldInvalid as exc:
        raise ApiError(400, "Invalid event", exc.code, field=exc.field, reason=exc.reason) from None


def dedupe_key(body: dict[str, Any], raw: bytes) -> str:
    """Explicit ``event_id``; else ``(event_type, orderId, status, filledCount)``, the count read from whichever
    field carried it (``filledCount: 5`` and ``fill_count_fp: "5.00"`` are one update; ADR 0332); else the exact
    body."""
    event_id = _id_value(body.get("event_id"))
    if event_id is not None:
        return f"id:{event_id}"
    payload = body.get("payload") or {}
    if body["event_type"] == "fill" and isinstance(payload, dict):
        return _fill_key(payload)
    if isinstance(payload, dict) and payload.get("orderId") is not None:
        count = relayed_events.dedupe_count(payload) if body["event_type"] == "order_update" \
            else payload.get("filledCount")
        parts = [body["event_type"], payload.get("orderId"), payload.get("status"), count]
        return "order:" + json.dumps(parts, separators=(",", ":"), sort_keys=True)
    return "body:" + hashlib.sha256(raw).hexdigest()


def _id_value(value: object) -> str | None:
    """An explicit id as the key spells it: a non-empty string or an integer (not a bool); else None."""
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
        return str(value)
    return None


def _fill_key(payload: dict[str, Any]) -> str:
    """A fill by Kalshi's trade (or fill) id when it names one; else by what it says: order, market, side, size
    and price as read (``fillSize: 5`` and ``count_fp: "5.00"`` are one fill) and its time. §1.6's order key
    would make every fill of an order after the first a duplicate: a fill carries no status or filledCount
    (ADR 0332 addendum)."""
    for name in ("trade_id", "fill_id", "tradeId", "fillId"):
        value = _id_value(payload.get(name))
        if value is not None:
            return f"fill:id:{value}"
    size, price = relayed_events.read_fill(payload)
    side = payload.get("side")
    parts = [payload.get("orderId"), payload.get("marketId"), side.strip().lower() if isinstance(side, str) else side,
             format(size.normalize(), "f"), format(price.normalize(), "f"),
             next((payload[t] for t in ("timestamp", "created_time", "ts") if payload.get(t) is not None), None)]
    return "fill:" + json.dumps(parts, separators=(",", ":"), default=str)


def _record(container: Container, key: str, event_type: str, evidence_hash: str, body: dict[str, Any],
            size: int) -> bool:
    """Index the evidence and insert into the inbox in one transaction; False when already received."""
    fetch = EvidenceFetch(evidence_hash=evidence_hash, source=KALSHI_SOURCE, endpoint="/webhooks/kalshi/events",
                          fetched_at=container.clock.now().isoformat(), size_bytes=size, request_method="POST",
                          response_status=None)
    with container.pool.connection() as conn, conn.transaction():
        record_fetch(conn, fetch)
        cur = conn.execute(
            "INSERT INTO webhook_inbox (dedupe_key, source, event_type, evidence_hash, payload)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (dedupe_key) DO NOTHING",
            (key, KALSHI_SOURCE, event_type, evidence_hash, Jsonb(body)),
        )
        return bool(cur.rowcount == 1)


def _relay_secret(request: Request) -> str:
    """The configured relay secret, once the request's header carries it (read before the body: ADR 0313)."""
    settings = _container(request).settings
    secret = settings.kalshi_webhook_secret()
    if not secret:
        _log_failure(request, "webhook_not_configured")
        raise ApiError(503, "Configuration error", "webhook_not_configured",
                       message="KALSHI_WEBHOOK_SECRET (or WEBHOOK_SHARED_SECRET fallback) is not configured")
    provided = request.headers.get("x-kalshi-webhook-secret")
    if provided is None:
        provided = request.headers.get("x-webhook-secret")
    if not secret_equals(provided, secret):
        _log_failure(request, "webhook_unauthorized")
        raise ApiError(401, "Unauthorized", "webhook_unauthorized", message="Invalid Kalshi webhook secret")
    return secret


def _relay_signature(request: Request, secret: str, raw: bytes) -> None:
    """The optional (or, with ``WEBHOOK_REQUIRE_SIGNATURE``, mandatory) body HMAC and replay window."""
    settings = _container(request).settings
    code = webhook_sig.check(secret, request.headers.get("x-webhook-timestamp"),
                             request.headers.get("x-webhook-signature"), raw, time.time(),
                             settings.WEBHOOK_REQUIRE_SIGNATURE)
    if code is not None:
        _log_failure(request, code)
        message = "Webhook timestamp outside the replay window" if code == "webhook_replay" \
            else "Invalid webhook signature"
        raise ApiError(401, "Unauthorized", code, message=message)


@router.post("/kalshi/events", responses={400: {}, 401: {}, 502: {}, 503: {}})
async def kalshi_events(request: Request) -> dict[str, Any]:
    secret = _relay_secret(request)
    raw = await request.body()
    _relay_signature(request, secret, raw)
    container = _container(request)
    try:
        stored = await run_in_threadpool(EvidenceStore(container.settings.evidence_dir()).put, raw)
    except Exception as exc:  # evidence first (§4.1): nothing is read or queued; the relay retries a 502 (ADR 0516)
        log.error("kalshi webhook body could not be stored as evidence (%s: %s)", type(exc).__name__, exc)
        raise ApiError(502, "Downstream failure", "downstream_failed",
                       message="The body could not be stored as evidence; nothing was recorded") from None
    try:
        body = parse_json(raw)
    except InvalidJson:  # also an integer of over 4300 digits (ADR 0359), nesting too deep (ADR 0490)
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("event_type"), str):
        raise ApiError(400, "Invalid event", "invalid_event")
    event_type = body["event_type"]
    if event_type not in ("order_update", "fill", "market_update"):
        log.info("kalshi webhook ignored event_type=%s evidence=%s", escape(event_type), stored.evidence_hash)
        return {"received": True, "ignored": True}
    if not _valid_payload(event_type, body.get("payload")):
        raise ApiError(400, "Invalid event", "invalid_event")
    _readable_numbers(event_type, body["payload"])
    key = dedupe_key(body, raw)
    try:
        fresh = await run_in_threadpool(_record, container, key, event_type, stored.evidence_hash, body, len(raw))
    except Exception:
        log.exception("kalshi webhook hand-off failed event_type=%s", event_type)
        raise ApiError(502, "Downstream failure", "downstream_failed") from None
    log.info("kalshi webhook event_type=%s duplicate=%s evidence=%s", event_type, not fresh, stored.evidence_hash)
    return {"received": True, "duplicate": not fresh}
