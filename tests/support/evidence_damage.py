"""Evidence store damage that makes reads fail for real, even as root (ADR 0516): no permission bit stops root."""

from __future__ import annotations

from paulp.adapters.evidence_store import EvidenceStore


def fanout_made_a_file(store: EvidenceStore, evidence_hash: str, content: bytes = b"") -> None:
    """The blob's fan-out folder, emptied and replaced by a file: every name under it is unreachable."""
    fanout = store.path_for(evidence_hash).parent
    for child in fanout.iterdir():
        child.unlink()
    fanout.rmdir()
    fanout.write_bytes(content)


def blob_made_a_folder(store: EvidenceStore, evidence_hash: str) -> None:
    """A folder where the blob should be: the name exists and cannot be read as bytes."""
    store.path_for(evidence_hash).unlink()
    store.path_for(evidence_hash).mkdir()
