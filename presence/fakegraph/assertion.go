package fakegraph

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// jwtBearer is the client_assertion_type of a certificate credential.
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

const certDocs = "Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."

// RegisterCertificate makes the app accept client assertions signed (PS256
// or RS256) by cert's key and naming cert in their x5t#S256 or x5t header.
// It panics unless cert has an RSA key, the only kind Entra takes.
func (s *Server) RegisterCertificate(cert *x509.Certificate) {
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		panic("fakegraph: RegisterCertificate needs an RSA certificate")
	}
	s256, s1 := sha256.Sum256(cert.Raw), sha1.Sum(cert.Raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs["x5t#S256:"+b64(s256[:])] = cert
	s.certs["x5t:"+b64(s1[:])] = cert
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// audience is a JWT aud claim: one string or an array of them.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// checkAssertion verifies a certificate credential: signature first, then
// the claims, each failure with the AADSTS code Entra gives it.
func (s *Server) checkAssertion(jwt, clientID, aud string) *aadError {
	invalid := func(reason string) *aadError {
		return aad(http.StatusUnauthorized, "invalid_client", 700027, "Client assertion contains an invalid signature. [Reason - %s]", reason)
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return invalid("The assertion is not a well-formed JWT.")
	}
	var hdr struct {
		Alg     string `json:"alg"`
		X5tS256 string `json:"x5t#S256"`
		X5t     string `json:"x5t"`
	}
	var claims struct {
		Aud audience `json:"aud"`
		Iss string   `json:"iss"`
		Sub string   `json:"sub"`
		Exp *float64 `json:"exp"`
		Nbf *float64 `json:"nbf"`
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || decodeSegment(parts[0], &hdr) != nil || decodeSegment(parts[1], &claims) != nil {
		return invalid("The assertion is not a well-formed JWT.")
	}

	key := "x5t#S256:" + hdr.X5tS256
	if hdr.X5tS256 == "" {
		key = "x5t:" + hdr.X5t
	}
	s.mu.Lock()
	cert := s.certs[key]
	now := s.now()
	s.mu.Unlock()
	if cert == nil {
		return aad(http.StatusUnauthorized, "invalid_client", 700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]", strings.TrimPrefix(strings.TrimPrefix(key, "x5t#S256:"), "x5t:"), clientID)
	}
	if now.After(cert.NotAfter) {
		return invalid("The key used is expired.")
	}
	pub := cert.PublicKey.(*rsa.PublicKey)
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch hdr.Alg {
	case "PS256":
		// RFC 7518 §3.5: the salt is as long as the hash.
		err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "RS256":
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	default:
		return invalid("The algorithm '" + hdr.Alg + "' is not supported.")
	}
	if err != nil {
		return invalid("The signature does not verify with the registered key.")
	}

	unix := func(f *float64) time.Time {
		if f == nil {
			return time.Time{}
		}
		return time.Unix(int64(*f), 0).UTC()
	}
	exp, nbf := unix(claims.Exp), unix(claims.Nbf)
	switch {
	case !strings.EqualFold(claims.Iss, clientID) || !strings.EqualFold(claims.Sub, clientID):
		return aad(http.StatusUnauthorized, "invalid_client", 700021, "Client assertion application identifier doesn't match 'client_id' parameter. "+certDocs)
	case !audienceHas(claims.Aud, aud):
		return aad(http.StatusUnauthorized, "invalid_client", 700023, "Client assertion audience claim does not match Realm issuer. "+certDocs)
	case !now.Before(exp) || nbf.After(now):
		return aad(http.StatusUnauthorized, "invalid_client", 700024, "Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. "+certDocs,
			now.UTC().Format(time.RFC3339Nano), nbf.Format(time.RFC3339Nano), exp.Format(time.RFC3339Nano))
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// audienceHas compares case-insensitively: Microsoft's own samples write
// the path as "/oauth2/V2.0/token".
func audienceHas(aud audience, want string) bool {
	for _, a := range aud {
		if strings.EqualFold(a, want) {
			return true
		}
	}
	return false
}
