package presence

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// graphScope is the only scope of app-only Graph tokens.
const graphScope = "https://graph.microsoft.com/.default"

// TokenError is the identity platform refusing a token request, as it
// said it: the admin needs the AADSTS code, trace and correlation ids.
type TokenError struct {
	Status        int    `json:"status"`
	Code          string `json:"error"` // invalid_client, unauthorized_client, ...
	Description   string `json:"errorDescription"`
	ErrorCodes    []int  `json:"errorCodes,omitempty"`
	TraceID       string `json:"traceId,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
}

func (e *TokenError) Error() string {
	d, _, _ := strings.Cut(e.Description, "\r\n") // Microsoft appends trace lines
	if d == "" {
		d = "no description"
	}
	return fmt.Sprintf("Microsoft identity platform refused the token request (HTTP %d, %s): %s", e.Status, e.Code, d)
}

// adminNeeded reports whether the error means the app itself is gone,
// disabled or holds a bad credential: only an admin can fix that, so
// retrying soon is pointless.
func (e *TokenError) adminNeeded() bool {
	switch e.Code {
	case "invalid_client", "unauthorized_client", "invalid_request", "invalid_scope":
		return true
	}
	return false
}

// credential is what a token request authenticates with: a secret, or a
// certificate's key.
type credential struct {
	Secret string `json:"secret,omitempty"`
	// CertDER and KeyDER (PKCS#8) when the app uses a certificate.
	CertDER []byte `json:"cert,omitempty"`
	KeyDER  []byte `json:"key,omitempty"`
}

// parseCertificate reads a PEM certificate and RSA private key (from one
// or two PEM texts).
func parseCertificate(certPEM, keyPEM string) (credential, error) {
	var c credential
	rest := []byte(certPEM + "\n" + keyPEM)
	var key any
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			if c.CertDER == nil {
				c.CertDER = b.Bytes
			}
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return c, &InputError{"privateKey: not a PKCS#8 private key: " + err.Error()}
			}
			key = k
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return c, &InputError{"privateKey: not a PKCS#1 RSA private key: " + err.Error()}
			}
			key = k
		}
	}
	if c.CertDER == nil {
		return c, &InputError{"certificate: no PEM CERTIFICATE block found"}
	}
	cert, err := x509.ParseCertificate(c.CertDER)
	if err != nil {
		return c, &InputError{"certificate: " + err.Error()}
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return c, &InputError{"privateKey: an RSA private key (PEM, PKCS#8 or PKCS#1) is required with the certificate"}
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&rk.PublicKey) {
		return c, &InputError{"privateKey: does not belong to the certificate"}
	}
	if c.KeyDER, err = x509.MarshalPKCS8PrivateKey(rk); err != nil {
		return c, &InputError{"privateKey: " + err.Error()}
	}
	return c, nil
}

// assertion builds the client assertion JWT for a certificate credential
// (PS256, x5t#S256), as MSAL does.
func (c credential) assertion(tokenURL, clientID string, now time.Time) (string, error) {
	k, err := x509.ParsePKCS8PrivateKey(c.KeyDER)
	if err != nil {
		return "", err
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return "", errors.New("certificate key is not RSA")
	}
	thumb := sha256.Sum256(c.CertDER)
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "PS256", "typ": "JWT", "x5t#S256": enc.EncodeToString(thumb[:])})
	claims, _ := json.Marshal(map[string]any{
		"aud": tokenURL, "iss": clientID, "sub": clientID, "jti": uuid.NewString(),
		"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	})
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		return "", err
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// token is an app-only access token.
type token struct {
	value   string
	expires time.Time
	refresh time.Time // when to get a new one
}

// requestToken runs the client-credentials grant for one tenant.
func requestToken(ctx context.Context, hc *http.Client, loginURL, tenant, clientID string, cred credential, now time.Time) (token, error) {
	tokenURL := strings.TrimRight(loginURL, "/") + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {graphScope}}
	if cred.CertDER != nil {
		a, err := cred.assertion(tokenURL, clientID, now)
		if err != nil {
			return token{}, fmt.Errorf("sign client assertion: %w", err)
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", a)
	} else {
		form.Set("client_secret", cred.Secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return token{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return token{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return token{}, err
	}
	if resp.StatusCode != http.StatusOK {
		te := &TokenError{Status: resp.StatusCode}
		var e struct {
			Error         string `json:"error"`
			Description   string `json:"error_description"`
			Codes         []int  `json:"error_codes"`
			TraceID       string `json:"trace_id"`
			CorrelationID string `json:"correlation_id"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			te.Code, te.Description, te.ErrorCodes, te.TraceID, te.CorrelationID = e.Error, e.Description, e.Codes, e.TraceID, e.CorrelationID
		} else {
			te.Code = "http_" + strconv.Itoa(resp.StatusCode)
		}
		return token{}, te
	}
	var ok struct {
		AccessToken string      `json:"access_token"`
		ExpiresIn   json.Number `json:"expires_in"`
		RefreshIn   json.Number `json:"refresh_in"`
	}
	if err := json.Unmarshal(body, &ok); err != nil || ok.AccessToken == "" {
		return token{}, errors.New("token endpoint answered 200 without an access token")
	}
	life := seconds(ok.ExpiresIn, 3599)
	t := token{value: ok.AccessToken, expires: now.Add(life)}
	// Refresh at the earliest of exp−5 min, 75% of the lifetime and
	// refresh_in (docs/GRAPH-PRESENCE.md §1).
	refresh := min(life-5*time.Minute, life*3/4)
	if r := seconds(ok.RefreshIn, 0); r > 0 {
		refresh = min(refresh, r)
	}
	t.refresh = now.Add(max(refresh, life/2))
	return t, nil
}

func seconds(n json.Number, def int64) time.Duration {
	v, err := n.Int64()
	if err != nil || v <= 0 {
		v = def
	}
	return time.Duration(v) * time.Second
}
