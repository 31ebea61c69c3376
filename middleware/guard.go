package middleware

import (
	"net"
	"net/http"
	"net/netip"
)

// allowed decides whether r may read the tree: the authorizer's answer when WithAuthorizer set
// one, otherwise whether the TCP peer is a loopback address. Headers such as X-Forwarded-For are
// never consulted: any client can send them, and behind a proxy every request would look local.
func (t *tree) allowed(r *http.Request) bool {
	if t.cfg.authorize != nil {
		return t.cfg.authorize(r)
	}
	return isLoopback(r.RemoteAddr)
}

// isLoopback reports whether a RemoteAddr ("host:port") is a loopback address. An address that
// does not parse — a Unix socket peer is "" or "@" — is not: serving those takes an authorizer.
func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return a.Unmap().IsLoopback()
}
