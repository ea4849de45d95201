-- A directory is deleted in steps (directories.go): first marked, which
-- hides it from every read, then its rows are purged a batch per
-- transaction, so that other directories' writes go on between batches
-- (in one transaction, a million users held the only writer for two and
-- a half minutes and grew the WAL by 2.7 GB), then its row goes. A purge
-- cut short resumes when scimd next starts.
ALTER TABLE directories ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0;
