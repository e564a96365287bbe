INSERT INTO {migrations} (version, description, checksum, applied_at)
VALUES (:version, :description, :checksum, :now)
