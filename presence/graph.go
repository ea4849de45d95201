package presence

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBatch is getPresencesByUserId's limit of ids per request.
const maxBatch = 650

// graphPresence is one presence object of Graph's answer; everything but
// id is nullable.
type graphPresence struct {
	ID           string `json:"id"`
	Availability string `json:"availability"`
	Activity     string `json:"activity"`
}

// GraphError is a Graph answer other than 200.
type GraphError struct {
	Status     int
	Code       string // Graph's error code; for messages only
	Message    string
	RetryAfter time.Duration // 0 when absent
}

func (e *GraphError) Error() string {
	msg := fmt.Sprintf("Microsoft Graph answered HTTP %d", e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

type graphClient struct {
	hc   *http.Client
	base string // e.g. https://graph.microsoft.com
	now  func() time.Time
}

// presences asks Graph for the presence of ids (at most maxBatch),
// following @odata.nextLink if Graph pages the answer.
func (g *graphClient) presences(ctx context.Context, tok string, ids []string) ([]graphPresence, error) {
	body, _ := json.Marshal(map[string][]string{"ids": ids})
	next := strings.TrimRight(g.base, "/") + "/v1.0/communications/getPresencesByUserId"
	method := http.MethodPost
	var out []graphPresence
	for next != "" {
		var rd io.Reader
		if method == http.MethodPost {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, next, rd)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if rd != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		page, link, err := g.do(req)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		next, method = link, http.MethodGet
	}
	return out, nil
}

func (g *graphClient) do(req *http.Request) ([]graphPresence, string, error) {
	resp, err := g.hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		ge := &GraphError{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), g.now())}
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil {
			ge.Code, ge.Message = e.Error.Code, e.Error.Message
		}
		return nil, "", ge
	}
	return decodePresences(body)
}

// decodePresences reads a getPresencesByUserId answer.
func decodePresences(body []byte) ([]graphPresence, string, error) {
	var v struct {
		Value    []graphPresence `json:"value"`
		NextLink string          `json:"@odata.nextLink"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, "", fmt.Errorf("Microsoft Graph answered 200 with a body that is not a presence collection: %w", err)
	}
	return v.Value, v.NextLink, nil
}

// retryAfter reads a Retry-After header: delta-seconds or an HTTP-date.
// It returns 0 when the header is absent or unreadable.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil {
		return max(time.Duration(n)*time.Second, 0)
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), time.Second)
	}
	return 0
}
