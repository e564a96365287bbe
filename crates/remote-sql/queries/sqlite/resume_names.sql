DELETE FROM {paused} WHERE name IN (SELECT value FROM json_each(:names))
