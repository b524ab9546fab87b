-- An operator's close of a position (ADR 0440): the exit names who asked and why; NULL for exits a rule decided.
ALTER TABLE views.position_exits ADD COLUMN requested_by text, ADD COLUMN note text;
