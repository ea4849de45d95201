package api

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/store"
)

// RegisterConsentCallback adds presence.ConsentCallbackPath to r: the page
// Microsoft sends the admin's browser to after the admin-consent prompt.
// It takes no bearer token (a browser arrives, not an API client); the
// one-time state in the query is what authorises it. Register it where
// SCIMD_PUBLIC_URL reaches, since that is the redirect URI.
func (a *Admin) RegisterConsentCallback(r *mux.Router) {
	r.Handle(presence.ConsentCallbackPath, methods{http.MethodGet: a.consentCallback})
}

// consentPage is what the callback page shows.
type consentPage struct {
	OK      bool
	Title   string
	Message string
	Next    string
	Details []consentDetail
	// Continue links back to the directory in the admin console.
	Continue string
}

type consentDetail struct{ Name, Value string }

// consentTemplate is the callback page: self-contained (no scripts, no
// external resources), every value escaped by html/template.
var consentTemplate = template.Must(template.New("consent").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>scimd: {{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.5}
h1{font-size:1.4rem;margin-bottom:.5rem}
.ok{color:#0b6a0b}.fail{color:#a4262c}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;background:#f5f5f5;padding:1rem;border-radius:4px}
dt{font-weight:600}dd{margin:0;word-break:break-word;font-family:ui-monospace,monospace}
</style>
</head>
<body>
<h1 class="{{if .OK}}ok{{else}}fail{{end}}">{{.Title}}</h1>
<p>{{.Message}}</p>
{{- if .Details}}
<dl>
{{- range .Details}}
<dt>{{.Name}}</dt><dd>{{.Value}}</dd>
{{- end}}
</dl>
{{- end}}
{{- if .Next}}
<p>{{.Next}}</p>
{{- end}}
{{- if .Continue}}
<p><a href="{{.Continue}}">Continue in the scimd console</a></p>
{{- else}}
<p>You can close this window.</p>
{{- end}}
</body>
</html>
`))

// consentCallback completes the admin-consent flow and tells the admin,
// in a page, whether presence is now connected and if not, why. The query
// (state, tenant) is never logged.
func (a *Admin) consentCallback(w http.ResponseWriter, r *http.Request) {
	// The one-time state, not a bearer token, authorises this request:
	// the audit trail says so.
	ctx := store.WithActor(r.Context(), store.Actor{Type: store.ActorConsentCallback})
	if a.cfg.Presence == nil {
		writeConsentPage(w, http.StatusNotFound, consentPage{
			Title:   "Teams presence is not available",
			Message: "This scimd server runs without the presence service, so it cannot complete a consent.",
		})
		return
	}
	dirID, st, err := a.cfg.Presence.CompleteConsent(ctx, r.URL.Query())
	name := a.directoryName(r, dirID)

	var (
		consentErr *presence.ConsentError
		tokenErr   *presence.TokenError
		inputErr   *presence.InputError
	)
	switch {
	case err == nil:
		a.log.InfoContext(ctx, "presence consent completed", "directory_id", dirID, "state", st.State)
		p := consentPage{OK: st.State == store.PresenceConnected}
		if p.OK {
			p.Title = "Presence connected for directory " + name
			p.Message = "Microsoft granted consent and scimd read presence successfully. Contacts of this directory now show their Teams presence; the first values arrive within one poll interval."
		} else {
			p.Title = "Consent received for directory " + name
			p.Message = "Microsoft granted consent, but presence is not connected yet (state " + st.State + "). Consent can take a few minutes to reach Microsoft Graph; check the state with GET /admin/v1/directories/{id}/presence."
			if st.LastError != "" {
				p.Details = append(p.Details, consentDetail{"Last error", st.LastError})
			}
		}
		if st.TenantID != "" {
			p.Details = append([]consentDetail{{"Tenant", st.TenantID}}, p.Details...)
		}
		p.Continue = a.consoleLink(dirID)
		writeConsentPage(w, http.StatusOK, p)

	case errors.As(err, &consentErr):
		a.log.WarnContext(ctx, "presence consent refused by Microsoft", "directory_id", dirID,
			"ms_error", consentErr.Code, "aadsts", aadstsCode(consentErr.Description))
		p := consentPage{Title: "Presence was not connected" + forDirectory(name)}
		code := aadstsCode(consentErr.Description)
		if consentErr.Code == "access_denied" {
			if code == "" {
				code = "AADSTS65004"
			}
			p.Message = "The administrator declined consent (" + code + "), so scimd may not read Teams presence for this directory. Nothing was changed."
			p.Next = "To connect presence, a Global Administrator or Privileged Role Administrator of the tenant must accept the prompt: start again with POST /admin/v1/directories/{id}/presence/consent and open the new consentUrl."
		} else {
			p.Message = "Microsoft did not grant consent: " + consentErr.Code + "."
			p.Next = "Fix what Microsoft reports below, then start again with POST /admin/v1/directories/{id}/presence/consent."
		}
		p.Details = []consentDetail{{"Microsoft error", consentErr.Code}}
		if code != "" {
			p.Details = append(p.Details, consentDetail{"AADSTS code", code})
		}
		if consentErr.Description != "" {
			p.Details = append(p.Details, consentDetail{"Description", consentErr.Description})
		}
		p.Continue = a.consoleLink(dirID)
		writeConsentPage(w, http.StatusBadRequest, p)

	case errors.Is(err, presence.ErrUnknownState):
		a.log.WarnContext(ctx, "presence consent callback with an unknown or expired state", "remote_addr", r.RemoteAddr)
		writeConsentPage(w, http.StatusBadRequest, consentPage{
			Title:   "This consent link is unknown or has expired",
			Message: "scimd did not start this consent request, or it was started too long ago, or it was already used. Nothing was changed.",
			Next:    "Start again with POST /admin/v1/directories/{id}/presence/consent and open the new consentUrl.",
		})

	case errors.As(err, &tokenErr):
		ms := microsoftError(tokenErr, nil)
		a.log.WarnContext(ctx, "presence consent: Microsoft refused the token request", "directory_id", dirID,
			"http_status", ms.HTTPStatus, "ms_error", ms.Error, "aadsts", ms.AADSTS,
			"trace_id", ms.TraceID, "correlation_id", ms.CorrelationID)
		p := consentPage{
			Title:   "Presence was not connected" + forDirectory(name),
			Message: "Microsoft reported consent as granted, but then refused scimd's token request. Consent can take a few minutes to propagate; scimd keeps trying, so check the state with GET /admin/v1/directories/{id}/presence.",
			Details: []consentDetail{
				{"HTTP status", strconv.Itoa(ms.HTTPStatus) + " " + http.StatusText(ms.HTTPStatus)},
				{"Microsoft error", ms.Error},
			},
		}
		if ms.AADSTS != "" {
			p.Details = append(p.Details, consentDetail{"AADSTS code", ms.AADSTS})
		}
		p.Details = append(p.Details, consentDetail{"Description", firstLine(ms.Description)})
		if ms.TraceID != "" {
			p.Details = append(p.Details, consentDetail{"Trace ID", ms.TraceID})
		}
		if ms.CorrelationID != "" {
			p.Details = append(p.Details, consentDetail{"Correlation ID", ms.CorrelationID})
		}
		p.Continue = a.consoleLink(dirID)
		writeConsentPage(w, http.StatusBadRequest, p)

	case errors.As(err, &inputErr): // e.g. the identity platform could not be reached
		a.log.WarnContext(ctx, "presence consent: not verified", "directory_id", dirID, "err", err)
		writeConsentPage(w, http.StatusBadRequest, consentPage{
			Title:    "Presence was not connected" + forDirectory(name),
			Message:  "Microsoft reported consent as granted, but scimd could not verify it: " + inputErr.Error() + ". scimd keeps trying; check the state with GET /admin/v1/directories/{id}/presence.",
			Continue: a.consoleLink(dirID),
		})

	case errors.Is(err, store.ErrNotFound):
		writeConsentPage(w, http.StatusBadRequest, consentPage{
			Title:   "Presence was not connected",
			Message: "The directory this consent was requested for no longer exists. Nothing was changed.",
		})

	default:
		a.log.ErrorContext(ctx, "complete presence consent failed", "directory_id", dirID, "err", err)
		writeConsentPage(w, http.StatusInternalServerError, consentPage{
			Title:   "Presence was not connected",
			Message: "scimd failed to complete the consent (an internal error, logged for the operator). Try again in a moment.",
		})
	}
}

// directoryName is the directory's name for the page, else its id, else
// "".
func (a *Admin) directoryName(r *http.Request, id string) string {
	if id == "" {
		return ""
	}
	d, err := a.cfg.Store.GetDirectory(r.Context(), id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			a.log.WarnContext(r.Context(), "consent page: read directory", "directory_id", id, "err", err)
		}
		return id
	}
	return d.Name
}

func forDirectory(name string) string {
	if name == "" {
		return ""
	}
	return " for directory " + name
}

// firstLine drops the trace lines Microsoft appends to descriptions.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimRight(line, "\r")
}

// consoleLink is the console's page of the directory's presence setup,
// "" without a console or a directory.
func (a *Admin) consoleLink(dirID string) string {
	if a.cfg.ConsolePath == "" || dirID == "" {
		return ""
	}
	return a.cfg.ConsolePath + "/directories/" + dirID + "/setup/presence"
}

func writeConsentPage(w http.ResponseWriter, status int, p consentPage) {
	var buf bytes.Buffer
	if err := consentTemplate.Execute(&buf, p); err != nil {
		// Only a bug in the template gets here.
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
