package scim

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/scimd/scimd/internal/jsonenc"
	"github.com/scimd/scimd/store"
)

// Error is a SCIM error response (RFC 7644 §3.12). Handlers return it;
// writeErr renders it. Detail is shown to the client, so it must name the
// problem without internal detail.
type Error struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.ScimType, e.Detail) }

func errorf(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

func invalidValue(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "invalidValue", format, args...)
}

func invalidPath(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "invalidPath", format, args...)
}

func invalidSyntax(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "invalidSyntax", format, args...)
}

// MarshalJSON renders status as a string, as RFC 7644 and Entra require.
func (e *Error) MarshalJSON() ([]byte, error) {
	return jsonenc.Marshal(struct {
		Schemas  []string `json:"schemas"`
		ScimType string   `json:"scimType,omitempty"`
		Detail   string   `json:"detail,omitempty"`
		Status   string   `json:"status"`
	}{[]string{errorURN}, e.ScimType, e.Detail, strconv.Itoa(e.Status)})
}

// WriteError writes a SCIM error response.
func WriteError(w http.ResponseWriter, status int, scimType, detail string) {
	writeError(w, &Error{Status: status, ScimType: scimType, Detail: detail})
}

func writeError(w http.ResponseWriter, e *Error) {
	body, _ := e.MarshalJSON()
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Del("Etag")
	h.Del("Location")
	switch e.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="scimd"`)
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", retryAfterUnavailable) // Entra honours it
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// retryAfterUnavailable is the Retry-After of a 503: about how long a
// database restart or failover takes.
const retryAfterUnavailable = "5"

// toSCIMError maps any error from the layers below to what the client
// sees: this is the one table from store sentinels to SCIM statuses.
// Unexpected errors are logged and become a generic 500.
func (s *Server) toSCIMError(r *http.Request, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var fe *filterError
	switch {
	case errors.As(err, &fe):
		return errorf(http.StatusBadRequest, "invalidFilter", "%s", fe.msg)
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "", "resource not found")
	case errors.Is(err, store.ErrConflict):
		return errorf(http.StatusConflict, "uniqueness", "%s", sentinelDetail(err, store.ErrConflict))
	case errors.Is(err, store.ErrPrecondition):
		return errorf(http.StatusPreconditionFailed, "", "the resource has changed: If-Match does not match its current version (meta.version); read it again and retry")
	case errors.Is(err, store.ErrInvalidFilter):
		return errorf(http.StatusBadRequest, "invalidFilter", "%s", sentinelDetail(err, store.ErrInvalidFilter))
	case errors.Is(err, store.ErrInvalidMember):
		return invalidValue("%s", sentinelDetail(err, store.ErrInvalidMember))
	case errors.Is(err, store.ErrUnavailable):
		s.log.WarnContext(r.Context(), "scim request failed: database unavailable", slog.String("method", r.Method), slog.Any("error", err))
		return errorf(http.StatusServiceUnavailable, "", "the directory database is unavailable; nothing was changed, retry later")
	}
	s.log.ErrorContext(r.Context(), "scim request failed", slog.String("method", r.Method), slog.Any("error", err))
	return errorf(http.StatusInternalServerError, "", "internal error; the server log has the details")
}

// sentinelDetail returns the client-safe text the store put around a
// sentinel ("store: conflict: userName "x" already exists" → the part
// after the sentinel), falling back to the sentinel itself.
func sentinelDetail(err, sentinel error) string {
	msg := err.Error()
	prefix := sentinel.Error() + ": "
	for i := 0; i+len(prefix) <= len(msg); i++ {
		if msg[i:i+len(prefix)] == prefix {
			return msg[i+len(prefix):]
		}
	}
	return sentinel.Error()
}
