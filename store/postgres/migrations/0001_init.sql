-- scimd's schema on PostgreSQL: the same records as the SQLite backend,
-- in PostgreSQL's own types, plus what several replicas sharing one
-- database need (leases, the presence change feed).
--
-- Text that is compared or ordered uses COLLATE "C" (byte order), so that
-- contact order, cursors and prefix ranges are the same as on SQLite
-- whatever the database's default collation. Case-insensitive names
-- (userName, group displayName) compare by a key folded with ASCII
-- translate(), which is what SQLite's NOCASE folds; folded lookup keys
-- (sort_name, words, domains, group name_key) are derived in Go
-- (store.KeysOf) as on SQLite. SCIM documents are text: stored and
-- returned exactly as sent; filters cast them to jsonb.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE directories (
    id              text COLLATE "C" NOT NULL PRIMARY KEY,
    name            text NOT NULL,
    scim_token_hash bytea,
    mapping         text,
    deleting        boolean NOT NULL DEFAULT false,
    created         timestamptz NOT NULL,
    updated         timestamptz NOT NULL
);

CREATE TABLE settings (
    key   text COLLATE "C" NOT NULL PRIMARY KEY,
    value bytea NOT NULL
);

CREATE TABLE users (
    directory_id  text COLLATE "C" NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    id            text COLLATE "C" NOT NULL,
    external_id   text COLLATE "C" NOT NULL DEFAULT '',
    user_name     text COLLATE "C" NOT NULL,
    user_name_key text COLLATE "C" GENERATED ALWAYS AS
        (translate(user_name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    display_name  text COLLATE "C" NOT NULL DEFAULT '',
    active        boolean NOT NULL,
    doc           text NOT NULL,
    contact       text NOT NULL DEFAULT '{}',
    version       bigint NOT NULL,
    created       timestamptz NOT NULL,
    last_modified timestamptz NOT NULL,
    sort_name     text COLLATE "C" NOT NULL DEFAULT '',
    email_domain  text COLLATE "C" NOT NULL DEFAULT '',
    login_domain  text COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (directory_id, id)
);
-- The uniqueness rule itself: concurrent creates of one userName get one
-- row and a 23505 for the others.
CREATE UNIQUE INDEX users_user_name ON users (directory_id, user_name_key);
CREATE INDEX users_external_id ON users (directory_id, external_id, created, id);
CREATE INDEX users_display_name ON users (directory_id,
    translate(display_name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), created, id);
CREATE INDEX users_created ON users (directory_id, created, id);
-- Only active users are ever listed as contacts.
CREATE INDEX users_sort ON users (directory_id, sort_name, id) WHERE active;

CREATE TABLE groups (
    directory_id     text COLLATE "C" NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    id               text COLLATE "C" NOT NULL,
    external_id      text COLLATE "C" NOT NULL DEFAULT '',
    display_name     text COLLATE "C" NOT NULL,
    display_name_key text COLLATE "C" GENERATED ALWAYS AS
        (translate(display_name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    name_key         text COLLATE "C" NOT NULL DEFAULT '', -- store.Fold(display_name), for visibility rules
    doc              text NOT NULL,
    version          bigint NOT NULL,
    created          timestamptz NOT NULL,
    last_modified    timestamptz NOT NULL,
    PRIMARY KEY (directory_id, id)
);
CREATE UNIQUE INDEX groups_display_name ON groups (directory_id, display_name_key);
CREATE INDEX groups_external_id ON groups (directory_id, external_id, created, id);
CREATE INDEX groups_created ON groups (directory_id, created, id);
CREATE INDEX groups_name_key ON groups (directory_id, name_key);

CREATE TABLE group_members (
    directory_id text COLLATE "C" NOT NULL,
    group_id     text COLLATE "C" NOT NULL,
    user_id      text COLLATE "C" NOT NULL,
    PRIMARY KEY (directory_id, group_id, user_id),
    FOREIGN KEY (directory_id, group_id) REFERENCES groups (directory_id, id) ON DELETE CASCADE,
    FOREIGN KEY (directory_id, user_id) REFERENCES users (directory_id, id) ON DELETE CASCADE
);
CREATE INDEX group_members_user ON group_members (directory_id, user_id);

-- SCIM filters (filter.go) read documents and dateTimes through these, so
-- that no stored value can fail a query: a document jsonb cannot read
-- (the write path refuses them) has no attributes, and text that is not
-- an RFC 3339 dateTime (no offset means UTC, as SQLite reads it) is no
-- instant.
CREATE FUNCTION scim_doc(doc text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN doc::jsonb;
EXCEPTION WHEN data_exception OR program_limit_exceeded THEN
    RETURN NULL;
END
$$;

CREATE FUNCTION scim_time(s text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF s !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?$' THEN
        RETURN NULL;
    END IF;
    IF s ~ '([Zz]|[+-][0-9]{2}:[0-9]{2})$' THEN
        RETURN s::timestamptz;
    END IF;
    RETURN s::timestamp AT TIME ZONE 'UTC';
EXCEPTION WHEN data_exception THEN
    RETURN NULL;
END
$$;

-- One row per phone number of a contact, keyed by its E.164 form:
-- caller-ID is an index lookup; phone search ("contains these digits")
-- uses the trigram index, and sorts its matches by the contact's sort
-- name without reading users.
CREATE TABLE user_phones (
    directory_id text COLLATE "C" NOT NULL,
    user_id      text COLLATE "C" NOT NULL,
    e164         text COLLATE "C" NOT NULL,
    type         text COLLATE "C" NOT NULL DEFAULT '',
    sort_name    text COLLATE "C" NOT NULL,
    PRIMARY KEY (directory_id, e164, user_id, type),
    FOREIGN KEY (directory_id, user_id) REFERENCES users (directory_id, id) ON DELETE CASCADE
);
CREATE INDEX user_phones_user ON user_phones (directory_id, user_id);
-- New entries wait in the index's pending list, which every search reads
-- through, until a vacuum or the list's limit merges them into the index.
-- A small limit keeps that read under a millisecond (the default, 4 MB,
-- holds some 17,000 numbers) and keeps the list's cheap writes
-- (fastupdate off made a number's insert about 1.5 times slower).
CREATE INDEX user_phones_digits ON user_phones USING gin (e164 gin_trgm_ops) WITH (gin_pending_list_limit = 256);

-- One row per search word of a contact (store.ContactWords), with the
-- contact's sort name, so that matches come out in contact order.
CREATE TABLE user_words (
    directory_id text COLLATE "C" NOT NULL,
    word         text COLLATE "C" NOT NULL,
    sort_name    text COLLATE "C" NOT NULL,
    user_id      text COLLATE "C" NOT NULL,
    PRIMARY KEY (directory_id, word, sort_name, user_id),
    FOREIGN KEY (directory_id, user_id) REFERENCES users (directory_id, id) ON DELETE CASCADE
);
CREATE INDEX user_words_user ON user_words (directory_id, user_id);

CREATE TABLE api_keys (
    id           text COLLATE "C" NOT NULL PRIMARY KEY,
    directory_id text COLLATE "C" NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    name         text NOT NULL,
    hash         bytea NOT NULL UNIQUE, -- HashToken of the key
    created      timestamptz NOT NULL
);
CREATE INDEX api_keys_directory ON api_keys (directory_id, created, id);

CREATE TABLE sync_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    directory_id  text COLLATE "C" NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    time          timestamptz NOT NULL,
    operation     text NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL DEFAULT '',
    identity      text NOT NULL DEFAULT '',
    new           boolean NOT NULL,
    failed        boolean NOT NULL,
    result        text NOT NULL DEFAULT ''
);
CREATE INDEX sync_events_directory ON sync_events (directory_id, id);
CREATE INDEX sync_events_time ON sync_events (time);

CREATE TABLE presence_links (
    directory_id       text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES directories (id) ON DELETE CASCADE,
    state              text NOT NULL,
    tenant_id          text NOT NULL DEFAULT '',
    client_id          text NOT NULL DEFAULT '',
    credential         text NOT NULL DEFAULT '',
    sealed             bytea,       -- encrypted by the presence package
    consent_state_hash bytea UNIQUE, -- HashToken of a pending admin consent's state
    consent_expires    timestamptz,
    last_poll          timestamptz,
    contacts_polled    integer NOT NULL DEFAULT 0,
    skipped            integer NOT NULL DEFAULT 0,
    last_error         text NOT NULL DEFAULT '',
    updated            timestamptz NOT NULL
);

CREATE TABLE presence (
    directory_id text COLLATE "C" NOT NULL,
    user_id      text COLLATE "C" NOT NULL,
    availability text NOT NULL,
    activity     text NOT NULL,
    observed_at  timestamptz NOT NULL,
    PRIMARY KEY (directory_id, user_id),
    FOREIGN KEY (directory_id, user_id) REFERENCES users (directory_id, id) ON DELETE CASCADE
);

-- The presence change feed: every change WritePresence stores, numbered
-- per directory under the directory's counter row, so that numbers are
-- in commit order and every replica serves the same stream ids
-- (Last-Event-ID) whichever replica polled. Kept for a while, then
-- pruned with the sync log.
CREATE TABLE presence_counters (
    directory_id text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES directories (id) ON DELETE CASCADE,
    seq          bigint NOT NULL
);
CREATE TABLE presence_changes (
    directory_id text COLLATE "C" NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    seq          bigint NOT NULL,
    user_id      text COLLATE "C" NOT NULL,
    availability text,        -- NULL: the presence was cleared
    activity     text,
    observed_at  timestamptz,
    recorded     timestamptz NOT NULL,
    PRIMARY KEY (directory_id, seq)
);
CREATE INDEX presence_changes_recorded ON presence_changes (recorded);

-- Leases: a named job (a directory's presence poller, the sync-log
-- pruner, a directory's purge) is run by the replica holding its lease.
-- Expiry is the database's clock, so replicas' clocks do not matter.
CREATE TABLE leases (
    name    text COLLATE "C" NOT NULL PRIMARY KEY,
    owner   text COLLATE "C" NOT NULL,
    expires timestamptz NOT NULL
);
CREATE INDEX leases_owner ON leases (owner);
