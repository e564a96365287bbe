SELECT * FROM {items} ORDER BY id
