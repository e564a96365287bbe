-- JSON is `json`, not `jsonb`: inputs and outputs are opaque data that must round-trip exactly,
-- and jsonb cannot hold the string "\u0000". Error texts are UTF-8 in bytea for the same reason.
CREATE TABLE {jobs} (
    id             text COLLATE "C" PRIMARY KEY,
    job_name       text NOT NULL,
    input          json NOT NULL,
    status         text NOT NULL
        CHECK (status IN ('queued', 'processing', 'completed', 'cancelled', 'error')),
    output         json,
    retry_counter  bigint NOT NULL,
    max_retries    bigint NOT NULL,
    retry_delay_ms bigint NOT NULL,
    queued_at      timestamptz NOT NULL,
    retry_time     timestamptz,
    picked_at      timestamptz,
    completed_at   timestamptz,
    lease_until    timestamptz,
    lease_token    bigint
);

-- The claim: queued jobs in pull order (R2), with what the filter needs.
CREATE INDEX "{prefix}jobs_claim" ON {jobs} (queued_at, id)
    INCLUDE (job_name, retry_time) WHERE status = 'queued';
-- Lease recovery: running jobs by lease end.
CREATE INDEX "{prefix}jobs_lease" ON {jobs} (lease_until, id) WHERE status = 'processing';
-- Listing in creation order, counting and removing by status.
CREATE INDEX "{prefix}jobs_order" ON {jobs} (queued_at, id);
CREATE INDEX "{prefix}jobs_status" ON {jobs} (status, job_name);

CREATE TABLE {errors} (
    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id  text COLLATE "C" NOT NULL REFERENCES {jobs} (id) ON DELETE CASCADE,
    id      text COLLATE "C" NOT NULL,
    created timestamptz NOT NULL,
    attempt bigint NOT NULL,
    message bytea NOT NULL
);

CREATE INDEX "{prefix}errors_job" ON {errors} (job_id, seq);

CREATE TABLE {items} (
    id             text COLLATE "C" PRIMARY KEY,
    job_name       text NOT NULL,
    input          json NOT NULL,
    active         boolean NOT NULL,
    next_call_time timestamptz,
    retry_time     timestamptz,
    retry_delay_ms bigint NOT NULL,
    schedule       json NOT NULL
);

CREATE INDEX "{prefix}items_due" ON {items} (next_call_time, id) WHERE active;
