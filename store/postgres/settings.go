package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

// GetSetting returns the value stored under key, ErrNotFound if none.
func (db *DB) GetSetting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: setting %q", store.ErrNotFound, key)
	}
	if err != nil {
		return nil, wrap("get setting", err)
	}
	if v == nil {
		v = []byte{} // a stored empty value is still a value
	}
	return v, nil
}

// SetSetting stores value under key, replacing any previous value.
func (db *DB) SetSetting(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{} // nil would bind as NULL
	}
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		return wrap("set setting", err)
	})
}
