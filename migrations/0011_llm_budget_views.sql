-- LLM budget ledgers (llm-routing §5.5, §9.4, §9.5): one row per (category, period type, period key).
CREATE TABLE views.llm_budget (
    category          text NOT NULL,
    period_type       text NOT NULL,
    period_key        text NOT NULL,
    ledger_id         uuid NOT NULL UNIQUE,
    limit_usd         numeric NOT NULL DEFAULT 0,
    reserved_usd      numeric NOT NULL DEFAULT 0,
    spent_usd         numeric NOT NULL DEFAULT 0,
    open_reservations integer NOT NULL DEFAULT 0,
    reservations      integer NOT NULL DEFAULT 0,
    settlements       integer NOT NULL DEFAULT 0,
    releases          integer NOT NULL DEFAULT 0,
    percent_used      numeric GENERATED ALWAYS AS
                          (CASE WHEN limit_usd > 0 THEN spent_usd / limit_usd * 100 ELSE 0 END) STORED,
    blocked           boolean GENERATED ALWAYS AS (limit_usd > 0 AND spent_usd >= limit_usd) STORED,
    alerted           boolean NOT NULL DEFAULT false,
    last_reset_at     timestamptz,
    last_updated      timestamptz,
    PRIMARY KEY (category, period_type, period_key)
);
