-- A rotated SCIM token can stay valid for a grace period, so that the
-- Entra admin pastes the new one before the old stops working: the hash
-- of the token a rotation replaced, and until when it is accepted ('' for
-- none). Authentication compares the time on every request.
ALTER TABLE directories ADD COLUMN previous_token_hash BLOB;
ALTER TABLE directories ADD COLUMN previous_token_expires TEXT NOT NULL DEFAULT '';

-- The audit trail of administrators' changes, each written in the
-- transaction of the change it describes. No foreign key: a directory's
-- entries outlive it (its delete is one of them); only the sync log's
-- retention prunes them. AUTOINCREMENT: ids are cursors and must never
-- come back, even once a prune emptied the table (entries are rare).
CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    time           TEXT NOT NULL,
    actor_type     TEXT NOT NULL,
    actor_id       TEXT NOT NULL DEFAULT '',
    directory_id   TEXT NOT NULL DEFAULT '',
    directory_name TEXT NOT NULL DEFAULT '',
    action         TEXT NOT NULL,
    details        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_directory ON audit_log (directory_id, id);
CREATE INDEX audit_log_time ON audit_log (time);
