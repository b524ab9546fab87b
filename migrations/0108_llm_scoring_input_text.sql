-- A scoring run keeps the §8.2 inputText its input_hash is the SHA-256 of (ADR 0469): the reference's
-- JSON.stringify({marketTitle, resolutionCriteria, additionalContext}). NULL for runs recorded before, whose hash
-- was taken over the prompt variables and is kept as it was.
ALTER TABLE views.llm_scoring_runs ADD COLUMN input_text text;
