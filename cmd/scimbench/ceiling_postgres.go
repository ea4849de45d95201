package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ceilingTable is the PostgreSQL ceilings' scratch table, in the run's
// database (so on the same server, WAL and disk as scimd's tables).
const ceilingTable = "scimbench_ceiling"

// postgresCeilings measures, on a new table of the run's database and a
// pool of -c connections (opened beforehand):
//
//   - pg-insert: single-row INSERTs, each its own transaction, committed
//     with the server's synchronous_commit (on by default: the commit
//     returns after its WAL is flushed). Concurrent commits share WAL
//     flushes, as scimd's do: PostgreSQL's group commit is the server's,
//     not a batching of the client's;
//   - pg-select: SELECTs of one row by its text primary key, after the
//     table is filled (COPY, not measured) to rows rows and vacuumed, so
//     that the index is as deep as the directory's.
//
// The row is the size of a stored user: the JSON of an Entra POST /Users.
func (b *bench) postgresCeilings(ctx context.Context, cs *ceilingSet, pass, databaseURL string, rows int) error {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return errors.New("postgres ceiling: not a valid PostgreSQL connection URL")
	}
	conns := int32(b.opt.concurrency)
	cfg.MaxConns, cfg.MinConns = conns, 0
	cfg.ConnConfig.RuntimeParams["application_name"] = "scimbench-ceiling"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres ceiling: %w", err)
	}
	defer pool.Close()
	// Every connection is opened now: the phases measure statements, not
	// connection setup.
	held := make([]*pgxpool.Conn, 0, conns)
	for range conns {
		c, err := pool.Acquire(ctx)
		if err != nil {
			for _, c := range held {
				c.Release()
			}
			return fmt.Errorf("postgres ceiling: connect: %w", err)
		}
		held = append(held, c)
	}
	for _, c := range held {
		c.Release()
	}
	table := pgx.Identifier{ceilingTable}.Sanitize()
	for _, q := range []string{`DROP TABLE IF EXISTS ` + table,
		`CREATE TABLE ` + table + ` (k text COLLATE "C" PRIMARY KEY, v text NOT NULL)`} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("postgres ceiling: %w", err)
		}
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, _ = pool.Exec(dctx, `DROP TABLE IF EXISTS `+table)
	}()
	doc := string(ceilingDoc)

	ins := cs.ops[ceilPGInsert]
	insert := `INSERT INTO ` + table + ` (k, v) VALUES ($1, $2)`
	// Every key below seq exists once the phase is over: the workers have
	// all returned, each after its insert.
	var seq atomic.Int64
	run, err := b.runPhase(ctx, "ceiling-pg-insert-"+pass, b.opt.ceilingMax, b.opt.ceilingTime, func(wk, _ int) {
		i := seq.Add(1) - 1
		t0 := time.Now()
		_, err := pool.Exec(ctx, insert, ceilingKey(i), doc)
		ins.record(wk, time.Since(t0), err == nil)
		if err != nil && ctx.Err() == nil {
			b.failure(ins.name, "%v", err)
		}
	})
	cs.runs[ceilPGInsert] = append(cs.runs[ceilPGInsert], run)
	cs.what[ceilPGInsert] = fmt.Sprintf("single-row INSERTs, each its own transaction, on %d connections, every commit flushed (synchronous_commit %s)", conns, showSetting(ctx, pool, "synchronous_commit"))
	if err != nil || ctx.Err() != nil {
		return err
	}

	next := seq.Load()
	if next < int64(rows) {
		b.prog.note(fmt.Sprintf("filling the PostgreSQL ceiling's table to %d rows", rows))
		i := next
		_, err := pool.CopyFrom(ctx, pgx.Identifier{ceilingTable}, []string{"k", "v"}, pgx.CopyFromFunc(func() ([]any, error) {
			if i >= int64(rows) {
				return nil, nil
			}
			i++
			return []any{ceilingKey(i - 1), doc}, nil
		}))
		if err != nil {
			return fmt.Errorf("postgres ceiling: fill: %w", err)
		}
		next = int64(rows)
	}
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) `+table); err != nil {
		return fmt.Errorf("postgres ceiling: vacuum: %w", err)
	}

	sel := cs.ops[ceilPGSelect]
	query := `SELECT v FROM ` + table + ` WHERE k = $1`
	total := next
	run, err = b.runPhase(ctx, "ceiling-pg-select-"+pass, b.opt.ceilingMax, b.opt.ceilingTime, func(wk, _ int) {
		var v []byte
		t0 := time.Now()
		err := pool.QueryRow(ctx, query, ceilingKey(rand.Int64N(total))).Scan(&v)
		sel.record(wk, time.Since(t0), err == nil)
		if err != nil && ctx.Err() == nil {
			b.failure(sel.name, "%v", err)
		}
	})
	cs.runs[ceilPGSelect] = append(cs.runs[ceilPGSelect], run)
	cs.what[ceilPGSelect] = fmt.Sprintf("SELECT of one row by its text primary key, %d rows, %d connections", total, conns)
	return err
}

// showSetting is a setting as the pool's connections have it: for
// synchronous_commit, what the ceiling's commits (and scimd's, which set
// none) do.
func showSetting(ctx context.Context, pool *pgxpool.Pool, name string) string {
	var v string
	if err := pool.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v); err != nil {
		return "unknown"
	}
	return v
}
