-- One migration at a time per table prefix: a lock of the session, held across the DDL
-- (which commits on its own) until unlock_migrations.
SELECT GET_LOCK(:lock_name, 600) AS locked
