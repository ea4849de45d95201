package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/postgres"
	"github.com/scimd/scimd/store/sqlite"
)

// scimd copy moves a SQLite database into a new PostgreSQL database, for
// operators who switch to PostgreSQL to run several replicas. It reads the
// source through store.Store (never writing it) and writes the target
// with postgres.ImportSettings, ImportDirectory and ImportAudit, which
// keep ids, versions and times; then it counts every directory's records
// and the audit trail in both and fails if a count differs.

// copySettings are the settings keys scimd stores (bootstrap.go).
var copySettings = []string{settingAdminTokenHash, settingInitialized}

// copyPage is how many records one read of the source returns.
const copyPage = 2000

// copyOptions is the configuration of scimd copy: its own flags, none of
// the server's settings.
type copyOptions struct {
	from, to string
	logLevel slog.Level
}

// runCopy is `scimd copy`; it returns the exit code.
func runCopy(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	opts, err := parseCopyFlags(args, getenv, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "scimd copy: %v\n", err)
		return exitUsage
	}
	log := newLogger(stderr, opts.logLevel, "text")
	if err := copyDatabase(ctx, opts, log, stdout); err != nil {
		log.Error("scimd copy failed", "err", err)
		return exitError
	}
	return exitOK
}

func parseCopyFlags(args []string, getenv func(string) string, stderr io.Writer) (copyOptions, error) {
	fs := flag.NewFlagSet("scimd copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// No flag default comes from the environment: -h prints defaults, and
	// the URL may hold a password.
	from := fs.String("from", "", "SQLite database file to copy (default $SCIMD_DB)")
	to := fs.String("to", "", "PostgreSQL URL to copy into, an empty database (default $SCIMD_DATABASE_URL or the file $SCIMD_DATABASE_URL_FILE)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: scimd copy -from scimd.db -to postgres://user:password@host/db

Copies a SQLite database (stop scimd first) into an empty PostgreSQL
database, then compares the number of records of every directory in both.
Stored Graph credentials are copied sealed: run scimd on the copy with the
same SCIMD_SECRET_KEY.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return copyOptions{}, err
	}
	if fs.NArg() > 0 {
		return copyOptions{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	opts := copyOptions{from: *from, to: strings.TrimSpace(*to)}
	if err := opts.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return opts, fmt.Errorf("-log-level: %q is not one of debug, info, warn, error", *level)
	}
	if opts.from == "" {
		opts.from = getenv("SCIMD_DB")
	}
	if opts.to == "" {
		var err error
		if opts.to, err = envOrFile(getenv, "SCIMD_DATABASE_URL"); err != nil {
			return opts, err
		}
	}
	switch {
	case opts.from == "":
		return opts, errors.New("-from: name the SQLite file to copy")
	case opts.to == "":
		return opts, errors.New("-to: give the PostgreSQL URL to copy into (or set SCIMD_DATABASE_URL)")
	case !postgresURL(opts.to):
		// Never quote the value: it may hold a password.
		return opts, errors.New("-to: not a postgres:// or postgresql:// URL with a host (for example postgres://scimd@db.example.com:5432/scimd)")
	}
	return opts, nil
}

// envOrFile reads the variable env, or else the file named by env_FILE.
func envOrFile(getenv func(string) string, env string) (string, error) {
	if v, ok := lookup(getenv, env); ok {
		return strings.TrimSpace(v), nil
	}
	name, ok := lookup(getenv, env+"_FILE")
	if !ok {
		return "", nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", env, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// copyDatabase copies opts.from into opts.to and verifies the copy.
func copyDatabase(ctx context.Context, opts copyOptions, log *slog.Logger, out io.Writer) error {
	srcName, dstName := opts.from, redactURL(opts.to)
	src, err := openCopySource(ctx, opts.from, log)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := postgres.OpenAndMigrate(ctx, opts.to, postgres.Options{Logger: log})
	if tooNew(err) {
		return tooNewError(Config{DatabaseURL: opts.to}, err)
	}
	if err != nil {
		return fmt.Errorf("open target %s: %w", dstName, err)
	}
	defer dst.Close()

	dirs, err := src.ListDirectories(ctx)
	if err != nil {
		return fmt.Errorf("read source directories: %w", err)
	}
	fmt.Fprintf(out, "copying %s (%d directories) to %s\n", srcName, len(dirs), dstName)
	settings, err := sourceSettings(ctx, src)
	if err != nil {
		return err
	}
	if err := dst.ImportSettings(ctx, settings); errors.Is(err, postgres.ErrNotEmpty) {
		return fmt.Errorf("target %s is not empty (it holds directories or settings): nothing was copied; copy only into a new, empty database", dstName)
	} else if err != nil {
		return fmt.Errorf("copy settings to %s: %w", dstName, err)
	}
	links, err := copyDirectories(ctx, src, dst, dirs, out)
	if err != nil {
		return err
	}
	if _, err := copyWebhooks(ctx, src, dst, dirs, out); err != nil {
		return err
	}
	// The whole trail, deleted directories' entries too: it outlives them.
	if err := dst.ImportAudit(ctx, copyAudit(ctx, src)); err != nil {
		fmt.Fprint(out, "stopped at the audit trail: every directory was copied, the audit trail was not\n"+
			"the target is not empty any more: drop and re-create it before running scimd copy again\n")
		return fmt.Errorf("copy the audit trail: %w", err)
	}
	if err := verifyCopy(ctx, src, dst, dirs, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "done: %d directories copied and verified. Run scimd with SCIMD_DATABASE_URL=%s\n", len(dirs), dstName)
	if links > 0 {
		fmt.Fprintf(out, "%d presence links were copied with their Graph credentials sealed: run scimd with the same SCIMD_SECRET_KEY as before\n", links)
	}
	return nil
}

// copyDirectories imports each directory in its own transaction and
// returns how many had a presence link. If one fails, it says which ones
// were copied before.
func copyDirectories(ctx context.Context, src store.Store, dst *postgres.DB, dirs []store.Directory, out io.Writer) (links int, err error) {
	var copied []string
	for _, d := range dirs {
		im, err := sourceDirectory(ctx, src, d)
		if err == nil {
			err = dst.ImportDirectory(ctx, im)
		}
		if err != nil {
			fmt.Fprintf(out, "stopped at directory %s %q: it and the directories after it were not copied; copied before it: %s\n"+
				"the target is not empty any more: drop and re-create it before running scimd copy again\n",
				d.ID, d.Name, listOrNone(copied))
			return links, fmt.Errorf("copy directory %s: %w", d.ID, err)
		}
		copied = append(copied, d.ID)
		if im.Link != nil {
			links++
		}
		fmt.Fprintf(out, "copied directory %s %q\n", d.ID, d.Name)
	}
	return links, nil
}

// openCopySource opens an existing SQLite file at the current schema; it
// never creates or migrates one.
func openCopySource(ctx context.Context, path string, log *slog.Logger) (*sqlite.DB, error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("source %s is not a file", path)
	}
	cfg := Config{DB: path}
	src, err := sqlite.Open(ctx, path, sqlite.Options{Now: time.Now, Logger: log})
	if tooNew(err) {
		return nil, tooNewError(cfg, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open source %s: %w", path, err)
	}
	cur, known, err := src.SchemaVersion(ctx)
	if err == nil && cur != known {
		err = fmt.Errorf("source %s is at schema version %d, this scimd copies version %d: run scimd migrate with this binary on the file first", path, cur, known)
	}
	if err != nil {
		src.Close()
		return nil, err
	}
	return src, nil
}

func sourceSettings(ctx context.Context, src store.Store) (map[string][]byte, error) {
	settings := make(map[string][]byte)
	for _, key := range copySettings {
		v, err := src.GetSetting(ctx, key)
		switch {
		case err == nil:
			settings[key] = v
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("read source setting %s: %w", key, err)
		}
	}
	return settings, nil
}

// sourceDirectory reads the small parts of a directory and returns
// sequences that page through the big ones.
func sourceDirectory(ctx context.Context, src store.Store, d store.Directory) (postgres.DirectoryImport, error) {
	im := postgres.DirectoryImport{Directory: d, Users: copyUsers(ctx, src, d.ID), Groups: copyGroups(ctx, src, d.ID),
		Events: copySyncEvents(ctx, src, d.ID)}
	var err error
	if im.APIKeys, err = src.ListAPIKeys(ctx, d.ID); err != nil {
		return im, fmt.Errorf("read API keys: %w", err)
	}
	switch l, err := src.GetPresenceLink(ctx, d.ID); {
	case err == nil:
		im.Link = &l
	case !errors.Is(err, store.ErrNotFound):
		return im, fmt.Errorf("read presence link: %w", err)
	}
	if im.Presence, err = src.ListPresence(ctx, d.ID); err != nil {
		return im, fmt.Errorf("read presence: %w", err)
	}
	switch j, err := src.GetReapply(ctx, d.ID); {
	case err == nil:
		im.Reapply = &j
	case !errors.Is(err, store.ErrNotFound):
		return im, fmt.Errorf("read the rules re-application: %w", err)
	}
	return im, nil
}

// copyPages yields the records that page returns for offsets 0, copyPage,
// ... up to the first short page.
func copyPages[T any](page func(offset int) ([]T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for offset := 0; ; offset += copyPage {
			recs, err := page(offset)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, r := range recs {
				if !yield(r, nil) {
					return
				}
			}
			if len(recs) < copyPage {
				return
			}
		}
	}
}

func copyUsers(ctx context.Context, st store.Store, directoryID string) iter.Seq2[store.User, error] {
	return copyPages(func(offset int) ([]store.User, error) {
		us, _, err := st.ListUsers(ctx, directoryID, store.Query{Offset: offset, Limit: copyPage})
		if err != nil {
			return nil, fmt.Errorf("read users: %w", err)
		}
		return us, nil
	})
}

// copyGroups yields the directory's groups, each with its members.
func copyGroups(ctx context.Context, st store.Store, directoryID string) iter.Seq2[postgres.ImportedGroup, error] {
	return copyPages(func(offset int) ([]postgres.ImportedGroup, error) {
		gs, _, err := st.ListGroups(ctx, directoryID, store.Query{Offset: offset, Limit: copyPage})
		if err != nil {
			return nil, fmt.Errorf("read groups: %w", err)
		}
		ids := make([]string, len(gs))
		for i, g := range gs {
			ids[i] = g.ID
		}
		members, err := st.GroupMembers(ctx, directoryID, ids)
		if err != nil {
			return nil, fmt.Errorf("read group members: %w", err)
		}
		out := make([]postgres.ImportedGroup, len(gs))
		for i, g := range gs {
			out[i] = postgres.ImportedGroup{Group: g, Members: members[g.ID]}
		}
		return out, nil
	})
}

// copySyncEvents yields the directory's sync log, newest first, paging by
// the id cursor.
func copySyncEvents(ctx context.Context, st store.Store, directoryID string) iter.Seq2[store.SyncEvent, error] {
	return func(yield func(store.SyncEvent, error) bool) {
		var before int64
		for {
			evs, err := st.ListSyncEvents(ctx, directoryID, store.SyncQuery{Before: before, Limit: copyPage})
			if err != nil {
				yield(store.SyncEvent{}, fmt.Errorf("read sync events: %w", err))
				return
			}
			for _, ev := range evs {
				if !yield(ev, nil) {
					return
				}
			}
			if len(evs) < copyPage {
				return
			}
			before = evs[len(evs)-1].ID
		}
	}
}

// copyAudit yields the audit trail, newest first, paging by the id
// cursor.
func copyAudit(ctx context.Context, st store.Store) iter.Seq2[store.AuditEntry, error] {
	return func(yield func(store.AuditEntry, error) bool) {
		var before int64
		for {
			es, err := st.ListAudit(ctx, store.AuditQuery{Before: before, Limit: copyPage})
			if err != nil {
				yield(store.AuditEntry{}, fmt.Errorf("read audit entries: %w", err))
				return
			}
			for _, e := range es {
				if !yield(e, nil) {
					return
				}
			}
			if len(es) < copyPage {
				return
			}
			before = es[len(es)-1].ID
		}
	}
}

// countAudit counts the audit trail through st.
func countAudit(ctx context.Context, st store.Store) (int, error) {
	n := 0
	for _, err := range copyAudit(ctx, st) {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// copyCounts are the numbers of one directory's records that verifyCopy
// compares.
type copyCounts struct {
	users, groups, members, apiKeys, events, links, presence int
}

// countDirectory counts a directory's records through st.
func countDirectory(ctx context.Context, st store.Store, directoryID string) (copyCounts, error) {
	var c copyCounts
	var err error
	if _, c.users, err = st.ListUsers(ctx, directoryID, store.Query{}); err != nil {
		return c, fmt.Errorf("count users: %w", err)
	}
	if _, c.groups, err = st.ListGroups(ctx, directoryID, store.Query{}); err != nil {
		return c, fmt.Errorf("count groups: %w", err)
	}
	for g, err := range copyGroups(ctx, st, directoryID) {
		if err != nil {
			return c, err
		}
		c.members += len(g.Members)
	}
	keys, err := st.ListAPIKeys(ctx, directoryID)
	if err != nil {
		return c, fmt.Errorf("count API keys: %w", err)
	}
	c.apiKeys = len(keys)
	for _, err := range copySyncEvents(ctx, st, directoryID) {
		if err != nil {
			return c, err
		}
		c.events++
	}
	switch _, err := st.GetPresenceLink(ctx, directoryID); {
	case err == nil:
		c.links = 1
	case !errors.Is(err, store.ErrNotFound):
		return c, fmt.Errorf("read presence link: %w", err)
	}
	ps, err := st.ListPresence(ctx, directoryID)
	if err != nil {
		return c, fmt.Errorf("count presence: %w", err)
	}
	c.presence = len(ps)
	return c, nil
}

// verifyCopy prints every directory's counts in both stores, as
// "source/target", and fails if one differs.
func verifyCopy(ctx context.Context, src, dst store.Store, dirs []store.Directory, out io.Writer) error {
	fmt.Fprintln(out, "\nrecords per directory (source/target):")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DIRECTORY\tNAME\tUSERS\tGROUPS\tMEMBERS\tAPI KEYS\tSYNC EVENTS\tPRESENCE LINK\tPRESENCE\tCHECK")
	var differ []string
	for _, d := range dirs {
		s, err := countDirectory(ctx, src, d.ID)
		if err != nil {
			return fmt.Errorf("verify directory %s in the source: %w", d.ID, err)
		}
		t, err := countDirectory(ctx, dst, d.ID)
		if err != nil {
			return fmt.Errorf("verify directory %s in the target: %w", d.ID, err)
		}
		mark := "ok"
		if s != t {
			mark = "DIFFERS"
			differ = append(differ, "directory "+d.ID)
		}
		fmt.Fprintf(tw, "%s\t%q\t%d/%d\t%d/%d\t%d/%d\t%d/%d\t%d/%d\t%d/%d\t%d/%d\t%s\n", d.ID, d.Name,
			s.users, t.users, s.groups, t.groups, s.members, t.members, s.apiKeys, t.apiKeys,
			s.events, t.events, s.links, t.links, s.presence, t.presence, mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	sa, err := countAudit(ctx, src)
	if err != nil {
		return fmt.Errorf("verify the audit trail in the source: %w", err)
	}
	ta, err := countAudit(ctx, dst)
	if err != nil {
		return fmt.Errorf("verify the audit trail in the target: %w", err)
	}
	mark := "ok"
	if sa != ta {
		mark = "DIFFERS"
		differ = append(differ, "the audit trail")
	}
	fmt.Fprintf(out, "\naudit entries (source/target): %d/%d %s\n\n", sa, ta, mark)
	if len(differ) > 0 {
		return fmt.Errorf("the copy differs from the source in %s: was the source written during the copy? Stop scimd, drop and re-create the target, and copy again",
			strings.Join(differ, ", "))
	}
	return nil
}

func listOrNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}
