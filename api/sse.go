package api

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/jsonenc"
)

// eventStream writes a Server-Sent Events response: the presence stream
// and the change events stream share it.
type eventStream struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf bytes.Buffer
}

// startStream lifts the write deadline (the server's WriteTimeout bounds
// ordinary answers; a stream is meant to stay open) and sends the
// stream's headers and its retry delay. On false it has answered the
// request (the server is shutting down, or a failure).
func (l *Lookup) startStream(w http.ResponseWriter, r *http.Request, what string) (*eventStream, bool) {
	select {
	case <-l.closing:
		w.Header().Set("Retry-After", "5")
		WriteError(w, http.StatusServiceUnavailable, "shutting_down", "the server is shutting down; reconnect in a few seconds")
		return nil, false
	default:
	}
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		l.internal(w, r, what+": lift write deadline", err)
		return nil, false
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	s := &eventStream{w: w, rc: rc}
	s.buf.WriteString("retry: " + streamRetry + "\n\n")
	return s, true
}

// lastEventID is the id a reconnecting client resumes from: the
// Last-Event-ID header, or the lastEventId parameter for clients that
// cannot set headers.
func lastEventID(r *http.Request, vals map[string][]string) string {
	if id := strings.TrimSpace(r.Header.Get("Last-Event-ID")); id != "" {
		return id
	}
	if v := vals["lastEventId"]; len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// event appends one event; an id with a line break (which would end the
// field early) is left out.
func (s *eventStream) event(id, name string, data []byte) {
	if id != "" && !strings.ContainsAny(id, "\r\n") {
		s.buf.WriteString("id: " + id + "\n")
	}
	s.buf.WriteString("event: " + name + "\ndata: ")
	s.buf.Write(data)
	s.buf.WriteString("\n\n")
}

// reset appends an "event: reset" saying why the client must re-read.
func (s *eventStream) reset(reason string) {
	b, _ := jsonenc.Marshal(map[string]string{"reason": reason})
	s.event("", "reset", b)
}

// heartbeat appends the comment that keeps proxies from closing an idle
// stream.
func (s *eventStream) heartbeat() { s.buf.WriteString(": heartbeat\n\n") }

// send writes and flushes what was appended; false means the client went
// away.
func (s *eventStream) send(l *Lookup, r *http.Request) bool {
	_, err := s.w.Write(s.buf.Bytes())
	s.buf.Reset()
	if err == nil {
		err = s.rc.Flush()
	}
	if err != nil {
		if errors.Is(err, http.ErrNotSupported) {
			l.log.ErrorContext(r.Context(), "event stream: the response writer cannot flush", "err", err)
		}
		return false
	}
	return true
}
