-- name: schedules carry flow control: their jobs' limit keys and group
-- `wfq schedule add --limit KEY --group G`: each tick's job gets them as `wfq enqueue` gives
-- them (limit_keys as jobs.limit_keys, a JSON array; grp NULL: the job's org).
ALTER TABLE schedules ADD COLUMN limit_keys text;
ALTER TABLE schedules ADD COLUMN grp text;
