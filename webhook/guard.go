package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Policy says which receivers webhooks may reach. Against SSRF (an
// administrator's URL making scimd call what only it can reach: the
// cloud's metadata service, a database, an admin port), addresses that
// are not public are refused unless Allow covers them; that holds at a
// webhook's creation, for its URL's host, and again on every connection,
// for the address actually dialled, so that a name resolving elsewhere
// later (DNS rebinding) gets no further.
type Policy struct {
	// AllowHTTP accepts http:// URLs; otherwise only https://.
	AllowHTTP bool
	// Allow lists networks reachable although not public (on-premises
	// receivers, tests). Unspecified, multicast and broadcast addresses
	// are refused whatever it says.
	Allow []netip.Prefix
	// LookupNetIP resolves names at creation (default
	// net.DefaultResolver's).
	LookupNetIP func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ErrBlocked is wrapped by every refusal of an address.
var ErrBlocked = errors.New("webhook target not allowed")

// PrivateNetworks is what "private" stands for in ParseNetworks: loopback,
// RFC 1918, unique local IPv6 and shared (CGNAT) addresses. Link-local
// (and with it the metadata address 169.254.169.254) must be listed on
// its own.
var PrivateNetworks = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("fc00::/7"), netip.MustParsePrefix("100.64.0.0/10"),
}

// reserved are special-purpose ranges that are not public either, beyond
// those netip classifies.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: an IPv4 address behind a gateway
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2002::/16"),       // 6to4: an IPv4 address inside
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
}

// ParseNetworks reads SCIMD_WEBHOOK_ALLOW_NETWORKS: comma-separated
// CIDRs or addresses, and the word "private" for PrivateNetworks.
func ParseNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case strings.EqualFold(f, "private"):
			out = append(out, PrivateNetworks...)
		case strings.Contains(f, "/"):
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR like 10.20.0.0/16", f)
			}
			out = append(out, p.Masked())
		default:
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address, a CIDR or the word private", f)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out, nil
}

// CheckAddr refuses an address that is not public unless p allows it.
func (p Policy) CheckAddr(a netip.Addr) error {
	a = a.Unmap()
	class := ""
	switch {
	case !a.IsValid():
		return fmt.Errorf("%w: not an IP address", ErrBlocked)
	case a.IsUnspecified():
		return fmt.Errorf("%w: %s is the unspecified address", ErrBlocked, a)
	case a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%w: %s is a multicast or broadcast address", ErrBlocked, a)
	case a.IsLoopback():
		class = "a loopback"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		class = "a link-local (cloud metadata)"
	case a.IsPrivate():
		class = "a private"
	default:
		for _, r := range reserved {
			if r.Contains(a) {
				class = "a reserved, non-public"
				break
			}
		}
	}
	if class == "" {
		return nil
	}
	for _, n := range p.Allow {
		if n.Contains(a) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is %s address; SCIMD_WEBHOOK_ALLOW_NETWORKS must list it for scimd to call it", ErrBlocked, a, class)
}

// MaxURLLength bounds a webhook URL.
const MaxURLLength = 2048

// CheckURL validates a webhook URL at creation and returns it in its
// canonical form: absolute https (http when allowed), no credentials or
// fragment, and a host that is a public address or a name resolving only
// to public ones. A name that does not resolve now is accepted: every
// connection is checked again.
func (p Policy) CheckURL(ctx context.Context, raw string) (string, error) {
	if len(raw) > MaxURLLength {
		return "", fmt.Errorf("is longer than %d characters", MaxURLLength)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Opaque != "":
		return "", errors.New("is not an absolute URL like https://hooks.example.com/scimd")
	case u.Scheme != "https" && u.Scheme != "http":
		return "", fmt.Errorf("has scheme %q; use https", u.Scheme)
	case u.Scheme == "http" && !p.AllowHTTP:
		return "", errors.New("uses http; use https (SCIMD_WEBHOOK_ALLOW_HTTP=true accepts http)")
	case u.User != nil:
		return "", errors.New("must not carry credentials (user:password@); the signature authenticates scimd")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", errors.New("must not have a fragment (#...)")
	case u.Hostname() == "":
		return "", errors.New("has no host")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		if err := p.CheckAddr(a); err != nil {
			return "", err
		}
		return u.String(), nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		if err := p.CheckAddr(netip.MustParseAddr("127.0.0.1")); err != nil {
			return "", fmt.Errorf("names the local host: %w", err)
		}
		return u.String(), nil
	}
	lookup := p.LookupNetIP
	if lookup == nil {
		lookup = net.DefaultResolver.LookupNetIP
	}
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := lookup(lctx, "ip", host)
	if err != nil {
		return u.String(), nil
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			return "", fmt.Errorf("resolves to %s: %w", a, err)
		}
	}
	return u.String(), nil
}

// control is the dialer's check of the address it is about to connect
// to, after name resolution.
func (p Policy) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot read the address %q", ErrBlocked, address)
	}
	return p.CheckAddr(ap.Addr())
}

// Dialer returns a dialer that connects only where p allows.
func (p Policy) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.control}
}
