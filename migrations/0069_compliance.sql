-- Compliance matrix (api-and-security §6.3; ADR 0368), projected from the ComplianceSource and IngestionBlocked
-- events: the sources with the §6.3 field set and their current status, the pending two-person proposals, the
-- compliance events (status changes and blocked fetches included) and the violations gate P3 counts.
-- The ingestion gate reads the log, not these tables; they are for operators and the phase gates.
CREATE TABLE views.compliance_sources (
    id                         uuid PRIMARY KEY,
    source_name                text NOT NULL UNIQUE,
    allowed_usage              jsonb NOT NULL,
    prohibited_usage           jsonb NOT NULL,
    rate_limits                jsonb NOT NULL,
    retry_policy               jsonb NOT NULL,
    retention_rules            jsonb NOT NULL,
    pii_handling               text,
    attribution_required       boolean,
    attribution_text           text,
    tos_url                    text NOT NULL,
    tos_version                text,
    tos_snapshot_evidence_hash text,
    tos_snapshot_r2_key        text,
    tos_retrieved_at           timestamptz,
    tos_next_review_date       timestamptz NOT NULL,
    scraping_permitted         boolean,
    scraping_notes             text,
    robots_txt_compliant       boolean,
    authentication_required    boolean NOT NULL,
    authentication_type        text CHECK (authentication_type IN ('api_key', 'oauth', 'rsa_pss', 'none')),
    status                     text NOT NULL DEFAULT 'approved'
                               CHECK (status IN ('approved', 'under_review', 'blocked')),
    block_reason               text,
    status_reason              text,
    status_changed_at          timestamptz,
    status_proposed_by         text,
    status_approved_by         text,
    seeded_at                  timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL,
    version                    bigint NOT NULL,
    notification_id            bigint NOT NULL
);

CREATE TABLE views.compliance_proposals (
    proposal_id  text PRIMARY KEY,
    source_name  text NOT NULL,
    to_status    text NOT NULL,
    reason       text NOT NULL,
    block_reason text,
    proposed_by  text NOT NULL,
    proposed_at  timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    outcome      text NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'approved', 'rejected', 'expired')),
    closed_by    text,
    closed_at    timestamptz,
    close_reason text
);
CREATE INDEX compliance_proposals_pending ON views.compliance_proposals (source_name) WHERE outcome = 'pending';

-- source_name is not a foreign key: a blocked fetch may name a source the matrix does not hold.
CREATE TABLE views.compliance_events (
    notification_id bigint NOT NULL,
    source_name     text NOT NULL,
    event_type      text NOT NULL CHECK (event_type IN ('tos_change_detected', 'rate_limit_hit', 'blocked_access',
                                                        'api_error', 'review_triggered', 'status_change')),
    description     text NOT NULL,
    actor           text,
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    at              timestamptz NOT NULL,
    PRIMARY KEY (notification_id, source_name)
);
CREATE INDEX compliance_events_at ON views.compliance_events (at DESC, notification_id DESC);

CREATE TABLE views.compliance_violations (
    violation_id     text PRIMARY KEY,
    source_name      text NOT NULL,
    violation_type   text NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('warning', 'critical')),
    description      text NOT NULL,
    recorded_by      text NOT NULL,
    detected_at      timestamptz NOT NULL,
    resolved         boolean NOT NULL DEFAULT false,
    resolved_at      timestamptz,
    resolved_by      text,
    resolution_notes text,
    notification_id  bigint NOT NULL
);
CREATE INDEX compliance_violations_unresolved ON views.compliance_violations (detected_at) WHERE NOT resolved;
