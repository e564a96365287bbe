CREATE TABLE IF NOT EXISTS {migrations} (
    version INTEGER PRIMARY KEY, description TEXT NOT NULL, checksum INTEGER NOT NULL,
    applied_at INTEGER NOT NULL)
