-- Initial schema. Times are UTC text in a fixed-width format
-- ("2006-01-02T15:04:05.000000000Z") so that text order is time order.
--
-- WITHOUT ROWID suits tables whose rows are small and always found by
-- primary key (directories, settings, group_members); users and groups
-- carry JSON documents, which SQLite advises keeping in rowid tables.

CREATE TABLE directories (
    id              TEXT NOT NULL PRIMARY KEY,
    name            TEXT NOT NULL,
    scim_token_hash BLOB,
    created         TEXT NOT NULL,
    updated         TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    directory_id  TEXT    NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    id            TEXT    NOT NULL,
    external_id   TEXT    NOT NULL DEFAULT '',
    user_name     TEXT    NOT NULL,
    display_name  TEXT    NOT NULL DEFAULT '',
    active        INTEGER NOT NULL,
    doc           TEXT    NOT NULL, -- a JSON object, checked in Go before the write
    version       INTEGER NOT NULL,
    created       TEXT    NOT NULL,
    last_modified TEXT    NOT NULL,
    PRIMARY KEY (directory_id, id),
    UNIQUE (directory_id, user_name COLLATE NOCASE)
);
-- Lookup indexes end in (created, id), the list order, so that one index
-- both finds and orders the matches: otherwise the planner may prefer
-- walking users_created to avoid a sort, scanning the whole directory.
CREATE INDEX users_external_id ON users (directory_id, external_id, created, id);
CREATE INDEX users_display_name ON users (directory_id, display_name COLLATE NOCASE, created, id);
CREATE INDEX users_created ON users (directory_id, created, id);

CREATE TABLE groups (
    directory_id  TEXT    NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    id            TEXT    NOT NULL,
    external_id   TEXT    NOT NULL DEFAULT '',
    display_name  TEXT    NOT NULL,
    doc           TEXT    NOT NULL, -- a JSON object, checked in Go before the write
    version       INTEGER NOT NULL,
    created       TEXT    NOT NULL,
    last_modified TEXT    NOT NULL,
    PRIMARY KEY (directory_id, id),
    UNIQUE (directory_id, display_name COLLATE NOCASE)
);
CREATE INDEX groups_external_id ON groups (directory_id, external_id, created, id);
CREATE INDEX groups_created ON groups (directory_id, created, id);

CREATE TABLE group_members (
    directory_id TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    PRIMARY KEY (directory_id, group_id, user_id),
    FOREIGN KEY (directory_id, group_id) REFERENCES groups (directory_id, id) ON DELETE CASCADE,
    FOREIGN KEY (directory_id, user_id) REFERENCES users (directory_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
-- Finds a user's memberships (cascading deletes, "groups of user").
CREATE INDEX group_members_user ON group_members (directory_id, user_id);
