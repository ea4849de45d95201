package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/scimd/scimd/store"
)

// GetSetting returns the value stored under key, ErrNotFound if none.
func (db *DB) GetSetting(ctx context.Context, key string) ([]byte, error) {
	tx, err := db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var v []byte
	err = tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
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
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		if value == nil {
			value = []byte{} // nil would bind as NULL
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
			return wrap("set setting", err)
		}
		return nil
	})
}
