-- The anchor store inside the primary database (used when PAULP_ANCHOR_DATABASE_URL is unset) and an
-- INSERT/SELECT-only role for writing it. Creating the role needs CREATEROLE; without it the grants are
-- skipped with a notice (point PAULP_ANCHOR_DATABASE_URL at a database with its own role instead).
CREATE SCHEMA IF NOT EXISTS audit_anchor;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'paulp_anchor_writer') THEN
        CREATE ROLE paulp_anchor_writer NOLOGIN;
    END IF;
    GRANT USAGE ON SCHEMA audit_anchor TO paulp_anchor_writer;
    ALTER DEFAULT PRIVILEGES IN SCHEMA audit_anchor GRANT SELECT, INSERT ON TABLES TO paulp_anchor_writer;
    ALTER DEFAULT PRIVILEGES IN SCHEMA audit_anchor GRANT USAGE ON SEQUENCES TO paulp_anchor_writer;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'no privilege to create role paulp_anchor_writer; anchor grants skipped';
END $$;
