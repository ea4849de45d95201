package fakegraph

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// testCert is a self-signed RSA certificate, valid around the test clock.
type testCert struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

var testCerts = sync.OnceValue(func() [2]testCert {
	var out [2]testCert
	for i := range out {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 1)),
			Subject:      pkix.Name{CommonName: "scimd presence test"},
			NotBefore:    time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:     time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		out[i] = testCert{key, cert}
	}
	return out
})

// assertion builds a client assertion as MSAL does; edit may change the
// header and claims before signing.
func assertion(t *testing.T, c testCert, alg string, edit func(hdr, claims map[string]any)) string {
	t.Helper()
	s256, s1 := sha256.Sum256(c.cert.Raw), sha1.Sum(c.cert.Raw)
	hdr := map[string]any{"alg": alg, "typ": "JWT"}
	if alg == "PS256" {
		hdr["x5t#S256"] = b64(s256[:])
	} else {
		hdr["x5t"] = b64(s1[:])
	}
	now := newClock().Now().Unix()
	claims := map[string]any{
		"aud": "", "iss": DefaultClientID, "sub": DefaultClientID,
		"jti": newGUID(), "nbf": now, "iat": now, "exp": now + 600,
	}
	if edit != nil {
		edit(hdr, claims)
	}
	h, _ := json.Marshal(hdr)
	cl, _ := json.Marshal(claims)
	signed := b64(h) + "." + b64(cl)
	digest := sha256.Sum256([]byte(signed))
	var sig []byte
	var err error
	if alg == "PS256" {
		sig, err = rsa.SignPSS(rand.Reader, c.key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA256, digest[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + b64(sig)
}

func assertionForm(jwt string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {DefaultClientID},
		"scope":                 {graphScope},
		"client_assertion_type": {jwtBearer},
		"client_assertion":      {jwt},
	}
}

func TestCertificateAssertion(t *testing.T) {
	certs := testCerts()
	registered, other := certs[0], certs[1]
	tests := []struct {
		name     string
		cert     testCert
		alg      string
		edit     func(f *fixture, hdr, claims map[string]any)
		tamper   bool
		knob     func(*Server)
		wantCode int // 0: success
	}{
		{name: "PS256 x5t#S256", cert: registered, alg: "PS256"},
		{name: "RS256 x5t", cert: registered, alg: "RS256"},
		{name: "aud as array", cert: registered, alg: "PS256", edit: func(f *fixture, _, c map[string]any) {
			c["aud"] = []string{"https://elsewhere.example/", f.tokenURL(tenantID)}
		}},
		{name: "secret expiry does not matter", cert: registered, alg: "PS256", knob: (*Server).ExpireSecret},
		{name: "unregistered certificate", cert: other, alg: "PS256", wantCode: 700027},
		{name: "bad signature", cert: registered, alg: "PS256", tamper: true, wantCode: 700027},
		{name: "unsupported alg", cert: registered, alg: "PS256", edit: func(_ *fixture, h, _ map[string]any) { h["alg"] = "HS256" }, wantCode: 700027},
		{name: "wrong audience", cert: registered, alg: "PS256", edit: func(f *fixture, _, c map[string]any) {
			c["aud"] = f.url + "/common/oauth2/v2.0/token"
		}, wantCode: 700023},
		{name: "wrong issuer", cert: registered, alg: "PS256", edit: func(_ *fixture, _, c map[string]any) { c["iss"] = userA }, wantCode: 700021},
		{name: "wrong subject", cert: registered, alg: "PS256", edit: func(_ *fixture, _, c map[string]any) { c["sub"] = userA }, wantCode: 700021},
		{name: "expired", cert: registered, alg: "PS256", edit: func(f *fixture, _, c map[string]any) {
			c["exp"] = f.clock.Now().Unix()
		}, wantCode: 700024},
		{name: "not yet valid", cert: registered, alg: "PS256", edit: func(f *fixture, _, c map[string]any) {
			c["nbf"] = f.clock.Now().Unix() + 60
		}, wantCode: 700024},
		{name: "service principal deleted", cert: registered, alg: "PS256", knob: (*Server).DeleteServicePrincipal, wantCode: 7000229},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			f.fake.RegisterCertificate(registered.cert)
			if tt.knob != nil {
				tt.knob(f.fake)
			}
			jwt := assertion(t, tt.cert, tt.alg, func(hdr, claims map[string]any) {
				claims["aud"] = f.tokenURL(tenantID)
				if tt.edit != nil {
					tt.edit(f, hdr, claims)
				}
			})
			if tt.tamper {
				jwt = jwt[:len(jwt)-4] + "AAAA"
			}
			status, b := postToken(t, f, tenantID, assertionForm(jwt), nil)
			if tt.wantCode == 0 {
				if status != http.StatusOK || b.AccessToken == "" {
					t.Fatalf("got %d %s", status, b.Description)
				}
				return
			}
			if status == http.StatusOK || len(b.Codes) != 1 || b.Codes[0] != tt.wantCode {
				t.Fatalf("got %d %v %s, want AADSTS%d", status, b.Codes, b.Description, tt.wantCode)
			}
			if tt.wantCode != 7000229 && (status != http.StatusUnauthorized || b.Error != "invalid_client") {
				t.Errorf("got %d %q, want 401 invalid_client", status, b.Error)
			}
		})
	}
}

// A poller in a synctest bubble talks https through Transport; the
// assertion's audience must then be the https URL.
func TestCertificateAssertionOverTransport(t *testing.T) {
	c := testCerts()[0]
	fake := New(Config{Now: newClock().Now})
	fake.RegisterCertificate(c.cert)
	tokenURL := "https://login.example/" + tenantID + "/oauth2/v2.0/token"
	jwt := assertion(t, c, "PS256", func(_, claims map[string]any) { claims["aud"] = tokenURL })
	client := &http.Client{Transport: fake.Transport()}
	resp, err := client.PostForm(tokenURL, assertionForm(jwt))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got %d", resp.StatusCode)
	}
}

func TestRegisterCertificateNeedsRSA(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a non-RSA certificate")
		}
	}()
	New(Config{}).RegisterCertificate(&x509.Certificate{PublicKey: "not a key"})
}
