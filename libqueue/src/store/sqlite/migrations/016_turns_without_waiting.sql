-- name: the SQL API's group turns without waiting: enqueue() never waits for another transaction
-- PostgreSQL only (its SQL API's wfq_assign_turns). SQLite has one writer at a time: a
-- producer's turns are never in flight beside another's.
SELECT 1;
