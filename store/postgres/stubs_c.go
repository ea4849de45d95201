package postgres

// Stubs of helper C's methods: delete each as it is implemented, and this
// file when none is left.

import (
	"context"
	"errors"
	"time"

	"github.com/scimd/scimd/store"
)

var errTODOC = errors.New("postgres: not implemented yet")

func (db *DB) RecordSyncEvent(ctx context.Context, ev store.SyncEvent) error { return errTODOC }
func (db *DB) ListSyncEvents(ctx context.Context, directoryID string, q store.SyncQuery) ([]store.SyncEvent, error) {
	return nil, errTODOC
}
func (db *DB) SyncSummary(ctx context.Context, directoryID string, since time.Time) ([]store.SyncCount, error) {
	return nil, errTODOC
}
func (db *DB) PruneSyncEvents(ctx context.Context, before time.Time) (int64, error) {
	return 0, errTODOC
}
func (db *DB) GetPresenceLink(ctx context.Context, directoryID string) (store.PresenceLink, error) {
	return store.PresenceLink{}, errTODOC
}
func (db *DB) PutPresenceLink(ctx context.Context, l store.PresenceLink, ev store.SyncEvent) error {
	return errTODOC
}
func (db *DB) ListPresenceLinks(ctx context.Context) ([]store.PresenceLink, error) {
	return nil, errTODOC
}
func (db *DB) PresenceLinkByConsentState(ctx context.Context, hash []byte) (store.PresenceLink, error) {
	return store.PresenceLink{}, errTODOC
}
func (db *DB) RevokePresence(ctx context.Context, l store.PresenceLink, ev store.SyncEvent) (int64, error) {
	return 0, errTODOC
}
func (db *DB) PresenceTargets(ctx context.Context, directoryID string) ([]store.PresenceTarget, error) {
	return nil, errTODOC
}
func (db *DB) ListPresence(ctx context.Context, directoryID string) ([]store.Presence, error) {
	return nil, errTODOC
}
func (db *DB) WritePresence(ctx context.Context, directoryID string, set []store.Presence, del []string) error {
	return errTODOC
}
func (db *DB) PresenceChanges(ctx context.Context, directoryID string, after int64, limit int) ([]store.PresenceChange, int64, error) {
	return nil, 0, errTODOC
}
func (db *DB) LastPresenceChange(ctx context.Context, directoryID string) (int64, error) {
	return 0, errTODOC
}
func (db *DB) PrunePresenceChanges(ctx context.Context, before time.Time) (int64, error) {
	return 0, errTODOC
}
