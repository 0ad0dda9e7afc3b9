-- name: the SQL API takes limits and writes the limit columns itself; enqueue_many works by sets; schedules keep a key mode
-- (The SQL API is PostgreSQL's.) `wfq schedule add --key-mode`: what a tick does when a job with
-- the schedule's key is pending.
ALTER TABLE schedules ADD COLUMN key_mode text NOT NULL DEFAULT 'keep';
