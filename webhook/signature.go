// Package webhook delivers a directory's change events to the receivers
// an administrator registered: one signed POST per event, in order per
// webhook, retried with backoff, its progress kept in the store so that
// any process resumes it (worker.go); targets are checked against a
// network policy when a webhook is created and again on every connection
// (guard.go).
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Request headers of a delivery.
const (
	HeaderSignature   = "Scimd-Signature"    // t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
	HeaderEventID     = "Scimd-Event-Id"     // the event's id, as the events API shows it
	HeaderEventType   = "Scimd-Event-Type"   // its type, e.g. contact.updated
	HeaderWebhookID   = "Scimd-Webhook-Id"   // the webhook's id
	HeaderDirectoryID = "Scimd-Directory-Id" // the directory's id
)

// Tolerance is how old a signature's timestamp a receiver should accept
// (README: reject older ones, against replays).
const Tolerance = 5 * time.Minute

// SecretPrefix starts every signing secret, so that a leaked one is
// recognisable.
const SecretPrefix = "whsec_"

// NewSecret returns a new signing secret: SecretPrefix and 32 random
// bytes, base64url. The HMAC key is the whole string, as shown.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Sign returns the Scimd-Signature header value of body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrMalformedSignature = errors.New("webhook: malformed Scimd-Signature header")
	ErrSignatureMismatch  = errors.New("webhook: no v1 signature matches the body")
	ErrSignatureExpired   = errors.New("webhook: signature timestamp outside the tolerance")
)

// Verify is the receiver's check, as README documents it: header's
// timestamp within tolerance of now, and one of its v1 signatures the
// HMAC of "<t>.<body>", compared in constant time.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformedSignature
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrMalformedSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: sent %s ago", ErrSignatureExpired, d.Round(time.Second))
	}
	want := []byte(mac(secret, ts, body))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}
