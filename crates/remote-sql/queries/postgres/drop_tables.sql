-- Drops what the migrations created under this prefix: the tables with their indexes and
-- triggers, and the listing order's trigger functions. The schema stays.
DROP TABLE IF EXISTS {errors}, {schema}"{prefix}job_order", {jobs}, {items}, {migrations},
    {paused}, {leaders};
DROP FUNCTION IF EXISTS {schema}"{prefix}job_order_add"(), {schema}"{prefix}job_order_remove"();
