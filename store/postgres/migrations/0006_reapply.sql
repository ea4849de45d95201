-- Rules re-applied to stored contacts (store.ReapplyStore). A directory
-- counts the changes of its mapping rules that change contacts; each user
-- records the version its contact was derived under, and why newer rules
-- refuse it ('' when they do not). Existing rows start at 0: derived
-- under the rules they have now. Constant defaults: no table rewrite.
ALTER TABLE directories ADD COLUMN rules_version bigint NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN rules_version bigint NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN refused text NOT NULL DEFAULT '';

-- Each directory's last reapply job and its progress, written in the
-- transaction of each batch, so that a restart (of any replica) resumes
-- after the last user done. finished is NULL while the job runs.
CREATE TABLE reapply_jobs (
    directory_id  text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES directories (id) ON DELETE CASCADE,
    rules_version bigint NOT NULL,
    after_id      text COLLATE "C" NOT NULL DEFAULT '',
    done          integer NOT NULL DEFAULT 0,
    failed        integer NOT NULL DEFAULT 0,
    total         integer NOT NULL DEFAULT 0,
    started       timestamptz NOT NULL,
    finished      timestamptz
);
