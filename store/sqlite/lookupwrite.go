package sqlite

import (
	"context"
	"slices"
	"strings"

	"github.com/scimd/scimd/store"
)

// insertWords writes a user's search words in one statement: the writer
// is shared by every write, and each statement is a round trip through
// cgo.
func insertWords(ctx context.Context, tx *tx, u store.User, lr lookupRow) error {
	if len(lr.words) == 0 {
		return nil
	}
	args := make([]any, 0, 4*len(lr.words))
	for _, w := range lr.words {
		args = append(args, u.DirectoryID, w, u.ID, lr.sortName)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO user_words (directory_id, word, user_id, sort_name) VALUES `+
		valueRows(len(lr.words), "(?, ?, ?, ?)"), args...)
	return wrap("write words", err)
}

// insertPhones indexes the contact's phone numbers by E.164 for
// caller-ID lookups, in one statement.
func insertPhones(ctx context.Context, tx *tx, u store.User, phones []phoneRow) error {
	if len(phones) == 0 {
		return nil
	}
	tx.phonesChanged(u.DirectoryID)
	args := make([]any, 0, 4*len(phones))
	for _, p := range phones {
		args = append(args, u.DirectoryID, u.ID, p.e164, p.typ)
	}
	_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO user_phones (directory_id, user_id, e164, type) VALUES `+
		valueRows(len(phones), "(?, ?, ?, ?)"), args...)
	return wrap("write phones", err)
}

// updateLookup rewrites a user's words (which hold its sort name) and
// phones where they changed: most updates (a title, a manager, active)
// change neither.
func updateLookup(ctx context.Context, tx *tx, u store.User, old, cur lookupRow) error {
	if !slices.Equal(old.words, cur.words) || old.sortName != cur.sortName {
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_words WHERE directory_id = ? AND user_id = ?`, u.DirectoryID, u.ID); err != nil {
			return wrap("write words", err)
		}
		if err := insertWords(ctx, tx, u, cur); err != nil {
			return err
		}
	}
	if !slices.Equal(old.phones, cur.phones) {
		tx.phonesChanged(u.DirectoryID)
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_phones WHERE directory_id = ? AND user_id = ?`, u.DirectoryID, u.ID); err != nil {
			return wrap("write phones", err)
		}
		if err := insertPhones(ctx, tx, u, cur.phones); err != nil {
			return err
		}
	}
	return nil
}

// valueRows returns n copies of row separated by commas.
func valueRows(n int, row string) string {
	return strings.Repeat(row+", ", n-1) + row
}
