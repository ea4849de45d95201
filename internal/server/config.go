package server

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is scimd's whole configuration. It is read once in main, from the
// environment first and then from flags that mirror it, and passed on as
// values.
type Config struct {
	Addr            string        // listen address
	DB              string        // SQLite file path
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
}

// minSyncLogRetention keeps the pruner from deleting what an administrator
// is still looking at (and from running a prune every few seconds).
const minSyncLogRetention = time.Hour

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
		{env: "SCIMD_PUBLIC_URL", flag: "public-url", def: "http://localhost:8080", usage: "external base URL used to build SCIM base URLs",
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
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, fs.Args(), errors.Join(errs...)
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
	if c.DB == "" {
		add("SCIMD_DB: must not be empty")
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
	return errors.Join(errs...)
}

// LogValue is the redacted form of c for logs: secrets show only whether
// they are set.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("db", c.DB),
		slog.String("public_url", c.PublicURL),
		slog.String("admin_token", redacted(c.AdminToken != "")),
		slog.String("secret_key", redacted(c.SecretKey != nil)),
		slog.Int64("max_body_bytes", c.MaxBodyBytes),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", c.LogFormat),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Duration("sync_log_retention", c.SyncLogRetention),
	)
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
	for _, s := range settings() {
		def := s.def
		if def == "" {
			def = "(unset)"
		}
		fmt.Fprintf(w, "  %-24s -%-18s %-24s %s\n", s.env, s.flag, def, s.usage)
		if s.file {
			fmt.Fprintf(w, "  %-24s -%-18s %-24s %s\n", s.env+"_FILE", s.flag+"-file", "(unset)", "read "+s.env+" from this file")
		}
	}
}
