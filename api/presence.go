package api

import (
	"context"
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

// MicrosoftError is what Microsoft's identity platform said when it
// refused a token request, field by field, so that the admin can search
// for the AADSTS code or quote the trace and correlation ids to Microsoft
// support.
type MicrosoftError struct {
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
	Code      string          `json:"code"`
	Message   string          `json:"message"`
	Microsoft *MicrosoftError `json:"microsoft,omitempty"`
}

// errPresenceUnavailable answers the presence operations of a server
// that runs without the presence service.
var errPresenceUnavailable = newProblem(http.StatusServiceUnavailable, "presence_unavailable",
	"Teams presence is not available on this server: it runs without the presence service")

func writePresenceUnavailable(w http.ResponseWriter) {
	WriteError(w, errPresenceUnavailable.Status, errPresenceUnavailable.Code, errPresenceUnavailable.Message)
}

// PresenceAvailable reports whether the server runs the presence service.
func (a *Admin) PresenceAvailable() bool { return a.cfg.Presence != nil }

// ConsentAvailable reports whether scimd's own multi-tenant app is
// configured, for the admin-consent flow.
func (a *Admin) ConsentAvailable() bool {
	return a.cfg.Presence != nil && a.cfg.Presence.ConsentEnabled()
}

// ConnectPresence connects the directory's presence with the customer's
// app and returns the resulting status. scimd asks Microsoft for a token
// at once, so a wrong secret is reported here, with Microsoft's own words.
func (a *Admin) ConnectPresence(ctx context.Context, directoryID string, c presence.Credentials) (presence.Status, error) {
	if a.cfg.Presence == nil {
		return presence.Status{}, errPresenceUnavailable
	}
	c.TenantID, c.ClientID = strings.TrimSpace(c.TenantID), strings.TrimSpace(c.ClientID)
	st, err := a.cfg.Presence.Connect(ctx, directoryID, c)
	if err != nil {
		return st, a.presenceProblem(ctx, "connect presence", directoryID, err, c.ClientSecret, c.PrivateKey)
	}
	a.log.InfoContext(ctx, "presence connected", "directory_id", directoryID, "state", st.State, "credential", st.Credential)
	return st, nil
}

// PresenceStatus returns the directory's presence connection.
func (a *Admin) PresenceStatus(ctx context.Context, directoryID string) (presence.Status, error) {
	if a.cfg.Presence == nil {
		return presence.Status{}, errPresenceUnavailable
	}
	st, err := a.cfg.Presence.Status(ctx, directoryID)
	if err != nil {
		return st, a.presenceProblem(ctx, "read presence status", directoryID, err)
	}
	return st, nil
}

// RevokePresence revokes the directory's presence: credentials and
// stored presence are deleted. It is idempotent; the answer lists what
// is left to do in Entra.
func (a *Admin) RevokePresence(ctx context.Context, directoryID string) (presence.RevokeResult, error) {
	if a.cfg.Presence == nil {
		return presence.RevokeResult{}, errPresenceUnavailable
	}
	res, err := a.cfg.Presence.Revoke(ctx, directoryID)
	if err != nil {
		return res, a.presenceProblem(ctx, "revoke presence", directoryID, err)
	}
	a.log.InfoContext(ctx, "presence revoked", "directory_id", directoryID,
		"credentials_deleted", res.CredentialsDeleted, "presence_rows_cleared", res.PresenceRowsCleared)
	return res, nil
}

// StartConsent returns the URL of Microsoft's admin-consent prompt for
// scimd's own multi-tenant app; the admin opens it in a browser and
// Microsoft sends the browser back to the consent callback. The URL
// carries the one-time state that the callback checks.
func (a *Admin) StartConsent(ctx context.Context, directoryID string) (string, error) {
	if a.cfg.Presence == nil {
		return "", errPresenceUnavailable
	}
	if err := a.directoryFound(ctx, directoryID); err != nil { // an unknown directory is 404 before any setting
		return "", err
	}
	u, err := a.cfg.Presence.ConsentURL(ctx, directoryID)
	if err != nil {
		return "", a.presenceProblem(ctx, "start presence consent", directoryID, err)
	}
	a.log.InfoContext(ctx, "presence consent started", "directory_id", directoryID)
	return u, nil
}

func (a *Admin) putPresence(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	if a.cfg.Presence == nil {
		a.fail(w, r, "connect presence", errPresenceUnavailable)
		return
	}
	var req presenceRequest
	if !a.decode(w, r, &req) {
		return
	}
	st, err := a.ConnectPresence(r.Context(), id, presence.Credentials{
		TenantID:     req.TenantID,
		ClientID:     req.ClientID,
		ClientSecret: req.ClientSecret,
		Certificate:  req.Certificate,
		PrivateKey:   req.PrivateKey,
	})
	if err != nil {
		a.fail(w, r, "connect presence", err, "directory_id", id)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, st)
}

func (a *Admin) getPresence(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	st, err := a.PresenceStatus(r.Context(), id)
	if err != nil {
		a.fail(w, r, "read presence status", err, "directory_id", id)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, st)
}

func (a *Admin) deletePresence(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	res, err := a.RevokePresence(r.Context(), id)
	if err != nil {
		a.fail(w, r, "revoke presence", err, "directory_id", id)
		return
	}
	WriteJSON(w, http.StatusOK, res)
}

func (a *Admin) startConsent(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	if _, ok := queryParams(w, r); !ok {
		return
	}
	u, err := a.StartConsent(r.Context(), id)
	if err != nil {
		a.fail(w, r, "start presence consent", err, "directory_id", id)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, consentJSON{ConsentURL: u})
}

// presenceProblem turns an error of the presence service into the
// admin API's answer. secrets are what the request carried; they are
// scrubbed from anything Microsoft echoes (it does not today, but its
// texts are not ours). Internal errors come back as they are.
func (a *Admin) presenceProblem(ctx context.Context, op, dirID string, err error, secrets ...string) error {
	var (
		input    *presence.InputError
		tokenErr *presence.TokenError
		graphErr *presence.GraphError
	)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return newProblem(http.StatusNotFound, "not_found", "directory not found")
	case errors.Is(err, presence.ErrNoKey):
		return newProblem(http.StatusBadRequest, "no_secret_key", presence.ErrNoKey.Error())
	case errors.Is(err, presence.ErrNoServiceApp):
		return newProblem(http.StatusConflict, "no_service_app", presence.ErrNoServiceApp.Error())
	case errors.As(err, &input):
		return newProblem(http.StatusBadRequest, "invalid_credentials", scrub(input.Error(), secrets))
	case errors.As(err, &tokenErr):
		ms := microsoftError(tokenErr, secrets)
		a.log.WarnContext(ctx, op+": Microsoft refused the token request", "directory_id", dirID,
			"http_status", ms.HTTPStatus, "ms_error", ms.Error, "aadsts", ms.AADSTS,
			"trace_id", ms.TraceID, "correlation_id", ms.CorrelationID)
		p := newProblem(http.StatusBadRequest, "microsoft_refused", scrub(tokenErr.Error(), secrets))
		p.Microsoft = ms
		return p
	case errors.As(err, &graphErr):
		a.log.WarnContext(ctx, op+": Microsoft Graph refused", "directory_id", dirID,
			"http_status", graphErr.Status, "graph_code", graphErr.Code)
		return newProblem(http.StatusBadGateway, "graph_error", scrub(graphErr.Error(), secrets))
	}
	return err
}

func writePresenceError(w http.ResponseWriter, status int, code, message string, ms *MicrosoftError) {
	WriteJSON(w, status, presenceErrorBody{Error: presenceErrorDetail{Code: code, Message: message, Microsoft: ms}})
}

// aadstsRe finds an AADSTS code in Microsoft's texts.
var aadstsRe = regexp.MustCompile(`AADSTS\d+`)

func microsoftError(e *presence.TokenError, secrets []string) *MicrosoftError {
	ms := &MicrosoftError{
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
