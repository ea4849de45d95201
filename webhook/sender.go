package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Message is one event as a webhook sends it.
type Message struct {
	ID   string // the event's id (its events API cursor)
	Type string // its public type
	Body []byte // the event's JSON, as the events API shows it
}

// sender POSTs messages through a client that dials only where its
// policy allows, follows no redirect and uses no proxy (a proxy would
// dial in our place, past the check).
type sender struct {
	client  *http.Client
	timeout time.Duration
}

func newSender(p Policy, timeout time.Duration) *sender {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           p.Dialer(timeout).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
	}
	return &sender{
		client: &http.Client{
			Transport:     tr,
			Timeout:       timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout: timeout,
	}
}

// outcome is what one attempt came to.
type outcome struct {
	status     int           // the receiver's, 0 if none
	retryAfter time.Duration // its Retry-After, 0 if none
	err        string        // "" when delivered: why it was not, for the delivery log
	refused    bool          // a 4xx other than 408 and 429: the receiver refused the event itself
}

// maxErrorBody bounds what of a refusal's body the delivery log keeps.
const maxErrorBody = 200

func (s *sender) send(ctx context.Context, target, webhookID, directoryID, secret string, m Message, now time.Time) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(m.Body))
	if err != nil {
		return outcome{err: "the webhook's URL cannot be used: " + err.Error()}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "scimd-webhook/1")
	h.Set(HeaderSignature, Sign(secret, now, m.Body))
	h.Set(HeaderEventID, m.ID)
	h.Set(HeaderEventType, m.Type)
	h.Set(HeaderWebhookID, webhookID)
	h.Set(HeaderDirectoryID, directoryID)
	resp, err := s.client.Do(req)
	if err != nil {
		return outcome{err: s.transportError(err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10)) // read, so that the connection is reused
	o := outcome{status: resp.StatusCode}
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return o
	case c >= 300 && c < 400:
		o.err = fmt.Sprintf("the receiver answered %d, a redirect, which scimd does not follow: set the webhook's URL to where it points", c)
	case c == http.StatusTooManyRequests || c >= 500:
		o.err = fmt.Sprintf("the receiver answered %d", c)
	case c == http.StatusRequestTimeout:
		o.err = "the receiver answered 408 (request timeout)"
	default:
		o.refused = true
		o.err = fmt.Sprintf("the receiver refused the event with %d (check its URL and its signature check)", c)
	}
	if excerpt := clean(body); excerpt != "" {
		o.err += ": " + excerpt
	}
	o.retryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
	return o
}

// transportError says why no answer came, without the URL (which may
// carry a token of the receiver's).
func (s *sender) transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, ErrBlocked):
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err
		}
		return "refused to connect: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within %s", s.timeout)
	case errors.Is(err, context.Canceled):
		return "cancelled: scimd is shutting down or the webhook changed"
	}
	return "cannot reach the receiver: " + err.Error()
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// clean returns the start of a receiver's answer, one line, printable.
func clean(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, string(bytes.TrimSpace(b)))
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxErrorBody {
		s = string(r[:maxErrorBody]) + "…"
	}
	return s
}
