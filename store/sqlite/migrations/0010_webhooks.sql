-- Webhooks (store.Webhook): a directory's receivers of change events,
-- with their sealed signing secret and their cursor (the seq of the last
-- event delivered or passed over), and the delivery log, one row per
-- event tried, which the delivery worker resumes from.
CREATE TABLE webhooks (
    directory_id    TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL,
    events          TEXT NOT NULL, -- JSON array of public event types
    enabled         INTEGER NOT NULL,
    disabled_reason TEXT NOT NULL,
    sealed          BLOB NOT NULL,
    cursor          INTEGER NOT NULL,
    created         TEXT NOT NULL,
    updated         TEXT NOT NULL,
    PRIMARY KEY (directory_id, id)
) WITHOUT ROWID;
CREATE INDEX webhooks_enabled ON webhooks (directory_id) WHERE enabled = 1;
CREATE TABLE webhook_deliveries (
    directory_id    TEXT NOT NULL,
    webhook_id      TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    event_type      TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    first_attempt   TEXT NOT NULL,
    last_attempt    TEXT NOT NULL,
    next_attempt    TEXT NOT NULL, -- '' unless pending
    response_status INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    PRIMARY KEY (directory_id, webhook_id, seq),
    FOREIGN KEY (directory_id, webhook_id) REFERENCES webhooks (directory_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_last_attempt ON webhook_deliveries (last_attempt) WHERE status <> 'pending';
