-- Budget ledgers with open holds (ADR 0526): the routing tick charges a hold whose call never reported back in the
-- period it was reserved in, whichever that is (a wall clock stepped forward by days left an older period's hold
-- open when only today's and yesterday's were looked at). Only ledgers with open holds are in this index.
CREATE INDEX llm_budget_open_holds ON views.llm_budget (period_key) WHERE open_reservations > 0;
