package api_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/presence/fakegraph"
)

// Entra object ids of the test users.
const (
	annOID  = "aaaaaaaa-0000-4000-8000-000000000001"
	bobOID  = "bbbbbbbb-0000-4000-8000-000000000002"
	carlOID = "not-a-guid" // mapped, but no Entra object id: never polled
)

func ann() person {
	return person{userName: "ann@contoso.com", given: "Ann", family: "Archer", objectID: annOID,
		phones: [][2]string{{"work", "+442071838750"}}}
}

func bob() person {
	return person{userName: "bob@contoso.com", given: "Bob", family: "Baker", objectID: bobOID,
		phones: [][2]string{{"work", "+442071838751"}}}
}

// microsoftError is the admin API's error with Microsoft's answer.
type microsoftError struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Microsoft *struct {
			HTTPStatus    int    `json:"httpStatus"`
			Error         string `json:"error"`
			AADSTS        string `json:"aadsts"`
			ErrorCodes    []int  `json:"errorCodes"`
			Description   string `json:"description"`
			TraceID       string `json:"traceId"`
			CorrelationID string `json:"correlationId"`
		} `json:"microsoft"`
	} `json:"error"`
}

type revokeResult struct {
	State               string   `json:"state"`
	CredentialsDeleted  bool     `json:"credentialsDeleted"`
	PresenceRowsCleared int64    `json:"presenceRowsCleared"`
	AzureSideActions    []string `json:"azureSideActions"`
}

func TestPresenceConnectWithSecret(t *testing.T) {
	f := newPresenceFixture(t, presenceOptions{})
	d := f.newDirectory("Contoso", "")

	if st := f.status(d); st.State != presence.NotConnected || st.Interval != "50ms" {
		t.Errorf("status before connecting = %+v", st)
	}
	r := f.admin(http.MethodPut, d, "", secretBody(graphSecret))
	if r.status != http.StatusOK {
		t.Fatalf("connect: %d %s", r.status, r.body)
	}
	st := decode[presenceStatus](t, r)
	if st.State != "connected" || st.Credential != "secret" || st.TenantID != tenantID || st.ClientID != fakegraph.DefaultClientID {
		t.Errorf("connect answered %+v", st)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
	}
	for _, got := range []response{r, f.admin(http.MethodGet, d, "", "")} {
		if strings.Contains(string(got.body), graphSecret) {
			t.Errorf("an answer shows the secret: %s", got.body)
		}
	}
	if st := f.status(d); st.State != "connected" || st.Credential != "secret" {
		t.Errorf("status after connecting = %+v", st)
	}
	f.noSecretsLogged(graphSecret)
	if !strings.Contains(f.logs.String(), "presence connected") {
		t.Error("the connection was not logged")
	}
}

func TestPresenceConnectWithCertificate(t *testing.T) {
	f := newPresenceFixture(t, presenceOptions{})
	d := f.newDirectory("Contoso", "")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "scimd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	f.graph.RegisterCertificate(cert)
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))

	body, _ := json.Marshal(map[string]string{"tenantId": tenantID, "clientId": fakegraph.DefaultClientID,
		"certificate": certPEM, "privateKey": keyPEM})
	r := f.admin(http.MethodPut, d, "", string(body))
	if r.status != http.StatusOK {
		t.Fatalf("connect: %d %s", r.status, r.body)
	}
	if st := decode[presenceStatus](t, r); st.State != "connected" || st.Credential != "certificate" {
		t.Errorf("connect answered %+v", st)
	}
	keyBody := strings.Split(keyPEM, "\n")[1] // a line of the key's base64
	if strings.Contains(string(r.body), keyBody) || strings.Contains(string(f.admin(http.MethodGet, d, "", "").body), keyBody) {
		t.Error("an answer shows the private key")
	}
	f.noSecretsLogged(keyBody)
}

func TestPresenceConnectWrongSecret(t *testing.T) {
	f := newPresenceFixture(t, presenceOptions{})
	d := f.newDirectory("Contoso", "")
	r := f.admin(http.MethodPut, d, "", secretBody(wrongSecret))
	wantError(t, r, http.StatusBadRequest, "microsoft_refused")
	if strings.Contains(string(r.body), wrongSecret) || strings.Contains(string(r.body), graphSecret) {
		t.Errorf("the answer shows a secret: %s", r.body)
	}
	e := decode[microsoftError](t, r)
	ms := e.Error.Microsoft
	if ms == nil {
		t.Fatalf("no Microsoft details: %s", r.body)
	}
	if ms.Error != "invalid_client" || ms.AADSTS != "AADSTS7000215" || len(ms.ErrorCodes) == 0 || ms.ErrorCodes[0] != 7000215 ||
		!strings.Contains(ms.Description, "AADSTS7000215") || ms.TraceID == "" || ms.CorrelationID == "" || ms.HTTPStatus != http.StatusUnauthorized {
		t.Errorf("Microsoft details = %+v", ms)
	}
	if !strings.Contains(e.Error.Message, "invalid_client") {
		t.Errorf("message %q does not say what Microsoft said", e.Error.Message)
	}
	if st := f.status(d); st.State != presence.NotConnected {
		t.Errorf("a refused connection changed the status: %+v", st)
	}
	f.noSecretsLogged(wrongSecret, graphSecret)
	if logs := f.logs.String(); !strings.Contains(logs, "AADSTS7000215") || !strings.Contains(logs, ms.TraceID) {
		t.Errorf("the refusal was not logged with its code and trace id:\n%s", logs)
	}
}

func TestPresenceConnectWithoutSecretKey(t *testing.T) {
	f := newPresenceFixture(t, presenceOptions{noKey: true})
	d := f.newDirectory("Contoso", "")
	e := wantError(t, f.admin(http.MethodPut, d, "", secretBody(graphSecret)), http.StatusBadRequest, "no_secret_key")
	if !strings.Contains(e.Error.Message, "SCIMD_SECRET_KEY") {
		t.Errorf("message %q does not name SCIMD_SECRET_KEY", e.Error.Message)
	}
	if st := f.status(d); st.State != presence.NotConnected {
		t.Errorf("status = %+v", st)
	}
	f.noSecretsLogged(graphSecret)
}

func TestPresenceAdminRefusals(t *testing.T) {
	f := newPresenceFixture(t, presenceOptions{})
	d := f.newDirectory("Contoso", "")
	unknown := dir{ID: unknownDirectory}
	good := secretBody(graphSecret)
	tests := []struct {
		name, method string
		d            dir
		path, body   string
		status       int
		code, msg    string
	}{
		{"unknown field", "PUT", d, "", `{"tenantId":"` + tenantID + `","clientId":"x","clientSecret":"s","secretId":"y"}`, 400, "unknown_field", `"secretId"`},
		{"malformed", "PUT", d, "", `{"tenantId":`, 400, "malformed_json", "truncated"},
		{"wrong type", "PUT", d, "", `{"tenantId":1}`, 400, "invalid_field", `"tenantId"`},
		{"empty", "PUT", d, "", `{}`, 400, "invalid_credentials", "clientSecret"},
		{"bad client id", "PUT", d, "", `{"tenantId":"` + tenantID + `","clientId":"app","clientSecret":"s"}`, 400, "invalid_credentials", "clientId"},
		{"secret and certificate", "PUT", d, "", `{"tenantId":"` + tenantID + `","clientId":"` + fakegraph.DefaultClientID + `","clientSecret":"s","certificate":"c"}`, 400, "invalid_credentials", "not both"},
		{"oversized", "PUT", d, "", `{"certificate":"` + strings.Repeat("A", 20<<10) + `"}`, 413, "body_too_large", "exceeds"},
		{"unknown directory put", "PUT", unknown, "", good, 404, "not_found", "directory"},
		{"unknown directory get", "GET", unknown, "", "", 404, "not_found", "directory"},
		{"unknown directory delete", "DELETE", unknown, "", "", 404, "not_found", "directory"},
		{"unknown directory consent", "POST", unknown, "/consent", "", 404, "not_found", "directory"},
		{"no service app", "POST", d, "/consent", "", 409, "no_service_app", "SCIMD_PRESENCE_CLIENT_ID"},
		{"consent parameter", "POST", d, "/consent?x=1", "", 400, "invalid_parameter", `"x"`},
		{"method", "POST", d, "", "", 405, "method_not_allowed", "PUT"},
		{"consent method", "GET", d, "/consent", "", 405, "method_not_allowed", "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := wantError(t, f.admin(tt.method, tt.d, tt.path, tt.body), tt.status, tt.code)
			if !strings.Contains(e.Error.Message, tt.msg) {
				t.Errorf("message %q does not mention %q", e.Error.Message, tt.msg)
			}
		})
	}
	wantError(t, f.req(http.MethodGet, "/admin/v1/directories/"+d.ID+"/presence", "", ""), http.StatusUnauthorized, "unauthorized")
	wantError(t, f.req(http.MethodGet, "/admin/v1/directories/"+d.ID+"/presence", d.Key, ""), http.StatusUnauthorized, "unauthorized")
	if st := f.status(d); st.State != presence.NotConnected {
		t.Errorf("a refused request changed the status: %+v", st)
	}
}

// TestPresenceWithoutService: a server without the presence service
// answers its endpoints 503 and shows presence null.
func TestPresenceWithoutService(t *testing.T) {
	f := newLookupFixture(t) // no presence service
	d := f.newDirectory("Contoso", "")
	id := f.user(d, ann())
	for _, req := range [][3]string{
		{"GET", "/admin/v1/directories/" + d.ID + "/presence", ""},
		{"PUT", "/admin/v1/directories/" + d.ID + "/presence", secretBody(graphSecret)},
		{"DELETE", "/admin/v1/directories/" + d.ID + "/presence", ""},
		{"POST", "/admin/v1/directories/" + d.ID + "/presence/consent", ""},
	} {
		e := wantError(t, f.req(req[0], req[1], adminToken, req[2]), http.StatusServiceUnavailable, "presence_unavailable")
		if !strings.Contains(e.Error.Message, "presence") {
			t.Errorf("%s %s: message %q", req[0], req[1], e.Error.Message)
		}
	}
	wantError(t, f.req(http.MethodGet, d.api("/presence/stream"), d.Key, ""), http.StatusServiceUnavailable, "presence_unavailable")
	if p := f.presenceOf(d, id); p != nil {
		t.Errorf("presence = %+v, want null", p)
	}
}

func TestPresenceInLookupAndRevoke(t *testing.T) {
	f := newPresenceFixture(t, presenceOptions{})
	d := f.newDirectory("Contoso", "")
	annID := f.user(d, ann())
	bobID := f.user(d, bob())
	carlID := f.user(d, person{userName: "carl@contoso.com", given: "Carl", family: "Cole", objectID: carlOID,
		phones: [][2]string{{"work", "+442071838752"}}})
	f.graph.SetPresence(annOID, "Busy", "InACall")
	f.graph.SetPresence(bobOID, "Available", "Available")

	if p := f.presenceOf(d, annID); p != nil {
		t.Errorf("presence before connecting = %+v, want null", p)
	}
	f.connect(d)
	p := f.waitPresence(d, annID, "Busy")
	if p.Activity != "InACall" || p.Stale || p.ObservedAt.IsZero() {
		t.Errorf("ann's presence = %+v", p)
	}
	f.waitPresence(d, bobID, "Available")
	if p := f.presenceOf(d, carlID); p != nil {
		t.Errorf("carl (no object id) has presence %+v", p)
	}
	// Search and caller-ID carry presence too.
	page := decode[struct{ Contacts []contactWithPresence }](t, f.get(d.api("/contacts?q=ann"), d.Key))
	if len(page.Contacts) != 1 || page.Contacts[0].Presence == nil || page.Contacts[0].Presence.Availability != "Busy" {
		t.Errorf("search shows %+v", page.Contacts)
	}
	cid := decode[struct{ Contacts []contactWithPresence }](t, f.get(d.api("/lookup?phone=%2B442071838750"), d.Key))
	if len(cid.Contacts) != 1 || cid.Contacts[0].Presence == nil {
		t.Errorf("caller-ID shows %+v", cid.Contacts)
	}

	var st presenceStatus
	waitFor(t, "a complete poll in the status", func() bool {
		st = f.status(d)
		return st.LastSuccessfulPoll != nil && st.ContactsPolled == 2
	})
	if st.State != "connected" || st.SkippedContacts != 1 {
		t.Errorf("status = %+v", st)
	}

	// A presence change makes a new ETag, so a client's copy is not
	// reported current.
	r := f.get(d.api("/contacts/"+annID), d.Key)
	tag := r.header.Get("ETag")
	f.graph.SetPresence(annOID, "Away", "Away")
	f.waitPresence(d, annID, "Away")
	if r := f.req(http.MethodGet, d.api("/contacts/"+annID), d.Key, "", "If-None-Match", tag); r.status != http.StatusOK {
		t.Errorf("If-None-Match with the ETag from before the change: %d", r.status)
	}

	// Revoke, twice.
	r = f.admin(http.MethodDelete, d, "", "")
	if r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	res := decode[revokeResult](t, r)
	if res.State != "revoked" || !res.CredentialsDeleted || res.PresenceRowsCleared != 2 || len(res.AzureSideActions) == 0 {
		t.Errorf("first revoke = %+v", res)
	}
	for _, id := range []string{annID, bobID} {
		if p := f.presenceOf(d, id); p != nil {
			t.Errorf("presence after revoke = %+v, want null", p)
		}
	}
	r = f.admin(http.MethodDelete, d, "", "")
	if r.status != http.StatusOK {
		t.Fatalf("second revoke: %d %s", r.status, r.body)
	}
	res = decode[revokeResult](t, r)
	if res.State != "revoked" || res.CredentialsDeleted || res.PresenceRowsCleared != 0 {
		t.Errorf("second revoke = %+v", res)
	}
	if st := f.status(d); st.State != "revoked" || st.TenantID != "" {
		t.Errorf("status after revoke = %+v", st)
	}
	// Nothing comes back: the poller stopped.
	f.graph.SetPresence(annOID, "Busy", "Busy")
	time.Sleep(200 * time.Millisecond) // four intervals
	if p := f.presenceOf(d, annID); p != nil {
		t.Errorf("presence came back after revoke: %+v", p)
	}
	// The directory's log holds the connection and both revocations.
	r = f.req(http.MethodGet, "/admin/v1/directories/"+d.ID+"/sync-log?resource=presence", adminToken, "")
	log := decode[struct {
		Events []struct{ Operation, ResourceType, Identity, Status string }
	}](t, r)
	var ops []string
	for _, ev := range log.Events {
		if ev.ResourceType != "Presence" || ev.Status != "Success" {
			t.Errorf("presence log event %+v", ev)
		}
		ops = append(ops, ev.Operation)
	}
	if strings.Join(ops, ",") != "revoke,revoke,connect" {
		t.Errorf("presence events in the sync log, newest first: %v, want revoke, revoke, connect", ops)
	}
	f.noSecretsLogged(graphSecret)
}

func TestPresenceStream(t *testing.T) {
	f := newPresenceFixture(t, presenceOptions{})
	d := f.newDirectory("Contoso", "")
	annID := f.user(d, ann())
	bobID := f.user(d, bob())
	f.graph.SetPresence(annOID, "Available", "Available")
	f.graph.SetPresence(bobOID, "Available", "Available")
	f.connect(d)
	f.waitPresence(d, annID, "Available")
	f.waitPresence(d, bobID, "Available")

	s := f.openStream(d, "", d.Key)
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := s.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// The first block is the retry hint; heartbeats follow while nothing
	// changes.
	if b, _ := s.next(); b.retry == "" {
		t.Errorf("first block = %+v, want a retry hint", b)
	}
	if b, _ := s.next(); len(b.comments) != 1 || b.comments[0] != "heartbeat" {
		t.Errorf("block = %+v, want a heartbeat", b)
	}

	f.graph.SetPresence(annOID, "DoNotDisturb", "Presenting")
	b, ev := s.waitEvent(annID)
	if b.id == "" || ev.Presence == nil || ev.Presence.Availability != "DoNotDisturb" || ev.Presence.Activity != "Presenting" || ev.Presence.Stale {
		t.Errorf("event %+v: %s", b, b.data)
	}
	s.close()

	// Missed while disconnected, sent on resume.
	f.graph.SetPresence(bobOID, "Away", "BeRightBack")
	f.waitPresence(d, bobID, "Away")
	resumed := f.openStream(d, "", d.Key, "Last-Event-ID", b.id)
	if first, ev := resumed.waitEvent(bobID); ev.Presence == nil || ev.Presence.Activity != "BeRightBack" || first.id == b.id {
		t.Errorf("resumed with %+v: %s", first, first.data)
	}
	// The same through the query, for clients that cannot set headers.
	viaQuery := f.openStream(d, "?lastEventId="+url.QueryEscape(b.id), d.Key)
	if first := viaQuery.nextEvent(); first.event != "presence" || !strings.Contains(first.data, bobID) {
		t.Errorf("resumed through the query with %+v", first)
	}
	// An id this server does not hold: reset first.
	reset := f.openStream(d, "", d.Key, "Last-Event-ID", "unknown-7")
	if first := reset.nextEvent(); first.event != "reset" || !strings.Contains(first.data, `"reason"`) {
		t.Errorf("unknown Last-Event-ID: first event %+v", first)
	}
	// The admin token reads the stream too.
	admin := f.openStream(d, "", adminToken)

	// Revoking ends every stream of the directory.
	if r := f.admin(http.MethodDelete, d, "", ""); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	resumed.ended()
	admin.ended()
}

func TestPresenceStreamRefusals(t *testing.T) {
	f := newPresenceFixture(t, presenceOptions{})
	a := f.newDirectory("A", "")
	b := f.newDirectory("B", "")
	onB := f.req(http.MethodGet, b.api("/presence/stream"), a.Key, "")
	wantError(t, onB, http.StatusNotFound, "not_found")
	onUnknown := f.req(http.MethodGet, dir{ID: unknownDirectory}.api("/presence/stream"), a.Key, "")
	if string(onB.body) != string(onUnknown.body) {
		t.Errorf("another directory answers %s, an unknown one %s", onB.body, onUnknown.body)
	}
	wantError(t, f.req(http.MethodGet, a.api("/presence/stream"), "", ""), http.StatusUnauthorized, "unauthorized")
	wantError(t, f.req(http.MethodGet, a.api("/presence/stream?since=1"), a.Key, ""), http.StatusBadRequest, "invalid_parameter")
	wantError(t, f.req(http.MethodPost, a.api("/presence/stream"), a.Key, ""), http.StatusMethodNotAllowed, "method_not_allowed")
}

// TestPresenceStreamEndsWithKey: a stream checks its key at every
// heartbeat, so revoking the key ends it.
func TestPresenceStreamEndsWithKey(t *testing.T) {
	f := newPresenceFixture(t, presenceOptions{})
	d := f.newDirectory("Contoso", "")
	r := f.req(http.MethodPost, "/admin/v1/directories/"+d.ID+"/api-keys", adminToken, `{"name":"wallboard"}`)
	key := decode[apiKey](t, r)
	s := f.openStream(d, "", key.Key)
	s.next() // open
	if r := f.req(http.MethodDelete, "/admin/v1/directories/"+d.ID+"/api-keys/"+key.ID, adminToken, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete key: %d %s", r.status, r.body)
	}
	s.ended()
}

// TestPresenceStreamVisibility: the stream never shows the presence of a
// contact that the visibility rules hide.
func TestPresenceStreamVisibility(t *testing.T) {
	f := newPresenceFixture(t, presenceOptions{})
	d := f.newDirectory("Contoso", `{"visibility":{"onlyGroups":["Visible"]}}`)
	annID := f.user(d, ann())
	bobID := f.user(d, bob())
	f.group(d, "Visible", annID)
	f.graph.SetPresence(annOID, "Available", "Available")
	f.graph.SetPresence(bobOID, "Available", "Available")
	f.connect(d)
	f.waitPresence(d, annID, "Available")
	wantError(t, f.req(http.MethodGet, d.api("/contacts/"+bobID), d.Key, ""), http.StatusNotFound, "not_found")

	s := f.openStream(d, "", d.Key)
	s.next() // open
	// Bob changes first, then Ann: the stream shows Ann's change only.
	f.graph.SetPresence(bobOID, "Busy", "InACall")
	waitFor(t, "bob's change to be stored", func() bool {
		ps, err := f.db.ListPresence(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.UserID == bobID && p.Availability == "Busy" {
				return true
			}
		}
		return false
	})
	f.graph.SetPresence(annOID, "Away", "Away")
	if _, ev := s.waitEvent(annID, bobID); ev.Presence == nil || ev.Presence.Availability != "Away" {
		t.Errorf("ann's event = %+v", ev)
	}
}

func TestPresenceConsentFlow(t *testing.T) {
	f := newPresenceFixture(t, presenceOptions{serviceApp: true})
	d := f.newDirectory(`Contoso <b>"EMEA"</b>`, "")
	f.user(d, ann())
	f.graph.SetPresence(annOID, "Available", "Available")

	callback, state := f.consent(d)
	page := f.page(callback)
	if page.status != http.StatusOK || !strings.Contains(page.body, "Presence connected for directory Contoso &lt;b&gt;&#34;EMEA&#34;&lt;/b&gt;") {
		t.Fatalf("callback page: %d\n%s", page.status, page.body)
	}
	if strings.Contains(page.body, "<b>") {
		t.Error("the page does not escape the directory name")
	}
	for k, want := range map[string]string{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"} {
		if got := page.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	st := f.status(d)
	if st.State != "connected" || st.Credential != "service" || st.ClientID != fakegraph.DefaultClientID || st.TenantID == "" {
		t.Errorf("status after consent = %+v", st)
	}

	// The link works once.
	if again := f.page(callback); again.status != http.StatusBadRequest || !strings.Contains(again.body, "unknown or has expired") {
		t.Errorf("second use: %d\n%s", again.status, again.body)
	}
	// No state, or a made-up one.
	for _, q := range []string{"", "?admin_consent=True&tenant=" + tenantID + "&state=made-up"} {
		if p := f.page(f.url + presence.ConsentCallbackPath + q); p.status != http.StatusBadRequest || !strings.Contains(p.body, "unknown or has expired") {
			t.Errorf("callback%s: %d\n%s", q, p.status, p.body)
		}
	}
	if st := f.status(d); st.State != "connected" {
		t.Errorf("status after bad callbacks = %+v", st)
	}
	f.noSecretsLogged(graphSecret, state)
}

func TestPresenceConsentDeclined(t *testing.T) {
	f := newPresenceFixture(t, presenceOptions{serviceApp: true})
	d := f.newDirectory("Contoso", "")
	f.graph.DenyConsent()
	callback, state := f.consent(d)
	page := f.page(callback)
	if page.status != http.StatusBadRequest || !strings.Contains(page.body, "The administrator declined consent (AADSTS65004)") ||
		!strings.Contains(page.body, "Presence was not connected for directory Contoso") {
		t.Fatalf("callback page: %d\n%s", page.status, page.body)
	}
	if st := f.status(d); st.State != "needs_consent" || st.LastError == "" {
		t.Errorf("status after a declined consent = %+v", st)
	}
	// The admin tries again and accepts.
	f.graph.GrantConsent()
	callback, _ = f.consent(d)
	if p := f.page(callback); p.status != http.StatusOK || !strings.Contains(p.body, "Presence connected for directory Contoso") {
		t.Errorf("second attempt: %d\n%s", p.status, p.body)
	}
	if st := f.status(d); st.State != "connected" {
		t.Errorf("status = %+v", st)
	}
	f.noSecretsLogged(graphSecret, state)
}

// TestPresenceConsentTokenRefused: consent granted, but Microsoft then
// refuses scimd's own app a token; the page shows Microsoft's answer.
func TestPresenceConsentTokenRefused(t *testing.T) {
	f := newPresenceFixture(t, presenceOptions{serviceApp: true})
	d := f.newDirectory("Contoso", "")
	callback, _ := f.consent(d)
	f.graph.RotateSecret("another-secret-value") // scimd's app secret is now wrong
	p := f.page(callback)
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "Presence was not connected for directory Contoso") ||
		!strings.Contains(p.body, "AADSTS7000215") || !strings.Contains(p.body, "invalid_client") || !strings.Contains(p.body, "Trace ID") {
		t.Fatalf("callback page: %d\n%s", p.status, p.body)
	}
	if st := f.status(d); st.State != "needs_consent" || !strings.Contains(st.LastError, "AADSTS7000215") {
		t.Errorf("status = %+v", st)
	}
	f.noSecretsLogged(graphSecret)
}

// consent starts the admin-consent flow for d and plays the admin's
// browser on the fake consent page; it returns the callback URL the
// browser is sent to, and the flow's state.
func (f *presenceFixture) consent(d dir) (callback, state string) {
	f.t.Helper()
	r := f.admin(http.MethodPost, d, "/consent", "")
	if r.status != http.StatusOK {
		f.t.Fatalf("start consent: %d %s", r.status, r.body)
	}
	consentURL := decode[struct {
		ConsentURL string `json:"consentUrl"`
	}](f.t, r).ConsentURL
	u, err := url.Parse(consentURL)
	if err != nil || !strings.HasPrefix(consentURL, f.graphURL+"/") || u.Query().Get("redirect_uri") != f.url+presence.ConsentCallbackPath {
		f.t.Fatalf("consentUrl = %q", consentURL)
	}
	state = u.Query().Get("state")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(consentURL)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	callback = resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(callback, f.url+presence.ConsentCallbackPath+"?") {
		f.t.Fatalf("consent page: %d, Location %q", resp.StatusCode, callback)
	}
	return callback, state
}

type page struct {
	status int
	header http.Header
	body   string
}

// page GETs a browser page (no token).
func (f *presenceFixture) page(u string) page {
	f.t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(b)}
}
