package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/server"
)

// target is the scimd scimbench measures: started in-process on a new
// database, or a running one on this machine (-base). In-process on
// PostgreSQL, it is several scimd servers (replicas) on one database,
// each with its own listener, as a load balancer would see them.
type target struct {
	bases      []string // http://host:port of each replica, no trailing slash
	adminToken string
	stop       func() error
}

// loopbackOnly refuses a -base that is not on this machine: scimbench
// creates a directory and up to millions of users, and its figures mean
// nothing across a network.
func loopbackOnly(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("-base %q must be a plain http://host:port URL of a scimd on this machine", base)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("-base %q is not a loopback address: scimbench creates a directory and thousands of users on its target, and measures it with the client on the same machine, so it only runs against a scimd at localhost, 127.0.0.1 or [::1]", base)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host, "/"), nil
}

// remoteTarget is a running scimd on loopback.
func remoteTarget(base, adminToken string) (*target, error) {
	b, err := loopbackOnly(base)
	if err != nil {
		return nil, err
	}
	if adminToken == "" {
		return nil, errors.New("-base needs -token, the scimd's admin token (or set SCIMBENCH_TOKEN)")
	}
	return &target{bases: []string{b}, adminToken: adminToken, stop: func() error { return nil }}, nil
}

// startInProcess starts scimd (internal/server.Main, as cmd/scimd runs
// it) on loopback with scimd's defaults and the given per-directory
// limits: on a new SQLite database at
// dbPath, or, with databaseURL, replicas servers on that new PostgreSQL
// database, one after the other (the first migrates it and makes the
// first-start setup), all with the same admin token. logFormat "text" or
// "json" formats their access logs as scimd would (then discards them),
// "off" skips logging. eventsOff runs them with SCIMD_EVENTS=off; limits
// are the fairness limits to run them with.
func startInProcess(ctx context.Context, dbPath, databaseURL string, replicas int, logFormat string, eventsOff bool, limits limitFlags) (_ *target, err error) {
	token := randomToken()
	cfg := server.Config{
		Addr:             "127.0.0.1:0",
		DB:               dbPath,
		DatabaseURL:      databaseURL,
		PublicURL:        "http://127.0.0.1", // only builds Location headers
		AdminToken:       token,
		MaxBodyBytes:     1 << 20, // scimd's defaults from here on
		LogLevel:         slog.LevelInfo,
		LogFormat:        "text",
		ShutdownTimeout:  15 * time.Second,
		SyncLogRetention: 720 * time.Hour,
		EventsOff:        eventsOff,
	}
	limits.apply(&cfg)
	logger := slog.New(slog.DiscardHandler)
	switch logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	case "json":
		cfg.LogFormat = "json"
		logger = slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("scimd config: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t := &target{adminToken: token}
	var dones []chan error
	t.stop = func() error {
		cancel()
		var errs []error
		for _, done := range dones {
			errs = append(errs, <-done)
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			_ = t.stop()
		}
	}()
	for i := range max(1, replicas) {
		m := &server.Main{Config: cfg, Logger: logger, Stdout: io.Discard}
		if err := m.Open(ctx); err != nil {
			if replicas > 1 {
				return nil, fmt.Errorf("start scimd replica %d: %w", i+1, err)
			}
			return nil, fmt.Errorf("start scimd: %w", err)
		}
		done := make(chan error, 1)
		go func() { done <- m.Run(runCtx) }()
		dones = append(dones, done)
		t.bases = append(t.bases, "http://"+m.Addr())
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// scimd's soft memory limit (150 MiB) is for scimd alone; here the
		// client's data (every user id and latency) shares the heap, and at
		// a million users the limit kept the collector running: the HTTP
		// ceiling measured after the cycle fell from 53,791 to 25,279/s.
		debug.SetMemoryLimit(math.MaxInt64)
	}
	return t, nil
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "scimbench_" + base64.RawURLEncoding.EncodeToString(b)
}

// directory is the directory a run provisions into, with its SCIM token
// and a lookup API key, and its base URLs on each replica.
type directory struct {
	id        string
	scimBases []string // <base>/scim/v2/<id>
	scimToken string
	apiBases  []string // <base>/api/v1/directories/<id>
	apiKey    string
}

// scim is the directory's SCIM base URL for worker w: on replica w%N, so
// that each worker keeps to one replica (as a client behind a load
// balancer does with its keep-alive connections) and the workers spread
// evenly over the replicas when the concurrency is a multiple of N.
func (d *directory) scim(w int) string { return d.scimBases[w%len(d.scimBases)] }

// api is the directory's lookup API base URL for worker w, as scim.
func (d *directory) api(w int) string { return d.apiBases[w%len(d.apiBases)] }

// createDirectory creates a directory and a lookup API key through the
// admin API.
func (t *target) createDirectory(ctx context.Context, hc *http.Client) (*directory, error) {
	var d struct {
		ID        string `json:"id"`
		SCIMToken string `json:"scimToken"`
	}
	name := "scimbench-" + time.Now().UTC().Format("20060102T150405.000Z")
	if err := t.admin(ctx, hc, http.MethodPost, "/admin/v1/directories", map[string]string{"name": name}, &d, http.StatusCreated); err != nil {
		return nil, fmt.Errorf("create directory: %w", err)
	}
	var k struct {
		Key string `json:"key"`
	}
	if err := t.admin(ctx, hc, http.MethodPost, "/admin/v1/directories/"+d.ID+"/api-keys", map[string]string{"name": "scimbench"}, &k, http.StatusCreated); err != nil {
		return nil, fmt.Errorf("create API key: %w", err)
	}
	if d.ID == "" || d.SCIMToken == "" || k.Key == "" {
		return nil, errors.New("create directory: the admin API answered without an id, a SCIM token or a key")
	}
	dir := &directory{id: d.ID, scimToken: d.SCIMToken, apiKey: k.Key}
	for _, base := range t.bases {
		dir.scimBases = append(dir.scimBases, base+"/scim/v2/"+d.ID)
		dir.apiBases = append(dir.apiBases, base+"/api/v1/directories/"+d.ID)
	}
	return dir, nil
}

// deleteDirectory deletes a run's directory (and its users) from a
// running scimd. A big directory answers 202: scimd purges it in the
// background.
func (t *target) deleteDirectory(ctx context.Context, hc *http.Client, d *directory) error {
	return t.admin(ctx, hc, http.MethodDelete, "/admin/v1/directories/"+d.id, nil, nil, http.StatusNoContent, http.StatusAccepted)
}

// admin sends an admin API request to the first replica and decodes its
// answer into out (unless nil); any status but those wanted is an error.
func (t *target) admin(ctx context.Context, hc *http.Client, method, path string, in, out any, want ...int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.bases[0]+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.adminToken)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if !slices.Contains(want, resp.StatusCode) {
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, clip(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// dbFiles are a SQLite database's files.
func dbFiles(path string) []string { return []string{path, path + "-wal", path + "-shm"} }

// sizedPath inserts the size before path's extension, for -scale runs:
// scimd.db → scimd-100000.db.
func sizedPath(path string, size int) string {
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s-%d%s", strings.TrimSuffix(path, ext), size, ext)
}

// exists reports whether any of a database's files exists.
func exists(path string) bool {
	for _, f := range dbFiles(path) {
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return false
}
