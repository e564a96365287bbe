-- Extends the leases still held, each fenced by its token, in one statement over :rows.
-- The unary `+` keeps the planner off the status indexes: each row of :rows finds its job by
-- id, rather than every processing job scanning :rows.
UPDATE {jobs} SET lease_until = :lease_until
FROM (SELECT value ->> '$.id' AS id, value ->> '$.token' AS token FROM json_each(:rows)) AS l
WHERE {jobs}.id = l.id AND +{jobs}.status = 'processing' AND {jobs}.lease_token = l.token
RETURNING {jobs}.id
