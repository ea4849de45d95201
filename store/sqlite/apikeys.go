package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/scimd/scimd/store"
)

const apiKeyColumns = `id, directory_id, name, hash, created`

var errNoKeyHash = errors.New("sqlite: API key without a hash")

// CreateAPIKey stores a lookup-API key (its hash) with the transaction's
// time as Created.
func (db *DB) CreateAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	if len(k.Hash) == 0 {
		return store.APIKey{}, errNoKeyHash
	}
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.APIKey, error) {
		k.Created = tx.now
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`) VALUES (?, ?, ?, ?, ?)`,
			k.ID, k.DirectoryID, k.Name, k.Hash, formatTime(k.Created))
		switch {
		case err == nil:
			return k, insertAudit(ctx, tx, k.DirectoryID)
		case isPrimaryKey(err):
			return store.APIKey{}, fmt.Errorf("%w: API key id %q already exists", store.ErrConflict, k.ID)
		case isUnique(err):
			return store.APIKey{}, fmt.Errorf("%w: an API key with this hash already exists", store.ErrConflict)
		case isForeignKey(err):
			return store.APIKey{}, fmt.Errorf("%w: directory %q", store.ErrNotFound, k.DirectoryID)
		}
		return store.APIKey{}, wrap("create API key", err)
	})
}

// ListAPIKeys returns the directory's keys, oldest first.
func (db *DB) ListAPIKeys(ctx context.Context, directoryID string) ([]store.APIKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE directory_id = ?
		ORDER BY created, id`, directoryID)
	if err != nil {
		return nil, wrap("list API keys", err)
	}
	defer rows.Close()
	var keys []store.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, wrap("list API keys", rows.Err())
}

// DeleteAPIKey revokes key id of the directory.
func (db *DB) DeleteAPIKey(ctx context.Context, directoryID, id string) error {
	defer db.keys.Invalidate()
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE directory_id = ? AND id = ?`, directoryID, id)
		if err != nil {
			return wrap("delete API key", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return wrap("delete API key", err)
		} else if n == 0 {
			return fmt.Errorf("%w: API key %q", store.ErrNotFound, id)
		}
		return insertAudit(ctx, tx, directoryID)
	})
}

// APIKeyByHash finds the key whose hash is hash, in any directory: the
// caller then checks that it is the requested directory's.
func (db *DB) APIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	if len(hash) == 0 {
		return store.APIKey{}, fmt.Errorf("%w: API key", store.ErrNotFound)
	}
	k, gen, ok := db.keys.Get(string(hash))
	if ok {
		return k.Clone(), nil
	}
	k, err := scanAPIKey(db.r.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("%w: API key", store.ErrNotFound)
	}
	if err != nil {
		return k, err
	}
	db.keys.Put(string(hash), k.Clone(), gen)
	return k, nil
}

func scanAPIKey(row interface{ Scan(...any) error }) (store.APIKey, error) {
	var k store.APIKey
	var created string
	if err := row.Scan(&k.ID, &k.DirectoryID, &k.Name, &k.Hash, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return k, err
		}
		return k, wrap("scan API key", err)
	}
	var err error
	k.Created, err = parseTime(created)
	return k, err
}
