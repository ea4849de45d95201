package sqlite

import (
	"context"
	"fmt"

	"github.com/scimd/scimd/store"
)

// backfills are Go steps of migrations, run after the migration's SQL in
// its transaction, for derived data that SQL alone cannot compute.
var backfills = map[int]func(context.Context, *tx) error{
	3: backfillLookup,
	5: backfillWords,
}

// backfillChunk is how many users eachUser reads before a backfill writes
// their derived data: it never writes a table while reading it.
const backfillChunk = 1000

// backfillLookup derives the lookup data (lookup.go) of existing users and
// groups.
func backfillLookup(ctx context.Context, tx *tx) error {
	err := eachUser(ctx, tx, func(u store.User) error {
		lr := deriveLookup(u)
		if _, err := tx.ExecContext(ctx, `UPDATE users SET sort_name = ?, email_domain = ?, login_domain = ?
			WHERE directory_id = ? AND id = ?`, lr.sortName, lr.emailDomain, lr.loginDomain, u.DirectoryID, u.ID); err != nil {
			return err
		}
		return insertWords(ctx, tx, u, lr)
	})
	if err != nil {
		return err
	}
	groups, err := tx.QueryContext(ctx, `SELECT directory_id, id, display_name FROM groups`)
	if err != nil {
		return err
	}
	var keys [][3]string
	for groups.Next() {
		var k [3]string
		if err := groups.Scan(&k[0], &k[1], &k[2]); err != nil {
			groups.Close()
			return err
		}
		keys = append(keys, k)
	}
	if err := groups.Close(); err != nil {
		return err
	}
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, `UPDATE groups SET name_key = ? WHERE directory_id = ? AND id = ?`,
			fold(k[2]), k[0], k[1]); err != nil {
			return err
		}
	}
	return nil
}

// backfillWords writes the search words of existing users.
func backfillWords(ctx context.Context, tx *tx) error {
	return eachUser(ctx, tx, func(u store.User) error { return insertWords(ctx, tx, u, deriveLookup(u)) })
}

// eachUser calls fn for every user, reading them a chunk at a time.
func eachUser(ctx context.Context, tx *tx, fn func(store.User) error) error {
	var dir, id string
	for {
		users, err := backfillUsers(ctx, tx, dir, id)
		if err != nil {
			return err
		}
		for _, u := range users {
			if err := fn(u); err != nil {
				return err
			}
		}
		if len(users) < backfillChunk {
			return nil
		}
		dir, id = users[len(users)-1].DirectoryID, users[len(users)-1].ID
	}
}

// backfillUsers reads the next chunk of users after (dir, id).
func backfillUsers(ctx context.Context, tx *tx, dir, id string) ([]store.User, error) {
	rows, err := tx.QueryContext(ctx, `SELECT directory_id, id, user_name, contact FROM users
		WHERE (directory_id, id) > (?, ?) ORDER BY directory_id, id LIMIT ?`, dir, id, backfillChunk)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var users []store.User
	for rows.Next() {
		var u store.User
		var contact []byte
		if err := rows.Scan(&u.DirectoryID, &u.ID, &u.UserName, &contact); err != nil {
			return nil, err
		}
		if err := decodeContact(contact, &u.Contact); err != nil {
			return nil, fmt.Errorf("user %s: stored contact: %w", u.ID, err)
		}
		users = append(users, u)
	}
	return users, rows.Err()
}
