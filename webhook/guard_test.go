package webhook_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/scimd/scimd/webhook"
)

func TestCheckAddr(t *testing.T) {
	strict := webhook.Policy{}
	private := webhook.Policy{Allow: webhook.PrivateNetworks}
	listed := webhook.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("169.254.169.254/32"), netip.MustParsePrefix("0.0.0.0/0")}}
	for _, tt := range []struct {
		addr                    string
		strict, private, listed bool // allowed under each policy
	}{
		{"93.184.215.14", true, true, true},
		{"2606:4700::1111", true, true, true},
		{"127.0.0.1", false, true, true},
		{"127.8.9.10", false, true, true},
		{"::1", false, true, false},
		{"::ffff:127.0.0.1", false, true, true}, // IPv4-mapped: judged as IPv4
		{"10.1.2.3", false, true, true},
		{"172.16.0.1", false, true, true},
		{"192.168.1.1", false, true, true},
		{"fd12:3456::1", false, true, false},
		{"100.64.0.1", false, true, true},
		{"169.254.169.254", false, false, true}, // the metadata service: only when listed itself
		{"169.254.1.1", false, false, true},
		{"fe80::1", false, false, false},
		{"0.0.0.0", false, false, false}, // never, whatever the list
		{"::", false, false, false},
		{"224.0.0.1", false, false, false},
		{"ff02::1", false, false, false},
		{"255.255.255.255", false, false, false},
		{"198.18.0.1", false, false, true},
		{"64:ff9b::7f00:1", false, false, false}, // NAT64 of 127.0.0.1
	} {
		a := netip.MustParseAddr(tt.addr)
		for _, c := range []struct {
			name string
			p    webhook.Policy
			want bool
		}{{"strict", strict, tt.strict}, {"private", private, tt.private}, {"listed", listed, tt.listed}} {
			err := c.p.CheckAddr(a)
			if (err == nil) != c.want || err != nil && !errors.Is(err, webhook.ErrBlocked) {
				t.Errorf("%s policy, %s: CheckAddr = %v, want allowed %v", c.name, tt.addr, err, c.want)
			}
		}
	}
	err := strict.CheckAddr(netip.MustParseAddr("169.254.169.254"))
	if err == nil || !strings.Contains(err.Error(), "link-local") || !strings.Contains(err.Error(), "SCIMD_WEBHOOK_ALLOW_NETWORKS") {
		t.Errorf("refusal %v should name the class and the setting", err)
	}
}

func TestCheckURL(t *testing.T) {
	resolve := func(addrs map[string][]string) func(context.Context, string, string) ([]netip.Addr, error) {
		return func(_ context.Context, _, host string) ([]netip.Addr, error) {
			as, ok := addrs[host]
			if !ok {
				return nil, errors.New("no such host")
			}
			var out []netip.Addr
			for _, a := range as {
				out = append(out, netip.MustParseAddr(a))
			}
			return out, nil
		}
	}
	dns := resolve(map[string][]string{
		"hooks.example.com":   {"93.184.215.14"},
		"rebind.example.com":  {"93.184.215.14", "127.0.0.1"},
		"metadata.example.io": {"169.254.169.254"},
	})
	strict := webhook.Policy{LookupNetIP: dns}
	open := webhook.Policy{AllowHTTP: true, Allow: webhook.PrivateNetworks, LookupNetIP: dns}
	for _, tt := range []struct {
		url        string
		p          webhook.Policy
		wantErr    string // "" accepted
		wantBlock  bool
		normalised string
	}{
		{url: "https://hooks.example.com/scimd?x=1", p: strict},
		{url: "https://unknown.example.net/hook", p: strict}, // unresolvable now: checked again on every dial
		{url: "https://93.184.215.14:8443/", p: strict},
		{url: "http://hooks.example.com/", p: strict, wantErr: "SCIMD_WEBHOOK_ALLOW_HTTP"},
		{url: "ftp://hooks.example.com/", p: strict, wantErr: `scheme "ftp"`},
		{url: "https://user:pw@hooks.example.com/", p: strict, wantErr: "credentials"},
		{url: "https://hooks.example.com/#frag", p: strict, wantErr: "fragment"},
		{url: "/relative", p: strict, wantErr: "absolute"},
		{url: "https:///nohost", p: strict, wantErr: "host"},
		{url: "https://127.0.0.1/", p: strict, wantBlock: true},
		{url: "https://[::1]:8080/", p: strict, wantBlock: true},
		{url: "https://10.0.0.5/", p: strict, wantBlock: true},
		{url: "https://169.254.169.254/latest/meta-data/", p: strict, wantBlock: true},
		{url: "https://localhost:9000/", p: strict, wantBlock: true},
		{url: "https://api.localhost/", p: strict, wantBlock: true},
		{url: "https://rebind.example.com/", p: strict, wantBlock: true},
		{url: "https://metadata.example.io/", p: open, wantBlock: true},
		{url: "http://localhost:9000/", p: open},
		{url: "http://127.0.0.1:9000/", p: open},
		{url: "https://" + strings.Repeat("a", webhook.MaxURLLength) + ".com/", p: strict, wantErr: "longer"},
	} {
		got, err := tt.p.CheckURL(t.Context(), tt.url)
		switch {
		case tt.wantErr == "" && !tt.wantBlock && err != nil:
			t.Errorf("CheckURL(%q) = %v, want accepted", tt.url, err)
		case tt.wantBlock && !errors.Is(err, webhook.ErrBlocked):
			t.Errorf("CheckURL(%q) = %q, %v; want ErrBlocked", tt.url, got, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("CheckURL(%q) = %v, want an error naming %q", tt.url, err, tt.wantErr)
		case err == nil && got != tt.url:
			t.Errorf("CheckURL(%q) = %q, want it unchanged", tt.url, got)
		}
	}
}

func TestParseNetworks(t *testing.T) {
	got, err := webhook.ParseNetworks(" 10.20.0.0/16 , 192.0.2.7, fd00:1::/64,private")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3+len(webhook.PrivateNetworks) || got[0].String() != "10.20.0.0/16" || got[1].String() != "192.0.2.7/32" {
		t.Errorf("ParseNetworks = %v", got)
	}
	if got, err := webhook.ParseNetworks(""); err != nil || got != nil {
		t.Errorf(`ParseNetworks("") = %v, %v`, got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "intranet", "10.0.0"} {
		if _, err := webhook.ParseNetworks(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseNetworks(%q) = %v, want an error quoting it", bad, err)
		}
	}
}
