package fakegraph

import (
	"cmp"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// graphScope is the only scope an app-only token for Graph may ask for.
const graphScope = "https://graph.microsoft.com/.default"

// aadError is a token endpoint failure. Clients branch on err; code and msg
// are for people, and Microsoft says they may change.
type aadError struct {
	status int
	err    string // OAuth error, e.g. "invalid_client"
	code   int    // AADSTS number
	msg    string // text after "AADSTS<code>: "
}

func aad(status int, err string, code int, format string, args ...any) *aadError {
	return &aadError{status, err, code, fmt.Sprintf(format, args...)}
}

// missing is Entra's answer to a required form field left out.
func missing(field string) *aadError {
	return aad(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: '%s'.", field)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	tenant := strings.ToLower(r.PathValue("tenant"))
	s.mu.Lock()
	s.stats.Requests++
	s.stats.TokenRequests++
	s.stats.PerTenantToken[tenant]++
	slow, _ := s.tokenSlow.next()
	s.mu.Unlock()
	if !wait(r, slow.delay) {
		return
	}
	tok, lifetime, e := s.grant(r, tenant)
	if e != nil {
		s.writeAADError(w, r, e)
		return
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	secs := int(lifetime / time.Second)
	writeJSON(w, "application/json; charset=utf-8", http.StatusOK, struct {
		TokenType    string `json:"token_type"`
		ExpiresIn    int    `json:"expires_in"`
		ExtExpiresIn int    `json:"ext_expires_in"`
		AccessToken  string `json:"access_token"`
	}{"Bearer", secs, secs, tok})
}

// grant runs the client credentials grant roughly in Entra's order: the
// service, the request, the tenant, the app, then its credential.
func (s *Server) grant(r *http.Request, tenant string) (string, time.Duration, *aadError) {
	s.mu.Lock()
	fault, failing := s.tokenFaults.next()
	app := s.app
	s.mu.Unlock()
	switch {
	case failing && (fault.status == http.StatusServiceUnavailable || fault.status == http.StatusGatewayTimeout):
		return "", 0, aad(fault.status, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
	case failing:
		return "", 0, aad(fault.status, "server_error", 50000, "There was an error issuing a token or an issue with our sign-in service.")
	case r.Method != http.MethodPost:
		return "", 0, aad(http.StatusBadRequest, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a %s request.", r.Method)
	case tenant == "common" || tenant == "consumers":
		return "", 0, aad(http.StatusBadRequest, "invalid_request", 9001023, "The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.")
	case !isGUID(tenant) && !strings.Contains(tenant, "."):
		return "", 0, aad(http.StatusBadRequest, "invalid_request", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)
	}

	r.ParseForm() // a bad body just leaves fields empty, as Entra then reports
	f := r.PostForm
	basicID, basicSecret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: both halves are form-encoded before Basic encoding.
		basicID, basicSecret = formUnescape(basicID), formUnescape(basicSecret)
	}
	clientID := cmp.Or(f.Get("client_id"), basicID)
	switch grant := f.Get("grant_type"); {
	case grant == "":
		return "", 0, missing("grant_type")
	case grant != "client_credentials":
		return "", 0, aad(http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'.", grant)
	case clientID == "":
		return "", 0, missing("client_id")
	case !strings.EqualFold(clientID, s.clientID) || app == appDeleted:
		return "", 0, aad(http.StatusBadRequest, "unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant)
	case app == spDeleted:
		return "", 0, aad(http.StatusUnauthorized, "invalid_client", 7000229, "The client application %s is missing service principal in the tenant %s. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119", clientID, tenant)
	case app == spDisabled:
		return "", 0, aad(http.StatusBadRequest, "unauthorized_client", 7000112, "Application '%s'(fakegraph) is disabled.", clientID)
	case f.Get("scope") != graphScope:
		return "", 0, aad(http.StatusBadRequest, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", f.Get("scope"))
	}

	var e *aadError
	if f.Get("client_assertion_type") == jwtBearer {
		e = s.checkAssertion(f.Get("client_assertion"), clientID, tokenURL(r))
	} else {
		e = s.checkSecret(cmp.Or(f.Get("client_secret"), basicSecret), clientID)
	}
	if e != nil {
		return "", 0, e
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for t, exp := range s.tokens { // keep the map small in long runs
		if !now.Before(exp) {
			delete(s.tokens, t)
		}
	}
	tok := rand.Text() + rand.Text()
	s.tokens[tok] = now.Add(s.lifetime)
	return tok, s.lifetime, nil
}

func (s *Server) checkSecret(secret, clientID string) *aadError {
	s.mu.Lock()
	want, expired := s.secret, s.secretExpired
	s.mu.Unlock()
	switch {
	case secret == "":
		return aad(http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	case subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1:
		return aad(http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)
	case expired:
		return aad(http.StatusUnauthorized, "invalid_client", 7000222, "The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", clientID)
	}
	return nil
}

// writeAADError writes e as the identity platform does, with the trace and
// correlation ids that an admin would quote to Microsoft support.
func (s *Server) writeAADError(w http.ResponseWriter, r *http.Request, e *aadError) {
	stamp := s.now().UTC().Format("2006-01-02 15:04:05Z")
	trace, corr := newGUID(), headerGUID(r, "client-request-id")
	writeJSON(w, "application/json; charset=utf-8", e.status, struct {
		Error         string `json:"error"`
		Description   string `json:"error_description"`
		Codes         []int  `json:"error_codes"`
		Timestamp     string `json:"timestamp"`
		TraceID       string `json:"trace_id"`
		CorrelationID string `json:"correlation_id"`
		URI           string `json:"error_uri"`
	}{
		Error:         e.err,
		Description:   fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", e.code, e.msg, trace, corr, stamp),
		Codes:         []int{e.code},
		Timestamp:     stamp,
		TraceID:       trace,
		CorrelationID: corr,
		URI:           fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", e.code),
	})
}

// tokenURL is the URL the client posted to, the audience its assertion must name.
func tokenURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path
}

func formUnescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}
