package middleware

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// The guard decides who may read the tree, before anything else looks at the request. It refuses,
// in this order (docs/security.md, "The trust model"):
//
//  1. a TCP peer that is not loopback — unless WithAuthorizer decides instead;
//  2. a loopback peer whose request carries a proxy's headers: a reverse proxy or a mesh sidecar on
//     the same host connects from loopback for every client it forwards, so such a request is not
//     a local caller — unless the peer is named by WithTrustedProxies (not checked with an
//     authorizer, which sees the headers itself);
//  3. a Host that is not a loopback name or one given to WithAllowedHosts: a browser sends the name
//     it looked up, and a page that rebinds its own name to 127.0.0.1 sends that name (checked
//     under the default rule, and with an authorizer once WithAllowedHosts is set);
//  4. a browser request made by a page of another origin: Sec-Fetch-Site cross-site or same-site,
//     an Origin or a Referer that is not the tree's own — unless the origin is given to
//     WithAllowedOrigins. A page can make any browser send a GET (<img src>, fetch with
//     mode no-cors) without reading the answer, and that is enough to start /cpu or /fgprof.
//     Always checked.

// guard returns nil when r may read the tree, or the 403 that says which check refused it and how
// to allow it deliberately.
func (t *tree) guard(r *http.Request) error {
	if t.cfg.authorize != nil {
		if !t.cfg.authorize(r) {
			return forbidden("the service's authorizer refused this request")
		}
	} else {
		peer, ok := peerAddr(r.RemoteAddr)
		if !ok || !peer.IsLoopback() {
			return forbidden("memdiag serves loopback callers only (the TCP peer address, never a header) unless the service sets an authorizer")
		}
		if h := proxyEvidence(r.Header); h != "" && !t.trustedProxy(peer) {
			return forbidden("the request came through a proxy (it carries the header " + quote(h) + "): a proxy or sidecar on this host connects from loopback for every client it forwards. " +
				"Serve the tree on a loopback listener of its own, or name the proxy with WithTrustedProxies if it lets through only callers who may read the tree")
		}
	}
	if t.cfg.authorize == nil || len(t.cfg.allowedHosts) > 0 {
		if !t.hostAllowed(r.Host) {
			return forbidden("host " + quote(r.Host) + " is not a loopback name (localhost, *.localhost, 127.0.0.0/8, [::1]) nor one given to WithAllowedHosts: " +
				"a page that rebinds its own DNS name to this host sends that name")
		}
	}
	if why := t.crossOrigin(r); why != "" {
		return forbidden(why + ": a page of another origin may not start profiles or read the tree. Open the URL directly, or allow that origin with WithAllowedOrigins")
	}
	return nil
}

func forbidden(why string) error {
	return &httpError{status: http.StatusForbidden, msg: "forbidden: " + why + " (docs/security.md)"}
}

// peerAddr parses a RemoteAddr ("host:port"). An address that does not parse — a Unix socket peer
// is "" or "@" — is not a peer the default rule serves: serving those takes an authorizer.
func peerAddr(remoteAddr string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func (t *tree) trustedProxy(peer netip.Addr) bool {
	for _, p := range t.cfg.trustedProxies {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// proxyHeaders are the headers that a forwarding hop adds and a local client has no reason to
// send: the de-facto and standard forwarding headers, the client-address headers of load
// balancers and CDNs, and the request metadata of Envoy (Istio), Linkerd, IIS ARR and cloud load
// balancers. Names are lower case.
var proxyHeaders = []string{
	"forwarded", "via", "x-real-ip", "x-client-ip", "client-ip", "true-client-ip", "cf-connecting-ip",
	"fastly-client-ip", "x-cluster-client-ip", "x-proxyuser-ip", "x-originating-ip", "x-remote-ip",
	"x-remote-addr", "x-host", "x-scheme", "x-url-scheme", "front-end-https", "cdn-loop", "cf-ray",
	"cf-visitor", "cf-ipcountry", "x-request-start", "x-proxy-id", "proxy-client-ip", "wl-proxy-client-ip",
}

// proxyHeaderPrefixes name families: every X-Forwarded-* (For, Host, Proto, Port, Prefix, Server,
// Ssl, Client-Cert), X-Original-* (ingress-nginx, IIS), X-Envoy-* (external address, peer
// metadata, attempt count, expected timeout), L5d-* (Linkerd), and the cloud providers' own.
var proxyHeaderPrefixes = []string{
	"x-forwarded", "x-original-", "x-envoy-", "l5d-", "x-amzn-", "x-azure-", "x-arr-", "x-appengine-",
	"x-vercel-", "fly-", "akamai-", "x-akamai-",
}

// proxyEvidence returns the name of a header in h that a proxy added, or "".
func proxyEvidence(h http.Header) string {
	for name, vs := range h {
		if len(vs) == 0 {
			continue // a nil entry is never sent: httputil.ReverseProxy uses one to mean "omit"
		}
		if isProxyHeader(name) {
			return name
		}
	}
	return ""
}

// isProxyHeader reports whether name, in any case, is a proxy's header. It compares without
// lowering a copy: the guard looks at every header of every request.
func isProxyHeader(name string) bool {
	for _, p := range proxyHeaders {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	for _, p := range proxyHeaderPrefixes {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return true
		}
	}
	return false
}

// hostAllowed reports whether a Host header names this machine's loopback or a configured name.
func (t *tree) hostAllowed(hostport string) bool {
	host, port := splitHostPort(hostport)
	if host == "" {
		return false // HTTP/1.1 requires Host, and every browser sends one
	}
	if isLoopbackName(host) {
		return true
	}
	for _, a := range t.cfg.allowedHosts {
		if a.host == host && (a.port == "" || a.port == port) {
			return true
		}
	}
	return false
}

// splitHostPort splits a Host header into its lower-case name (brackets and one trailing dot
// removed) and port.
func splitHostPort(hostport string) (host, port string) {
	host = hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host, port
}

// isLoopbackName reports whether a host name can only mean this machine: "localhost" and
// "*.localhost" (RFC 6761; browsers resolve them to loopback themselves, so no DNS answer can
// rebind them) and loopback address literals.
func isLoopbackName(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback() && a.Zone() == ""
}

// crossOrigin returns why r is a browser request made by a page of another origin, or "". Each
// signal is one the page cannot set: browsers own Sec-Fetch-Site, Origin and Referer.
func (t *tree) crossOrigin(r *http.Request) string {
	origin := r.Header.Get("Origin")
	if origin != "" && t.originAllowed(origin) {
		return ""
	}
	switch site := strings.ToLower(r.Header.Get("Sec-Fetch-Site")); site {
	case "", "none", "same-origin":
	case "cross-site", "same-site":
		// same-site is another port or scheme of this host name: another origin all the same.
		return "a " + site + " browser request (Sec-Fetch-Site: " + site + ")"
	default:
		return "a browser request with Sec-Fetch-Site " + quote(site)
	}
	if origin != "" && !sameOrigin(origin, r) {
		return "a browser request from origin " + quote(origin)
	}
	if ref := r.Header.Get("Referer"); ref != "" && origin == "" {
		u, err := url.Parse(ref)
		if err != nil || (u.Host != "" && !sameOrigin(u.Scheme+"://"+u.Host, r) && !t.originAllowed(u.Scheme+"://"+u.Host)) {
			return "a browser request from a page at " + quote(ref)
		}
	}
	return ""
}

// sameOrigin reports whether origin ("scheme://host[:port]") names the host and port r was sent
// to. A Host without a port means the default port of r's own scheme: behind a proxy that ends TLS
// that is http's, and the proxy's origin is then one to give to WithAllowedOrigins.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false // "null" (a sandboxed frame, a file: page) included
	}
	oh, op := splitHostPort(u.Host)
	rh, rp := splitHostPort(r.Host)
	rScheme := "http"
	if r.TLS != nil {
		rScheme = "https"
	}
	return oh == rh && defaultPort(op, u.Scheme) == defaultPort(rp, rScheme)
}

func defaultPort(port, scheme string) string {
	if port != "" {
		return port
	}
	if scheme == "https" {
		return "443"
	}
	return "80"
}

func (t *tree) originAllowed(origin string) bool {
	o, err := normalizeOrigin(origin)
	if err != nil {
		return false
	}
	for _, a := range t.cfg.allowedOrigins {
		if a == o {
			return true
		}
	}
	return false
}
