-- Position exits (trading §3.5, ADR 0260): one row per PositionExit (an exit of one position episode),
-- and on positions the count of exits filled in the current episode (part of the next exit's identity).
CREATE TABLE views.position_exits (
    exit_uuid        uuid PRIMARY KEY,
    strategy         text NOT NULL,
    ticker           text NOT NULL,
    side             text NOT NULL,
    opened_at        timestamptz NOT NULL,
    sequence         integer NOT NULL,
    contracts        integer NOT NULL,
    entry_price      numeric NOT NULL,
    observed_price   numeric NOT NULL,
    reason           text NOT NULL,
    mode             text NOT NULL,
    state            text NOT NULL,
    attempt          integer NOT NULL DEFAULT 1,
    filled_size      integer NOT NULL DEFAULT 0,
    exit_price       numeric,
    realized_pnl_usd numeric,
    detail           text,
    decided_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX position_exits_position ON views.position_exits (strategy, ticker, side, decided_at DESC);
CREATE INDEX position_exits_live_filled ON views.position_exits (ticker, side) WHERE mode = 'LIVE' AND state = 'FILLED';
ALTER TABLE views.positions ADD COLUMN exits integer NOT NULL DEFAULT 0;
