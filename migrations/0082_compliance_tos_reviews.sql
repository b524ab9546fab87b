-- ToS reviews (api-and-security §6.3 "review fields"; ADR 0401): who last read a source's terms, when, and what
-- they noted. Projected from ComplianceSource.TosReviewed, which also moves tos_next_review_date and, when the
-- reviewer names one, tos_version. Sources never reviewed keep NULLs (rebuildable by replay, ADR 0010).
ALTER TABLE views.compliance_sources
    ADD COLUMN tos_reviewed_at  timestamptz,
    ADD COLUMN tos_reviewed_by  text,
    ADD COLUMN tos_review_notes text;
