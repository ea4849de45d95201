package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var baseRe = regexp.MustCompile(`SCIMD_LOGIN_URL=(http://127\.0\.0\.1:\d+) SCIMD_GRAPH_URL=(\S+)`)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, outW := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-addr", "127.0.0.1:0", "-client-id", "33333333-3333-3333-3333-333333333333", "-client-secret", "s3cret"}, outW, &stderr)
		outW.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no start line: %v", err)
	}
	m := baseRe.FindStringSubmatch(line)
	if m == nil || m[1] != m[2] || strings.HasSuffix(m[1], ":0") {
		t.Fatalf("start line %q", line)
	}
	base := m[1]

	// The flags reach the fake: its client id and secret get a token, and
	// AutoPresence is on by default.
	resp, err := http.PostForm(base+"/contoso.onmicrosoft.com/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"33333333-3333-3333-3333-333333333333"},
		"client_secret": {"s3cret"}, "scope": {"https://graph.microsoft.com/.default"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", base+"/v1.0/communications/getPresencesByUserId",
		strings.NewReader(`{"ids":["0b8c6e3a-5f7d-4c3e-9a1b-2d4e6f8a0c1e"]}`))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var pres struct{ Value []map[string]any }
	json.NewDecoder(resp.Body).Decode(&pres)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(pres.Value) != 1 {
		t.Fatalf("presence: %d %v", resp.StatusCode, pres)
	}

	cancel()
	io.Copy(io.Discard, out)
	if c := <-code; c != 0 {
		t.Fatalf("exit %d, stderr %q", c, stderr.String())
	}
}

func TestRunBadArgs(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"-nope"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"-change-every", "-1s"}, 2},
		{[]string{"-token-lifetime", "0"}, 2},
		{[]string{"-addr", "127.0.0.1:99999"}, 1},
		{[]string{"-h"}, 0},
	} {
		var stdout, stderr bytes.Buffer
		if got := run(t.Context(), tt.args, &stdout, &stderr); got != tt.want {
			t.Errorf("run %q = %d, want %d (stderr %q)", tt.args, got, tt.want, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("run %q printed %q", tt.args, stdout.String())
		}
	}
}
