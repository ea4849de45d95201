package server

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func loadConfig(t *testing.T, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("scimd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c, _, err := LoadConfig(fs, args, func(k string) string { return env[k] })
	return c, err
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Addr:             ":8080",
		DB:               "scimd.db",
		PublicURL:        "http://localhost:8080",
		MaxBodyBytes:     1 << 20,
		LogLevel:         slog.LevelInfo,
		LogFormat:        "text",
		ShutdownTimeout:  15 * time.Second,
		SyncLogRetention: 30 * 24 * time.Hour,
	}
	if c.LoginURL != "https://login.microsoftonline.com" || c.GraphURL != "https://graph.microsoft.com" ||
		c.PresenceInterval != 30*time.Second || c.PresenceClientID != "" || c.PresenceClientSecret != "" {
		t.Errorf("presence defaults: login %q, graph %q, interval %v, client %q", c.LoginURL, c.GraphURL, c.PresenceInterval, c.PresenceClientID)
	}
	if c.Addr != want.Addr || c.DB != want.DB || c.PublicURL != want.PublicURL || c.AdminToken != "" ||
		c.SecretKey != nil || c.MaxBodyBytes != want.MaxBodyBytes || c.LogLevel != want.LogLevel ||
		c.LogFormat != want.LogFormat || c.ShutdownTimeout != want.ShutdownTimeout || c.SyncLogRetention != want.SyncLogRetention {
		t.Errorf("defaults = %+v, want %+v", c, want)
	}
}

func TestConfigEnvironmentAndFlags(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	env := map[string]string{
		"SCIMD_ADDR":               "127.0.0.1:9000",
		"SCIMD_DB":                 "/data/x.db",
		"SCIMD_PUBLIC_URL":         "https://scim.example.com/",
		"SCIMD_ADMIN_TOKEN":        "env-admin-token-123456",
		"SCIMD_SECRET_KEY":         key,
		"SCIMD_MAX_BODY_BYTES":     "2048",
		"SCIMD_LOG_LEVEL":          "debug",
		"SCIMD_LOG_FORMAT":         "json",
		"SCIMD_SHUTDOWN_TIMEOUT":   "3s",
		"SCIMD_SYNC_LOG_RETENTION": "2160h",
	}
	c, err := loadConfig(t, env, "-addr", ":9001", "-log-level=warn", "-sync-log-retention", "48h")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9001" || c.LogLevel != slog.LevelWarn || c.SyncLogRetention != 48*time.Hour {
		t.Errorf("flags did not override the environment: addr %q, level %v, retention %v", c.Addr, c.LogLevel, c.SyncLogRetention)
	}
	if c, err := loadConfig(t, env); err != nil || c.SyncLogRetention != 90*24*time.Hour {
		t.Errorf("SCIMD_SYNC_LOG_RETENTION not applied: %v, %v", c.SyncLogRetention, err)
	}
	if c.DB != "/data/x.db" || c.PublicURL != "https://scim.example.com" || c.AdminToken != "env-admin-token-123456" ||
		len(c.SecretKey) != 32 || c.MaxBodyBytes != 2048 || c.LogFormat != "json" || c.ShutdownTimeout != 3*time.Second {
		t.Errorf("environment not applied: %+v", c)
	}
}

func TestConfigReportsEveryFailure(t *testing.T) {
	env := map[string]string{
		"SCIMD_ADDR":               "nonsense",
		"SCIMD_PUBLIC_URL":         "ftp://x",
		"SCIMD_ADMIN_TOKEN":        "tiny-tok",
		"SCIMD_SECRET_KEY":         base64.StdEncoding.EncodeToString([]byte("too short")),
		"SCIMD_MAX_BODY_BYTES":     "lots",
		"SCIMD_LOG_LEVEL":          "loud",
		"SCIMD_LOG_FORMAT":         "xml",
		"SCIMD_SHUTDOWN_TIMEOUT":   "soon",
		"SCIMD_SYNC_LOG_RETENTION": "a month",
	}
	_, err := loadConfig(t, env, "-db", "")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		"SCIMD_ADDR", "SCIMD_DB", "SCIMD_PUBLIC_URL", "SCIMD_ADMIN_TOKEN", "SCIMD_SECRET_KEY: decodes to 9 bytes",
		`SCIMD_MAX_BODY_BYTES: "lots"`, `SCIMD_LOG_LEVEL: "loud"`, `SCIMD_LOG_FORMAT: "xml"`, `SCIMD_SHUTDOWN_TIMEOUT: "soon"`,
		`SCIMD_SYNC_LOG_RETENTION: "a month" is not a duration`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "SCIMD_MAX_BODY_BYTES"); n != 1 {
		t.Errorf("SCIMD_MAX_BODY_BYTES reported %d times, want once:\n%s", n, msg)
	}
	if strings.Contains(msg, "tiny-tok") {
		t.Errorf("error echoes the admin token:\n%s", msg)
	}
}

func TestConfigValidateTable(t *testing.T) {
	valid := func() Config {
		c, err := loadConfig(t, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"port only", func(c *Config) { c.Addr = ":0" }, ""},
		{"ipv6", func(c *Config) { c.Addr = "[::1]:8080" }, ""},
		{"no port", func(c *Config) { c.Addr = "localhost" }, "SCIMD_ADDR"},
		{"bad port", func(c *Config) { c.Addr = ":99999" }, "SCIMD_ADDR"},
		{"public url with path", func(c *Config) { c.PublicURL = "https://example.com/scimd" }, ""},
		{"public url relative", func(c *Config) { c.PublicURL = "/scim" }, "SCIMD_PUBLIC_URL"},
		{"public url query", func(c *Config) { c.PublicURL = "https://example.com?x=1" }, "SCIMD_PUBLIC_URL"},
		{"public url credentials", func(c *Config) { c.PublicURL = "https://u:p@example.com" }, "SCIMD_PUBLIC_URL"},
		{"admin token spaces", func(c *Config) { c.AdminToken = " 0123456789abcdefgh" }, "whitespace"},
		{"body too small", func(c *Config) { c.MaxBodyBytes = 10 }, "SCIMD_MAX_BODY_BYTES"},
		{"zero shutdown", func(c *Config) { c.ShutdownTimeout = 0 }, "SCIMD_SHUTDOWN_TIMEOUT"},
		{"retention 1h", func(c *Config) { c.SyncLogRetention = time.Hour }, ""},
		{"retention below 1h", func(c *Config) { c.SyncLogRetention = 59 * time.Minute }, "SCIMD_SYNC_LOG_RETENTION: 59m0s is below the minimum of 1h0m0s"},
		{"retention negative", func(c *Config) { c.SyncLogRetention = -time.Hour }, "SCIMD_SYNC_LOG_RETENTION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestConfigFileVariants(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tokenFile := write("token", "file-admin-token-123456\n")
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	keyFile := write("key", key+"\r\n")

	c, err := loadConfig(t, map[string]string{"SCIMD_ADMIN_TOKEN_FILE": tokenFile}, "-secret-key-file", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminToken != "file-admin-token-123456" {
		t.Errorf("admin token = %q, want the file content without its newline", c.AdminToken)
	}
	if !bytes.Equal(c.SecretKey, bytes.Repeat([]byte{1}, 32)) {
		t.Errorf("secret key = %x", c.SecretKey)
	}

	_, err = loadConfig(t, map[string]string{
		"SCIMD_ADMIN_TOKEN":      "env-admin-token-123456",
		"SCIMD_ADMIN_TOKEN_FILE": tokenFile,
		"SCIMD_SECRET_KEY_FILE":  filepath.Join(dir, "missing"),
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"SCIMD_ADMIN_TOKEN and SCIMD_ADMIN_TOKEN_FILE are both set", "SCIMD_SECRET_KEY_FILE:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestConfigRedaction(t *testing.T) {
	c, err := loadConfig(t, map[string]string{
		"SCIMD_ADMIN_TOKEN": "super-secret-admin-token",
		"SCIMD_SECRET_KEY":  base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		newLogger(&buf, slog.LevelInfo, format).Info("config", "config", c)
		out := buf.String()
		for _, secret := range []string{"super-secret-admin-token", "0123456789abcdef", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s dump shows a secret: %s", format, out)
			}
		}
		if !strings.Contains(out, "[redacted]") || !strings.Contains(out, "http://localhost:8080") {
			t.Errorf("%s dump lacks values: %s", format, out)
		}
	}
}

func TestConfigPresenceSettings(t *testing.T) {
	const appID = "44444444-4444-4444-8444-444444444444"
	c, err := loadConfig(t, map[string]string{
		"SCIMD_LOGIN_URL":              "http://127.0.0.1:8090/",
		"SCIMD_GRAPH_URL":              "http://127.0.0.1:8090",
		"SCIMD_PRESENCE_INTERVAL":      "1m",
		"SCIMD_PRESENCE_CLIENT_ID":     appID,
		"SCIMD_PRESENCE_CLIENT_SECRET": "app-secret-value",
	}, "-presence-interval", "45s")
	if err != nil {
		t.Fatal(err)
	}
	if c.LoginURL != "http://127.0.0.1:8090" || c.GraphURL != "http://127.0.0.1:8090" || c.PresenceInterval != 45*time.Second ||
		c.PresenceClientID != appID || c.PresenceClientSecret != "app-secret-value" || !c.consentFlowEnabled() {
		t.Errorf("presence settings not applied: %+v", c)
	}

	// The secret from a file.
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("file-secret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = loadConfig(t, map[string]string{"SCIMD_PRESENCE_CLIENT_ID": appID, "SCIMD_PRESENCE_CLIENT_SECRET_FILE": file})
	if err != nil || c.PresenceClientSecret != "file-secret-value" {
		t.Errorf("secret from file = %q, %v", c.PresenceClientSecret, err)
	}
	_, err = loadConfig(t, map[string]string{"SCIMD_PRESENCE_CLIENT_ID": appID,
		"SCIMD_PRESENCE_CLIENT_SECRET": "x", "SCIMD_PRESENCE_CLIENT_SECRET_FILE": file})
	if err == nil || !strings.Contains(err.Error(), "SCIMD_PRESENCE_CLIENT_SECRET and SCIMD_PRESENCE_CLIENT_SECRET_FILE are both set") {
		t.Errorf("both set: %v", err)
	}

	// Every failure at once, never echoing the secret.
	_, err = loadConfig(t, map[string]string{
		"SCIMD_LOGIN_URL":              "login.microsoftonline.com",
		"SCIMD_GRAPH_URL":              "https://graph.microsoft.com/v1.0",
		"SCIMD_PRESENCE_INTERVAL":      "often",
		"SCIMD_PRESENCE_CLIENT_ID":     "my-app",
		"SCIMD_PRESENCE_CLIENT_SECRET": "do-not-echo-me",
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`SCIMD_LOGIN_URL: "login.microsoftonline.com" is not an absolute http(s) URL`,
		`SCIMD_GRAPH_URL: "https://graph.microsoft.com/v1.0" is not an absolute http(s) URL without path`,
		`SCIMD_PRESENCE_INTERVAL: "often" is not a duration`,
		`SCIMD_PRESENCE_CLIENT_ID: "my-app" is not a GUID`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "do-not-echo-me") {
		t.Errorf("error echoes the secret:\n%v", err)
	}
	if _, err := loadConfig(t, map[string]string{"SCIMD_PRESENCE_INTERVAL": "0s"}); err == nil || !strings.Contains(err.Error(), "must be positive") {
		t.Errorf("interval 0s: %v", err)
	}
}

func TestConfigValidatePresence(t *testing.T) {
	const appID = "44444444-4444-4444-8444-444444444444"
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" means valid
	}{
		{"interval 5s", func(c *Config) { c.PresenceInterval = 5 * time.Second }, ""},
		{"interval 10m", func(c *Config) { c.PresenceInterval = 10 * time.Minute }, ""},
		{"interval below 5s", func(c *Config) { c.PresenceInterval = 4 * time.Second }, "SCIMD_PRESENCE_INTERVAL: 4s is outside 5s to 10m0s"},
		{"interval above 10m", func(c *Config) { c.PresenceInterval = 11 * time.Minute }, "SCIMD_PRESENCE_INTERVAL: 11m0s is outside"},
		{"zero values mean defaults", func(c *Config) { c.LoginURL, c.GraphURL, c.PresenceInterval = "", "", 0 }, ""},
		{"login url with query", func(c *Config) { c.LoginURL = "https://login.example.com?x=1" }, "SCIMD_LOGIN_URL"},
		{"graph url with credentials", func(c *Config) { c.GraphURL = "https://u:p@graph.example.com" }, "SCIMD_GRAPH_URL"},
		{"graph url ftp", func(c *Config) { c.GraphURL = "ftp://graph.example.com" }, "SCIMD_GRAPH_URL"},
		{"service app", func(c *Config) { c.PresenceClientID, c.PresenceClientSecret = appID, "s" }, ""},
		{"client id alone", func(c *Config) { c.PresenceClientID = appID }, "SCIMD_PRESENCE_CLIENT_ID is set without SCIMD_PRESENCE_CLIENT_SECRET"},
		{"client secret alone", func(c *Config) { c.PresenceClientSecret = "s" }, "SCIMD_PRESENCE_CLIENT_SECRET is set without SCIMD_PRESENCE_CLIENT_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(t, nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.change(&c)
			err = c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestConfigRedactsPresenceSecret(t *testing.T) {
	c, err := loadConfig(t, map[string]string{
		"SCIMD_PRESENCE_CLIENT_ID":     "44444444-4444-4444-8444-444444444444",
		"SCIMD_PRESENCE_CLIENT_SECRET": "presence-app-secret-value",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		newLogger(&buf, slog.LevelInfo, format).Info("config", "config", c)
		out := buf.String()
		if strings.Contains(out, "presence-app-secret-value") {
			t.Errorf("%s dump shows the presence app secret: %s", format, out)
		}
		for _, want := range []string{"44444444-4444-4444-8444-444444444444", "https://graph.microsoft.com", "presence_client_secret"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s dump lacks %q: %s", format, want, out)
			}
		}
	}
}

// TestREADMEDocumentsEverySetting keeps README.md's configuration table in
// step with settings().
func TestREADMEDocumentsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings() {
		rows := [][2]string{{s.env, s.flag}}
		if s.file {
			rows = append(rows, [2]string{s.env + "_FILE", s.flag + "-file"})
		}
		for _, r := range rows {
			if row := "| `" + r[0] + "` | `-" + r[1] + "` |"; !bytes.Contains(readme, []byte(row)) {
				t.Errorf("README.md's configuration table lacks the row %s", row)
			}
		}
	}
}

// TestConfigDatabaseURL: SCIMD_DATABASE_URL selects PostgreSQL, never
// together with SCIMD_DB, and its password reaches neither an error nor
// the logged configuration.
func TestConfigDatabaseURL(t *testing.T) {
	const secretURL = "postgres://scimd:s3cr3t-pw@db.example.com:5432/scimd?sslmode=require"
	c, err := loadConfig(t, map[string]string{"SCIMD_DATABASE_URL": secretURL})
	if err != nil || c.DatabaseURL != secretURL {
		t.Fatalf("SCIMD_DATABASE_URL: %q, %v", c.DatabaseURL, err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("starting", "config", c)
	if strings.Contains(logged.String(), "s3cr3t-pw") || !strings.Contains(logged.String(), "db.example.com") {
		t.Errorf("logged configuration: %s", logged.String())
	}
	if c, err := loadConfig(t, nil, "-database-url", "postgresql://db.example.com/scimd"); err != nil || c.DatabaseURL == "" {
		t.Errorf("-database-url: %q, %v", c.DatabaseURL, err)
	}
	file := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(file, []byte(secretURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := loadConfig(t, map[string]string{"SCIMD_DATABASE_URL_FILE": file}); err != nil || c.DatabaseURL != secretURL {
		t.Errorf("SCIMD_DATABASE_URL_FILE: %q, %v", c.DatabaseURL, err)
	}

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"both in the environment", map[string]string{"SCIMD_DATABASE_URL": secretURL, "SCIMD_DB": "x.db"}, nil, "SCIMD_DB and SCIMD_DATABASE_URL are both set"},
		{"a flag and the environment", map[string]string{"SCIMD_DATABASE_URL": secretURL}, []string{"-db", "x.db"}, "SCIMD_DB and SCIMD_DATABASE_URL are both set"},
		{"not postgres", map[string]string{"SCIMD_DATABASE_URL": "mysql://scimd:s3cr3t-pw@db/scimd"}, nil, "SCIMD_DATABASE_URL: not a postgres://"},
		{"no host", map[string]string{"SCIMD_DATABASE_URL": "postgres:s3cr3t-pw"}, nil, "SCIMD_DATABASE_URL: not a postgres://"},
	} {
		_, err := loadConfig(t, tc.env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		} else if strings.Contains(err.Error(), "s3cr3t-pw") {
			t.Errorf("%s: the error shows the password: %v", tc.name, err)
		}
	}
}

// TestServeRefusesAnUnreachableDatabase: scimd exits with an error that
// names the database without its password.
func TestServeRefusesAnUnreachableDatabase(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var out bytes.Buffer
	env := map[string]string{"SCIMD_DATABASE_URL": "postgres://scimd:s3cr3t-pw@" + addr + "/scimd?connect_timeout=2", "SCIMD_ADDR": "127.0.0.1:0"}
	if code := run(t.Context(), nil, func(k string) string { return env[k] }, &out, &out); code != exitError {
		t.Errorf("exit %d, want %d: %s", code, exitError, out.String())
	}
	if strings.Contains(out.String(), "s3cr3t-pw") || !strings.Contains(out.String(), addr) {
		t.Errorf("output: %s", out.String())
	}
}

// TestConfigPublicURLFromAddr checks SCIMD_PUBLIC_URL's default: the
// listen address's port on localhost (or the address's own host), so that
// a server on :9090 prints Tenant URLs on 9090.
func TestConfigPublicURLFromAddr(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{":9090", "http://localhost:9090"},
		{"0.0.0.0:9090", "http://localhost:9090"},
		{"[::]:9090", "http://localhost:9090"},
		{"127.0.0.1:9000", "http://127.0.0.1:9000"},
		{"[::1]:8443", "http://[::1]:8443"},
		{"scim.internal:80", "http://scim.internal:80"},
	} {
		c, err := loadConfig(t, map[string]string{"SCIMD_ADDR": tc.addr})
		if err != nil || c.PublicURL != tc.want {
			t.Errorf("SCIMD_ADDR=%s: public URL %q, %v; want %q", tc.addr, c.PublicURL, err, tc.want)
		}
	}
	// A flag moves it too, and SCIMD_PUBLIC_URL (or its flag) wins.
	if c, err := loadConfig(t, nil, "-addr", ":7070"); err != nil || c.PublicURL != "http://localhost:7070" {
		t.Errorf("-addr :7070: %q, %v", c.PublicURL, err)
	}
	c, err := loadConfig(t, map[string]string{"SCIMD_ADDR": ":9090", "SCIMD_PUBLIC_URL": "https://scim.example.com"})
	if err != nil || c.PublicURL != "https://scim.example.com" {
		t.Errorf("explicit SCIMD_PUBLIC_URL: %q, %v", c.PublicURL, err)
	}
	// Port 0 is picked when listening: TestPublicURLOfPortZero.
	if c, err := loadConfig(t, map[string]string{"SCIMD_ADDR": "127.0.0.1:0"}); err != nil || !c.publicURLFromAddr {
		t.Errorf("port 0: %+v, %v", c, err)
	}
	if c, err := loadConfig(t, map[string]string{"SCIMD_ADDR": "127.0.0.1:0", "SCIMD_PUBLIC_URL": "http://localhost:1"}); err != nil ||
		c.PublicURL != "http://localhost:1" || c.publicURLFromAddr {
		t.Errorf("port 0 with SCIMD_PUBLIC_URL: %q, %v", c.PublicURL, err)
	}
	// A bad address is reported once, as the address.
	_, err = loadConfig(t, map[string]string{"SCIMD_ADDR": "nonsense"})
	if err == nil || !strings.Contains(err.Error(), "SCIMD_ADDR") || strings.Contains(err.Error(), "SCIMD_PUBLIC_URL") {
		t.Errorf("bad address: %v", err)
	}
}

func TestConfigCORSOrigins(t *testing.T) {
	c, err := loadConfig(t, nil)
	if err != nil || c.CORSOrigins != nil {
		t.Errorf("default: %q, %v", c.CORSOrigins, err)
	}
	c, err = loadConfig(t, map[string]string{"SCIMD_CORS_ORIGINS": " https://CX.example.com, http://localhost:3000,,https://a.example.com:443,http://b.example.com:80 ,https://cx.example.com,http://[::1]:5173"})
	want := []string{"https://cx.example.com", "http://localhost:3000", "https://a.example.com", "http://b.example.com", "http://[::1]:5173"}
	if err != nil || !slices.Equal(c.CORSOrigins, want) {
		t.Errorf("list: %q, %v; want %q", c.CORSOrigins, err, want)
	}
	if c, err := loadConfig(t, nil, "-cors-origins", "*"); err != nil || !slices.Equal(c.CORSOrigins, []string{"*"}) {
		t.Errorf("*: %q, %v", c.CORSOrigins, err)
	}
	if !strings.Contains(fmt.Sprint(c.LogValue()), "cors_origins") {
		t.Errorf("the logged configuration lacks the origins: %v", c.LogValue())
	}
	for _, tc := range []struct{ value, want string }{
		{"https://cx.example.com/", `"https://cx.example.com/" is not an origin (no path, query or fragment, not even a trailing /)`},
		{"https://cx.example.com/app", "no path"},
		{"https://cx.example.com?x=1", "no path, query or fragment"},
		{"cx.example.com", `"cx.example.com" is not an origin (the scheme must be http or https)`},
		{"ftp://cx.example.com", "the scheme must be http or https"},
		{"https://", "no host"},
		{"https://user@cx.example.com", "no user or password"},
		{"null", "the scheme must be http or https"},
		{"*, https://cx.example.com", `"*" allows every origin and must be the only entry`},
		{"*, cx.example.com", `"*" allows every origin and must be the only entry`},
	} {
		_, err := loadConfig(t, map[string]string{"SCIMD_CORS_ORIGINS": tc.value})
		if err == nil || !strings.Contains(err.Error(), "SCIMD_CORS_ORIGINS: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SCIMD_CORS_ORIGINS=%s: %v; want an error with %q", tc.value, err, tc.want)
		}
	}
	// A Config built in code is checked too.
	cfg := testConfig(t)
	cfg.CORSOrigins = []string{"https://CX.example.com:443"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `SCIMD_CORS_ORIGINS: "https://CX.example.com:443" is not an origin`) {
		t.Errorf("Validate: %v", err)
	}
	// Every bad entry is named at once.
	_, err = loadConfig(t, map[string]string{"SCIMD_CORS_ORIGINS": "https://ok.example.com,a.example.com,https://b.example.com/"})
	if err == nil || !strings.Contains(err.Error(), `"a.example.com"`) || !strings.Contains(err.Error(), `"https://b.example.com/"`) {
		t.Errorf("two bad entries: %v", err)
	}
}

// TestConfigEventAndWebhookSettingsRefused: each bad value of the change
// events' and webhooks' settings is refused with its variable named and
// what was wrong, all in one error.
func TestConfigEventAndWebhookSettingsRefused(t *testing.T) {
	_, err := loadConfig(t, map[string]string{
		"SCIMD_EVENTS":                 "maybe",
		"SCIMD_EVENT_RETENTION":        "a week",
		"SCIMD_WEBHOOK_ALLOW_NETWORKS": "10.0.0.0/33",
		"SCIMD_WEBHOOK_ALLOW_HTTP":     "sometimes",
		"SCIMD_WEBHOOK_TIMEOUT":        "2m",
	})
	if err == nil {
		t.Fatal("bad event and webhook settings accepted")
	}
	for _, want := range []string{
		`SCIMD_EVENTS: "maybe" is not on or off`,
		`SCIMD_EVENT_RETENTION: "a week" is not a duration`,
		`SCIMD_WEBHOOK_ALLOW_NETWORKS: "10.0.0.0/33" is not a CIDR`,
		`SCIMD_WEBHOOK_ALLOW_HTTP: "sometimes" is not true or false`,
		`SCIMD_WEBHOOK_TIMEOUT: 2m0s is outside 1s to 60s`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	c, err := loadConfig(t, map[string]string{"SCIMD_EVENTS": "off", "SCIMD_WEBHOOK_ALLOW_NETWORKS": "private", "SCIMD_WEBHOOK_TIMEOUT": "5s"})
	if err != nil || !c.EventsOff || len(c.WebhookAllow) == 0 || c.WebhookTimeout != 5*time.Second {
		t.Errorf("good values: %+v, %v", c, err)
	}
}
