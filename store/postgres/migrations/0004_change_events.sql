-- Change events of each directory's contacts and groups (store.Event),
-- recorded in the transaction of the write they describe. They are
-- numbered per directory under the directory's counter row, which a
-- write takes last and keeps locked until its commit: numbers are in
-- commit order, so a reader past number n never misses one below it, and
-- every replica serves the same cursors. data holds the before and after
-- states as JSON (text: nothing queries inside it). Pruned after the
-- events retention, but never a directory's newest.
CREATE TABLE event_counters (
    directory_id text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES directories (id) ON DELETE CASCADE,
    seq          bigint NOT NULL
);
CREATE TABLE change_events (
    directory_id text COLLATE "C" NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    seq          bigint NOT NULL,
    time         timestamptz NOT NULL,
    kind         text NOT NULL,
    resource_id  text COLLATE "C" NOT NULL,
    data         text NOT NULL,
    PRIMARY KEY (directory_id, seq)
);
CREATE INDEX change_events_time ON change_events (time);
