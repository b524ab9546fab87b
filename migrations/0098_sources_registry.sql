-- The sources registry (api-and-security §4.8; ADR 0432), projected from Source and Citation events (projection
-- "sources"). Nothing here is edited by hand: expiry, verification and retraction are events.
CREATE TABLE views.sources (
    source_id        text PRIMARY KEY CHECK (source_id ~ '^src-[0-9a-f]{32}$'),
    source_type      text NOT NULL,
    source_url       text NOT NULL,
    source_vendor    text NOT NULL,
    quality          text NOT NULL,
    evidence_hash    text NOT NULL,
    blob_stored      boolean NOT NULL,  -- false: the hash is of the parents' ids or of <url>:<time>
    fetched_at       timestamptz NOT NULL,
    expires_at       timestamptz,
    expired_at       timestamptz,
    metadata         jsonb NOT NULL,
    lineage          text[] NOT NULL,
    registered_by    text NOT NULL,
    notification_id  bigint NOT NULL
);
CREATE INDEX sources_vendor_newest ON views.sources (source_vendor, fetched_at DESC);
CREATE INDEX sources_evidence ON views.sources (evidence_hash, fetched_at DESC);
CREATE INDEX sources_due ON views.sources (expires_at) WHERE expired_at IS NULL AND expires_at IS NOT NULL;

CREATE TABLE views.citations (
    citation_id            text PRIMARY KEY,
    citation_number        integer NOT NULL UNIQUE,
    claim_text             text NOT NULL,
    source_type            text NOT NULL,
    url                    text,
    title                  text,
    author                 text,
    publication_date       text,
    retrieved_at           timestamptz NOT NULL,
    evidence_hash          text,
    computation_code_ref   text,
    input_evidence_hashes  text[] NOT NULL,
    auto_reverify_days     integer,
    expires_at             timestamptz,
    confidence_level       text NOT NULL,
    status                 text NOT NULL CHECK (status IN ('active', 'expired', 'retracted', 'unverified')),
    verified_current_at    timestamptz,
    last_verification      text,
    status_reason          text,
    recorded_by            text NOT NULL,
    notification_id        bigint NOT NULL
);
CREATE INDEX citations_status ON views.citations (status, citation_number);
