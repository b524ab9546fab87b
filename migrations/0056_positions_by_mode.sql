-- Positions per execution mode (ADR 0262): paper and LIVE contracts of one strategy, market and side are
-- two positions, with their own cost, PnL and exits. views.orders keeps each order's mode (from its
-- SUBMITTED transition). Rows projected before this migration are split as well as the views allow:
-- an order takes its venue record's mode; a position whose filled orders were all LIVE becomes LIVE.
-- `paulp replay --projection orders --diff` shows any row the log would build differently.
ALTER TABLE views.orders ADD COLUMN mode text;
UPDATE views.orders o SET mode = k.execution_mode FROM views.kalshi_orders k
 WHERE k.order_id = o.order_id AND k.execution_mode IN ('PAPER', 'LIVE');
ALTER TABLE views.positions ADD COLUMN mode text NOT NULL DEFAULT 'PAPER';
UPDATE views.positions p SET mode = 'LIVE'
 WHERE EXISTS (SELECT 1 FROM views.orders o WHERE o.strategy = p.strategy AND o.ticker = p.ticker
               AND o.side = p.side AND o.filled_size > 0 AND o.mode = 'LIVE')
   AND NOT EXISTS (SELECT 1 FROM views.orders o WHERE o.strategy = p.strategy AND o.ticker = p.ticker
               AND o.side = p.side AND o.filled_size > 0 AND o.mode IS DISTINCT FROM 'LIVE');
ALTER TABLE views.positions DROP CONSTRAINT positions_pkey;
ALTER TABLE views.positions ADD PRIMARY KEY (strategy, ticker, side, mode);
