package fakegraph

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
)

// Transport returns an http.RoundTripper that serves requests with this
// Server in memory, with no sockets, so tests can run in a testing/synctest
// bubble. A request whose context ends first fails with the context's error.
func (s *Server) Transport() http.RoundTripper { return transport{s} }

type transport struct{ h http.Handler }

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	// Make the request look as it would to a server.
	sr := req.Clone(ctx)
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	if sr.Host == "" {
		sr.Host = req.URL.Host
	}
	sr.RequestURI = req.URL.RequestURI()
	sr.RemoteAddr = "192.0.2.1:50000"
	if req.URL.Scheme == "https" {
		sr.TLS = &tls.ConnectionState{HandshakeComplete: true} // a client assertion's aud names https
	}

	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer sr.Body.Close()
		t.h.ServeHTTP(rec, sr)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := ctx.Err(); err != nil { // the handler gave up on a cancelled request
		return nil, err
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
