// Package reapply rebuilds a directory's stored contacts from their SCIM
// documents after its mapping rules changed, in the background: Entra
// sends an unchanged user again never, so without it contacts would keep
// the old mapping for good.
//
// A job (store.Reapply) takes the users whose contacts are older than the
// directory's rules a batch at a time (sized to a short transaction), in
// user id order, derives their
// contacts with mapping.Apply, and writes the batch and the job's
// progress in one short transaction (store.ReapplyStore.RebuildContacts),
// so that SCIM writes of this and other directories go on between
// batches and a restart resumes after the last batch. A batch skips the
// users written since it read them; a write made under the old rules
// after the job passed its user is taken by the job's next pass. The job
// ends with a pass that finds nobody, at least Settle after it started.
//
// On a shared store each directory's job runs in the process that holds
// its lease ("reapply:" + directory id); a process that dies leaves it to
// another once the lease expires.
package reapply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/mapping"
	"github.com/scimd/scimd/store"
)

// Defaults of Config.
const (
	DefaultBatch = 200
	// DefaultBatchTime is how long a batch's transaction should take:
	// on SQLite every other write waits for it (the one writer).
	DefaultBatchTime = 50 * time.Millisecond
	minBatch         = 10
	DefaultInterval  = 5 * time.Second
	// DefaultSettle bounds how long a SCIM write begun under the old rules
	// may still commit: a process's cached rules follow a change within
	// milliseconds (or, with a lost notification, the 30 s refresh), and
	// a request ends within the server's write timeout.
	DefaultSettle = 30 * time.Second
	leaseTTL      = 30 * time.Second
	leasePrefix   = "reapply:"
)

// Config configures a Runner.
type Config struct {
	Store store.Store
	// Shared, when set, makes each job run in one process at a time;
	// Owner names this process.
	Shared store.Shared
	Owner  string
	// Batch is the most users per transaction (DefaultBatch). Batches
	// shrink (to 10 at least) when their transaction takes longer than
	// BatchTime (DefaultBatchTime): a change that rewrites every
	// contact's search words costs ten times one that rewrites its title.
	Batch     int
	BatchTime time.Duration
	// Interval is how often the runner looks for jobs besides Kick
	// (DefaultInterval): jobs started by another process, a job whose
	// process died, a job waiting to settle.
	Interval time.Duration
	// Settle is how long after its start a job may end (see
	// DefaultSettle, which callers pass; 0 ends it at its first empty
	// pass).
	Settle time.Duration
	Now    func() time.Time
	Logger *slog.Logger
	// Registerer, when set, receives the runner's metrics.
	Registerer prometheus.Registerer
	// Batched, when set, is called after each batch written (tests).
	Batched func(job store.Reapply)
}

// Runner runs the reapply jobs of every directory.
type Runner struct {
	cfg    Config
	log    *slog.Logger
	mtr    *metrics
	kick   chan struct{}
	leased map[string]time.Time // directory id → when this process last took its lease
	sizes  map[string]int       // directory id → its job's batch size, when below Batch
}

// New returns a runner; Run runs it.
func New(cfg Config) *Runner {
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.BatchTime <= 0 {
		cfg.BatchTime = DefaultBatchTime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, log: cfg.Logger.With("component", "reapply"), mtr: newMetrics(cfg.Registerer), kick: make(chan struct{}, 1),
		leased: map[string]time.Time{}, sizes: map[string]int{}}
}

// Kick makes the runner look for jobs now: a directory's rules changed.
func (r *Runner) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run runs jobs until ctx ends. Failures are logged and retried at the
// next look: a job's progress is in the store.
func (r *Runner) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	defer r.releaseAll()
	for {
		r.work(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-r.kick:
		case <-t.C:
		}
	}
}

// work runs a batch of each pending job in turn, so that directories
// share the runner, until no job this process may run has work left.
func (r *Runner) work(ctx context.Context) {
	for ctx.Err() == nil {
		jobs, err := r.cfg.Store.PendingReapplies(ctx)
		if err != nil {
			r.logError(ctx, "reapply: cannot list pending jobs", err)
			return
		}
		busy := false
		for _, job := range jobs {
			if ctx.Err() != nil || !r.lease(ctx, job.DirectoryID) {
				continue
			}
			more, err := r.step(ctx, job)
			if err != nil {
				r.logError(ctx, "reapply: batch failed; retrying later", err, "directory_id", job.DirectoryID)
				continue
			}
			if more {
				busy = true
			} else {
				r.release(job.DirectoryID)
			}
		}
		if !busy {
			return
		}
	}
}

// step runs one batch of job and reports whether the job has more to do
// at once (false: finished, or waiting to settle).
func (r *Runner) step(ctx context.Context, job store.Reapply) (bool, error) {
	st := r.cfg.Store
	if job.Started.IsZero() {
		var err error
		if job, err = st.StartReapply(ctx, job.DirectoryID); err != nil {
			return false, err
		}
		r.log.InfoContext(ctx, "reapply: started", "directory_id", job.DirectoryID, "rules_version", job.RulesVersion, "total", job.Total)
		if !job.Running() {
			return false, nil
		}
	}
	d, err := st.GetDirectory(ctx, job.DirectoryID)
	if err != nil {
		return false, err
	}
	switch {
	case d.RulesVersion > job.RulesVersion:
		return true, nil // newer rules: their job starts at the next round
	case d.RulesVersion < job.RulesVersion:
		return false, nil // this process's cached directory is behind: look again later
	}
	rules, err := mapping.ParseCached(d.Mapping)
	if err != nil {
		return false, err
	}
	size := r.cfg.Batch
	if n, ok := r.sizes[job.DirectoryID]; ok {
		size = n
	}
	users, err := st.ReapplyUsers(ctx, job.DirectoryID, job.RulesVersion, job.After, size)
	if err != nil {
		return false, err
	}
	if len(users) == 0 {
		switch {
		case job.After != "": // the pass ended: the next takes the writes made under older rules meanwhile
			job.After = ""
			_, err = st.RebuildContacts(ctx, job, nil, false)
			return err == nil, ignoreReplaced(err)
		case r.cfg.Now().Before(job.Started.Add(r.cfg.Settle)):
			return false, nil // writes begun under older rules may still come: look again later
		}
		job, err = st.RebuildContacts(ctx, job, nil, true)
		if err == nil {
			r.mtr.jobs.Inc()
			r.log.InfoContext(ctx, "reapply: finished", "directory_id", job.DirectoryID, "rules_version", job.RulesVersion,
				"done", job.Done, "failed", job.Failed, "duration", job.Finished.Sub(job.Started).Round(time.Millisecond))
		}
		return false, ignoreReplaced(err)
	}
	rebuilt := make([]store.RebuiltContact, len(users))
	for i, u := range users {
		rebuilt[i] = Rebuild(rules, u)
	}
	before := job
	job.After = users[len(users)-1].ID
	start := time.Now()
	job, err = st.RebuildContacts(ctx, job, rebuilt, false)
	if err != nil {
		return true, ignoreReplaced(err)
	}
	r.resize(job.DirectoryID, size, time.Since(start))
	r.mtr.batches.Inc()
	r.mtr.users.Add(float64(job.Done - before.Done))
	r.mtr.refused.Add(float64(job.Failed - before.Failed))
	if r.cfg.Batched != nil {
		r.cfg.Batched(job)
	}
	return true, nil
}

// resize sets the next batch size of the directory's job from how long a
// batch of size took: in proportion when it took longer than BatchTime,
// doubling (up to Batch) when it took less than half.
func (r *Runner) resize(dir string, size int, took time.Duration) {
	next := size
	switch target := r.cfg.BatchTime; {
	case took > target:
		next = max(minBatch, int(int64(size)*int64(target)/int64(took)))
	case took < target/2:
		next = min(r.cfg.Batch, 2*size)
	}
	if next >= r.cfg.Batch {
		delete(r.sizes, dir)
	} else {
		r.sizes[dir] = next
	}
}

// ignoreReplaced drops the error of a batch whose job newer rules
// replaced: the next round runs the new job.
func ignoreReplaced(err error) error {
	if errors.Is(err, store.ErrPrecondition) {
		return nil
	}
	return err
}

// Rebuild derives u's contact from its stored document under rules, as
// the SCIM layer does on a write (the stored contact is the old one, for
// custom fields that are not overwritten).
func Rebuild(rules mapping.Rules, u store.User) store.RebuiltContact {
	rc := store.RebuiltContact{User: u}
	doc, err := decodeDoc(u.Doc)
	if err != nil {
		rc.Refusal = "the stored SCIM document cannot be read; send the user again from Entra"
		return rc
	}
	c, err := mapping.Apply(rules, doc, &u.Contact)
	var refusal *mapping.Refusal
	switch {
	case errors.As(err, &refusal):
		rc.Refusal = refusal.Error()
	case err != nil: // rules that Parse accepted do not fail otherwise
		rc.Refusal = "the directory's mapping rules cannot be applied: " + err.Error()
	default:
		rc.Contact, rc.Changed = c, !sameContact(u.Contact, c)
	}
	return rc
}

// decodeDoc reads a stored document as the SCIM layer does: numbers stay
// json.Number, as custom fields expect.
func decodeDoc(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// sameContact compares contacts as they are stored: encoded.
func sameContact(a, b store.Contact) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// lease takes or keeps the directory's lease; a single process always
// has it.
func (r *Runner) lease(ctx context.Context, dir string) bool {
	if r.cfg.Shared == nil {
		return true
	}
	now := time.Now()
	if t, ok := r.leased[dir]; ok && now.Sub(t) < leaseTTL/3 {
		return true
	}
	ok, err := r.cfg.Shared.TryLease(ctx, leasePrefix+dir, r.cfg.Owner, leaseTTL)
	if err != nil || !ok {
		delete(r.leased, dir)
		if err != nil {
			r.logError(ctx, "reapply: cannot take the job's lease", err, "directory_id", dir)
		}
		return false
	}
	r.leased[dir] = now
	return true
}

func (r *Runner) release(dir string) {
	delete(r.sizes, dir)
	if _, ok := r.leased[dir]; !ok {
		return
	}
	delete(r.leased, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.cfg.Shared.ReleaseLease(ctx, leasePrefix+dir, r.cfg.Owner); err != nil {
		r.log.Warn("reapply: cannot release the job's lease; it expires by itself", "directory_id", dir, "err", err)
	}
}

func (r *Runner) releaseAll() {
	for dir := range r.leased {
		r.release(dir)
	}
}

func (r *Runner) logError(ctx context.Context, msg string, err error, args ...any) {
	if ctx.Err() != nil {
		return // shutting down
	}
	r.log.ErrorContext(ctx, msg, append(args, "err", err)...)
}
