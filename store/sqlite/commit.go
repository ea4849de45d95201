package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Group commit: concurrent writes share one SQLite transaction and one
// fsync. Each write runs in its own savepoint, so a write that fails (a
// duplicate userName, an invalid member) is rolled back alone, and each
// caller is answered only after the transaction holding its write has
// committed. With synchronous=FULL the commit's fsync dominates the cost
// of a write, so N writes per commit cost little more than one.

// maxBatch bounds how many writes share a commit, and so how long the
// first of them waits for the last.
const maxBatch = 64

var errClosed = errors.New("sqlite: database is closed")

type writeReq struct {
	ctx  context.Context
	fn   func(context.Context, *tx) error
	done chan error
}

type committer struct {
	db   *DB
	reqs chan *writeReq
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	batches atomic.Int64 // commits run, for tests and metrics
}

func newCommitter(db *DB) *committer {
	c := &committer{db: db, reqs: make(chan *writeReq), quit: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c
}

func (c *committer) close() {
	c.once.Do(func() { close(c.quit) })
	c.wg.Wait()
}

// write runs fn in a write transaction shared with other concurrent
// writes and returns once that transaction has committed (or fn failed).
// fn must use the context it is given: it is the caller's, without
// cancellation, so that one caller going away cannot interrupt a batch.
func (db *DB) write(ctx context.Context, fn func(context.Context, *tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{ctx: context.WithoutCancel(ctx), fn: fn, done: make(chan error, 1)}
	select {
	case db.commits.reqs <- r:
	case <-db.commits.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the write will be attempted; wait for its outcome so
	// that a 2xx is only ever sent for a committed write.
	return <-r.done
}

// writeTx is write for functions with a result.
func writeTx[T any](db *DB, ctx context.Context, fn func(context.Context, *tx) (T, error)) (T, error) {
	var out T
	err := db.write(ctx, func(ctx context.Context, t *tx) error {
		var err error
		out, err = fn(ctx, t)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

func (c *committer) run() {
	defer c.wg.Done()
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case r := <-c.reqs:
			batch = append(batch[:0], r)
		case <-c.quit:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		c.commit(batch)
	}
}

// commit runs a batch in one transaction and reports to every caller.
func (c *committer) commit(batch []*writeReq) {
	c.batches.Add(1)
	results := make([]error, len(batch))
	err := c.apply(batch, results)
	for i, r := range batch {
		if results[i] == nil {
			results[i] = err
		}
		r.done <- results[i]
	}
}

// apply returns an error that concerns the whole batch (begin, savepoint
// handling, commit); per-write errors go to results.
func (c *committer) apply(batch []*writeReq, results []error) error {
	ctx := context.Background()
	sqlTx, err := c.db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer sqlTx.Rollback()
	// Sync events of the batch's successful writes go in with one
	// statement: one per write was a fifth of the writer's time.
	var events []pendingEvent
	var phoneDirs []string
	var changes []pendingChange
	for i, r := range batch {
		if _, err := sqlTx.ExecContext(ctx, `SAVEPOINT w`); err != nil {
			return wrap("savepoint", err)
		}
		before, beforePhones, beforeChanges := len(events), len(phoneDirs), len(changes)
		t := &tx{Tx: sqlTx, now: c.db.now().UTC(), events: &events, phoneDirs: &phoneDirs, changes: &changes}
		if results[i] = r.fn(r.ctx, t); results[i] != nil {
			events, phoneDirs, changes = events[:before], phoneDirs[:beforePhones], changes[:beforeChanges]
			if _, err := sqlTx.ExecContext(ctx, `ROLLBACK TO w`); err != nil {
				return wrap("rollback to savepoint", err)
			}
		}
		if _, err := sqlTx.ExecContext(ctx, `RELEASE w`); err != nil {
			return wrap("release savepoint", err)
		}
	}
	if err := flushEvents(ctx, sqlTx, events); err != nil {
		return err
	}
	changeDirs, err := flushChanges(ctx, sqlTx, changes)
	if err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	c.db.phones.changed(phoneDirs)
	c.db.watch.Signal(changeDirs...)
	return nil
}
