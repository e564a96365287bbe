DELETE FROM {items} WHERE id = :id
