DELETE e FROM JSON_TABLE(:ids, '$[*]' COLUMNS (id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin PATH '$')) AS l
STRAIGHT_JOIN {errors} AS e FORCE INDEX ({prefix}errors_job) ON e.job_id = l.id
