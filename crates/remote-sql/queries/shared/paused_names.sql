-- The paused job names (R31), in byte order.
SELECT name, since FROM {paused} ORDER BY name
