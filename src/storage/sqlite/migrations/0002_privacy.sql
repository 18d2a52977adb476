-- servscore schema, version 2 (SQLite): data minimisation.
-- `opened_at` (Unix microseconds) is what retention counts from; rows stored before this
-- version get it from their body when the migration runs (see `migrate`).
-- `body_state` says what the stored body still holds (storage::BodyState): 0 everything sent;
-- 1 free text (turn text, commitment descriptions, resolution summary) dropped after scoring;
-- 2 redacted: free text and customer id removed by a retention purge or an erasure. A re-score
-- of a body without text carries politeness over from the previous scorecard.
ALTER TABLE interactions ADD COLUMN opened_at INTEGER;
ALTER TABLE interactions ADD COLUMN body_state INTEGER NOT NULL DEFAULT 0;
CREATE INDEX interactions_to_purge ON interactions (opened_at) WHERE body_state < 2;
