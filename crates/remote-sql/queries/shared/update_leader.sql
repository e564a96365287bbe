-- A named lease won or renewed (R33); a note not given keeps the stored one.
UPDATE {leaders} SET holder = :holder, until = :until, note = COALESCE(:note, note)
WHERE name = :name
