-- Change events of each directory's contacts and groups (store.Event),
-- recorded in the transaction of the write they describe and numbered
-- per directory in commit order (seq): the lookup API's events cursor.
-- data holds the before and after states as JSON. Pruned after the
-- events retention, but never a directory's newest, from which the
-- numbering goes on. A rowid table, not WITHOUT ROWID: rows of a kilobyte
-- and more would spill into overflow pages of an index b-tree (a member
-- PATCH wrote 6 KB per event that way).
CREATE TABLE change_events (
    id           INTEGER PRIMARY KEY,
    directory_id TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    time         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    resource_id  TEXT NOT NULL,
    data         TEXT NOT NULL,
    UNIQUE (directory_id, seq)
);
CREATE INDEX change_events_time ON change_events (time);
