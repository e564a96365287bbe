-- One migration at a time per schema, until the transaction ends.
SELECT 1::bigint AS locked FROM pg_advisory_xact_lock(:lock_key)
