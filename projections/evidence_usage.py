"""evidence_usage view (api-and-security §4.3 usage lineage; ADR 0430): one row per (evidence blob, event that
named it), so an auditor can go from a stored venue/provider response to every order, mark, exit or routing
decision it fed, and back.

Generic on purpose: any event naming ``evidence_hash``/``evidence_hashes`` is lineage, so a new event class that
carries evidence is covered without touching this module. ``EvidenceRecord.EvidenceStored`` is the fetch itself
(its own index row), not a use of it, and is left out.
"""

from __future__ import annotations

from typing import Any

from psycopg import Cursor

from paulp.domain.evidence import entity_type, named_evidence
from paulp.domain.evidence_records import EvidenceRecord


class EvidenceUsageProjection:
    name = "evidence_usage"
    tables = ("evidence_usage",)

    def apply(self, event: Any, cur: Cursor[Any], notification_id: int) -> None:
        if isinstance(event, EvidenceRecord.EvidenceStored):
            return
        hashes = named_evidence(event)
        if not hashes:
            return
        kind, path = entity_type(event), type(event).__qualname__.replace("OrderRecord.", "Order.", 1)
        entity, at = str(getattr(event, "originator_id", "")), getattr(event, "timestamp", None)
        for h in hashes:
            cur.execute(
                "INSERT INTO evidence_usage (notification_id, evidence_hash, derived_entity_type, derived_entity_id,"
                " extraction_path, extracted_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (notification_id, h, kind, entity, path, at),
            )
