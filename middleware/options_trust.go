package middleware

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// WithTrustedProxies names the loopback addresses (or prefixes, "127.0.0.1" or "127.0.0.0/8") of
// a proxy on this host whose forwarded requests the tree may serve. By default a loopback request
// that carries a proxy's headers (X-Forwarded-For, Forwarded, Via, X-Real-IP, X-Envoy-*, …) is
// refused, because a proxy or sidecar on the same host connects from loopback for every client it
// forwards. Name a proxy here only if it lets through nobody but callers who may read the tree
// (it authenticates them, or it listens on loopback itself); the Host it sends must still be a
// loopback name or one given to WithAllowedHosts. Only loopback addresses are accepted: a remote
// peer is never served without an authorizer. Not used with WithAuthorizer, which decides alone.
func WithTrustedProxies(addrs ...string) Option {
	return handlerOption("WithTrustedProxies", func(c *config) error {
		if len(addrs) == 0 {
			return errors.New("middleware: WithTrustedProxies: no address")
		}
		for _, s := range addrs {
			p, err := parseLoopbackPrefix(s)
			if err != nil {
				return fmt.Errorf("middleware: WithTrustedProxies(%q): %w", s, err)
			}
			c.trustedProxies = append(c.trustedProxies, p)
		}
		return nil
	})
}

var errLoopbackOnly = errors.New("must be loopback (within 127.0.0.0/8, or ::1): a remote peer is served only through WithAuthorizer")

func parseLoopbackPrefix(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, errors.New("not an address or a prefix")
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, errors.New("not an address or a prefix")
		}
		a = a.Unmap()
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return p, errLoopbackOnly
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	p = p.Masked()
	// Every address of the prefix must be loopback: 127.0.0.0/8 and ::1 are, 0.0.0.0/0 is not.
	minBits := 8
	if p.Addr().Is6() {
		minBits = 128
	}
	if !p.Addr().IsLoopback() || p.Bits() < minBits || p.Addr().Zone() != "" {
		return p, errLoopbackOnly
	}
	return p, nil
}

// allowedHost is a host name given to WithAllowedHosts, lower case, with the port it must come
// with ("" for any).
type allowedHost struct{ host, port string }

// WithAllowedHosts adds host names (or "name:port") that the Host header may carry besides the
// loopback names (localhost, *.localhost, 127.0.0.0/8, [::1]), which are always accepted. The
// check is what stops DNS rebinding: a page whose name the attacker rebinds to 127.0.0.1 makes
// the browser send that name. Give the names a proxy in WithTrustedProxies sends, or, with
// WithAuthorizer, the names the tree is reached by: with an authorizer the Host is not checked
// until this option is set. Names are exact (no wildcards); an IP address is a name too.
func WithAllowedHosts(hosts ...string) Option {
	return handlerOption("WithAllowedHosts", func(c *config) error {
		if len(hosts) == 0 {
			return errors.New("middleware: WithAllowedHosts: no host")
		}
		for _, h := range hosts {
			a, err := parseAllowedHost(h)
			if err != nil {
				return fmt.Errorf("middleware: WithAllowedHosts(%q): %w", h, err)
			}
			c.allowedHosts = append(c.allowedHosts, a)
		}
		return nil
	})
}

func parseAllowedHost(s string) (allowedHost, error) {
	if s == "" || strings.ContainsAny(s, "/?#@*, \t") || strings.Contains(s, "://") {
		return allowedHost{}, errors.New(`want a host name or "name:port", without scheme, path or wildcard`)
	}
	host, port := splitHostPort(s)
	if host == "" || (port != "" && !allDigits(port)) {
		return allowedHost{}, errors.New(`want a host name or "name:port"`)
	}
	return allowedHost{host: host, port: port}, nil
}

// WithAllowedOrigins names web origins ("https://grafana.example.com", "http://localhost:3000")
// whose pages may request the tree from a browser. By default a request that a page of another
// origin made — Sec-Fetch-Site cross-site or same-site, or an Origin or Referer that is not the
// tree's own — is refused: a page can make a browser send a GET it cannot read (<img src>, fetch
// in no-cors mode), and that is enough to start a CPU profile or fgprof's stop-the-world sampling.
// The tree sends no CORS headers either way: an allowed origin can link to and embed the tree, not
// read it from script.
func WithAllowedOrigins(origins ...string) Option {
	return handlerOption("WithAllowedOrigins", func(c *config) error {
		if len(origins) == 0 {
			return errors.New("middleware: WithAllowedOrigins: no origin")
		}
		for _, o := range origins {
			n, err := normalizeOrigin(o)
			if err != nil {
				return fmt.Errorf("middleware: WithAllowedOrigins(%q): %w", o, err)
			}
			c.allowedOrigins = append(c.allowedOrigins, n)
		}
		return nil
	})
}

// normalizeOrigin returns "scheme://host:port" in lower case with the scheme's default port
// written out, or an error when s is not an http or https origin.
func normalizeOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New(`want an origin, "http://host[:port]" or "https://host[:port]"`)
	}
	host, port := splitHostPort(u.Host)
	if host == "" || strings.Contains(host, "*") {
		return "", errors.New("want an origin with a host name, no wildcard")
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return u.Scheme + "://" + host + ":" + defaultPort(port, u.Scheme), nil
}
