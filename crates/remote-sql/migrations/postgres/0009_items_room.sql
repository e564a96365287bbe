-- Room in every page of the scheduler items for new versions of its rows. A claim changes
-- only `locked_until`, which no index holds, so with room in the item's page it is a heap-only
-- update: the page is rewritten in place and no index takes an entry. Pages filled to the brim,
-- as adding items left them, sent every claimed item to another page with a new entry in each
-- index of the items. Pages written from now on keep the room; the ones there already get it
-- when the table is rewritten.
ALTER TABLE {items} SET (fillfactor = 50);
