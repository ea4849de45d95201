package server

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

// newLogger builds the one logger of the process; every component narrows
// it with With("component", ...).
func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	// These keys carry personal data or secrets. They are dropped wherever
	// they appear, so a careless log call cannot leak them.
	excluded := []string{
		"user_name", "userName", "email", "emails", "phone", "phoneNumbers",
		"token", "authorization", "password", "secret",
	}
	return slog.New(newExcludingHandler(h, excluded))
}

// excludingHandler drops excluded attributes and adds the request id of the
// record's context (after dex's excluding_handler.go).
type excludingHandler struct {
	next     slog.Handler
	excluded map[string]bool
}

// newExcludingHandler drops the given keys, compared case-insensitively.
func newExcludingHandler(next slog.Handler, keys []string) slog.Handler {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[strings.ToLower(k)] = true
	}
	return &excludingHandler{next: next, excluded: m}
}

func (h *excludingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *excludingHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if id := requestIDFrom(ctx); id != "" {
		nr.AddAttrs(slog.String("request_id", id))
	}
	r.Attrs(func(a slog.Attr) bool {
		if a, ok := h.filter(a); ok {
			nr.AddAttrs(a)
		}
		return true
	})
	return h.next.Handle(ctx, nr)
}

func (h *excludingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	kept := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		if a, ok := h.filter(a); ok {
			kept = append(kept, a)
		}
	}
	return &excludingHandler{next: h.next.WithAttrs(kept), excluded: h.excluded}
}

func (h *excludingHandler) WithGroup(name string) slog.Handler {
	return &excludingHandler{next: h.next.WithGroup(name), excluded: h.excluded}
}

// filter drops an excluded attribute and filters inside groups, resolving
// LogValuers first so that their contents are checked too.
func (h *excludingHandler) filter(a slog.Attr) (slog.Attr, bool) {
	if h.excluded[strings.ToLower(a.Key)] {
		return slog.Attr{}, false
	}
	a.Value = a.Value.Resolve()
	if a.Value.Kind() != slog.KindGroup {
		return a, true
	}
	var kept []slog.Attr
	for _, ga := range a.Value.Group() {
		if ga, ok := h.filter(ga); ok {
			kept = append(kept, ga)
		}
	}
	a.Value = slog.GroupValue(kept...)
	return a, true
}

type requestIDKey struct{}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
