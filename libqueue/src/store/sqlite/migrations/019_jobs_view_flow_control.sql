-- name: jobs_view shows flow control's columns: the group, the limit keys, the key a held-back job waits for
-- PostgreSQL only: SQLite has no jobs_view (its times are integers a query converts itself).
SELECT 1;
