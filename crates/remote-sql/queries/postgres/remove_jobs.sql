DELETE FROM {jobs} WHERE id = ANY(:ids::text[])
