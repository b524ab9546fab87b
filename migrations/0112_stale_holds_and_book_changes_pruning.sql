-- Budget ledgers with open holds (ADR 0526): the routing tick charges a hold whose call never reported back in the
-- period it was reserved in, whichever that is (a wall clock stepped forward by days left an older period's hold
-- open when only today's and yesterday's were looked at). Only ledgers with open holds are in this index.
CREATE INDEX llm_budget_open_holds ON views.llm_budget (period_key) WHERE open_reservations > 0;

-- How far public.book_changes (migration 0111) has been pruned (ADR 0526): every entry by a transaction below
-- `below` is gone, so a kept prefix of the risk book whose snapshot's xmin is below it cannot be trusted (it may
-- have missed a deleted entry) and is folded again. The daily job deletes below `next`, the xmin of a snapshot it
-- took at its previous run, then takes a new one: a book checked at least once a day keeps its prefix.
CREATE TABLE public.book_changes_pruned (
    one   boolean PRIMARY KEY DEFAULT true CHECK (one),
    below bigint NOT NULL DEFAULT 0,   -- entries with xid < below are deleted
    next  bigint,                      -- the xmin of the snapshot taken at the last run: the next run's horizon
    at    timestamptz                  -- when the last run was
);
INSERT INTO public.book_changes_pruned DEFAULT VALUES;
