package postgres

// Stubs of helper A's methods: delete each as it is implemented, and this
// file when none is left.

import (
	"context"
	"errors"

	"github.com/scimd/scimd/store"
)

var errTODOA = errors.New("postgres: not implemented yet")

func (db *DB) CreateDirectory(ctx context.Context, d store.Directory) (store.Directory, error) {
	return store.Directory{}, errTODOA
}
func (db *DB) GetDirectory(ctx context.Context, id string) (store.Directory, error) {
	return store.Directory{}, errTODOA
}
func (db *DB) ListDirectories(ctx context.Context) ([]store.Directory, error) { return nil, errTODOA }
func (db *DB) UpdateDirectory(ctx context.Context, id string, fn func(store.Directory) (store.Directory, error)) (store.Directory, error) {
	return store.Directory{}, errTODOA
}
func (db *DB) DeleteDirectory(ctx context.Context, id string) error { return errTODOA }
func (db *DB) ResumeDeletes(ctx context.Context) (int, error)       { return 0, errTODOA }
func (db *DB) CreateUser(ctx context.Context, u store.User, ev store.SyncEvent) (store.User, error) {
	return store.User{}, errTODOA
}
func (db *DB) GetUser(ctx context.Context, directoryID, id string) (store.User, error) {
	return store.User{}, errTODOA
}
func (db *DB) UpdateUser(ctx context.Context, directoryID, id string, fn func(store.User) (store.User, store.SyncEvent, error)) (store.User, error) {
	return store.User{}, errTODOA
}
func (db *DB) DeleteUser(ctx context.Context, directoryID, id string, version int64, ev store.SyncEvent) error {
	return errTODOA
}
func (db *DB) ListUsers(ctx context.Context, directoryID string, q store.Query) ([]store.User, int, error) {
	return nil, 0, errTODOA
}
func (db *DB) CreateGroup(ctx context.Context, g store.Group, members []string, ev store.SyncEvent) (store.Group, error) {
	return store.Group{}, errTODOA
}
func (db *DB) GetGroup(ctx context.Context, directoryID, id string) (store.Group, error) {
	return store.Group{}, errTODOA
}
func (db *DB) GroupMembers(ctx context.Context, directoryID string, groupIDs []string) (map[string][]string, error) {
	return nil, errTODOA
}
func (db *DB) UpdateGroup(ctx context.Context, directoryID, id string, fn func(store.Group) (store.GroupChange, error)) (store.Group, error) {
	return store.Group{}, errTODOA
}
func (db *DB) DeleteGroup(ctx context.Context, directoryID, id string, version int64, ev store.SyncEvent) error {
	return errTODOA
}
func (db *DB) ListGroups(ctx context.Context, directoryID string, q store.Query) ([]store.Group, int, error) {
	return nil, 0, errTODOA
}
func (db *DB) CreateAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	return store.APIKey{}, errTODOA
}
func (db *DB) ListAPIKeys(ctx context.Context, directoryID string) ([]store.APIKey, error) {
	return nil, errTODOA
}
func (db *DB) DeleteAPIKey(ctx context.Context, directoryID, id string) error { return errTODOA }
func (db *DB) APIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	return store.APIKey{}, errTODOA
}
