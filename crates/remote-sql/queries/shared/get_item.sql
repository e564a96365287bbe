SELECT * FROM {items} WHERE id = :id
