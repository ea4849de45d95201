package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

const userColumns = `directory_id, id, external_id, user_name, display_name, active, doc, contact, version, created, last_modified, rules_version, refused`

// CreateUser stores u at version 1 with the store's time. The user, its
// lookup keys and its sync event are one batch, sent in one round trip as
// one implicit transaction: creation is an initial cycle's busiest write,
// and a transaction around the statements cost four more round trips.
func (db *DB) CreateUser(ctx context.Context, u store.User, ev store.SyncEvent) (store.User, error) {
	row, err := encodeUser(u)
	if err != nil {
		return store.User{}, err
	}
	now := db.clock()
	u.Doc, u.Version, u.Created, u.LastModified, u.Refused = []byte(row.doc), 1, now, now, ""
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO users (`+userColumns+`, sort_name, email_domain, login_domain)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		u.DirectoryID, u.ID, u.ExternalID, u.UserName, u.DisplayName, u.Active, row.doc, row.contact, u.Version,
		u.Created, u.LastModified, u.RulesVersion, "", row.keys.SortName, row.keys.EmailDomain, row.keys.LoginDomain)
	queueKeys(b, u, nil, row.keys)
	ev.ResourceID = u.ID
	queueEvent(b, now, u.DirectoryID, ev)
	if db.events {
		// Last: the counter row is locked until the batch commits.
		cev, _ := store.ContactEvent(nil, store.StateOf(u, nil))
		args, err := recordChangesArgs(u.DirectoryID, now, []store.Event{cev})
		if err != nil {
			return store.User{}, err
		}
		b.Queue(recordChangesSQL, args...)
	}
	if err := userWriteError(execBatch(ctx, db.pool, b), u); err != nil {
		return store.User{}, err
	}
	if db.events {
		db.notify.committed(u.DirectoryID)
	}
	return u, nil
}

// userRow is a user's document and contact encoded for storage, with the
// keys the lookup queries read.
type userRow struct {
	doc, contact string
	keys         store.ContactKeys
}

func encodeUser(u store.User) (userRow, error) {
	doc, err := docText(u.Doc)
	if err != nil {
		return userRow{}, err
	}
	contact, err := json.Marshal(u.Contact)
	if err != nil {
		return userRow{}, fmt.Errorf("postgres: encode contact: %w", err)
	}
	return userRow{doc: doc, contact: string(contact), keys: store.KeysOf(u)}, nil
}

// userWriteError turns a constraint violation into the sentinel it means.
func userWriteError(err error, u store.User) error {
	switch {
	case err == nil:
		return nil
	case isUnique(err) && constraint(err) == "users_pkey":
		return fmt.Errorf("%w: user id %q already exists", store.ErrConflict, u.ID)
	case isUnique(err):
		return fmt.Errorf("%w: userName %q already exists", store.ErrConflict, u.UserName)
	case isForeignKey(err):
		return fmt.Errorf("%w: directory %q", store.ErrNotFound, u.DirectoryID)
	}
	return wrap("write user", err)
}

// GetUser returns user id of the directory.
func (db *DB) GetUser(ctx context.Context, directoryID, id string) (store.User, error) {
	return getUser(ctx, db.pool, directoryID, id, "")
}

// getUser reads a user; lock is "" or a locking clause (FOR UPDATE), a
// constant of this package.
func getUser(ctx context.Context, q querier, directoryID, id, lock string) (store.User, error) {
	u, err := scanUser(q.QueryRow(ctx,
		`SELECT `+userColumns+` FROM users WHERE directory_id = $1 AND id = $2 `+lock, directoryID, id))
	if isNoRows(err) {
		return u, fmt.Errorf("%w: user %q", store.ErrNotFound, id)
	}
	return u, err
}

// UpdateUser locks the user, lets fn change it and writes the result with
// the next version, all in one transaction: concurrent updates of one
// user queue on its row, and none is lost.
func (db *DB) UpdateUser(ctx context.Context, directoryID, id string, fn func(store.User) (store.User, store.SyncEvent, error)) (store.User, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.User, error) {
		old, err := getUser(ctx, tx, directoryID, id, "FOR UPDATE")
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
		// A write clears the reapply mark: its contact passed the rules.
		u.Doc, u.Version, u.LastModified, u.Refused = []byte(row.doc), old.Version+1, tx.now, ""
		_, err = tx.Exec(ctx, `UPDATE users
			SET external_id = $1, user_name = $2, display_name = $3, active = $4, doc = $5, contact = $6,
				version = $7, last_modified = $8, sort_name = $9, email_domain = $10, login_domain = $11,
				rules_version = $12, refused = ''
			WHERE directory_id = $13 AND id = $14`,
			u.ExternalID, u.UserName, u.DisplayName, u.Active, row.doc, row.contact, u.Version, u.LastModified,
			row.keys.SortName, row.keys.EmailDomain, row.keys.LoginDomain, u.RulesVersion, u.DirectoryID, u.ID)
		if err := userWriteError(err, u); err != nil {
			return store.User{}, err
		}
		oldKeys := store.KeysOf(old)
		if err := writeKeys(ctx, tx, u, &oldKeys, row.keys); err != nil {
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

// DeleteUser removes the user; its memberships, keys and presence go by
// cascade.
func (db *DB) DeleteUser(ctx context.Context, directoryID, id string, version int64, ev store.SyncEvent) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		// Locking the user first also keeps concurrent writes from adding
		// it to a group meanwhile (their foreign key check waits for it).
		if err := checkVersion(ctx, tx, "user", directoryID, id, version); err != nil {
			return err
		}
		if db.events {
			if err := recordUserDelete(ctx, tx, directoryID, id); err != nil {
				return err
			}
		}
		b := &pgx.Batch{}
		// The user's groups lose a member, so their versions (ETags) move too.
		b.Queue(`UPDATE groups SET version = version + 1, last_modified = $1
			WHERE directory_id = $2 AND id IN (SELECT group_id FROM group_members WHERE directory_id = $2 AND user_id = $3)`,
			tx.now, directoryID, id)
		b.Queue(`DELETE FROM users WHERE directory_id = $1 AND id = $2`, directoryID, id)
		if err := execBatch(ctx, tx, b); err != nil {
			return wrap("delete user", err)
		}
		ev.ResourceID = id
		return insertEvent(ctx, tx, directoryID, ev)
	})
}

// checkVersion locks the user or group (kind) and returns ErrNotFound if
// it is missing and ErrPrecondition if version is non-zero and not the
// stored one.
func checkVersion(ctx context.Context, tx *tx, kind, directoryID, id string, version int64) error {
	var v int64
	// kind is "user" or "group", a constant of this package, never input.
	err := tx.QueryRow(ctx, `SELECT version FROM `+kind+`s WHERE directory_id = $1 AND id = $2 FOR UPDATE`,
		directoryID, id).Scan(&v)
	switch {
	case isNoRows(err):
		return fmt.Errorf("%w: %s %q", store.ErrNotFound, kind, id)
	case err != nil:
		return wrap("delete "+kind, err)
	case version != 0 && version != v:
		return fmt.Errorf("%w: %s %q is at version %d, not %d", store.ErrPrecondition, kind, id, v, version)
	}
	return nil
}

// batcher is what sends batches: a transaction, or the pool, where a
// batch is one implicit transaction (PostgreSQL runs a pipeline up to its
// Sync as one: if a statement fails, none of them is committed).
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// execBatch sends b's statements in one round trip and returns the first
// error.
func execBatch(ctx context.Context, q batcher, b *pgx.Batch) error {
	br := q.SendBatch(ctx, b)
	for range b.Len() {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}

// scanUser reads a row of userColumns. A missing row is pgx.ErrNoRows,
// unwrapped.
func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	var contact []byte
	if err := row.Scan(&u.DirectoryID, &u.ID, &u.ExternalID, &u.UserName, &u.DisplayName, &u.Active,
		&u.Doc, &contact, &u.Version, &u.Created, &u.LastModified, &u.RulesVersion, &u.Refused); err != nil {
		if isNoRows(err) {
			return u, err
		}
		return u, wrap("scan user", err)
	}
	u.Created, u.LastModified = utc(u.Created), utc(u.LastModified)
	if err := json.Unmarshal(contact, &u.Contact); err != nil {
		return u, fmt.Errorf("postgres: stored contact: %w", err)
	}
	return u, nil
}

// errBadDoc reports a document that is not a JSON object PostgreSQL can
// read: a bug in the caller, which validates resources before storing
// them.
var errBadDoc = errors.New("postgres: resource document is not a JSON object")

// docText checks a resource document and returns it as the text stored.
// An empty document is stored as {}.
//
// Filters read documents as jsonb, which refuses some valid JSON: the
// escape \u0000, unpaired surrogate escapes, numbers beyond numeric's
// range. Such a document would store but break every filter that reads
// it, so it is refused like any other bad document; no SCIM client sends
// one. The nesting limit is SQLite's, so that both backends take the same
// documents.
func docText(doc []byte) (string, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 {
		return "{}", nil
	}
	if doc[0] != '{' || !utf8.Valid(doc) || !json.Valid(doc) || !jsonbSafe(doc) {
		return "", errBadDoc
	}
	return string(doc), nil
}

// maxJSONDepth is SQLite's limit for its JSON functions.
const maxJSONDepth = 1000

// jsonbSafe reports whether jsonb reads the valid JSON text b, within
// maxJSONDepth.
func jsonbSafe(b []byte) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			end, ok := stringEnd(b, i+1)
			if !ok {
				return false
			}
			i = end
		case c == '{' || c == '[':
			if depth++; depth > maxJSONDepth {
				return false
			}
		case c == '}' || c == ']':
			depth--
		case c == '-' || '0' <= c && c <= '9':
			end := i + 1
			for end < len(b) && strings.IndexByte("+-.eE0123456789", b[end]) >= 0 {
				end++
			}
			if !numericSafe(b[i:end]) {
				return false
			}
			i = end - 1
		}
	}
	return true
}

// stringEnd returns the index of the quote closing the string whose
// contents start at b[i], and false if an escape is one jsonb refuses.
func stringEnd(b []byte, i int) (int, bool) {
	for ; b[i] != '"'; i++ {
		if b[i] != '\\' {
			continue
		}
		i++
		if b[i] != 'u' {
			continue
		}
		r := hex4(b[i+1:])
		i += 4
		switch {
		case r == 0 || utf16IsLow(r):
			return 0, false
		case utf16IsHigh(r):
			// A high surrogate must be followed by a low one.
			if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' || !utf16IsLow(hex4(b[i+3:])) {
				return 0, false
			}
			i += 6
		}
	}
	return i, true
}

func hex4(b []byte) rune {
	n, _ := strconv.ParseUint(string(b[:4]), 16, 32)
	return rune(n)
}

func utf16IsHigh(r rune) bool { return 0xd800 <= r && r < 0xdc00 }
func utf16IsLow(r rune) bool  { return 0xdc00 <= r && r < 0xe000 }

// numericSafe reports whether the JSON number n fits PostgreSQL's numeric
// (at most 131072 digits before the decimal point, 16383 after), erring
// on the side of refusal at the very edges.
func numericSafe(n []byte) bool {
	mantissa, exp := n, 0
	if i := bytes.IndexAny(n, "eE"); i >= 0 {
		e, err := strconv.Atoi(string(n[i+1:]))
		if err != nil || e > 1<<20 || e < -1<<20 {
			return false
		}
		mantissa, exp = n[:i], e
	}
	whole, frac, _ := bytes.Cut(bytes.TrimPrefix(mantissa, []byte("-")), []byte("."))
	return len(whole)+exp <= 131072 && len(frac)-exp <= 16383
}
