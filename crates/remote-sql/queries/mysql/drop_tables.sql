-- Drops what the migrations created under this prefix: the tables with their indexes (the
-- error records first, as they refer to the jobs).
DROP TABLE IF EXISTS {errors}, {jobs}, {items}, {migrations}, {paused}, {leaders};
