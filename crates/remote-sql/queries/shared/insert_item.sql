INSERT INTO {items} (id, job_name, input, active, next_call_time, locked_until, lock_duration_ms,
                     schedule, misfire)
VALUES (:id, :job_name, :input, :active, :next_call_time, :locked_until, :lock_duration_ms,
        :schedule, :misfire)
