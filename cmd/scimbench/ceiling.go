package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// The ceilings are measured in the same run, with the same client and
// concurrency, so that scimd's figures can be read as ratios that hold on
// a noisy machine:
//
//   - http: a server on loopback answering every GET with a fixed small
//     JSON body, the most any HTTP endpoint can do here;
//   - insert: single-row write transactions on one SQLite connection, each
//     commit durable (WAL, synchronous=FULL as store/sqlite), the most
//     writes per second without batching commits;
//   - select: point selects by an indexed key on a pool of readers;
//   - pg-insert and pg-select, instead of insert and select in a run on
//     PostgreSQL: the same on a scratch table of the run's database
//     (ceiling_postgres.go).

// ceilingBody is what the HTTP ceiling answers: an empty SCIM list.
var ceilingBody = []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}` + "\n")

// ceilingSet accumulates the ceilings over their passes (before and after
// the cycle), so that a ceiling is the mean of conditions that bracket
// the cycle's, and the difference between passes shows how noisy the
// machine was.
type ceilingSet struct {
	ops  map[string]*op
	runs map[string][]phaseRun
	what map[string]string
}

func newCeilingSet(workers int) *ceilingSet {
	return &ceilingSet{
		ops: map[string]*op{
			ceilHTTP:     newOp("HTTP ceiling: GET, fixed 100-byte JSON", workers),
			ceilInsert:   newOp("storage ceiling: INSERT, 1 row a durable commit", workers),
			ceilSelect:   newOp("storage ceiling: SELECT by indexed key", workers),
			ceilPGInsert: newOp("PostgreSQL ceiling: INSERT, 1 row a durable commit", workers),
			ceilPGSelect: newOp("PostgreSQL ceiling: SELECT by primary key", workers),
		},
		runs: map[string][]phaseRun{},
		what: map[string]string{},
	}
}

// results are the ceilings measured so far, by name.
func (cs *ceilingSet) results() map[string]*PhaseResult {
	out := map[string]*PhaseResult{}
	for name, runs := range cs.runs {
		sum := phaseRun{otherKnown: true, written: 0, pgCPUKnown: true, pgWAL: 0}
		var rates []float64
		for _, r := range runs {
			sum.wall += r.wall
			sum.cpu += r.cpu
			sum.done += r.done
			sum.other += r.other
			sum.otherKnown = sum.otherKnown && r.otherKnown
			if r.written < 0 || sum.written < 0 {
				sum.written = -1
			} else {
				sum.written += r.written
			}
			sum.pgCPU += r.pgCPU
			sum.pgCPUKnown = sum.pgCPUKnown && r.pgCPUKnown
			if r.pgWAL < 0 || sum.pgWAL < 0 {
				sum.pgWAL = -1
			} else {
				sum.pgWAL += r.pgWAL
			}
			if r.wall > 0 { // a pass cut short before it began has no rate
				rates = append(rates, float64(r.done)/r.wall.Seconds())
			}
		}
		p := phaseOf("ceiling-"+name, cs.what[name], 0, sum, cs.ops[name])
		p.PassRates = rates
		out[name] = p
	}
	return out
}

// httpCeiling measures the fixed-body server.
func (b *bench) httpCeiling(ctx context.Context, cs *ceilingSet, pass string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("http ceiling: %w", err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/scim+json")
			w.Header().Set("Content-Length", strconv.Itoa(len(ceilingBody)))
			w.Write(ceilingBody)
		}),
		// scimd's timeouts, so that the two servers differ only in their
		// handlers.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          log.New(discard{}, "", 0),
	}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	o := cs.ops[ceilHTTP]
	run, err := b.runPhase(ctx, "ceiling-http-"+pass, b.opt.ceilingMax, b.opt.ceilingTime, func(w, i int) {
		b.do(ctx, w, o, http.MethodGet, base+"/Users?i="+strconv.Itoa(i), "ceiling", nil, http.StatusOK, nil)
	})
	cs.runs[ceilHTTP] = append(cs.runs[ceilHTTP], run)
	cs.what[ceilHTTP] = "GET on a loopback server answering a fixed body, scimd's server timeouts"
	return err
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// openCeilingDB opens a pool on path with store/sqlite's settings: WAL,
// synchronous=FULL, foreign keys, a statement cache.
func openCeilingDB(ctx context.Context, path, extra string, conns int) (*sql.DB, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_journal_mode=WAL&_synchronous=FULL&_foreign_keys=on&_stmt_cache_size=64&_busy_timeout=5000&" + extra
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// ceilingDoc is the stored value of a ceiling row, about the size of a
// stored Entra user.
var ceilingDoc = func() []byte {
	p := newPerson(0, 1)
	return userBody(p)
}()

// storageCeilings measures durable single-row inserts and indexed point
// selects on a new SQLite file at path (beside scimd's database, so on
// the same disk). Before the selects, the table is filled to rows rows
// (one transaction), so that the index is as deep as the directory's.
func (b *bench) storageCeilings(ctx context.Context, cs *ceilingSet, pass, path string, rows int) error {
	defer func() {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(path + suffix)
		}
	}()
	w, err := openCeilingDB(ctx, path, "_txlock=immediate", 1)
	if err != nil {
		return fmt.Errorf("storage ceiling: open %s: %w", path, err)
	}
	defer w.Close()
	if _, err := w.ExecContext(ctx, `CREATE TABLE bench (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, v BLOB NOT NULL)`); err != nil {
		return fmt.Errorf("storage ceiling: %w", err)
	}

	// Inserts: c goroutines queue for the one writer connection, as
	// scimd's writes would without group commit.
	ins := cs.ops[ceilInsert]
	key := ceilingKey
	// seq hands out keys in the order the inserts run, so that every key
	// below it exists even if a phase stops at its time limit.
	seq := make(chan int64, 1)
	seq <- 0
	run, err := b.runPhase(ctx, "ceiling-insert-"+pass, b.opt.ceilingMax, b.opt.ceilingTime, func(wk, _ int) {
		i := <-seq
		seq <- i + 1
		t0 := time.Now()
		err := insertOne(ctx, w, key(i), ceilingDoc)
		ins.record(wk, time.Since(t0), err == nil)
		if err != nil && ctx.Err() == nil {
			b.failure(ins.name, "%v", err)
		}
	})
	cs.runs[ceilInsert] = append(cs.runs[ceilInsert], run)
	cs.what[ceilInsert] = "single-row INSERT transactions on one connection, each commit fsynced (WAL, synchronous=FULL)"
	if err != nil || ctx.Err() != nil {
		return err
	}
	next := <-seq

	// Fill to the directory's size in one transaction, not measured.
	if next < int64(rows) {
		b.prog.note(fmt.Sprintf("filling the storage ceiling's table to %d rows", rows))
		if err := fill(ctx, w, next, int64(rows), key); err != nil {
			return fmt.Errorf("storage ceiling: fill: %w", err)
		}
		next = int64(rows)
	}

	r, err := openCeilingDB(ctx, path, "_query_only=on", b.opt.concurrency)
	if err != nil {
		return fmt.Errorf("storage ceiling: open readers: %w", err)
	}
	defer r.Close()
	selOp := cs.ops[ceilSelect]
	total := next
	run, err = b.runPhase(ctx, "ceiling-select-"+pass, b.opt.ceilingMax, b.opt.ceilingTime, func(wk, _ int) {
		var v []byte
		t0 := time.Now()
		err := r.QueryRowContext(ctx, `SELECT v FROM bench WHERE k = ?`, key(rand.Int64N(total))).Scan(&v)
		selOp.record(wk, time.Since(t0), err == nil)
		if err != nil && ctx.Err() == nil {
			b.failure(selOp.name, "%v", err)
		}
	})
	cs.runs[ceilSelect] = append(cs.runs[ceilSelect], run)
	cs.what[ceilSelect] = fmt.Sprintf("SELECT of one row by an indexed text key, %d rows, %d reader connections", total, b.opt.concurrency)
	return err
}

// ceilingKey is the storage ceilings' key of row i: scattered over the
// index, as user ids are.
func ceilingKey(i int64) string { return fmt.Sprintf("k%010d", i*7919%1_000_000_007) }

func insertOne(ctx context.Context, db *sql.DB, k string, v []byte) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO bench (k, v) VALUES (?, ?)`, k, v); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

func fill(ctx context.Context, db *sql.DB, from, to int64, key func(int64) string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO bench (k, v) VALUES (?, ?)`)
	if err != nil {
		return err
	}
	for i := from; i < to; i++ {
		if _, err := st.ExecContext(ctx, key(i), ceilingDoc); err != nil {
			return err
		}
	}
	return tx.Commit()
}
