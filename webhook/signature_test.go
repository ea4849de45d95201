package webhook_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/webhook"
)

func TestSignVerify(t *testing.T) {
	secret := webhook.NewSecret()
	if !strings.HasPrefix(secret, webhook.SecretPrefix) || len(secret) != len(webhook.SecretPrefix)+43 {
		t.Fatalf("NewSecret = %q", secret)
	}
	if webhook.NewSecret() == secret {
		t.Fatal("two secrets alike")
	}
	at := time.Unix(1767225600, 0)
	body := []byte(`{"id":"MQ","type":"contact.created"}`)
	h := webhook.Sign(secret, at, body)
	if !strings.HasPrefix(h, "t=1767225600,v1=") || len(h) != len("t=1767225600,v1=")+64 {
		t.Fatalf("Sign = %q", h)
	}
	for _, tt := range []struct {
		name   string
		secret string
		header string
		body   string
		now    time.Time
		want   error
	}{
		{"valid", secret, h, string(body), at.Add(time.Minute), nil},
		{"valid with another v1 first", secret, strings.Replace(h, "v1=", "v1=00,v1=", 1), string(body), at, nil},
		{"body changed", secret, h, `{"id":"MQ","type":"contact.deleted"}`, at, webhook.ErrSignatureMismatch},
		{"other secret", webhook.NewSecret(), h, string(body), at, webhook.ErrSignatureMismatch},
		{"timestamp changed", secret, strings.Replace(h, "t=1767225600", "t=1767225601", 1), string(body), at, webhook.ErrSignatureMismatch},
		{"too old", secret, h, string(body), at.Add(webhook.Tolerance + time.Second), webhook.ErrSignatureExpired},
		{"from the future", secret, h, string(body), at.Add(-webhook.Tolerance - time.Second), webhook.ErrSignatureExpired},
		{"no v1", secret, "t=1767225600", string(body), at, webhook.ErrMalformedSignature},
		{"no t", secret, h[len("t=1767225600,"):], string(body), at, webhook.ErrMalformedSignature},
		{"garbage", secret, "sha256=abc", string(body), at, webhook.ErrMalformedSignature},
	} {
		err := webhook.Verify(tt.secret, tt.header, []byte(tt.body), tt.now, webhook.Tolerance)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: Verify = %v, want %v", tt.name, err, tt.want)
		}
	}
}
