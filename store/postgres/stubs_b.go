package postgres

// Stubs of helper B's methods: delete each as it is implemented, and this
// file when none is left.

import (
	"context"
	"errors"

	"github.com/scimd/scimd/store"
)

var errTODOB = errors.New("postgres: not implemented yet")

// writeKeys writes u's derived lookup rows (words, phones) within tx: all
// of cur for a new user (old nil), or what changed from old.
func writeKeys(ctx context.Context, tx *tx, u store.User, old *store.ContactKeys, cur store.ContactKeys) error {
	return errTODOB
}

func (db *DB) SearchContacts(ctx context.Context, directoryID string, q store.ContactQuery) ([]store.ContactRecord, string, error) {
	return nil, "", errTODOB
}
func (db *DB) GetContact(ctx context.Context, directoryID, id string, v store.Visibility) (store.ContactRecord, error) {
	return store.ContactRecord{}, errTODOB
}
func (db *DB) LookupPhone(ctx context.Context, directoryID, e164 string, v store.Visibility) ([]store.ContactRecord, error) {
	return nil, errTODOB
}
