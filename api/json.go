package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/scimd/scimd/internal/jsonenc"
	"github.com/scimd/scimd/store"
)

// errorBody is the JSON error shape of every non-SCIM endpoint:
// {"error":{"code":"...","message":"..."}}. Codes are stable, snake_case
// identifiers a client can switch on; messages are for people.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Problems lists every problem of a rejected document, one per entry,
	// where an endpoint validates a whole document (the mapping rules).
	Problems []string `json:"problems,omitempty"`
}

// WriteError writes a JSON error response. message must be safe to show a
// client: never SQL, driver or Go error text.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message}})
}

// writeInternal answers a failure the client cannot fix: 503 with
// Retry-After when the database is unreachable (the request may be
// retried), else a generic 500. Either way the cause goes to the log
// only.
func writeInternal(w http.ResponseWriter, r *http.Request, log *slog.Logger, op string, err error, attrs ...any) {
	if errors.Is(err, store.ErrUnavailable) {
		log.WarnContext(r.Context(), op+" failed: database unavailable", append(attrs, "err", err)...)
		w.Header().Set("Retry-After", "5")
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "the database is unavailable; retry later")
		return
	}
	log.ErrorContext(r.Context(), op+" failed", append(attrs, "err", err)...)
	WriteError(w, http.StatusInternalServerError, "internal", "internal error")
}

// WriteJSON writes v as a JSON response with the given status, leaving
// <, > and & unescaped (internal/jsonenc), as every scimd answer does.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := jsonenc.Append(make([]byte, 0, 512), v)
	if err != nil {
		// Only our own response types reach here; failing to marshal them is
		// a programming error, and the client still deserves valid JSON.
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	writeJSONBytes(w, status, body)
}

// writeJSONBytes writes body, already JSON, as a response.
func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// methods dispatches a route by method. Routes do it themselves rather
// than with mux's Methods: gorilla/mux v1.8.1 answers 404 instead of 405
// for a wrong method inside a subrouter whenever a later route of the
// subrouter shares its prefix.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h(w, r)
		return
	}
	allowed := slices.Sorted(maps.Keys(m))
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed",
		fmt.Sprintf("method %s is not allowed here; use %s", r.Method, strings.Join(allowed, " or ")))
}

// requestError is a client mistake found while decoding a request; it
// carries the status and a message that names the problem.
type requestError struct {
	status  int
	code    string
	message string
}

func (e *requestError) Error() string { return e.message }

// decodeJSON reads exactly one JSON object of at most limit bytes into v,
// rejecting unknown fields and trailing data.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, limit)
	}
	// A second value ("{}{}") or garbage after the object is a malformed body.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return decodeError(err, limit)
		}
		return &requestError{http.StatusBadRequest, "malformed_json", "request body must contain a single JSON object"}
	}
	return nil
}

func decodeError(err error, limit int64) error {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return &requestError{http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("request body exceeds %d bytes", limit)}
	case errors.Is(err, io.EOF):
		return &requestError{http.StatusBadRequest, "malformed_json", "request body is empty; expected a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &requestError{http.StatusBadRequest, "malformed_json", "request body is truncated JSON"}
	case errors.As(err, &syntaxErr):
		return &requestError{http.StatusBadRequest, "malformed_json",
			fmt.Sprintf("request body is not valid JSON (at byte %d)", syntaxErr.Offset)}
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return &requestError{http.StatusBadRequest, "malformed_json", "request body must be a JSON object"}
		}
		return &requestError{http.StatusBadRequest, "invalid_field",
			fmt.Sprintf("field %q must be a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for DisallowUnknownFields; the
		// message format is documented and stable.
		return &requestError{http.StatusBadRequest, "unknown_field",
			"unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")}
	default:
		return &requestError{http.StatusBadRequest, "malformed_json", "request body is not valid JSON"}
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	default:
		return "number"
	}
}
