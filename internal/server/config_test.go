package server

import (
	"bytes"
	"encoding/base64"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
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
