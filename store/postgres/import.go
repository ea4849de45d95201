package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

// Import fills an empty database with another store's records as they
// are (scimd copy): ids, versions and times are kept, where the normal
// write methods would assign new ones. Derived rows (lookup keys, group
// name keys) are derived as on a normal write, so that the copy searches
// like the original. Times keep PostgreSQL's precision, the microsecond.
//
// ImportSettings comes first; then ImportDirectory once per directory,
// each in its own transaction; then ImportAudit. Big tables go through
// COPY, in batches.

// ErrNotEmpty means an import's target database already holds a
// directory or a setting.
var ErrNotEmpty = errors.New("database is not empty")

// importBatch is how many records one COPY of an import sends: memory
// stays bounded however big a directory is, and round trips are few.
const importBatch = 2000

// ImportSettings checks, in one transaction, that the database holds no
// directory, no setting and no audit entry (ErrNotEmpty otherwise,
// changing nothing) and stores settings. The tables are locked for the
// check, so that of two imports started at once, the second sees the
// first's settings.
func (db *DB) ImportSettings(ctx context.Context, settings map[string][]byte) error {
	return db.writeOnce(ctx, func(ctx context.Context, tx *tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE directories, settings, audit_log IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return wrap("import settings", err)
		}
		var used bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM directories) OR EXISTS (SELECT 1 FROM settings)
			OR EXISTS (SELECT 1 FROM audit_log)`).Scan(&used); err != nil {
			return wrap("import settings", err)
		}
		if used {
			return fmt.Errorf("postgres: %w: it holds directories or settings", ErrNotEmpty)
		}
		for key, value := range settings {
			if value == nil {
				value = []byte{} // nil would bind as NULL
			}
			if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)`, key, value); err != nil {
				return wrap("import settings", err)
			}
		}
		return nil
	})
}

// DirectoryImport is one directory's records, for ImportDirectory. The
// records' own DirectoryID fields are ignored: every row is stored in
// Directory. A nil sequence or slice imports nothing of its kind.
type DirectoryImport struct {
	Directory store.Directory
	APIKeys   []store.APIKey
	Users     iter.Seq2[store.User, error]
	Groups    iter.Seq2[ImportedGroup, error]
	// Events keep their ids, which must not be taken in the database.
	Events   iter.Seq2[store.SyncEvent, error]
	Link     *store.PresenceLink // nil: presence never connected
	Presence []store.Presence
	// Reapply is the directory's last rules re-application, nil if none:
	// a job the copy cuts short resumes on the copy.
	Reapply *store.Reapply
}

// ImportedGroup is a group with the ids of its members.
type ImportedGroup struct {
	store.Group
	Members []string
}

// ImportDirectory stores one directory and all of its records in one
// transaction: if it fails, nothing of the directory is stored. It is not
// retried, since the sequences cannot be read twice; an import has the
// database to itself anyway.
func (db *DB) ImportDirectory(ctx context.Context, d DirectoryImport) error {
	err := db.writeOnce(ctx, func(ctx context.Context, tx *tx) error {
		im := importer{tx: tx, dir: d.Directory.ID}
		steps := []func(context.Context, DirectoryImport) error{
			im.directory, im.apiKeys, im.users, im.groups, im.events, im.link, im.presence, im.reapply, im.notify,
		}
		for _, step := range steps {
			if err := step(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	db.dirs.Invalidate()
	db.keys.Invalidate()
	return err
}

// importer writes one directory's records within tx.
type importer struct {
	tx  *tx
	dir string
}

func (im importer) directory(ctx context.Context, in DirectoryImport) error {
	d := in.Directory
	_, err := im.tx.Exec(ctx, `INSERT INTO directories (`+directoryColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		d.ID, d.Name, d.SCIMTokenHash, d.PreviousTokenHash, nullTime(d.PreviousTokenExpires), nullText(d.Mapping),
		d.Created, d.Updated, d.RulesVersion)
	if isUnique(err) {
		return fmt.Errorf("%w: directory %q already exists", store.ErrConflict, d.ID)
	}
	return wrap("import directory", err)
}

func (im importer) reapply(ctx context.Context, in DirectoryImport) error {
	j := in.Reapply
	if j == nil {
		return nil
	}
	_, err := im.tx.Exec(ctx, `INSERT INTO reapply_jobs (`+reapplyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		im.dir, j.RulesVersion, j.After, j.Done, j.Failed, j.Total, j.Started, nullTime(j.Finished))
	return wrap("import reapply job", err)
}

func (im importer) apiKeys(ctx context.Context, in DirectoryImport) error {
	rows := make([][]any, len(in.APIKeys))
	for i, k := range in.APIKeys {
		if len(k.Hash) == 0 {
			return errNoKeyHash
		}
		rows[i] = []any{k.ID, im.dir, k.Name, k.Hash, k.Created}
	}
	return im.copy(ctx, "api_keys", []string{"id", "directory_id", "name", "hash", "created"}, rows)
}

var (
	importUserColumns = []string{"directory_id", "id", "external_id", "user_name", "display_name", "active",
		"doc", "contact", "version", "created", "last_modified", "sort_name", "email_domain", "login_domain",
		"rules_version", "refused"}
	importWordColumns  = []string{"directory_id", "word", "sort_name", "user_id"}
	importPhoneColumns = []string{"directory_id", "user_id", "e164", "type", "sort_name"}
)

// users copies the users a batch at a time, each batch with its lookup
// keys, derived by encodeUser as CreateUser derives them and laid out in
// rows as insertKeys (keys.go) writes them: a change there is a change
// here, which TestCopy's searches catch.
func (im importer) users(ctx context.Context, in DirectoryImport) error {
	return batches(in.Users, func(us []store.User) error {
		var users, words, phones [][]any
		for _, u := range us {
			row, err := encodeUser(u)
			if err != nil {
				return fmt.Errorf("user %q: %w", u.ID, err)
			}
			users = append(users, []any{im.dir, u.ID, u.ExternalID, u.UserName, u.DisplayName, u.Active,
				row.doc, row.contact, u.Version, u.Created, u.LastModified,
				row.keys.SortName, row.keys.EmailDomain, row.keys.LoginDomain, u.RulesVersion, u.Refused})
			for _, w := range row.keys.Words {
				words = append(words, []any{im.dir, w, row.keys.SortName, u.ID})
			}
			for _, p := range row.keys.Phones {
				phones = append(phones, []any{im.dir, u.ID, p.E164, p.Type, row.keys.SortName})
			}
		}
		if err := im.copy(ctx, "users", importUserColumns, users); err != nil {
			return err
		}
		if err := im.copy(ctx, "user_words", importWordColumns, words); err != nil {
			return err
		}
		return im.copy(ctx, "user_phones", importPhoneColumns, phones)
	})
}

var importGroupColumns = []string{"directory_id", "id", "external_id", "display_name", "name_key",
	"doc", "version", "created", "last_modified"}

// groups copies the groups a batch at a time, each batch with its
// memberships (the users are all in by then).
func (im importer) groups(ctx context.Context, in DirectoryImport) error {
	return batches(in.Groups, func(gs []ImportedGroup) error {
		var groups, members [][]any
		for _, g := range gs {
			doc, err := docText(g.Doc)
			if err != nil {
				return fmt.Errorf("group %q: %w", g.ID, err)
			}
			groups = append(groups, []any{im.dir, g.ID, g.ExternalID, g.DisplayName, store.Fold(g.DisplayName),
				doc, g.Version, g.Created, g.LastModified})
			for _, uid := range g.Members {
				members = append(members, []any{im.dir, g.ID, uid})
			}
		}
		if err := im.copy(ctx, "groups", importGroupColumns, groups); err != nil {
			return err
		}
		return im.copy(ctx, "group_members", []string{"directory_id", "group_id", "user_id"}, members)
	})
}

var importEventColumns = []string{"id", "directory_id", "time", "operation", "resource_type", "resource_id",
	"identity", "new", "failed", "result"}

// events copies the sync log with its ids (COPY writes an identity column
// as given), then moves the id sequence past the highest id stored, so
// that new events sort after the copied ones.
func (im importer) events(ctx context.Context, in DirectoryImport) error {
	err := batches(in.Events, func(evs []store.SyncEvent) error {
		rows := make([][]any, len(evs))
		for i, ev := range evs {
			rows[i] = []any{ev.ID, im.dir, ev.Time, ev.Operation, ev.ResourceType, ev.ResourceID,
				ev.Identity, ev.New, ev.Failed, ev.Result}
		}
		return im.copy(ctx, "sync_events", importEventColumns, rows)
	})
	if err != nil {
		return err
	}
	_, err = im.tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('sync_events', 'id'), m)
		FROM (SELECT max(id) AS m FROM sync_events) s WHERE m IS NOT NULL`)
	return wrap("import sync events", err)
}

var importAuditColumns = []string{"id", "time", "actor_type", "actor_id", "directory_id", "directory_name",
	"action", "details"}

// ImportAudit stores audit entries as they are, ids and times kept (the
// ids must not be taken in the database), in one transaction, then moves
// the id sequence past the highest id stored, so that new entries sort
// after the copied ones. Entries of deleted directories are imported
// too: the trail outlives its directories.
func (db *DB) ImportAudit(ctx context.Context, entries iter.Seq2[store.AuditEntry, error]) error {
	return db.writeOnce(ctx, func(ctx context.Context, tx *tx) error {
		im := importer{tx: tx}
		err := batches(entries, func(es []store.AuditEntry) error {
			rows := make([][]any, len(es))
			for i, e := range es {
				rows[i] = []any{e.ID, e.Time, e.Actor.Type, e.Actor.ID, e.DirectoryID, e.DirectoryName,
					e.Action, string(e.AuditDetails())}
			}
			return im.copy(ctx, "audit_log", importAuditColumns, rows)
		})
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('audit_log', 'id'), m)
			FROM (SELECT max(id) AS m FROM audit_log) s WHERE m IS NOT NULL`)
		return wrap("import audit entries", err)
	})
}

// link stores the presence link as it is: its sealed credential, and its
// Updated time rather than now.
func (im importer) link(ctx context.Context, in DirectoryImport) error {
	l := in.Link
	if l == nil {
		return nil
	}
	var consent []byte // nil (NULL) keeps the UNIQUE index to real states
	if len(l.ConsentStateHash) > 0 {
		consent = l.ConsentStateHash
	}
	_, err := im.tx.Exec(ctx, `INSERT INTO presence_links (directory_id, state, tenant_id, client_id, credential, sealed,
		consent_state_hash, consent_expires, last_poll, contacts_polled, skipped, last_error, updated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		im.dir, l.State, l.TenantID, l.ClientID, l.Credential, l.Sealed, consent,
		nullTime(l.ConsentExpires), nullTime(l.LastPoll), l.ContactsPolled, l.Skipped, l.LastError, l.Updated)
	return wrap("import presence link", err)
}

func (im importer) presence(ctx context.Context, in DirectoryImport) error {
	rows := make([][]any, len(in.Presence))
	for i, p := range in.Presence {
		rows[i] = []any{im.dir, p.UserID, p.Availability, p.Activity, p.ObservedAt}
	}
	return im.copy(ctx, "presence", []string{"directory_id", "user_id", "availability", "activity", "observed_at"}, rows)
}

// notify tells running replicas, if any, about the new directory, its
// keys and its presence link.
func (im importer) notify(ctx context.Context, in DirectoryImport) error {
	kinds := []store.ChangeKind{store.ChangeDirectory, store.ChangeAPIKey}
	if in.Link != nil {
		kinds = append(kinds, store.ChangePresenceLink)
	}
	for _, k := range kinds {
		if err := notify(ctx, im.tx, store.Change{Kind: k, DirectoryID: im.dir}); err != nil {
			return err
		}
	}
	return nil
}

// copy sends rows to table with COPY; no rows, no round trip.
func (im importer) copy(ctx context.Context, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	_, err := im.tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
	return wrap("import "+table, err)
}

// batches reads seq and calls flush with each importBatch of its values,
// then with the rest; it stops at the first error. A nil seq is empty.
func batches[T any](seq iter.Seq2[T, error], flush func([]T) error) error {
	if seq == nil {
		return nil
	}
	batch := make([]T, 0, importBatch)
	for v, err := range seq {
		if err != nil {
			return err
		}
		if batch = append(batch, v); len(batch) == importBatch {
			if err := flush(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) == 0 {
		return nil
	}
	return flush(batch)
}
