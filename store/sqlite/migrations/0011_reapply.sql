-- Rules re-applied to stored contacts (store.ReapplyStore). A directory
-- counts the changes of its mapping rules that change contacts; each user
-- records the version its contact was derived under, and why newer rules
-- refuse it ('' when they do not). Existing rows start at 0: derived
-- under the rules they have now.
ALTER TABLE directories ADD COLUMN rules_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN rules_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN refused TEXT NOT NULL DEFAULT '';

-- Each directory's last reapply job and its progress, written in the
-- transaction of each batch, so that a restart resumes after the last
-- user done. finished is '' while the job runs.
CREATE TABLE reapply_jobs (
    directory_id  TEXT    NOT NULL PRIMARY KEY REFERENCES directories (id) ON DELETE CASCADE,
    rules_version INTEGER NOT NULL,
    after_id      TEXT    NOT NULL DEFAULT '',
    done          INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    total         INTEGER NOT NULL DEFAULT 0,
    started       TEXT    NOT NULL,
    finished      TEXT    NOT NULL DEFAULT ''
);
