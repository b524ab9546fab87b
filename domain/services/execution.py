"""Execution context: venue order history as reported by each venue (paper or live)."""

from __future__ import annotations

from typing import Any

from eventsourcing.application import AggregateNotFoundError

from paulp.domain.services.base import PaulpApplication
from paulp.domain.venue_orders import VenueOrder, as_record, parse_venue, record_order_id


class ExecutionService(PaulpApplication):
    def record_venue_order(self, venue: str, record: Any) -> int:
        """Record or update one venue order record; returns the last notification id (0 if unchanged)."""
        v = parse_venue(venue)
        report = as_record(record)
        oid = record_order_id(report)
        body = {**report, "venue": v.value}

        def command() -> int:
            now = self.clock.now()
            try:
                order: VenueOrder = self.repository.get(VenueOrder.id_for(v.value, oid))
                if not order.update(body, now):
                    return 0
            except AggregateNotFoundError:
                order = VenueOrder(v.value, oid, body, now)
            return self.last_notification_id(self.save(order))

        return self.retry_on_conflict(command)
