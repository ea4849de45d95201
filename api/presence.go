package api

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/store"
)

// presenceRequest is the body of PUT …/presence: the customer's app
// registration, with a client secret or a certificate (and its private
// key, unless the certificate's PEM holds it).
type presenceRequest struct {
	TenantID     string `json:"tenantId"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	Certificate  string `json:"certificate"`
	PrivateKey   string `json:"privateKey"`
}

// consentJSON answers POST …/presence/consent.
type consentJSON struct {
	ConsentURL string `json:"consentUrl"`
}

// microsoftErrorJSON is what Microsoft's identity platform said when it
// refused a token request, field by field, so that the admin can search
// for the AADSTS code or quote the trace and correlation ids to Microsoft
// support.
type microsoftErrorJSON struct {
	HTTPStatus    int    `json:"httpStatus"`
	Error         string `json:"error"`            // invalid_client, unauthorized_client, ...
	AADSTS        string `json:"aadsts,omitempty"` // AADSTS7000215
	ErrorCodes    []int  `json:"errorCodes,omitempty"`
	Description   string `json:"description"`
	TraceID       string `json:"traceId,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
}

// presenceErrorBody is the API error shape with Microsoft's answer beside
// the code and message.
type presenceErrorBody struct {
	Error presenceErrorDetail `json:"error"`
}

type presenceErrorDetail struct {
	Code      string              `json:"code"`
	Message   string              `json:"message"`
	Microsoft *microsoftErrorJSON `json:"microsoft,omitempty"`
}

// presenceService answers 503 and returns nil when the server runs
// without a presence service.
func (a *Admin) presenceService(w http.ResponseWriter) *presence.Service {
	if a.cfg.Presence == nil {
		writePresenceUnavailable(w)
	}
	return a.cfg.Presence
}

func writePresenceUnavailable(w http.ResponseWriter) {
	WriteError(w, http.StatusServiceUnavailable, "presence_unavailable",
		"Teams presence is not available on this server: it runs without the presence service")
}

// putPresence connects the directory's presence with the customer's app
// and answers the resulting status. scimd asks Microsoft for a token at
// once, so a wrong secret is reported here, with Microsoft's own words.
func (a *Admin) putPresence(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	svc := a.presenceService(w)
	if svc == nil {
		return
	}
	var req presenceRequest
	if !a.decode(w, r, &req) {
		return
	}
	creds := presence.Credentials{
		TenantID:     strings.TrimSpace(req.TenantID),
		ClientID:     strings.TrimSpace(req.ClientID),
		ClientSecret: req.ClientSecret,
		Certificate:  req.Certificate,
		PrivateKey:   req.PrivateKey,
	}
	st, err := svc.Connect(r.Context(), id, creds)
	if err != nil {
		a.presenceError(w, r, "connect presence", id, err, req.ClientSecret, req.PrivateKey)
		return
	}
	a.log.InfoContext(r.Context(), "presence connected", "directory_id", id, "state", st.State, "credential", st.Credential)
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, st)
}

func (a *Admin) getPresence(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	svc := a.presenceService(w)
	if svc == nil {
		return
	}
	st, err := svc.Status(r.Context(), id)
	if err != nil {
		a.presenceError(w, r, "read presence status", id, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, st)
}

// deletePresence revokes the directory's presence: credentials and stored
// presence are deleted. It is idempotent.
func (a *Admin) deletePresence(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	svc := a.presenceService(w)
	if svc == nil {
		return
	}
	res, err := svc.Revoke(r.Context(), id)
	if err != nil {
		a.presenceError(w, r, "revoke presence", id, err)
		return
	}
	a.log.InfoContext(r.Context(), "presence revoked", "directory_id", id,
		"credentials_deleted", res.CredentialsDeleted, "presence_rows_cleared", res.PresenceRowsCleared)
	WriteJSON(w, http.StatusOK, res)
}

// startConsent answers the URL of Microsoft's admin-consent prompt for
// scimd's own multi-tenant app; the admin opens it in a browser and
// Microsoft sends the browser back to the consent callback.
func (a *Admin) startConsent(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	if _, ok := queryParams(w, r); !ok {
		return
	}
	svc := a.presenceService(w)
	if svc == nil || !a.directoryExists(w, r, id) { // an unknown directory is 404 before any setting
		return
	}
	u, err := svc.ConsentURL(r.Context(), id)
	if err != nil {
		a.presenceError(w, r, "start presence consent", id, err)
		return
	}
	a.log.InfoContext(r.Context(), "presence consent started", "directory_id", id)
	// The URL carries the one-time state that the callback checks.
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, consentJSON{ConsentURL: u})
}

// presenceError answers an error of the presence service. secrets are
// what the request carried; they are scrubbed from anything Microsoft
// echoes (it does not today, but its texts are not ours).
func (a *Admin) presenceError(w http.ResponseWriter, r *http.Request, op, dirID string, err error, secrets ...string) {
	var (
		input    *presence.InputError
		tokenErr *presence.TokenError
		graphErr *presence.GraphError
	)
	switch {
	case errors.Is(err, store.ErrNotFound):
		WriteError(w, http.StatusNotFound, "not_found", "directory not found")
	case errors.Is(err, presence.ErrNoKey):
		WriteError(w, http.StatusBadRequest, "no_secret_key", presence.ErrNoKey.Error())
	case errors.Is(err, presence.ErrNoServiceApp):
		WriteError(w, http.StatusConflict, "no_service_app", presence.ErrNoServiceApp.Error())
	case errors.As(err, &input):
		WriteError(w, http.StatusBadRequest, "invalid_credentials", scrub(input.Error(), secrets))
	case errors.As(err, &tokenErr):
		ms := microsoftError(tokenErr, secrets)
		a.log.WarnContext(r.Context(), op+": Microsoft refused the token request", "directory_id", dirID,
			"http_status", ms.HTTPStatus, "ms_error", ms.Error, "aadsts", ms.AADSTS,
			"trace_id", ms.TraceID, "correlation_id", ms.CorrelationID)
		writePresenceError(w, http.StatusBadRequest, "microsoft_refused", scrub(tokenErr.Error(), secrets), ms)
	case errors.As(err, &graphErr):
		a.log.WarnContext(r.Context(), op+": Microsoft Graph refused", "directory_id", dirID,
			"http_status", graphErr.Status, "graph_code", graphErr.Code)
		WriteError(w, http.StatusBadGateway, "graph_error", scrub(graphErr.Error(), secrets))
	default:
		writeInternal(w, r, a.log, op, err, "directory_id", dirID)
	}
}

func writePresenceError(w http.ResponseWriter, status int, code, message string, ms *microsoftErrorJSON) {
	WriteJSON(w, status, presenceErrorBody{Error: presenceErrorDetail{Code: code, Message: message, Microsoft: ms}})
}

// aadstsRe finds an AADSTS code in Microsoft's texts.
var aadstsRe = regexp.MustCompile(`AADSTS\d+`)

func microsoftError(e *presence.TokenError, secrets []string) *microsoftErrorJSON {
	ms := &microsoftErrorJSON{
		HTTPStatus:    e.Status,
		Error:         e.Code,
		ErrorCodes:    e.ErrorCodes,
		Description:   scrub(e.Description, secrets),
		TraceID:       e.TraceID,
		CorrelationID: e.CorrelationID,
	}
	if len(e.ErrorCodes) > 0 {
		ms.AADSTS = "AADSTS" + strconv.Itoa(e.ErrorCodes[0])
	} else {
		ms.AADSTS = aadstsRe.FindString(e.Description)
	}
	return ms
}

// scrub replaces every occurrence of the secrets in s.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// aadstsCode returns the AADSTS code Microsoft put in a text, or "".
func aadstsCode(s string) string { return aadstsRe.FindString(s) }
