"""Kalshi's own record of a LIVE order whose fill arrived by webhook, asked for the fee the update does not carry
(ADR 0443); the reconcile run asks it the same way for fees that stayed unknown (ADR 0448).

The inbox consumer asks, not the webhook route: the route must answer the relay at once, and the consumer is the one
that records the fill. One Kalshi session serves a whole inbox batch, opened at its first lookup. A lookup that
fails is logged and answers None (the fill's fee stays unknown, never 0); the fill is recorded all the same. After
one failure the batch asks no more, so an unreachable Kalshi delays a batch by one lookup's timeout, not one per
fill.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import Any

from paulp.adapters.config import Settings
from paulp.api.venue_session import kalshi_port, require_credentials
from paulp.domain.ports import VenueSubmission
from paulp.domain.venue_orders import VenueOrder

log = logging.getLogger("paulp.webhooks.fees")
LOOKUP_TIMEOUT_S = 15.0  # one lookup, retries included (the client's own per-request timeout is shorter)


class VenueOrderLookup:
    """``with VenueOrderLookup(settings) as lookup: lookup.order(record)`` for each webhook fill of a batch (or
    each order whose fee a reconcile run corrects); ``purpose`` names the work in the credentials refusal."""

    def __init__(self, settings: Settings, timeout_s: float = LOOKUP_TIMEOUT_S,
                 purpose: str = "look up a webhook fill's fee") -> None:
        self.settings, self.timeout_s, self.purpose = settings, timeout_s, purpose
        self._stack = ExitStack()
        self._port: Any = None
        self._failed: str | None = None  # why the batch stopped asking

    def __enter__(self) -> VenueOrderLookup:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def order(self, record: VenueOrder) -> VenueSubmission | None:
        """Kalshi's answer about the order of ``record`` (our venue record, keyed by our client order id): by
        Kalshi's order id when the record has it, else by our client order id; None when it cannot be had."""
        if self._failed is not None:
            log.warning("fee lookup for %s skipped: an earlier lookup of this batch failed (%s); fee unknown",
                        record.order_id, self._failed)
            return None
        kalshi_id = record.record.get("order_id")
        try:
            port = self._open()
            if isinstance(kalshi_id, str) and kalshi_id and kalshi_id != record.order_id:
                found: VenueSubmission | None = port.order(kalshi_id)
            else:  # not named by Kalshi yet (or a record from before ADR 0294): by our client order id
                found = port.find_by_client_order_id(record.order_id)
        except Exception as exc:  # any failure: the fee stays unknown, the fill goes on
            self._failed = _why(exc)
            log.warning("fee lookup for %s (Kalshi order %s) failed: %s; its fee stays unknown", record.order_id,
                        kalshi_id, self._failed)
            return None
        if found is None:
            log.warning("fee lookup for %s: Kalshi does not list the order; fee unknown", record.order_id)
        return found

    @property
    def failure(self) -> str | None:
        """Why the lookups stopped (the first failure's code and status), or None."""
        return self._failed

    def _open(self) -> Any:
        if self._port is None:
            port, client = self._stack.enter_context(kalshi_port(self.settings))
            require_credentials(client, self.purpose)
            port.timeout_s = self.timeout_s
            self._port = port
        return self._port


def _why(exc: BaseException) -> str:
    """The failure's stable code and status, never an upstream body."""
    code = getattr(exc, "code", None) or type(exc).__name__
    status = getattr(exc, "status", None)
    return f"{code} (HTTP {status})" if status else str(code)
