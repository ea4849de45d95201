package scim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// replayCase is a recorded Entra exchange in testdata/entra: requests as
// Entra sends them and the response shapes it relies on.
type replayCase struct {
	Description string       `json:"description"`
	Steps       []replayStep `json:"steps"`
}

type replayStep struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	Path    string            `json:"path"` // relative to the directory's base URL
	Token   string            `json:"token"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
	Status  int               `json:"status"`
	// Response must be contained in the actual body ("*" matches any
	// non-null value); Exact must equal it.
	Response json.RawMessage `json:"response"`
	Exact    json.RawMessage `json:"exact"`
	// Absent lists "/"-separated paths that must not exist.
	Absent         []string          `json:"absent"`
	DetailContains string            `json:"detailContains"`
	Capture        map[string]string `json:"capture"` // variable → top-level response key
}

func TestEntraReplay(t *testing.T) {
	files, err := filepath.Glob("../testdata/entra/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded payloads: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c replayCase
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			ts := newTestServer(t)
			vars := map[string]string{"base": ts.base}
			subst := func(s string) string {
				for k, v := range vars {
					s = strings.ReplaceAll(s, "${"+k+"}", v)
				}
				return s
			}
			for i, st := range c.Steps {
				token := ts.token
				switch st.Token {
				case "none":
					token = ""
				case "wrong":
					token = "scimd_wrong"
				}
				var body any
				if len(st.Body) > 0 {
					body = subst(string(st.Body))
				}
				h := http.Header{}
				for k, v := range st.Headers {
					h.Set(k, v)
				}
				r := ts.doWith(st.Method, ts.base+subst(st.Path), token, body, h)
				where := fmt.Sprintf("step %d %q: %s %s", i, st.Name, st.Method, subst(st.Path))
				if r.status != st.Status {
					t.Fatalf("%s: status %d, want %d\n%s", where, r.status, st.Status, r.body)
				}
				if len(r.body) > 0 {
					if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
						t.Errorf("%s: Content-Type %q", where, ct)
					}
				}
				var got any
				if len(r.body) > 0 {
					if err := json.Unmarshal(r.body, &got); err != nil {
						t.Fatalf("%s: body is not JSON: %s", where, r.body)
					}
				}
				for name, key := range st.Capture {
					v, _ := got.(map[string]any)[key].(string)
					if v == "" {
						t.Fatalf("%s: nothing to capture at %q", where, key)
					}
					vars[name] = v
				}
				if len(st.Exact) > 0 {
					var want any
					_ = json.Unmarshal([]byte(subst(string(st.Exact))), &want)
					if !jsonEq(want, got) {
						t.Errorf("%s:\n got  %s\n want %s", where, r.body, subst(string(st.Exact)))
					}
				}
				if len(st.Response) > 0 {
					var want any
					if err := json.Unmarshal([]byte(subst(string(st.Response))), &want); err != nil {
						t.Fatal(err)
					}
					if msg := contains(want, got, ""); msg != "" {
						t.Errorf("%s: %s\n got %s", where, msg, r.body)
					}
				}
				for _, p := range st.Absent {
					if lookup(got, p) {
						t.Errorf("%s: %q must be absent\n got %s", where, p, r.body)
					}
				}
				if st.DetailContains != "" {
					if d, _ := got.(map[string]any)["detail"].(string); !strings.Contains(d, subst(st.DetailContains)) {
						t.Errorf("%s: detail %q does not contain %q", where, d, st.DetailContains)
					}
				}
			}
		})
	}
}

// contains reports how got fails to contain want ("" if it does).
func contains(want, got any, at string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want an object, got %v", at, got)
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s/%s: missing", at, k)
			}
			if msg := contains(wv, gv, at+"/"+k); msg != "" {
				return msg
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: want %d elements, got %v", at, len(w), got)
		}
		for i := range w {
			if msg := contains(w[i], g[i], at+"/"+strconv.Itoa(i)); msg != "" {
				return msg
			}
		}
		return ""
	case string:
		if w == "*" && got != nil {
			return ""
		}
	}
	if !jsonEq(want, got) {
		return fmt.Sprintf("%s: want %v, got %v", at, want, got)
	}
	return ""
}

func lookup(v any, path string) bool {
	for _, part := range strings.Split(path, "/") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[part]; !ok {
				return false
			}
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i >= len(x) {
				return false
			}
			v = x[i]
		default:
			return false
		}
	}
	return true
}

func jsonEq(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
