-- When a position was opened (its first fill), for the dashboard's time held. Rows projected before this
-- migration keep NULL (read as their last fill) until `paulp replay --projection orders` rebuilds them.
ALTER TABLE views.positions ADD COLUMN first_fill_at timestamptz;
