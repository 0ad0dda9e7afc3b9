-- name: engine: snoozes, an attempt's spans packed in the job row
ALTER TABLE jobs ADD COLUMN snoozes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN spans TEXT;
