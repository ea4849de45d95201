-- Teams presence: how each directory reaches Microsoft Graph, and the
-- presence last observed for its users.

CREATE TABLE presence_links (
    directory_id       TEXT NOT NULL PRIMARY KEY REFERENCES directories (id) ON DELETE CASCADE,
    state              TEXT NOT NULL,
    tenant_id          TEXT NOT NULL DEFAULT '',
    client_id          TEXT NOT NULL DEFAULT '',
    credential         TEXT NOT NULL DEFAULT '',
    sealed             BLOB,               -- encrypted by the presence package
    consent_state_hash BLOB UNIQUE,        -- HashToken of a pending admin consent's state
    consent_expires    TEXT NOT NULL DEFAULT '',
    last_poll          TEXT NOT NULL DEFAULT '',
    contacts_polled    INTEGER NOT NULL DEFAULT 0,
    skipped            INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT NOT NULL DEFAULT '',
    updated            TEXT NOT NULL
) WITHOUT ROWID;

-- Written only when a user's presence changes.
CREATE TABLE presence (
    directory_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    availability TEXT NOT NULL,
    activity     TEXT NOT NULL,
    observed_at  TEXT NOT NULL,
    PRIMARY KEY (directory_id, user_id),
    FOREIGN KEY (directory_id, user_id) REFERENCES users (directory_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
