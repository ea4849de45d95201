-- The lookup API: per-directory API keys, and the data its queries need,
-- derived from each user's contact in Go (lookup.go) on every user write.
-- Unicode lower-casing and word splitting are beyond SQLite's built-in
-- functions, so the backfill of existing rows runs in Go right after this
-- script, in the same transaction (backfill.go).

CREATE TABLE api_keys (
    id           TEXT NOT NULL PRIMARY KEY,
    directory_id TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE, -- HashToken of the key
    created      TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX api_keys_directory ON api_keys (directory_id, created, id);

-- sort_name is the folded display name, the order of every contact list;
-- the domains serve the visibility rules.
ALTER TABLE users ADD COLUMN sort_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email_domain TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN login_domain TEXT NOT NULL DEFAULT '';
-- Only active users are ever listed, so inactive ones stay out of the
-- index (and cost no index write). Queries say "active = 1" to use it.
CREATE INDEX users_sort ON users (directory_id, sort_name, id) WHERE active = 1;
-- Orders a search's candidate ids (found through words, phones or
-- groups) without reading their rows.
CREATE INDEX users_id_sort ON users (directory_id, id, sort_name) WHERE active = 1;

-- One row per word of a contact's names, plus its whole email: text
-- search is a range scan over words starting with what was typed. The
-- contact's sort_name rides along, so that the matches can be ordered
-- without reading their users rows.
CREATE TABLE user_words (
    directory_id TEXT NOT NULL,
    word         TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    sort_name    TEXT NOT NULL,
    PRIMARY KEY (directory_id, word, user_id),
    FOREIGN KEY (directory_id, user_id) REFERENCES users (directory_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
-- Serves the cascade and the rewrite of a renamed user's words.
CREATE INDEX user_words_user ON user_words (directory_id, user_id);

-- Visibility rules name groups case-insensitively, by name or prefix
-- (name_key is the folded display name). groups_names answers "names of
-- a user's groups" and the rules' membership checks from the index alone:
-- groups are few, and those reads are on every lookup.
ALTER TABLE groups ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
CREATE INDEX groups_name_key ON groups (directory_id, name_key);
CREATE INDEX groups_names ON groups (directory_id, id, name_key, display_name);
