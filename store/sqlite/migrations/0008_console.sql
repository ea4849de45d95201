-- The admin console: setup links (a customer's admin sets up one
-- directory), browser sessions (the cookie's id hashed) and an index
-- that counts a directory's refused SCIM writes without reading its
-- accepted ones.
CREATE TABLE setup_links (
    id           TEXT NOT NULL PRIMARY KEY,
    directory_id TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    hash         BLOB NOT NULL UNIQUE,
    created      TEXT NOT NULL,
    expires      TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX setup_links_directory ON setup_links (directory_id, created);

-- A session opened with a setup link goes with the link (revoked, or its
-- directory deleted); the operator's have none.
CREATE TABLE console_sessions (
    hash          BLOB NOT NULL PRIMARY KEY,
    id            TEXT NOT NULL,
    directory_id  TEXT NOT NULL DEFAULT '',
    setup_link_id TEXT REFERENCES setup_links (id) ON DELETE CASCADE,
    created       TEXT NOT NULL,
    last_seen     TEXT NOT NULL,
    expires       TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_expires ON console_sessions (expires);
CREATE INDEX console_sessions_link ON console_sessions (setup_link_id);

-- Partial: accepted writes, nearly all of them, pay nothing.
CREATE INDEX sync_events_failures ON sync_events (directory_id, time) WHERE failed = 1;
