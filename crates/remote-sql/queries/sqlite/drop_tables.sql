-- Drops what the migrations created under this prefix: the tables with their indexes.
DROP TABLE IF EXISTS {errors};
DROP TABLE IF EXISTS {jobs};
DROP TABLE IF EXISTS {items};
DROP TABLE IF EXISTS {migrations};
DROP TABLE IF EXISTS {paused};
DROP TABLE IF EXISTS {leaders};
