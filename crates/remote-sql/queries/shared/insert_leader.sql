-- A named lease won for the first time (R33); a concurrent first bid breaks the key.
INSERT INTO {leaders} (name, holder, until, note) VALUES (:name, :holder, :until, :note)
