// Package presence reads Microsoft Teams presence from Microsoft Graph for
// the contacts of every directory whose admin connected it: app-only
// tokens per tenant, getPresencesByUserId in batches of 650, a poller per
// directory, connection states and revocation. docs/GRAPH-PRESENCE.md is the
// design; fakegraph is the fake Graph used by the tests.
package presence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/store"
)

// Defaults of Config.
const (
	DefaultLoginURL = "https://login.microsoftonline.com"
	DefaultGraphURL = "https://graph.microsoft.com"
	DefaultInterval = 30 * time.Second
)

// ConsentCallbackPath is where Microsoft sends the admin back after the
// admin-consent prompt; the service app's redirect URI is PublicURL plus
// this path.
const ConsentCallbackPath = "/presence/consent/callback"

// Config configures a Service.
type Config struct {
	Store store.Store
	// Key seals stored credentials (AES-256-GCM); nil refuses to store
	// any (Connect answers ErrNoKey).
	Key        []byte
	LoginURL   string        // DefaultLoginURL when empty
	GraphURL   string        // DefaultGraphURL when empty
	Interval   time.Duration // DefaultInterval when zero
	HTTPClient *http.Client  // a client with a 30 s timeout when nil
	// AppClientID and AppClientSecret are scimd's own multi-tenant app,
	// for the admin-consent flow; empty disables that flow.
	AppClientID, AppClientSecret string
	PublicURL                    string // builds the consent redirect URI
	Logger                       *slog.Logger
	Registerer                   prometheus.Registerer // nil: no metrics
	Now                          func() time.Time      // time.Now when nil
	// Shared, when set, is the store's side shared with other scimd
	// processes (store/postgres): each directory is then polled by the
	// one process holding its lease, and the stream serves the changes
	// any process recorded (cluster.go). Nil: this process polls every
	// connected directory and streams what it polls.
	Shared store.Shared
	// LeaseTTL is how long a poller's lease outlives its holder's last
	// renewal, so another process takes a dead one's directories over
	// within about 1.3 of it; the Interval (at least a second) when zero.
	LeaseTTL time.Duration
}

// Credentials connect a directory through the customer's own app
// registration: a client secret, or a certificate and its private key.
type Credentials struct {
	TenantID     string `json:"tenantId"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret,omitempty"`
	Certificate  string `json:"certificate,omitempty"` // PEM; may also hold the key
	PrivateKey   string `json:"privateKey,omitempty"`  // PEM (PKCS#8 or PKCS#1 RSA)
}

// Status is a directory's presence connection as the admin API shows it.
// It never holds a secret.
type Status struct {
	State              string     `json:"state"` // a store.Presence* state, or "not_connected"
	Credential         string     `json:"credential,omitempty"`
	TenantID           string     `json:"tenantId,omitempty"`
	ClientID           string     `json:"clientId,omitempty"`
	LastSuccessfulPoll *time.Time `json:"lastSuccessfulPoll"`
	ContactsPolled     int        `json:"contactsPolled"`
	SkippedContacts    int        `json:"skippedContacts"` // object ids that are not GUIDs
	LastError          string     `json:"lastError,omitempty"`
	Interval           string     `json:"pollInterval"`
}

// NotConnected is Status.State for a directory that never connected.
const NotConnected = "not_connected"

// RevokeResult answers a revocation.
type RevokeResult struct {
	State               string   `json:"state"`
	CredentialsDeleted  bool     `json:"credentialsDeleted"`
	PresenceRowsCleared int64    `json:"presenceRowsCleared"`
	AzureSideActions    []string `json:"azureSideActions"`
}

// ContactPresence is the presence the lookup API serves with a contact.
type ContactPresence struct {
	Availability string    `json:"availability"`
	Activity     string    `json:"activity"`
	ObservedAt   time.Time `json:"observedAt"`
	Stale        bool      `json:"stale"`
}

// Event is one presence change of a contact, as the stream sends it.
// Presence is nil when the contact's presence was cleared.
type Event struct {
	ID        string           `json:"-"`
	ContactID string           `json:"contactId"`
	Presence  *ContactPresence `json:"presence"`
}

// Errors of the admin operations; the API turns them into 400s (or 404
// for store.ErrNotFound) with their message.
var (
	ErrNoKey        = errors.New("SCIMD_SECRET_KEY is not set to 32 random bytes in standard base64 (e.g. `head -c 32 /dev/urandom | base64`): scimd will not store a Graph credential unencrypted")
	ErrNoServiceApp = errors.New("the admin-consent flow needs scimd's own multi-tenant app: set SCIMD_PRESENCE_CLIENT_ID and SCIMD_PRESENCE_CLIENT_SECRET, or connect with the customer's app (tenantId, clientId, clientSecret)")
)

// InputError is a request the admin must fix (a missing field, a bad
// certificate); its message says what.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Service connects directories to Graph and polls their presence.
type Service struct {
	cfg     Config
	log     *slog.Logger
	box     *box // nil without a key
	hub     *hub
	tokens  *tokens
	graph   *graphClient
	metrics *metrics

	mu      sync.Mutex
	pollers map[string]*poller     // by directory id
	gates   map[string]*tenantGate // by tenant and app
	runCtx  context.Context        // set by Run; nil before
	wg      sync.WaitGroup

	// Several processes (cluster.go).
	shared   store.Shared
	owner    string // this process as a lease owner
	leaseTTL time.Duration

	// views holds what the lookup API needs per directory without a query:
	// its state and the end of its last complete cycle.
	views sync.Map // directory id → view
}

type view struct {
	state    string
	lastPoll time.Time
}

// ErrUnknownState: the consent redirect's state is not one scimd issued,
// or it expired.
var ErrUnknownState = errors.New("this admin-consent link is unknown or expired: start the consent again from scimd")

// ConsentError is Microsoft's refusal in the admin-consent redirect.
type ConsentError struct {
	Code        string // e.g. access_denied
	Description string // e.g. AADSTS65004: User declined to consent ...
}

func (e *ConsentError) Error() string {
	if e.Code == "access_denied" {
		return "the administrator declined consent: " + e.Description
	}
	return "admin consent failed (" + e.Code + "): " + e.Description
}

// consentTTL bounds how long an admin-consent link works.
const consentTTL = time.Hour

// New returns a Service; Run starts its pollers.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("presence: no store")
	}
	if cfg.LoginURL == "" {
		cfg.LoginURL = DefaultLoginURL
	}
	if cfg.GraphURL == "" {
		cfg.GraphURL = DefaultGraphURL
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = max(cfg.Interval, time.Second)
	}
	owner, _ := store.NewToken("")
	s := &Service{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "presence"),
		shared:   cfg.Shared,
		owner:    owner,
		leaseTTL: cfg.LeaseTTL,
		graph:    &graphClient{hc: cfg.HTTPClient, base: cfg.GraphURL, now: cfg.Now},
		metrics:  newMetrics(cfg.Registerer),
		pollers:  map[string]*poller{},
		gates:    map[string]*tenantGate{},
	}
	s.hub = newHub(4096, cfg.Shared, s.changeEvent)
	s.tokens = &tokens{hc: cfg.HTTPClient, loginURL: cfg.LoginURL, now: cfg.Now, m: map[string]token{},
		fetched: s.metrics.tokenRequests.Inc}
	if len(cfg.Key) > 0 {
		b, err := newBox(cfg.Key)
		if err != nil {
			return nil, err
		}
		s.box = b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	links, err := cfg.Store.ListPresenceLinks(ctx)
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	for _, l := range links {
		s.setView(l.DirectoryID, l)
	}
	return s, nil
}

func (s *Service) now() time.Time          { return s.cfg.Now() }
func (s *Service) interval() time.Duration { return s.cfg.Interval }

func (s *Service) setView(directoryID string, l store.PresenceLink) {
	s.views.Store(directoryID, view{state: l.State, lastPoll: l.LastPoll})
	s.metrics.setState(directoryID, l.State)
	if !l.LastPoll.IsZero() {
		s.metrics.newest.WithLabelValues(directoryID).Set(float64(l.LastPoll.UnixNano()) / 1e9)
	}
}

// Run starts a poller for every connected directory and stops them all
// when ctx ends.
func (s *Service) Run(ctx context.Context) error {
	// Running first, then listing: a directory connected meanwhile is
	// started by Connect or found by the list (start skips duplicates).
	s.mu.Lock()
	s.runCtx = ctx
	s.mu.Unlock()
	links, err := s.cfg.Store.ListPresenceLinks(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Error("presence: cannot list connected directories; polling none", "err", err)
	}
	for _, l := range links {
		s.start(l)
	}
	var bg sync.WaitGroup
	if s.shared != nil {
		bg.Go(func() { s.coordinate(ctx) })
		bg.Go(func() { s.follow(ctx) })
	}
	<-ctx.Done()
	bg.Wait()
	s.mu.Lock()
	s.runCtx = nil
	ps := s.pollers
	s.pollers = map[string]*poller{}
	s.mu.Unlock()
	for dir, p := range ps {
		p.cancel()
		<-p.done
		s.release(dir) // another process takes the directory over at once
	}
	s.hub.closeAll()
	return nil
}

// Polls reports whether this process polls the directory: with several
// processes, whether it holds the directory's lease.
func (s *Service) Polls(directoryID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pollers[directoryID] != nil
}

// wantsPoller reports whether a link's state is one a poller serves.
func wantsPoller(l store.PresenceLink) bool {
	switch l.State {
	case store.PresenceConnected, store.PresenceNeedsAdmin:
		return true
	case store.PresenceNeedsConsent:
		return l.TenantID != "" // else waiting for the admin-consent redirect
	}
	return false
}

// start runs a poller for l if its state wants one, the service runs and,
// with several processes, this one holds the directory's lease.
func (s *Service) start(l store.PresenceLink) {
	if !wantsPoller(l) {
		return
	}
	s.mu.Lock()
	runCtx := s.runCtx
	running := runCtx != nil && s.pollers[l.DirectoryID] != nil
	s.mu.Unlock()
	if runCtx == nil || running {
		return
	}
	leased := time.Now()
	if !s.lease(runCtx, l.DirectoryID) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx == nil || s.pollers[l.DirectoryID] != nil {
		return
	}
	cred, err := s.credential(l)
	if err != nil {
		s.log.Error("presence: cannot use the stored credential", "directory", l.DirectoryID, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(s.runCtx)
	p := &poller{
		s: s, dir: l.DirectoryID, link: l, setup: l, leased: leased, cred: cred, gate: s.gate(l.TenantID, l.ClientID),
		log: s.log.With("directory", l.DirectoryID), cancel: cancel, done: make(chan struct{}),
	}
	s.pollers[l.DirectoryID] = p
	go p.run(ctx)
}

// stop stops the directory's poller and waits for it: an in-flight batch
// is cancelled and its result discarded. With several processes it gives
// up the directory's lease too.
func (s *Service) stop(directoryID string) {
	if s.halt(directoryID) {
		s.release(directoryID)
	}
}

// halt stops the directory's poller, if this process runs one, and
// reports whether it did.
func (s *Service) halt(directoryID string) bool {
	s.mu.Lock()
	p := s.pollers[directoryID]
	delete(s.pollers, directoryID)
	s.mu.Unlock()
	if p == nil {
		return false
	}
	p.cancel()
	<-p.done
	return true
}

func (s *Service) gate(tenant, clientID string) *tenantGate {
	k := tokenKey(tenant, clientID)
	g := s.gates[k]
	if g == nil {
		g = &tenantGate{}
		s.gates[k] = g
	}
	return g
}

// credential opens l's sealed credential (the service app's secret for
// consent links).
func (s *Service) credential(l store.PresenceLink) (credential, error) {
	if l.Credential == store.CredentialServiceApp {
		if s.cfg.AppClientID == "" || l.ClientID != s.cfg.AppClientID {
			return credential{}, errors.New("the directory consented to scimd's multi-tenant app, which is no longer configured (SCIMD_PRESENCE_CLIENT_ID)")
		}
		return credential{Secret: s.cfg.AppClientSecret}, nil
	}
	if s.box == nil {
		return credential{}, ErrNoKey
	}
	plain, err := s.box.open(l.DirectoryID, l.Sealed)
	if err != nil {
		return credential{}, err
	}
	var c credential
	if err := json.Unmarshal(plain, &c); err != nil {
		return credential{}, errUnseal
	}
	return c, nil
}

// Connect connects a directory with the customer's own app registration:
// it requests a token at once (a refusal is returned as *TokenError), asks
// Graph about one contact to learn whether consent was granted, stores the
// sealed credential and starts polling.
func (s *Service) Connect(ctx context.Context, directoryID string, c Credentials) (Status, error) {
	if _, err := s.cfg.Store.GetDirectory(ctx, directoryID); err != nil {
		return Status{}, err
	}
	var problems []string
	if !validTenant(c.TenantID) {
		problems = append(problems, "tenantId must be the tenant's GUID or a verified domain name")
	}
	if _, ok := objectID(c.ClientID); !ok {
		problems = append(problems, "clientId must be the app registration's application (client) id, a GUID")
	}
	var cred credential
	kind := store.CredentialSecret
	switch {
	case c.ClientSecret != "" && c.Certificate != "":
		problems = append(problems, "give clientSecret or certificate, not both")
	case c.ClientSecret != "":
		cred.Secret = c.ClientSecret
	case c.Certificate != "":
		var err error
		if cred, err = parseCertificate(c.Certificate, c.PrivateKey); err != nil {
			problems = append(problems, err.Error())
		}
		kind = store.CredentialCertificate
	default:
		problems = append(problems, "clientSecret (the secret's value, not its id) or certificate (PEM, with privateKey) is required")
	}
	if len(problems) > 0 {
		return Status{}, &InputError{strings.Join(problems, "; ")}
	}
	if s.box == nil {
		return Status{}, ErrNoKey
	}
	tenant := strings.ToLower(c.TenantID)
	clientID, _ := objectID(c.ClientID)
	l := store.PresenceLink{DirectoryID: directoryID, TenantID: tenant, ClientID: clientID, Credential: kind}
	state, lastErr, err := s.verify(ctx, l, cred)
	if err != nil {
		return Status{}, err
	}
	plain, _ := json.Marshal(cred)
	l.Sealed = s.box.seal(directoryID, plain)
	l.State, l.LastError = state, lastErr
	s.stop(directoryID)
	ev := store.SyncEvent{Operation: store.SyncConnect, ResourceType: "Presence", Identity: tenant,
		Result: "presence connected with app " + clientID + " (" + kind + "); state " + state}
	actx, _ := store.Audited(ctx, store.AuditPresenceConnected, map[string]string{
		"tenantId": tenant, "clientId": clientID, "credential": kind, "state": state})
	if err := s.cfg.Store.PutPresenceLink(actx, l, ev); err != nil {
		return Status{}, err
	}
	s.setView(directoryID, l)
	s.start(l)
	return s.Status(ctx, directoryID)
}

// verify requests a fresh token and asks Graph about one contact. A token
// refusal is an error; a 403 from Graph means consent is missing.
func (s *Service) verify(ctx context.Context, l store.PresenceLink, cred credential) (state, lastErr string, err error) {
	s.tokens.forget(l.TenantID, l.ClientID)
	tok, err := s.tokens.get(ctx, l.TenantID, l.ClientID, cred)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			return "", "", te
		}
		return "", "", &InputError{"cannot reach the Microsoft identity platform: " + err.Error()}
	}
	targets, err := s.cfg.Store.PresenceTargets(ctx, l.DirectoryID)
	if err != nil {
		return "", "", err
	}
	for _, t := range targets {
		oid, ok := objectID(t.ObjectID)
		if !ok {
			continue
		}
		_, err := s.graph.presences(ctx, tok, []string{oid})
		var ge *GraphError
		if errors.As(err, &ge) && ge.Status == http.StatusForbidden {
			return store.PresenceNeedsConsent, "Graph refused presence (403): grant admin consent for the application permission Presence.Read.All: " + ge.Error(), nil
		}
		break // any other outcome is the poller's to handle
	}
	return store.PresenceConnected, "", nil
}

// validTenant accepts a GUID or a domain name; "common" and the other
// aliases do not work for app-only tokens.
func validTenant(t string) bool {
	if _, ok := objectID(t); ok {
		return true
	}
	if !strings.Contains(t, ".") || len(t) > 253 {
		return false
	}
	for _, r := range t {
		if !(r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// ConsentEnabled reports whether scimd's own multi-tenant app is
// configured, so that ConsentURL can start the admin-consent flow.
func (s *Service) ConsentEnabled() bool {
	return s.cfg.AppClientID != "" && s.cfg.AppClientSecret != ""
}

// ConsentURL starts the admin-consent flow of scimd's multi-tenant app
// for a directory and returns the URL to open as a Global Administrator.
func (s *Service) ConsentURL(ctx context.Context, directoryID string) (string, error) {
	if s.cfg.AppClientID == "" || s.cfg.AppClientSecret == "" {
		return "", ErrNoServiceApp
	}
	if _, err := s.cfg.Store.GetDirectory(ctx, directoryID); err != nil {
		return "", err
	}
	state, stateHash := store.NewToken("")
	s.stop(directoryID)
	l, err := s.cfg.Store.GetPresenceLink(ctx, directoryID)
	if errors.Is(err, store.ErrNotFound) || err == nil && l.State == store.PresenceRevoked {
		l = store.PresenceLink{DirectoryID: directoryID, State: store.PresenceNeedsConsent, Credential: store.CredentialServiceApp}
	} else if err != nil {
		return "", err
	}
	l.ConsentStateHash, l.ConsentExpires = stateHash, s.now().Add(consentTTL)
	actx, _ := store.Audited(ctx, store.AuditPresenceConsentStarted, map[string]any{
		"clientId": s.cfg.AppClientID, "consentExpires": l.ConsentExpires.UTC()})
	if err := s.cfg.Store.PutPresenceLink(actx, l, store.SyncEvent{}); err != nil {
		return "", err
	}
	s.setView(directoryID, l)
	s.start(l) // a directory already connected keeps polling
	q := url.Values{
		"client_id":    {s.cfg.AppClientID},
		"scope":        {graphScope},
		"redirect_uri": {strings.TrimRight(s.cfg.PublicURL, "/") + ConsentCallbackPath},
		"state":        {state},
	}
	return strings.TrimRight(s.cfg.LoginURL, "/") + "/organizations/v2.0/adminconsent?" + q.Encode(), nil
}

// CompleteConsent handles the redirect back from the admin-consent prompt.
// The tenant is trusted only after the state matched and a token for it
// was issued.
func (s *Service) CompleteConsent(ctx context.Context, q url.Values) (string, Status, error) {
	st := q.Get("state")
	if st == "" {
		return "", Status{}, ErrUnknownState
	}
	l, err := s.cfg.Store.PresenceLinkByConsentState(ctx, store.HashToken(st))
	if errors.Is(err, store.ErrNotFound) || err == nil && s.now().After(l.ConsentExpires) {
		return "", Status{}, ErrUnknownState
	}
	if err != nil {
		return "", Status{}, err
	}
	dir := l.DirectoryID
	s.stop(dir)
	defer func() { s.start(l) }()
	l.ConsentStateHash, l.ConsentExpires = nil, time.Time{} // one use
	if code := q.Get("error"); code != "" {
		ce := &ConsentError{Code: code, Description: q.Get("error_description")}
		l.LastError = ce.Error()
		if err := s.cfg.Store.PutPresenceLink(ctx, l, store.SyncEvent{}); err != nil {
			return dir, Status{}, err
		}
		s.setView(dir, l)
		return dir, Status{}, ce
	}
	tenant, ok := objectID(q.Get("tenant"))
	if !ok || !strings.EqualFold(q.Get("admin_consent"), "true") {
		return dir, Status{}, &ConsentError{Code: "invalid_response", Description: "the redirect carries neither an error nor admin_consent=True with a tenant id"}
	}
	l = store.PresenceLink{DirectoryID: dir, TenantID: tenant, ClientID: s.cfg.AppClientID, Credential: store.CredentialServiceApp}
	state, lastErr, verr := s.verify(ctx, l, credential{Secret: s.cfg.AppClientSecret})
	if verr != nil {
		// Consent can take minutes to reach the token service: keep the
		// tenant and let the poller probe.
		state, lastErr = store.PresenceNeedsConsent, verr.Error()
	}
	l.State, l.LastError = state, lastErr
	ev := store.SyncEvent{Operation: store.SyncConnect, ResourceType: "Presence", Identity: tenant,
		Result: "admin consent granted for scimd's app; state " + state}
	// Only this write is audited: a refused or malformed consent changed
	// nothing the admin asked for.
	actx, _ := store.Audited(ctx, store.AuditPresenceConsentCompleted, map[string]string{
		"tenantId": tenant, "clientId": s.cfg.AppClientID, "credential": store.CredentialServiceApp, "state": state})
	if err := s.cfg.Store.PutPresenceLink(actx, l, ev); err != nil {
		return dir, Status{}, err
	}
	s.setView(dir, l)
	if verr != nil {
		return dir, Status{}, verr
	}
	status, err := s.status(l)
	return dir, status, err
}

// Status returns the directory's presence connection.
func (s *Service) Status(ctx context.Context, directoryID string) (Status, error) {
	if _, err := s.cfg.Store.GetDirectory(ctx, directoryID); err != nil {
		return Status{}, err
	}
	l, err := s.cfg.Store.GetPresenceLink(ctx, directoryID)
	if errors.Is(err, store.ErrNotFound) {
		return Status{State: NotConnected, Interval: s.cfg.Interval.String()}, nil
	}
	if err != nil {
		return Status{}, err
	}
	return s.status(l)
}

func (s *Service) status(l store.PresenceLink) (Status, error) {
	st := Status{State: l.State, Credential: l.Credential, TenantID: l.TenantID, ClientID: l.ClientID,
		ContactsPolled: l.ContactsPolled, SkippedContacts: l.Skipped, LastError: l.LastError,
		Interval: s.cfg.Interval.String()}
	if !l.LastPoll.IsZero() {
		t := l.LastPoll
		st.LastSuccessfulPoll = &t
	}
	if l.State == store.PresenceConnected || l.State == store.PresenceNeedsAdmin {
		if _, err := s.credential(l); err != nil {
			st.State, st.LastError = store.PresenceError, err.Error()
		}
	}
	return st, nil
}

// Revoke stops polling the directory (an in-flight batch is cancelled and
// its result discarded), deletes its credentials and tenant binding,
// clears its stored presence and records the action. Calling it again is
// harmless.
func (s *Service) Revoke(ctx context.Context, directoryID string) (RevokeResult, error) {
	if _, err := s.cfg.Store.GetDirectory(ctx, directoryID); err != nil {
		return RevokeResult{}, err
	}
	s.views.Store(directoryID, view{state: store.PresenceRevoked}) // reads show null at once
	s.stop(directoryID)
	old, err := s.cfg.Store.GetPresenceLink(ctx, directoryID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return RevokeResult{}, err
	}
	if old.TenantID != "" {
		s.tokens.forget(old.TenantID, old.ClientID)
	}
	deleted := len(old.Sealed) > 0 || old.TenantID != ""
	l := store.PresenceLink{DirectoryID: directoryID, State: store.PresenceRevoked}
	result := "presence revoked: polling stopped"
	if deleted {
		result += "; credentials and tenant binding deleted"
	}
	ev := store.SyncEvent{Operation: store.SyncRevoke, ResourceType: "Presence", Identity: old.TenantID}
	actx, _ := store.Audited(ctx, store.AuditPresenceRevoked, map[string]any{
		"tenantId": old.TenantID, "clientId": old.ClientID, "credential": old.Credential, "credentialsDeleted": deleted})
	n, err := s.cfg.Store.RevokePresence(actx, l, func() store.SyncEvent {
		ev.Result = result + "; stored presence cleared"
		return ev
	}())
	if err != nil {
		return RevokeResult{}, err
	}
	s.setView(directoryID, l)
	s.hub.forget(directoryID)
	return RevokeResult{State: store.PresenceRevoked, CredentialsDeleted: deleted, PresenceRowsCleared: n,
		AzureSideActions: s.azureSideActions(old)}, nil
}

// azureSideActions are what the customer's admin must still do in Entra:
// scimd can forget the credential, only the tenant can withdraw the grant.
func (s *Service) azureSideActions(l store.PresenceLink) []string {
	steps := []string{}
	switch l.Credential {
	case store.CredentialServiceApp:
		steps = append(steps,
			"In the Microsoft Entra admin center, open Enterprise applications, find the application "+l.ClientID+
				" (scimd) and delete it, or under Permissions revoke the admin consent for Presence.Read.All.")
	case store.CredentialSecret, store.CredentialCertificate:
		steps = append(steps,
			"In the Microsoft Entra admin center, open App registrations, find the application "+l.ClientID+
				" and delete its client secret or certificate, or delete the app registration.",
			"Or, to keep the app, open Enterprise applications > the application > Permissions and revoke the admin consent for Presence.Read.All.")
	}
	return append(steps, "Access tokens already issued stay valid until they expire (at most about 90 minutes); scimd no longer holds or uses them.")
}

// ContactPresence is the presence to serve with a contact: nil when the
// directory's presence is not connected or nothing is stored. It is stale
// when the last complete poll is older than three intervals (at least two
// minutes) or the connection is not healthy.
func (s *Service) ContactPresence(directoryID string, p *store.Presence) *ContactPresence {
	if s == nil || p == nil {
		return nil
	}
	return s.contactPresence(directoryID, p)
}

func (s *Service) contactPresence(directoryID string, p *store.Presence) *ContactPresence {
	v, ok := s.views.Load(directoryID)
	if !ok {
		return nil
	}
	vw := v.(view)
	if vw.state == store.PresenceRevoked || vw.state == "" {
		return nil
	}
	observed := latest(p.ObservedAt, vw.lastPoll)
	return &ContactPresence{
		Availability: p.Availability,
		Activity:     p.Activity,
		ObservedAt:   observed.UTC(),
		Stale:        vw.state != store.PresenceConnected || s.now().Sub(observed) > max(3*s.cfg.Interval, 2*time.Minute),
	}
}

// Subscribe returns a feed of the directory's presence changes after
// lastEventID ("" for new changes only).
func (s *Service) Subscribe(directoryID, lastEventID string) *Subscription {
	return s.hub.subscribe(directoryID, lastEventID)
}
