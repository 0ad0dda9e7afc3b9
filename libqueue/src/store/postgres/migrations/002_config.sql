-- name: config documents and their change log
CREATE TABLE configs (
  scope text PRIMARY KEY,
  doc jsonb NOT NULL,
  updated_at bigint NOT NULL);
CREATE TABLE config_changes (
  version bigserial PRIMARY KEY,
  scope text NOT NULL,
  at bigint NOT NULL);
