-- A rotated SCIM token can stay valid for a grace period, so that the
-- Entra admin pastes the new one before the old stops working: the hash
-- of the token a rotation replaced, and until when it is accepted (NULL
-- for none). Authentication compares the time on every request, on every
-- replica, so expiry needs no notification.
ALTER TABLE directories ADD COLUMN previous_token_hash bytea;
ALTER TABLE directories ADD COLUMN previous_token_expires timestamptz;

-- The audit trail of administrators' changes, each written in the
-- transaction of the change it describes. No foreign key: a directory's
-- entries outlive it (its delete is one of them); only the sync log's
-- retention prunes them.
CREATE TABLE audit_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time           timestamptz NOT NULL,
    actor_type     text NOT NULL,
    actor_id       text NOT NULL DEFAULT '',
    directory_id   text COLLATE "C" NOT NULL DEFAULT '',
    directory_name text NOT NULL DEFAULT '',
    action         text COLLATE "C" NOT NULL,
    details        text NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_directory ON audit_log (directory_id, id);
CREATE INDEX audit_log_time ON audit_log (time);
