package middleware

import (
	"net/http"
	"strings"
	"testing"
)

// TestGuard is the guard's table: who asks (the TCP peer), through what (a proxy's headers), by
// which name (Host) and from which page (Sec-Fetch-Site, Origin, Referer). Every refusal is a 403
// that names the check and the way to open it deliberately.
func TestGuard(t *testing.T) {
	mon := newTestMonitor(t)
	open := newTestTree(t, mon)
	withToken := newTestTree(t, mon, WithAuthorizer(func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer ok" }))
	withTokenHosts := newTestTree(t, mon, WithAuthorizer(func(r *http.Request) bool { return true }), WithAllowedHosts("memdiag.example.com"))
	trusted := newTestTree(t, mon, WithTrustedProxies("127.0.0.1"))
	trustedSidecar := newTestTree(t, mon, WithTrustedProxies("127.0.0.6/32"))
	hosts := newTestTree(t, mon, WithAllowedHosts("memdiag.internal", "10.0.0.5:6061"))
	origins := newTestTree(t, mon, WithAllowedOrigins("https://grafana.example.com", "http://localhost:3000"))
	const lo = "127.0.0.1:40000"
	for _, tc := range []struct {
		name     string
		h        http.Handler
		remote   string
		host     string // testHost when empty
		header   http.Header
		want     int
		contains string
	}{
		// Who asks: the TCP peer, never a header.
		{name: "IPv4 loopback", h: open, remote: lo, want: 200},
		{name: "other IPv4 loopback", h: open, remote: "127.8.9.10:1234", want: 200},
		{name: "IPv6 loopback", h: open, remote: "[::1]:1234", want: 200},
		{name: "IPv4-mapped loopback", h: open, remote: "[::ffff:127.0.0.1]:1234", want: 200},
		{name: "remote", h: open, remote: "203.0.113.7:1234", want: 403, contains: "loopback callers only"},
		{name: "remote claiming loopback", h: open, remote: "203.0.113.7:1234", header: hdr("X-Forwarded-For", "127.0.0.1"), want: 403, contains: "loopback callers only"},
		{name: "remote with X-Real-IP", h: open, remote: "203.0.113.7:1234", header: hdr("X-Real-IP", "::1"), want: 403},
		{name: "unspecified", h: open, remote: "0.0.0.0:1234", want: 403},
		{name: "unix socket peer", h: open, remote: "@", want: 403},
		{name: "empty", h: open, remote: "", want: 403},
		{name: "authorizer yes, remote", h: withToken, remote: "203.0.113.7:1234", host: "memdiag.example.com", header: hdr("Authorization", "Bearer ok"), want: 200},
		{name: "authorizer no, remote", h: withToken, remote: "203.0.113.7:1234", header: hdr("Authorization", "Bearer no"), want: 403, contains: "authorizer refused"},
		{name: "authorizer no, loopback", h: withToken, remote: lo, want: 403},
		{name: "authorizer decides about proxies", h: withToken, remote: lo, header: hdr("Authorization", "Bearer ok", "X-Forwarded-For", "198.51.100.1"), want: 200},

		// Through what: a loopback peer that carries a proxy's headers is the proxy, not a local caller.
		{name: "X-Forwarded-For", h: open, remote: lo, header: hdr("X-Forwarded-For", "198.51.100.1"), want: 403, contains: `"X-Forwarded-For"`},
		{name: "X-Forwarded-For claiming loopback", h: open, remote: lo, header: hdr("X-Forwarded-For", "127.0.0.1"), want: 403, contains: "through a proxy"},
		{name: "X-Forwarded-Host", h: open, remote: lo, header: hdr("X-Forwarded-Host", "shop.example.com"), want: 403, contains: `"X-Forwarded-Host"`},
		{name: "X-Forwarded-Proto", h: open, remote: lo, header: hdr("X-Forwarded-Proto", "https"), want: 403, contains: `"X-Forwarded-Proto"`},
		{name: "X-Forwarded-Port", h: open, remote: lo, header: hdr("X-Forwarded-Port", "443"), want: 403},
		{name: "X-Forwarded-Client-Cert (Envoy mTLS)", h: open, remote: lo, header: hdr("X-Forwarded-Client-Cert", "By=spiffe://cluster.local/ns/a/sa/b"), want: 403},
		{name: "Forwarded", h: open, remote: lo, header: hdr("Forwarded", "for=198.51.100.1;proto=https"), want: 403, contains: `"Forwarded"`},
		{name: "Via", h: open, remote: lo, header: hdr("Via", "1.1 nginx"), want: 403, contains: `"Via"`},
		{name: "X-Real-IP", h: open, remote: lo, header: hdr("X-Real-IP", "198.51.100.1"), want: 403},
		{name: "X-Client-IP", h: open, remote: lo, header: hdr("X-Client-IP", "198.51.100.1"), want: 403},
		{name: "True-Client-IP", h: open, remote: lo, header: hdr("True-Client-IP", "198.51.100.1"), want: 403},
		{name: "CF-Connecting-IP", h: open, remote: lo, header: hdr("CF-Connecting-IP", "198.51.100.1"), want: 403},
		{name: "Fastly-Client-IP", h: open, remote: lo, header: hdr("Fastly-Client-IP", "198.51.100.1"), want: 403},
		{name: "X-Cluster-Client-IP", h: open, remote: lo, header: hdr("X-Cluster-Client-IP", "198.51.100.1"), want: 403},
		{name: "X-Original-Forwarded-For (ingress-nginx)", h: open, remote: lo, header: hdr("X-Original-Forwarded-For", "198.51.100.1"), want: 403},
		{name: "X-Envoy-External-Address", h: open, remote: "127.0.0.6:15006", header: hdr("X-Envoy-External-Address", "198.51.100.1"), want: 403, contains: `"X-Envoy-External-Address"`},
		{name: "X-Envoy-Peer-Metadata-Id (Istio)", h: open, remote: "127.0.0.6:15006", header: hdr("X-Envoy-Peer-Metadata-Id", "sidecar~10.0.0.9~a.ns~ns.svc.cluster.local"), want: 403},
		{name: "X-Envoy-Attempt-Count", h: open, remote: "127.0.0.6:15006", header: hdr("X-Envoy-Attempt-Count", "1"), want: 403},
		{name: "L5d-Client-Id (Linkerd)", h: open, remote: lo, header: hdr("L5d-Client-Id", "web.default.serviceaccount.identity.linkerd.cluster.local"), want: 403},
		{name: "X-Amzn-Trace-Id (AWS load balancer)", h: open, remote: lo, header: hdr("X-Amzn-Trace-Id", "Root=1-5759e988"), want: 403},
		{name: "non-canonical key", h: open, remote: lo, header: http.Header{"x-forwarded-for": {"198.51.100.1"}}, want: 403},
		{name: "empty value still sent", h: open, remote: lo, header: hdr("Via", ""), want: 403},
		{name: "nil entry is never sent", h: open, remote: lo, header: http.Header{"X-Forwarded-For": nil}, want: 200},
		{name: "ordinary client headers", h: open, remote: lo, header: hdr("User-Agent", "curl/8.5.0", "Accept", "*/*", "Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "X-Request-Id", "1"), want: 200},
		{name: "trusted proxy", h: trusted, remote: lo, header: hdr("X-Forwarded-For", "198.51.100.1", "Via", "1.1 nginx"), want: 200},
		{name: "trusted proxy is one address", h: trusted, remote: "127.0.0.6:15006", header: hdr("X-Forwarded-For", "198.51.100.1"), want: 403, contains: "WithTrustedProxies"},
		{name: "trusted sidecar, local caller through the app's proxy", h: trustedSidecar, remote: lo, header: hdr("X-Forwarded-For", "198.51.100.1"), want: 403},
		{name: "trusted sidecar", h: trustedSidecar, remote: "127.0.0.6:15006", header: hdr("X-Envoy-External-Address", "198.51.100.1"), want: 200},
		{name: "trusted proxy still checks Host", h: trusted, remote: lo, host: "shop.example.com", header: hdr("X-Forwarded-For", "198.51.100.1"), want: 403, contains: "WithAllowedHosts"},

		// By which name: DNS rebinding sends the attacker's name.
		{name: "Host localhost", h: open, remote: lo, host: "localhost:8080", want: 200},
		{name: "Host LOCALHOST", h: open, remote: lo, host: "LOCALHOST", want: 200},
		{name: "Host localhost.", h: open, remote: lo, host: "localhost.:8080", want: 200},
		{name: "Host sub.localhost", h: open, remote: lo, host: "memdiag.app.localhost:8080", want: 200},
		{name: "Host 127.0.0.1 without port", h: open, remote: lo, host: "127.0.0.1", want: 200},
		{name: "Host 127.1.2.3", h: open, remote: lo, host: "127.1.2.3:99", want: 200},
		{name: "Host [::1]", h: open, remote: lo, host: "[::1]:8080", want: 200},
		{name: "Host [::1] without port", h: open, remote: lo, host: "[::1]", want: 200},
		{name: "Host IPv4-mapped loopback", h: open, remote: lo, host: "[::ffff:127.0.0.1]:8080", want: 200},
		{name: "Host evil.com", h: open, remote: lo, host: "evil.com", want: 403, contains: `host "evil.com" is not a loopback name`},
		{name: "Host evil.com with port", h: open, remote: lo, host: "evil.com:8080", want: 403, contains: "rebinds"},
		{name: "Host a rebinding service's name", h: open, remote: lo, host: "7f000001.c0a80001.rbndr.us:8080", want: 403},
		{name: "Host 127.0.0.1.nip.io", h: open, remote: lo, host: "127.0.0.1.nip.io:8080", want: 403},
		{name: "Host localhost.evil.com", h: open, remote: lo, host: "localhost.evil.com", want: 403},
		{name: "Host evillocalhost", h: open, remote: lo, host: "evillocalhost", want: 403},
		{name: "Host 0.0.0.0", h: open, remote: lo, host: "0.0.0.0:8080", want: 403},
		{name: "Host [::]", h: open, remote: lo, host: "[::]:8080", want: 403},
		{name: "Host decimal loopback", h: open, remote: lo, host: "2130706433:8080", want: 403},
		{name: "Host with a zone", h: open, remote: lo, host: "[::1%25lo]:8080", want: 403},
		{name: "Host private address", h: open, remote: lo, host: "192.168.1.10:8080", want: 403},
		{name: "no Host", h: open, remote: lo, host: "-", want: 403},
		{name: "Host markup is escaped", h: open, remote: lo, host: "<b>", want: 403, contains: `\x3cb\x3e`},
		{name: "allowed host", h: hosts, remote: lo, host: "memdiag.internal:6061", want: 200},
		{name: "allowed host, any case", h: hosts, remote: lo, host: "MemDiag.Internal", want: 200},
		{name: "allowed host and port", h: hosts, remote: lo, host: "10.0.0.5:6061", want: 200},
		{name: "allowed host, other port", h: hosts, remote: lo, host: "10.0.0.5:80", want: 403},
		{name: "allowed hosts keep loopback", h: hosts, remote: lo, want: 200},
		{name: "authorizer without allowed hosts: Host unchecked", h: withToken, remote: lo, host: "evil.com", header: hdr("Authorization", "Bearer ok"), want: 200},
		{name: "authorizer with allowed hosts", h: withTokenHosts, remote: "203.0.113.7:1234", host: "memdiag.example.com", want: 200},
		{name: "authorizer with allowed hosts, other host", h: withTokenHosts, remote: "203.0.113.7:1234", host: "evil.com", want: 403, contains: "host"},

		// From which page: a page of another origin can make the browser send a GET.
		{name: "Sec-Fetch-Site cross-site", h: open, remote: lo, header: hdr("Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "image"), want: 403, contains: "cross-site"},
		{name: "Sec-Fetch-Site same-site (another port)", h: open, remote: lo, header: hdr("Sec-Fetch-Site", "same-site"), want: 403, contains: "same-site"},
		{name: "Sec-Fetch-Site unknown", h: open, remote: lo, header: hdr("Sec-Fetch-Site", "sideways"), want: 403},
		{name: "Sec-Fetch-Site same-origin", h: open, remote: lo, header: hdr("Sec-Fetch-Site", "same-origin"), want: 200},
		{name: "Sec-Fetch-Site none (typed URL)", h: open, remote: lo, header: hdr("Sec-Fetch-Site", "none", "Sec-Fetch-Mode", "navigate"), want: 200},
		{name: "foreign Origin", h: open, remote: lo, header: hdr("Origin", "http://127.0.0.1:3000"), want: 403, contains: "origin"},
		{name: "foreign Origin, other scheme's default port", h: open, remote: lo, host: "127.0.0.1", header: hdr("Origin", "https://127.0.0.1"), want: 403},
		{name: "Origin null", h: open, remote: lo, header: hdr("Origin", "null"), want: 403},
		{name: "own Origin", h: open, remote: lo, header: hdr("Origin", "http://"+testHost), want: 200},
		{name: "own Origin, default port", h: open, remote: lo, host: "localhost", header: hdr("Origin", "http://localhost"), want: 200},
		{name: "foreign Referer", h: open, remote: lo, header: hdr("Referer", "http://localhost:3000/attack.html"), want: 403, contains: "page at"},
		{name: "own Referer", h: open, remote: lo, header: hdr("Referer", "http://"+testHost+testPrefix), want: 200},
		{name: "allowed origin, cross-site", h: origins, remote: lo, header: hdr("Origin", "https://grafana.example.com", "Sec-Fetch-Site", "cross-site"), want: 200},
		{name: "allowed origin, default port written", h: origins, remote: lo, header: hdr("Origin", "https://grafana.example.com:443", "Sec-Fetch-Site", "cross-site"), want: 200},
		{name: "allowed origin by Referer", h: origins, remote: lo, header: hdr("Referer", "http://localhost:3000/d/x", "Sec-Fetch-Site", "same-site"), want: 403},
		{name: "allowed origin by Referer alone", h: origins, remote: lo, header: hdr("Referer", "http://localhost:3000/d/x"), want: 200},
		{name: "other origin than the allowed", h: origins, remote: lo, header: hdr("Origin", "https://evil.example.com", "Sec-Fetch-Site", "cross-site"), want: 403},
		{name: "authorizer does not open cross-site", h: withToken, remote: lo, header: hdr("Authorization", "Bearer ok", "Sec-Fetch-Site", "cross-site"), want: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest("GET", testPrefix+"history.json", tc.remote)
			switch tc.host {
			case "":
			case "-":
				r.Host = ""
			default:
				r.Host = tc.host
			}
			for k, vs := range tc.header {
				r.Header[k] = vs
			}
			w := record(tc.h, r)
			checkHygiene(t, w)
			b := body(t, w)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, b)
			}
			if tc.want == 403 && !strings.Contains(b, "docs/security.md") {
				t.Errorf("403 does not point to docs/security.md: %s", b)
			}
			if !strings.Contains(b, tc.contains) {
				t.Errorf("body %q lacks %q", b, tc.contains)
			}
			if strings.ContainsAny(b, "<>") && tc.want != 200 {
				t.Errorf("refusal reflects markup: %q", b)
			}
		})
	}
}

// hdr builds a header from name, value pairs.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestGuardOptions(t *testing.T) {
	mon := newTestMonitor(t)
	for _, tc := range []struct {
		name string
		opt  Option
		ok   bool
	}{
		{"trusted loopback address", WithTrustedProxies("127.0.0.1"), true},
		{"trusted loopback prefix", WithTrustedProxies("127.0.0.0/8", "::1"), true},
		{"trusted IPv4-mapped loopback", WithTrustedProxies("::ffff:127.0.0.6"), true},
		{"trusted none", WithTrustedProxies(), false},
		{"trusted everyone", WithTrustedProxies("0.0.0.0/0"), false},
		{"trusted everyone IPv6", WithTrustedProxies("::/0"), false},
		{"trusted remote address", WithTrustedProxies("10.0.0.1"), false},
		{"trusted prefix wider than loopback", WithTrustedProxies("96.0.0.0/3"), false},
		{"trusted not an address", WithTrustedProxies("nginx"), false},
		{"hosts", WithAllowedHosts("memdiag.internal", "10.0.0.5:6061", "[fd00::1]:80"), true},
		{"hosts none", WithAllowedHosts(), false},
		{"host empty", WithAllowedHosts(""), false},
		{"host with scheme", WithAllowedHosts("http://memdiag.internal"), false},
		{"host wildcard", WithAllowedHosts("*"), false},
		{"host suffix wildcard", WithAllowedHosts("*.example.com"), false},
		{"host with path", WithAllowedHosts("example.com/x"), false},
		{"host bad port", WithAllowedHosts("example.com:http"), false},
		{"origins", WithAllowedOrigins("https://grafana.example.com", "http://localhost:3000"), true},
		{"origins none", WithAllowedOrigins(), false},
		{"origin without scheme", WithAllowedOrigins("grafana.example.com"), false},
		{"origin wildcard", WithAllowedOrigins("*"), false},
		{"origin with path", WithAllowedOrigins("https://grafana.example.com/d/x"), false},
		{"origin null", WithAllowedOrigins("null"), false},
		{"origin other scheme", WithAllowedOrigins("file:///tmp/x.html"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewHandler(mon, tc.opt)
			if (err == nil) != tc.ok {
				t.Fatalf("NewHandler: err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "middleware: With") {
				t.Errorf("error %q does not name the option", err)
			}
		})
	}
}
