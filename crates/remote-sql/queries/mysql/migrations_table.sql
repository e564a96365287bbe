CREATE TABLE IF NOT EXISTS {migrations} (
    version BIGINT NOT NULL PRIMARY KEY, description TEXT NOT NULL, checksum BIGINT NOT NULL,
    applied_at BIGINT NOT NULL
) ENGINE = InnoDB
