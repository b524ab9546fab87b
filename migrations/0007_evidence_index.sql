-- Evidence index (api-and-security §4.3): one row per blob, one per fetch that produced it.
CREATE TABLE IF NOT EXISTS evidence_blobs (
    evidence_hash        text PRIMARY KEY CHECK (evidence_hash ~ '^[0-9a-f]{64}$'),
    r2_key               text NOT NULL,
    source               text NOT NULL,
    endpoint             text NOT NULL,
    request_method       text NOT NULL DEFAULT 'GET',
    request_params       jsonb,
    fetched_at           timestamptz NOT NULL,
    response_status      integer,
    response_size_bytes  bigint NOT NULL CHECK (response_size_bytes >= 0),
    content_type         text NOT NULL DEFAULT 'application/json',
    compression          text NOT NULL DEFAULT 'none',
    verified_at          timestamptz,
    verification_passed  boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS evidence_fetches (
    id                   bigserial PRIMARY KEY,
    evidence_hash        text NOT NULL REFERENCES evidence_blobs (evidence_hash),
    source               text NOT NULL,
    endpoint             text NOT NULL,
    request_method       text NOT NULL DEFAULT 'GET',
    request_params       jsonb,
    response_status      integer,
    fetched_at           timestamptz NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS evidence_fetches_hash_idx ON evidence_fetches (evidence_hash);
CREATE INDEX IF NOT EXISTS evidence_fetches_source_time_idx ON evidence_fetches (source, fetched_at);

CREATE TABLE IF NOT EXISTS evidence_usage (
    id                   bigserial PRIMARY KEY,
    evidence_hash        text NOT NULL REFERENCES evidence_blobs (evidence_hash),
    derived_entity_type  text NOT NULL,
    derived_entity_id    text NOT NULL,
    extraction_path      text,
    extracted_at         timestamptz NOT NULL
);
