-- The admin console: setup links (a customer's admin sets up one
-- directory), browser sessions shared by every replica (the cookie's id
-- hashed) and an index that counts a directory's refused SCIM writes
-- without reading its accepted ones.
CREATE TABLE setup_links (
    id           text COLLATE "C" NOT NULL PRIMARY KEY,
    directory_id text COLLATE "C" NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    hash         bytea NOT NULL UNIQUE,
    created      timestamptz NOT NULL,
    expires      timestamptz NOT NULL
);
CREATE INDEX setup_links_directory ON setup_links (directory_id, created);

-- A session opened with a setup link goes with the link (revoked, or its
-- directory deleted); the operator's have none.
CREATE TABLE console_sessions (
    hash          bytea NOT NULL PRIMARY KEY,
    id            text NOT NULL,
    directory_id  text COLLATE "C" NOT NULL DEFAULT '',
    setup_link_id text COLLATE "C" REFERENCES setup_links (id) ON DELETE CASCADE,
    created       timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    expires       timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires);
CREATE INDEX console_sessions_link ON console_sessions (setup_link_id);

-- Partial: accepted writes, nearly all of them, pay nothing.
CREATE INDEX sync_events_failures ON sync_events (directory_id, time) WHERE failed;
