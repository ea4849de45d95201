package fakegraph

import (
	"net/http"
	"strings"
	"time"
)

// graphContentType is what Graph sends with JSON, errors included.
const graphContentType = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"

// graphReply writes Graph responses for one request.
type graphReply struct {
	s                          *Server
	w                          http.ResponseWriter
	requestID, clientRequestID string
}

// graphReply sets the headers every Graph response carries.
func (s *Server) graphReply(w http.ResponseWriter, r *http.Request) graphReply {
	g := graphReply{s, w, newGUID(), headerGUID(r, "client-request-id")}
	w.Header().Set("request-id", g.requestID)
	w.Header().Set("client-request-id", g.clientRequestID)
	return g
}

func (g graphReply) json(status int, v any) { writeJSON(g.w, graphContentType, status, v) }

type graphError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			Date            string `json:"date"`
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

func (g graphReply) error(status int, code, msg string) {
	var e graphError
	e.Error.Code, e.Error.Message = code, msg
	e.Error.InnerError.Date = g.s.now().UTC().Format("2006-01-02T15:04:05")
	e.Error.InnerError.RequestID, e.Error.InnerError.ClientRequestID = g.requestID, g.clientRequestID
	g.json(status, e)
}

// admit decides what a presence call meets before its body matters: the
// Slow knob, then the token, consent and the queued faults, so a fault
// set by a test is spent on a call that would otherwise have worked. It
// writes any refusal and reports whether the call may go on.
func (s *Server) admit(g graphReply, r *http.Request) bool {
	s.mu.Lock()
	slow, _ := s.graphSlow.next()
	s.mu.Unlock()
	if !wait(r, slow.delay) {
		return false
	}

	tok, hasTok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, known := s.tokens[tok]
	valid := hasTok && known && s.now().Before(exp)
	revoked := s.consentOff
	var f burst
	failing := false
	if valid && !revoked {
		f, failing = s.graphFaults.next()
	}
	s.mu.Unlock()

	switch {
	case !hasTok || tok == "":
		g.error(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
	case !valid:
		g.error(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
	case revoked:
		g.error(http.StatusForbidden, "Forbidden", "Missing role permissions on the request. API requires one of 'Presence.Read.All, Presence.ReadWrite.All'. Roles on the request ''.")
	case failing:
		if f.retryAfter != "" {
			g.w.Header().Set("Retry-After", f.retryAfter)
		}
		code := strings.ReplaceAll(http.StatusText(f.status), " ", "") // 429 → TooManyRequests
		msg := http.StatusText(f.status) + "."
		if f.status == http.StatusTooManyRequests {
			msg = "Too many requests from this application to this tenant. Please retry later."
		}
		g.error(f.status, code, msg)
	default:
		return true
	}
	return false
}

// wait sleeps d, or less if the request ends first, and reports whether the
// request is still wanted.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
