DELETE p FROM JSON_TABLE(:names, '$[*]' COLUMNS (name LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PATH '$')) AS l
STRAIGHT_JOIN {paused} AS p ON p.name_key = UNHEX(SHA2(l.name, 256)) AND p.name = l.name
