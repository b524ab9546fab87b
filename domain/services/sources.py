"""Sources registry context (api-and-security §4.8; ADR 0432): sources and citations registered, expired,
re-verified and retracted in the log; ``views.sources`` / ``views.citations`` are their read models."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.persistence import IntegrityError

from paulp.domain.canonical import NonCanonicalValue
from paulp.domain.citation_keys import ClaimKey, claim_key
from paulp.domain.services.base import PaulpApplication
from paulp.domain.sources import (
    Citation,
    CitationStatus,
    InvalidSource,
    Source,
    SourceNotFound,
    check_source_id,
    citation_number,
)

NUMBER_ATTEMPTS = 20


class SourcesService(PaulpApplication):
    def register(self, **fields: Any) -> tuple[Source, int | None]:
        """Register a source; the same fetch registered twice is the same source (returned, nothing written,
        notification None). Parents must be registered: a lineage into nothing is refused."""
        source = Source.register(**fields)
        for parent in source.lineage:
            if self.get(parent) is None:
                raise SourceNotFound(f"parent source {parent} is not registered")
        existing = self.get(source.source_id)
        if existing is not None:
            if existing.evidence_hash != source.evidence_hash:
                raise InvalidSource(f"{source.source_id} is registered with other evidence")
            return existing, None
        try:
            return source, self.last_notification_id(self.save(source))
        except IntegrityError:  # registered meanwhile by another writer: the same fetch, so the same source
            found = self.get(source.source_id)
            if found is None:
                raise
            return found, None

    def get(self, source_id: str) -> Source | None:
        found: Source | None = self.get_or_none(Source.create_id(check_source_id(source_id)))
        return found

    def parents_of(self, source_id: str) -> Sequence[str] | None:
        found = self.get(source_id)
        return None if found is None else found.lineage

    def expire_due(self, source_ids: Sequence[str], citation_ids: Sequence[str], reason: str, actor: str,
                   now: datetime) -> tuple[list[str], list[str]]:
        """One sweep in one save: the given sources due at ``now`` (a listed one that is not due is left alone) and
        the given citations whose ``expires_at`` has passed and that are not closed yet. Every change is decided
        before anything is saved, so one the domain refuses (an actor the citations cannot record) expires none
        of them; the sources used to be saved one by one before the citations were looked at. Sequences, not
        iterables: a conflict runs the command again over the same ids."""
        def command() -> tuple[list[str], list[str]]:
            changed: list[Source | Citation] = []
            sources: list[str] = []
            for sid in source_ids:
                source = self.get(sid)
                if source is not None and source.due_to_expire(now) and source.expire(reason, now):
                    changed.append(source)
                    sources.append(sid)
            citations: list[str] = []
            for cid in citation_ids:
                citation = self.citation(cid)
                if (citation is not None and citation.expires_at is not None and citation.expires_at <= now
                        and not citation.closed):
                    citation.expire("expires_at passed", actor, now)
                    changed.append(citation)
                    citations.append(cid)
            if changed:
                self.save(*changed)
            return sources, citations

        return self.retry_on_conflict(command)

    def record_citation(self, next_number: Callable[[], int], *,
                        claiming: Callable[[str], Sequence[str]] = lambda claim: (),
                        **fields: Any) -> tuple[Citation, int | None]:
        """``SR-nnn`` numbered from the view's highest plus one; two writers racing for a number meet on the
        same aggregate id, and the loser takes the next one. The same claim and evidence as an active citation is
        that citation: returned, nothing written, notification None (ADR 0527). Its ``ClaimKey`` is saved with the
        citation, so two identical adds at once conflict there and the loser, looking again, finds the winner's.
        A citation older than its key is found through ``claiming`` (the view's ids for the claim text), each
        confirmed from the log."""
        number = next_number()
        for _ in range(NUMBER_ATTEMPTS):
            citation = Citation.record(number=number, **fields)
            try:
                key = claim_key(citation.claim_text, citation.evidence_hash, citation.input_evidence_hashes,
                                citation.computation_code_ref)
            except NonCanonicalValue as e:
                raise InvalidSource(f"the claim cannot be stored: {e}") from None
            index: ClaimKey | None = self.get_or_none(ClaimKey.create_id(key))
            if index is None:
                older = self._active_without_key(key, claiming(citation.claim_text))
                if older is not None:
                    return older, None
                index = ClaimKey(key, citation.citation_id)
            else:
                current = self.citation(index.citation_id)
                if current is not None and current.status == CitationStatus.ACTIVE.value:
                    return current, None
                index.cite(citation.citation_id)
            try:
                return citation, self.last_notification_id(self.save(citation, index))
            except IntegrityError:
                number = max(number + 1, next_number())
        raise InvalidSource("no free citation number after repeated conflicts; retry")

    def _active_without_key(self, key: str, candidates: Sequence[str]) -> Citation | None:
        """The first of ``candidates`` that the log shows active and keyed ``key`` (recorded before ClaimKeys)."""
        for cid in candidates:
            found = self.citation(cid)
            if found is not None and found.status == CitationStatus.ACTIVE.value and key == claim_key(
                    found.claim_text, found.evidence_hash, found.input_evidence_hashes, found.computation_code_ref):
                return found
        return None

    def citation(self, cid: str) -> Citation | None:
        citation_number(cid)
        found: Citation | None = self.get_or_none(Citation.create_id(cid))
        return found

    def _change(self, cid: str, change: Callable[[Citation], Any]) -> tuple[Any, int]:
        def command() -> tuple[Any, int]:
            citation = self.citation(cid)
            if citation is None:
                raise SourceNotFound(f"no citation {cid}")
            result = change(citation)
            return result, self.last_notification_id(self.save(citation))

        return self.retry_on_conflict(command)

    def verify_citations(self, checks: Mapping[str, Sequence[str]], actor: str) -> tuple[dict[str, bool], int]:
        """Record the re-verification of several citations in one save, ``checks`` giving each one's failing blob
        hashes; returns each one's outcome (passed?) and the last notification id. Every outcome is decided on its
        loaded citation before anything is saved: an unknown, retracted or expired one, or an actor the domain
        refuses, records none of them (an earlier id's outcome used to be saved before a later one was refused)."""
        now = self.clock.now()

        def command() -> tuple[dict[str, bool], int]:
            loaded: dict[str, Citation] = {}
            passed: dict[str, bool] = {}
            for cid, failed in checks.items():
                citation = self.citation(cid)
                if citation is None:
                    raise SourceNotFound(f"no citation {cid}")
                if citation.citation_id in loaded:
                    continue  # a repeated id is verified once
                passed[citation.citation_id] = bool(citation.verify(failed, actor, now))
                loaded[citation.citation_id] = citation
            return passed, self.last_notification_id(self.save(*loaded.values())) if loaded else 0

        return self.retry_on_conflict(command)

    def retract_citation(self, cid: str, reason: str, actor: str) -> int:
        now = self.clock.now()
        return self._change(cid, lambda c: c.retract(reason, actor, now))[1]
