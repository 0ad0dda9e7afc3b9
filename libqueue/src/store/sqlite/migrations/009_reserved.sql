-- name: reserved for issue 25 (key modes, SQL API); delete this file when merging that branch
SELECT 1;
