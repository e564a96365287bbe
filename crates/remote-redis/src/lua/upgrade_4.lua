-- ARGV: the layout to upgrade from ('4'), the layout to write ('5').
-- Layout 5 writes what a job never changes as one `spec` field, which a claim returns from its
-- script, and reads the hashes of earlier layouts, which keep those as fields of their own,
-- as they are (a claim reads them back whole). Nothing stored changes but the layout. Returns
-- the layout stored before the call.
local stored = redis.call('GET', LAYOUT)
if stored ~= ARGV[1] then return stored or '' end
redis.call('SET', LAYOUT, ARGV[2])
return stored
