-- name: reads at scale: failed, cancelled and waiting jobs, and jobs by error class, from indexes
-- PostgreSQL only (jobs_error_class). On SQLite the same index, and PostgreSQL's jobs_state_list
-- (state, id, queue, type) for failed, cancelled and waiting jobs, made `jobs list` with a state
-- or error class absent from a table of a million jobs answer at once instead of walking the
-- primary key (100-300 ms), but no-op jobs ran 10-30% slower with them (`wfq bench work`, six
-- interleaved pairs each way): SQLite maintains every index of a row it writes, partial or not.
SELECT 1;
