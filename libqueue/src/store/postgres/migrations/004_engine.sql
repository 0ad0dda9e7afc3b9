-- name: engine: snoozes, an attempt's spans packed in the job row
ALTER TABLE jobs ADD COLUMN snoozes integer NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN spans text;
