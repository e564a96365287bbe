-- The W3C traceparent of the span that added a job (R35), text as the processor wrote it; jobs
-- of earlier releases have none. It may run again after a migration cut short.
ALTER TABLE {jobs}
    ADD COLUMN IF NOT EXISTS trace_context LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
