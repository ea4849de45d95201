-- Change events of each directory's contacts and groups (store.Event),
-- recorded in the transaction of the write they describe and numbered
-- per directory in commit order (seq): the lookup API's events cursor.
-- data holds the before and after states as JSON. Pruned after the
-- events retention, but never a directory's newest, from which the
-- numbering goes on.
CREATE TABLE change_events (
    directory_id TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    time         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    resource_id  TEXT NOT NULL,
    data         TEXT NOT NULL,
    PRIMARY KEY (directory_id, seq)
) WITHOUT ROWID;
CREATE INDEX change_events_time ON change_events (time);
