package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/scimd/scimd/store"
)

const userColumns = `directory_id, id, external_id, user_name, display_name, active, doc, contact, version, created, last_modified, rules_version, refused`

// CreateUser stores u at version 1 with the transaction's time.
func (db *DB) CreateUser(ctx context.Context, u store.User, ev store.SyncEvent) (store.User, error) {
	// Encoding and checking happen here, in the caller's goroutine: the
	// transaction function runs on the one writer, where every
	// microsecond is paid by every concurrent write.
	row, err := encodeUser(u)
	if err != nil {
		return store.User{}, err
	}
	// The change event is encoded here too; only its time is the writer's.
	var created []pendingChange
	if db.events {
		cev, _ := store.ContactEvent(nil, store.StateOf(u, nil))
		if created, err = encodeChanges(u.DirectoryID, time.Time{}, []store.Event{cev}); err != nil {
			return store.User{}, err
		}
	}
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.User, error) {
		u, err := insertUser(ctx, tx, u, row)
		if err != nil {
			return store.User{}, err
		}
		ev.ResourceID = u.ID
		if created != nil {
			created := slices.Clone(created)
			created[0].time = tx.now
			if err := tx.addChanges(ctx, created); err != nil {
				return store.User{}, err
			}
		}
		return u, insertEvent(ctx, tx, u.DirectoryID, ev)
	})
}

// userRow is a user's document and contact encoded for storage, with the
// data the lookup queries read.
type userRow struct {
	doc, contact string
	lookup       lookupRow
}

func encodeUser(u store.User) (userRow, error) {
	doc, err := docText(u.Doc)
	if err != nil {
		return userRow{}, err
	}
	contact, err := json.Marshal(u.Contact)
	if err != nil {
		return userRow{}, fmt.Errorf("sqlite: encode contact: %w", err)
	}
	return userRow{doc: doc, contact: string(contact), lookup: deriveLookup(u)}, nil
}

func insertUser(ctx context.Context, tx *tx, u store.User, row userRow) (store.User, error) {
	doc, contact, lr := row.doc, row.contact, row.lookup
	u.Doc, u.Version, u.Created, u.LastModified, u.Refused = []byte(doc), 1, tx.now, tx.now, ""
	_, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`, sort_name, email_domain, login_domain)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.DirectoryID, u.ID, u.ExternalID, u.UserName, u.DisplayName, u.Active, doc, contact, u.Version,
		formatTime(u.Created), formatTime(u.LastModified), u.RulesVersion, "", lr.sortName, lr.emailDomain, lr.loginDomain)
	if err := userWriteError(err, u); err != nil {
		return store.User{}, err
	}
	if err := insertWords(ctx, tx, u, lr); err != nil {
		return store.User{}, err
	}
	return u, insertPhones(ctx, tx, u, lr.phones)
}

// userWriteError turns a constraint violation into the sentinel it means.
func userWriteError(err error, u store.User) error {
	switch {
	case err == nil:
		return nil
	case isUnique(err):
		return fmt.Errorf("%w: userName %q already exists", store.ErrConflict, u.UserName)
	case isPrimaryKey(err):
		return fmt.Errorf("%w: user id %q already exists", store.ErrConflict, u.ID)
	case isForeignKey(err):
		return fmt.Errorf("%w: directory %q", store.ErrNotFound, u.DirectoryID)
	case isCheck(err):
		return errBadDoc
	}
	return wrap("write user", err)
}

// GetUser returns user id of the directory.
func (db *DB) GetUser(ctx context.Context, directoryID, id string) (store.User, error) {
	release, err := db.lookups.acquire(ctx)
	if err != nil {
		return store.User{}, err
	}
	defer release()
	return getUser(ctx, db.r, directoryID, id)
}

func getUser(ctx context.Context, q querier, directoryID, id string) (store.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE directory_id = ? AND id = ?`, directoryID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("%w: user %q", store.ErrNotFound, id)
	}
	return u, err
}

// UpdateUser loads the user, lets fn change it and writes the result with
// the next version, all in one write transaction.
func (db *DB) UpdateUser(ctx context.Context, directoryID, id string, fn func(store.User) (store.User, store.SyncEvent, error)) (store.User, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.User, error) {
		old, err := getUser(ctx, tx, directoryID, id)
		if err != nil {
			return store.User{}, err
		}
		u, ev, err := fn(old)
		if err != nil {
			return store.User{}, err // unchanged: callers match their own errors
		}
		u.DirectoryID, u.ID, u.Created = old.DirectoryID, old.ID, old.Created
		row, err := encodeUser(u)
		if err != nil {
			return store.User{}, err
		}
		lr := row.lookup
		// A write clears the reapply mark: its contact passed the rules.
		u.Doc, u.Version, u.LastModified, u.Refused = []byte(row.doc), old.Version+1, tx.now, ""
		_, err = tx.ExecContext(ctx, `UPDATE users
			SET external_id = ?, user_name = ?, display_name = ?, active = ?, doc = ?, contact = ?, version = ?, last_modified = ?,
				rules_version = ?, refused = '', sort_name = ?, email_domain = ?, login_domain = ?
			WHERE directory_id = ? AND id = ?`,
			u.ExternalID, u.UserName, u.DisplayName, u.Active, row.doc, row.contact, u.Version, formatTime(u.LastModified),
			u.RulesVersion, lr.sortName, lr.emailDomain, lr.loginDomain, u.DirectoryID, u.ID)
		if err := userWriteError(err, u); err != nil {
			return store.User{}, err
		}
		if err := updateLookup(ctx, tx, u, deriveLookup(old), lr); err != nil {
			return store.User{}, err
		}
		if db.events {
			if err := recordUserUpdate(ctx, tx, old, u); err != nil {
				return store.User{}, err
			}
		}
		ev.ResourceID = u.ID
		return u, insertEvent(ctx, tx, u.DirectoryID, ev)
	})
}

// DeleteUser removes the user; its memberships go by cascade.
func (db *DB) DeleteUser(ctx context.Context, directoryID, id string, version int64, ev store.SyncEvent) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		if err := checkVersion(ctx, tx, "user", directoryID, id, version); err != nil {
			return err
		}
		if db.events {
			if err := recordUserDelete(ctx, tx, directoryID, id); err != nil {
				return err
			}
		}
		// The user's groups lose a member, so their versions (ETags) move too.
		if _, err := tx.ExecContext(ctx, `UPDATE groups SET version = version + 1, last_modified = ?
			WHERE directory_id = ? AND id IN (SELECT group_id FROM group_members WHERE directory_id = ? AND user_id = ?)`,
			formatTime(tx.now), directoryID, directoryID, id); err != nil {
			return wrap("delete user", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE directory_id = ? AND id = ?`, directoryID, id); err != nil {
			return wrap("delete user", err)
		}
		ev.ResourceID = id
		return insertEvent(ctx, tx, directoryID, ev)
	})
}

// checkVersion returns ErrNotFound if the user or group (kind) is missing
// and ErrPrecondition if version is non-zero and not the stored one.
func checkVersion(ctx context.Context, tx *tx, kind, directoryID, id string, version int64) error {
	var v int64
	// kind is "user" or "group", a constant of this package, never input.
	err := tx.QueryRowContext(ctx, `SELECT version FROM `+kind+`s WHERE directory_id = ? AND id = ?`, directoryID, id).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %s %q", store.ErrNotFound, kind, id)
	case err != nil:
		return wrap("delete "+kind, err)
	case version != 0 && version != v:
		return fmt.Errorf("%w: %s %q is at version %d, not %d", store.ErrPrecondition, kind, id, v, version)
	}
	return nil
}

// ListUsers returns a page of the directory's users matching q.Filter,
// ordered by (Created, ID), and the number of matches.
func (db *DB) ListUsers(ctx context.Context, directoryID string, q store.Query) ([]store.User, int, error) {
	return list(ctx, db, usersTable, userColumns, directoryID, q, scanUser)
}

func scanUser(row interface{ Scan(...any) error }) (store.User, error) {
	var u store.User
	var created, modified string
	var contact []byte
	if err := row.Scan(&u.DirectoryID, &u.ID, &u.ExternalID, &u.UserName, &u.DisplayName, &u.Active,
		&u.Doc, &contact, &u.Version, &created, &modified, &u.RulesVersion, &u.Refused); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return u, err
		}
		return u, wrap("scan user", err)
	}
	var err1, err2, err3 error
	u.Created, err1 = parseTime(created)
	u.LastModified, err2 = parseTime(modified)
	if err := decodeContact(contact, &u.Contact); err != nil {
		err3 = fmt.Errorf("sqlite: stored contact: %w", err)
	}
	return u, errors.Join(err1, err2, err3)
}

// errBadDoc reports a document that is not a JSON object: a bug in the
// caller, which validates resources before storing them.
var errBadDoc = errors.New("sqlite: resource document is not a JSON object")

// docText checks a resource document and returns it as a string: bound as
// a string it is stored as TEXT, which SQLite's JSON functions parse (a
// BLOB would be taken for JSONB). An empty document is stored as {}.
func docText(doc []byte) (string, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 {
		return "{}", nil
	}
	if doc[0] != '{' || !json.Valid(doc) || jsonDepth(doc) > maxJSONDepth {
		return "", errBadDoc
	}
	return string(doc), nil
}

// maxJSONDepth is SQLite's limit for its JSON functions: a deeper
// document would store but break every filter that reads it.
const maxJSONDepth = 1000

// jsonDepth returns the deepest nesting of a valid JSON text.
func jsonDepth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			if depth++; depth > deepest {
				deepest = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
