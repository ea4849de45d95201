-- Webhooks (store.Webhook): a directory's receivers of change events,
-- with their sealed signing secret and their cursor (the seq of the last
-- event delivered or passed over), and the delivery log, one row per
-- event tried, which the delivery worker (on whichever replica holds the
-- directory's lease) resumes from.
CREATE TABLE webhooks (
    directory_id    text COLLATE "C" NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    id              text COLLATE "C" NOT NULL,
    url             text NOT NULL,
    description     text NOT NULL,
    events          text[] NOT NULL,
    enabled         boolean NOT NULL,
    disabled_reason text NOT NULL,
    sealed          bytea NOT NULL,
    cursor          bigint NOT NULL,
    created         timestamptz NOT NULL,
    updated         timestamptz NOT NULL,
    PRIMARY KEY (directory_id, id)
);
CREATE INDEX webhooks_enabled ON webhooks (directory_id) WHERE enabled;
CREATE TABLE webhook_deliveries (
    directory_id    text COLLATE "C" NOT NULL,
    webhook_id      text COLLATE "C" NOT NULL,
    seq             bigint NOT NULL,
    event_type      text NOT NULL,
    status          text NOT NULL,
    attempts        integer NOT NULL,
    first_attempt   timestamptz NOT NULL,
    last_attempt    timestamptz NOT NULL,
    next_attempt    timestamptz,
    response_status integer NOT NULL,
    last_error      text NOT NULL,
    PRIMARY KEY (directory_id, webhook_id, seq),
    FOREIGN KEY (directory_id, webhook_id) REFERENCES webhooks (directory_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_last_attempt ON webhook_deliveries (last_attempt) WHERE status <> 'pending';
