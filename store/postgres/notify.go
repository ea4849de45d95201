package postgres

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

// Every replica follows the others' writes on one channel. A write that
// changes what replicas keep in memory sends a notification in its own
// transaction (notify), which PostgreSQL delivers to every listener when,
// and only if, the transaction commits, in commit order.
//
// Directories and API keys are cached only while this replica's listener
// is connected: a notification cannot be missed then. When the connection
// drops, the caches are bypassed and emptied; when it is back, consumers
// get a store.ChangeResync, since whatever changed meanwhile was not
// heard. The caches are also emptied every resyncEvery, in case a
// notification was lost some other way.
const channel = "scimd_changes"

// resyncEvery bounds how long a cached row can outlive a missed change.
var resyncEvery = 30 * time.Second

// pingTimeout bounds the listener's check of its connection.
const pingTimeout = 5 * time.Second

// notify sends c to every replica when tx commits.
func notify(ctx context.Context, tx *tx, c store.Change) error {
	_, err := tx.Exec(ctx, notifySQL, channel, payload(c))
	return wrap("notify", err)
}

// queueNotify is notify as a statement of a batch, saving its round trip.
func queueNotify(b *pgx.Batch, c store.Change) {
	b.Queue(notifySQL, channel, payload(c))
}

const notifySQL = `SELECT pg_notify($1, $2)`

func payload(c store.Change) string {
	p := string(c.Kind) + " " + c.DirectoryID
	if c.Seq != 0 {
		p += " " + strconv.FormatInt(c.Seq, 10)
	}
	return p
}

func parseChange(payload string) (store.Change, bool) {
	f := strings.Fields(payload)
	if len(f) < 2 {
		return store.Change{}, false
	}
	c := store.Change{Kind: store.ChangeKind(f[0]), DirectoryID: f[1]}
	if len(f) > 2 {
		n, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return store.Change{}, false
		}
		c.Seq = n
	}
	return c, true
}

// listener holds the LISTEN connection, invalidates the DB's caches and
// fans changes out to subscribers.
type listener struct {
	db     *DB
	cfg    *pgx.ConnConfig
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	connected bool
	subs      map[chan store.Change]struct{}
}

// subBuffer is how many changes a subscriber may fall behind by; beyond
// that it gets a ChangeResync instead of the changes it missed.
const subBuffer = 256

func newListener(db *DB, cfg *pgx.ConnConfig) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{db: db, cfg: cfg.Copy(), cancel: cancel, done: make(chan struct{}), subs: map[chan store.Change]struct{}{}}
	go l.run(ctx)
	return l
}

func (l *listener) close() {
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs {
		close(ch)
		delete(l.subs, ch)
	}
}

// cacheable reports whether cached rows can be trusted: the listener is
// connected, so no change is unheard.
func (l *listener) cacheable() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.connected
}

func (l *listener) setConnected(c bool) {
	l.mu.Lock()
	l.connected = c
	l.mu.Unlock()
	l.db.dirs.Invalidate()
	l.db.keys.Invalidate()
}

// run keeps a LISTEN connection until ctx ends, reconnecting with backoff.
func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := l.listen(ctx)
		l.setConnected(false)
		if ctx.Err() != nil {
			return
		}
		l.db.log.Warn("postgres: change listener disconnected; reconnecting", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listen connects, announces a resync (changes made while it was away
// were not heard) and forwards notifications until the connection fails.
func (l *listener) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+channel); err != nil {
		return err
	}
	l.setConnected(true)
	l.fanOut(store.Change{Kind: store.ChangeResync})
	l.db.watch.SignalAll()
	lastResync := time.Now()
	for {
		wctx, cancel := context.WithTimeout(ctx, resyncEvery)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if time.Since(lastResync) >= resyncEvery {
			l.db.dirs.Invalidate()
			l.db.keys.Invalidate()
			lastResync = time.Now()
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if wctx.Err() != nil { // the periodic wake-up: check the connection
				pctx, cancel := context.WithTimeout(ctx, pingTimeout)
				err := conn.Ping(pctx)
				cancel()
				if err != nil {
					return err // a connection that hangs is as lost as a closed one
				}
				continue
			}
			return err
		}
		c, ok := parseChange(n.Payload)
		if !ok {
			continue
		}
		switch c.Kind {
		case store.ChangeEvents:
			// Only event readers care, and writes send many: they go to
			// the watchers, not to every subscriber of the feed.
			l.db.watch.Signal(c.DirectoryID)
			continue
		case store.ChangeDirectory:
			l.db.dirs.Invalidate()
			l.db.keys.Invalidate() // a deleted directory's keys go with it
		case store.ChangeAPIKey:
			l.db.keys.Invalidate()
		}
		l.fanOut(c)
	}
}

func (l *listener) fanOut(c store.Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs {
		select {
		case ch <- c:
		default:
			// Too slow: drop what is queued and tell it to resync.
			for len(ch) > 0 {
				<-ch
			}
			ch <- store.Change{Kind: store.ChangeResync}
		}
	}
}

// Changes returns a feed of every replica's committed changes (see
// store.Shared).
func (db *DB) Changes() (<-chan store.Change, func()) {
	l := db.listen
	ch := make(chan store.Change, subBuffer)
	l.mu.Lock()
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if _, ok := l.subs[ch]; ok {
				delete(l.subs, ch)
				close(ch)
			}
		})
	}
}
