package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

// apiKeyColumns are read through k, joined with the key's directory: the
// keys of a directory being deleted are not found.
const apiKeyColumns = `k.id, k.directory_id, k.name, k.hash, k.created`

var errNoKeyHash = errors.New("postgres: API key without a hash")

// CreateAPIKey stores a lookup-API key (its hash) with the transaction's
// time as Created.
func (db *DB) CreateAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	if len(k.Hash) == 0 {
		return store.APIKey{}, errNoKeyHash
	}
	k, err := writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.APIKey, error) {
		k := k
		k.Created = tx.now
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, directory_id, name, hash, created) VALUES ($1, $2, $3, $4, $5)`,
			k.ID, k.DirectoryID, k.Name, k.Hash, k.Created)
		switch {
		case err == nil:
			if err := insertAudit(ctx, tx, k.DirectoryID); err != nil {
				return store.APIKey{}, err
			}
			return k, notify(ctx, tx, store.Change{Kind: store.ChangeAPIKey, DirectoryID: k.DirectoryID})
		case isUnique(err) && constraint(err) == "api_keys_pkey":
			return store.APIKey{}, fmt.Errorf("%w: API key id %q already exists", store.ErrConflict, k.ID)
		case isUnique(err):
			return store.APIKey{}, fmt.Errorf("%w: an API key with this hash already exists", store.ErrConflict)
		case isForeignKey(err):
			return store.APIKey{}, fmt.Errorf("%w: directory %q", store.ErrNotFound, k.DirectoryID)
		}
		return store.APIKey{}, wrap("create API key", err)
	})
	db.keys.Invalidate()
	return k, err
}

// ListAPIKeys returns the directory's keys, oldest first.
func (db *DB) ListAPIKeys(ctx context.Context, directoryID string) ([]store.APIKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k JOIN directories d ON d.id = k.directory_id
		WHERE k.directory_id = $1 AND NOT d.deleting ORDER BY k.created, k.id`, directoryID)
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
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE directory_id = $1 AND id = $2`, directoryID, id)
		if err != nil {
			return wrap("delete API key", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: API key %q", store.ErrNotFound, id)
		}
		if err := insertAudit(ctx, tx, directoryID); err != nil {
			return err
		}
		return notify(ctx, tx, store.Change{Kind: store.ChangeAPIKey, DirectoryID: directoryID})
	})
	db.keys.Invalidate()
	return err
}

// APIKeyByHash finds the key whose hash is hash, in any directory: the
// caller then checks that it is the requested directory's. Every lookup
// request reads its key, so keys are cached while the change listener
// guarantees that every replica's writes invalidate them.
func (db *DB) APIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	if len(hash) == 0 {
		return store.APIKey{}, fmt.Errorf("%w: API key", store.ErrNotFound)
	}
	cacheable := db.listen.cacheable()
	k, gen, ok := db.keys.Get(string(hash))
	if ok && cacheable {
		return k.Clone(), nil
	}
	k, err := scanAPIKey(db.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k JOIN directories d ON d.id = k.directory_id
		WHERE k.hash = $1 AND NOT d.deleting`, hash))
	if isNoRows(err) {
		return k, fmt.Errorf("%w: API key", store.ErrNotFound)
	}
	if err != nil {
		return k, err
	}
	if cacheable {
		db.keys.Put(string(hash), k.Clone(), gen)
	}
	return k, nil
}

func scanAPIKey(row pgx.Row) (store.APIKey, error) {
	var k store.APIKey
	if err := row.Scan(&k.ID, &k.DirectoryID, &k.Name, &k.Hash, &k.Created); err != nil {
		if isNoRows(err) {
			return k, err
		}
		return k, wrap("scan API key", err)
	}
	k.Created = utc(k.Created)
	return k, nil
}
