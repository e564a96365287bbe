UPDATE {items} SET job_name = :job_name, input = :input::json, active = :active,
    next_call_time = :next_call_time, locked_until = :locked_until,
    lock_duration_ms = :lock_duration_ms, schedule = :schedule::json,
    misfire = :misfire::json
WHERE id = :id
