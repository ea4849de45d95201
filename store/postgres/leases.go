package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"time"
)

// Leases (store.Shared): a row per lease, its expiry by the database's
// clock, so that the replicas' clocks never decide who holds what.

// owner is this DB's name as a lease owner, for the jobs the store runs
// itself (a directory's purge).
func (db *DB) owner() string { return db.self }

// TryLease takes the lease for owner unless another owner holds it
// unexpired, or extends it if owner holds it.
func (db *DB) TryLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	var holder string
	err := db.pool.QueryRow(ctx, `INSERT INTO leases (name, owner, expires)
		VALUES ($1, $2, clock_timestamp() + $3 * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
			WHERE leases.owner = excluded.owner OR leases.expires < clock_timestamp()
		RETURNING owner`, name, owner, ttl.Microseconds()).Scan(&holder)
	if err != nil {
		if isNoRows(err) { // held by another owner
			return false, nil
		}
		return false, wrap("lease", err)
	}
	return holder == owner, nil
}

// RenewLeases extends owner's unexpired leases under prefix and returns
// their names.
func (db *DB) RenewLeases(ctx context.Context, owner, prefix string, ttl time.Duration) ([]string, error) {
	rows, err := db.pool.Query(ctx, `UPDATE leases SET expires = clock_timestamp() + $3 * interval '1 microsecond'
		WHERE owner = $1 AND starts_with(name, $2) AND expires >= clock_timestamp()
		RETURNING name`, owner, prefix, ttl.Microseconds())
	if err != nil {
		return nil, wrap("renew leases", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, wrap("renew leases", err)
		}
		names = append(names, n)
	}
	return names, wrap("renew leases", rows.Err())
}

// ReleaseLease deletes the lease if owner holds it.
func (db *DB) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND owner = $2`, name, owner)
	return wrap("release lease", err)
}

// releaseLeases deletes every lease of owner under prefix (a replica
// shutting down hands its jobs over at once).
func (db *DB) releaseLeases(ctx context.Context, owner, prefix string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM leases WHERE owner = $1 AND starts_with(name, $2)`, owner, prefix)
	return wrap("release leases", err)
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
