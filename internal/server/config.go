package server

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/webhook"
)

// Config is scimd's whole configuration. It is read once in main, from the
// environment first and then from flags that mirror it, and passed on as
// values.
type Config struct {
	Addr string // listen address
	DB   string // SQLite file path
	// DatabaseURL, when set, selects PostgreSQL (a postgres:// or
	// postgresql:// URL) instead of the SQLite file; it may hold a
	// password, so it is logged redacted.
	DatabaseURL     string
	PublicURL       string        // external base URL, no trailing slash
	AdminToken      string        // secret; "" means use or generate the stored one
	SecretKey       []byte        // secret; 32 bytes or nil
	MaxBodyBytes    int64         // request body limit
	LogLevel        slog.Level    // minimum log level
	LogFormat       string        // "text" or "json"
	ShutdownTimeout time.Duration // how long in-flight requests may drain
	// SyncLogRetention is how long sync events are kept before the
	// background pruner deletes them.
	SyncLogRetention time.Duration
	// EventsOff stops the recording of change events (SCIMD_EVENTS=off):
	// the events API then answers 404 events_disabled.
	EventsOff bool
	// EventRetention is how long change events are kept, for clients to
	// resume from; zero means DefaultEventRetention.
	EventRetention time.Duration

	// Teams presence (Microsoft Graph). Zero values mean the presence
	// package's defaults.
	LoginURL         string        // Microsoft identity platform base URL, no trailing slash
	GraphURL         string        // Microsoft Graph base URL, no trailing slash
	PresenceInterval time.Duration // how often each connected directory is polled
	// PresenceClientID and PresenceClientSecret are scimd's own
	// multi-tenant app registration, for the admin-consent flow; the
	// secret is secret. Both or neither.
	PresenceClientID     string
	PresenceClientSecret string

	// CORSOrigins are the browser origins (scheme://host[:port]) allowed
	// to call the lookup API, or just "*"; empty: no CORS headers.
	CORSOrigins []string

	// publicURLFromAddr: PublicURL was not given but derived from Addr;
	// with port 0 Open derives it again from the port it got.
	publicURLFromAddr bool
	// Webhooks. WebhookAllow lists the non-public networks webhooks may
	// reach; WebhookAllowHTTP accepts http:// URLs; WebhookTimeout bounds
	// one delivery attempt (zero: the webhook package's default).
	WebhookAllow     []netip.Prefix
	WebhookAllowHTTP bool
	WebhookTimeout   time.Duration
	// Fairness: per-directory limits on SCIM and lookup API requests
	// (internal/limit). Zero turns a limit off; LimitWait zero refuses a
	// request beyond the in-flight limit at once.
	SCIMMaxInFlight   int           // SCIM requests of one directory served at once
	SCIMRate          float64       // SCIM requests a second per directory
	LookupMaxInFlight int           // lookup API requests of one directory at once
	LookupRate        float64       // lookup API requests a second per directory
	LimitWait         time.Duration // how long a request may queue for an in-flight slot
}

// The presence poll interval's bounds: faster buys nothing (Teams itself
// lags, docs/GRAPH-PRESENCE.md §3), slower makes presence useless.
const (
	minPresenceInterval = 5 * time.Second
	maxPresenceInterval = 10 * time.Minute
)

// minSyncLogRetention keeps the pruner from deleting what an administrator
// is still looking at (and from running a prune every few seconds).
const minSyncLogRetention = time.Hour

// DefaultEventRetention is how long change events are kept by default.
const DefaultEventRetention = 7 * 24 * time.Hour

// eventRetention is c.EventRetention or its default.
func (c Config) eventRetention() time.Duration {
	if c.EventRetention == 0 {
		return DefaultEventRetention
	}
	return c.EventRetention
}

// setting describes one configuration value: its environment variable, the
// flag mirroring it, its default and how it is stored into a Config.
type setting struct {
	env, flag, def, usage string
	// file, when set, names a flag and variable (env+"_FILE") whose file
	// content is the value, so secrets need not sit in the environment.
	file bool
	set  func(c *Config, v string) error
}

// settings is the configuration table; README.md documents the same rows.
func settings() []setting {
	return []setting{
		{env: "SCIMD_ADDR", flag: "addr", def: ":8080", usage: "listen address (host:port)",
			set: func(c *Config, v string) error { c.Addr = v; return nil }},
		{env: "SCIMD_DB", flag: "db", def: "scimd.db", usage: "SQLite database file",
			set: func(c *Config, v string) error { c.DB = v; return nil }},
		{env: "SCIMD_DATABASE_URL", flag: "database-url", file: true, usage: "PostgreSQL URL (postgres://...); selects PostgreSQL instead of SCIMD_DB, for several replicas",
			set: func(c *Config, v string) error { c.DatabaseURL = strings.TrimSpace(v); return nil }},
		{env: "SCIMD_PUBLIC_URL", flag: "public-url", usage: "external base URL used to build SCIM base URLs (default: http://localhost and the port of SCIMD_ADDR)",
			set: func(c *Config, v string) error { c.PublicURL = strings.TrimRight(v, "/"); return nil }},
		{env: "SCIMD_ADMIN_TOKEN", flag: "admin-token", file: true, usage: "admin API bearer token (default: generated on first start, stored hashed)",
			set: func(c *Config, v string) error { c.AdminToken = v; return nil }},
		{env: "SCIMD_SECRET_KEY", flag: "secret-key", file: true, usage: "32 random bytes, standard base64; encrypts stored Graph credentials",
			set: func(c *Config, v string) error {
				if v == "" {
					c.SecretKey = nil
					return nil
				}
				k, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					return errors.New("not standard base64")
				}
				if len(k) != 32 {
					return fmt.Errorf("decodes to %d bytes, want 32 (generate one with: openssl rand -base64 32)", len(k))
				}
				c.SecretKey = k
				return nil
			}},
		{env: "SCIMD_MAX_BODY_BYTES", flag: "max-body-bytes", def: "1048576", usage: "largest accepted request body in bytes",
			set: func(c *Config, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return fmt.Errorf("%q is not an integer", v)
				}
				c.MaxBodyBytes = n
				return nil
			}},
		{env: "SCIMD_LOG_LEVEL", flag: "log-level", def: "info", usage: "debug, info, warn or error",
			set: func(c *Config, v string) error {
				if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
					return fmt.Errorf("%q is not one of debug, info, warn, error", v)
				}
				return nil
			}},
		{env: "SCIMD_LOG_FORMAT", flag: "log-format", def: "text", usage: "text or json",
			set: func(c *Config, v string) error { c.LogFormat = v; return nil }},
		{env: "SCIMD_SHUTDOWN_TIMEOUT", flag: "shutdown-timeout", def: "15s", usage: "how long in-flight requests may finish after SIGTERM",
			set: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil {
					return fmt.Errorf("%q is not a duration like 15s", v)
				}
				c.ShutdownTimeout = d
				return nil
			}},
		{env: "SCIMD_SYNC_LOG_RETENTION", flag: "sync-log-retention", def: "720h", usage: "how long sync log events are kept (Go duration, at least 1h)",
			set: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil {
					return fmt.Errorf("%q is not a duration like 720h (30 days)", v)
				}
				c.SyncLogRetention = d
				return nil
			}},
		{env: "SCIMD_EVENTS", flag: "events", def: "on", usage: "record change events of contacts and groups for the events API: on or off",
			set: func(c *Config, v string) error {
				switch strings.ToLower(strings.TrimSpace(v)) {
				case "on":
					c.EventsOff = false
				case "off":
					c.EventsOff = true
				default:
					return fmt.Errorf("%q is not on or off", v)
				}
				return nil
			}},
		{env: "SCIMD_EVENT_RETENTION", flag: "event-retention", def: "168h", usage: "how long change events are kept for clients to resume from (Go duration, at least 1h)",
			set: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil {
					return fmt.Errorf("%q is not a duration like 168h (7 days)", v)
				}
				c.EventRetention = d
				return nil
			}},
		{env: "SCIMD_LOGIN_URL", flag: "login-url", def: presence.DefaultLoginURL, usage: "Microsoft identity platform base URL (tokens, admin consent)",
			set: func(c *Config, v string) error { c.LoginURL = strings.TrimRight(v, "/"); return nil }},
		{env: "SCIMD_GRAPH_URL", flag: "graph-url", def: presence.DefaultGraphURL, usage: "Microsoft Graph base URL (presence)",
			set: func(c *Config, v string) error { c.GraphURL = strings.TrimRight(v, "/"); return nil }},
		{env: "SCIMD_PRESENCE_INTERVAL", flag: "presence-interval", def: presence.DefaultInterval.String(), usage: "how often Teams presence is polled (Go duration, 5s to 10m)",
			set: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil {
					return fmt.Errorf("%q is not a duration like 30s", v)
				}
				if d <= 0 {
					return fmt.Errorf("%q must be positive, from %s to %s", v, minPresenceInterval, maxPresenceInterval)
				}
				c.PresenceInterval = d
				return nil
			}},
		{env: "SCIMD_PRESENCE_CLIENT_ID", flag: "presence-client-id", usage: "application (client) ID of scimd's multi-tenant Entra app, for the admin-consent flow",
			set: func(c *Config, v string) error { c.PresenceClientID = strings.TrimSpace(v); return nil }},
		{env: "SCIMD_PRESENCE_CLIENT_SECRET", flag: "presence-client-secret", file: true, usage: "client secret of scimd's multi-tenant Entra app",
			set: func(c *Config, v string) error { c.PresenceClientSecret = v; return nil }},
		{env: "SCIMD_CORS_ORIGINS", flag: "cors-origins", usage: "comma-separated browser origins (https://cx.example.com) allowed to call the lookup API, or *",
			set: func(c *Config, v string) error {
				origins, err := parseCORSOrigins(v)
				c.CORSOrigins = origins
				return err
			}},
		{env: "SCIMD_WEBHOOK_ALLOW_NETWORKS", flag: "webhook-allow-networks", usage: "non-public networks webhooks may reach: comma-separated CIDRs or addresses, or private (loopback, RFC 1918, ULA)",
			set: func(c *Config, v string) error {
				n, err := webhook.ParseNetworks(v)
				c.WebhookAllow = n
				return err
			}},
		{env: "SCIMD_WEBHOOK_ALLOW_HTTP", flag: "webhook-allow-http", def: "false", usage: "accept http:// webhook URLs (default: https only)",
			set: func(c *Config, v string) error {
				b, err := strconv.ParseBool(strings.TrimSpace(v))
				if err != nil {
					return fmt.Errorf("%q is not true or false", v)
				}
				c.WebhookAllowHTTP = b
				return nil
			}},
		{env: "SCIMD_WEBHOOK_TIMEOUT", flag: "webhook-timeout", def: webhook.DefaultTimeout.String(), usage: "how long a webhook receiver may take to answer (Go duration, 1s to 60s)",
			set: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil {
					return fmt.Errorf("%q is not a duration like 10s", v)
				}
				if d < time.Second || d > time.Minute {
					return fmt.Errorf("%s is outside 1s to 60s", d)
				}
				c.WebhookTimeout = d
				return nil
			}},
		{env: "SCIMD_SCIM_MAX_INFLIGHT", flag: "scim-max-inflight", def: strconv.Itoa(DefaultSCIMMaxInFlight), usage: "SCIM requests of one directory served at once (0: no limit)",
			set: func(c *Config, v string) (err error) { c.SCIMMaxInFlight, err = parseLimitCount(v); return err }},
		{env: "SCIMD_SCIM_RATE", flag: "scim-rate", def: "0", usage: "SCIM requests a second per directory (0: no limit)",
			set: func(c *Config, v string) (err error) { c.SCIMRate, err = parseLimitRate(v); return err }},
		{env: "SCIMD_LOOKUP_MAX_INFLIGHT", flag: "lookup-max-inflight", def: "0", usage: "lookup API requests of one directory served at once (0: no limit)",
			set: func(c *Config, v string) (err error) { c.LookupMaxInFlight, err = parseLimitCount(v); return err }},
		{env: "SCIMD_LOOKUP_RATE", flag: "lookup-rate", def: "0", usage: "lookup API requests a second per directory (0: no limit)",
			set: func(c *Config, v string) (err error) { c.LookupRate, err = parseLimitRate(v); return err }},
		{env: "SCIMD_LIMIT_WAIT", flag: "limit-wait", def: DefaultLimitWait.String(), usage: "how long a request beyond an in-flight limit may wait for a slot (Go duration, 0 to 10s)",
			set: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil {
					return fmt.Errorf("%q is not a duration like 1s", v)
				}
				c.LimitWait = d
				return nil
			}},
	}
}

// LoadConfig reads the configuration from getenv and the flags in args
// (flags win) and validates it. The error lists every problem found. It
// returns the arguments left after the flags.
func LoadConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, []string, error) {
	settings := settings()
	raw := make([]*string, len(settings))
	files := make([]*string, len(settings))
	for i, s := range settings {
		v := s.def
		if e, ok := lookup(getenv, s.env); ok {
			v = e
		}
		raw[i] = fs.String(s.flag, v, s.usage+" ($"+s.env+")")
		if s.file {
			f, _ := lookup(getenv, s.env+"_FILE")
			files[i] = fs.String(s.flag+"-file", f, "file holding the "+s.flag+" ($"+s.env+"_FILE)")
		}
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, nil, err
	}

	// Start from the defaults, so that a value that fails to parse is
	// reported once, not again by Validate.
	var c Config
	for _, s := range settings {
		_ = s.set(&c, s.def) // defaults always parse; TestConfigDefaults checks it
	}
	var errs []error
	for i, s := range settings {
		v := *raw[i]
		if files[i] != nil && *files[i] != "" {
			if v != "" {
				errs = append(errs, fmt.Errorf("%s and %s_FILE are both set; use one", s.env, s.env))
				continue
			}
			b, err := os.ReadFile(*files[i])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", s.env, err))
				continue
			}
			// Files written by editors and `echo` end in a newline that is
			// not part of the secret.
			v = strings.TrimRight(string(b), "\r\n")
		}
		if err := s.set(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.env, err))
		}
	}
	if c.PublicURL == "" {
		c.PublicURL, c.publicURLFromAddr = publicURLFor(c.Addr), true
	}
	if c.DatabaseURL != "" && dbGiven(fs, getenv) {
		errs = append(errs, errors.New("SCIMD_DB and SCIMD_DATABASE_URL are both set: set SCIMD_DATABASE_URL for PostgreSQL or SCIMD_DB for SQLite, not both"))
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, fs.Args(), errors.Join(errs...)
}

// dbGiven reports whether the SQLite file was chosen explicitly, by
// SCIMD_DB or -db, rather than left at its default.
func dbGiven(fs *flag.FlagSet, getenv func(string) string) bool {
	_, given := lookup(getenv, "SCIMD_DB")
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "db" })
	return given
}

// lookup treats an empty variable as unset, as shells make it easy to
// export one by accident.
func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

// Validate reports every invalid value at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		add("SCIMD_ADDR: %q is not host:port (for example :8080)", c.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		add("SCIMD_ADDR: %q has an invalid port", c.Addr)
	}
	if c.DB == "" && c.DatabaseURL == "" {
		add("SCIMD_DB: must not be empty")
	}
	if c.DatabaseURL != "" && !postgresURL(c.DatabaseURL) {
		// Never quote the value: it may hold a password.
		add("SCIMD_DATABASE_URL: not a postgres:// or postgresql:// URL with a host (for example postgres://scimd@db.example.com:5432/scimd)")
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		add("SCIMD_PUBLIC_URL: %q is not an absolute http(s) URL without query, fragment or credentials", c.PublicURL)
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		add("SCIMD_ADMIN_TOKEN: must be at least 16 characters")
	}
	if strings.TrimSpace(c.AdminToken) != c.AdminToken {
		add("SCIMD_ADMIN_TOKEN: must not start or end with whitespace")
	}
	if c.SecretKey != nil && len(c.SecretKey) != 32 {
		add("SCIMD_SECRET_KEY: must be 32 bytes")
	}
	if c.MaxBodyBytes < 1024 {
		add("SCIMD_MAX_BODY_BYTES: %d is below the minimum of 1024", c.MaxBodyBytes)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		add("SCIMD_LOG_FORMAT: %q is not text or json", c.LogFormat)
	}
	if c.ShutdownTimeout <= 0 {
		add("SCIMD_SHUTDOWN_TIMEOUT: must be positive")
	}
	if c.SyncLogRetention < minSyncLogRetention {
		add("SCIMD_SYNC_LOG_RETENTION: %s is below the minimum of %s", c.SyncLogRetention, minSyncLogRetention)
	}
	if c.EventRetention != 0 && c.EventRetention < minSyncLogRetention {
		add("SCIMD_EVENT_RETENTION: %s is below the minimum of %s", c.EventRetention, minSyncLogRetention)
	}
	// The presence settings' zero values mean their defaults, so that a
	// Config built in code (cmd/scimbench) need not name them.
	for _, u := range []struct{ env, value string }{{"SCIMD_LOGIN_URL", c.LoginURL}, {"SCIMD_GRAPH_URL", c.GraphURL}} {
		if u.value != "" && !baseURL(u.value) {
			add("%s: %q is not an absolute http(s) URL without path, query, fragment or credentials", u.env, u.value)
		}
	}
	if c.PresenceInterval != 0 && (c.PresenceInterval < minPresenceInterval || c.PresenceInterval > maxPresenceInterval) {
		add("SCIMD_PRESENCE_INTERVAL: %s is outside %s to %s", c.PresenceInterval, minPresenceInterval, maxPresenceInterval)
	}
	// LoadConfig normalises the origins; a Config built in code must hold
	// them in that form, or they would never match an Origin header.
	for _, o := range c.CORSOrigins {
		if n, err := normalizeOrigin(o); o != corsAnyOrigin && (err != nil || n != o) {
			add("SCIMD_CORS_ORIGINS: %q is not an origin as browsers send it (scheme://host[:port], lower case, no default port)", o)
		}
	}
	switch {
	case c.PresenceClientID != "" && uuid.Validate(c.PresenceClientID) != nil:
		add("SCIMD_PRESENCE_CLIENT_ID: %q is not a GUID (the app registration's Application (client) ID)", c.PresenceClientID)
	case c.PresenceClientID != "" && c.PresenceClientSecret == "":
		add("SCIMD_PRESENCE_CLIENT_ID is set without SCIMD_PRESENCE_CLIENT_SECRET (or SCIMD_PRESENCE_CLIENT_SECRET_FILE); set both, or neither")
	case c.PresenceClientID == "" && c.PresenceClientSecret != "":
		add("SCIMD_PRESENCE_CLIENT_SECRET is set without SCIMD_PRESENCE_CLIENT_ID; set both, or neither")
	}
	errs = append(errs, c.validateLimits()...)
	return errors.Join(errs...)
}

// LogValue is the redacted form of c for logs: secrets show only whether
// they are set.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("db", c.storeName()),
		slog.String("public_url", c.PublicURL),
		slog.String("admin_token", redacted(c.AdminToken != "")),
		slog.String("secret_key", redacted(c.SecretKey != nil)),
		slog.Int64("max_body_bytes", c.MaxBodyBytes),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", c.LogFormat),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Duration("sync_log_retention", c.SyncLogRetention),
		slog.Bool("events", !c.EventsOff),
		slog.Duration("event_retention", c.eventRetention()),
		slog.String("login_url", c.LoginURL),
		slog.String("graph_url", c.GraphURL),
		slog.Duration("presence_interval", c.PresenceInterval),
		slog.String("presence_client_id", c.PresenceClientID),
		slog.String("presence_client_secret", redacted(c.PresenceClientSecret != "")),
		slog.Any("cors_origins", c.CORSOrigins),
		slog.Any("webhook_allow_networks", c.WebhookAllow),
		slog.Bool("webhook_allow_http", c.WebhookAllowHTTP),
		slog.Duration("webhook_timeout", c.WebhookTimeout),
		slog.Int("scim_max_inflight", c.SCIMMaxInFlight),
		slog.Float64("scim_rate", c.SCIMRate),
		slog.Int("lookup_max_inflight", c.LookupMaxInFlight),
		slog.Float64("lookup_rate", c.LookupRate),
		slog.Duration("limit_wait", c.LimitWait),
	)
}

// publicURLFor is SCIMD_PUBLIC_URL's default: http:// and the listen
// address, with localhost for a host that means "every interface", so
// that a server on :9090 prints Tenant URLs on 9090. An address that does
// not parse is reported by Validate; its URL is never used.
func publicURLFor(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://localhost"
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// portZero reports whether addr asks for a port picked when listening.
func portZero(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}

// postgresURL reports whether s is a URL that selects PostgreSQL.
func postgresURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") && (u.Host != "" || u.Query().Has("host"))
}

// storeName names the database for logs and messages: the SQLite path,
// or the PostgreSQL URL without its password.
func (c Config) storeName() string {
	if c.DatabaseURL == "" {
		return c.DB
	}
	return redactURL(c.DatabaseURL)
}

// redactURL hides a URL's password, in its user part or its query.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[unparsable URL]"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "redacted")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "redacted")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// baseURL reports whether s is an absolute http(s) URL that paths can be
// appended to: no path beyond "/", no query, fragment or credentials.
func baseURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" && u.User == nil && !u.ForceQuery
}

// consentFlowEnabled reports whether scimd's own app is configured for
// the admin-consent flow.
func (c Config) consentFlowEnabled() bool {
	return c.PresenceClientID != "" && c.PresenceClientSecret != ""
}

func redacted(set bool) string {
	if set {
		return "[redacted]"
	}
	return "[unset]"
}

// printConfigHelp writes the settings table to w, for `scimd -h`.
func printConfigHelp(w io.Writer) {
	fmt.Fprintln(w, "\nEnvironment (flags override it):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range settings() {
		def := s.def
		if def == "" {
			def = "(unset)"
		}
		fmt.Fprintf(tw, "  %s\t-%s\t%s\t%s\n", s.env, s.flag, def, s.usage)
		if s.file {
			fmt.Fprintf(tw, "  %s\t-%s\t%s\t%s\n", s.env+"_FILE", s.flag+"-file", "(unset)", "read "+s.env+" from this file")
		}
	}
	_ = tw.Flush()
}
