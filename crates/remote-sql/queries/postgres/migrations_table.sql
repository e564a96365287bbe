-- The schema (when missing) and the table recording applied migrations. The schema is looked
-- up first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when it exists.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = '{schema_name}') THEN
        CREATE SCHEMA "{schema_name}";
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS {migrations} (
    version bigint PRIMARY KEY, description text NOT NULL, checksum bigint NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())
