SELECT status, count(*) AS n FROM {jobs} GROUP BY status
