package store

import (
	"context"
	"time"
)

// Rules re-applied: when a directory's mapping rules change, its stored
// contacts are rebuilt from their SCIM documents under the new rules by a
// background job, in batches (package reapply runs it).
//
// Every user records the rules version its contact was derived under
// (User.RulesVersion, from Directory.RulesVersion at the time of the
// write). The job rebuilds the users whose contacts are older than its
// rules, a batch per transaction; a batch writes a user only if its
// version is still the one the job read, so a concurrent SCIM write is
// never overwritten by a contact computed from an older document. A SCIM
// write that began under the old rules and committed after the job passed
// its user is stamped with the old version, and the job's next pass
// rebuilds it.

// SyncReapply is the sync log operation of a user whose contact the
// directory's new rules refuse (a Failed event per such user).
const SyncReapply = "reapply"

// Reapply is a directory's rules re-application job and its progress.
type Reapply struct {
	DirectoryID string
	// RulesVersion is the directory's rules version the job applies.
	RulesVersion int64
	// After is the id of the last user the current pass rebuilt; "" at
	// the start of a pass. Users are taken in id order.
	After string
	// Done counts the users rebuilt (written, unchanged or refused),
	// Failed those the rules refused, Total the users to rebuild when the
	// job started.
	Done, Failed, Total int
	Started             time.Time // zero: the job has not started (see PendingReapplies)
	// Finished is when the job ended; zero while it runs.
	Finished time.Time
}

// Running reports whether the job has started and not finished.
func (r Reapply) Running() bool { return !r.Started.IsZero() && r.Finished.IsZero() }

// RebuiltContact is one user's contact as a reapply job rebuilt it.
type RebuiltContact struct {
	// User is the user as ReapplyUsers read it. The rebuild is written
	// only while the stored user is still at User.Version.
	User User
	// Contact is the contact under the job's rules, written if Changed.
	Contact Contact
	// Changed reports that Contact differs from User.Contact: only then
	// are the contact and its lookup keys rewritten.
	Changed bool
	// Refusal, when set, is why the job's rules refuse the user: its
	// stored contact is kept and marked (User.Refused), and a Failed
	// sync event with this reason is recorded.
	Refusal string
}

// ReapplyStore is the part of a backend that keeps reapply jobs.
type ReapplyStore interface {
	// PendingReapplies returns the jobs to run: those running, and for
	// each directory whose rules version is newer than its last job's
	// (or that never had one), a job at that version with a zero Started,
	// which StartReapply starts.
	PendingReapplies(ctx context.Context) ([]Reapply, error)
	// StartReapply starts the job of the directory's current rules
	// version, replacing a job of older rules (whatever its progress),
	// with Total the users whose contacts are older than those rules. A
	// job of the current rules is returned as it is.
	StartReapply(ctx context.Context, directoryID string) (Reapply, error)
	// GetReapply returns the directory's last job (ErrNotFound if its
	// rules never changed).
	GetReapply(ctx context.Context, directoryID string) (Reapply, error)
	// ReapplyUsers returns up to limit of the directory's users with an
	// id after after, in id order, whose contacts were derived under
	// rules older than rulesVersion.
	ReapplyUsers(ctx context.Context, directoryID string, rulesVersion int64, after string, limit int) ([]User, error)
	// RebuildContacts writes a batch of rebuilt contacts and the job's
	// progress in one transaction: each user still at the version it was
	// read at gets its RulesVersion set to the job's and its contact and
	// lookup keys rewritten if Changed, or is marked refused (keeping its
	// contact) with a Failed SyncReapply event; a user written since is
	// skipped. A user that is not refused loses its mark. Then the job's
	// After is stored, Done and Failed grow by what was written, and
	// finish ends the job. ErrPrecondition if the stored job is no longer
	// job.RulesVersion's (newer rules replaced it); ErrNotFound if there
	// is none. This is the one method through which reapply changes
	// contacts.
	RebuildContacts(ctx context.Context, job Reapply, rebuilt []RebuiltContact, finish bool) (Reapply, error)
}
