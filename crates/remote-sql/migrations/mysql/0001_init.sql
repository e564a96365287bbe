-- Times are integer milliseconds since the Unix epoch: UTC whatever the session's time zone,
-- exact to the millisecond, with no year-2038 end (TIMESTAMP) and no zone left to guess
-- (DATETIME). JSON is text stored and read back byte for byte: MariaDB's JSON type is LONGTEXT
-- anyway, and MySQL's would rewrite it. Error texts are UTF-8 bytes, since they may hold NUL.
-- Names compare byte for byte, trailing spaces included (utf8mb4_nopad_bin). MySQL runs DDL
-- outside transactions: `IF NOT EXISTS` lets a migration cut short run again.
CREATE TABLE IF NOT EXISTS {jobs} (
    id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    job_name TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    input LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    status VARCHAR(10) CHARACTER SET ascii COLLATE ascii_bin NOT NULL
        CHECK (status IN ('queued', 'processing', 'completed', 'cancelled', 'error')),
    output LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    attempt BIGINT NOT NULL, max_attempts BIGINT NOT NULL, retry_delay_ms BIGINT NOT NULL,
    queued_at BIGINT NOT NULL, not_before BIGINT, picked_at BIGINT, completed_at BIGINT,
    lease_until BIGINT, lease_token BIGINT,
    -- The claim: queued jobs in pull order (R2); MySQL has no partial indexes.
    KEY {prefix}jobs_claim (status, queued_at, id),
    -- Lease recovery: running jobs by lease end.
    KEY {prefix}jobs_lease (status, lease_until, id),
    -- Listing in creation order; removing finished jobs oldest first.
    KEY {prefix}jobs_order (queued_at, id),
    KEY {prefix}jobs_finished (completed_at, id)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS {errors} (
    seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    job_id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created BIGINT NOT NULL, attempt BIGINT NOT NULL, message LONGBLOB NOT NULL,
    KEY {prefix}errors_job (job_id, seq),
    CONSTRAINT {prefix}errors_job_fk FOREIGN KEY (job_id) REFERENCES {jobs} (id)
        ON DELETE CASCADE
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS {items} (
    id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    job_name TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    input LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    active BOOLEAN NOT NULL, next_call_time BIGINT, locked_until BIGINT,
    lock_duration_ms BIGINT NOT NULL,
    schedule LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    KEY {prefix}items_due (active, next_call_time, id)
) ENGINE = InnoDB;
