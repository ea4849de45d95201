package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
)

// faultProxy stands between scimd and PostgreSQL: cut drops every
// connection and refuses new ones, as a database server that went away;
// freeze keeps connections open but passes nothing, as a server that
// hangs or a network partition; restore lets everything through again.
type faultProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	down   bool
	frozen bool
	thawed *sync.Cond
	conns  map[net.Conn]struct{}
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.thawed = sync.NewCond(&p.mu)
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *faultProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

func (p *faultProxy) pipe(c net.Conn) {
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	if down {
		c.Close()
		return
	}
	p.mu.Lock()
	for p.frozen { // a new connection waits, unanswered
		p.thawed.Wait()
	}
	p.mu.Unlock()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, s) {
		return
	}
	go func() { p.copy(s, c); s.Close() }()
	p.copy(c, s)
	c.Close()
}

// copy passes bytes from src to dst, holding them while frozen.
func (p *faultProxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		for p.frozen {
			p.thawed.Wait()
		}
		p.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *faultProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
}

func (p *faultProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *faultProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}

func (p *faultProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down, p.frozen = false, false
	p.thawed.Broadcast()
}

// through returns databaseURL with its host replaced by the proxy's.
func (p *faultProxy) through(t *testing.T, databaseURL string) string {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

// TestDatabaseGoesAway: while PostgreSQL is unreachable, SCIM answers 503
// with a SCIM error (not a 500, not a hang), /readyz turns 503; scimd
// recovers by itself when it is back; and every user acknowledged with a
// 201, before, during or after, is stored.
func TestDatabaseGoesAway(t *testing.T) {
	direct := pgtest.URL(t)
	u, _ := url.Parse(direct)
	proxy := newFaultProxy(t, u.Host)
	s := startServer(t, testOptions{databaseURL: proxy.through(t, direct)})
	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	key := decodeJSON[struct{ Key string }](t, s.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/api-keys", testAdminToken, `{"name":"cx"}`)).Key

	var (
		mu       sync.Mutex
		acked    []string
		statuses = map[int]int{}
		seq      atomic.Int64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 20 * time.Second}
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("user%05d@contoso.com", seq.Add(1))
				body := strings.Replace(annArcher, "ann@contoso.com", name, 1)
				req, _ := http.NewRequest(http.MethodPost, s.url+"/scim/v2/"+d.ID+"/Users", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+d.SCIMToken)
				req.Header.Set("Content-Type", "application/scim+json")
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("create %s: %v", name, err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				switch resp.StatusCode {
				case http.StatusCreated:
					acked = append(acked, name)
				case http.StatusServiceUnavailable:
					if !strings.Contains(string(b), `"status":"503"`) || resp.Header.Get("Retry-After") == "" {
						t.Errorf("503 without a SCIM error or Retry-After: %s", b)
					}
				default:
					t.Errorf("create %s: %d %s", name, resp.StatusCode, b)
				}
				mu.Unlock()
				if took := time.Since(start); took > 10*time.Second {
					t.Errorf("create %s took %s", name, took)
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	proxy.cut()
	within(t, 5*time.Second, "/readyz answers 503", func() bool {
		return s.do(http.MethodGet, "/readyz", "", "").status == http.StatusServiceUnavailable
	})
	// The admin and lookup APIs answer their JSON 503.
	for _, r := range []response{
		s.do(http.MethodGet, "/admin/v1/directories/"+d.ID, testAdminToken, ""),
		s.do(http.MethodGet, "/api/v1/directories/"+d.ID+"/lookup?phone=%2B442071838750", key, ""),
	} {
		wantAPIError(t, r, http.StatusServiceUnavailable, "unavailable")
		if r.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
	time.Sleep(time.Second)
	mu.Lock()
	during := statuses[http.StatusServiceUnavailable]
	mu.Unlock()
	proxy.restore()
	took := within(t, 10*time.Second, "/readyz answers 200 again", func() bool {
		return s.do(http.MethodGet, "/readyz", "", "").status == http.StatusOK
	})
	t.Logf("ready again %s after the database came back", took)
	mu.Lock()
	before := statuses[http.StatusCreated]
	mu.Unlock()
	took = within(t, 10*time.Second, "creates succeed again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return statuses[http.StatusCreated] > before+10
	})
	t.Logf("creating again %s later", took)
	close(stop)
	wg.Wait()
	t.Logf("statuses %v", statuses)
	if during == 0 {
		t.Error("no 503 while the database was away")
	}

	// Every acknowledged user is there.
	for _, name := range acked {
		r := s.do(http.MethodGet, "/scim/v2/"+d.ID+"/Users?filter="+url.QueryEscape(`userName eq "`+name+`"`), d.SCIMToken, "")
		if !strings.Contains(string(r.body), `"totalResults":1`) {
			t.Errorf("acknowledged user %s is missing: %s", name, r.body)
		}
	}
	if logs := s.logs.String(); strings.Contains(logs, "level=ERROR") && strings.Contains(logs, "panic") {
		t.Errorf("a panic was logged")
	}
}

// TestDatabaseHangs: a database that stops answering without closing its
// connections makes requests answer 503 at the request timeout, not hang,
// and scimd recovers when it answers again.
func TestDatabaseHangs(t *testing.T) {
	old := requestTimeout
	requestTimeout = time.Second
	t.Cleanup(func() { requestTimeout = old })
	direct := pgtest.URL(t)
	u, _ := url.Parse(direct)
	proxy := newFaultProxy(t, u.Host)
	s := startServer(t, testOptions{databaseURL: proxy.through(t, direct)})
	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	s.createSCIMUser(d, annArcher)

	proxy.freeze()
	t.Cleanup(proxy.restore) // before the server's stop, registered earlier
	for _, path := range []string{"/Users", "/Users?filter=" + url.QueryEscape(`userName eq "ann@contoso.com"`)} {
		start := time.Now()
		r := s.doHeader(http.MethodPost, "/scim/v2/"+d.ID+path, strings.Replace(annArcher, "ann@", "bob@", 1),
			map[string]string{"Authorization": bearer(d.SCIMToken), "Content-Type": "application/scim+json"})
		if path != "/Users" {
			r = s.do(http.MethodGet, "/scim/v2/"+d.ID+path, d.SCIMToken, "")
		}
		took := time.Since(start)
		wantSCIMError(t, r, http.StatusServiceUnavailable)
		if took > 3*time.Second {
			t.Errorf("%s answered after %s, want about the 1 s request timeout", path, took)
		}
	}
	start := time.Now()
	if r := s.do(http.MethodGet, "/readyz", "", ""); r.status != http.StatusServiceUnavailable || time.Since(start) > 4*time.Second {
		t.Errorf("/readyz: %d after %s", r.status, time.Since(start))
	}
	proxy.restore()
	within(t, 10*time.Second, "creates succeed again", func() bool {
		r := s.doHeader(http.MethodPost, "/scim/v2/"+d.ID+"/Users", strings.Replace(annArcher, "ann@", "carol@", 1),
			map[string]string{"Authorization": bearer(d.SCIMToken), "Content-Type": "application/scim+json"})
		return r.status == http.StatusCreated
	})
}
