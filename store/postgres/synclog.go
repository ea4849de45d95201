package postgres

import (
	"context"

	"github.com/scimd/scimd/store"
)

// insertEvent records ev in the directory's sync log within tx, with the
// transaction's time; an event without an Operation is not recorded.
func insertEvent(ctx context.Context, tx *tx, directoryID string, ev store.SyncEvent) error {
	if ev.Operation == "" {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO sync_events
		(directory_id, time, operation, resource_type, resource_id, identity, new, failed, result)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		directoryID, tx.now, ev.Operation, ev.ResourceType, ev.ResourceID, ev.Identity, ev.New, ev.Failed, ev.Result)
	return wrap("record sync event", err)
}
