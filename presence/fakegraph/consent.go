package fakegraph

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
)

// fakeTenantID stands for the tenant of an admin who consented through a
// domain or "organizations" path, since the fake knows no real tenants.
const fakeTenantID = "22222222-2222-2222-2222-222222222222"

// adminConsent serves the v2 and v1 admin-consent pages as if a Global
// Administrator had answered them, granting consent unless DenyConsent.
func (s *Server) adminConsent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID, redirect := q.Get("client_id"), q.Get("redirect_uri")
	s.mu.Lock()
	appFound := strings.EqualFold(clientID, s.clientID) && s.app != appDeleted
	denied := s.consentDenied
	s.mu.Unlock()

	u, err := url.Parse(redirect)
	switch {
	case clientID == "":
		consentPage(w, 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	case !appFound:
		consentPage(w, 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, r.PathValue("tenant")))
		return
	case redirect == "" || err != nil || !u.IsAbs():
		consentPage(w, 900144, "The request body must contain the following parameter: 'redirect_uri'.")
		return
	}

	// Entra writes lower-case percent escapes, as in its documented examples.
	var params []string
	add := func(k, v string) { params = append(params, k+"="+msEscape(v)) }
	if denied {
		add("error", "access_denied")
		add("error_description", "AADSTS65004: User declined to consent to access the app.")
	} else {
		tenant := strings.ToLower(r.PathValue("tenant"))
		if !isGUID(tenant) {
			tenant = fakeTenantID
		}
		add("admin_consent", "True")
		add("tenant", tenant)
		s.locked(func() { s.consentOff = false })
	}
	if q.Has("state") {
		add("state", q.Get("state"))
	}
	if !denied && strings.HasSuffix(r.URL.Path, "/v2.0/adminconsent") {
		add("scope", graphScope) // v1 answers without scope
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += strings.Join(params, "&")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// consentPage is the error page Entra shows the admin instead of redirecting.
func consentPage(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body><p>AADSTS%d: %s</p></body></html>\n", code, html.EscapeString(msg))
}

// msEscape is url.QueryEscape with lower-case hex digits.
func msEscape(s string) string {
	b := []byte(url.QueryEscape(s))
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lowerHex(b[i+1]), lowerHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lowerHex(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}
