-- name: jobs the SQL API enqueues with a lock key are held for admission like the CLI's
-- PostgreSQL only (SQLite has no SQL API: every row comes from wfq with its limit keys set).
SELECT 1;
