-- name: config documents and their change log
CREATE TABLE configs (
  scope TEXT PRIMARY KEY,
  doc TEXT NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE config_changes (
  version INTEGER PRIMARY KEY AUTOINCREMENT,
  scope TEXT NOT NULL,
  at INTEGER NOT NULL);
