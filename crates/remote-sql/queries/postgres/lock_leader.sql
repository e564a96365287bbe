-- A named lease as a bid finds it (R33), locked until the bid commits.
SELECT holder, until FROM {leaders} WHERE name = :name FOR UPDATE
