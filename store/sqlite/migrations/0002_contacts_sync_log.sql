-- The mapping layer: each directory's rules, each user's derived contact
-- (with its phone numbers in their own table for caller-ID lookups), and
-- the sync log.

ALTER TABLE directories ADD COLUMN mapping TEXT;

ALTER TABLE users ADD COLUMN contact TEXT NOT NULL DEFAULT '{}';

-- One row per phone number of a contact, keyed by its E.164 form.
CREATE TABLE user_phones (
    directory_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    e164         TEXT NOT NULL,
    type         TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (directory_id, e164, user_id, type),
    FOREIGN KEY (directory_id, user_id) REFERENCES users (directory_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX user_phones_user ON user_phones (directory_id, user_id);

-- The sync log survives the deletion of the resources it describes, but
-- not of its directory. Every write appends one row, so it stays cheap: a
-- plain rowid (AUTOINCREMENT would update sqlite_sequence on every insert;
-- pruning removes the oldest rows, so ids still only grow) and a single
-- index. Rows are appended in time order, so pruning walks the rowid.
CREATE TABLE sync_events (
    id            INTEGER PRIMARY KEY,
    directory_id  TEXT    NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    time          TEXT    NOT NULL,
    operation     TEXT    NOT NULL,
    resource_type TEXT    NOT NULL,
    resource_id   TEXT    NOT NULL DEFAULT '',
    identity      TEXT    NOT NULL DEFAULT '',
    new           INTEGER NOT NULL,
    failed        INTEGER NOT NULL,
    result        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sync_events_directory ON sync_events (directory_id, id);
