-- The risk check's book history (ADR 0521): the loss windows read only the rows since the week before, and the
-- all-time equity peak of the drawdown comes from a prefix of the history kept by the reader, valid as long as no
-- row it folded has changed. Every change to a row the book reads is journaled here with the transaction that made
-- it and the earliest close time it can move, by triggers: the projectors' writes, a rebuild's DELETE + INSERT
-- (ADR 0010), a dead letter's replay and any hand-made fix alike. A reader that took pg_current_snapshot() before
-- its reads asks only for the entries of the transactions that snapshot did not see (xid from its xmax on, or in
-- its list of those running). Not a view of any projection: the log does
-- not build it, rebuilds and replays leave it alone.
CREATE TABLE public.book_changes (
    xid      bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,  -- the writer (xid8 as bigint: estimable)
    strategy text,          -- NULL: any strategy
    mode     text,          -- NULL: any mode
    at       timestamptz    -- the earliest close time changed; NULL: any
);
CREATE INDEX book_changes_xid ON public.book_changes (xid);

-- Entry fills: every insert, fee correction (ADR 0448) and delete, at the fill's time.
CREATE FUNCTION public.book_change_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO public.book_changes (strategy, mode, at) VALUES (OLD.strategy, OLD.mode, OLD.filled_at);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO public.book_changes (strategy, mode, at) VALUES (NEW.strategy, NEW.mode, NEW.filled_at);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER order_fills_book_changes AFTER INSERT OR UPDATE OR DELETE ON views.order_fills
    FOR EACH ROW EXECUTE FUNCTION public.book_change_fill();

-- Exits: a change to a FILLED row (its fill, a fee correction, ADR 0449) or one that leaves that state, at its time.
CREATE FUNCTION public.book_change_exit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.state = 'FILLED' THEN
        INSERT INTO public.book_changes (strategy, mode, at) VALUES (OLD.strategy, OLD.mode, OLD.updated_at);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.state = 'FILLED' THEN
        INSERT INTO public.book_changes (strategy, mode, at) VALUES (NEW.strategy, NEW.mode, NEW.updated_at);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER position_exits_book_changes AFTER INSERT OR UPDATE OR DELETE ON views.position_exits
    FOR EACH ROW EXECUTE FUNCTION public.book_change_exit();

-- Positions: a change to one in a resolved market moves its settlement close, at the resolution's time.
CREATE FUNCTION public.book_change_position() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    resolved timestamptz;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT m.resolved_at INTO resolved FROM views.market_marks m WHERE m.ticker = OLD.ticker AND m.result IS NOT NULL;
        IF FOUND THEN
            INSERT INTO public.book_changes (strategy, mode, at) VALUES (OLD.strategy, OLD.mode, resolved);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT m.resolved_at INTO resolved FROM views.market_marks m WHERE m.ticker = NEW.ticker AND m.result IS NOT NULL;
        IF FOUND THEN
            INSERT INTO public.book_changes (strategy, mode, at) VALUES (NEW.strategy, NEW.mode, resolved);
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER positions_book_changes AFTER INSERT OR UPDATE OR DELETE ON views.positions
    FOR EACH ROW EXECUTE FUNCTION public.book_change_position();

-- Marks: a resolution made, changed or removed settles every position in the market, whoever holds it. Quotes
-- alone (most of this table's writes) journal nothing.
CREATE FUNCTION public.book_change_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.result IS NOT NULL THEN
        INSERT INTO public.book_changes (at) VALUES (OLD.resolved_at);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.result IS NOT NULL THEN
        INSERT INTO public.book_changes (at) VALUES (NEW.resolved_at);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER market_marks_book_changes AFTER INSERT OR DELETE ON views.market_marks
    FOR EACH ROW EXECUTE FUNCTION public.book_change_mark();
CREATE TRIGGER market_marks_book_resolutions AFTER UPDATE ON views.market_marks
    FOR EACH ROW WHEN (OLD.result IS DISTINCT FROM NEW.result OR OLD.resolved_at IS DISTINCT FROM NEW.resolved_at)
    EXECUTE FUNCTION public.book_change_mark();

-- TRUNCATE of any of them: every prefix is void.
CREATE FUNCTION public.book_change_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.book_changes (strategy, mode, at) VALUES (NULL, NULL, NULL);
    RETURN NULL;
END $$;
CREATE TRIGGER order_fills_book_truncate AFTER TRUNCATE ON views.order_fills
    FOR EACH STATEMENT EXECUTE FUNCTION public.book_change_all();
CREATE TRIGGER position_exits_book_truncate AFTER TRUNCATE ON views.position_exits
    FOR EACH STATEMENT EXECUTE FUNCTION public.book_change_all();
CREATE TRIGGER positions_book_truncate AFTER TRUNCATE ON views.positions
    FOR EACH STATEMENT EXECUTE FUNCTION public.book_change_all();
CREATE TRIGGER market_marks_book_truncate AFTER TRUNCATE ON views.market_marks
    FOR EACH STATEMENT EXECUTE FUNCTION public.book_change_all();

-- The window reads: FILLED exits of a book by time (entry fills have order_fills_book; resolutions are read from
-- the book's positions, whose count grows with markets, not fills).
CREATE INDEX position_exits_book ON views.position_exits (strategy, mode, updated_at) WHERE state = 'FILLED';
