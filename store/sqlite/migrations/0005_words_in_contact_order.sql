-- Text search reads the contacts of each word that starts with what was
-- typed in contact order (sort_name, user_id), straight from the primary
-- key, and merges those few ordered runs: a page costs about a page of
-- index entries per matching word instead of a sort of every match.
--
-- The whole email moves out of the word space (as "@" and the email), so
-- that the start of a given name no longer starts as many distinct words
-- as there are emails; the email's first word joins the words instead
-- (most often it is one already). The rows are derived again in Go
-- (backfill.go).

DROP TABLE user_words;

CREATE TABLE user_words (
    directory_id TEXT NOT NULL,
    word         TEXT NOT NULL,
    sort_name    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    PRIMARY KEY (directory_id, word, sort_name, user_id),
    FOREIGN KEY (directory_id, user_id) REFERENCES users (directory_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
-- Serves the cascade and the rewrite of a renamed user's words.
CREATE INDEX user_words_user ON user_words (directory_id, user_id);
