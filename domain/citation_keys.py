"""Which citation states a claim on given evidence (api-and-security §4.8; ADR 0527): one ``ClaimKey`` per claim
and evidence pointer, found again through its uuid5 id.

Citation numbers (``SR-nnn``) come from the view's highest plus one, so nothing in a citation's own id tells that
the same claim on the same evidence was recorded already: a re-run ``paulp claims add`` recorded it again under the
next number. The key is the claim's text and its evidence pointer (the blob's hash, or a computation's input hashes
in any order and the code that computed it). The service saves the key with the citation in one transaction, so
two identical adds at once conflict on it and the loser finds the winner's citation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.canonical import canonical_json
from paulp.domain.namespace import PAULP_NAMESPACE


def claim_key(claim: str, evidence_hash: str | None, input_hashes: Iterable[str], code_ref: str | None) -> str:
    """sha256 of the canonical JSON of the claim and its evidence pointer (inputs as a sorted set)."""
    body = {"claim": claim, "evidenceHash": evidence_hash, "inputEvidenceHashes": sorted(set(input_hashes)),
            "computationCodeRef": code_ref}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


class ClaimKey(Aggregate):
    """The citation last recorded for one claim and evidence pointer."""

    class Created(Aggregate.Created):
        key: str
        citation_id: str

    class Cited(Aggregate.Event):
        """The claim recorded again under a new citation, the one before it no longer active."""

        citation_id: str

    @staticmethod
    def create_id(key: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"claim-key/{key}")

    @event(Created)
    def __init__(self, key: str, citation_id: str) -> None:
        self.key = key
        self.citation_id = citation_id

    def cite(self, citation_id: str) -> None:
        self._cited(citation_id)

    @event(Cited)
    def _cited(self, citation_id: str) -> None:
        self.citation_id = citation_id
