-- name: placeholder for another branch's migration 20 (the lead drops this file on merge)
SELECT 1;
