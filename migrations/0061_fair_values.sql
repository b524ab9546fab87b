-- Operator-supplied fair YES probabilities per market (FairValue.Set / .Withdrawn; ADR 0277): the latest
-- value of each ticker, when it stops counting (valid_until) and whether it was withdrawn. The live scan
-- reads the event log, not this view; the view is for operators (`paulp fair list`).
CREATE TABLE views.fair_values (
    ticker          text PRIMARY KEY,
    probability     double precision NOT NULL CHECK (probability > 0 AND probability < 1),
    source          text NOT NULL,
    reason          text NOT NULL,
    actor           text NOT NULL,
    set_at          timestamptz NOT NULL,
    valid_until     timestamptz NOT NULL,
    withdrawn_at    timestamptz,
    withdrawn_by    text,
    withdraw_reason text,
    version         bigint NOT NULL,
    notification_id bigint NOT NULL
);
CREATE INDEX fair_values_valid_until ON views.fair_values (valid_until);
