DELETE FROM {paused} WHERE name = ANY(:names::text[])
