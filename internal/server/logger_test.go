package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestExcludingHandler(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, slog.LevelDebug, "json")
	ctx := withRequestID(context.Background(), "req-1")

	log.With("token", "tok-secret-1", "component", "test").InfoContext(ctx, "hello",
		"userName", "alice@example.com",
		"USER_NAME", "alice2@example.com",
		"emails", []string{"a@example.com"},
		"Authorization", "Bearer tok-secret-2",
		slog.Group("user", "email", "b@example.com", "id", "u1"),
		"directory_id", "d1",
	)
	log.WithGroup("g").Info("grouped", "password", "pw-secret-3", "kept", 1)

	out := buf.String()
	for _, leak := range []string{"tok-secret-1", "alice", "a@example.com", "b@example.com", "tok-secret-2", "pw-secret-3"} {
		if strings.Contains(out, leak) {
			t.Errorf("log shows %q:\n%s", leak, out)
		}
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["request_id"] != "req-1" || first["directory_id"] != "d1" || first["component"] != "test" {
		t.Errorf("record lost attributes: %v", first)
	}
	if user, _ := first["user"].(map[string]any); user["id"] != "u1" {
		t.Errorf("group lost its other attributes: %v", first)
	}
	if !strings.Contains(out, `"g":{"kept":1}`) {
		t.Errorf("grouped record wrong:\n%s", out)
	}
}

func TestExcludingHandlerRespectsLevel(t *testing.T) {
	var buf bytes.Buffer
	newLogger(&buf, slog.LevelWarn, "text").Info("quiet")
	if buf.Len() != 0 {
		t.Errorf("info logged at warn level: %s", buf.String())
	}
}
