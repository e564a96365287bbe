-- The W3C traceparent of the span that added a job (R35), text as the processor wrote it; jobs
-- of earlier releases have none.
ALTER TABLE {jobs} ADD COLUMN trace_context text;
