-- Makes the rows of removed jobs and their error records reusable and drops their index
-- entries (R33): until a vacuum, every claim walks the dead entries pruning left. Runs outside
-- a transaction; it takes no lock that blocks reads or writes.
VACUUM {jobs}, {errors}
