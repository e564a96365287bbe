-- A named lease as a bid finds it (R33); the transaction holds the file's write lock.
SELECT holder, until FROM {leaders} WHERE name = :name
